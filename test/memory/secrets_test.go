// Package memory measures the manager process's memory against what a
// cluster holds that the operator has no business with.
package memory

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/test/harness"
)

const (
	// unrelated is how many Secrets the operator has nothing to do with
	// are added to the cluster, each with secretBytes of data.
	unrelated   = 20000
	secretBytes = 1024
	// users are the operator's own objects, present in both runs.
	users = 100
)

func init() { ctrllog.SetLogger(logr.Discard()) }

// The manager caches only the Secrets it generates or a spec references,
// so 20,000 unrelated Secrets in the cluster leave its memory where it
// was. The same Secrets held in an informer, as a manager that caches every
// Secret would hold them, are measured in this process as the control: the
// growth the test would see if the manager cached them.
func TestUnrelatedSecretsLeaveMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a control plane and the manager binary")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	dir := t.TempDir()
	env := harness.StartEnv(ctx, t, dir)
	c, cp, tb := env.Client, env.CP, env.Broker
	creds, mb, err := tb.ExternalBroker("default", "emqx", "v4")
	if err != nil {
		t.Fatal(err)
	}
	objs := []client.Object{creds, mb}
	for i := range users {
		objs = append(objs, &mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("u%d", i)},
			Spec: mqttv1.MQTTUserSpec{BrokerRef: mqttv1.BrokerReference{Name: mb.Name}}})
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	mgr, err := harness.NewManager(harness.ManagerOptions{Bin: env.Bins.Manager, Kubeconfig: cp.KubeconfigPath,
		LogPath: filepath.Join(dir, "manager.log"), Args: []string{"--resync-interval=10m"}})
	if err != nil {
		t.Fatal(err)
	}

	without := measure(ctx, t, c, mgr)
	createUnrelated(ctx, t, c)
	with := measure(ctx, t, c, mgr)
	control := informerCost(ctx, t, cp)

	t.Logf("manager with %d users: RSS %s, heap in use %s; with %d unrelated Secrets of %d B too: RSS %s, heap in use %s; "+
		"the same Secrets in an informer: heap +%s",
		users, mib(without.rss), mib(without.heap), unrelated, secretBytes, mib(with.rss), mib(with.heap), mib(control))
	if control < 20<<20 {
		t.Fatalf("the control measured only %s for %d Secrets: the measurement cannot tell", mib(control), unrelated)
	}
	if grew := with.heap - without.heap; grew > control/10 {
		t.Errorf("the manager's heap grew by %s with the unrelated Secrets (an informer of them costs %s)", mib(grew), mib(control))
	}
	if grew := with.rss - without.rss; grew > control/4 {
		t.Errorf("the manager's RSS grew by %s with the unrelated Secrets (an informer of them costs %s)", mib(grew), mib(control))
	}
}

type footprint struct{ rss, heap int64 }

// measure starts the manager, waits until every user is Ready and has been
// reconciled by this run, lets it settle, and reads its resident set and
// Go heap; then stops it.
func measure(ctx context.Context, t *testing.T, c client.Client, mgr *harness.Manager) footprint {
	t.Helper()
	if err := mgr.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = mgr.Stop(10 * time.Second) }()
	for {
		m, err := mgr.Metrics(ctx)
		if err == nil && m.Sum("controller_runtime_reconcile_total", map[string]string{"controller": "mqttuser"}) >= users &&
			m.Sum("mqtt_operator_objects", map[string]string{"kind": "MQTTUser", "status": "ready"}) == users {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("users not reconciled and Ready: %v", err)
		case <-time.After(500 * time.Millisecond):
		}
	}
	// Settle, and let a collection run so the heap shows what is live.
	time.Sleep(5 * time.Second)
	m, err := mgr.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u, err := mgr.Usage()
	if err != nil {
		t.Fatal(err)
	}
	return footprint{rss: u.RSS, heap: int64(m.Sum("go_memstats_heap_inuse_bytes", nil))}
}

// createUnrelated adds the unrelated Secrets in four namespaces, sixteen
// writes at a time.
func createUnrelated(ctx context.Context, t *testing.T, c client.Client) {
	t.Helper()
	const namespaces = 4
	for n := range namespaces {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("other-%d", n)}}); err != nil {
			t.Fatal(err)
		}
	}
	next := make(chan int)
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				data := make([]byte, secretBytes)
				_, _ = rand.Read(data)
				s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("other-%d", i%namespaces), Name: fmt.Sprintf("s-%d", i)},
					Data: map[string][]byte{"blob": data}}
				if err := c.Create(ctx, s); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	start := time.Now()
feed:
	for i := range unrelated {
		select {
		case next <- i:
		case err := <-errs:
			t.Errorf("create Secret: %v", err)
			break feed
		}
	}
	close(next)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("created %d unrelated Secrets in %s", unrelated, time.Since(start).Round(time.Second))
}

// informerCost is how much more heap this process holds once an informer
// of every Secret in the cluster has synced.
func informerCost(ctx context.Context, t *testing.T, cp *harness.ControlPlane) int64 {
	t.Helper()
	before := liveHeap()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ca, err := cache.New(cp.Config, cache.Options{Scheme: harness.Scheme(), DefaultTransform: cache.TransformStripManagedFields()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.GetInformer(ctx, &corev1.Secret{}); err != nil {
		t.Fatal(err)
	}
	go func() { _ = ca.Start(ctx) }()
	if !ca.WaitForCacheSync(ctx) {
		t.Fatal("Secret informer did not sync")
	}
	var list corev1.SecretList
	if err := ca.List(ctx, &list); err != nil || len(list.Items) < unrelated {
		t.Fatalf("the informer holds %d Secrets (%v), want at least %d", len(list.Items), err, unrelated)
	}
	list = corev1.SecretList{}
	cost := liveHeap() - before
	runtime.KeepAlive(ca)
	return cost
}

func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
