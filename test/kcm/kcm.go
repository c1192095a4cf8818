// Package kcm runs a real kube-controller-manager against a test API server
// (envtest's), so that tests see garbage collection of owned objects and
// namespace deletion as a cluster does. envtest starts only etcd and
// kube-apiserver: without this, a deleted namespace stays Terminating and an
// owner's dependents are never collected.
//
// The binary is built from hack/envtest by `make kcm` (part of `make
// envtest`) into bin/k8s, next to kube-apiserver and etcd.
package kcm

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// DefaultControllers are the controllers tests need: owner references are
// honoured by the garbage collector, and a deleted namespace is emptied and
// removed by the namespace controller.
var DefaultControllers = []string{"garbagecollector", "namespace"}

// Options configure a kube-controller-manager.
type Options struct {
	// BinaryAssetsDirectory holds kube-controller-manager (KUBEBUILDER_ASSETS).
	BinaryAssetsDirectory string
	// Controllers to run; DefaultControllers when empty.
	Controllers []string
	// StartTimeout bounds the wait for /healthz; one minute when zero.
	StartTimeout time.Duration
}

// KCM is a running kube-controller-manager.
type KCM struct {
	cmd     *exec.Cmd
	dir     string
	logPath string
	done    chan struct{}
	waitErr error
	stop    sync.Once
}

// Path is the binary in dir.
func Path(dir string) string { return filepath.Join(dir, "kube-controller-manager") }

// Start runs kube-controller-manager as the user cfg authenticates as
// (envtest's admin), serving its secure port on loopback only, and waits
// until it reports healthy.
func Start(ctx context.Context, cfg *rest.Config, o Options) (*KCM, error) {
	bin := Path(o.BinaryAssetsDirectory)
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("kube-controller-manager missing (run `make kcm`): %w", err)
	}
	if len(o.Controllers) == 0 {
		o.Controllers = DefaultControllers
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = time.Minute
	}
	dir, err := os.MkdirTemp("", "kcm-")
	if err != nil {
		return nil, fmt.Errorf("kcm dir: %w", err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(cfg, kubeconfig); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	controllers := ""
	for i, c := range o.Controllers {
		if i > 0 {
			controllers += ","
		}
		controllers += c
	}
	k := &KCM{dir: dir, logPath: filepath.Join(dir, "kcm.log"), done: make(chan struct{})}
	logFile, err := os.Create(k.logPath)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("kcm log: %w", err)
	}
	k.cmd = exec.Command(bin,
		"--kubeconfig="+kubeconfig,
		"--controllers="+controllers,
		"--leader-elect=false",
		"--use-service-account-credentials=false",
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(port),
		"--cert-dir="+filepath.Join(dir, "certs"),
		// No delegated authentication against the API server's
		// extension-apiserver-authentication ConfigMap: only /healthz is read.
		"--authentication-skip-lookup=true",
		"--v=1",
	)
	k.cmd.Stdout, k.cmd.Stderr = logFile, logFile
	// Its own process group, and killed with the test process should that
	// die without stopping it.
	k.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := k.cmd.Start(); err != nil {
		_ = logFile.Close()
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start kube-controller-manager: %w", err)
	}
	go func() {
		k.waitErr = k.cmd.Wait()
		_ = logFile.Close()
		close(k.done)
	}()
	if err := k.waitHealthy(ctx, port, o.StartTimeout); err != nil {
		_ = k.Stop()
		return nil, err
	}
	return k, nil
}

// waitHealthy polls the secure port's /healthz, which is served without
// credentials.
func (k *KCM) waitHealthy(ctx context.Context, port int, timeout time.Duration) error {
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		// The serving certificate is self-signed; only liveness is read.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback health probe of a test process
	}}
	url := fmt.Sprintf("https://127.0.0.1:%d/healthz", port)
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-k.done:
			return fmt.Errorf("kube-controller-manager exited (%w); log:\n%s", k.waitErr, k.Log())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := hc.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kube-controller-manager not healthy after %s; log:\n%s", timeout, k.Log())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Log returns what the process wrote so far (the tail, at most 16 KiB).
func (k *KCM) Log() string {
	b, err := os.ReadFile(k.logPath)
	if err != nil {
		return ""
	}
	const max = 16 << 10
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

// Stop terminates the process (SIGTERM, then SIGKILL after 10 seconds) and
// removes its files.
func (k *KCM) Stop() error {
	var err error
	k.stop.Do(func() {
		_ = k.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-k.done:
		case <-time.After(10 * time.Second):
			_ = k.cmd.Process.Kill()
			<-k.done
		}
		var exit *exec.ExitError
		if k.waitErr != nil && !errors.As(k.waitErr, &exit) {
			err = k.waitErr
		}
		_ = os.RemoveAll(k.dir)
	})
	return err
}

// writeKubeconfig renders cfg (host, CA and client certificate or token) as
// a kubeconfig file.
func writeKubeconfig(cfg *rest.Config, path string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData,
		CertificateAuthority: cfg.CAFile, InsecureSkipTLSVerify: cfg.Insecure}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData,
		ClientCertificate: cfg.CertFile, ClientKey: cfg.KeyFile, Token: cfg.BearerToken, Username: cfg.Username, Password: cfg.Password}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin"}
	kc.CurrentContext = "envtest"
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}
