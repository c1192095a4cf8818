package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/drivers"
	"github.com/mqttoperator/mqtt-operator/internal/resources"
	"github.com/mqttoperator/mqtt-operator/internal/testbroker"
)

// Tests of a managed broker's second day: version rules, cluster
// membership, credential and cookie continuity, rollouts that wait for a
// node to join, departed nodes, TLS, licensing, host names and suspend.
// The test broker stands in for the EMQX pods; the test plays the
// StatefulSet controller and the kubelet, which envtest does not run.

// licenseRef is a license Secret reference for the version tests.
var licenseRef = &mqttv1.SecretKeySelector{Name: "emqx-license", Key: "license.key"}

// Points 1, 4 and 5: the CRD refuses at admission what EMQX cannot run, and
// resources.ValidateSpec, which guards objects stored before these rules,
// agrees on every new object.
func TestManagedVersionAdmission(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	managed := func(version string, replicas int32, license *mqttv1.SecretKeySelector) *mqttv1.MQTTBroker {
		return &mqttv1.MQTTBroker{ObjectMeta: metav1.ObjectMeta{GenerateName: "v-", Namespace: ns}, Spec: mqttv1.MQTTBrokerSpec{Managed: &mqttv1.ManagedBroker{
			Version: version, Replicas: ptr.To(replicas), LicenseSecretRef: license}}}
	}
	create := []struct {
		name    string
		obj     *mqttv1.MQTTBroker
		wantErr string // empty: accepted
	}{
		{"4.4.10 has no bootstrap apps file", managed("4.4.10", 1, nil), "4.4.11 or later"},
		{"4.3 is not 4.4", managed("4.3.22", 1, nil), "4.4.11 or later"},
		{"4.4.11", managed("4.4.11", 1, nil), ""},
		{"5.0.13 has no API key bootstrap file", managed("5.0.13", 1, nil), "5.0.14 or later"},
		{"5.0.14", managed("5.0.14", 1, nil), ""},
		{"5.1.0", managed("5.1.0", 3, nil), ""},
		{"5.8.9 clusters without a license", managed("5.8.9", 3, nil), ""},
		{"5.9 single node without a license", managed("5.9.0", 1, nil), ""},
		{"5.9 cluster without a license", managed("5.9.0", 3, nil), "run a single node without a license"},
		{"5.10 cluster with a license", managed("5.10.1", 3, licenseRef), ""},
		{"a license on 4.x", managed("4.4.19", 1, licenseRef), "licenseSecretRef applies to EMQX 5 only"},
		{"6.x", managed("6.0.0", 1, nil), "spec.managed.version"},
	}
	for _, tc := range create {
		t.Run("create "+tc.name, func(t *testing.T) {
			// ValidateSpec sees the object as the API server stores it.
			local := tc.obj.DeepCopy()
			local.Name = "v-local"
			verr := resources.ValidateSpec(local)
			err := k8sClient.Create(ctx, tc.obj)
			if tc.wantErr == "" {
				if err != nil || verr != nil {
					t.Fatalf("want accepted, got admission %v, ValidateSpec %v", err, verr)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("want rejected with %q, got %v", tc.wantErr, err)
			}
			if verr == nil {
				t.Errorf("admission refuses it but ValidateSpec accepts it")
			}
		})
	}

	update := []struct {
		name, from, to string
		replicas       int32
		wantErr        string
	}{
		{"4 to 5 is not an upgrade", "4.4.19", "5.8.6", 1, "docs/migrating-4-to-5.md"},
		{"5 to 4 neither", "5.8.6", "4.4.19", 1, "cannot change between EMQX 4 and EMQX 5"},
		{"a minor downgrade", "5.8.6", "5.7.2", 1, "cannot go back to an earlier minor version"},
		{"a patch downgrade", "5.8.6", "5.8.5", 1, ""},
		{"a minor upgrade", "5.8.6", "5.10.0", 1, ""},
		{"a patch upgrade on 4.4", "4.4.18", "4.4.19", 3, ""},
		{"a patch downgrade on 4.4", "4.4.19", "4.4.18", 3, ""},
		{"into 5.9 as a cluster without a license", "5.8.6", "5.9.0", 3, "run a single node without a license"},
	}
	for _, tc := range update {
		t.Run("update "+tc.name, func(t *testing.T) {
			b := managed(tc.from, tc.replicas, nil)
			if err := k8sClient.Create(ctx, b); err != nil {
				t.Fatalf("create: %v", err)
			}
			before := b.DeepCopy()
			b.Spec.Managed.Version = tc.to
			err := k8sClient.Patch(ctx, b, client.MergeFrom(before))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("want accepted, got %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("want rejected with %q, got %v", tc.wantErr, err)
			}
		})
	}
}

// Point 2: Ready needs every replica's node running in one cluster. A
// split, a node that never joined and a stranger in the cluster each show
// as a reason with the node names, and dependents wait.
func TestManagedClusterMembership(t *testing.T) {
	for _, tc := range []struct {
		version     string
		api         broker.APIVersion
		splitReason string
	}{
		{"5.8.6", broker.APIv5, mqttv1.ReasonClusterSplit},
		// 4.4 lists no stopped members: a split shows as missing nodes.
		{"4.4.19", broker.APIv4, mqttv1.ReasonNodesMissing},
	} {
		t.Run(tc.version, func(t *testing.T) {
			e := newManagedEnv(t, tc.api)
			_, tb := e.readyManaged(mqttv1.ManagedBroker{Version: tc.version, Replicas: ptr.To[int32](3)})
			b := &mqttv1.MQTTBroker{}

			// A split: each side answers in turn and has lost the other.
			lost := func(i int) testbroker.ClusterNode { return testbroker.ClusterNode{Name: e.nodeName(i)} }
			tb.SetClusterViews(append(e.nodes(0, 1), lost(2)), append(e.nodes(2), lost(0), lost(1)))
			c := e.condition(b, e.broker, mqttv1.ConditionReady, metav1.ConditionFalse, tc.splitReason)
			for i := range 3 {
				e.g.Expect(c.Message).To(gomega.ContainSubstring(e.nodeName(i)))
			}
			e.g.Expect(c.Message).To(gomega.ContainSubstring("not in one cluster"))

			// Dependents wait instead of writing to half a cluster.
			e.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "late-pw"}, StringData: map[string]string{"password": "late-password"}})
			e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "late"}, Spec: mqttv1.MQTTUserSpec{
				BrokerRef: e.ref(), PasswordSecretRef: &mqttv1.SecretKeySelector{Name: "late-pw", Key: "password"}}})
			uc := e.condition(&mqttv1.MQTTUser{}, "late", mqttv1.ConditionReady, metav1.ConditionFalse, mqttv1.ReasonBrokerNotReady)
			e.g.Expect(uc.Message).To(gomega.ContainSubstring("not in one cluster"))
			if e.canConnect("c-late", "late", "late-password") {
				t.Fatal("the user was written to the broker during the split")
			}

			// Healed: the broker and its dependents carry on.
			tb.SetClusterViews(e.nodes(0, 1, 2))
			e.waitReady(b, e.broker)
			e.waitReady(&mqttv1.MQTTUser{}, "late")
			e.eventuallyConnects("c-late", "late", "late-password", true)

			// A node that never joined (it formed a cluster of its own).
			tb.SetClusterViews(e.nodes(0, 1), e.nodes(2))
			c = e.condition(b, e.broker, mqttv1.ConditionReady, metav1.ConditionFalse, mqttv1.ReasonNodesMissing)
			e.g.Expect(c.Message).To(gomega.Or(gomega.ContainSubstring(e.nodeName(2)), gomega.ContainSubstring(e.nodeName(0))))

			// A running member that is none of the broker's pods.
			tb.SetClusterViews(append(e.nodes(0, 1, 2), testbroker.ClusterNode{Name: "emqx@intruder.example", Running: true}))
			c = e.condition(b, e.broker, mqttv1.ConditionReady, metav1.ConditionFalse, mqttv1.ReasonUnexpectedNodes)
			e.g.Expect(c.Message).To(gomega.ContainSubstring("emqx@intruder.example"))

			tb.SetClusterViews(e.nodes(0, 1, 2))
			e.waitReady(b, e.broker)
		})
	}
}

