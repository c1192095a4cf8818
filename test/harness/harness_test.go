package harness

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/testbroker"
)

func TestStatCPU(t *testing.T) {
	for _, tc := range []struct {
		name, stat string
		want       time.Duration
		wantErr    bool
	}{
		{"plain", "42 (manager) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 100 0 0", 3250 * time.Millisecond, false},
		{"name with spaces and parens", "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0", 30 * time.Millisecond, false},
		{"no name", "7 R 1", 0, true},
		{"short", "7 (x) R 1 2", 0, true},
		{"not a number", "7 (x) S 1 7 7 0 -1 0 0 0 0 0 x 2 0", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := statCPU(tc.stat)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("statCPU = %v, %v; want %v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestParseUsage(t *testing.T) {
	usage := `Usage of manager:
  -health-probe-bind-address string
    	Address of the /healthz and /readyz endpoints. (default ":8081")
  -leader-elect
    	Elect a leader.
  -max-concurrent-reconciles int
    	Reconciles run at once per kind. (default 4)
  -zap-devel
    	Development Mode defaults(encoder=consoleEncoder,logLevel=Debug). Production Mode defaults(encoder=jsonEncoder)
`
	want := map[string]string{"health-probe-bind-address": ":8081", "leader-elect": "", "max-concurrent-reconciles": "4", "zap-devel": ""}
	if d := cmp.Diff(want, parseUsage(usage)); d != "" {
		t.Fatalf("parseUsage (-want +got):\n%s", d)
	}
}

func TestArgValue(t *testing.T) {
	args := []string{"kube-apiserver", "--secure-port=6443", "--etcd-servers", "http://127.0.0.1:2379", "-v"}
	for name, want := range map[string]string{"secure-port": "6443", "etcd-servers": "http://127.0.0.1:2379", "v": "", "absent": ""} {
		if got := argValue(args, name); got != want {
			t.Errorf("argValue(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestMetricsSumAndDelta(t *testing.T) {
	m, err := ParseMetrics(strings.NewReader(`# TYPE req counter
req{verb="PATCH",resource="mqttusers",subresource="status"} 3
req{verb="PATCH",resource="mqttusers",subresource=""} 2
req{verb="POST",resource="secrets",subresource=""} 5
# TYPE lat histogram
lat_bucket{le="+Inf"} 4
lat_sum 1
lat_count 4
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Sum("req", map[string]string{"verb": "PATCH"}); got != 5 {
		t.Errorf("Sum PATCH = %v, want 5", got)
	}
	if got := m.Sum("lat", nil); got != 4 {
		t.Errorf("histogram Sum = %v, want its count 4", got)
	}
	if got := m.HistogramSum("lat", nil); got != 1 {
		t.Errorf("HistogramSum = %v, want 1", got)
	}
	if got := m.Sum("absent", nil); got != 0 {
		t.Errorf("absent family = %v", got)
	}
	by := m.SumBy("req", []string{"verb", "resource"}, nil)
	if d := cmp.Diff(map[string]float64{"PATCH mqttusers": 5, "POST secrets": 5}, by); d != "" {
		t.Errorf("SumBy (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]float64{"POST secrets": 2, "GET x": 1},
		Delta(map[string]float64{"PATCH mqttusers": 5, "POST secrets": 3}, map[string]float64{"PATCH mqttusers": 5, "POST secrets": 5, "GET x": 1})); d != "" {
		t.Errorf("Delta (-want +got):\n%s", d)
	}
}

// The whole harness against the binaries of this tree: a user becomes
// Ready through a manager process; the manager is SIGKILLed, restarted
// with the same flags, profiled and measured; the broker is wiped and
// scraped.
func TestHarness(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	env := StartEnv(ctx, t, dir)
	bins, cp, tb, c := env.Bins, env.CP, env.Broker, env.Client
	mgr, err := NewManager(ManagerOptions{Bin: bins.Manager, Kubeconfig: cp.KubeconfigPath, LogPath: filepath.Join(dir, "manager.log"),
		PprofAddr: "auto", Args: []string{"--resync-interval=1m"}})
	if err != nil {
		t.Fatal(err)
	}
	if !mgr.Supports("pprof-bind-address") || mgr.Supports("no-such-flag") || mgr.FlagDefault("max-concurrent-reconciles") == "" {
		t.Fatalf("flag probe: pprof %v, no-such-flag %v, concurrency default %q",
			mgr.Supports("pprof-bind-address"), mgr.Supports("no-such-flag"), mgr.FlagDefault("max-concurrent-reconciles"))
	}
	if err := mgr.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mgr.Stop(10 * time.Second) })

	creds, mb, err := tb.ExternalBroker("default", "emqx", "v5")
	if err != nil {
		t.Fatal(err)
	}
	user := &mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "u1"},
		Spec: mqttv1.MQTTUserSpec{BrokerRef: mqttv1.BrokerReference{Name: mb.Name}}}
	for _, o := range []client.Object{creds, mb, user} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	waitReady(ctx, t, c, user)

	bm, err := tb.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := bm.Sum("testbroker_api_requests_total", map[string]string{"api": "v5", "method": "POST", "route": "/authentication/:id/users"}); got != 1 {
		t.Errorf("test broker counted %v user creations, want 1", got)
	}
	if got := bm.Sum("testbroker_stored_users", nil); got != 1 {
		t.Errorf("test broker stores %v users, want 1", got)
	}
	mm, err := mgr.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := mm.Sum("controller_runtime_reconcile_total", map[string]string{"controller": "mqttuser"}); got < 1 {
		t.Errorf("manager reports %v MQTTUser reconciles", got)
	}
	am, err := cp.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := am.Sum("apiserver_request_total", map[string]string{"resource": "mqttusers", "subresource": "status", "verb": "PATCH"}); got < 1 {
		t.Errorf("API server counted %v MQTTUser status patches", got)
	}
	var heap bytes.Buffer
	if err := mgr.Profile(ctx, "heap", "", &heap); err != nil || heap.Len() == 0 {
		t.Errorf("heap profile: %d bytes, %v", heap.Len(), err)
	}
	apiUsage, etcdUsage, err := cp.Usage()
	if err != nil || apiUsage.CPU <= 0 || apiUsage.RSS <= 0 || etcdUsage.CPU <= 0 {
		t.Errorf("control plane usage: api server %+v, etcd %+v, %v", apiUsage, etcdUsage, err)
	}
	if busy, total, err := MachineCPU(); err != nil || busy <= 0 || busy > total {
		t.Errorf("machine CPU: busy %v of %v, %v", busy, total, err)
	}
	running, err := mgr.Usage()
	if err != nil || running.RSS <= 0 || running.PeakRSS < running.RSS || running.CPU <= 0 {
		t.Errorf("usage while running: %+v, %v", running, err)
	}

	firstPid := mgr.Pid()
	if err := mgr.Kill(); err != nil {
		t.Fatal(err)
	}
	var exit *exec.ExitError
	if err := mgr.ExitErr(); !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("manager exit after Kill: %v, want killed by SIGKILL", err)
	}
	exited, err := mgr.Usage()
	if err != nil || exited.RSS != 0 || exited.PeakRSS <= 0 || exited.CPU < running.CPU {
		t.Errorf("usage after exit: %+v, %v (while running %+v)", exited, err, running)
	}
	// Another process takes the probe port while the manager is down and
	// answers /healthz itself: the restart must not take that answer for
	// the manager's, and moves to ports of its own.
	stolen := mgr.probeAddr
	impostor := &http.Server{Addr: stolen, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }),
		ReadHeaderTimeout: time.Second}
	ln, err := net.Listen("tcp", stolen)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = impostor.Serve(ln) }()
	t.Cleanup(func() { _ = impostor.Close() })
	if err := mgr.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if mgr.probeAddr == stolen {
		t.Errorf("restart kept the probe address %s another process listens on", stolen)
	}
	if ok, err := listening(mgr.Pid(), mgr.probeAddr); !ok || err != nil {
		t.Errorf("the restarted manager does not listen on its probe address %s (%v)", mgr.probeAddr, err)
	}
	if mgr.Pid() == firstPid || !mgr.Running() {
		t.Errorf("restart: pid %d (was %d), running %v", mgr.Pid(), firstPid, mgr.Running())
	}
	log, err := os.ReadFile(mgr.LogPath())
	if err != nil || !bytes.Contains(log, []byte("harness: manager restarted")) || !bytes.Contains(log, []byte("starting manager")) {
		t.Errorf("manager log lacks the first run or the restart marker (%v):\n%s", err, log)
	}

	if err := tb.Wipe(ctx); err != nil {
		t.Fatal(err)
	}
	if bm, err = tb.Metrics(ctx); err != nil || bm.Sum("testbroker_stored_users", nil) != 0 {
		t.Errorf("after wipe the test broker stores %v users (%v)", bm.Sum("testbroker_stored_users", nil), err)
	}
	checkFaults(ctx, t, tb)

	if err := mgr.Stop(10 * time.Second); err != nil {
		t.Errorf("stop: %v", err)
	}
	if mgr.Running() {
		t.Error("manager still running after Stop")
	}
}

func waitReady(ctx context.Context, t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	for {
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err == nil {
			if obj.(mqttv1.StatusAccess).GetCommonStatus().IsReady(obj.GetGeneration()) {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s not Ready: %+v", obj.GetName(), obj.(mqttv1.StatusAccess).GetCommonStatus())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// checkFaults drives the test broker's fault hooks through the harness.
func checkFaults(ctx context.Context, t *testing.T, tb *TestBroker) {
	t.Helper()
	call := func() (int, time.Duration) {
		start := time.Now()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, tb.URL()+"/api/v5/banned", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(BrokerAppID, BrokerAppSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, time.Since(start)
		}
		_ = resp.Body.Close()
		return resp.StatusCode, time.Since(start)
	}
	if err := tb.InjectFault(ctx, testbroker.Fault{Count: 1, HTTPStatus: http.StatusServiceUnavailable, PathPrefix: "/api/v5/banned"}); err != nil {
		t.Fatal(err)
	}
	if code, _ := call(); code != http.StatusServiceUnavailable {
		t.Errorf("call with a fault queued: %d, want 503", code)
	}
	if code, _ := call(); code != http.StatusOK {
		t.Errorf("call after the fault was used up: %d, want 200", code)
	}
	if err := tb.InjectFault(ctx, testbroker.Fault{Count: 1, HTTPStatus: http.StatusServiceUnavailable}); err != nil {
		t.Fatal(err)
	}
	if err := tb.ClearFaults(ctx); err != nil {
		t.Fatal(err)
	}
	if code, _ := call(); code != http.StatusOK {
		t.Errorf("call after ClearFaults: %d, want 200", code)
	}
	if err := tb.SetLatency(ctx, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if code, took := call(); code != http.StatusOK || took < 300*time.Millisecond {
		t.Errorf("call with 300ms latency: %d after %s", code, took)
	}
	if err := tb.SetLatency(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := tb.Outage(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	if code, _ := call(); code != 0 {
		t.Errorf("call during the outage answered %d", code)
	}
	deadline := time.Now().Add(20 * time.Second)
	for code, _ := call(); code != http.StatusOK; code, _ = call() {
		if time.Now().After(deadline) {
			t.Fatal("the API did not come back after the outage")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
