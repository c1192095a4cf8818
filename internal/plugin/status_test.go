package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

func TestStatusGolden(t *testing.T) {
	mustKind := func(s string) Kind {
		k, err := ParseKind(s)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	tests := []struct {
		golden string
		opts   StatusOptions
	}{
		{golden: "status_namespace", opts: StatusOptions{Namespace: "team-a"}},
		{golden: "status_all_namespaces", opts: StatusOptions{AllNamespaces: true}},
		{golden: "status_wide", opts: StatusOptions{Namespace: "team-a", Output: OutputWide}},
		{golden: "status_kinds", opts: StatusOptions{Namespace: "team-a", Kinds: []Kind{mustKind("mqban"), mustKind("MQTTUsers")}}},
		{golden: "status_json", opts: StatusOptions{AllNamespaces: true, Output: OutputJSON}},
		{golden: "status_empty", opts: StatusOptions{Namespace: "nobody"}},
		{golden: "status_empty_json", opts: StatusOptions{Namespace: "nobody", Output: OutputJSON}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			var out bytes.Buffer
			if err := Status(context.Background(), newFakeClient(t, fixture()...), &out, fakeClock(), tt.opts); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.golden, out.String())
		})
	}
}

// The table's order: namespace, then MQTTBroker, MQTTUser, MQTTACL, MQTTBan,
// then name; the golden files show it, this states it.
func TestStatusOrder(t *testing.T) {
	rows, err := CollectStatus(context.Background(), newFakeClient(t, fixture()...), StatusOptions{AllNamespaces: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, r.Namespace+" "+r.Kind+" "+r.Name)
	}
	want := []string{
		"infra MQTTBroker shared",
		"team-a MQTTBroker emqx",
		"team-a MQTTUser dashboard",
		"team-a MQTTUser new-user",
		"team-a MQTTUser sensor-1",
		"team-a MQTTACL bad-topic",
		"team-a MQTTACL sensor-1",
		"team-a MQTTBan old-ban",
		"team-a MQTTBan spammer",
		"team-b MQTTUser remote",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestReadyColumn(t *testing.T) {
	deleting := meta("ns", "x", time.Hour, 1)
	deleting.DeletionTimestamp = &metav1.Time{Time: now}
	tests := []struct {
		name       string
		obj        statusObject
		wantReady  string
		wantReason string
		wantMsg    string
	}{
		{
			name:      "ready",
			obj:       &mqttv1.MQTTUser{ObjectMeta: meta("ns", "x", time.Hour, 1), Status: mqttv1.MQTTUserStatus{CommonStatus: ready(1, "Succeeded", "ok")}},
			wantReady: "True", wantReason: "Succeeded", wantMsg: "ok",
		},
		{
			name:      "stalled",
			obj:       &mqttv1.MQTTACL{ObjectMeta: meta("ns", "x", time.Hour, 1), Status: mqttv1.MQTTACLStatus{CommonStatus: stalled(1, "IllegalTopic", "broker code 115")}},
			wantReady: "False (Stalled)", wantReason: "IllegalTopic", wantMsg: "broker code 115",
		},
		{
			name:      "reconciling",
			obj:       &mqttv1.MQTTBan{ObjectMeta: meta("ns", "x", time.Hour, 1), Status: mqttv1.MQTTBanStatus{CommonStatus: reconciling(1, "BrokerNotReady", "waiting")}},
			wantReady: "False (Reconciling)", wantReason: "BrokerNotReady", wantMsg: "waiting",
		},
		{
			name:      "no status",
			obj:       &mqttv1.MQTTBroker{ObjectMeta: meta("ns", "x", time.Hour, 1)},
			wantReady: "Unknown", wantMsg: noStatusMessage,
		},
		{
			name: "stalled without a Ready condition",
			obj: &mqttv1.MQTTUser{ObjectMeta: meta("ns", "x", time.Hour, 1), Status: mqttv1.MQTTUserStatus{CommonStatus: common(1,
				cond(mqttv1.ConditionStalled, metav1.ConditionTrue, "SecretNotFound", "no Secret", 1))}},
			wantReady: "Unknown (Stalled)", wantReason: "SecretNotFound", wantMsg: "no Secret",
		},
		{
			name: "reconciling without a Ready condition",
			obj: &mqttv1.MQTTUser{ObjectMeta: meta("ns", "x", time.Hour, 1), Status: mqttv1.MQTTUserStatus{CommonStatus: common(1,
				cond(mqttv1.ConditionReconciling, metav1.ConditionTrue, "Progressing", "first reconcile", 1))}},
			wantReady: "Unknown (Reconciling)", wantReason: "Progressing", wantMsg: "first reconcile",
		},
		{
			name: "stalled condition present but False",
			obj: &mqttv1.MQTTUser{ObjectMeta: meta("ns", "x", time.Hour, 1), Status: mqttv1.MQTTUserStatus{CommonStatus: common(1,
				cond(mqttv1.ConditionReady, metav1.ConditionTrue, "Succeeded", "ok", 1),
				cond(mqttv1.ConditionStalled, metav1.ConditionFalse, "Succeeded", "", 1))}},
			wantReady: "True", wantReason: "Succeeded", wantMsg: "ok",
		},
		{
			name:      "status of an older generation",
			obj:       &mqttv1.MQTTACL{ObjectMeta: meta("ns", "x", time.Hour, 4), Status: mqttv1.MQTTACLStatus{CommonStatus: ready(3, "Succeeded", "ok")}},
			wantReady: "True (Stale)", wantReason: "Succeeded", wantMsg: "ok",
		},
		{
			name:      "being deleted while stalled",
			obj:       &mqttv1.MQTTUser{ObjectMeta: deleting, Status: mqttv1.MQTTUserStatus{CommonStatus: stalled(1, "BrokerNotFound", "gone")}},
			wantReady: "False (Deleting, Stalled)", wantReason: "BrokerNotFound", wantMsg: "gone",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row := summarize(tt.obj, nil)
			if got := row.ReadyColumn(); got != tt.wantReady {
				t.Errorf("READY = %q, want %q", got, tt.wantReady)
			}
			if row.Reason != tt.wantReason || row.Message != tt.wantMsg {
				t.Errorf("reason, message = %q, %q, want %q, %q", row.Reason, row.Message, tt.wantReason, tt.wantMsg)
			}
		})
	}
}

func TestStatusJSONIsMachineReadable(t *testing.T) {
	var out bytes.Buffer
	if err := Status(context.Background(), newFakeClient(t, fixture()...), &out, fakeClock(),
		StatusOptions{Namespace: "team-a", Output: OutputJSON}); err != nil {
		t.Fatal(err)
	}
	var got StatusList
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if len(got.Items) != 8 {
		t.Fatalf("got %d items, want 8", len(got.Items))
	}
	dash := got.Items[1]
	if dash.APIVersion != "mqtt.mqttoperator.io/v1alpha1" || dash.Kind != "MQTTUser" || dash.Name != "dashboard" || dash.Ready != "False" || !dash.Stalled || dash.Reconciling ||
		dash.Reason != mqttv1.ReasonSecretNotFound || !strings.Contains(dash.Message, "operator retries on its own") {
		t.Errorf("dashboard row = %+v", dash)
	}
}

func TestStatusErrors(t *testing.T) {
	noMatch := func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
		if _, ok := list.(*mqttv1.MQTTACLList); ok {
			return &apimeta.NoKindMatchError{GroupKind: schema.GroupKind{Group: mqttv1.GroupVersion.Group, Kind: "MQTTACL"}}
		}
		return c.List(ctx, list, opts...)
	}
	forbidden := func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
		return errors.New(`mqttbrokers.mqtt.mqttoperator.io is forbidden: User "bob" cannot list resource "mqttbrokers"`)
	}
	tests := []struct {
		name string
		list func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error
		opts StatusOptions
		want string
	}{
		{name: "CRD missing", list: noMatch, opts: StatusOptions{Namespace: "team-a"},
			want: "list MQTTACL: the kind is not known to the cluster (are the mqtt-operator CRDs installed?)"},
		{name: "forbidden", list: forbidden, opts: StatusOptions{Namespace: "team-a"},
			want: `list MQTTBroker: mqttbrokers.mqtt.mqttoperator.io is forbidden: User "bob" cannot list resource "mqttbrokers"`},
		{name: "bad output", opts: StatusOptions{Namespace: "team-a", Output: "yaml"},
			want: `unknown output format "yaml": want json or wide`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFakeClient(t, fixture()...)
			if tt.list != nil {
				c = interceptor.NewClient(c.(client.WithWatch), interceptor.Funcs{List: tt.list})
			}
			var out bytes.Buffer
			err := Status(context.Background(), c, &out, fakeClock(), tt.opts)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if out.Len() != 0 {
				t.Errorf("wrote output on error: %q", out.String())
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct{ in, want string }{
		{"short", "short"},
		{strings.Repeat("a", 10), strings.Repeat("a", 10)},
		{strings.Repeat("a", 11), "aaaaaaa..."},
		{"äöüäöüäöüäöü", "äöüäöüä..."},
	}
	for _, tt := range tests {
		if got := truncate(tt.in, 10); got != tt.want {
			t.Errorf("truncate(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := oneLine("a\n\tb  c\r\n"); got != "a b c" {
		t.Errorf("oneLine = %q", got)
	}
}
