package helmtest

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// The chart grants the manager exactly the rules controller-gen generates from
// the +kubebuilder:rbac markers, and the leader-election rules of config/rbac.
func TestRBACRulesMatchConfig(t *testing.T) {
	r := render(t, nil)
	fix := "update charts/mqtt-operator/templates/%s from %s"

	want := one[*rbacv1.ClusterRole](t, decodeFile(t, "config/rbac/role.yaml")).Rules
	if d := cmp.Diff(want, one[*rbacv1.ClusterRole](t, r.objects).Rules); d != "" {
		t.Errorf("ClusterRole rules (-config/rbac/role.yaml +chart):\n%s\n"+fix, d, "clusterrole.yaml", "config/rbac/role.yaml")
	}
	want = one[*rbacv1.Role](t, decodeFile(t, "config/rbac/leader_election_role.yaml")).Rules
	if d := cmp.Diff(want, one[*rbacv1.Role](t, r.objects).Rules); d != "" {
		t.Errorf("leader-election Role rules (-config/rbac +chart):\n%s\n"+fix, d, "leader-election-role.yaml", "config/rbac/leader_election_role.yaml")
	}
}

// charts/mqtt-operator/crds holds byte-for-byte copies of config/crd/bases, and
// the chart installs each of them.
func TestCRDsMatchConfig(t *testing.T) {
	bases := filepath.Join(repoRoot, "config", "crd", "bases")
	copies := filepath.Join(chartDir, "crds")
	names := fileNames(t, bases)
	if len(names) == 0 {
		t.Fatalf("no CRDs in %s", bases)
	}
	if got := fileNames(t, copies); !slices.Equal(names, got) {
		t.Fatalf("%s has %v, %s has %v; run: cp config/crd/bases/*.yaml charts/mqtt-operator/crds/", bases, names, copies, got)
	}
	for _, n := range names {
		want, err := os.ReadFile(filepath.Join(bases, n))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(copies, n))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(want, got) {
			t.Errorf("charts/mqtt-operator/crds/%s differs from config/crd/bases/%s; run: cp config/crd/bases/*.yaml charts/mqtt-operator/crds/", n, n)
		}
	}

	if got := len(all[*apiextensionsv1.CustomResourceDefinition](render(t, nil).objects)); got != len(names) {
		t.Errorf("the chart installs %d CRDs, want %d", got, len(names))
	}
}

func fileNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names // ReadDir sorts by name
}
