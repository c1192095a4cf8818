package controllers

import (
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// userWithPassword creates an MQTTUser whose password is known to the test.
func (e *env) userWithPassword(name, password string) {
	e.t.Helper()
	e.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name + "-pw"}, StringData: map[string]string{"password": password}})
	e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: mqttv1.MQTTUserSpec{
		BrokerRef: e.ref(), PasswordSecretRef: &mqttv1.SecretKeySelector{Name: name + "-pw", Key: "password"}}})
	e.waitReady(&mqttv1.MQTTUser{}, name)
}

func rule(topic string, a mqttv1.ACLAction, p mqttv1.ACLPermission) mqttv1.ACLRule {
	return mqttv1.ACLRule{Topic: topic, Action: a, Permission: p}
}

func TestACLEnforcedOverMQTT(t *testing.T) {
	for _, api := range apis {
		t.Run(string(api), func(t *testing.T) {
			e := newEnv(t, api)
			e.userWithPassword("alice", "alice-password")
			e.userWithPassword("bob", "bob-password")
			e.create(&mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{Name: "bob"}, Spec: mqttv1.MQTTACLSpec{BrokerRef: e.ref(),
				Subject: mqttv1.ACLSubject{Username: "bob"}, Rules: []mqttv1.ACLRule{rule("data/#", mqttv1.ACLActionSubscribe, mqttv1.ACLAllow)}}})
			e.create(&mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{Name: "alice"}, Spec: mqttv1.MQTTACLSpec{BrokerRef: e.ref(),
				Subject: mqttv1.ACLSubject{Username: "alice"}, Rules: []mqttv1.ACLRule{
					rule("data/secret", mqttv1.ACLActionPublish, mqttv1.ACLDeny),
					rule("data/#", mqttv1.ACLActionPublish, mqttv1.ACLAllow),
				}}})
			e.waitReady(&mqttv1.MQTTACL{}, "bob")
			e.waitReady(&mqttv1.MQTTACL{}, "alice")

			sub := e.mustConnect("c-bob", "bob", "bob-password")
			if rc, err := sub.Subscribe(e.ctx, "data/#"); err != nil || rc >= 0x80 {
				t.Fatalf("bob's subscribe refused: rc=%#x err=%v", rc, err)
			}
			pub := e.mustConnect("c-alice", "alice", "alice-password")
			// Alice's connection caches the deny; the operator must clear it.
			if e.published(pub, sub, "data/secret") {
				t.Fatal("a deny rule did not stop the publish")
			}
			if !e.published(pub, sub, "data/open") {
				t.Fatal("an allow rule did not let the publish through")
			}

			var a mqttv1.MQTTACL
			e.update(&a, "alice", func() { a.Spec.Rules[0].Permission = mqttv1.ACLAllow })
			e.waitReady(&mqttv1.MQTTACL{}, "alice")
			e.g.Eventually(func() bool { return e.published(pub, sub, "data/secret") }, waitFor, 100*time.Millisecond).Should(gomega.BeTrue(),
				"after changing deny to allow the publish should pass on the same connection (authorization cache cleared)")

			// Removing a rule from the list removes it from the broker.
			e.update(&a, "alice", func() { a.Spec.Rules = a.Spec.Rules[1:] })
			e.waitReady(&mqttv1.MQTTACL{}, "alice")
			got, err := e.brokerClient().GetRules(e.ctx, broker.Subject{Kind: broker.ByUsername, Name: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Topic != "data/#" {
				t.Fatalf("broker rules after removing one = %+v, want only data/#", got)
			}
			_ = e.get(&a, "alice")
			if a.Status.RuleCount != 1 || a.Status.Subject != "username:alice" {
				t.Fatalf("status = %+v", a.Status)
			}

			// Deleting the MQTTACL removes the subject's rules: default deny.
			e.deleteAndWait(&mqttv1.MQTTACL{}, "alice")
			e.g.Eventually(func() bool { return e.published(pub, sub, "data/open") }, waitFor, 100*time.Millisecond).Should(gomega.BeFalse())
		})
	}
}

func TestACLRuleOrderAndExtrasRemoved(t *testing.T) {
	for _, api := range apis {
		t.Run(string(api), func(t *testing.T) {
			e := newEnv(t, api)
			cl := e.brokerClient()
			subject := broker.Subject{Kind: broker.ByClientID, Name: "dev/1"}
			// A rule added behind the operator's back is removed.
			if err := cl.ReplaceRules(e.ctx, subject, []broker.Rule{{Topic: "extra/#", Action: broker.ActionAll, Permission: broker.Allow}}); err != nil {
				t.Fatal(err)
			}
			rules := []mqttv1.ACLRule{
				rule("a/b", mqttv1.ACLActionPublish, mqttv1.ACLAllow),
				rule("a/#", mqttv1.ACLActionPublish, mqttv1.ACLDeny),
				rule("$SYS/#", mqttv1.ACLActionSubscribe, mqttv1.ACLDeny),
				rule("x y/é/+", mqttv1.ACLActionAll, mqttv1.ACLAllow),
			}
			e.create(&mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{Name: "dev1"}, Spec: mqttv1.MQTTACLSpec{BrokerRef: e.ref(),
				Subject: mqttv1.ACLSubject{ClientID: "dev/1"}, Rules: rules}})
			e.waitReady(&mqttv1.MQTTACL{}, "dev1")
			got, err := cl.GetRules(e.ctx, subject)
			if err != nil {
				t.Fatal(err)
			}
			if !broker.RulesEquivalent(aclKind{}.specState(&mqttv1.MQTTACL{Spec: mqttv1.MQTTACLSpec{Rules: rules}}), got) {
				t.Fatalf("broker rules = %+v, want the spec's %+v in order", got, rules)
			}
			for _, r := range got {
				if strings.HasPrefix(r.Topic, "extra") {
					t.Fatalf("extra rule %+v was not removed", r)
				}
			}
		})
	}
}

