package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// RaceEnv names the variable that, set to 1, builds the binaries with the
// race detector: a data race in the manager then ends it with a report in
// its log, where a test that only watches objects would see it stall.
const RaceEnv = "MQTT_OPERATOR_RACE"

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
		args := []string{"build", "-o", out}
		if os.Getenv(RaceEnv) == "1" {
			args = append(args, "-race")
		}
		cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
		cmd.Dir = root
		if msg, err := cmd.CombinedOutput(); err != nil {
			return Binaries{}, fmt.Errorf("go build %s: %w\n%s", pkg, err, msg)
		}
	}
	return b, nil
}
