package harness

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Env is what most process-level tests start with: the binaries of this
// tree, a control plane with the CRDs, a running test broker, and an
// administrator's client. Everything stops when the test ends.
type Env struct {
	Bins   Binaries
	CP     *ControlPlane
	Broker *TestBroker
	Client client.Client
}

// StartEnv builds the binaries into dir, starts the control plane and the
// test broker (logging to dir/testbroker.log), and fails t on any error.
func StartEnv(ctx context.Context, t testing.TB, dir string) *Env {
	t.Helper()
	bins, err := Build(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := StartControlPlane(ControlPlaneOptions{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cp.Stop() })
	tb, err := StartTestBroker(ctx, TestBrokerOptions{Bin: bins.TestBroker, LogPath: filepath.Join(dir, "testbroker.log")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tb.Stop(5 * time.Second) })
	c, err := client.New(cp.Config, client.Options{Scheme: Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Bins: bins, CP: cp, Broker: tb, Client: c}
}
