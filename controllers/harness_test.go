package controllers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/drivers"
	"github.com/mqttoperator/mqtt-operator/internal/testbroker"
)

// Short intervals so drift repair and retries are observable in tests.
const (
	testResync  = 3 * time.Second
	testTimeout = 2 * time.Second
	waitFor     = 30 * time.Second
)

// urlRewrites maps in-cluster API addresses of managed brokers, which do
// not resolve here, to running test brokers.
var urlRewrites sync.Map

func testFactory() broker.Factory {
	real := drivers.NewFactory()
	return broker.FactoryFunc(func(cfg broker.Config) (broker.Client, error) {
		if _, ok := urlRewrites.Load(cfg.URL); ok {
			// Looked up on every request, as a Service name is resolved on
			// every dial: a stand-in that replaces a broker is reached by
			// clients built before it started.
			cfg.Transport = rewritingTransport{from: cfg.URL}
		}
		return real.New(cfg)
	})
}

// rewritingTransport sends requests for the address from to wherever
// urlRewrites maps it at the time of the request.
type rewritingTransport struct{ from string }

func (t rewritingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if to, ok := urlRewrites.Load(t.from); ok {
		target, err := url.Parse(to.(string))
		if err != nil {
			return nil, err
		}
		req = req.Clone(req.Context())
		req.URL.Scheme, req.URL.Host = target.Scheme, target.Host
		req.Host = target.Host
	}
	return http.DefaultTransport.RoundTrip(req)
}

func startManager(ctx context.Context, cfg *rest.Config) (func(time.Duration), error) {
	cacheOpts := CacheOptions(nil)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 testScheme,
		Cache:                  cacheOpts,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, err
	}
	if err := SetupAll(mgr, Options{Factory: testFactory(), ResyncInterval: testResync, BrokerTimeout: testTimeout, WaitInterval: time.Second, MaxRetryDelay: 2 * time.Second,
		BrokerMetricsInterval: time.Second}); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	mctx, cancel := context.WithCancel(ctx)
	go func() {
		defer close(done)
		if err := mgr.Start(mctx); err != nil {
			panic(err)
		}
	}()
	return func(d time.Duration) {
		cancel()
		select {
		case <-done:
		case <-time.After(d):
		}
	}, nil
}

// env is one test's world: a namespace, a running test broker and an
// MQTTBroker pointing at it.
type env struct {
	t      *testing.T
	g      gomega.Gomega
	ctx    context.Context
	ns     string
	tb     *testbroker.Broker
	broker string
	api    broker.APIVersion
}

// newEnv starts a test broker and an external MQTTBroker for it, and waits
// until the MQTTBroker is Ready.
func newEnv(t *testing.T, api broker.APIVersion) *env {
	t.Helper()
	tb, err := testbroker.New(testbroker.Options{AuthzCacheTTL: time.Hour})
	if err != nil {
		t.Fatalf("test broker: %v", err)
	}
	if err := tb.Start(); err != nil {
		t.Fatalf("start test broker: %v", err)
	}
	t.Cleanup(func() { _ = tb.Close() })
	e := &env{t: t, g: gomega.NewWithT(t), ctx: context.Background(), ns: newNamespace(t), tb: tb, broker: "emqx", api: api}
	e.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "emqx-api", Namespace: e.ns}, Type: corev1.SecretTypeBasicAuth,
		StringData: map[string]string{"username": "admin", "password": "public"}})
	host, port := splitHostPort(t, tb.MQTTAddr())
	e.create(&mqttv1.MQTTBroker{ObjectMeta: metav1.ObjectMeta{Name: e.broker, Namespace: e.ns}, Spec: mqttv1.MQTTBrokerSpec{
		External: &mqttv1.ExternalBroker{URL: tb.APIURL(), APIVersion: mqttv1.BrokerAPIVersion(api),
			CredentialsSecretRef: mqttv1.LocalObjectReference{Name: "emqx-api"}, MQTTHost: host, MQTTPort: port},
	}})
	e.waitReady(&mqttv1.MQTTBroker{}, e.broker)
	return e
}

func (e *env) ref() mqttv1.BrokerReference { return mqttv1.BrokerReference{Name: e.broker} }

