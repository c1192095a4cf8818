package helmtest

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// runMakeManifests is the fix for every stale copy under the chart's files/.
const runMakeManifests = "run `make manifests` (it copies config/ and docs/grafana/ into charts/mqtt-operator/files/)"

// The chart's files/ holds byte-for-byte copies of config/ and docs/grafana/:
// the CRDs, the manager's generated RBAC rules, the alerts and the Grafana
// dashboard. And no crds/ directory is
// left, whose CRDs Helm would install once and never upgrade.
func TestChartFilesMatchConfig(t *testing.T) {
	bases := filepath.Join(repoRoot, "config", "crd", "bases")
	copies := filepath.Join(chartDir, "files", "crds")
	names := fileNames(t, bases)
	if len(names) == 0 {
		t.Fatalf("no CRDs in %s", bases)
	}
	if got := fileNames(t, copies); !slices.Equal(names, got) {
		t.Fatalf("%s has %v, %s has %v; %s", bases, names, copies, got, runMakeManifests)
	}
	pairs := map[string]string{
		"config/rbac/role.yaml":                  "files/rbac/role.yaml",
		"config/prometheus/prometheus_rule.yaml": "files/prometheus/prometheus_rule.yaml",
	}
	for _, n := range names {
		pairs["config/crd/bases/"+n] = "files/crds/" + n
	}
	dashboards := fileNames(t, filepath.Join(repoRoot, "docs", "grafana"))
	if got := fileNames(t, filepath.Join(chartDir, "files", "grafana")); len(dashboards) == 0 || !slices.Equal(dashboards, got) {
		t.Errorf("docs/grafana has %v, charts/mqtt-operator/files/grafana has %v; %s", dashboards, got, runMakeManifests)
	}
	for _, n := range dashboards {
		pairs["docs/grafana/"+n] = "files/grafana/" + n
	}
	for src, dst := range pairs {
		want := readRepoFile(t, src)
		got, err := os.ReadFile(filepath.Join(chartDir, dst))
		if err != nil {
			t.Errorf("%v; %s", err, runMakeManifests)
			continue
		}
		if !bytes.Equal(want, got) {
			t.Errorf("charts/mqtt-operator/%s differs from %s; %s", dst, src, runMakeManifests)
		}
	}
	if _, err := os.Stat(filepath.Join(chartDir, "crds")); !os.IsNotExist(err) {
		t.Errorf("charts/mqtt-operator/crds exists (%v): Helm installs it once and never upgrades it; the CRDs are templates", err)
	}
}

// The CRDs the chart renders are config/crd/bases's, plus the release's
// labels and, by default, helm.sh/resource-policy: keep.
func TestRenderedCRDsMatchConfig(t *testing.T) {
	var want []*apiextensionsv1.CustomResourceDefinition
	for _, n := range fileNames(t, filepath.Join(repoRoot, "config", "crd", "bases")) {
		want = append(want, one[*apiextensionsv1.CustomResourceDefinition](t, decodeFile(t, "config/crd/bases/"+n)))
	}
	for _, tc := range []struct {
		set      string
		wantCRDs bool
		wantKeep bool
	}{
		{"", true, true},
		{"crds.keep=false", true, false},
		{"crds.enabled=false", false, false},
	} {
		t.Run("set "+tc.set, func(t *testing.T) {
			got := all[*apiextensionsv1.CustomResourceDefinition](renderSet(t, tc.set).objects)
			if !tc.wantCRDs {
				if len(got) != 0 {
					t.Fatalf("%d CRDs rendered, want none", len(got))
				}
				return
			}
			if len(got) != len(want) {
				t.Fatalf("%d CRDs rendered, want %d", len(got), len(want))
			}
			for i, crd := range got {
				if crd.Labels["app.kubernetes.io/instance"] != releaseName || crd.Labels["app.kubernetes.io/managed-by"] != "Helm" {
					t.Errorf("%s lacks the release's labels: %v", crd.Name, crd.Labels)
				}
				if keep := crd.Annotations["helm.sh/resource-policy"] == "keep"; keep != tc.wantKeep {
					t.Errorf("%s: helm.sh/resource-policy keep = %v, want %v (annotations %v)", crd.Name, keep, tc.wantKeep, crd.Annotations)
				}
				crd = crd.DeepCopy()
				crd.Labels = nil
				delete(crd.Annotations, "helm.sh/resource-policy")
				if d := cmp.Diff(want[i], crd); d != "" {
					t.Errorf("rendered CRD %s (-config/crd/bases +chart):\n%s", crd.Name, d)
				}
			}
		})
	}
}