// Point 3: losing the credentials Secret regenerates the API credentials
// but never the cookie; the pods roll (EMQX reads the bootstrap file at
// start), no pod is restarted out of turn, and the operator regains
// access once a restarted node has re-applied the bootstrap file.
func TestManagedCredentialsSecretLost(t *testing.T) {
	for _, tc := range []struct {
		version string
		api     broker.APIVersion
	}{{"5.8.6", broker.APIv5}, {"4.4.19", broker.APIv4}} {
		t.Run(tc.version, func(t *testing.T) {
			e := newManagedEnv(t, tc.api)
			b, _ := e.readyManaged(mqttv1.ManagedBroker{Version: tc.version, Replicas: ptr.To[int32](3)})
			pods := e.runPods(b, 3)
			for i := range 3 {
				e.g.Eventually(func() bool { return e.podReady(b, i) }, waitFor, 100*time.Millisecond).Should(gomega.BeTrue(), "pod %d joined", i)
			}
			cookie := e.secretValue(resources.CookieSecretName(b), resources.SecretKeyCookie)
			oldSecret := e.secretValue(resources.CredentialsSecretName(b), "password")
			before := e.podAnnotations(b)

			var creds corev1.Secret
			e.g.Expect(e.get(&creds, resources.CredentialsSecretName(b))).To(gomega.Succeed())
			e.g.Expect(k8sClient.Delete(e.ctx, &creds)).To(gomega.Succeed())

			// New credentials, the same cookie.
			var newSecret string
			e.g.Eventually(func() string {
				newSecret = e.secretValue(resources.CredentialsSecretName(b), "password")
				return newSecret
			}, waitFor, 100*time.Millisecond).ShouldNot(gomega.Equal(oldSecret))
			e.expectEvent(e.broker, "CredentialsRegenerated")
			e.g.Expect(e.secretValue(resources.CookieSecretName(b), resources.SecretKeyCookie)).To(gomega.Equal(cookie))

			// The pods roll for the bootstrap file; the cookie stays.
			var after map[string]string
			e.g.Eventually(func() string {
				after = e.podAnnotations(b)
				return after[resources.ConfigHashAnnotation]
			}, waitFor, 100*time.Millisecond).ShouldNot(gomega.Equal(before[resources.ConfigHashAnnotation]))
			e.g.Expect(after[resources.CookieHashAnnotation]).To(gomega.Equal(before[resources.CookieHashAnnotation]))
			var sts appsv1.StatefulSet
			e.g.Expect(e.get(&sts, resources.StatefulSetName(b))).To(gomega.Succeed())
			e.g.Expect(sts.Spec.UpdateStrategy.Type).To(gomega.Equal(appsv1.RollingUpdateStatefulSetStrategyType))
			e.g.Expect(sts.Spec.Template.Spec.ReadinessGates).To(gomega.ContainElement(corev1.PodReadinessGate{ConditionType: resources.JoinedCondition}))
			// The operator restarts nobody itself: the StatefulSet rolls one
			// pod at a time, each Ready only once it has joined.
			e.g.Consistently(func() []string { return e.podUIDs(b) }, 2*time.Second, 200*time.Millisecond).Should(gomega.Equal(pods))

			// Until a node restarts, EMQX knows the old key only.
			old := e.tb
			stale, err := drivers.NewFactory().New(broker.Config{URL: old.APIURL(), APIVersion: tc.api,
				Username: resources.DefaultAPIKey, Password: newSecret, Timeout: 5 * time.Second})
			e.g.Expect(err).NotTo(gomega.HaveOccurred())
			_, err = stale.Health(e.ctx)
			e.g.Expect(broker.ClassOf(err)).To(gomega.Equal(broker.ClassUnauthorized))

			// The first restarted node writes the new key into the replicated
			// key table, so every node accepts it; the rollout completes with
			// the three nodes still one cluster, and the operator is back.
			e.standIn(b, 3)
			_ = old.Close()
			e.markStatefulSetReady(resources.StatefulSetName(b), 3)
			e.waitReady(&mqttv1.MQTTBroker{}, e.broker)
		})
	}
}

