package controllers

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

func TestDesiredRules(t *testing.T) {
	r := func(topic string, a mqttv1.ACLAction, p mqttv1.ACLPermission) mqttv1.ACLRule {
		return mqttv1.ACLRule{Topic: topic, Action: a, Permission: p}
	}
	b := func(topic string, a broker.Action, p broker.Permission) broker.Rule {
		return broker.Rule{Topic: topic, Action: a, Permission: p}
	}
	cases := []struct {
		name string
		in   []mqttv1.ACLRule
		want []broker.Rule
	}{
		{"empty", nil, []broker.Rule{}},
		{"kept in order", []mqttv1.ACLRule{r("a/#", "publish", "deny"), r("b", "subscribe", "allow"), r("#", "all", "allow")},
			[]broker.Rule{b("a/#", broker.ActionPublish, broker.Deny), b("b", broker.ActionSubscribe, broker.Allow), b("#", broker.ActionAll, broker.Allow)}},
		{"exact duplicate dropped", []mqttv1.ACLRule{r("a", "publish", "deny"), r("a", "publish", "allow")},
			[]broker.Rule{b("a", broker.ActionPublish, broker.Deny)}},
		{"all after publish narrows to subscribe", []mqttv1.ACLRule{r("a", "publish", "deny"), r("a", "all", "allow")},
			[]broker.Rule{b("a", broker.ActionPublish, broker.Deny), b("a", broker.ActionSubscribe, broker.Allow)}},
		{"publish after all is dead", []mqttv1.ACLRule{r("a", "all", "allow"), r("a", "publish", "deny")},
			[]broker.Rule{b("a", broker.ActionAll, broker.Allow)}},
		{"same topic, both actions separately", []mqttv1.ACLRule{r("a", "subscribe", "deny"), r("a", "publish", "allow")},
			[]broker.Rule{b("a", broker.ActionSubscribe, broker.Deny), b("a", broker.ActionPublish, broker.Allow)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, desiredRules(tc.in)); d != "" {
				t.Fatalf("desiredRules (-want +got):\n%s", d)
			}
		})
	}
}

func TestRulesEquivalent(t *testing.T) {
	b := func(topic string, a broker.Action, p broker.Permission) broker.Rule {
		return broker.Rule{Topic: topic, Action: a, Permission: p}
	}
	cases := []struct {
		name string
		a, b []broker.Rule
		want bool
	}{
		{"both empty", nil, []broker.Rule{}, true},
		{"identical", []broker.Rule{b("a", "publish", "deny")}, []broker.Rule{b("a", "publish", "deny")}, true},
		{"all split in two", []broker.Rule{b("a", "all", "allow")}, []broker.Rule{b("a", "publish", "allow"), b("a", "subscribe", "allow")}, true},
		{"different actions interleave freely", []broker.Rule{b("a", "publish", "deny"), b("b", "subscribe", "allow")},
			[]broker.Rule{b("b", "subscribe", "allow"), b("a", "publish", "deny")}, true},
		{"order within an action matters", []broker.Rule{b("a/#", "publish", "deny"), b("a/b", "publish", "allow")},
			[]broker.Rule{b("a/b", "publish", "allow"), b("a/#", "publish", "deny")}, false},
		{"permission differs", []broker.Rule{b("a", "publish", "deny")}, []broker.Rule{b("a", "publish", "allow")}, false},
		{"extra rule on the broker", []broker.Rule{b("a", "publish", "deny")}, []broker.Rule{b("a", "publish", "deny"), b("x", "subscribe", "deny")}, false},
		{"missing rule", []broker.Rule{b("a", "all", "deny")}, []broker.Rule{b("a", "publish", "deny")}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := rulesEquivalent(tc.a, tc.b); got != tc.want {
				t.Fatalf("rulesEquivalent = %v, want %v", got, tc.want)
			}
		})
	}
}