// The chart grants the manager exactly the rules controller-gen generates from
// the +kubebuilder:rbac markers, and the leader-election and metrics rules of
// config/rbac.
func TestRBACRulesMatchConfig(t *testing.T) {
	objs := render(t, nil).objects
	for _, tc := range []struct{ config, chart string }{
		{"config/rbac/role.yaml", "mqtt-operator-manager"},
		{"config/rbac/metrics_auth_role.yaml", "mqtt-operator-metrics-auth"},
		{"config/rbac/metrics_reader_role.yaml", "mqtt-operator-metrics-reader"},
	} {
		want := one[*rbacv1.ClusterRole](t, decodeFile(t, tc.config)).Rules
		if d := cmp.Diff(want, named[*rbacv1.ClusterRole](t, objs, "", tc.chart).Rules); d != "" {
			t.Errorf("ClusterRole %s rules (-%s +chart):\n%s", tc.chart, tc.config, d)
		}
	}
	want := one[*rbacv1.Role](t, decodeFile(t, "config/rbac/leader_election_role.yaml")).Rules
	if d := cmp.Diff(want, one[*rbacv1.Role](t, objs).Rules); d != "" {
		t.Errorf("leader-election Role rules (-config/rbac +chart):\n%s", d)
	}
}

// The optional monitoring objects say what config/prometheus and
// config/network-policy say, so Helm and kustomize users get the same
// scrape, alerts and policy.
func TestMonitoringMatchesKustomize(t *testing.T) {
	objs := renderSet(t, "metrics.serviceMonitor.enabled=true,metrics.prometheusRule.enabled=true,networkPolicy.enabled=true").objects
	prom := kustomize(t, "config/prometheus")

	wantSM, gotSM := one[*monitoringv1.ServiceMonitor](t, prom), one[*monitoringv1.ServiceMonitor](t, objs)
	if d := cmp.Diff(wantSM.Spec.Endpoints, gotSM.Spec.Endpoints); d != "" {
		t.Errorf("ServiceMonitor endpoints (-config/prometheus +chart):\n%s", d)
	}
	wantPR, gotPR := one[*monitoringv1.PrometheusRule](t, prom), one[*monitoringv1.PrometheusRule](t, objs)
	if d := cmp.Diff(wantPR.Spec, gotPR.Spec); d != "" {
		t.Errorf("PrometheusRule spec (-config/prometheus +chart):\n%s", d)
	}
	wantNP := one[*networkingv1.NetworkPolicy](t, kustomize(t, "config/network-policy")).Spec
	gotNP := one[*networkingv1.NetworkPolicy](t, objs).Spec
	wantNP.PodSelector, gotNP.PodSelector = metav1.LabelSelector{}, metav1.LabelSelector{}
	if d := cmp.Diff(wantNP, gotNP); d != "" {
		t.Errorf("NetworkPolicy spec but the pod selector (-config/network-policy +chart):\n%s", d)
	}
}

// config/manager pulls the image the chart pulls by default: the same
// repository, tagged with the chart's appVersion.
func TestKustomizeImageMatchesChart(t *testing.T) {
	var kust struct {
		Images []struct{ Name, NewName, NewTag string } `json:"images"`
	}
	if err := yaml.Unmarshal(readRepoFile(t, "config/manager/kustomization.yaml"), &kust); err != nil {
		t.Fatal(err)
	}
	var chart struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(readRepoFile(t, "charts/mqtt-operator/Chart.yaml"), &chart); err != nil {
		t.Fatal(err)
	}
	want := []struct{ Name, NewName, NewTag string }{{"controller", "ghcr.io/mqttoperator/mqtt-operator", chart.AppVersion}}
	if d := cmp.Diff(want, kust.Images); d != "" {
		t.Errorf("config/manager/kustomization.yaml images (-want +got):\n%s", d)
	}
	d := one[*appsv1.Deployment](t, kustomize(t, "config/default"))
	if got, want := d.Spec.Template.Spec.Containers[0].Image, "ghcr.io/mqttoperator/mqtt-operator:"+chart.AppVersion; got != want {
		t.Errorf("kustomize build config/default runs %q, want %q", got, want)
	}
	if got := one[*appsv1.Deployment](t, render(t, nil).objects).Spec.Template.Spec.Containers[0].Image; got != d.Spec.Template.Spec.Containers[0].Image {
		t.Errorf("the chart runs %q, kustomize %q", got, d.Spec.Template.Spec.Containers[0].Image)
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