// Point 3, the cookie: it is never regenerated while its Secret exists. If
// the Secret is lost anyway, the new cookie cannot join the old one, so
// every pod restarts at once instead of one by one into a cluster it
// cannot reach.
func TestManagedCookieLost(t *testing.T) {
	e := newManagedEnv(t, broker.APIv5)
	b, _ := e.readyManaged(mqttv1.ManagedBroker{Version: "5.8.6", Replicas: ptr.To[int32](3)})
	pods := e.runPods(b, 3)
	cookie := e.secretValue(resources.CookieSecretName(b), resources.SecretKeyCookie)
	apiSecret := e.secretValue(resources.CredentialsSecretName(b), "password")

	// Reconciling again keeps it (the Secret is immutable, too).
	var s corev1.Secret
	e.g.Expect(e.get(&s, resources.CookieSecretName(b))).To(gomega.Succeed())
	e.g.Expect(ptr.Deref(s.Immutable, false)).To(gomega.BeTrue())

	e.g.Expect(k8sClient.Delete(e.ctx, &s)).To(gomega.Succeed())
	e.g.Eventually(func() string { return e.secretValue(resources.CookieSecretName(b), resources.SecretKeyCookie) },
		waitFor, 100*time.Millisecond).ShouldNot(gomega.Equal(cookie))
	e.expectEvent(e.broker, "CookieRegenerated")
	e.g.Eventually(func() []string { return e.podUIDs(b) }, waitFor, 100*time.Millisecond).Should(gomega.BeEmpty(),
		"every pod with the old cookie is deleted at once (was %v)", pods)
	e.g.Expect(e.secretValue(resources.CredentialsSecretName(b), "password")).To(gomega.Equal(apiSecret), "the API credentials stay")
}

