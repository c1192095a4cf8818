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
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/test/harness"
)

const (
	// unrelated is how many objects the operator has nothing to do with
	// are added to the cluster: Secrets and ConfigMaps with secretBytes of
	// data each, and headless Services (the kinds a managed broker owns
	// and the manager watches), in the shares of unrelatedKinds.
	unrelated   = 20000
	secretBytes = 1024
	// users are the operator's own objects, present in both runs.
	users = 100
)

func init() { ctrllog.SetLogger(logr.Discard()) }

// unrelatedKinds are the kinds of the unrelated objects, with how many of
// every twenty are of each.
var unrelatedKinds = []struct {
	kind  string
	share int
	make  func(ns, name string, data []byte) client.Object
	list  client.ObjectList
}{
	{"Secret", 12, func(ns, name string, data []byte) client.Object {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{"blob": data}}
	}, &corev1.SecretList{}},
	{"ConfigMap", 6, func(ns, name string, data []byte) client.Object {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, BinaryData: map[string][]byte{"blob": data}}
	}, &corev1.ConfigMapList{}},
	{"Service", 2, func(ns, name string, _ []byte) client.Object {
		// Headless: a test API server has few cluster IPs to give.
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": name},
				Ports: []corev1.ServicePort{{Name: "mqtt", Port: 1883}}}}
	}, &corev1.ServiceList{}},
}

// kindOf is the unrelated kind of the i-th object.
func kindOf(i int) int {
	n := i % 20
	for k, u := range unrelatedKinds {
		if n < u.share {
			return k
		}
		n -= u.share
	}
	panic("shares do not add up to 20")
}

// The manager caches only the Secrets it generates or a spec references,
// and only the ConfigMaps, Services and StatefulSets it generates for
// managed brokers, so 20,000 unrelated such objects in the cluster leave
// its memory where it was. The same objects held in informers, as a
// manager that caches every object of those kinds would hold them, are
// measured in this process as the control: the growth the test would see
// if the manager cached them.
func TestUnrelatedObjectsLeaveMemoryFlat(t *testing.T) {
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

	t.Logf("manager with %d users: RSS %s, heap in use %s; with %d unrelated Secrets, ConfigMaps and Services (%d B of data each) too: RSS %s, heap in use %s; "+
		"the same objects in informers: heap +%s",
		users, mib(without.rss), mib(without.heap), unrelated, secretBytes, mib(with.rss), mib(with.heap), mib(control))
	if control < 20<<20 {
		t.Fatalf("the control measured only %s for %d objects: the measurement cannot tell", mib(control), unrelated)
	}
	if grew := with.heap - without.heap; grew > control/10 {
		t.Errorf("the manager's heap grew by %s with the unrelated objects (informers of them cost %s)", mib(grew), mib(control))
	}
	if grew := with.rss - without.rss; grew > control/4 {
		t.Errorf("the manager's RSS grew by %s with the unrelated objects (informers of them cost %s)", mib(grew), mib(control))
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

// createUnrelated adds the unrelated objects in four namespaces, sixteen
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
				o := unrelatedKinds[kindOf(i)].make(fmt.Sprintf("other-%d", i%namespaces), fmt.Sprintf("o-%d", i), data)
				if err := c.Create(ctx, o); err != nil {
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
			t.Errorf("create: %v", err)
			break feed
		}
	}
	close(next)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("created %d unrelated objects in %s", unrelated, time.Since(start).Round(time.Second))
}

// informerCost is how much more heap this process holds once informers
// of every object of the unrelated kinds in the cluster have synced.
func informerCost(ctx context.Context, t *testing.T, cp *harness.ControlPlane) int64 {
	t.Helper()
	before := liveHeap()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ca, err := cache.New(cp.Config, cache.Options{Scheme: harness.Scheme(), DefaultTransform: cache.TransformStripManagedFields()})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range unrelatedKinds {
		if _, err := ca.GetInformer(ctx, u.make("", "", nil)); err != nil {
			t.Fatal(err)
		}
	}
	go func() { _ = ca.Start(ctx) }()
	if !ca.WaitForCacheSync(ctx) {
		t.Fatal("informers did not sync")
	}
	for _, u := range unrelatedKinds {
		list := u.list.DeepCopyObject().(client.ObjectList)
		if err := ca.List(ctx, list); err != nil || apimeta.LenList(list) < unrelated*u.share/20 {
			t.Fatalf("the informer holds %d %ss (%v), want at least %d", apimeta.LenList(list), u.kind, err, unrelated*u.share/20)
		}
	}
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
