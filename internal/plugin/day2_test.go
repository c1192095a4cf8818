package plugin

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

func TestPickPod(t *testing.T) {
	pod := func(name string, phase corev1.PodPhase, ready corev1.ConditionStatus, deleting bool) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
			Status: corev1.PodStatus{Phase: phase, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}}}
		if deleting {
			p.DeletionTimestamp = &metav1.Time{Time: now}
		}
		return p
	}
	tests := []struct {
		name string
		pods []corev1.Pod
		want string
	}{
		{"none", nil, ""},
		{"lowest ready name", []corev1.Pod{pod("b-2", corev1.PodRunning, corev1.ConditionTrue, false), pod("b-1", corev1.PodRunning, corev1.ConditionTrue, false)}, "b-1"},
		{"not ready, pending, deleting are skipped", []corev1.Pod{
			pod("b-0", corev1.PodRunning, corev1.ConditionFalse, false),
			pod("b-1", corev1.PodPending, corev1.ConditionTrue, false),
			pod("b-2", corev1.PodRunning, corev1.ConditionTrue, true),
			pod("b-3", corev1.PodRunning, corev1.ConditionTrue, false),
		}, "b-3"},
		{"nothing ready", []corev1.Pod{pod("b-0", corev1.PodRunning, corev1.ConditionFalse, false)}, ""},
	}
	for _, tt := range tests {
		got, ok := PickPod(tt.pods)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("%s: PickPod = %q, %v; want %q", tt.name, got, ok, tt.want)
		}
	}
}

func TestConnectBrokerErrors(t *testing.T) {
	managed := &mqttv1.MQTTBroker{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "m"},
		Spec: mqttv1.MQTTBrokerSpec{Managed: &mqttv1.ManagedBroker{Version: "5.8.9"}}}
	creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "m-api-credentials"},
		Data: map[string][]byte{"username": []byte("k"), "password": []byte("s")}}
	tests := []struct {
		name   string
		objs   []client.Object
		broker string
		tunnel Tunnel
		want   string
	}{
		{"missing broker", nil, "m", nil, `mqttbroker "m" not found in namespace "a"`},
		{"missing credentials", []client.Object{managed}, "m", nil, "mqttbroker a/m: Secret a/m-api-credentials not found"},
		{"managed without a tunnel", []client.Object{managed, creds}, "m", nil, "a managed broker is reached through the Kubernetes API server, but no connection to it was configured"},
		{"managed without a ready pod", []client.Object{managed, creds}, "m", noTunnel{}, "mqttbroker a/m has no ready pod to reach its API through"},
		{"external with an empty secret", []client.Object{
			&mqttv1.MQTTBroker{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "e"}, Spec: mqttv1.MQTTBrokerSpec{External: &mqttv1.ExternalBroker{
				URL: "http://x", APIVersion: "v5", CredentialsSecretRef: mqttv1.LocalObjectReference{Name: "e"}}}},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "e"}},
		}, "e", nil, `mqttbroker a/e: credentials Secret a/e must have non-empty "username" and "password" keys`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ConnectBroker(context.Background(), newFakeClient(t, tt.objs...), tt.tunnel, "a", tt.broker, 0)
			if err == nil || err.Error() != tt.want {
				t.Errorf("ConnectBroker error = %v, want %q", err, tt.want)
			}
		})
	}
}

// noTunnel is a Tunnel the test never expects to be used.
type noTunnel struct{}

func (noTunnel) Forward(context.Context, string, string, int) (string, func(), error) {
	panic("unexpected tunnel")
}

func TestParseBatchFiles(t *testing.T) {
	subs, err := ParseSubscribeFile([]byte(`[{"clientid":"a","topic":"t/#","qos":2},{"clientid":"b","topic":"u"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]broker.SubscribeRequest{{ClientID: "a", Topic: "t/#", QoS: 2}, {ClientID: "b", Topic: "u"}}, subs); diff != "" {
		t.Errorf("ParseSubscribeFile (-want +got):\n%s", diff)
	}
	msgs, err := ParsePublishFile([]byte("- topic: a\n  payload: hi\n  retain: true\n- topic: b\n  payload: AAE=\n  encoding: base64\n  qos: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]broker.Message{{Topic: "a", Payload: []byte("hi"), Retain: true}, {Topic: "b", Payload: []byte{0, 1}, QoS: 1}}, msgs); diff != "" {
		t.Errorf("ParsePublishFile (-want +got):\n%s", diff)
	}
	bad := []struct {
		name, data, want string
		publish          bool
	}{
		{"empty", "[]", "the batch file lists no subscriptions", false},
		{"unknown field", "- clientid: a\n  topic: t\n  qos: 1\n  retained: true\n", `unknown field "retained"`, false},
		{"no client", "- topic: t\n", "entry 1: clientid must not be empty", false},
		{"bad qos", "- clientid: a\n  topic: t\n- clientid: a\n  topic: t\n  qos: 3\n", "entry 2: qos 3: want 0, 1 or 2", false},
		{"not a list", "topic: t\n", "read the batch file", true},
		{"no topic", "- payload: x\n", "entry 1: topic must not be empty", true},
		{"bad base64", "- topic: t\n  payload: '%%'\n  encoding: base64\n", "entry 1: payload is not valid base64", true},
		{"unknown encoding", "- topic: t\n  payload: x\n  encoding: hex\n", `entry 1: unknown encoding "hex"`, true},
	}
	for _, b := range bad {
		var err error
		if b.publish {
			_, err = ParsePublishFile([]byte(b.data))
		} else {
			_, err = ParseSubscribeFile([]byte(b.data))
		}
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s: error = %v, want it to contain %q", b.name, err, b.want)
		}
	}
}