// Point 3, upgrading the operator: the cookie an earlier version kept in the
// credentials Secret moves to the cookie Secret, so the running nodes keep
// it.
func TestManagedCookieTakenOver(t *testing.T) {
	e := newManagedEnv(t, broker.APIv5)
	const legacy = "LegacyCookie0123456789abcdefghij"
	// As the earlier version applied it, with the operator's field manager.
	old := &corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: e.broker + "-api-credentials", Namespace: e.ns}, Type: corev1.SecretTypeBasicAuth,
		Data: map[string][]byte{"username": []byte(resources.DefaultAPIKey), "password": []byte("ApiSecret0123456789abcdefghijklm"),
			"dashboard-password": []byte("DashPassword0123456789abcdefghij"), "node-cookie": []byte(legacy)}}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(old)
	e.g.Expect(err).NotTo(gomega.HaveOccurred())
	e.g.Expect(k8sClient.Apply(e.ctx, client.ApplyConfigurationFromUnstructured(&unstructured.Unstructured{Object: u}), fieldOwner)).To(gomega.Succeed())
	b := e.newManaged(mqttv1.ManagedBroker{Version: "5.8.6", Replicas: ptr.To[int32](3)})
	e.g.Expect(e.secretValue(resources.CookieSecretName(b), resources.SecretKeyCookie)).To(gomega.Equal(legacy))
	e.g.Expect(e.secretValue(resources.CredentialsSecretName(b), "password")).To(gomega.Equal("ApiSecret0123456789abcdefghijklm"))
	e.g.Eventually(func() []byte {
		var s corev1.Secret
		_ = e.get(&s, resources.CredentialsSecretName(b))
		return s.Data["node-cookie"]
	}, waitFor, 100*time.Millisecond).Should(gomega.BeEmpty(), "the old copy goes once the cookie Secret exists")
}

