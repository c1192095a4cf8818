package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

// The manager binary's wiring starts against a real API server and serves
// its probes and metrics.
func TestManagerServesHealthAndMetrics(t *testing.T) {
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
		t.Fatalf("start envtest (run `make envtest`): %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })

	fs := newFlagSet()
	o := bindFlags(fs)
	probe, metrics := freeAddr(t), freeAddr(t)
	if err := fs.Parse([]string{"--health-probe-bind-address", probe, "--metrics-bind-address", metrics, "--resync-interval", "1m", "--max-concurrent-reconciles", "2"}); err != nil {
		t.Fatal(err)
	}
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

	for _, check := range []struct{ url, want string }{
		{"http://" + probe + "/healthz", "ok"},
		{"http://" + probe + "/readyz", "ok"},
		{"http://" + metrics + "/metrics", "mqtt_operator_objects"},
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
			err = &httpError{resp.StatusCode}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type httpError struct{ code int }

func (e *httpError) Error() string { return http.StatusText(e.code) }
