package controllers

import (
	"testing"
	"time"

	"github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// writeOps are the broker operations that change something.
var writeOps = map[string]bool{
	"CreateUser": true, "UpdateUser": true, "DeleteUser": true, "ReplaceRules": true, "DeleteRules": true,
	"CreateBan": true, "DeleteBan": true, "KickClient": true,
}

// brokerWrites counts the write calls the operator made to the env's
// broker, from its own request metric.
func (e *env) brokerWrites() int {
	e.t.Helper()
	ch := make(chan prometheus.Metric, 1024)
	go func() { brokerRequests.Collect(ch); close(ch) }()
	n := 0
	for m := range ch {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			e.t.Fatal(err)
		}
		labels := map[string]string{}
		for _, l := range pb.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["broker"] == e.ns+"/"+e.broker && writeOps[labels["operation"]] {
			n += int(pb.GetCounter().GetValue())
		}
	}
	return n
}

// An imported user keeps the password it has on the broker: adopting it
// writes nothing, and a Secret given later takes the password over.
func TestUserKeepExistingPassword(t *testing.T) {
	for _, api := range apis {
		t.Run(string(api), func(t *testing.T) {
			e := newEnv(t, api)
			if err := e.brokerClient().CreateUser(e.ctx, broker.UserSpec{Kind: broker.ByUsername, ID: "legacy", Password: "device-password"}); err != nil {
				t.Fatal(err)
			}
			before := e.brokerWrites()
			e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "legacy"}, Spec: mqttv1.MQTTUserSpec{BrokerRef: e.ref(), KeepExistingPassword: true}})
			e.waitReady(&mqttv1.MQTTUser{}, "legacy")
			var u mqttv1.MQTTUser
			_ = e.get(&u, "legacy")
			if u.Status.PasswordSource != passwordKeptOnBroker || u.Status.CredentialsSecretName != "" || u.Status.PasswordHash != "" {
				t.Fatalf("status = %+v", u.Status)
			}
			if got := e.brokerWrites() - before; got != 0 {
				t.Fatalf("adopting a user made %d broker writes, want 0", got)
			}
			if err := e.get(&corev1.Secret{}, u.GeneratedSecretName()); !apierrors.IsNotFound(err) {
				t.Fatalf("a Secret was generated for a kept password (err %v)", err)
			}
			e.expectEvent("legacy", "Adopted")
			e.eventuallyConnects("c-legacy", "legacy", "device-password", true)

			// A kept password cannot recreate a user that is not there.
			e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "ghost"}, Spec: mqttv1.MQTTUserSpec{BrokerRef: e.ref(), KeepExistingPassword: true}})
			e.condition(&mqttv1.MQTTUser{}, "ghost", mqttv1.ConditionStalled, metav1.ConditionTrue, mqttv1.ReasonPasswordUnknown)

			// Naming a Secret takes the password over.
			e.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "legacy-pw"}, StringData: map[string]string{"pw": "managed-now"}})
			e.update(&u, "legacy", func() { u.Spec.PasswordSecretRef = &mqttv1.SecretKeySelector{Name: "legacy-pw", Key: "pw"} })
			e.waitReady(&mqttv1.MQTTUser{}, "legacy")
			e.eventuallyConnects("c-legacy", "legacy", "managed-now", true)
			e.eventuallyConnects("c-legacy", "legacy", "device-password", false)
			_ = e.get(&u, "legacy")
			if u.Status.PasswordSource != passwordFromSecret {
				t.Fatalf("passwordSource = %q, want Secret", u.Status.PasswordSource)
			}
			// The referenced Secret is labelled so that the cache sees it.
			var s corev1.Secret
			_ = e.get(&s, "legacy-pw")
			if s.Labels[mqttv1.LabelWatch] != "true" {
				t.Fatalf("referenced Secret labels = %v, want the watch label", s.Labels)
			}
		})
	}
}

