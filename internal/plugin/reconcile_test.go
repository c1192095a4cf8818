package plugin

import (
	"bytes"
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

func TestReconcileSetsAnnotation(t *testing.T) {
	tests := []struct {
		ref  string
		obj  client.Object
		kind string
	}{
		{ref: "mqttuser/sensor-1", obj: &mqttv1.MQTTUser{}, kind: "mqttuser"},
		{ref: "mqu/sensor-1", obj: &mqttv1.MQTTUser{}, kind: "mqttuser"},
		{ref: "mqttusers/sensor-1", obj: &mqttv1.MQTTUser{}, kind: "mqttuser"},
		{ref: "MQTTUser.mqtt.mqttoperator.io/sensor-1", obj: &mqttv1.MQTTUser{}, kind: "mqttuser"},
		{ref: "mqttacl/sensor-1", obj: &mqttv1.MQTTACL{}, kind: "mqttacl"},
		{ref: "mqacl/sensor-1", obj: &mqttv1.MQTTACL{}, kind: "mqttacl"},
		{ref: "mqttban/sensor-1", obj: &mqttv1.MQTTBan{}, kind: "mqttban"},
		{ref: "mqban/sensor-1", obj: &mqttv1.MQTTBan{}, kind: "mqttban"},
		{ref: "mqttbroker/sensor-1", obj: &mqttv1.MQTTBroker{}, kind: "mqttbroker"},
		{ref: "mqb/sensor-1", obj: &mqttv1.MQTTBroker{}, kind: "mqttbroker"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			existing := []client.Object{
				&mqttv1.MQTTUser{ObjectMeta: meta("team-a", "sensor-1", time.Hour, 1), Spec: mqttv1.MQTTUserSpec{BrokerRef: ref("emqx")}},
				&mqttv1.MQTTACL{ObjectMeta: meta("team-a", "sensor-1", time.Hour, 1), Spec: mqttv1.MQTTACLSpec{BrokerRef: ref("emqx")}},
				&mqttv1.MQTTBan{ObjectMeta: meta("team-a", "sensor-1", time.Hour, 1), Spec: mqttv1.MQTTBanSpec{BrokerRef: ref("emqx")}},
				&mqttv1.MQTTBroker{ObjectMeta: meta("team-a", "sensor-1", time.Hour, 1)},
			}
			for _, o := range existing {
				o.SetAnnotations(map[string]string{"team": "a", ReconcileRequestedAtAnnotation: "2020-01-01T00:00:00Z"})
			}
			c := newFakeClient(t, existing...)
			var out bytes.Buffer
			if err := Reconcile(context.Background(), c, &out, fakeClock(), ReconcileOptions{Namespace: "team-a", Refs: []string{tt.ref}}); err != nil {
				t.Fatal(err)
			}
			if err := c.Get(context.Background(), client.ObjectKey{Namespace: "team-a", Name: "sensor-1"}, tt.obj); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"team": "a", ReconcileRequestedAtAnnotation: "2026-03-01T12:00:00Z"}
			if diff := cmp.Diff(want, tt.obj.GetAnnotations()); diff != "" {
				t.Errorf("annotations (-want +got):\n%s", diff)
			}
			if got, want := out.String(), tt.kind+"/sensor-1 reconcile requested at 2026-03-01T12:00:00Z\n"; got != want {
				t.Errorf("output = %q, want %q", got, want)
			}
			// Only the requested kind is touched.
			for _, o := range existing {
				fresh := o.DeepCopyObject().(client.Object)
				if err := c.Get(context.Background(), client.ObjectKeyFromObject(o), fresh); err != nil {
					t.Fatal(err)
				}
				if reflect.TypeOf(fresh) == reflect.TypeOf(tt.obj) {
					continue
				}
				if a := fresh.GetAnnotations()[ReconcileRequestedAtAnnotation]; a != "2020-01-01T00:00:00Z" {
					t.Errorf("%T was annotated too: %s", fresh, a)
				}
			}
		})
	}
}