// Point 6: a pod is Ready only once the operator has seen its node join,
// so the StatefulSet's rolling update, which moves to the next pod only
// when the updated one is Ready, waits for the join.
func TestManagedRolloutWaitsForJoin(t *testing.T) {
	e := newManagedEnv(t, broker.APIv5)
	b, tb := e.readyManaged(mqttv1.ManagedBroker{Version: "5.8.6", Replicas: ptr.To[int32](3)})

	// New pods whose nodes are all in the cluster get the gate.
	e.runPods(b, 3)
	for i := range 3 {
		e.g.Eventually(func() bool { return e.podReady(b, i) }, waitFor, 100*time.Millisecond).Should(gomega.BeTrue(), "pod %d", i)
	}

	// The StatefulSet controller updates pod 2 first. Its EMQX answers
	// /status, but it has not joined: it runs on its own, and the others
	// have lost it.
	e.restartPod(b, 2)
	tb.SetClusterViews(append(e.nodes(0, 1), testbroker.ClusterNode{Name: e.nodeName(2)}), e.nodes(2))
	// The StatefulSet controller would now wait for pod 2 to be Ready before
	// touching pod 1, so pod 1 keeps running: the rollout waits.
	e.g.Consistently(func() bool { return e.podReady(b, 2) }, 4*time.Second, 200*time.Millisecond).Should(gomega.BeFalse(),
		"a node that has not joined must not be Ready")
	// The broker says why (each side of the split answers in turn).
	e.g.Eventually(func() string {
		var bb mqttv1.MQTTBroker
		_ = e.get(&bb, e.broker)
		if c := bb.Status.ReadyCondition(); c != nil && c.Status == metav1.ConditionFalse {
			return c.Reason
		}
		return ""
	}, waitFor, 100*time.Millisecond).Should(gomega.BeElementOf(mqttv1.ReasonClusterSplit, mqttv1.ReasonNodesMissing))

	// It joins: the gate opens and the rollout may move on.
	tb.SetClusterViews(e.nodes(0, 1, 2))
	e.g.Eventually(func() bool { return e.podReady(b, 2) }, waitFor, 100*time.Millisecond).Should(gomega.BeTrue())
	e.restartPod(b, 1)
	e.g.Eventually(func() bool { return e.podReady(b, 1) }, waitFor, 100*time.Millisecond).Should(gomega.BeTrue())
	e.waitReady(&mqttv1.MQTTBroker{}, e.broker)
}

// Point 7: EMQX answers 400 node_not_in_cluster for a node that has gone
// already; that is the wanted outcome, not a warning.
func TestManagedForceLeaveOfDepartedNode(t *testing.T) {
	e := newManagedEnv(t, broker.APIv5)
	b, tb := e.readyManaged(mqttv1.ManagedBroker{Version: "5.8.6", Replicas: ptr.To[int32](3)})
	tb.InjectFault(testbroker.Fault{Count: 2, HTTPStatus: 400, V5Code: "BAD_REQUEST", Message: "node_not_in_cluster", PathPrefix: "/api/v5/cluster/"})
	tb.SetClusterViews(append(e.nodes(0, 1), testbroker.ClusterNode{Name: e.nodeName(2)}))
	e.update(b, e.broker, func() { b.Spec.Managed.Replicas = ptr.To[int32](2) })
	e.markStatefulSetReady(resources.StatefulSetName(b), 2)
	e.waitReady(&mqttv1.MQTTBroker{}, e.broker)
	e.expectEvent(e.broker, "NodeRemoved")
	e.g.Eventually(tb.ForcedLeaves, waitFor, 100*time.Millisecond).Should(gomega.Equal([]string{e.nodeName(2)}))
	e.g.Expect(e.eventReasons(e.broker)).NotTo(gomega.ContainElement("ForceLeaveFailed"))
}

