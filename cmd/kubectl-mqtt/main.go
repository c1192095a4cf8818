// Command kubectl-mqtt is a kubectl plugin for mqtt-operator: installed on
// the PATH it runs as `kubectl mqtt <command>`; `kubectl mqtt help` lists
// the commands.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mqttoperator/mqtt-operator/internal/plugin"
	"github.com/mqttoperator/mqtt-operator/internal/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	c := cli{ctx: ctx, newClient: kubeClient, clock: clock.RealClock{}, version: version.Get().String(), stdin: os.Stdin}
	code := c.run(os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// kubeClient builds a client from the kubeconfig the way kubectl does
// ($KUBECONFIG, ~/.kube/config, or the in-cluster config), honouring
// --kubeconfig and --context, with the context's namespace and a tunnel
// through the API server.
func kubeClient(k kubeFlags) (kubeConn, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = k.Kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: k.Context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return kubeConn{}, fmt.Errorf("load kubeconfig: %w", err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return kubeConn{}, fmt.Errorf("read the namespace of the kubeconfig context: %w", err)
	}
	cfg.UserAgent = "kubectl-mqtt/" + version.Get().Version
	scheme, err := plugin.NewScheme()
	if err != nil {
		return kubeConn{}, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return kubeConn{}, fmt.Errorf("create a Kubernetes client: %w", err)
	}
	return kubeConn{client: c, namespace: ns, tunnel: plugin.PortForward{Config: cfg}}, nil
}