func TestACLConflict(t *testing.T) {
	e := newEnv(t, broker.APIv5)
	spec := mqttv1.MQTTACLSpec{BrokerRef: e.ref(), Subject: mqttv1.ACLSubject{All: true}, Rules: []mqttv1.ACLRule{rule("#", mqttv1.ACLActionAll, mqttv1.ACLDeny)}}
	e.create(&mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{Name: "first"}, Spec: spec})
	e.waitReady(&mqttv1.MQTTACL{}, "first")
	e.create(&mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{Name: "second"}, Spec: *spec.DeepCopy()})
	c := e.condition(&mqttv1.MQTTACL{}, "second", mqttv1.ConditionStalled, metav1.ConditionTrue, mqttv1.ReasonSubjectConflict)
	if !strings.Contains(c.Message, "first") {
		t.Fatalf("conflict message %q does not name the holder", c.Message)
	}
	e.deleteAndWait(&mqttv1.MQTTACL{}, "first")
	e.waitReady(&mqttv1.MQTTACL{}, "second")
	got, err := e.brokerClient().GetRules(e.ctx, broker.Subject{Kind: broker.ByAll})
	if err != nil || len(got) != 1 {
		t.Fatalf("rules for all after hand-over = %+v, %v", got, err)
	}
}

// Rules already on the broker that equal the spec are adopted, and deleting
// the MQTTACL removes them like rules it wrote itself.
func TestACLAdoptsExistingRules(t *testing.T) {
	for _, api := range apis {
		t.Run(string(api), func(t *testing.T) {
			e := newEnv(t, api)
			cl := e.brokerClient()
			subject := broker.Subject{Kind: broker.ByUsername, Name: "legacy"}
			if err := cl.ReplaceRules(e.ctx, subject, []broker.Rule{{Topic: "l/#", Action: broker.ActionPublish, Permission: broker.Allow}}); err != nil {
				t.Fatal(err)
			}
			e.create(&mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{Name: "legacy"}, Spec: mqttv1.MQTTACLSpec{BrokerRef: e.ref(),
				Subject: mqttv1.ACLSubject{Username: "legacy"}, Rules: []mqttv1.ACLRule{rule("l/#", mqttv1.ACLActionPublish, mqttv1.ACLAllow)}}})
			e.waitReady(&mqttv1.MQTTACL{}, "legacy")
			e.expectEvent("legacy", "Adopted")
			e.deleteAndWait(&mqttv1.MQTTACL{}, "legacy")
			got, err := cl.GetRules(e.ctx, subject)
			if err != nil || len(got) != 0 {
				t.Fatalf("rules after deleting the adopting MQTTACL = %+v, %v; want none", got, err)
			}
		})
	}
}

// Rules for all clients apply to live connections at once after a change:
// the operator clears every client's authorization cache (v5 in one call,
// v4 client by client).
func TestACLForAllClearsEveryCache(t *testing.T) {
	for _, api := range apis {
		t.Run(string(api), func(t *testing.T) {
			e := newEnv(t, api)
			e.userWithPassword("alice", "alice-password")
			e.userWithPassword("bob", "bob-password")
			e.create(&mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{Name: "everyone"}, Spec: mqttv1.MQTTACLSpec{BrokerRef: e.ref(),
				Subject: mqttv1.ACLSubject{All: true}, Rules: []mqttv1.ACLRule{
					rule("data/#", mqttv1.ACLActionSubscribe, mqttv1.ACLAllow),
					rule("data/secret", mqttv1.ACLActionPublish, mqttv1.ACLDeny),
					rule("data/#", mqttv1.ACLActionPublish, mqttv1.ACLAllow),
				}}})
			e.waitReady(&mqttv1.MQTTACL{}, "everyone")
			sub := e.mustConnect("c-bob", "bob", "bob-password")
			if rc, err := sub.Subscribe(e.ctx, "data/#"); err != nil || rc >= 0x80 {
				t.Fatalf("subscribe refused: rc=%#x err=%v", rc, err)
			}
			pub := e.mustConnect("c-alice", "alice", "alice-password")
			if e.published(pub, sub, "data/secret") {
				t.Fatal("a deny rule for all clients did not stop the publish")
			}
			var a mqttv1.MQTTACL
			e.update(&a, "everyone", func() { a.Spec.Rules[1].Permission = mqttv1.ACLAllow })
			e.waitReady(&mqttv1.MQTTACL{}, "everyone")
			e.g.Eventually(func() bool { return e.published(pub, sub, "data/secret") }, waitFor, 100*time.Millisecond).Should(gomega.BeTrue(),
				"the changed rule did not reach the live connection (authorization cache not cleared)")
		})
	}
}
