package controllers

import (
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/argohealth"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/testbroker"
)

// healthScript is the Argo CD health check shipped in config/argocd.
const healthScript = "../config/argocd/health.lua"

func loadHealthScript(t *testing.T) string {
	t.Helper()
	script, err := argohealth.Load(healthScript)
	if err != nil {
		t.Fatal(err)
	}
	return script
}

// gitopsHealth is what Argo CD (through the shipped Lua) and Flux (through
// kstatus) make of one object as the API server serves it.
type gitopsHealth struct {
	argo    argohealth.Result
	kstatus *status.Result
	obj     *unstructured.Unstructured
}

// health reads the object as GitOps tools do, as unstructured JSON (a typed
// round trip would drop observedGeneration: 0), and evaluates both.
func (e *env) health(script, kind, name string) (gitopsHealth, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(mqttv1.GroupVersion.WithKind(kind))
	if err := e.get(u, name); err != nil {
		return gitopsHealth{}, err
	}
	argo, err := argohealth.Evaluate(script, u.Object)
	if err != nil {
		return gitopsHealth{}, err
	}
	ks, err := status.Compute(u)
	if err != nil {
		return gitopsHealth{}, err
	}
	return gitopsHealth{argo: argo, kstatus: ks, obj: u}, nil
}

// eventuallyHealth waits until Argo CD and kstatus both give the expected
// answer for the object, and returns what they said.
func (e *env) eventuallyHealth(script, kind, name string, argo argohealth.Status, ks status.Status) gitopsHealth {
	e.t.Helper()
	var got gitopsHealth
	e.g.Eventually(func(g gomega.Gomega) {
		h, err := e.health(script, kind, name)
		g.Expect(err).NotTo(gomega.HaveOccurred())
		g.Expect(h.argo.Status).To(gomega.Equal(argo), "Argo CD health of %s %s: %s", kind, name, h.argo.Message)
		g.Expect(h.kstatus.Status).To(gomega.Equal(ks), "kstatus of %s %s: %s", kind, name, h.kstatus.Message)
		got = h
	}, waitFor, 100*time.Millisecond).Should(gomega.Succeed())
	return got
}

// The shipped Argo CD health check and kstatus read the objects the operator
// really produced: Healthy/Current when Ready, Progressing/InProgress while
// Reconciling, Degraded/Failed when Stalled, with the broker's code in the
// message.
func TestGitOpsHealthOfOperatorObjects(t *testing.T) {
	script := loadHealthScript(t)
	// Two faults, as in TestBrokerRejectionStalls: the first look at a
	// broker lists it, and a failed list falls back to reading the subject.
	cases := []struct {
		api   broker.APIVersion
		fault testbroker.Fault
		code  string
		want  string
	}{
		{broker.APIv4, testbroker.Fault{Count: 2, V4Code: 115, Message: "bad_topic", PathPrefix: "/api/v4/acl"}, "115", "IllegalTopic: broker code 115 (illegal topic): bad_topic"},
		{broker.APIv5, testbroker.Fault{Count: 2, HTTPStatus: 400, V5Code: "BAD_REQUEST", Message: "invalid rule", PathPrefix: "/api/v5/authorization"}, "BAD_REQUEST", "BadRequest: broker code BAD_REQUEST (bad request): invalid rule"},
	}
	for _, tc := range cases {
		t.Run(string(tc.api), func(t *testing.T) {
			e := newEnv(t, tc.api)
			e.eventuallyHealth(script, "MQTTBroker", e.broker, argohealth.Healthy, status.CurrentStatus)

			// The broker rejects the rules: Stalled, and both tools say so
			// with the broker's code. The fault goes first, before anything
			// else could make a request it matches.
			e.tb.InjectFault(tc.fault)
			e.create(&mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{Name: "rejected"}, Spec: mqttv1.MQTTACLSpec{BrokerRef: e.ref(),
				Subject: mqttv1.ACLSubject{Username: "other"}, Rules: []mqttv1.ACLRule{rule("a", mqttv1.ACLActionPublish, mqttv1.ACLAllow)}}})
			h := e.eventuallyHealth(script, "MQTTACL", "rejected", argohealth.Degraded, status.FailedStatus)
			if !strings.HasPrefix(h.argo.Message, tc.want) {
				t.Errorf("Argo CD message %q, want it to start with %q", h.argo.Message, tc.want)
			}
			if code, _, _ := unstructured.NestedString(h.obj.Object, "status", "brokerResult", "code"); code != tc.code {
				t.Errorf("status.brokerResult.code = %q, want %q", code, tc.code)
			}
			if !strings.Contains(h.kstatus.Message, "broker code "+tc.code) {
				t.Errorf("kstatus message %q lacks the broker code %s", h.kstatus.Message, tc.code)
			}

			e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "sensor-1"}, Spec: mqttv1.MQTTUserSpec{BrokerRef: e.ref()}})
			e.create(&mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{Name: "sensor-1"}, Spec: mqttv1.MQTTACLSpec{BrokerRef: e.ref(),
				Subject: mqttv1.ACLSubject{Username: "sensor-1"}, Rules: []mqttv1.ACLRule{rule("sensors/#", mqttv1.ACLActionPublish, mqttv1.ACLAllow)}}})
			e.create(&mqttv1.MQTTBan{ObjectMeta: metav1.ObjectMeta{Name: "rogue"}, Spec: mqttv1.MQTTBanSpec{BrokerRef: e.ref(), As: mqttv1.BanClientID, Who: "rogue"}})
			for kind, name := range map[string]string{"MQTTUser": "sensor-1", "MQTTACL": "sensor-1", "MQTTBan": "rogue"} {
				got := e.eventuallyHealth(script, kind, name, argohealth.Healthy, status.CurrentStatus)
				ready := e.readyMessage(got.obj)
				if got.argo.Message != ready {
					t.Errorf("%s Healthy message %q, want the Ready message %q", kind, got.argo.Message, ready)
				}
			}

			// A broker that does not exist: the operator waits, and both
			// tools show it as in progress with the reason.
			e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "orphan"}, Spec: mqttv1.MQTTUserSpec{BrokerRef: mqttv1.BrokerReference{Name: "nowhere"}}})
			e.condition(&mqttv1.MQTTUser{}, "orphan", mqttv1.ConditionReconciling, metav1.ConditionTrue, mqttv1.ReasonBrokerNotFound)
			h = e.eventuallyHealth(script, "MQTTUser", "orphan", argohealth.Progressing, status.InProgressStatus)
			if !strings.HasPrefix(h.argo.Message, mqttv1.ReasonBrokerNotFound+": ") {
				t.Errorf("Argo CD message %q, want the BrokerNotFound reason", h.argo.Message)
			}
		})
	}
}

