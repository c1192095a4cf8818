package helmtest

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

const usersCRD = "mqttusers.mqtt.mqttoperator.io"

// Helm itself, through its Go SDK, against a real API server: an upgrade
// from a release that did not own the CRDs (chart 0.1.0 installed them from
// crds/) takes them over once they are labelled as docs/upgrading.md says;
// an upgrade whose chart changes a CRD's schema changes
// the CRD the API server serves; uninstall keeps the CRDs, and the objects,
// by default (crds.keep), and removes them with crds.keep=false.
func TestHelmUpgradeChangesCRDs(t *testing.T) {
	env, cfg := startAPIServer(t)
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	helm := helmConfig(t, kubeconfig)

	// The chart as released, and the next release whose MQTTUser CRD has a
	// new spec field.
	next := copyChart(t)
	addSpecField(t, filepath.Join(next, "files", "crds", "mqtt.mqttoperator.io_mqttusers.yaml"), "upgradeProbe")
	chartNow, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	chartNext, err := loader.Load(next)
	if err != nil {
		t.Fatal(err)
	}

	// A release of chart 0.1.0: its CRDs were installed from its crds/
	// directory, so the release does not own them (here: a release with
	// crds.enabled=false beside CRDs created without Helm). Upgrading to a
	// chart with CRD templates fails until they are labelled and annotated as
	// docs/upgrading.md says.
	var old []*apiextensionsv1.CustomResourceDefinition
	for _, n := range fileNames(t, filepath.Join(repoRoot, "config", "crd", "bases")) {
		old = append(old, one[*apiextensionsv1.CustomResourceDefinition](t, decodeFile(t, "config/crd/bases/"+n)))
	}
	if _, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{CRDs: old}); err != nil {
		t.Fatal(err)
	}
	in := action.NewInstall(helm)
	in.ReleaseName, in.Namespace = releaseName, namespace
	if _, err := in.Run(chartNow, map[string]any{"crds": map[string]any{"enabled": false}}); err != nil {
		t.Fatalf("helm install without CRDs: %v", err)
	}
	up := action.NewUpgrade(helm)
	up.Namespace = namespace
	up.ResetValues = true // the chart's defaults, not the last release's crds.enabled=false
	_, err = up.Run(releaseName, chartNow, nil)
	if err == nil || !strings.Contains(err.Error(), "Unable to continue with update") || !strings.Contains(err.Error(), "invalid ownership metadata") {
		t.Fatalf("helm upgrade over CRDs that no release owns: %v, want invalid ownership metadata", err)
	}
	t.Logf("as docs/upgrading.md shows: %v", err)
	for _, crd := range old {
		patch := client.MergeFrom(crd.DeepCopy())
		crd.Labels = map[string]string{"app.kubernetes.io/managed-by": "Helm"}
		crd.Annotations["meta.helm.sh/release-name"] = releaseName
		crd.Annotations["meta.helm.sh/release-namespace"] = namespace
		if err := c.Patch(ctx, crd, patch); err != nil {
			t.Fatal(err)
		}
	}
	up = action.NewUpgrade(helm)
	up.Namespace = namespace
	up.ResetValues = true
	if _, err := up.Run(releaseName, chartNow, nil); err != nil {
		t.Fatalf("helm upgrade over the labelled and annotated CRDs: %v", err)
	}
	crd := waitEstablished(ctx, t, c, usersCRD)
	if crd.Annotations["helm.sh/resource-policy"] != "keep" {
		t.Errorf("installed CRD annotations %v lack helm.sh/resource-policy: keep", crd.Annotations)
	}
	if hasSpecField(crd, "upgradeProbe") {
		t.Fatal("the released CRD already has spec.upgradeProbe")
	}
	// The API server prunes the unknown field.
	if got := createUser(ctx, t, c, "before-upgrade", false); got != "" {
		t.Errorf("spec.upgradeProbe = %q before the upgrade, want it pruned", got)
	}

	up = action.NewUpgrade(helm)
	up.Namespace = namespace
	if _, err := up.Run(releaseName, chartNext, nil); err != nil {
		t.Fatalf("helm upgrade: %v", err)
	}
	crd = waitEstablished(ctx, t, c, usersCRD)
	if !hasSpecField(crd, "upgradeProbe") {
		t.Fatalf("after helm upgrade the served CRD has no spec.upgradeProbe: Helm did not upgrade it")
	}
	if got := createUser(ctx, t, c, "after-upgrade", true); got != "probe" {
		t.Errorf("spec.upgradeProbe = %q after the upgrade, want the new field kept", got)
	}

	// helm uninstall keeps the CRDs and so every object.
	if _, err := action.NewUninstall(helm).Run(releaseName); err != nil {
		t.Fatalf("helm uninstall: %v", err)
	}
	waitEstablished(ctx, t, c, usersCRD)
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("mqtt.mqttoperator.io/v1alpha1")
	u.SetKind("MQTTUser")
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "after-upgrade"}, u); err != nil {
		t.Errorf("the MQTTUser is gone after helm uninstall with crds.keep: %v", err)
	}

	// Installed again, the release adopts the kept CRDs. Upgraded to
	// crds.keep=false, it drops the annotation, and uninstalling deletes them.
	in = action.NewInstall(helm)
	in.ReleaseName, in.Namespace = releaseName, namespace
	if _, err := in.Run(chartNext, nil); err != nil {
		t.Fatalf("helm install over the kept CRDs: %v", err)
	}
	up = action.NewUpgrade(helm)
	up.Namespace = namespace
	if _, err := up.Run(releaseName, chartNext, map[string]any{"crds": map[string]any{"keep": false}}); err != nil {
		t.Fatalf("helm upgrade --set crds.keep=false: %v", err)
	}
	if crd := waitEstablished(ctx, t, c, usersCRD); crd.Annotations["helm.sh/resource-policy"] != "" {
		t.Errorf("upgraded to crds.keep=false, yet the CRD is annotated %v", crd.Annotations)
	}
	if _, err := action.NewUninstall(helm).Run(releaseName); err != nil {
		t.Fatalf("helm uninstall: %v", err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, client.ObjectKey{Name: usersCRD}, &apiextensionsv1.CustomResourceDefinition{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Errorf("with crds.keep=false the CRD is still there a minute after helm uninstall: %v", err)
	}
}

// helmConfig is an action.Configuration talking to the cluster of
// kubeconfig, storing releases in Secrets as the helm command does.
func helmConfig(t *testing.T, kubeconfig string) *action.Configuration {
	t.Helper()
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &kubeconfig
	ns := namespace
	flags.Namespace = &ns
	helm := new(action.Configuration)
	if err := helm.Init(flags, namespace, "secret", t.Logf); err != nil {
		t.Fatal(err)
	}
	return helm
}

// copyChart copies the chart into a temporary directory.
func copyChart(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "mqtt-operator")
	err := filepath.WalkDir(chartDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(chartDir, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// addSpecField adds a string property to spec in every version of the CRD
// file at path, leaving the rest of the file as it is.
func addSpecField(t *testing.T, path, field string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var crd map[string]any
	if err := yaml.Unmarshal(data, &crd); err != nil {
		t.Fatal(err)
	}
	versions, _, err := unstructured.NestedSlice(crd, "spec", "versions")
	if err != nil || len(versions) == 0 {
		t.Fatalf("%s: no spec.versions: %v", path, err)
	}
	for _, v := range versions {
		err := unstructured.SetNestedField(v.(map[string]any), map[string]any{"type": "string"},
			"schema", "openAPIV3Schema", "properties", "spec", "properties", field)
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := unstructured.SetNestedSlice(crd, versions, "spec", "versions"); err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(crd)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func hasSpecField(crd *apiextensionsv1.CustomResourceDefinition, field string) bool {
	for _, v := range crd.Spec.Versions {
		if _, ok := v.Schema.OpenAPIV3Schema.Properties["spec"].Properties[field]; !ok {
			return false
		}
	}
	return len(crd.Spec.Versions) > 0
}

// waitEstablished waits until the CRD is served and returns it.
func waitEstablished(ctx context.Context, t *testing.T, c client.Client, name string) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	crd := &apiextensionsv1.CustomResourceDefinition{}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		for _, cond := range crd.Status.Conditions {
			if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("CRD %s not established: %v", name, err)
	}
	return crd
}

// createUser creates an MQTTUser with spec.upgradeProbe set and returns the
// field as the API server stored it ("" when pruned). The API server starts
// serving a changed schema shortly after the CRD changes, so with wantField
// a pruned field is tried again for a while.
func createUser(ctx context.Context, t *testing.T, c client.Client, name string, wantField bool) string {
	t.Helper()
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "mqtt.mqttoperator.io/v1alpha1",
		"kind":       "MQTTUser",
		"metadata":   map[string]any{"name": name, "namespace": namespace},
		"spec":       map[string]any{"brokerRef": map[string]any{"name": "emqx"}, "upgradeProbe": "probe"},
	}}
	var got string
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		obj := u.DeepCopy()
		if err := c.Create(ctx, obj); err != nil {
			return false, err
		}
		got, _, _ = unstructured.NestedString(obj.Object, "spec", "upgradeProbe")
		if got != "" || !wantField {
			return true, nil
		}
		return false, c.Delete(ctx, obj)
	})
	if err != nil && (!wantField || !wait.Interrupted(err)) {
		t.Fatalf("create MQTTUser %s: %v", name, err)
	}
	return got
}
