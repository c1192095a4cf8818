package soak

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/drivers"
	"github.com/mqttoperator/mqtt-operator/test/faultproxy"
	"github.com/mqttoperator/mqtt-operator/test/harness"
)

var (
	seedFlag     = flag.Uint64("soak.seed", 0, "seed of the action sequence; 0 picks one from the clock")
	stepsFlag    = flag.Int("soak.steps", 40, "number of random actions")
	convergeFlag = flag.Duration("soak.converge", 3*time.Minute, "bound on the time from the end of the faults to an audit without differences")
	keepFlag     = flag.Bool("soak.keep", false, "keep the logs directory after a passing run")
)

// Manager settings of the soak: short intervals so that repairs happen
// within the run, as in the controllers' tests.
const (
	resync        = 10 * time.Second
	brokerTimeout = 2 * time.Second
	maxRetryDelay = 3 * time.Second
	// goroutineSlack is how far the manager's goroutines may end above
	// their level before the chaos: idle HTTP connections to the two
	// brokers (two goroutines each, at most eight per host) account for it.
	goroutineSlack = 40
)

func init() {
	// The test drives the API server with controller-runtime's client, whose
	// logs are of no interest here; the manager's go to its own file.
	ctrllog.SetLogger(logr.Discard())
}

func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak runs processes; skipped with -short")
	}
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	steps := *stepsFlag
	t.Logf("soak: seed %d, %d steps (reproduce: go test ./test/soak -run TestSoak -soak.seed=%d -soak.steps=%d)", seed, steps, seed, steps)
	w := setup(t, seed)

	w.converge(2 * time.Minute)
	base := w.goroutines()
	t.Logf("soak: initial objects converged; manager goroutines %d", base)

	start := time.Now()
	for i := 0; i < steps; i++ {
		w.step(i)
	}
	w.endChaos()
	chaos := time.Since(start)
	t.Logf("soak: %d steps in %s: %s", steps, chaos.Round(time.Second), w.actionSummary())

	faultsEnd := time.Now()
	took := w.converge(*convergeFlag)
	t.Logf("soak: converged %s after the faults stopped (bound %s)", took.Round(100*time.Millisecond), *convergeFlag)

	w.auditHygiene()
	// Goroutines settle once the last reconciles and idle connections are done.
	var final int
	deadline := time.Now().Add(30 * time.Second)
	for {
		final = w.goroutines()
		if final <= base+goroutineSlack || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if final > base+goroutineSlack {
		t.Errorf("manager goroutines %d after the soak, %d before: more than %d above", final, base, goroutineSlack)
	}
	st := w.proxy.Stats()
	t.Logf("soak: seed %d, %d steps, %d objects at the end (%d users, %d ACLs, %d bans), converged in %s; manager goroutines %d → %d; "+
		"proxy saw %d calls (%d writes reached the broker), faults %v; %d manager kills; total %s",
		seed, steps, len(w.users)+len(w.acls)+len(w.bans), len(w.users), len(w.acls), len(w.bans), took.Round(100*time.Millisecond),
		base, final, st.Requests, st.Writes, st.Faults, w.counts["kill"], time.Since(faultsEnd)+chaos)
}

// setup starts the control plane, the test broker, the proxy and the
// manager (with the soak's flags and extra), and creates the namespace and
// the two MQTTBrokers.
func setup(t *testing.T, seed uint64, extra ...string) *world {
	t.Helper()
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "mqtt-operator-soak-")
	if err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs after every process has stopped: the
	// logs stay for a failed test.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("soak: FAILED with seed %d; logs in %s", seed, dir)
		} else if !*keepFlag {
			_ = os.RemoveAll(dir)
		}
	})
	env := harness.StartEnv(ctx, t, dir)
	tb := env.Broker
	proxy, err := faultproxy.New(tb.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	mgrOpts := harness.ManagerOptions{Bin: env.Bins.Manager, Kubeconfig: env.CP.KubeconfigPath, LogPath: filepath.Join(dir, "manager.log"),
		Args: append([]string{"--resync-interval=" + resync.String(), "--broker-timeout=" + brokerTimeout.String(), "--max-retry-delay=" + maxRetryDelay.String(),
			"--zap-log-level=debug"}, extra...)}
	mgr, err := harness.NewManager(mgrOpts)
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mgr.Stop(10 * time.Second) })
	c := env.Client
	w := &world{t: t, ctx: ctx, mgrOpts: mgrOpts, rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), seed: seed, c: c, ns: "soak", dir: dir,
		mgr: mgr, tb: tb, proxy: proxy, users: map[string]*user{}, acls: map[string]*acl{}, bans: map[string]*ban{},
		passwords: map[string]bool{}, retired: map[string][]string{}, gone: map[string]*user{}, counts: map[string]int{}}
	w.direct = map[string]broker.Client{}
	for _, api := range []broker.APIVersion{broker.APIv4, broker.APIv5} {
		cl, err := drivers.NewFactory().New(broker.Config{URL: tb.URL(), APIVersion: api, Username: harness.BrokerAppID, Password: harness.BrokerAppSecret, Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		w.direct[string(api)] = cl
	}
	w.must(c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: w.ns}}))
	for _, api := range []string{"v4", "v5"} {
		creds, mb, err := tb.ExternalBroker(w.ns, "emqx-"+api, api)
		if err != nil {
			t.Fatal(err)
		}
		// The manager reaches the broker through the proxy only.
		mb.Spec.External.URL = proxy.URL()
		w.must(c.Create(ctx, creds))
		w.must(c.Create(ctx, mb))
	}
	// A few objects to start from, so that the first faults meet work.
	for range 3 {
		w.createUser()
		w.createACL()
		w.createBan()
	}
	return w
}

// actionSummary renders the action counts, sorted.
func (w *world) actionSummary() string {
	keys := make([]string, 0, len(w.counts))
	for k := range w.counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, w.counts[k]))
	}
	return strings.Join(parts, " ")
}
