package controllers

import (
	"fmt"
	"testing"
	"time"

	"github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/resources"
	"github.com/mqttoperator/mqtt-operator/internal/testbroker"
)

// markStatefulSetReady plays the StatefulSet controller and kubelet, which
// envtest does not run: once the operator asked for the replicas, every
// replica is updated and ready.
func (e *env) markStatefulSetReady(name string, replicas int32) {
	e.t.Helper()
	var sts appsv1.StatefulSet
	e.g.Eventually(func() error {
		if err := e.get(&sts, name); err != nil {
			return err
		}
		n := ptr.Deref(sts.Spec.Replicas, 1)
		if n != replicas {
			return fmt.Errorf("StatefulSet has %d replicas, want %d", n, replicas)
		}
		sts.Status = appsv1.StatefulSetStatus{ObservedGeneration: sts.Generation, Replicas: n, ReadyReplicas: n, AvailableReplicas: n,
			UpdatedReplicas: n, CurrentReplicas: n, CurrentRevision: "rev", UpdateRevision: "rev"}
		return k8sClient.Status().Update(e.ctx, &sts)
	}, waitFor, 100*time.Millisecond).Should(gomega.Succeed())
}

// ownedBy checks that the named object exists and is controlled by owner.
func (e *env) ownedBy(obj client.Object, name string, owner client.Object) {
	e.t.Helper()
	e.g.Eventually(func() error { return e.get(obj, name) }, waitFor, 100*time.Millisecond).Should(gomega.Succeed(), "%T %s not created", obj, name)
	if !metav1.IsControlledBy(obj, owner) {
		e.t.Fatalf("%T %s is not controlled by the MQTTBroker: %+v", obj, name, obj.GetOwnerReferences())
	}
}

// testClusterDomain is the cluster domain the stand-in nodes report, as
// pods in a cluster whose DNS domain is not cluster.local would.
const testClusterDomain = "cluster.example"

// nodeName is the EMQX node name of the env's managed broker's pod i.
func (e *env) nodeName(i int) string {
	return fmt.Sprintf("emqx@%s-%d.%s-headless.%s.svc.%s", e.broker, i, e.broker, e.ns, testClusterDomain)
}

// nodes is a cluster view with the given pods' nodes running.
func (e *env) nodes(running ...int) []testbroker.ClusterNode {
	out := make([]testbroker.ClusterNode, 0, len(running))
	for _, i := range running {
		out = append(out, testbroker.ClusterNode{Name: e.nodeName(i), Running: true})
	}
	return out
}

// standIn starts a test broker that accepts the generated API credentials
// and plays the managed broker's nodes: both forms of the API URL (before
// and after the operator learns the cluster domain) lead to it, and its
// cluster view holds the first `replicas` nodes, running.
func (e *env) standIn(b *mqttv1.MQTTBroker, replicas int) *testbroker.Broker {
	e.t.Helper()
	user := e.secretValue(resources.CredentialsSecretName(b), "username")
	pass := e.secretValue(resources.CredentialsSecretName(b), "password")
	tb, err := testbroker.New(testbroker.Options{AppID: user, AppSecret: pass})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := tb.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = tb.Close() })
	e.tb = tb
	view := make([]int, replicas)
	for i := range view {
		view[i] = i
	}
	tb.SetClusterViews(e.nodes(view...))
	for _, domain := range []string{"", testClusterDomain} {
		bb := b.DeepCopy()
		bb.Status.ClusterDomain = domain
		url := resources.APIURL(bb)
		urlRewrites.Store(url, tb.APIURL())
		e.t.Cleanup(func() { urlRewrites.Delete(url) })
	}
	return tb
}

// newManaged creates a managed MQTTBroker named e.broker.
func (e *env) newManaged(managed mqttv1.ManagedBroker) *mqttv1.MQTTBroker {
	e.t.Helper()
	b := &mqttv1.MQTTBroker{ObjectMeta: metav1.ObjectMeta{Name: e.broker}, Spec: mqttv1.MQTTBrokerSpec{Managed: &managed}}
	e.create(b)
	_ = e.get(b, e.broker)
	return b
}

