package docstest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/mqttoperator/mqtt-operator/internal/docblocks"
)

// repoURL is where this repository is published; the examples install
// from it.
const repoURL = "https://github.com/mqttoperator/mqtt-operator"

// exampleObjects reads a multi-document example file from config/gitops.
func exampleObjects(t *testing.T, name string) ([][]byte, []*unstructured.Unstructured) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot, "config", "gitops", name))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := objects(string(src))
	if err != nil {
		t.Fatal(err)
	}
	raw := make([][]byte, len(objs))
	for i, o := range objs {
		if raw[i], err = yaml.Marshal(o.Object); err != nil {
			t.Fatal(err)
		}
	}
	return raw, objs
}

// mqttKinds are the kinds of this operator's CRDs.
func mqttKinds() []string {
	var out []string
	for _, k := range kinds {
		out = append(out, k.kind)
	}
	return out
}

// The Flux example decodes strictly into Flux's own Go types, installs the
// operator from this repository and waits for it, and health-checks the
// MQTT objects with kstatus only after the operator runs. (Applying it to
// Flux's CRDs is TestDocsYAMLBlocks' job, through docs/gitops.md.)
func TestFluxExample(t *testing.T) {
	raw, objs := exampleObjects(t, "flux.yaml")
	repos := map[string]sourcev1.GitRepository{}
	ks := map[string]kustomizev1.Kustomization{}
	for i, o := range objs {
		switch o.GetKind() {
		case sourcev1.GitRepositoryKind:
			var r sourcev1.GitRepository
			if err := yaml.UnmarshalStrict(raw[i], &r); err != nil {
				t.Fatalf("GitRepository %s: %v", o.GetName(), err)
			}
			repos[r.Name] = r
		case kustomizev1.KustomizationKind:
			var k kustomizev1.Kustomization
			if err := yaml.UnmarshalStrict(raw[i], &k); err != nil {
				t.Fatalf("Kustomization %s: %v", o.GetName(), err)
			}
			ks[k.Name] = k
		default:
			t.Fatalf("unexpected %s in the Flux example", o.GetKind())
		}
	}
	op, ok := ks["mqtt-operator"]
	if !ok {
		t.Fatal("no Kustomization mqtt-operator")
	}
	if !op.Spec.Wait {
		t.Error("the operator's Kustomization must wait for what it applies (the Deployment)")
	}
	if src := repos[op.Spec.SourceRef.Name]; src.Spec.URL != repoURL {
		t.Errorf("mqtt-operator installs from %q, want %s", src.Spec.URL, repoURL)
	}
	if _, err := os.Stat(filepath.Join(repoRoot, filepath.FromSlash(op.Spec.Path), "kustomization.yaml")); err != nil {
		t.Errorf("mqtt-operator's path %q is not a kustomization in this repository: %v", op.Spec.Path, err)
	}
	cfg, ok := ks["mqtt-config"]
	if !ok {
		t.Fatal("no Kustomization mqtt-config")
	}
	if !slices.ContainsFunc(cfg.Spec.DependsOn, func(d kustomizev1.DependencyReference) bool { return d.Name == op.Name }) {
		t.Error("mqtt-config must depend on mqtt-operator, or its objects wait for an operator that is not there yet")
	}
	if len(cfg.Spec.HealthChecks) == 0 {
		t.Error("mqtt-config lists no health checks")
	}
	if cfg.Spec.Wait {
		t.Error("mqtt-config sets wait, which makes Flux ignore its healthChecks")
	}
	known := mqttKinds()
	for _, hc := range cfg.Spec.HealthChecks {
		if hc.APIVersion != mqttGroup+"/v1alpha1" || !slices.Contains(known, hc.Kind) {
			t.Errorf("health check of %s %s: not one of the operator's kinds", hc.APIVersion, hc.Kind)
		}
	}
	for name, k := range ks {
		if _, ok := repos[k.Spec.SourceRef.Name]; !ok || k.Spec.SourceRef.Kind != sourcev1.GitRepositoryKind {
			t.Errorf("Kustomization %s: source %s %s is not in the example", name, k.Spec.SourceRef.Kind, k.Spec.SourceRef.Name)
		}
	}
}

