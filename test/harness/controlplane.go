package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// Scheme knows the built-in kinds and the operator's.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(mqttv1.AddToScheme(s))
	return s
}

// ControlPlaneOptions configure StartControlPlane; zero values are the
// repository's defaults.
type ControlPlaneOptions struct {
	// AssetsDir holds kube-apiserver and etcd; default $KUBEBUILDER_ASSETS,
	// else bin/k8s of the repository.
	AssetsDir string
	// CRDDir holds the CRD manifests; default config/crd/bases of the repository.
	CRDDir string
	// StateDir receives the manager's kubeconfig; default a new temporary directory.
	StateDir string
	// APIServerArgs are extra kube-apiserver flags, name to value.
	APIServerArgs map[string]string
}

// ControlPlane is a kube-apiserver and etcd with the operator's CRDs.
type ControlPlane struct {
	// Config is an administrator's client configuration.
	Config *rest.Config
	// KubeconfigPath is a kubeconfig file for the manager process (a
	// cluster administrator, like a manager with its full RBAC).
	KubeconfigPath string
	env            *envtest.Environment
	metrics        rest.Interface
}

// StartControlPlane starts etcd and kube-apiserver, installs the CRDs and
// writes a kubeconfig for processes.
func StartControlPlane(o ControlPlaneOptions) (*ControlPlane, error) {
	if o.AssetsDir == "" {
		o.AssetsDir = os.Getenv("KUBEBUILDER_ASSETS")
	}
	if o.AssetsDir == "" || o.CRDDir == "" {
		root, err := RepoRoot()
		if err != nil {
			return nil, err
		}
		if o.AssetsDir == "" {
			o.AssetsDir = filepath.Join(root, "bin", "k8s")
		}
		if o.CRDDir == "" {
			o.CRDDir = filepath.Join(root, "config", "crd", "bases")
		}
	}
	if _, err := os.Stat(filepath.Join(o.AssetsDir, "kube-apiserver")); err != nil {
		return nil, fmt.Errorf("kube-apiserver not found in %s (run `make envtest`): %w", o.AssetsDir, err)
	}
	if o.StateDir == "" {
		dir, err := os.MkdirTemp("", "mqtt-operator-harness-")
		if err != nil {
			return nil, err
		}
		o.StateDir = dir
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{o.CRDDir},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: o.AssetsDir,
	}
	args := env.ControlPlane.GetAPIServer().Configure()
	for k, v := range o.APIServerArgs {
		args.Set(k, v)
	}
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop() // a half-started control plane must not outlive the caller
		return nil, fmt.Errorf("start control plane: %w", err)
	}
	cp := &ControlPlane{Config: cfg, env: env}
	if err := cp.writeKubeconfig(o.StateDir); err != nil {
		_ = cp.Stop()
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(rest.CopyConfig(cfg))
	if err != nil {
		_ = cp.Stop()
		return nil, err
	}
	cp.metrics = cs.CoreV1().RESTClient()
	return cp, nil
}

func (c *ControlPlane) writeKubeconfig(dir string) error {
	user, err := c.env.AddUser(envtest.User{Name: "mqtt-operator-manager", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("add manager user: %w", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	c.KubeconfigPath = filepath.Join(dir, "kubeconfig")
	return os.WriteFile(c.KubeconfigPath, kc, 0o600)
}

// Stop stops kube-apiserver and etcd and removes their data.
func (c *ControlPlane) Stop() error {
	if c == nil || c.env == nil {
		return nil
	}
	return c.env.Stop()
}

// Metrics scrapes the API server's /metrics; apiserver_request_total
// {verb,resource,subresource,code} counts every request it served.
func (c *ControlPlane) Metrics(ctx context.Context) (Metrics, error) {
	raw, err := c.metrics.Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("scrape kube-apiserver metrics: %w", err)
	}
	return ParseMetrics(bytes.NewReader(raw))
}

// RepoRoot is the repository's top directory: the nearest parent of the
// working directory with this module's go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(data, []byte("module github.com/mqttoperator/mqtt-operator\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the mqtt-operator repository (no go.mod of the module above the working directory)")
		}
		dir = parent
	}
}
