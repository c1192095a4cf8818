package harness

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
)

// Binaries are the executables the harness runs.
type Binaries struct {
	Manager, TestBroker string
}

// Build compiles the manager and the test broker of the working tree into
// dir, so a test runs what the tree holds rather than a stale bin/.
func Build(ctx context.Context, dir string) (Binaries, error) {
	root, err := RepoRoot()
	if err != nil {
		return Binaries{}, err
	}
	b := Binaries{Manager: filepath.Join(dir, "manager"), TestBroker: filepath.Join(dir, "testbroker")}
	for out, pkg := range map[string]string{b.Manager: "./cmd", b.TestBroker: "./cmd/testbroker"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
		cmd.Dir = root
		if msg, err := cmd.CombinedOutput(); err != nil {
			return Binaries{}, fmt.Errorf("go build %s: %w\n%s", pkg, err, msg)
		}
	}
	return b, nil
}