// Points 5 and 8: TLS listeners and the license come from Secrets the
// spec names; the operator waits for them instead of rolling pods that
// cannot start, and exposes TLS only with a certificate of the user's.
func TestManagedReferencedSecrets(t *testing.T) {
	e := newManagedEnv(t, broker.APIv5)
	b := e.newManaged(mqttv1.ManagedBroker{Version: "5.9.1", Replicas: ptr.To[int32](3), LicenseSecretRef: licenseRef,
		TLS: &mqttv1.BrokerTLS{SecretName: "emqx-tls"}})
	c := e.condition(&mqttv1.MQTTBroker{}, e.broker, mqttv1.ConditionReconciling, metav1.ConditionTrue, mqttv1.ReasonSecretNotFound)
	e.g.Expect(c.Message).To(gomega.ContainSubstring("emqx-tls"))
	var sts appsv1.StatefulSet
	e.g.Expect(apierrors.IsNotFound(e.get(&sts, resources.StatefulSetName(b)))).To(gomega.BeTrue(), "no pods before their Secrets exist")

	e.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "emqx-tls"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: []byte("cert"), corev1.TLSPrivateKeyKey: []byte("key")}})
	e.g.Eventually(func() string {
		return e.condition(&mqttv1.MQTTBroker{}, e.broker, mqttv1.ConditionReconciling, metav1.ConditionTrue, mqttv1.ReasonSecretNotFound).Message
	}, waitFor, 100*time.Millisecond).Should(gomega.ContainSubstring("emqx-license"))
	e.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "emqx-license"}, Data: map[string][]byte{"license.key": []byte("key")}})

	e.ownedBy(&sts, resources.StatefulSetName(b), b)
	ctr := sts.Spec.Template.Spec.Containers[0]
	e.g.Expect(ctr.Image).To(gomega.Equal("emqx/emqx-enterprise:5.9.1"))
	var volumes []string
	for _, v := range sts.Spec.Template.Spec.Volumes {
		if v.Secret != nil {
			volumes = append(volumes, v.Secret.SecretName)
		}
	}
	e.g.Expect(volumes).To(gomega.ContainElements("emqx-tls", "emqx-license"))
	clientPorts := func() []int32 {
		var svc corev1.Service
		_ = e.get(&svc, resources.ClientServiceName(b))
		var ports []int32
		for _, p := range svc.Spec.Ports {
			ports = append(ports, p.Port)
		}
		return ports
	}
	e.g.Eventually(clientPorts, waitFor, 100*time.Millisecond).Should(gomega.ConsistOf(int32(1883), int32(8083), int32(8883), int32(8084)))
	// Both Secrets are labelled so the manager's cache sees their changes.
	for _, name := range []string{"emqx-tls", "emqx-license"} {
		var s corev1.Secret
		e.g.Eventually(func() string { _ = e.get(&s, name); return s.Labels[mqttv1.LabelWatch] }, waitFor, 100*time.Millisecond).Should(gomega.Equal("true"))
	}

	// Without TLS the listeners are off and the ports go from the Service.
	e.update(b, e.broker, func() { b.Spec.Managed.TLS = nil })
	e.g.Eventually(clientPorts, waitFor, 100*time.Millisecond).Should(gomega.ConsistOf(int32(1883), int32(8083)))
}

// Point 9: once the nodes have told the cluster domain, the host names in
// the status and in the generated user credentials are fully qualified.
func TestManagedHostNames(t *testing.T) {
	e := newManagedEnv(t, broker.APIv5)
	b, _ := e.readyManaged(mqttv1.ManagedBroker{Version: "5.8.6"})
	e.g.Expect(b.Status.ClusterDomain).To(gomega.Equal(testClusterDomain))
	e.g.Expect(b.Status.APIURL).To(gomega.Equal(fmt.Sprintf("http://emqx-api.%s.svc.%s:18083", e.ns, testClusterDomain)))
	e.g.Expect(b.Status.MQTTHost).To(gomega.Equal(fmt.Sprintf("emqx.%s.svc.%s", e.ns, testClusterDomain)))
	e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "sensor"}, Spec: mqttv1.MQTTUserSpec{BrokerRef: e.ref()}})
	e.waitReady(&mqttv1.MQTTUser{}, "sensor")
	e.g.Expect(e.secretValue("sensor-mqtt-credentials", "host")).To(gomega.Equal(b.Status.MQTTHost))
}

