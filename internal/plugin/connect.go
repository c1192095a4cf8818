package plugin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/drivers"
	"github.com/mqttoperator/mqtt-operator/internal/brokerconn"
	"github.com/mqttoperator/mqtt-operator/internal/resources"
)

// DefaultBrokerTimeout bounds each broker API call of a command.
const DefaultBrokerTimeout = 30 * time.Second

// Tunnel reaches a port of a pod through the Kubernetes API server, as
// kubectl port-forward does. A managed broker's API Service is ClusterIP
// only, so the plugin needs one to reach it from outside the cluster.
type Tunnel interface {
	// Forward opens a tunnel to port of the pod and returns the local
	// address that reaches it and a function that closes the tunnel.
	Forward(ctx context.Context, namespace, pod string, port int) (addr string, stop func(), err error)
}

// BrokerConn is a broker client for one command.
type BrokerConn struct {
	Broker *mqttv1.MQTTBroker
	Client broker.Client
	close  func()
}

// Close ends the tunnel of a managed broker, if any.
func (b *BrokerConn) Close() {
	if b.close != nil {
		b.close()
	}
}

// GetBroker reads an MQTTBroker, with an error a user can act on.
func GetBroker(ctx context.Context, c client.Reader, namespace, name string) (*mqttv1.MQTTBroker, error) {
	var b mqttv1.MQTTBroker
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &b); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("mqttbroker %q not found in namespace %q", name, namespace)
		}
		return nil, fmt.Errorf("get mqttbroker %s/%s: %w", namespace, name, err)
	}
	return &b, nil
}

// ConnectBroker builds a client for the named MQTTBroker from what the
// cluster says about it, read with the caller's permissions: an external
// broker is called at its spec URL with the Secrets its spec references; a
// managed broker is reached through tun, at a ready pod behind its API
// Service, with the credentials the operator generated.
func ConnectBroker(ctx context.Context, c client.Reader, tun Tunnel, namespace, name string, timeout time.Duration) (*BrokerConn, error) {
	b, err := GetBroker(ctx, c, namespace, name)
	if err != nil {
		return nil, err
	}
	cfg, err := brokerconn.Config(ctx, c, b)
	if err != nil {
		return nil, fmt.Errorf("mqttbroker %s/%s: %w", namespace, name, err)
	}
	if timeout <= 0 {
		timeout = DefaultBrokerTimeout
	}
	cfg.Timeout = timeout
	conn := &BrokerConn{Broker: b}
	if b.Spec.Managed != nil {
		if tun == nil {
			return nil, errors.New("a managed broker is reached through the Kubernetes API server, but no connection to it was configured")
		}
		addr, stop, err := forwardToBroker(ctx, c, tun, b, cfg.URL)
		if err != nil {
			return nil, err
		}
		conn.close = stop
		cfg.Transport = &http.Transport{
			// The URL keeps naming the API Service; every connection goes
			// through the tunnel.
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			},
			MaxIdleConnsPerHost: 4,
		}
	}
	cl, err := drivers.New(cfg)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("mqttbroker %s/%s: %w", namespace, name, err)
	}
	conn.Client = cl
	return conn, nil
}

// forwardToBroker opens a tunnel to the API port of a ready pod of a
// managed broker.
func forwardToBroker(ctx context.Context, c client.Reader, tun Tunnel, b *mqttv1.MQTTBroker, apiURL string) (string, func(), error) {
	u, err := url.Parse(apiURL)
	if err != nil {
		return "", nil, fmt.Errorf("api url of mqttbroker %s/%s: %w", b.Namespace, b.Name, err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		return "", nil, fmt.Errorf("api url %q of mqttbroker %s/%s has no port", apiURL, b.Namespace, b.Name)
	}
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(b.Namespace),
		client.MatchingLabelsSelector{Selector: labels.SelectorFromSet(resources.SelectorLabels(b))}); err != nil {
		return "", nil, fmt.Errorf("list the pods of mqttbroker %s/%s: %w", b.Namespace, b.Name, err)
	}
	pod, ok := PickPod(pods.Items)
	if !ok {
		return "", nil, fmt.Errorf("mqttbroker %s/%s has no ready pod to reach its API through", b.Namespace, b.Name)
	}
	addr, stop, err := tun.Forward(ctx, b.Namespace, pod, port)
	if err != nil {
		return "", nil, fmt.Errorf("tunnel to pod %s/%s port %d of mqttbroker %s: %w", b.Namespace, pod, port, b.Name, err)
	}
	return addr, stop, nil
}

// PickPod chooses the pod a tunnel goes to: a running, ready pod that is
// not being deleted, the lowest name first so repeated commands reach the
// same node.
func PickPod(pods []corev1.Pod) (string, bool) {
	var ready []string
	for _, p := range pods {
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
			continue
		}
		if slices.ContainsFunc(p.Status.Conditions, func(c corev1.PodCondition) bool {
			return c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue
		}) {
			ready = append(ready, p.Name)
		}
	}
	if len(ready) == 0 {
		return "", false
	}
	return slices.MinFunc(ready, cmp.Compare[string]), true
}
