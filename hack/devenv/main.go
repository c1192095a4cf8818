// Command devenv is what `make dev` runs: a local control plane
// (kube-apiserver and etcd built from source), the CRDs, the test broker,
// the operator, and the samples, until Ctrl-C.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

func main() {
	binDir := flag.String("bin-dir", "bin", "Where make put manager and testbroker.")
	stateDir := flag.String("state-dir", ".dev", "Where the kubeconfig and logs go.")
	mqttAddr := flag.String("mqtt-addr", "127.0.0.1:1883", "Test broker MQTT address.")
	apiAddr := flag.String("api-addr", "127.0.0.1:18083", "Test broker management API address (the samples point here).")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *binDir, *stateDir, *mqttAddr, *apiAddr); err != nil {
		fmt.Fprintf(os.Stderr, "make dev: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, binDir, stateDir, mqttAddr, apiAddr string) error {
	for _, addr := range []string{mqttAddr, apiAddr, "127.0.0.1:8080", "127.0.0.1:8081"} {
		if err := free(addr); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return err
	}
	stateDir, _ = filepath.Abs(stateDir)

	fmt.Println("starting kube-apiserver and etcd ...")
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: os.Getenv("KUBEBUILDER_ASSETS"),
	}
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop()
		return fmt.Errorf("start control plane: %w", err)
	}
	defer func() { _ = env.Stop() }()
	user, err := env.AddUser(envtest.User{Name: "dev-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("add user: %w", err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	kcPath := filepath.Join(stateDir, "kubeconfig")
	if err := os.WriteFile(kcPath, kubeconfig, 0o600); err != nil {
		return err
	}

	broker, err := start(ctx, filepath.Join(binDir, "testbroker"), filepath.Join(stateDir, "testbroker.log"), nil,
		"--mqtt-addr", mqttAddr, "--api-addr", apiAddr)
	if err != nil {
		return err
	}
	defer broker.stop()
	if err := waitListening(ctx, apiAddr, 20*time.Second); err != nil {
		return fmt.Errorf("test broker did not start (see %s): %w", filepath.Join(stateDir, "testbroker.log"), err)
	}
	manager, err := start(ctx, filepath.Join(binDir, "manager"), filepath.Join(stateDir, "manager.log"), []string{"KUBECONFIG=" + kcPath},
		"--metrics-bind-address", "127.0.0.1:8080", "--health-probe-bind-address", "127.0.0.1:8081", "--resync-interval", "1m")
	if err != nil {
		return err
	}
	defer manager.stop()

	if err := applySamples(ctx, cfg, kcPath, filepath.Join("config", "samples")); err != nil {
		return fmt.Errorf("apply samples: %w", err)
	}
	fmt.Printf(`
mqtt-operator dev environment is up.

  export KUBECONFIG=%[1]s
  kubectl get mqttbrokers,mqttusers,mqttacls,mqttbans
  kubectl describe mqttuser sensor-1

The test broker speaks MQTT on %[2]s and the EMQX v4 and v5 management APIs on
http://%[3]s (AppID/API key admin, secret public). Connect as sensor-1 with the
password the operator generated, e.g. with mosquitto-clients (apt-get install mosquitto-clients):

  PW=$(kubectl get secret sensor-1-mqtt-credentials -o jsonpath='{.data.password}' | base64 -d)
  mosquitto_pub -h 127.0.0.1 -p 1883 -V mqttv5 -i sensor-1 -u sensor-1 -P "$PW" -t sensors/sensor-1/temp -m 21.5
  mosquitto_pub -h 127.0.0.1 -p 1883 -V mqttv5 -i rogue-client -u sensor-1 -P "$PW" -t x -m y   # banned: refused

Fault injection for experiments: curl -XPOST http://%[3]s/testbroker/wipe (the broker
"loses" its data; the operator puts it back within the resync interval, 1m here).

Logs: %[4]s/manager.log, %[4]s/testbroker.log. Metrics: http://127.0.0.1:8080/metrics
Press Ctrl-C to stop everything.
`, kcPath, mqttAddr, apiAddr, stateDir)
	select {
	case <-ctx.Done():
	case err := <-manager.done:
		return fmt.Errorf("manager exited (see %s/manager.log): %w", stateDir, err)
	case err := <-broker.done:
		return fmt.Errorf("test broker exited (see %s/testbroker.log): %w", stateDir, err)
	}
	fmt.Println("\nstopping ...")
	return nil
}

type child struct {
	cmd  *exec.Cmd
	done chan error
}

func start(ctx context.Context, bin, logPath string, env []string, args ...string) (*child, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w (run `make build` first)", bin, err)
	}
	c := &child{cmd: cmd, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait(); _ = logf.Close() }()
	return c, nil
}

func (c *child) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-c.done:
		_ = err // the child's exit status is in its log
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
	}
}

func free(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s is in use; stop whatever listens there (a previous make dev?): %w", addr, err)
	}
	return l.Close()
}

func waitListening(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return conn.Close()
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// applySamples runs `kubectl apply -f` on the samples when kubectl is
// installed, so that later applies by hand update the same objects cleanly;
// without kubectl it applies them itself.
func applySamples(ctx context.Context, cfg *rest.Config, kubeconfig, dir string) error {
	if path, err := exec.LookPath("kubectl"); err == nil {
		cmd := exec.CommandContext(ctx, path, "apply", "-f", dir)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		return cmd.Run()
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return err
	}
	return applyDir(ctx, c, dir)
}

// applyDir applies every object of every sample file in dir, in the
// default namespace where none is set.
func applyDir(ctx context.Context, c client.Client, dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "mqtt_*.yaml"))
	if err != nil {
		return err
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		dec := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := dec.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			obj := &unstructured.Unstructured{}
			if err := utilyaml.Unmarshal(doc, &obj.Object); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			if len(obj.Object) == 0 {
				continue
			}
			if obj.GetNamespace() == "" {
				obj.SetNamespace("default")
			}
			// Server-side apply, so a later `kubectl apply -f config/samples/`
			// updates the same objects instead of failing on them.
			if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner("make-dev"), client.ForceOwnership); err != nil {
				return fmt.Errorf("%s: apply %s %s: %w", f, obj.GetKind(), obj.GetName(), err)
			}
			fmt.Printf("applied %s/%s\n", obj.GetKind(), obj.GetName())
		}
	}
	return nil
}
