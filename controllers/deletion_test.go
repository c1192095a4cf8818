package controllers

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/test/kcm"
)

// deletionBound is the most a namespace deletion or a released finalizer
// may take here: the namespace controller retries every few seconds and
// the operator's backoff is capped at two seconds in these tests.
const deletionBound = 90 * time.Second

// withControllerManager runs a real kube-controller-manager (garbage
// collector and namespace controller) against the suite's API server for
// the rest of the test.
func withControllerManager(t *testing.T) {
	t.Helper()
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join("..", "bin", "k8s")
	}
	k, err := kcm.Start(context.Background(), testCfg, kcm.Options{BinaryAssetsDirectory: assets})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Stop() })
}

// everything creates one object of each kind (two users: generated and
// Secret password) in ns against the env's broker, and waits until all are
// Ready.
func (e *env) everything(ns string, ref mqttv1.BrokerReference) []statusObject {
	e.t.Helper()
	create := func(o client.Object) {
		o.SetNamespace(ns)
		if err := k8sClient.Create(e.ctx, o); err != nil {
			e.t.Fatalf("create %s: %v", o.GetName(), err)
		}
	}
	create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pw-" + ns}, StringData: map[string]string{"password": "secret-" + ns}})
	objs := []statusObject{
		&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "gen-" + ns}, Spec: mqttv1.MQTTUserSpec{BrokerRef: ref}},
		&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "ref-" + ns}, Spec: mqttv1.MQTTUserSpec{BrokerRef: ref,
			PasswordSecretRef: &mqttv1.SecretKeySelector{Name: "pw-" + ns, Key: "password"}}},
		&mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{Name: "acl-" + ns}, Spec: mqttv1.MQTTACLSpec{BrokerRef: ref, Subject: mqttv1.ACLSubject{Username: "gen-" + ns},
			Rules: []mqttv1.ACLRule{{Topic: "t/#", Action: mqttv1.ACLActionAll, Permission: mqttv1.ACLAllow}}}},
		&mqttv1.MQTTBan{ObjectMeta: metav1.ObjectMeta{Name: "ban-" + ns}, Spec: mqttv1.MQTTBanSpec{BrokerRef: ref, As: mqttv1.BanClientID, Who: "ban-" + ns}},
	}
	for _, o := range objs {
		create(o)
	}
	for _, o := range objs {
		e.g.Eventually(func() bool {
			cp := o.DeepCopyObject().(statusObject)
			if err := k8sClient.Get(e.ctx, client.ObjectKeyFromObject(o), cp); err != nil {
				return false
			}
			return cp.GetCommonStatus().IsReady(cp.GetGeneration())
		}, waitFor, 100*time.Millisecond).Should(gomega.BeTrue(), "%s %s not Ready", o.GetObjectKind(), o.GetName())
	}
	return objs
}

// brokerHolds reports which of the namespace's entries the test broker
// still holds: the two users, the ACL subject's rules and the ban.
func (e *env) brokerHolds(ns string) map[string]bool {
	e.t.Helper()
	cl := e.brokerClient()
	held := map[string]bool{}
	for _, u := range []string{"gen-" + ns, "ref-" + ns} {
		if _, err := cl.GetUser(e.ctx, broker.ByUsername, u); err == nil {
			held["user "+u] = true
		}
	}
	if rules, err := cl.GetRules(e.ctx, broker.Subject{Kind: broker.ByUsername, Name: "gen-" + ns}); err == nil && len(rules) > 0 {
		held["rules of gen-"+ns] = true
	}
	if bans, err := cl.ListBans(e.ctx); err == nil {
		if _, ok := findBan(bans, broker.BanClientID, "ban-"+ns); ok {
			held["ban ban-"+ns] = true
		}
	}
	return held
}