// A suspended object is left alone on the broker, and says so; resuming
// repairs what changed meanwhile.
func TestSuspend(t *testing.T) {
	e := newEnv(t, broker.APIv4)
	rules := []mqttv1.ACLRule{rule("s/#", mqttv1.ACLActionAll, mqttv1.ACLAllow)}
	e.create(&mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{Name: "acl"}, Spec: mqttv1.MQTTACLSpec{BrokerRef: e.ref(), Subject: mqttv1.ACLSubject{Username: "s"}, Rules: rules}})
	e.waitReady(&mqttv1.MQTTACL{}, "acl")
	var a mqttv1.MQTTACL
	e.update(&a, "acl", func() { a.Spec.Suspend = true })
	e.g.Eventually(func() bool {
		_ = e.get(&a, "acl")
		return apimeta.IsStatusConditionTrue(a.Status.Conditions, mqttv1.ConditionSuspended)
	}, waitFor, 100*time.Millisecond).Should(gomega.BeTrue(), "Suspended condition")

	cl := e.brokerClient()
	subject := broker.Subject{Kind: broker.ByUsername, Name: "s"}
	if err := cl.DeleteRules(e.ctx, subject); err != nil {
		t.Fatal(err)
	}
	// Two resync intervals pass without a repair.
	e.g.Consistently(func() ([]broker.Rule, error) { return cl.GetRules(e.ctx, subject) }, 2*testResync+time.Second, 250*time.Millisecond).
		Should(gomega.BeEmpty(), "a suspended object was repaired")

	e.update(&a, "acl", func() { a.Spec.Suspend = false })
	e.g.Eventually(func() ([]broker.Rule, error) { return cl.GetRules(e.ctx, subject) }, waitFor, 200*time.Millisecond).Should(gomega.HaveLen(1))
	e.waitReady(&mqttv1.MQTTACL{}, "acl")
	_ = e.get(&a, "acl")
	if apimeta.FindStatusCondition(a.Status.Conditions, mqttv1.ConditionSuspended) != nil {
		t.Fatal("Suspended condition left after resuming")
	}
}

// deletionPolicy Retain leaves rules and bans on the broker.
func TestDeletionPolicyRetain(t *testing.T) {
	e := newEnv(t, broker.APIv5)
	e.create(&mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{Name: "acl"}, Spec: mqttv1.MQTTACLSpec{BrokerRef: e.ref(), Subject: mqttv1.ACLSubject{ClientID: "keep"},
		Rules: []mqttv1.ACLRule{rule("k/#", mqttv1.ACLActionPublish, mqttv1.ACLDeny)}, DeletionPolicy: mqttv1.DeletionPolicyRetain}})
	e.create(&mqttv1.MQTTBan{ObjectMeta: metav1.ObjectMeta{Name: "ban"}, Spec: mqttv1.MQTTBanSpec{BrokerRef: e.ref(), As: mqttv1.BanUsername, Who: "kept",
		DeletionPolicy: mqttv1.DeletionPolicyRetain}})
	e.waitReady(&mqttv1.MQTTACL{}, "acl")
	e.waitReady(&mqttv1.MQTTBan{}, "ban")
	e.deleteAndWait(&mqttv1.MQTTACL{}, "acl")
	e.deleteAndWait(&mqttv1.MQTTBan{}, "ban")
	cl := e.brokerClient()
	if rules, err := cl.GetRules(e.ctx, broker.Subject{Kind: broker.ByClientID, Name: "keep"}); err != nil || len(rules) != 1 {
		t.Fatalf("retained rules = %v, %v", rules, err)
	}
	bans, err := cl.ListBans(e.ctx)
	if _, ok := findBan(bans, broker.BanUsername, "kept"); err != nil || !ok {
		t.Fatalf("retained ban missing: %v %v", bans, err)
	}
}

// Deleting a user revokes it: its live sessions are disconnected, since
// EMQX keeps them otherwise. A password change disconnects them when asked.
func TestUserRevocation(t *testing.T) {
	for _, api := range apis {
		t.Run(string(api), func(t *testing.T) {
			e := newEnv(t, api)
			e.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pw"}, StringData: map[string]string{"password": "one"}})
			e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "rot"}, Spec: mqttv1.MQTTUserSpec{BrokerRef: e.ref(),
				PasswordSecretRef: &mqttv1.SecretKeySelector{Name: "pw", Key: "password"}, DisconnectOnPasswordChange: true}})
			e.waitReady(&mqttv1.MQTTUser{}, "rot")
			e.eventuallyConnects("probe", "rot", "one", true)
			live := e.mustConnect("c-rot", "rot", "one")

			var s corev1.Secret
			e.update(&s, "pw", func() { s.Data["password"] = []byte("two") })
			e.g.Eventually(live.Done(), waitFor).Should(gomega.BeClosed(), "the session survived the password change")
			e.expectEvent("rot", "Disconnected")
			e.eventuallyConnects("probe", "rot", "two", true)

			live = e.mustConnect("c-rot", "rot", "two")
			e.deleteAndWait(&mqttv1.MQTTUser{}, "rot")
			e.g.Eventually(live.Done(), waitFor).Should(gomega.BeClosed(), "the session survived the user's deletion")
			if e.canConnect("probe", "rot", "two") {
				t.Fatal("a deleted user can still connect")
			}
		})
	}
}