// The Argo CD example installs the operator from this repository and syncs
// the MQTT objects after it (sync waves). Its schema is checked by applying
// it to Argo CD's Application CRD in TestDocsYAMLBlocks.
func TestArgoCDExample(t *testing.T) {
	_, objs := exampleObjects(t, "argocd-application.yaml")
	apps := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		if o.GetAPIVersion() != "argoproj.io/v1alpha1" || o.GetKind() != "Application" {
			t.Fatalf("unexpected %s %s in the Argo CD example", o.GetAPIVersion(), o.GetKind())
		}
		apps[o.GetName()] = o
	}
	op, ok := apps["mqtt-operator"]
	if !ok {
		t.Fatal("no Application mqtt-operator")
	}
	url, _, _ := unstructured.NestedString(op.Object, "spec", "source", "repoURL")
	path, _, _ := unstructured.NestedString(op.Object, "spec", "source", "path")
	if url != repoURL {
		t.Errorf("mqtt-operator installs from %q, want %s", url, repoURL)
	}
	if _, err := os.Stat(filepath.Join(repoRoot, filepath.FromSlash(path), "kustomization.yaml")); err != nil {
		t.Errorf("mqtt-operator's path %q is not a kustomization in this repository: %v", path, err)
	}
	cfg, ok := apps["mqtt-config"]
	if !ok {
		t.Fatal("no Application mqtt-config")
	}
	if wave(cfg) <= wave(op) {
		t.Errorf("mqtt-config's sync wave %d must come after mqtt-operator's %d", wave(cfg), wave(op))
	}
}

// wave is an Application's sync wave; Argo CD's default is 0.
func wave(u *unstructured.Unstructured) int {
	n, _ := strconv.Atoi(u.GetAnnotations()["argocd.argoproj.io/sync-wave"])
	return n
}

// Every shipped GitOps file is shown in the docs verbatim (file=PATH), so
// what a reader copies is what the tests check.
func TestGitOpsFilesAreInTheDocs(t *testing.T) {
	shown := map[string]bool{}
	for _, p := range loadPages(t) {
		for _, b := range p.blocks {
			if f, ok := b.Flags[docblocks.FileFlag]; ok {
				shown[f] = true
			}
		}
	}
	for _, dir := range []string{"config/argocd", "config/gitops"} {
		entries, err := os.ReadDir(filepath.Join(repoRoot, filepath.FromSlash(dir)))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			f := dir + "/" + e.Name()
			if f == argocdCM {
				continue // generated from health.lua, which is shown; TestArgoCDConfigMap checks it
			}
			if !shown[f] {
				t.Errorf("%s is not shown in docs/ with a file=%s block", f, f)
			}
		}
	}
}

// argocdCM is the argocd-cm snippet generated from config/argocd/health.lua.
const argocdCM = "config/argocd/argocd-cm.yaml"

// The argocd-cm snippet is a ConfigMap the API server accepts, with the
// health check under one key per kind, byte for byte.
func TestArgoCDConfigMap(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(argocdCM)))
	if err != nil {
		t.Fatal(err)
	}
	lua, err := os.ReadFile(filepath.Join(repoRoot, "config", "argocd", "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := objects(string(src))
	if err != nil || len(objs) != 1 {
		t.Fatalf("%s: %v (%d objects)", argocdCM, err, len(objs))
	}
	cm, err := apply(context.Background(), objs[0], "", false)
	if err != nil {
		t.Fatal(err)
	}
	if cm.GetNamespace() != "argocd" || cm.GetName() != "argocd-cm" {
		t.Errorf("the snippet is %s/%s, want argocd/argocd-cm", cm.GetNamespace(), cm.GetName())
	}
	data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	for _, k := range mqttKinds() {
		key := "resource.customizations.health." + mqttGroup + "_" + k
		if data[key] != string(lua) {
			t.Errorf("%s: not the script in config/argocd/health.lua", key)
		}
		delete(data, key)
	}
	for k := range data {
		t.Errorf("unexpected key %s", k)
	}
}
