package helmtest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/release"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
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

var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

// strict rejects unknown and duplicate fields, so a misindented template fails.
var strict = serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()

// install renders the chart the way `helm install --dry-run=client
// --include-crds` does, with vals over values.yaml. Nothing is contacted.
func install(vals map[string]any) (*release.Release, error) {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return nil, err
	}
	in := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	in.ReleaseName = releaseName
	in.Namespace = namespace
	in.DryRun = true
	in.ClientOnly = true
	in.Replace = true
	in.IncludeCRDs = true
	return in.Run(chrt, vals)
}

// rendered is the chart's manifest, CRDs first, every document decoded strictly.
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
	data, err := os.ReadFile(filepath.Join(repoRoot, path))
	if err != nil {
		t.Fatal(err)
	}
	return decodeAll(t, data)
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
