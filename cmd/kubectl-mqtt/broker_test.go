package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/brokertest/live"
	"github.com/mqttoperator/mqtt-operator/internal/broker/drivers"
	"github.com/mqttoperator/mqtt-operator/internal/mqtttest"
	"github.com/mqttoperator/mqtt-operator/internal/plugin"
	"github.com/mqttoperator/mqtt-operator/internal/resources"
)

// wait bounds every wait for an MQTT message or disconnect.
const wait = 10 * time.Second

// fakeTunnel stands in for the port-forward: it records where the plugin
// asked to go and leads to the test broker's API.
type fakeTunnel struct {
	addr  string
	calls []string
}

func (f *fakeTunnel) Forward(_ context.Context, ns, pod string, port int) (string, func(), error) {
	f.calls = append(f.calls, ns+"/"+pod+":"+strconv.Itoa(port))
	return f.addr, func() {}, nil
}

// brokerEnv is a test broker, a cluster that describes it twice (as the
// external MQTTBroker "ext" and the managed MQTTBroker "managed") and the
// command line.
type brokerEnv struct {
	t      *testing.T
	v      broker.APIVersion
	mqtt   string
	api    broker.Client
	tunnel *fakeTunnel
	cli    cli
	stdin  string
}

func newBrokerEnv(t *testing.T, v broker.APIVersion, extra ...client.Object) *brokerEnv {
	t.Helper()
	b := live.Start(t, "")
	u, err := url.Parse(b.APIURL())
	if err != nil {
		t.Fatal(err)
	}
	api, err := drivers.New(broker.Config{URL: b.APIURL(), APIVersion: v, Username: "admin", Password: "public"})
	if err != nil {
		t.Fatal(err)
	}
	version := map[broker.APIVersion]string{broker.APIv4: "4.4.19", broker.APIv5: "5.8.9"}[v]
	managed := &mqttv1.MQTTBroker{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "managed"},
		Spec: mqttv1.MQTTBrokerSpec{Managed: &mqttv1.ManagedBroker{Version: version}}}
	pod := func(name string, ready corev1.ConditionStatus) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: name, Labels: resources.SelectorLabels(managed)},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}}}
	}
	objs := []client.Object{
		&mqttv1.MQTTBroker{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "ext"},
			Spec: mqttv1.MQTTBrokerSpec{External: &mqttv1.ExternalBroker{URL: b.APIURL(), APIVersion: mqttv1.BrokerAPIVersion(v),
				CredentialsSecretRef: mqttv1.LocalObjectReference{Name: "ext-api"}}}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "ext-api"},
			Data: map[string][]byte{"username": []byte("admin"), "password": []byte("public")}},
		managed,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: resources.CredentialsSecretName(managed)},
			Data: map[string][]byte{"username": []byte("admin"), "password": []byte("public")}},
		pod("managed-0", corev1.ConditionFalse),
		pod("managed-1", corev1.ConditionTrue),
		pod("managed-2", corev1.ConditionTrue),
	}
	objs = append(objs, extra...)
	s, err := plugin.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	kc := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()
	e := &brokerEnv{t: t, v: v, mqtt: b.MQTTAddr(), api: api, tunnel: &fakeTunnel{addr: u.Host}}
	e.cli = cli{ctx: context.Background(), clock: clocktesting.NewFakePassiveClock(time.Now()), version: "test",
		newClient: func(kubeFlags) (kubeConn, error) {
			return kubeConn{client: kc, namespace: "team-a", tunnel: e.tunnel}, nil
		}}
	ctx := context.Background()
	if err := api.CreateUser(ctx, broker.UserSpec{Kind: broker.ByUsername, ID: "sensor-1", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	if err := api.ReplaceRules(ctx, broker.Subject{Kind: broker.ByAll}, []broker.Rule{{Topic: "#", Action: broker.ActionAll, Permission: broker.Allow}}); err != nil {
		t.Fatal(err)
	}
	return e
}

// run runs the command line and returns the exit code, stdout and stderr.
func (e *brokerEnv) run(args ...string) (int, string, string) {
	e.t.Helper()
	var stdout, stderr bytes.Buffer
	c := e.cli
	c.stdin = strings.NewReader(e.stdin)
	code := c.run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// ok runs a command that must succeed and returns its stdout.
func (e *brokerEnv) ok(args ...string) string {
	e.t.Helper()
	code, out, errOut := e.run(args...)
	if code != 0 {
		e.t.Fatalf("kubectl mqtt %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func (e *brokerEnv) connect(clientID string) *mqtttest.Conn {
	e.t.Helper()
	return mqtttest.MustConnect(e.t, e.mqtt, clientID, "sensor-1", "pw")
}

func receive(t *testing.T, c *mqtttest.Conn, topic string, payload []byte) {
	t.Helper()
	for {
		m, ok := c.Receive(wait)
		if !ok {
			t.Fatalf("no message on %s within %s", topic, wait)
		}
		if m.Topic == topic {
			if !bytes.Equal(m.Payload, payload) {
				t.Fatalf("message on %s = %q, want %q", topic, m.Payload, payload)
			}
			return
		}
	}
}

func contains(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

func TestBrokerCommands(t *testing.T) {
	for _, v := range []broker.APIVersion{broker.APIv4, broker.APIv5} {
		t.Run(string(v), func(t *testing.T) { testBrokerCommands(t, v) })
	}
}

func testBrokerCommands(t *testing.T, v broker.APIVersion) {
	e := newBrokerEnv(t, v)
	dev := e.connect("dev-1")
	ext := []string{"--broker", "ext"}

	// clients: list, filters, get.
	out := e.ok(append([]string{"clients"}, ext...)...)
	contains(t, "clients", out, "CLIENTID", "dev-1", "sensor-1", "127.0.0.1", "true")
	var list plugin.ClientList
	if err := json.Unmarshal([]byte(e.ok("clients", "--broker=ext", "--username", "sensor-1", "--state", "connected", "--ip", "127.0.0.1", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].ClientID != "dev-1" || !list.Items[0].Connected || list.Items[0].ConnectedAt == nil {
		t.Errorf("clients -o json = %+v, want dev-1 connected", list.Items)
	}
	if out := e.ok("clients", "--broker", "ext", "--ip", "10.9.9.9"); out != "No clients found.\n" {
		t.Errorf("clients --ip 10.9.9.9 = %q", out)
	}
	if out := e.ok("clients", "--broker", "ext", "--state", "disconnected"); out != "No clients found.\n" {
		t.Errorf("clients --state disconnected = %q", out)
	}
	contains(t, "clients get -o yaml", e.ok("clients", "get", "dev-1", "--broker", "ext", "-o", "yaml"), "clientid: dev-1\n", "username: sensor-1\n", "connected: true\n")
	code, _, errOut := e.run("clients", "get", "ghost", "--broker", "ext")
	if code != 1 || !strings.Contains(errOut, `error: client "ghost" is not known to the broker`) {
		t.Errorf("clients get ghost: exit %d, stderr %q", code, errOut)
	}

	// subscribe on the client's behalf; the client gets what is published there.
	contains(t, "subscribe", e.ok("subscribe", "--client", "dev-1", "cmd/dev-1", "--qos", "1", "--broker", "ext"), "client dev-1 subscribed to cmd/dev-1")
	contains(t, "subscriptions", e.ok("subscriptions", "--client", "dev-1", "--broker", "ext"), "dev-1", "cmd/dev-1", "1")
	contains(t, "publish", e.ok("publish", "cmd/dev-1", "reboot", "--qos", "1", "--broker", "ext"), "cmd/dev-1", "published")
	receive(t, dev, "cmd/dev-1", []byte("reboot"))

	// payload from standard input, base64.
	e.stdin = "AAEC/w=="
	e.ok("publish", "cmd/dev-1", "--file", "-", "--encoding", "base64", "--broker", "ext")
	receive(t, dev, "cmd/dev-1", []byte{0, 1, 2, 255})
	e.stdin = ""

	// payload from a file.
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	e.ok("publish", "cmd/dev-1", "--file", write("payload.bin", "from a file"), "--broker", "ext")
	receive(t, dev, "cmd/dev-1", []byte("from a file"))

	// retained: a later subscriber gets it.
	out = e.ok("publish", "state/dev-1", "on", "--retain", "--broker", "ext")
	if v == broker.APIv5 { // v4 does not tell
		contains(t, "publish --retain", out, "published, no subscribers")
	}
	late := e.connect("late")
	if rc, err := late.Subscribe(context.Background(), "state/#"); err != nil || rc > 2 {
		t.Fatalf("subscribe state/#: %d %v", rc, err)
	}
	receive(t, late, "state/dev-1", []byte("on"))

	// batches from files.
	subs := write("subs.yaml", "- clientid: dev-1\n  topic: batch/a\n- clientid: dev-1\n  topic: batch/b\n  qos: 2\n")
	contains(t, "subscribe --file", e.ok("subscribe", "--file", subs, "--broker", "ext"), "client dev-1 subscribed to batch/a", "client dev-1 subscribed to batch/b")
	var sl plugin.SubscriptionList
	if err := json.Unmarshal([]byte(e.ok("subscriptions", "--broker", "ext", "-o", "json")), &sl); err != nil {
		t.Fatal(err)
	}
	topics := map[string]int{}
	for _, s := range sl.Items {
		if s.ClientID == "dev-1" {
			topics[s.Topic] = s.QoS
		}
	}
	if diff := cmp.Diff(map[string]int{"cmd/dev-1": 1, "batch/a": 0, "batch/b": 2}, topics); diff != "" {
		t.Errorf("subscriptions of dev-1 (-want +got):\n%s", diff)
	}
	msgs := write("msgs.json", `[{"topic":"batch/a","payload":"one"},{"topic":"batch/b","payload":"dHdv","encoding":"base64","qos":1}]`)
	e.ok("publish", "--batch", msgs, "--broker", "ext")
	receive(t, dev, "batch/a", []byte("one"))
	receive(t, dev, "batch/b", []byte("two"))
	contains(t, "unsubscribe --file", e.ok("unsubscribe", "--file", subs, "--broker", "ext"), "client dev-1 unsubscribed from batch/a", "client dev-1 unsubscribed from batch/b")
	e.ok("unsubscribe", "--client", "dev-1", "cmd/dev-1", "--broker", "ext")
	if out := e.ok("subscriptions", "--client", "dev-1", "--broker", "ext"); out != "No subscriptions found.\n" {
		t.Errorf("subscriptions after unsubscribe = %q", out)
	}

	// metrics and stats: the gauges now (dev-1 and late connected, late
	// subscribed to state/#, one retained message), and the counters
	// since the broker started (one refused login, one retained publish).
	if rc := mqtttest.Refusal(t, e.mqtt, "intruder", "sensor-1", "wrong"); rc == 0 {
		t.Fatal("a wrong password was accepted")
	}
	var stats map[string]int64
	if err := json.Unmarshal([]byte(e.ok("stats", "--broker", "ext", "-o", "json")), &stats); err != nil {
		t.Fatal(err)
	}
	wantStats := map[string]int64{"connections": 2, "liveConnections": 2, "sessions": 2, "subscriptions": 1, "topics": 1, "retainedMessages": 1}
	if diff := cmp.Diff(wantStats, stats); diff != "" {
		t.Errorf("stats -o json (-want +got):\n%s", diff)
	}
	contains(t, "stats", e.ok("stats", "--broker", "ext"), "connections ", "live_connections ", "sessions ", "subscriptions ", "topics ", "retained ")
	var counters map[string]int64
	if err := json.Unmarshal([]byte(e.ok("metrics", "--broker", "ext", "-o", "json")), &counters); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"messagesReceived", "messagesSent", "messagesDropped", "messagesRetained", "authenticationFailures", "authorizationDenials"} {
		if _, ok := counters[k]; !ok {
			t.Errorf("metrics -o json lacks %s: %v", k, counters)
		}
	}
	if len(counters) != 6 || counters["authenticationFailures"] != 1 || counters["messagesRetained"] != 1 || counters["messagesSent"] == 0 {
		t.Errorf("metrics -o json = %v, want the six counters, one authentication failure, one retained message, messages sent", counters)
	}
	contains(t, "metrics", e.ok("metrics", "--broker", "ext"), "messages.received", "messages.sent", "messages.dropped",
		"messages.retained", "authentication.failures", "authorization.denials")

	// A broker error: exit 1 and the broker's code.
	code, _, errOut = e.run("subscribe", "--client", "ghost", "t", "--broker", "ext")
	wantCode := map[broker.APIVersion]string{broker.APIv4: "broker code 112 (client offline)", broker.APIv5: "broker code CLIENTID_NOT_FOUND (client id not found)"}[v]
	if code != 1 || !strings.Contains(errOut, wantCode) {
		t.Errorf("subscribe for an offline client: exit %d, stderr %q, want %q", code, errOut, wantCode)
	}
	// v4 refuses the one message, v5 the whole batch.
	code, out, errOut = e.run("publish", "--batch", write("bad.yaml", "- topic: ok\n  payload: x\n- topic: a/+/b\n  payload: y\n"), "--broker", "ext")
	wantErr := map[broker.APIVersion]string{broker.APIv4: "1 of 2 messages failed", broker.APIv5: "broker code reason_code:144 (topic name invalid)"}[v]
	if code != 1 || !strings.Contains(errOut, wantErr) || (v == broker.APIv4 && !strings.Contains(out, "failed: PublishBatch: broker code 115 (illegal topic)")) {
		t.Errorf("batch with a bad topic: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	// The managed broker is reached through the tunnel, at the first ready pod.
	contains(t, "clients of the managed broker", e.ok("clients", "--broker", "managed"), "dev-1")
	port := map[broker.APIVersion]string{broker.APIv4: "8081", broker.APIv5: "18083"}[v]
	if diff := cmp.Diff([]string{"team-a/managed-1:" + port}, e.tunnel.calls); diff != "" {
		t.Errorf("tunnel calls (-want +got):\n%s", diff)
	}

	// kick: the client's connection ends.
	contains(t, "kick", e.ok("kick", "dev-1", "--broker", "ext"), "client dev-1 kicked")
	select {
	case <-dev.Done():
	case <-time.After(wait):
		t.Fatal("the kicked client is still connected")
	}
	code, _, errOut = e.run("kick", "dev-1", "--broker", "ext")
	if code != 1 || !strings.Contains(errOut, `client "dev-1" is not known to the broker`) {
		t.Errorf("second kick: exit %d, stderr %q", code, errOut)
	}
}