func TestReconcileSeveralAndTimeFormat(t *testing.T) {
	c := newFakeClient(t,
		&mqttv1.MQTTUser{ObjectMeta: meta("team-a", "a", time.Hour, 1), Spec: mqttv1.MQTTUserSpec{BrokerRef: ref("emqx")}},
		&mqttv1.MQTTACL{ObjectMeta: meta("team-a", "b", time.Hour, 1), Spec: mqttv1.MQTTACLSpec{BrokerRef: ref("emqx")}})
	// The clock's zone and sub-second part do not reach the annotation.
	clk := fakeClock()
	clk.SetTime(time.Date(2026, 3, 1, 13, 4, 5, 999, time.FixedZone("CET", 3600)))
	var out bytes.Buffer
	if err := Reconcile(context.Background(), c, &out, clk, ReconcileOptions{Namespace: "team-a", Refs: []string{"mqu/a", "mqacl/b"}}); err != nil {
		t.Fatal(err)
	}
	want := "mqttuser/a reconcile requested at 2026-03-01T12:04:05Z\nmqttacl/b reconcile requested at 2026-03-01T12:04:05Z\n"
	if out.String() != want {
		t.Errorf("output = %q, want %q", out.String(), want)
	}
	var acl mqttv1.MQTTACL
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: "team-a", Name: "b"}, &acl); err != nil {
		t.Fatal(err)
	}
	if got := acl.Annotations[ReconcileRequestedAtAnnotation]; got != "2026-03-01T12:04:05Z" {
		t.Errorf("annotation = %q", got)
	}
}

func TestReconcileErrors(t *testing.T) {
	tests := []struct {
		name string
		refs []string
		want string
	}{
		{name: "unknown kind", refs: []string{"mqttuser/a", "pod/a"},
			want: `unknown kind "pod": want one of mqttbroker (mqb), mqttuser (mqu), mqttacl (mqacl), mqttban (mqban)`},
		{name: "no slash", refs: []string{"mqttuser"}, want: `invalid reference "mqttuser": want <kind>/<name>, e.g. mqttuser/sensor-1`},
		{name: "no name", refs: []string{"mqttuser/"}, want: `invalid reference "mqttuser/": want <kind>/<name>, e.g. mqttuser/sensor-1`},
		{name: "no kind", refs: []string{"/a"}, want: `invalid reference "/a": want <kind>/<name>, e.g. mqttuser/sensor-1`},
		{name: "two slashes", refs: []string{"mqttuser/a/b"}, want: `invalid reference "mqttuser/a/b": want <kind>/<name>, e.g. mqttuser/sensor-1`},
		{name: "bad name", refs: []string{"mqu/Bad_Name"},
			want: `invalid name "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		{name: "nothing", want: "no object given: want <kind>/<name>, e.g. mqttuser/sensor-1"},
		{name: "object missing", refs: []string{"mqttban/ghost"}, want: `mqttban "ghost" not found in namespace "team-a"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			patched := 0
			base := newFakeClient(t, &mqttv1.MQTTUser{ObjectMeta: meta("team-a", "a", time.Hour, 1), Spec: mqttv1.MQTTUserSpec{BrokerRef: ref("emqx")}})
			c := interceptor.NewClient(base.(client.WithWatch), interceptor.Funcs{
				Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
					patched++
					return c.Patch(ctx, obj, p, opts...)
				},
			})
			var out bytes.Buffer
			err := Reconcile(context.Background(), c, &out, fakeClock(), ReconcileOptions{Namespace: "team-a", Refs: tt.refs})
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if tt.name != "object missing" && patched != 0 {
				t.Errorf("patched %d objects before rejecting the command line", patched)
			}
			if out.Len() != 0 {
				t.Errorf("output on error: %q", out.String())
			}
		})
	}
}

func TestParseKind(t *testing.T) {
	want := map[string]string{
		"mqttbroker": "MQTTBroker", "mqttbrokers": "MQTTBroker", "mqb": "MQTTBroker",
		"mqttuser": "MQTTUser", "mqttusers": "MQTTUser", "mqu": "MQTTUser", "MQTTUser": "MQTTUser",
		"mqttacl": "MQTTACL", "mqttacls": "MQTTACL", "mqacl": "MQTTACL",
		"mqttban": "MQTTBan", "mqttbans": "MQTTBan", "mqban": "MQTTBan",
		"mqttban.mqtt.mqttoperator.io": "MQTTBan",
	}
	for in, kind := range want {
		k, err := ParseKind(in)
		if err != nil || k.Kind != kind {
			t.Errorf("ParseKind(%q) = %q, %v, want %q", in, k.Kind, err, kind)
		}
	}
	for _, in := range []string{"", "user", "mq", "secret", "mqttuser.example.com"} {
		if _, err := ParseKind(in); err == nil {
			t.Errorf("ParseKind(%q) succeeded", in)
		}
	}
}
