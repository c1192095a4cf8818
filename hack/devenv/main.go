// Command devenv is what `make dev` runs: a local control plane
// (kube-apiserver and etcd built from source), the CRDs, the test broker,
// the operator, and the samples, until Ctrl-C.
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
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

	"github.com/mqttoperator/mqtt-operator/test/harness"
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
	const metricsAddr, probeAddr = "127.0.0.1:8080", "127.0.0.1:8081"
	if err := harness.CheckFree(mqttAddr, apiAddr, metricsAddr, probeAddr); err != nil {
		return fmt.Errorf("%w (a previous make dev?)", err)
	}
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return err
	}
	stateDir, _ = filepath.Abs(stateDir)

	fmt.Println("starting kube-apiserver and etcd ...")
	cp, err := harness.StartControlPlane(harness.ControlPlaneOptions{StateDir: stateDir})
	if err != nil {
		return err
	}
	defer func() { _ = cp.Stop() }()
	kcPath := cp.KubeconfigPath

	broker, err := harness.StartTestBroker(ctx, harness.TestBrokerOptions{Bin: filepath.Join(binDir, "testbroker"),
		LogPath: filepath.Join(stateDir, "testbroker.log"), MQTTAddr: mqttAddr, APIAddr: apiAddr})
	if err != nil {
		return fmt.Errorf("test broker: %w (run `make build` first)", err)
	}
	defer func() { _ = broker.Stop(10 * time.Second) }()
	manager, err := harness.NewManager(harness.ManagerOptions{Bin: filepath.Join(binDir, "manager"), Kubeconfig: kcPath,
		LogPath: filepath.Join(stateDir, "manager.log"), MetricsAddr: metricsAddr, ProbeAddr: probeAddr,
		Args: []string{"--resync-interval", "1m"}})
	if err != nil {
		return fmt.Errorf("manager: %w (run `make build` first)", err)
	}
	if err := manager.Start(ctx); err != nil {
		return err
	}
	defer func() { _ = manager.Stop(10 * time.Second) }()

	if err := applySamples(ctx, cp.Config, kcPath, filepath.Join("config", "samples")); err != nil {
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

Logs: %[4]s/manager.log, %[4]s/testbroker.log. Metrics: %[5]s
Press Ctrl-C to stop everything.
`, kcPath, mqttAddr, apiAddr, stateDir, manager.MetricsURL())
	select {
	case <-ctx.Done():
	case <-manager.Done():
		return fmt.Errorf("manager exited (see %s/manager.log): %w", stateDir, cmp.Or(manager.ExitErr(), errors.New("exit status 0")))
	case <-broker.Done():
		return fmt.Errorf("test broker exited (see %s/testbroker.log): %w", stateDir, cmp.Or(broker.ExitErr(), errors.New("exit status 0")))
	}
	fmt.Println("\nstopping ...")
	return nil
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