// spec.suspend: the operator changes nothing (no apply, no force-leave),
// says so, keeps the other conditions, and dependents still use the broker.
func TestManagedSuspend(t *testing.T) {
	e := newManagedEnv(t, broker.APIv5)
	b, tb := e.readyManaged(mqttv1.ManagedBroker{Version: "5.8.6", Replicas: ptr.To[int32](3)})
	var sts appsv1.StatefulSet
	e.g.Expect(e.get(&sts, resources.StatefulSetName(b))).To(gomega.Succeed())
	stsGen := sts.Generation

	e.update(b, e.broker, func() {
		b.Spec.Suspend = true
		b.Spec.Managed.Version = "5.8.9"
		b.Spec.Managed.Replicas = ptr.To[int32](2)
	})
	e.g.Eventually(func(g gomega.Gomega) {
		g.Expect(e.get(b, e.broker)).To(gomega.Succeed())
		c := apimeta.FindStatusCondition(b.Status.Conditions, mqttv1.ConditionSuspended)
		g.Expect(c).NotTo(gomega.BeNil())
		g.Expect(c.Status).To(gomega.Equal(metav1.ConditionTrue))
		g.Expect(c.Reason).To(gomega.Equal(mqttv1.ReasonSuspended))
		g.Expect(c.ObservedGeneration).To(gomega.Equal(b.Generation))
	}, waitFor, 100*time.Millisecond).Should(gomega.Succeed())
	ready := apimeta.FindStatusCondition(b.Status.Conditions, mqttv1.ConditionReady)
	e.g.Expect(ready.Status).To(gomega.Equal(metav1.ConditionTrue), "the other conditions keep what was last observed")

	// Node 2 looks departed, but nothing is removed and nothing applied.
	tb.SetClusterViews(append(e.nodes(0, 1), testbroker.ClusterNode{Name: e.nodeName(2)}))
	e.g.Consistently(func(g gomega.Gomega) {
		g.Expect(e.get(&sts, resources.StatefulSetName(b))).To(gomega.Succeed())
		g.Expect(sts.Generation).To(gomega.Equal(stsGen))
		g.Expect(tb.ForcedLeaves()).To(gomega.BeEmpty())
	}, 3*testResync/2, 200*time.Millisecond).Should(gomega.Succeed())

	// Suspending the broker does not suspend what uses it.
	e.userWithPassword("dev", "dev-password")
	e.eventuallyConnects("c-dev", "dev", "dev-password", true)

	// A pod that restarts meanwhile still becomes Ready once it has
	// rejoined, or it would serve no client until the broker is resumed.
	tb.SetClusterViews(e.nodes(0, 1, 2))
	e.startPod(b, 0)
	e.g.Eventually(func() bool { return e.podReady(b, 0) }, waitFor, 100*time.Millisecond).Should(gomega.BeTrue())
	tb.SetClusterViews(append(e.nodes(0, 1), testbroker.ClusterNode{Name: e.nodeName(2)}))

	// Resumed: the changes are applied, the departed node removed.
	e.update(b, e.broker, func() { b.Spec.Suspend = false })
	e.g.Eventually(func(g gomega.Gomega) {
		g.Expect(e.get(&sts, resources.StatefulSetName(b))).To(gomega.Succeed())
		g.Expect(sts.Spec.Template.Spec.Containers[0].Image).To(gomega.HaveSuffix(":5.8.9"))
	}, waitFor, 100*time.Millisecond).Should(gomega.Succeed())
	e.markStatefulSetReady(resources.StatefulSetName(b), 2)
	e.waitReady(&mqttv1.MQTTBroker{}, e.broker)
	e.g.Expect(e.get(b, e.broker)).To(gomega.Succeed())
	e.g.Expect(apimeta.FindStatusCondition(b.Status.Conditions, mqttv1.ConditionSuspended)).To(gomega.BeNil())
	e.g.Eventually(tb.ForcedLeaves, waitFor, 100*time.Millisecond).Should(gomega.Equal([]string{e.nodeName(2)}))
}

// runPods plays the StatefulSet controller and the kubelet: it creates the
// broker's pods from the current template, with EMQX started
// (ContainersReady). It returns their UIDs.
func (e *env) runPods(b *mqttv1.MQTTBroker, n int) []string {
	e.t.Helper()
	for i := range n {
		e.startPod(b, i)
	}
	return e.podUIDs(b)
}

