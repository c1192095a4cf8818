package controllers

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/testbroker"
)

// A broker rejection is terminal: Stalled, with the broker's code in the
// reason, the message and status.brokerResult, until the spec changes.
func TestBrokerRejectionStalls(t *testing.T) {
	cases := []struct {
		api                    broker.APIVersion
		fault                  testbroker.Fault
		reason, code, inString string
	}{
		// Two faults: the first look at a broker lists it, and a failed list
		// falls back to reading the one subject, which must fail too.
		{broker.APIv4, testbroker.Fault{Count: 2, V4Code: 115, Message: "bad_topic", PathPrefix: "/api/v4/acl"}, "IllegalTopic", "115", "broker code 115 (illegal topic): bad_topic"},
		{broker.APIv5, testbroker.Fault{Count: 2, HTTPStatus: 400, V5Code: "BAD_REQUEST", Message: "invalid rule", PathPrefix: "/api/v5/authorization"}, "BadRequest", "BAD_REQUEST", "broker code BAD_REQUEST (bad request): invalid rule"},
	}
	for _, tc := range cases {
		t.Run(string(tc.api), func(t *testing.T) {
			e := newEnv(t, tc.api)
			e.tb.InjectFault(tc.fault)
			e.create(&mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{Name: "acl"}, Spec: mqttv1.MQTTACLSpec{BrokerRef: e.ref(),
				Subject: mqttv1.ACLSubject{Username: "u"}, Rules: []mqttv1.ACLRule{rule("a", mqttv1.ACLActionPublish, mqttv1.ACLAllow)}}})
			c := e.condition(&mqttv1.MQTTACL{}, "acl", mqttv1.ConditionStalled, metav1.ConditionTrue, tc.reason)
			if !strings.Contains(c.Message, tc.inString) {
				t.Fatalf("Stalled message %q does not contain %q", c.Message, tc.inString)
			}
			var a mqttv1.MQTTACL
			_ = e.get(&a, "acl")
			if a.Status.BrokerResult == nil || a.Status.BrokerResult.Code != tc.code {
				t.Fatalf("brokerResult = %+v, want code %s", a.Status.BrokerResult, tc.code)
			}
			if got := e.kstatus(&a); got != status.FailedStatus {
				t.Fatalf("kstatus = %s, want Failed", got)
			}
			// A spec change is retried and, the broker accepting it now, succeeds.
			e.update(&a, "acl", func() { a.Spec.Rules[0].Topic = "b" })
			e.waitReady(&mqttv1.MQTTACL{}, "acl")
			e.eventuallyKStatus(&mqttv1.MQTTACL{}, "acl", status.CurrentStatus)
		})
	}
}

// A broker that is down leaves objects Reconciling, and they recover by
// themselves when it is back.
func TestBrokerDownRecovers(t *testing.T) {
	for _, api := range apis {
		t.Run(string(api), func(t *testing.T) {
			e := newEnv(t, api)
			if err := e.tb.StopAPI(); err != nil {
				t.Fatal(err)
			}
			e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "u"}, Spec: mqttv1.MQTTUserSpec{BrokerRef: e.ref()}})
			e.condition(&mqttv1.MQTTUser{}, "u", mqttv1.ConditionReconciling, metav1.ConditionTrue, "")
			e.eventuallyKStatus(&mqttv1.MQTTUser{}, "u", status.InProgressStatus)
			e.condition(&mqttv1.MQTTBroker{}, e.broker, mqttv1.ConditionReady, metav1.ConditionFalse, "")
			if err := e.tb.StartAPI(); err != nil {
				t.Fatal(err)
			}
			e.waitReady(&mqttv1.MQTTUser{}, "u")
			e.eventuallyKStatus(&mqttv1.MQTTUser{}, "u", status.CurrentStatus)
			e.eventuallyConnects("c", "u", e.secretValue("u-mqtt-credentials", "password"), true)
		})
	}
}

// Bad API credentials stall the MQTTBroker with the reason, and fixing the
// Secret makes it Ready.
func TestBrokerBadCredentials(t *testing.T) {
	e := newEnv(t, broker.APIv4)
	var s corev1.Secret
	e.update(&s, "emqx-api", func() { s.Data["password"] = []byte("wrong") })
	e.condition(&mqttv1.MQTTBroker{}, e.broker, mqttv1.ConditionStalled, metav1.ConditionTrue, mqttv1.ReasonUnauthorized)
	e.update(&s, "emqx-api", func() { s.Data["password"] = []byte("public") })
	e.waitReady(&mqttv1.MQTTBroker{}, e.broker)
	var b mqttv1.MQTTBroker
	_ = e.get(&b, e.broker)
	if b.Status.BrokerVersion == "" || b.Status.Metrics == nil || b.Status.ReadyReplicas < 1 {
		t.Fatalf("broker status = %+v", b.Status)
	}
}
