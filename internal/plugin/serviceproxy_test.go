package plugin_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/brokertest/live"
	"github.com/mqttoperator/mqtt-operator/internal/broker/drivers"
)

// TestServiceProxyDropsBrokerCredentials records why the plugin reaches a
// managed broker by port-forward and not through the API server's service
// proxy: with a broker driver whose transport and base path go through
// /api/v1/namespaces/NS/services/NAME:PORT/proxy/, the request arrives at
// the broker's pod with its path intact but without the Authorization
// header, which the API server deletes once it has authenticated the
// caller. The broker answers 401.
//
// The API server only proxies to a Service's endpoints that are pod IPs
// of existing pods, never to loopback, so the pod here has a documentation
// address that the test's egress proxy maps to the test broker.
func TestServiceProxyDropsBrokerCredentials(t *testing.T) {
	cfg, k8s, egress := controlPlane(t)
	ctx := context.Background()

	// The broker, behind a recorder of what reaches it.
	tb := live.Start(t, "")
	target, err := url.Parse(tb.APIURL())
	if err != nil {
		t.Fatal(err)
	}
	type seen struct{ path, auth string }
	var (
		mu  sync.Mutex
		got []seen
	)
	rp := httputil.NewSingleHostReverseProxy(target)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, seen{r.URL.Path, r.Header.Get("Authorization")})
		mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	defer backend.Close()
	const podIP = "192.0.2.10"
	egress.route(podIP+":18083", backend.Listener.Addr().String())

	ns := "service-proxy"
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "emqx-0"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "emqx", Image: "emqx"}}}}
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		pod,
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "emqx-api"},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "dashboard", Port: 18083, TargetPort: intstr.FromInt32(18083)}}}},
		&discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: "emqx-api-1", Labels: map[string]string{discoveryv1.LabelServiceName: "emqx-api"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{podIP}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "emqx-0"}}},
			Ports: []discoveryv1.EndpointPort{{Name: ptr.To("dashboard"), Port: ptr.To[int32](18083), Protocol: ptr.To(corev1.ProtocolTCP)}},
		},
	} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: podIP, PodIPs: []corev1.PodIP{{IP: podIP}}}
	if err := k8s.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}

	rt, err := rest.TransportFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	proxyURL := strings.TrimSuffix(cfg.Host, "/") + "/api/v1/namespaces/" + ns + "/services/http:emqx-api:18083/proxy/"
	cl, err := drivers.New(broker.Config{URL: proxyURL, APIVersion: broker.APIv5, Username: "admin", Password: "public",
		Transport: rt, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// The API server learns about the endpoints from its informers.
	var herr error
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, herr = cl.Health(ctx)
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) == 0 {
		t.Fatalf("no request reached the broker through the service proxy (egress targets %v): %v", egress.connected(), herr)
	}
	if !strings.HasPrefix(got[0].path, "/api/v5/") {
		t.Errorf("the broker saw path %q, want the driver's /api/v5/... path", got[0].path)
	}
	if got[0].auth != "" {
		t.Errorf("the broker saw Authorization %q; the API server is expected to remove it", got[0].auth)
	}
	if broker.ClassOf(herr) != broker.ClassUnauthorized {
		t.Errorf("Health through the service proxy = %v, want the broker's 401 (ClassUnauthorized)", herr)
	}
	t.Logf("through the service proxy the broker saw %s with Authorization %q and answered: %v", got[0].path, got[0].auth, herr)
}
