package helmtest

import (
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"
	appsv1 "k8s.io/api/apps/v1"
)

// The operator's own flag set accepts the args the chart renders: the manager,
// built from cmd/, parses them and then stops at the trailing --help (exit 0);
// a bad flag makes it exit 2 before reaching --help.
func TestManagerAcceptsRenderedArgs(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the manager: %v", err)
	}
	manager := filepath.Join(t.TempDir(), "manager")
	build := exec.Command(goBin, "build", "-o", manager, "./cmd")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd: %v\n%s", err, out)
	}

	fromFile, err := chartutil.ReadValues([]byte(overrideValues))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		vals     map[string]any
		wantExit int
	}{
		{"defaults", nil, 0},
		{"values file", fromFile, 0},
		{"set", mustParse(t, "maxConcurrentReconciles=24,kubeAPIQPS=7,logLevel=3,metrics.enabled=false,leaderElect=false"), 0},
		{"watched namespaces", mustParse(t, "watchNamespaces={team-a,team-b}"), 0},
		{"plain HTTP metrics", mustParse(t, "metrics.secure=false,metrics.port=8080"), 0},
		{"broker metrics off", mustParse(t, "brokerMetricsInterval=0s"), 0},
		{"control: unknown flag", mustParse(t, "extraArgs={--no-such-flag}"), 2},
		{"control: bad flag value", mustParse(t, "extraArgs={--zap-log-level=loud}"), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := one[*appsv1.Deployment](t, render(t, tc.vals).objects).Spec.Template.Spec.Containers[0].Args
			checkArgs(t, manager, args, tc.wantExit)
		})
	}
	t.Run("kustomize config/default", func(t *testing.T) {
		checkArgs(t, manager, one[*appsv1.Deployment](t, kustomize(t, "config/default")).Spec.Template.Spec.Containers[0].Args, 0)
	})
}

// checkArgs runs the manager with args and a trailing --help, and wants it to
// exit with wantExit.
func checkArgs(t *testing.T, manager string, args []string, wantExit int) {
	t.Helper()
	out, err := exec.Command(manager, append(slices.Clone(args), "--help")...).CombinedOutput()
	exit := 0
	if exitErr := (*exec.ExitError)(nil); errors.As(err, &exitErr) {
		exit = exitErr.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if exit != wantExit {
		t.Errorf("manager %v --help exited %d, want %d\n%s", args, exit, wantExit, out)
	}
}