func (e *env) startPod(b *mqttv1.MQTTBroker, i int) {
	e.t.Helper()
	var sts appsv1.StatefulSet
	e.g.Expect(e.get(&sts, resources.StatefulSetName(b))).To(gomega.Succeed())
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", sts.Name, i), Namespace: e.ns,
			Labels: sts.Spec.Template.Labels, Annotations: sts.Spec.Template.Annotations},
		Spec: *sts.Spec.Template.Spec.DeepCopy(),
	}
	e.g.Expect(k8sClient.Create(e.ctx, pod)).To(gomega.Succeed())
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
	e.g.Expect(k8sClient.Status().Update(e.ctx, pod)).To(gomega.Succeed())
}

// restartPod replaces pod i, as a rolling update does: the new pod starts
// without the operator's condition.
func (e *env) restartPod(b *mqttv1.MQTTBroker, i int) {
	e.t.Helper()
	name := fmt.Sprintf("%s-%d", resources.StatefulSetName(b), i)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns}}
	e.g.Expect(k8sClient.Delete(e.ctx, pod, client.GracePeriodSeconds(0))).To(gomega.Succeed())
	e.g.Eventually(func() bool { return apierrors.IsNotFound(e.get(&corev1.Pod{}, name)) }, waitFor, 100*time.Millisecond).Should(gomega.BeTrue())
	e.startPod(b, i)
}

// podReady is the kubelet's rule: containers ready and every readiness
// gate's condition True.
func (e *env) podReady(b *mqttv1.MQTTBroker, i int) bool {
	var pod corev1.Pod
	if err := e.get(&pod, fmt.Sprintf("%s-%d", resources.StatefulSetName(b), i)); err != nil {
		return false
	}
	want := []corev1.PodConditionType{corev1.ContainersReady}
	for _, g := range pod.Spec.ReadinessGates {
		want = append(want, g.ConditionType)
	}
	for _, t := range want {
		if !podCondition(&pod, t) {
			return false
		}
	}
	return len(pod.Spec.ReadinessGates) > 0
}

func (e *env) podUIDs(b *mqttv1.MQTTBroker) []string {
	var list corev1.PodList
	e.g.Expect(k8sClient.List(e.ctx, &list, client.InNamespace(e.ns), client.MatchingLabels(resources.SelectorLabels(b)))).To(gomega.Succeed())
	var uids []string
	for _, p := range list.Items {
		if p.DeletionTimestamp.IsZero() {
			uids = append(uids, string(p.UID))
		}
	}
	return uids
}

func (e *env) podAnnotations(b *mqttv1.MQTTBroker) map[string]string {
	var sts appsv1.StatefulSet
	e.g.Expect(e.get(&sts, resources.StatefulSetName(b))).To(gomega.Succeed())
	return sts.Spec.Template.Annotations
}

func (e *env) eventReasons(name string) []string {
	var list eventsv1.EventList
	e.g.Expect(k8sClient.List(e.ctx, &list, client.InNamespace(e.ns))).To(gomega.Succeed())
	var reasons []string
	for _, ev := range list.Items {
		if ev.Regarding.Name == name {
			reasons = append(reasons, ev.Reason)
		}
	}
	return reasons
}

// The operator's first guess at the cluster domain comes from its own
// resolver settings; outside a cluster there is none.
func TestClusterDomainFromResolvConf(t *testing.T) {
	for content, want := range map[string]string{
		"search mqtt-system.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n": "cluster.local",
		"nameserver 10.0.0.10\nsearch ns.svc.corp.example. svc.corp.example. corp.example.\n":                            "corp.example",
		"# search svc.commented.out\nsearch example.org\nnameserver 1.1.1.1\n":                                           "",
		"nameserver 10.255.255.53\n": "",
		"search svc.\n":              "",
	} {
		if got := clusterDomainFromResolvConf(content); got != want {
			t.Errorf("clusterDomainFromResolvConf(%q) = %q, want %q", content, got, want)
		}
	}
}
