package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/mqttoperator/mqtt-operator/internal/testbroker"
	"github.com/mqttoperator/mqtt-operator/internal/version"
)

// One API server for the package's tests.
var testCfg *rest.Config

func TestMain(m *testing.M) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join("..", "bin", "k8s")
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	}
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop()
		fmt.Fprintf(os.Stderr, "start envtest (run `make envtest`): %v\n", err)
		os.Exit(1)
	}
	testCfg = cfg
	code := m.Run()
	_ = env.Stop()
	os.Exit(code)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

// startManager runs the manager binary's wiring with the given flags until
// the test ends.
func startManager(t *testing.T, cfg *rest.Config, args ...string) {
	t.Helper()
	fs := newFlagSet()
	o := bindFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	o.skipNameValidation = true
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, o) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("manager returned %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("manager did not stop")
		}
	})
}

// The manager starts against a real API server and serves its probes and,
// with --metrics-secure=false, its metrics over plain HTTP.
func TestManagerServesHealthAndMetrics(t *testing.T) {
	probe, metrics := freeAddr(t), freeAddr(t)
	startManager(t, testCfg, "--health-probe-bind-address", probe, "--metrics-bind-address", metrics, "--metrics-secure=false",
		"--resync-interval", "1m", "--max-concurrent-reconciles", "2", "--kube-api-qps", "20", "--kube-api-burst", "40")
	for _, check := range []struct{ url, want string }{
		{"http://" + probe + "/healthz", "ok"},
		{"http://" + probe + "/readyz", "ok"},
		{"http://" + metrics + "/metrics", "mqtt_operator_objects"},
		{"http://" + metrics + "/metrics", buildInfoSeries(version.Get())},
	} {
		body := poll(t, check.url)
		if !strings.Contains(body, check.want) {
			t.Errorf("%s: body does not contain %q:\n%.500s", check.url, check.want, body)
		}
	}
}

// poll GETs url until it answers 200, for at most 30 seconds.
func poll(t *testing.T, url string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(body)
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// buildInfoSeries is the exposition line of mqtt_operator_build_info for a
// build: labels in Prometheus' sorted order, value 1.
func buildInfoSeries(i version.Info) string {
	return fmt.Sprintf("mqtt_operator_build_info{commit=%q,date=%q,goversion=%q,version=%q} 1\n",
		i.Commit, i.Date, i.GoVersion, i.Version)
}

// startTestBroker runs a test broker until the test ends.
func startTestBroker(t *testing.T) *testbroker.Broker {
	t.Helper()
	tb, err := testbroker.New(testbroker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tb.Close() })
	return tb
}
