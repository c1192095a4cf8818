package plugin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/controllers"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/brokertest/live"
	"github.com/mqttoperator/mqtt-operator/internal/broker/drivers"
	"github.com/mqttoperator/mqtt-operator/internal/mqtttest"
	"github.com/mqttoperator/mqtt-operator/internal/plugin"
)

// writeCounter is a reverse proxy in front of a broker's API that counts
// the requests that can change something (every method but GET and HEAD).
type writeCounter struct {
	mu     sync.Mutex
	writes []string
}

func (w *writeCounter) proxy(t *testing.T, target string) string {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.mu.Lock()
			w.writes = append(w.writes, r.Method+" "+r.URL.Path)
			w.mu.Unlock()
		}
		rp.ServeHTTP(rw, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func (w *writeCounter) reset() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.writes
	w.writes = nil
	return out
}

// populate fills a broker the way a team that ran it by hand might have.
func populate(t *testing.T, api broker.Client, v broker.APIVersion) {
	t.Helper()
	ctx := context.Background()
	users := []broker.UserSpec{{Kind: broker.ByUsername, ID: "sensor-1", Password: "s1"}, {Kind: broker.ByUsername, ID: "Ops_Team", Password: "ops"}}
	if v == broker.APIv5 {
		users = append(users, broker.UserSpec{Kind: broker.ByUsername, ID: "admin", Password: "adm", Superuser: true})
	} else {
		users = append(users, broker.UserSpec{Kind: broker.ByClientID, ID: "dev/1", Password: "d1"})
	}
	for _, u := range users {
		if err := api.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	rules := map[broker.Subject][]broker.Rule{
		{Kind: broker.ByUsername, Name: "sensor-1"}: {
			{Topic: "sensors/sensor-1/secret", Action: broker.ActionPublish, Permission: broker.Deny},
			{Topic: "sensors/sensor-1/#", Action: broker.ActionAll, Permission: broker.Allow},
		},
		{Kind: broker.ByClientID, Name: "dev/1"}: {{Topic: "commands/dev/1", Action: broker.ActionSubscribe, Permission: broker.Allow}},
		{Kind: broker.ByAll}:                     {{Topic: "#", Action: broker.ActionSubscribe, Permission: broker.Deny}},
	}
	for s, rs := range rules {
		if err := api.ReplaceRules(ctx, s, rs); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range []broker.Ban{
		{As: broker.BanClientID, Who: "flooder", Reason: "flood", Until: time.Now().Add(2 * time.Hour).Truncate(time.Second)},
		{As: broker.BanPeerHost, Who: "10.0.0.9", Reason: "scanner"},
	} {
		if err := api.CreateBan(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
}

// TestImportApplyChangesNothing imports a populated broker, applies the
// manifests with the operator running, and checks that every object
// becomes Ready without a single write to the broker.
func TestImportApplyChangesNothing(t *testing.T) {
	cfg, k8s, _ := controlPlane(t)
	scheme := k8s.Scheme()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0", Controller: config.Controller{SkipNameValidation: ptr.To(true)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := controllers.SetupAll(mgr, controllers.Options{Factory: drivers.NewFactory(), BrokerTimeout: 10 * time.Second,
		WaitInterval: time.Second, MaxRetryDelay: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("manager: %v", err)
			}
		case <-time.After(30 * time.Second):
		}
	})

	for _, v := range []broker.APIVersion{broker.APIv4, broker.APIv5} {
		t.Run(string(v), func(t *testing.T) { testImportApply(t, k8s, v) })
	}
}

func testImportApply(t *testing.T, k8s client.Client, v broker.APIVersion) {
	ctx := context.Background()
	tb := live.Start(t, "")
	api, err := drivers.New(broker.Config{URL: tb.APIURL(), APIVersion: v, Username: "admin", Password: "public"})
	if err != nil {
		t.Fatal(err)
	}
	populate(t, api, v)
	var counter writeCounter
	proxyURL := counter.proxy(t, tb.APIURL())

	ns := "import-" + string(v)
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cloud-api"},
			StringData: map[string]string{"username": "admin", "password": "public"}},
		&mqttv1.MQTTBroker{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cloud"},
			Spec: mqttv1.MQTTBrokerSpec{External: &mqttv1.ExternalBroker{URL: proxyURL, APIVersion: mqttv1.BrokerAPIVersion(v),
				CredentialsSecretRef: mqttv1.LocalObjectReference{Name: "cloud-api"}}}},
	}
	for _, o := range objs {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	waitReady(t, k8s, &mqttv1.MQTTBroker{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cloud"}})

	// kubectl mqtt import --broker cloud -n <ns>
	conn, err := plugin.ConnectBroker(ctx, k8s, nil, ns, "cloud", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var out, warn bytes.Buffer
	if err := plugin.Import(ctx, conn, &out, &warn, plugin.OutputTable, time.Now()); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if warn.Len() > 0 {
		t.Errorf("import warned:\n%s", warn.String())
	}
	t.Logf("imported manifests:\n%s", out.String())
	if w := counter.reset(); len(w) > 0 {
		t.Fatalf("import wrote to the broker: %v", w)
	}

	// kubectl apply -f -
	var applied []client.Object
	for _, doc := range strings.Split(out.String(), "\n---\n") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("manifest does not parse: %v\n%s", err, doc)
		}
		if err := k8s.Create(ctx, u); err != nil {
			t.Fatalf("apply %s %s: %v", u.GetKind(), u.GetName(), err)
		}
		applied = append(applied, u)
	}
	wantObjects := map[broker.APIVersion]int{broker.APIv4: 3 + 3 + 2, broker.APIv5: 3 + 3 + 2}[v]
	if len(applied) != wantObjects {
		t.Errorf("imported %d objects, want %d", len(applied), wantObjects)
	}
	for _, o := range applied {
		obj, err := k8s.Scheme().New(o.GetObjectKind().GroupVersionKind())
		if err != nil {
			t.Fatal(err)
		}
		typed := obj.(client.Object)
		typed.SetNamespace(o.GetNamespace())
		typed.SetName(o.GetName())
		waitReady(t, k8s, typed)
		if u, ok := typed.(*mqttv1.MQTTUser); ok && u.Status.PasswordSource != "Broker" {
			t.Errorf("mqttuser %s: status.passwordSource = %q, want Broker", u.Name, u.Status.PasswordSource)
		}
	}
	if w := counter.reset(); len(w) > 0 {
		t.Errorf("applying the imported objects wrote to the broker: %v", w)
	}
	// The users still log in with the passwords nobody told the operator.
	mqtttest.MustConnect(t, tb.MQTTAddr(), "c1", "sensor-1", "s1")
}

// waitReady polls obj until its Ready condition is True for its generation.
func waitReady(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
		if err == nil {
			st := obj.(mqttv1.StatusAccess).GetCommonStatus()
			if r := apimeta.FindStatusCondition(st.Conditions, mqttv1.ConditionReady); r != nil && r.Status == metav1.ConditionTrue && st.ObservedGeneration == obj.GetGeneration() {
				return
			}
		}
		if time.Now().After(deadline) {
			st := ""
			if err == nil {
				st = fmt.Sprintf("%+v", obj.(mqttv1.StatusAccess).GetCommonStatus().Conditions)
			}
			t.Fatalf("%T %s not Ready within 60s: %v %s", obj, obj.GetName(), errors.Join(err), st)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
