package plugin_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/brokertest/live"
	"github.com/mqttoperator/mqtt-operator/internal/broker/drivers"
	"github.com/mqttoperator/mqtt-operator/internal/plugin"
	"github.com/mqttoperator/mqtt-operator/internal/resources"
)

// fakeKubelet serves the kubelet's port-forward endpoint (SPDY, protocol
// portforward.k8s.io): every data stream is connected to backend, as the
// kubelet connects it to the pod's port. Each stream's path and port are
// sent on seen.
func fakeKubelet(t *testing.T, backend string, seen chan<- string) *httptest.Server {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/portForward/") {
			http.NotFound(w, r)
			return
		}
		if _, err := httpstream.Handshake(r, w, []string{"portforward.k8s.io"}); err != nil {
			return
		}
		streams := make(chan httpstream.Stream, 16)
		conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(s httpstream.Stream, _ <-chan struct{}) error {
			streams <- s
			return nil
		})
		if conn == nil {
			return
		}
		defer func() { _ = conn.Close() }()
		for {
			select {
			case s := <-streams:
				if s.Headers().Get("streamType") == "data" {
					select {
					case seen <- r.URL.Path + " port " + s.Headers().Get("port"):
					default:
					}
					go pipe(s, backend)
				} else {
					go func() { _, _ = io.Copy(io.Discard, s) }()
				}
			case <-conn.CloseChan():
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func pipe(s httpstream.Stream, backend string) {
	c, err := net.Dial("tcp", backend)
	if err != nil {
		_ = s.Reset()
		return
	}
	go func() { _, _ = io.Copy(c, s); _ = c.(*net.TCPConn).CloseWrite() }()
	_, _ = io.Copy(s, c)
	_ = s.Close()
	_ = c.Close()
}

// TestManagedBrokerThroughPortForward runs a broker command against a
// managed MQTTBroker the way a laptop does: the plugin reads the generated
// credentials, picks the ready pod and reaches its API port through the API
// server's pods/portforward (WebSocket to the API server, SPDY to the
// kubelet). The kubelet and the pod network are stood in for by a fake
// kubelet and the test's egress proxy.
func TestManagedBrokerThroughPortForward(t *testing.T) {
	cfg, k8s, egress := controlPlane(t)
	ctx := context.Background()
	tb := live.Start(t, "")
	api, err := drivers.New(broker.Config{URL: tb.APIURL(), APIVersion: broker.APIv5, Username: "admin", Password: "public"})
	if err != nil {
		t.Fatal(err)
	}
	if err := api.CreateUser(ctx, broker.UserSpec{Kind: broker.ByUsername, ID: "sensor-1", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	seen := make(chan string, 100)
	kubelet := fakeKubelet(t, strings.TrimPrefix(tb.APIURL(), "http://"), seen)
	const nodeIP = "192.0.2.20"
	egress.route(nodeIP+":10250", kubelet.Listener.Addr().String())

	ns := "managed"
	b := &mqttv1.MQTTBroker{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "emqx"},
		Spec: mqttv1.MQTTBrokerSpec{Managed: &mqttv1.ManagedBroker{Version: "5.8.9"}}}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "emqx-0", Labels: resources.SelectorLabels(b)},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "emqx", Image: "emqx"}}}}
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, b, node, pod,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.CredentialsSecretName(b)},
			StringData: map[string]string{"username": "admin", "password": "public"}},
	} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	node.Status = corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: nodeIP}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 10250}}}
	if err := k8s.Status().Update(ctx, node); err != nil {
		t.Fatal(err)
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "192.0.2.30", PodIPs: []corev1.PodIP{{IP: "192.0.2.30"}},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	if err := k8s.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}

	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := plugin.ConnectBroker(cctx, k8s, plugin.PortForward{Config: cfg}, ns, "emqx", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	err = plugin.Metrics(cctx, conn.Client, &out, true, plugin.OutputTable)
	if err == nil {
		users, lerr := conn.Client.ListUsers(cctx, broker.ByUsername)
		if lerr != nil || len(users) != 1 || users[0].ID != "sensor-1" {
			t.Errorf("ListUsers through the tunnel = %v, %v", users, lerr)
		}
	}
	conn.Close()
	if err != nil {
		t.Fatalf("stats through the port-forward: %v (egress targets %v)", err, egress.connected())
	}
	if !strings.Contains(out.String(), "connections") {
		t.Errorf("stats output:\n%s", out.String())
	}
	if got := egress.connected(); len(got) == 0 || got[len(got)-1] != nodeIP+":10250" {
		t.Errorf("egress targets = %v, want the kubelet of node-1", got)
	}
	select {
	case s := <-seen:
		if s != "/portForward/managed/emqx-0 port 18083" {
			t.Errorf("the kubelet was asked for %q, want the API port of emqx-0", s)
		}
	default:
		t.Error("no stream reached the kubelet")
	}
}
