package docstest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// argocdVersion is the Argo CD release whose Application CRD the examples
// are checked against. Argo CD's Go module cannot be a dependency (it relies
// on replace directives), so only its CRDs are read from the module.
const argocdVersion = "v3.5.7"

var (
	repoRoot = filepath.Join("..", "..")
	docsDir  = filepath.Join(repoRoot, "docs")

	// One API server for the package, with the operator's CRDs and Flux's
	// and Argo CD's, and no manager: nothing ever processes an object.
	testCfg *rest.Config
	dyn     dynamic.Interface
	mapper  meta.RESTMapper
	k8s     client.Client
)

func TestMain(m *testing.M) { os.Exit(runSuite(m)) }

func runSuite(m *testing.M) int {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(repoRoot, "bin", "k8s")
	}
	if _, err := os.Stat(filepath.Join(assets, "kube-apiserver")); err != nil {
		fmt.Fprintf(os.Stderr, "envtest binaries missing in %s: run `make envtest` (make test does it)\n", assets)
		return 1
	}
	gitops, err := gitopsCRDs()
	if err != nil {
		fmt.Fprintf(os.Stderr, "Flux and Argo CD CRDs: %v\n", err)
		return 1
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     append([]string{filepath.Join(repoRoot, "config", "crd", "bases")}, gitops...),
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	}
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop()
		fmt.Fprintf(os.Stderr, "start envtest: %v\n", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if err := connect(cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

func connect(cfg *rest.Config) error {
	testCfg = cfg
	var err error
	if dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return fmt.Errorf("dynamic client: %w", err)
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return fmt.Errorf("http client: %w", err)
	}
	if mapper, err = apiutil.NewDynamicRESTMapper(cfg, hc); err != nil {
		return fmt.Errorf("rest mapper: %w", err)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := apiextv1.AddToScheme(scheme); err != nil {
		return err
	}
	k8s, err = client.New(cfg, client.Options{Scheme: scheme, HTTPClient: hc, Mapper: mapper})
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	return nil
}

// gitopsCRDs returns the CRD files of Flux's GitRepository and
// Kustomization, at the version of the Flux API modules this module
// builds with, and of Argo CD's Application and AppProject, read from
// their Go modules through the module proxy.
func gitopsCRDs() ([]string, error) {
	source, err := depVersion("github.com/fluxcd/source-controller/api")
	if err != nil {
		return nil, err
	}
	kustomize, err := depVersion("github.com/fluxcd/kustomize-controller/api")
	if err != nil {
		return nil, err
	}
	sourceDir, err := moduleDir("github.com/fluxcd/source-controller@" + source)
	if err != nil {
		return nil, err
	}
	kustomizeDir, err := moduleDir("github.com/fluxcd/kustomize-controller@" + kustomize)
	if err != nil {
		return nil, err
	}
	argoDir, err := moduleDir("github.com/argoproj/argo-cd/v3@" + argocdVersion)
	if err != nil {
		return nil, err
	}
	return []string{
		filepath.Join(sourceDir, "config", "crd", "bases", "source.toolkit.fluxcd.io_gitrepositories.yaml"),
		filepath.Join(kustomizeDir, "config", "crd", "bases", "kustomize.toolkit.fluxcd.io_kustomizations.yaml"),
		filepath.Join(argoDir, "manifests", "crds", "application-crd.yaml"),
		filepath.Join(argoDir, "manifests", "crds", "appproject-crd.yaml"),
	}, nil
}

// depVersion is the version of a module in this module's build list.
func depVersion(path string) (string, error) {
	cmd := exec.CommandContext(context.Background(), "go", "list", "-m", "-f", "{{.Version}}", path)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %w", path, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// moduleDir downloads a module into the module cache with the go command
// (a no-op when it is there already) and returns its directory.
func moduleDir(modVersion string) (string, error) {
	tmp, err := os.MkdirTemp("", "docstest-mod-")
	if err != nil {
		return "", err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	cmd := exec.CommandContext(context.Background(), "go", "mod", "download", "-json", modVersion)
	cmd.Dir = tmp // outside any module, so no go.mod or go.sum is touched
	cmd.Env = append(os.Environ(), "GO111MODULE=on", "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w: %s", modVersion, err, out)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil || info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %s %s", modVersion, info.Error, out)
	}
	return info.Dir, nil
}
