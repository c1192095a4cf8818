package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/plugin"
)

func acl(ns, name string, age time.Duration, ref mqttv1.BrokerReference, subject mqttv1.ACLSubject, rules ...mqttv1.ACLRule) *mqttv1.MQTTACL {
	return &mqttv1.MQTTACL{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: metav1.NewTime(time.Now().Add(-age).Truncate(time.Second))},
		Spec:       mqttv1.MQTTACLSpec{BrokerRef: ref, Subject: subject, Rules: rules},
	}
}

func aclRule(perm, action, topic string) mqttv1.ACLRule {
	return mqttv1.ACLRule{Topic: topic, Action: mqttv1.ACLAction(action), Permission: mqttv1.ACLPermission(perm)}
}

// canIObjects are MQTTACLs of the broker "ext" in team-a, from two
// namespaces, plus a younger duplicate and an ACL of another broker that
// must not count.
func canIObjects() []client.Object {
	ext := mqttv1.BrokerReference{Name: "ext"}
	return []client.Object{
		acl("team-a", "sensor-1", time.Hour, ext, mqttv1.ACLSubject{Username: "sensor-1"},
			aclRule("deny", "publish", "sensors/+/secret"), aclRule("allow", "all", "sensors/#")),
		acl("team-a", "sensor-1-copy", time.Minute, ext, mqttv1.ACLSubject{Username: "sensor-1"}, aclRule("allow", "all", "#")),
		acl("team-b", "dev-1", time.Hour, mqttv1.BrokerReference{Name: "ext", Namespace: "team-a"}, mqttv1.ACLSubject{ClientID: "dev-1"},
			aclRule("deny", "subscribe", "sensors/dev-1/#")),
		acl("team-a", "everyone", time.Hour, ext, mqttv1.ACLSubject{All: true}, aclRule("allow", "subscribe", "public/#")),
		acl("team-a", "other-broker", time.Hour, mqttv1.BrokerReference{Name: "managed"}, mqttv1.ACLSubject{All: true}, aclRule("allow", "all", "#")),
	}
}

func TestCanI(t *testing.T) {
	for _, v := range []broker.APIVersion{broker.APIv4, broker.APIv5} {
		t.Run(string(v), func(t *testing.T) { testCanI(t, v) })
	}
}

