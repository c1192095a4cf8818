package helmtest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// A real kube-apiserver installs the chart's CRDs, accepts every other object
// it renders, admits the manager's pod in a namespace that enforces the
// restricted Pod Security Standard (as config/default's does), and accepts
// config/samples against the chart's CRDs (what NOTES.txt tells users to do).
func TestAPIServerAcceptsChart(t *testing.T) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(repoRoot, "bin", "k8s")
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			t.Fatalf("%s missing in %s (KUBEBUILDER_ASSETS): run `make envtest` in the repository root to build it: %v", bin, assets, err)
		}
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(chartDir, "crds")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	}
	cfg, err := env.Start()
	t.Cleanup(func() { _ = env.Stop() }) // also after a half start
	if err != nil {
		t.Fatalf("start kube-apiserver and etcd from %s: %v", assets, err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted",
	}}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	var deploy *appsv1.Deployment
	for _, o := range render(t, nil).objects {
		if _, isCRD := o.(*apiextensionsv1.CustomResourceDefinition); isCRD {
			continue // env.Start installed them from crds/
		}
		if err := c.Create(ctx, o); err != nil {
			t.Errorf("create %s %s: %v", typeName(o), o.GetName(), err)
		}
		if d, ok := o.(*appsv1.Deployment); ok {
			deploy = d
		}
	}
	if deploy == nil {
		t.Fatal("no Deployment rendered")
	}

	// No controllers run here, so make the Deployment's pod by hand.
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "manager", Namespace: namespace, Labels: deploy.Spec.Template.Labels},
		Spec:       *deploy.Spec.Template.Spec.DeepCopy(),
	}
	if err := c.Create(ctx, pod); err != nil {
		t.Errorf("the manager's pod is refused in a restricted namespace: %v", err)
	}
	// Control: the namespace does enforce the policy.
	loose := pod.DeepCopy()
	loose.Name, loose.Spec.SecurityContext, loose.Spec.Containers[0].SecurityContext = "loose", nil, nil
	if err := c.Create(ctx, loose); err == nil || !strings.Contains(err.Error(), "violates PodSecurity") {
		t.Errorf("a pod without securityContext was not refused by PodSecurity: %v", err)
	}

	samples, err := filepath.Glob(filepath.Join(repoRoot, "config", "samples", "*.yaml"))
	if err != nil || len(samples) == 0 {
		t.Fatalf("no samples in config/samples: %v", err)
	}
	for _, path := range samples {
		for _, u := range decodeUnstructured(t, path) {
			u.SetNamespace(namespace)
			if err := c.Create(ctx, u); err != nil {
				t.Errorf("%s: create %s %s: %v", filepath.Base(path), u.GetKind(), u.GetName(), err)
			}
		}
	}
}

// decodeUnstructured reads every object of a multi-document YAML file.
func decodeUnstructured(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []*unstructured.Unstructured
	for doc := range strings.SplitSeq(string(data), "\n---") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
	return out
}