// The generated Secret carries the template's metadata, goes with its user,
// and one an earlier user of the same name left behind is taken over
// instead of blocking the new one.
func TestGeneratedSecretLifecycle(t *testing.T) {
	e := newEnv(t, broker.APIv4)
	u := &mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "gen"}, Spec: mqttv1.MQTTUserSpec{BrokerRef: e.ref(),
		SecretTemplate: &mqttv1.SecretTemplate{Labels: map[string]string{"team": "a", "reflect": "yes"}, Annotations: map[string]string{"note": "x"}}}}
	e.create(u)
	e.waitReady(&mqttv1.MQTTUser{}, "gen")
	secret := u.GeneratedSecretName()
	var s corev1.Secret
	_ = e.get(&s, secret)
	if s.Labels["team"] != "a" || s.Labels["reflect"] != "yes" || s.Annotations["note"] != "x" ||
		s.Labels[mqttv1.LabelManagedBy] != mqttv1.ManagedByValue || s.Labels[mqttv1.LabelWatch] != "true" {
		t.Fatalf("generated Secret metadata: labels %v annotations %v", s.Labels, s.Annotations)
	}
	pw := string(s.Data["password"])

	// A key dropped from the template leaves the Secret.
	e.update(u, "gen", func() { u.Spec.SecretTemplate.Labels = map[string]string{"team": "b"} })
	e.g.Eventually(func() map[string]string {
		_ = e.get(&s, secret)
		return s.Labels
	}, waitFor, 100*time.Millisecond).Should(gomega.And(gomega.HaveKeyWithValue("team", "b"), gomega.Not(gomega.HaveKey("reflect"))))
	if string(s.Data["password"]) != pw {
		t.Fatal("a template change regenerated the password")
	}

	// Deleting the user deletes its Secret at once (no garbage collector
	// runs here, so this is the finalizer's doing).
	e.deleteAndWait(&mqttv1.MQTTUser{}, "gen")
	if err := e.get(&corev1.Secret{}, secret); !apierrors.IsNotFound(err) {
		t.Fatalf("generated Secret outlived its user (err %v)", err)
	}

	// A Secret left behind by an MQTTUser of the same name that is gone
	// (a force-deleted one, or one whose garbage collection is late) is
	// taken over with its password, as kubectl replace needs.
	old := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secret, Labels: map[string]string{
		mqttv1.LabelManagedBy: mqttv1.ManagedByValue, mqttv1.LabelUser: "gen", mqttv1.LabelWatch: "true"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: mqttv1.GroupVersion.String(), Kind: "MQTTUser", Name: "gen",
			UID: types.UID("00000000-dead-beef-0000-000000000000"), Controller: ptr.To(true)}}},
		StringData: map[string]string{"password": "left-behind"}}
	e.create(old)
	e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "gen"}, Spec: mqttv1.MQTTUserSpec{BrokerRef: e.ref()}})
	e.waitReady(&mqttv1.MQTTUser{}, "gen")
	e.expectEvent("gen", "SecretAdopted")
	e.eventuallyConnects("c-gen", "gen", "left-behind", true)

	// With Retain, the broker user and its Secret outlive the object, and
	// the next MQTTUser of the name takes both over.
	var cur mqttv1.MQTTUser
	e.update(&cur, "gen", func() { cur.Spec.DeletionPolicy = mqttv1.DeletionPolicyRetain })
	e.waitReady(&mqttv1.MQTTUser{}, "gen")
	e.deleteAndWait(&mqttv1.MQTTUser{}, "gen")
	_ = e.get(&s, secret)
	if metav1.GetControllerOf(&s) != nil {
		t.Fatalf("retained Secret still has a controller: %v", s.OwnerReferences)
	}
	e.eventuallyConnects("c-gen", "gen", "left-behind", true)
	e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "gen"}, Spec: mqttv1.MQTTUserSpec{BrokerRef: e.ref()}})
	e.waitReady(&mqttv1.MQTTUser{}, "gen")
	e.eventuallyConnects("c-gen", "gen", "left-behind", true)

	// A Secret of the name that the operator did not generate is never
	// taken: the user stalls and says why.
	e.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "mine-mqtt-credentials"}, StringData: map[string]string{"password": "not yours"}})
	e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "mine"}, Spec: mqttv1.MQTTUserSpec{BrokerRef: e.ref()}})
	e.condition(&mqttv1.MQTTUser{}, "mine", mqttv1.ConditionStalled, metav1.ConditionTrue, mqttv1.ReasonSecretInvalid)
}