// An MQTTUser asking for a superuser on the v4 API, which has none, is
// Stalled with reason Unsupported without any broker call failing.
func TestGitOpsHealthUnsupported(t *testing.T) {
	script := loadHealthScript(t)
	e := newEnv(t, broker.APIv4)
	e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "root"}, Spec: mqttv1.MQTTUserSpec{BrokerRef: e.ref(), Superuser: true}})
	h := e.eventuallyHealth(script, "MQTTUser", "root", argohealth.Degraded, status.FailedStatus)
	if !strings.HasPrefix(h.argo.Message, mqttv1.ReasonUnsupported+": ") || !strings.Contains(h.argo.Message, "superuser") {
		t.Errorf("Argo CD message %q, want reason Unsupported naming superusers", h.argo.Message)
	}
}

// spec.suspend shows as Suspended in Argo CD once the operator has
// acknowledged it, and resuming brings the object back to Healthy. kstatus
// has no suspended state: the operator observes the generation that asked
// for suspension, so Flux sees a settled object rather than one that never
// finishes.
func TestGitOpsHealthSuspended(t *testing.T) {
	script := loadHealthScript(t)
	e := newEnv(t, broker.APIv5)
	e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "paused"}, Spec: mqttv1.MQTTUserSpec{BrokerRef: e.ref()}})
	e.eventuallyHealth(script, "MQTTUser", "paused", argohealth.Healthy, status.CurrentStatus)
	var u mqttv1.MQTTUser
	e.update(&u, "paused", func() { u.Spec.Suspend = true })
	h := e.eventuallyHealth(script, "MQTTUser", "paused", argohealth.Suspended, status.CurrentStatus)
	if !strings.HasPrefix(h.argo.Message, mqttv1.ReasonSuspended+": ") {
		t.Errorf("Argo CD message %q, want the Suspended condition", h.argo.Message)
	}
	e.update(&u, "paused", func() { u.Spec.Suspend = false })
	e.eventuallyHealth(script, "MQTTUser", "paused", argohealth.Healthy, status.CurrentStatus)
}

// readyMessage is the Ready condition's message of an unstructured object.
func (e *env) readyMessage(u *unstructured.Unstructured) string {
	e.t.Helper()
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == mqttv1.ConditionReady {
			msg, _ := m["message"].(string)
			return msg
		}
	}
	e.t.Fatalf("%s has no Ready condition", u.GetName())
	return ""
}