func testCanI(t *testing.T, v broker.APIVersion) {
	e := newBrokerEnv(t, v, canIObjects()...)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string // stdout, exactly
	}{
		{
			name: "allowed by the username's second rule",
			args: []string{"can-i", "sensor-1", "publish", "sensors/x/temp"},
			want: "yes\ndecided by rule 1 of mqttacl team-a/sensor-1: allow all \"sensors/#\"\n" +
				"note: the broker's no-match setting is not known to the plugin; assumed deny (set --no-match)\n" +
				"note: no client id given: rules for client ids are not considered\n",
		},
		{
			name: "denied by the first rule", args: []string{"can-i", "sensor-1", "pub", "sensors/x/secret", "--no-match", "deny"}, wantCode: 1,
			want: "no\ndecided by rule 0 of mqttacl team-a/sensor-1: deny publish \"sensors/+/secret\"\n" +
				"note: no client id given: rules for client ids are not considered\n",
		},
		{
			name: "the client id's rules come first", args: []string{"can-i", "--client", "dev-1", "sensor-1", "subscribe", "sensors/dev-1/cmd", "--no-match=deny"}, wantCode: 1,
			want: "no\ndecided by rule 0 of mqttacl team-b/dev-1: deny subscribe \"sensors/dev-1/#\"\n",
		},
		{
			name: "the rules for all clients come last", args: []string{"can-i", "sensor-1", "--client", "dev-1", "sub", "public/news", "--no-match", "deny"},
			want: "yes\ndecided by rule 0 of mqttacl team-a/everyone: allow subscribe \"public/#\"\n",
		},
		{
			name: "client without a username", args: []string{"can-i", "--client", "dev-2", "subscribe", "sensors/a", "--no-match", "deny"}, wantCode: 1,
			want: "no\nno rule matched; the broker's no-match setting decides: deny\nnote: no username given: the client is taken to connect without one\n",
		},
		{
			name: "no match allow", args: []string{"can-i", "--client", "dev-2", "sensor-1", "publish", "elsewhere", "--no-match", "allow"},
			want: "yes\nno rule matched; the broker's no-match setting decides: allow\n",
		},
		{
			name: "# does not cover $SYS", args: []string{"can-i", "--client", "dev-2", "sensor-1", "subscribe", "$SYS/brokers", "--no-match", "deny"}, wantCode: 1,
			want: "no\nno rule matched; the broker's no-match setting decides: deny\n",
		},
		{
			name: "a managed broker denies what matches nothing", args: []string{"can-i", "--client", "dev-1", "sensor-1", "subscribe", "$SYS/x", "--broker", "managed"}, wantCode: 1,
			want: "no\nno rule matched; the broker's no-match setting decides: deny\n",
		},
		{
			name: "only the broker's own MQTTACLs count", args: []string{"can-i", "--client", "dev-1", "sensor-1", "publish", "x", "--broker", "managed"},
			want: "yes\ndecided by rule 0 of mqttacl team-a/other-broker: allow all \"#\"\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if !strings.Contains(strings.Join(args, " "), "--broker") {
				args = append(args, "--broker", "ext")
			}
			code, out, errOut := e.run(args...)
			if code != tt.wantCode || errOut != "" {
				t.Errorf("exit %d, want %d; stderr %q", code, tt.wantCode, errOut)
			}
			if diff := cmp.Diff(tt.want, out); diff != "" {
				t.Errorf("stdout mismatch (-want +got):\n%s", diff)
			}
		})
	}

	// -o json names the object and the rule.
	var ans plugin.CanIAnswer
	if err := json.Unmarshal([]byte(e.ok("can-i", "sensor-1", "--client", "dev-1", "publish", "sensors/dev-1/t", "--broker", "ext", "-o", "json", "--no-match", "deny")), &ans); err != nil {
		t.Fatal(err)
	}
	one := 1
	want := plugin.CanIAnswer{Allowed: true, From: "objects", Matched: true, NoMatch: "deny", Source: "mqttacl team-a/sensor-1", RuleIndex: &one,
		Rule: &broker.Rule{Topic: "sensors/#", Action: broker.ActionAll, Permission: broker.Allow}}
	if diff := cmp.Diff(want, ans); diff != "" {
		t.Errorf("can-i -o json mismatch (-want +got):\n%s", diff)
	}

	// --live: with the broker in sync there is no difference.
	ctx := context.Background()
	for _, s := range []struct {
		subject broker.Subject
		rules   []broker.Rule
	}{
		{broker.Subject{Kind: broker.ByUsername, Name: "sensor-1"}, plugin.SpecRules(canIObjects()[0].(*mqttv1.MQTTACL).Spec.Rules)},
		{broker.Subject{Kind: broker.ByClientID, Name: "dev-1"}, plugin.SpecRules(canIObjects()[2].(*mqttv1.MQTTACL).Spec.Rules)},
		{broker.Subject{Kind: broker.ByAll}, plugin.SpecRules(canIObjects()[3].(*mqttv1.MQTTACL).Spec.Rules)},
	} {
		if err := e.api.ReplaceRules(ctx, s.subject, s.rules); err != nil {
			t.Fatal(err)
		}
	}
	live := []string{"can-i", "sensor-1", "--client", "dev-1", "publish", "sensors/x/secret", "--broker", "ext", "--live", "--no-match", "deny"}
	code, out, _ := e.run(live...)
	if wantOut := "no\ndecided by rule 0 of broker username:sensor-1: deny publish \"sensors/+/secret\"\n"; code != 1 || out != wantOut {
		t.Errorf("can-i --live in sync: exit %d, stdout %q, want %q", code, out, wantOut)
	}
	// Someone changed the broker: --live answers from it and says how it differs.
	if err := e.api.ReplaceRules(ctx, broker.Subject{Kind: broker.ByUsername, Name: "sensor-1"},
		[]broker.Rule{{Topic: "sensors/#", Action: broker.ActionPublish, Permission: broker.Allow}}); err != nil {
		t.Fatal(err)
	}
	code, out, _ = e.run(live...)
	wantOut := "yes\ndecided by rule 0 of broker username:sensor-1: allow publish \"sensors/#\"\n" +
		"difference: username:sensor-1: the broker's 1 rules differ from the 2 of mqttacl team-a/sensor-1 (the operator will put them back)\n" +
		"difference: the objects answer no (no: rule 0 of mqttacl team-a/sensor-1 (deny publish sensors/+/secret) decides)\n"
	if code != 0 || out != wantOut {
		t.Errorf("can-i --live after drift: exit %d\n%s", code, cmp.Diff(wantOut, out))
	}
}