// An object deleted while its broker is unreachable says why it is still
// there, and goes once the broker is back.
func TestDeletingWhileBrokerDown(t *testing.T) {
	e := newEnv(t, broker.APIv5)
	e.create(&mqttv1.MQTTBan{ObjectMeta: metav1.ObjectMeta{Name: "ban"}, Spec: mqttv1.MQTTBanSpec{BrokerRef: e.ref(), As: mqttv1.BanClientID, Who: "x"}})
	e.waitReady(&mqttv1.MQTTBan{}, "ban")
	if err := e.tb.StopAPI(); err != nil {
		t.Fatal(err)
	}
	var b mqttv1.MQTTBan
	_ = e.get(&b, "ban")
	if err := k8sClient.Delete(e.ctx, &b); err != nil {
		t.Fatal(err)
	}
	e.g.Eventually(func(g gomega.Gomega) {
		g.Expect(e.get(&b, "ban")).To(gomega.Succeed())
		c := apimeta.FindStatusCondition(b.Status.Conditions, mqttv1.ConditionReady)
		g.Expect(c).NotTo(gomega.BeNil())
		g.Expect(c.Status).To(gomega.Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(gomega.Equal(mqttv1.ReasonDeleting))
		g.Expect(c.Message).To(gomega.ContainSubstring("cannot finish deletion"))
		g.Expect(apimeta.IsStatusConditionTrue(b.Status.Conditions, mqttv1.ConditionReconciling)).To(gomega.BeTrue())
	}, waitFor, 100*time.Millisecond).Should(gomega.Succeed())
	if err := e.tb.StartAPI(); err != nil {
		t.Fatal(err)
	}
	e.g.Eventually(func() bool { return apierrors.IsNotFound(e.get(&b, "ban")) }, waitFor, 100*time.Millisecond).Should(gomega.BeTrue())
	bans, err := e.brokerClient().ListBans(e.ctx)
	if _, ok := findBan(bans, broker.BanClientID, "x"); err != nil || ok {
		t.Fatalf("ban left on the broker: %v %v", bans, err)
	}
}

// A superuser flag changed on the broker is drift like any other: put
// back, with the one Event reason and metric for repairs.
func TestSuperuserDriftCounted(t *testing.T) {
	e := newEnv(t, broker.APIv5)
	e.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pw"}, StringData: map[string]string{"password": "p"}})
	e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "root"}, Spec: mqttv1.MQTTUserSpec{BrokerRef: e.ref(), Superuser: true,
		PasswordSecretRef: &mqttv1.SecretKeySelector{Name: "pw", Key: "password"}}})
	e.waitReady(&mqttv1.MQTTUser{}, "root")
	before := testutil.ToFloat64(driftCorrections.WithLabelValues("MQTTUser"))
	cl := e.brokerClient()
	if err := cl.UpdateUser(e.ctx, broker.UserSpec{Kind: broker.ByUsername, ID: "root", Password: "p", Superuser: false}); err != nil {
		t.Fatal(err)
	}
	e.g.Eventually(func() (bool, error) {
		u, err := cl.GetUser(e.ctx, broker.ByUsername, "root")
		return u.Superuser, err
	}, 2*testResync+15*time.Second, 200*time.Millisecond).Should(gomega.BeTrue(), "superuser flag not put back")
	e.expectEvent("root", "Repaired")
	if after := testutil.ToFloat64(driftCorrections.WithLabelValues("MQTTUser")); after <= before {
		t.Fatalf("drift counter %v -> %v, want an increase", before, after)
	}
}