func (e *env) create(obj client.Object) {
	e.t.Helper()
	if obj.GetNamespace() == "" {
		obj.SetNamespace(e.ns)
	}
	if err := k8sClient.Create(e.ctx, obj); err != nil {
		e.t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

func (e *env) get(obj client.Object, name string) error {
	return k8sClient.Get(e.ctx, types.NamespacedName{Namespace: e.ns, Name: name}, obj)
}

// update re-reads obj and applies mutate until the write does not conflict.
func (e *env) update(obj client.Object, name string, mutate func()) {
	e.t.Helper()
	e.g.Eventually(func() error {
		if err := e.get(obj, name); err != nil {
			return err
		}
		mutate()
		return k8sClient.Update(e.ctx, obj)
	}, waitFor, 100*time.Millisecond).Should(gomega.Succeed())
}

// condition waits until the object's condition has the status (and reason,
// when given) for the current generation, and returns it.
func (e *env) condition(obj statusObject, name, condType string, status metav1.ConditionStatus, reason string) metav1.Condition {
	e.t.Helper()
	var got metav1.Condition
	e.g.Eventually(func(g gomega.Gomega) {
		g.Expect(e.get(obj, name)).To(gomega.Succeed())
		st := obj.GetCommonStatus()
		g.Expect(st.ObservedGeneration).To(gomega.Equal(obj.GetGeneration()), "observedGeneration")
		c := apimeta.FindStatusCondition(st.Conditions, condType)
		g.Expect(c).NotTo(gomega.BeNil(), "condition %s missing; conditions: %+v", condType, st.Conditions)
		g.Expect(c.ObservedGeneration).To(gomega.Equal(obj.GetGeneration()), "condition %s is from an older generation", condType)
		g.Expect(c.Status).To(gomega.Equal(status), "condition %s: %s", condType, c.Message)
		if reason != "" {
			g.Expect(c.Reason).To(gomega.Equal(reason), "condition %s: %s", condType, c.Message)
		}
		got = *c
	}, waitFor, 100*time.Millisecond).Should(gomega.Succeed())
	return got
}

func (e *env) waitReady(obj statusObject, name string) {
	e.t.Helper()
	e.condition(obj, name, mqttv1.ConditionReady, metav1.ConditionTrue, "")
}

// secretValue reads one key of a Secret, waiting for it to exist.
func (e *env) secretValue(name, key string) string {
	e.t.Helper()
	var v string
	e.g.Eventually(func() error {
		var s corev1.Secret
		if err := e.get(&s, name); err != nil {
			return err
		}
		v = string(s.Data[key])
		return nil
	}, waitFor, 100*time.Millisecond).Should(gomega.Succeed())
	return v
}

func splitHostPort(t *testing.T, addr string) (string, int32) {
	i := strings.LastIndex(addr, ":")
	var port int32
	for _, c := range addr[i+1:] {
		port = port*10 + (c - '0')
	}
	return addr[:i], port
}

// deleteAndWait deletes an object and waits until its finalizer has run.
func (e *env) deleteAndWait(obj client.Object, name string) {
	e.t.Helper()
	if err := e.get(obj, name); err != nil {
		e.t.Fatalf("get %s: %v", name, err)
	}
	if err := k8sClient.Delete(e.ctx, obj); err != nil {
		e.t.Fatalf("delete %s: %v", name, err)
	}
	e.g.Eventually(func() bool { return apierrors.IsNotFound(e.get(obj, name)) }, waitFor, 100*time.Millisecond).
		Should(gomega.BeTrue(), "%s was not deleted", name)
}

// brokerClient talks to the env's test broker directly, as someone
// changing the broker behind the operator's back would.
func (e *env) brokerClient() broker.Client {
	e.t.Helper()
	cl, err := drivers.NewFactory().New(broker.Config{URL: e.tb.APIURL(), APIVersion: e.api, Username: "admin", Password: "public", Timeout: 5 * time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	return cl
}

// expectEvent waits for an Event with the reason about the named object.
func (e *env) expectEvent(name, reason string) {
	e.t.Helper()
	e.g.Eventually(func() []string {
		var list eventsv1.EventList
		if err := k8sClient.List(e.ctx, &list, client.InNamespace(e.ns)); err != nil {
			return nil
		}
		var reasons []string
		for _, ev := range list.Items {
			if ev.Regarding.Name == name {
				reasons = append(reasons, ev.Reason)
			}
		}
		return reasons
	}, waitFor, 200*time.Millisecond).Should(gomega.ContainElement(reason))
}
