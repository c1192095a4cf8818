package plugin_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/mqttoperator/mqtt-operator/internal/plugin"
)

// One API server serves the tests of this package that need one; it starts
// with the first of them and stops when the package's tests end.
var shared struct {
	once   sync.Once
	env    *envtest.Environment
	cfg    *rest.Config
	err    error
	egress *egressProxy
	client client.Client
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.env != nil {
		_ = shared.env.Stop()
	}
	if shared.egress != nil {
		shared.egress.close()
	}
	os.Exit(code)
}

// controlPlane returns the shared API server's config and a client for it
// with the plugin's scheme. Its traffic to pods
// and services goes through an egress proxy the test controls, as a real
// API server's goes through Konnectivity: the API server proxies only to
// pod IPs, which the proxy maps to loopback listeners.
func controlPlane(t *testing.T) (*rest.Config, client.Client, *egressProxy) {
	t.Helper()
	shared.once.Do(func() {
		assets := os.Getenv("KUBEBUILDER_ASSETS")
		if assets == "" {
			assets = filepath.Join("..", "..", "bin", "k8s")
		}
		dir, err := os.MkdirTemp("", "egress")
		if err != nil {
			shared.err = err
			return
		}
		eg, err := newEgressProxy(filepath.Join(dir, "egress.sock"))
		if err != nil {
			shared.err = err
			return
		}
		shared.egress = eg
		cfgFile := filepath.Join(dir, "egress.yaml")
		if err := os.WriteFile(cfgFile, []byte(fmt.Sprintf(`apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
- name: cluster
  connection:
    proxyProtocol: HTTPConnect
    transport:
      uds:
        udsName: %s
`, eg.path)), 0o600); err != nil {
			shared.err = err
			return
		}
		env := &envtest.Environment{
			CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
			ErrorIfCRDPathMissing: true,
			BinaryAssetsDirectory: assets,
		}
		env.ControlPlane.GetAPIServer().Configure().Set("egress-selector-config-file", cfgFile)
		cfg, err := env.Start()
		if err != nil {
			_ = env.Stop()
			shared.err = fmt.Errorf("start envtest (KUBEBUILDER_ASSETS=%s; make envtest builds it): %w", assets, err)
			return
		}
		shared.env, shared.cfg = env, cfg
		scheme, err := plugin.NewScheme()
		if err != nil {
			shared.err = err
			return
		}
		shared.client, shared.err = client.New(cfg, client.Options{Scheme: scheme})
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.cfg, shared.client, shared.egress
}

// egressProxy is an HTTP CONNECT proxy on a Unix socket that connects
// "host:port" targets to the loopback addresses routed to them.
type egressProxy struct {
	path string
	ln   net.Listener

	mu      sync.Mutex
	routes  map[string]string
	targets []string // every CONNECT target, in order
}

func newEgressProxy(path string) (*egressProxy, error) {
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	p := &egressProxy{path: path, ln: ln, routes: map[string]string{}}
	go p.serve()
	return p, nil
}

func (p *egressProxy) route(target, to string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.routes[target] = to
}

func (p *egressProxy) connected() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.targets...)
}

func (p *egressProxy) close() {
	_ = p.ln.Close()
	_ = os.RemoveAll(filepath.Dir(p.path))
}

func (p *egressProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(c)
	}
}

func (p *egressProxy) handle(c net.Conn) {
	defer func() { _ = c.Close() }()
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil || req.Method != http.MethodConnect {
		return
	}
	p.mu.Lock()
	p.targets = append(p.targets, req.Host)
	to, ok := p.routes[req.Host]
	p.mu.Unlock()
	if !ok {
		_, _ = io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
		return
	}
	up, err := net.Dial("tcp", to)
	if err != nil {
		_, _ = io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
		return
	}
	defer func() { _ = up.Close() }()
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, br); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
}
