package controllers

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

func TestACLSpecState(t *testing.T) {
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
			if d := cmp.Diff(tc.want, aclKind{}.specState(&mqttv1.MQTTACL{Spec: mqttv1.MQTTACLSpec{Rules: tc.in}})); d != "" {
				t.Fatalf("specState (-want +got):\n%s", d)
			}
		})
	}
}