// showDeleting waits until every object reports, with reason Deleting on
// Ready, why its deletion cannot finish.
func (e *env) showDeleting(objs []statusObject) {
	e.t.Helper()
	for _, o := range objs {
		e.g.Eventually(func(g gomega.Gomega) {
			cp := o.DeepCopyObject().(statusObject)
			g.Expect(k8sClient.Get(e.ctx, client.ObjectKeyFromObject(o), cp)).To(gomega.Succeed())
			c := apimeta.FindStatusCondition(cp.GetCommonStatus().Conditions, mqttv1.ConditionReady)
			g.Expect(c).NotTo(gomega.BeNil())
			g.Expect(c.Status).To(gomega.Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(gomega.Equal(mqttv1.ReasonDeleting))
			g.Expect(c.Message).NotTo(gomega.BeEmpty())
		}, waitFor, 200*time.Millisecond).Should(gomega.Succeed(), "%s does not show why it is still there", o.GetName())
	}
}

func waitNamespaceGone(t *testing.T, g gomega.Gomega, ns string) time.Duration {
	t.Helper()
	start := time.Now()
	g.Eventually(func() bool {
		return apierrors.IsNotFound(k8sClient.Get(context.Background(), client.ObjectKey{Name: ns}, &corev1.Namespace{}))
	}, deletionBound, 200*time.Millisecond).Should(gomega.BeTrue(), "namespace %s was not deleted within %s", ns, deletionBound)
	return time.Since(start)
}

func deleteNamespace(t *testing.T, ns string) {
	t.Helper()
	if err := k8sClient.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
}

// A namespace holding a broker and everything that uses it is deleted
// completely by the namespace controller, whether the broker answers or
// not: no finalizer waits for a broker whose MQTTBroker is gone
// (docs/internals/deletion.md).
func TestNamespaceDeletionWithEverythingInside(t *testing.T) {
	withControllerManager(t)
	for _, reachable := range []bool{true, false} {
		name := map[bool]string{true: "broker reachable", false: "broker down"}[reachable]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, broker.APIv5)
			e.everything(e.ns, e.ref())
			if !reachable {
				if err := e.tb.StopAPI(); err != nil {
					t.Fatal(err)
				}
			}
			deleteNamespace(t, e.ns)
			took := waitNamespaceGone(t, e.g, e.ns)
			t.Logf("namespace deleted in %s", took.Round(100*time.Millisecond))
			if reachable {
				// Entries of objects finalized before their MQTTBroker went are
				// removed; the others stay (the rule of docs/internals/deletion.md).
				t.Logf("entries left on the broker: %v", e.brokerHolds(e.ns))
			}
			if !reachable {
				if err := e.tb.StartAPI(); err != nil {
					t.Fatal(err)
				}
				// Nothing could reach the broker: its entries stay, to be
				// adopted should the objects come back.
				e.g.Expect(e.brokerHolds(e.ns)).To(gomega.HaveLen(4))
			}
		})
	}
}

// Objects in a namespace that use a broker elsewhere clean up the broker
// when their namespace goes. While that broker is unreachable the namespace
// waits, and its objects say why (reason Deleting); once it answers, the
// namespace goes and the broker holds nothing of it.
func TestNamespaceDeletionCrossNamespace(t *testing.T) {
	withControllerManager(t)
	e := newEnv(t, broker.APIv4)
	tenant := newNamespace(t)
	var b mqttv1.MQTTBroker
	e.update(&b, e.broker, func() { b.Spec.AllowedNamespaces = []string{tenant} })
	e.waitReady(&mqttv1.MQTTBroker{}, e.broker)
	ref := mqttv1.BrokerReference{Name: e.broker, Namespace: e.ns}
	e.everything(tenant, ref)

	// Reachable: everything is removed from the broker.
	deleteNamespace(t, tenant)
	waitNamespaceGone(t, e.g, tenant)
	e.g.Expect(e.brokerHolds(tenant)).To(gomega.BeEmpty(), "the broker still holds entries of the deleted namespace")

	// Unreachable: the namespace waits and says why.
	other := newNamespace(t)
	e.update(&b, e.broker, func() { b.Spec.AllowedNamespaces = []string{other} })
	e.waitReady(&mqttv1.MQTTBroker{}, e.broker)
	objs := e.everything(other, mqttv1.BrokerReference{Name: e.broker, Namespace: e.ns})
	if err := e.tb.StopAPI(); err != nil {
		t.Fatal(err)
	}
	deleteNamespace(t, other)
	e.showDeleting(objs)
	e.g.Consistently(func() error {
		return k8sClient.Get(e.ctx, client.ObjectKey{Name: other}, &corev1.Namespace{})
	}, 5*time.Second, time.Second).Should(gomega.Succeed(), "the namespace went while its objects could not clean up")
	if err := e.tb.StartAPI(); err != nil {
		t.Fatal(err)
	}
	took := waitNamespaceGone(t, e.g, other)
	t.Logf("namespace deleted %s after the broker came back", took.Round(100*time.Millisecond))
	e.g.Expect(e.brokerHolds(other)).To(gomega.BeEmpty(), "the broker still holds entries of the deleted namespace")
}

// Deleting the MQTTBroker releases every object that waits on it: an
// object deleted while the broker is down shows Deleting, and goes as soon
// as its MQTTBroker does (there is nothing left to clean up through).
func TestBrokerDeletedReleasesWaitingObjects(t *testing.T) {
	e := newEnv(t, broker.APIv5)
	objs := e.everything(e.ns, e.ref())
	if err := e.tb.StopAPI(); err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if err := k8sClient.Delete(e.ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	e.showDeleting(objs)
	e.deleteAndWait(&mqttv1.MQTTBroker{}, e.broker)
	start := time.Now()
	for _, o := range objs {
		e.g.Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(e.ctx, client.ObjectKeyFromObject(o), o.DeepCopyObject().(client.Object)))
		}, deletionBound, 100*time.Millisecond).Should(gomega.BeTrue(), "%s was not released after its MQTTBroker went", o.GetName())
	}
	t.Logf("objects released %s after the MQTTBroker was deleted", time.Since(start).Round(100*time.Millisecond))
	if err := e.tb.StartAPI(); err != nil {
		t.Fatal(err)
	}
	e.g.Expect(e.brokerHolds(e.ns)).To(gomega.HaveLen(4), "entries stay on a broker the operator can no longer reach")
}
