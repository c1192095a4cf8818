package helmtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/go-logr/logr"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/strvals"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// The release every test installs: `helm install mqtt-operator charts/mqtt-operator
// -n mqtt-operator-system`, whose object names match config/default's closely.
const (
	releaseName = "mqtt-operator"
	namespace   = "mqtt-operator-system"
)

var (
	repoRoot = filepath.Join("..", "..")
	chartDir = filepath.Join(repoRoot, "charts", "mqtt-operator")
)

// The API server's and Helm's own output are enough; controller-runtime's
// envtest logs would only warn that no logger is set.
func init() { ctrllog.SetLogger(logr.Discard()) }

var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := monitoringv1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

// strict rejects unknown and duplicate fields, so a misindented template fails.
var strict = serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()

// install renders the chart the way `helm install --dry-run=client` does,
// with vals over values.yaml. Nothing is contacted.
func install(vals map[string]any) (*release.Release, error) {
	return installChart(chartDir, vals)
}

func installChart(dir string, vals map[string]any) (*release.Release, error) {
	chrt, err := loader.Load(dir)
	if err != nil {
		return nil, err
	}
	in := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	in.ReleaseName = releaseName
	in.Namespace = namespace
	in.DryRun = true
	in.ClientOnly = true
	in.Replace = true
	return in.Run(chrt, vals)
}

// rendered is the chart's manifest, every document decoded strictly.
type rendered struct {
	objects []client.Object
	notes   string
}

func render(t *testing.T, vals map[string]any) rendered {
	t.Helper()
	rel, err := install(vals)
	if err != nil {
		t.Fatalf("rendering the chart: %v", err)
	}
	return rendered{objects: decodeAll(t, []byte(rel.Manifest)), notes: rel.Info.Notes}
}

// renderSet renders the chart with `--set`-style values.
func renderSet(t *testing.T, set string) rendered {
	t.Helper()
	return render(t, mustParse(t, set))
}

// readValues parses a values file's text.
func readValues(t *testing.T, text string) map[string]any {
	t.Helper()
	vals, err := chartutil.ReadValues([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return vals
}

func mustParse(t *testing.T, set string) map[string]any {
	t.Helper()
	vals, err := strvals.Parse(set)
	if err != nil {
		t.Fatal(err)
	}
	return vals
}

// decodeAll decodes every non-empty document of a multi-document YAML stream
// into its typed Kubernetes object.
func decodeAll(t *testing.T, data []byte) []client.Object {
	t.Helper()
	var objs []client.Object
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("splitting YAML: %v", err)
		}
		var probe map[string]any
		if err := yaml.Unmarshal(doc, &probe); err != nil {
			t.Fatalf("invalid YAML document: %v\n%s", err, doc)
		}
		if len(probe) == 0 { // only comments, e.g. a disabled template
			continue
		}
		obj, _, err := strict.Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("document does not decode: %v\n%s", err, doc)
		}
		o, ok := obj.(client.Object)
		if !ok {
			t.Fatalf("%T is not a Kubernetes object", obj)
		}
		objs = append(objs, o)
	}
}

// decodeFile decodes a YAML file of the repository, path relative to its root.
func decodeFile(t *testing.T, path string) []client.Object {
	t.Helper()
	return decodeAll(t, readRepoFile(t, path))
}

func readRepoFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, path))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// kustomize builds a kustomization of the repository (path relative to its
// root) as `kubectl kustomize` does, and decodes the result strictly.
func kustomize(t *testing.T, path string) []client.Object {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(repoRoot, path))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", path, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	return decodeAll(t, out)
}

// all returns the objects of type T.
func all[T client.Object](objs []client.Object) []T {
	var out []T
	for _, o := range objs {
		if typed, ok := o.(T); ok {
			out = append(out, typed)
		}
	}
	return out
}

// one returns the single object of type T and fails unless there is exactly one.
func one[T client.Object](t *testing.T, objs []client.Object) T {
	t.Helper()
	found := all[T](objs)
	if len(found) != 1 {
		var zero T
		t.Fatalf("want exactly one %T, got %d", zero, len(found))
	}
	return found[0]
}

// named returns the object of type T with the given namespace and name.
func named[T client.Object](t *testing.T, objs []client.Object, ns, name string) T {
	t.Helper()
	for _, o := range all[T](objs) {
		if o.GetNamespace() == ns && o.GetName() == name {
			return o
		}
	}
	var zero T
	t.Fatalf("no %T %s/%s rendered", zero, ns, name)
	return zero
}

// startAPIServer starts kube-apiserver and etcd from KUBEBUILDER_ASSETS
// (default bin/k8s) with the CRDs in crdDirs installed, and stops them when
// the test ends.
func startAPIServer(t *testing.T, crdDirs ...string) (*envtest.Environment, *rest.Config) {
	t.Helper()
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
		CRDDirectoryPaths:     crdDirs,
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	}
	cfg, err := env.Start()
	t.Cleanup(func() { _ = env.Stop() }) // also after a half start
	if err != nil {
		t.Fatalf("start kube-apiserver and etcd from %s: %v", assets, err)
	}
	return env, cfg
}

// monitoringCRDs writes the Prometheus Operator's ServiceMonitor and
// PrometheusRule CRDs into a directory and returns it. They are generated by
// controller-gen from the Go types of the module version in go.mod, the ones
// the tests also decode into, so the API server validates the chart's objects
// against the real schema.
func monitoringCRDs(t *testing.T) string {
	t.Helper()
	gen := os.Getenv("CONTROLLER_GEN")
	if gen == "" {
		gen = filepath.Join(repoRoot, "bin", "controller-gen")
	}
	gen, err := filepath.Abs(gen)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(gen); err != nil {
		t.Fatalf("controller-gen missing (CONTROLLER_GEN): run `make controller-gen` in the repository root: %v", err)
	}
	all := t.TempDir()
	pkg := "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	cmd := exec.Command(gen, "crd:allowDangerousTypes=true", "paths="+pkg, "output:crd:dir="+all)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("controller-gen for %s: %v\n%s", pkg, err, out)
	}
	dir := t.TempDir()
	for _, plural := range []string{"servicemonitors", "prometheusrules"} {
		name := fmt.Sprintf("monitoring.coreos.com_%s.yaml", plural)
		data, err := os.ReadFile(filepath.Join(all, name))
		if err != nil {
			t.Fatalf("controller-gen wrote no %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