// readyManaged creates a managed broker with a stand-in and waits until it
// is Ready with every node in one cluster.
func (e *env) readyManaged(managed mqttv1.ManagedBroker) (*mqttv1.MQTTBroker, *testbroker.Broker) {
	e.t.Helper()
	b := e.newManaged(managed)
	n := int(ptr.Deref(managed.Replicas, 1))
	tb := e.standIn(b, n)
	e.markStatefulSetReady(resources.StatefulSetName(b), int32(n))
	e.waitReady(&mqttv1.MQTTBroker{}, e.broker)
	_ = e.get(b, e.broker)
	return b, tb
}

func newManagedEnv(t *testing.T, api broker.APIVersion) *env {
	return &env{t: t, g: gomega.NewWithT(t), ctx: suiteCtx, ns: newNamespace(t), broker: "emqx", api: api}
}

func TestManagedBroker(t *testing.T) {
	cases := []struct {
		version string
		api     broker.APIVersion
	}{{"5.8.6", broker.APIv5}, {"4.4.19", broker.APIv4}}
	for _, tc := range cases {
		t.Run(tc.version, func(t *testing.T) {
			e := newManagedEnv(t, tc.api)
			b := e.newManaged(mqttv1.ManagedBroker{Version: tc.version})

			// The owned objects exist, for real, on the API server.
			for _, o := range []struct {
				obj  client.Object
				name string
			}{
				{&appsv1.StatefulSet{}, resources.StatefulSetName(b)},
				{&corev1.Service{}, resources.HeadlessServiceName(b)},
				{&corev1.Service{}, resources.ClientServiceName(b)},
				{&corev1.Service{}, resources.APIServiceName(b)},
				{&corev1.ConfigMap{}, resources.ConfigMapName(b)},
				{&corev1.Secret{}, resources.CredentialsSecretName(b)},
				{&corev1.Secret{}, resources.CookieSecretName(b)},
			} {
				e.ownedBy(o.obj, o.name, b)
			}
			// Generated Secrets carry the labels the manager's cache selects on.
			for _, name := range []string{resources.CredentialsSecretName(b), resources.CookieSecretName(b)} {
				var s corev1.Secret
				_ = e.get(&s, name)
				if s.Labels[mqttv1.LabelManagedBy] != mqttv1.ManagedByValue || s.Labels[mqttv1.LabelWatch] != "true" {
					t.Errorf("Secret %s labels = %v", name, s.Labels)
				}
			}
			var pdb policyv1.PodDisruptionBudget
			if err := e.get(&pdb, resources.PDBName(b)); !apierrors.IsNotFound(err) {
				t.Fatalf("a one-node broker has a PodDisruptionBudget (err %v)", err)
			}
			// No pod is ready: the broker is progressing, not failed.
			e.condition(&mqttv1.MQTTBroker{}, "emqx", mqttv1.ConditionReconciling, metav1.ConditionTrue, "")

			// A test broker stands in for the pods, with the generated credentials.
			tb := e.standIn(b, 1)
			e.markStatefulSetReady(resources.StatefulSetName(b), 1)
			e.waitReady(&mqttv1.MQTTBroker{}, "emqx")
			_ = e.get(b, "emqx")
			if b.Status.APIURL != resources.APIURL(b) || b.Status.APIVersion != mqttv1.BrokerAPIVersion(tc.api) || b.Status.ReadyReplicas != 1 || b.Status.BrokerVersion == "" {
				t.Fatalf("broker status = %+v", b.Status)
			}

			// Users work against it as against an external broker.
			e.userWithPassword("dev", "dev-password")
			e.eventuallyConnects("c-dev", "dev", "dev-password", true)

			// A version change rolls the pods; more replicas get a budget.
			var sts appsv1.StatefulSet
			_ = e.get(&sts, resources.StatefulSetName(b))
			oldImage := sts.Spec.Template.Spec.Containers[0].Image
			newVersion := map[string]string{"5.8.6": "5.8.7", "4.4.19": "4.4.18"}[tc.version]
			e.update(b, "emqx", func() {
				b.Spec.Managed.Version = newVersion
				b.Spec.Managed.Replicas = ptr.To[int32](3)
			})
			e.g.Eventually(func(g gomega.Gomega) {
				g.Expect(e.get(&sts, resources.StatefulSetName(b))).To(gomega.Succeed())
				g.Expect(sts.Spec.Template.Spec.Containers[0].Image).NotTo(gomega.Equal(oldImage))
				g.Expect(sts.Spec.Template.Spec.Containers[0].Image).To(gomega.ContainSubstring(newVersion))
				g.Expect(ptr.Deref(sts.Spec.Replicas, 0)).To(gomega.Equal(int32(3)))
			}, waitFor, 100*time.Millisecond).Should(gomega.Succeed())
			e.ownedBy(&pdb, resources.PDBName(b), b)
			e.condition(&mqttv1.MQTTBroker{}, "emqx", mqttv1.ConditionReconciling, metav1.ConditionTrue, mqttv1.ReasonRollingOut)
			tb.SetClusterViews(e.nodes(0, 1, 2))
			e.markStatefulSetReady(resources.StatefulSetName(b), 3)
			e.waitReady(&mqttv1.MQTTBroker{}, "emqx")

			if tc.api == broker.APIv5 {
				// Scaling down force-leaves the departed, stopped nodes (5.x only).
				tb.SetClusterViews(append(e.nodes(0), testbroker.ClusterNode{Name: e.nodeName(1)}, testbroker.ClusterNode{Name: e.nodeName(2)},
					testbroker.ClusterNode{Name: "emqx@elsewhere"}))
				e.update(b, "emqx", func() { b.Spec.Managed.Replicas = ptr.To[int32](1) })
				e.markStatefulSetReady(resources.StatefulSetName(b), 1)
				e.waitReady(&mqttv1.MQTTBroker{}, "emqx")
				e.g.Eventually(tb.ForcedLeaves, waitFor, 100*time.Millisecond).Should(gomega.Equal([]string{e.nodeName(2), e.nodeName(1)}),
					"the stopped nodes of removed pods (and only those) are force-left, highest ordinal first")
				e.expectEvent("emqx", "NodeRemoved")
			}

			// Deleting the broker removes what it owns.
			e.deleteAndWait(&mqttv1.MQTTBroker{}, "emqx")
			for _, o := range []struct {
				obj  client.Object
				name string
			}{
				{&appsv1.StatefulSet{}, resources.StatefulSetName(b)},
				{&corev1.Service{}, resources.ClientServiceName(b)},
				{&corev1.Service{}, resources.APIServiceName(b)},
				{&corev1.Service{}, resources.HeadlessServiceName(b)},
				{&corev1.ConfigMap{}, resources.ConfigMapName(b)},
				{&corev1.Secret{}, resources.CredentialsSecretName(b)},
				{&corev1.Secret{}, resources.CookieSecretName(b)},
				{&policyv1.PodDisruptionBudget{}, resources.PDBName(b)},
			} {
				e.g.Eventually(func() bool { return apierrors.IsNotFound(e.get(o.obj, o.name)) }, waitFor, 100*time.Millisecond).
					Should(gomega.BeTrue(), "%T %s was not deleted with the broker", o.obj, o.name)
			}
		})
	}
}

// A spec the operator cannot run is Stalled with a clear message.
func TestManagedBrokerRefusesProtectedEnv(t *testing.T) {
	e := &env{t: t, g: gomega.NewWithT(t), ctx: suiteCtx, ns: newNamespace(t)}
	e.create(&mqttv1.MQTTBroker{ObjectMeta: metav1.ObjectMeta{Name: "emqx"}, Spec: mqttv1.MQTTBrokerSpec{Managed: &mqttv1.ManagedBroker{
		Version: "5.8.6", Env: []corev1.EnvVar{{Name: "EMQX_AUTHORIZATION__NO_MATCH", Value: "allow"}}}}})
	c := e.condition(&mqttv1.MQTTBroker{}, "emqx", mqttv1.ConditionStalled, metav1.ConditionTrue, mqttv1.ReasonInvalidSpec)
	e.g.Expect(c.Message).To(gomega.ContainSubstring("EMQX_AUTHORIZATION__NO_MATCH"))
}
