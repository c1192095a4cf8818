package controllers

import (
	"testing"
	"time"

	"github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// Drift is repaired within one resync interval (plus the time to act):
// a user deleted on the broker, and a broker that lost all its state.
func TestDriftRepaired(t *testing.T) {
	for _, api := range apis {
		t.Run(string(api), func(t *testing.T) {
			e := newEnv(t, api)
			e.userWithPassword("dev", "dev-password")
			rules := []mqttv1.ACLRule{rule("t/#", mqttv1.ACLActionAll, mqttv1.ACLAllow)}
			e.create(&mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{Name: "dev"}, Spec: mqttv1.MQTTACLSpec{BrokerRef: e.ref(), Subject: mqttv1.ACLSubject{Username: "dev"}, Rules: rules}})
			e.create(&mqttv1.MQTTBan{ObjectMeta: metav1.ObjectMeta{Name: "ban"}, Spec: mqttv1.MQTTBanSpec{BrokerRef: e.ref(), As: mqttv1.BanClientID, Who: "bad"}})
			e.waitReady(&mqttv1.MQTTACL{}, "dev")
			e.waitReady(&mqttv1.MQTTBan{}, "ban")
			cl := e.brokerClient()
			within := 2*testResync + 15*time.Second
			var before mqttv1.MQTTUser
			e.g.Expect(e.get(&before, "dev")).To(gomega.Succeed())

			if err := cl.DeleteUser(e.ctx, broker.ByUsername, "dev"); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			e.g.Eventually(func() bool { return e.canConnect("c1", "dev", "dev-password") }, within, 200*time.Millisecond).Should(gomega.BeTrue(),
				"a user deleted on the broker was not put back")
			t.Logf("user put back %v after its deletion (resync interval %v)", time.Since(start).Round(100*time.Millisecond), testResync)

			e.tb.Wipe()
			e.g.Eventually(func() bool { return e.canConnect("c1", "dev", "dev-password") }, within, 200*time.Millisecond).Should(gomega.BeTrue(),
				"users were not put back after the broker lost its data")
			e.g.Eventually(func() ([]broker.Rule, error) {
				return cl.GetRules(e.ctx, broker.Subject{Kind: broker.ByUsername, Name: "dev"})
			}, within, 200*time.Millisecond).Should(gomega.HaveLen(1), "rules were not put back")
			e.g.Eventually(func() bool { return e.canConnect("bad", "dev", "dev-password") }, within, 200*time.Millisecond).Should(gomega.BeFalse(),
				"the ban was not put back")
			e.expectEvent("dev", "Repaired")
			// A repair puts back what the status says: it writes no status.
			var after mqttv1.MQTTUser
			e.g.Expect(e.get(&after, "dev")).To(gomega.Succeed())
			if after.ResourceVersion != before.ResourceVersion {
				t.Errorf("the user was written by its repairs: status %+v, was %+v", after.Status, before.Status)
			}
		})
	}
}
