package controllers

import (
	"testing"
	"time"

	"github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

func TestBanRefusesConnection(t *testing.T) {
	for _, api := range apis {
		t.Run(string(api), func(t *testing.T) {
			e := newEnv(t, api)
			e.userWithPassword("dev", "dev-password")
			e.eventuallyConnects("rogue", "dev", "dev-password", true)

			e.create(&mqttv1.MQTTBan{ObjectMeta: metav1.ObjectMeta{Name: "rogue"}, Spec: mqttv1.MQTTBanSpec{BrokerRef: e.ref(), As: mqttv1.BanClientID, Who: "rogue", Reason: "flooding"}})
			e.waitReady(&mqttv1.MQTTBan{}, "rogue")
			e.condition(&mqttv1.MQTTBan{}, "rogue", mqttv1.ConditionExpired, metav1.ConditionFalse, mqttv1.ReasonActive)
			if e.canConnect("rogue", "dev", "dev-password") {
				t.Fatal("a banned client id could connect")
			}
			// Permanent: far beyond the v4 API's 5-minute default.
			bans, err := e.brokerClient().ListBans(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if b, ok := findBan(bans, broker.BanClientID, "rogue"); !ok || !b.Until.IsZero() {
				t.Fatalf("ban on the broker = %+v (found %v), want a permanent ban", b, ok)
			}
			e.deleteAndWait(&mqttv1.MQTTBan{}, "rogue")
			e.eventuallyConnects("rogue", "dev", "dev-password", true)
		})
	}
}

func TestBanExpires(t *testing.T) {
	for _, api := range apis {
		t.Run(string(api), func(t *testing.T) {
			e := newEnv(t, api)
			e.userWithPassword("dev", "dev-password")
			until := metav1.NewTime(time.Now().Add(8 * time.Second))
			e.create(&mqttv1.MQTTBan{ObjectMeta: metav1.ObjectMeta{Name: "short"}, Spec: mqttv1.MQTTBanSpec{BrokerRef: e.ref(), As: mqttv1.BanUsername, Who: "dev", Until: &until}})
			e.waitReady(&mqttv1.MQTTBan{}, "short")
			if e.canConnect("c1", "dev", "dev-password") {
				t.Fatal("a banned username could connect")
			}
			e.condition(&mqttv1.MQTTBan{}, "short", mqttv1.ConditionExpired, metav1.ConditionTrue, mqttv1.ReasonExpired)
			e.eventuallyKStatus(&mqttv1.MQTTBan{}, "short", status.CurrentStatus)
			e.eventuallyConnects("c1", "dev", "dev-password", true)
		})
	}
}

func TestBanDisconnectsLiveSessions(t *testing.T) {
	for _, api := range apis {
		t.Run(string(api), func(t *testing.T) {
			e := newEnv(t, api)
			e.userWithPassword("dev", "dev-password")
			e.eventuallyConnects("c-live", "dev", "dev-password", true)
			conn := e.mustConnect("c-live", "dev", "dev-password")
			e.create(&mqttv1.MQTTBan{ObjectMeta: metav1.ObjectMeta{Name: "kick"}, Spec: mqttv1.MQTTBanSpec{BrokerRef: e.ref(),
				As: mqttv1.BanUsername, Who: "dev", Duration: &metav1.Duration{Duration: time.Hour}, Disconnect: true}})
			e.waitReady(&mqttv1.MQTTBan{}, "kick")
			e.g.Eventually(conn.Done(), waitFor).Should(gomega.BeClosed(), "the live session of a banned username was not disconnected")
			var b mqttv1.MQTTBan
			_ = e.get(&b, "kick")
			if b.Status.Until == nil || b.Status.Until.Sub(b.CreationTimestamp.Time) != time.Hour {
				t.Fatalf("status.until = %v, want creation + 1h", b.Status.Until)
			}
		})
	}
}

// A matching ban already on the broker is adopted and lifted with the MQTTBan.
func TestBanAdoptsExisting(t *testing.T) {
	e := newEnv(t, broker.APIv5)
	cl := e.brokerClient()
	if err := cl.CreateBan(e.ctx, broker.Ban{As: broker.BanClientID, Who: "old", Reason: "legacy"}); err != nil {
		t.Fatal(err)
	}
	e.create(&mqttv1.MQTTBan{ObjectMeta: metav1.ObjectMeta{Name: "old"}, Spec: mqttv1.MQTTBanSpec{BrokerRef: e.ref(), As: mqttv1.BanClientID, Who: "old", Reason: "legacy"}})
	e.waitReady(&mqttv1.MQTTBan{}, "old")
	e.expectEvent("old", "Adopted")
	e.deleteAndWait(&mqttv1.MQTTBan{}, "old")
	bans, err := cl.ListBans(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := findBan(bans, broker.BanClientID, "old"); ok {
		t.Fatal("the adopted ban was not lifted when its MQTTBan was deleted")
	}
}
