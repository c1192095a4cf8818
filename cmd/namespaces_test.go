package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/drivers"
)

// A manager with --watch-namespaces works in those namespaces only, with
// everything a namespace-scoped cache must still do: users Ready, the
// conflict between two users of one name decided (the claim registry is
// fed by the namespaced informers), and objects of other namespaces left
// alone, on the broker too.
func TestManagerWatchesOnlyItsNamespaces(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	admin, err := client.New(testCfg, client.Options{Scheme: newScheme()})
	if err != nil {
		t.Fatal(err)
	}
	tb := startTestBroker(t)
	stamp := time.Now().UnixNano()
	watched, other := fmt.Sprintf("watched-%d", stamp), fmt.Sprintf("other-%d", stamp)
	startManager(t, testCfg, "--health-probe-bind-address", "0", "--metrics-bind-address", "0", "--resync-interval", "5s",
		"--watch-namespaces", watched)

	ref := mqttv1.BrokerReference{Name: "emqx"}
	var objs []client.Object
	for _, ns := range []string{watched, other} {
		objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns}, Type: corev1.SecretTypeBasicAuth,
				StringData: map[string]string{"username": "admin", "password": "public"}},
			&mqttv1.MQTTBroker{ObjectMeta: metav1.ObjectMeta{Name: "emqx", Namespace: ns}, Spec: mqttv1.MQTTBrokerSpec{External: &mqttv1.ExternalBroker{
				URL: tb.APIURL(), APIVersion: mqttv1.BrokerAPIv5, CredentialsSecretRef: mqttv1.LocalObjectReference{Name: "api"}}}},
			&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "first", Namespace: ns}, Spec: mqttv1.MQTTUserSpec{BrokerRef: ref, Username: "user-" + ns}})
	}
	for _, o := range objs {
		if err := admin.Create(ctx, o); err != nil {
			t.Fatalf("create %s: %v", o.GetName(), err)
		}
	}
	condition := func(ns, name, cond string) func() *metav1.Condition {
		return func() *metav1.Condition {
			var u mqttv1.MQTTUser
			if err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &u); err != nil {
				return nil
			}
			return apimeta.FindStatusCondition(u.Status.Conditions, cond)
		}
	}
	g.Eventually(condition(watched, "first", mqttv1.ConditionReady), 30*time.Second, 100*time.Millisecond).
		Should(gomega.HaveField("Status", metav1.ConditionTrue), "the user of the watched namespace did not become Ready")
	// A second user of the same name, created later, is refused.
	second := &mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "second", Namespace: watched},
		Spec: mqttv1.MQTTUserSpec{BrokerRef: ref, Username: "user-" + watched}}
	if err := admin.Create(ctx, second); err != nil {
		t.Fatal(err)
	}
	g.Eventually(condition(watched, "second", mqttv1.ConditionStalled), 30*time.Second, 100*time.Millisecond).
		Should(gomega.HaveField("Reason", mqttv1.ReasonUsernameConflict), "the second user of one name was not refused")

	// The other namespace: after the watched one has been served, its
	// user has no status and is not on the broker.
	g.Consistently(condition(other, "first", mqttv1.ConditionReady), 3*time.Second, 200*time.Millisecond).Should(gomega.BeNil(),
		"a user outside --watch-namespaces got a status")
	cl, err := drivers.NewFactory().New(broker.Config{URL: tb.APIURL(), APIVersion: broker.APIv5, Username: "admin", Password: "public", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.GetUser(ctx, broker.ByUsername, "user-"+other); !broker.IsNotFound(err) {
		t.Errorf("the user outside --watch-namespaces on the broker: %v, want not found", err)
	}
	if _, err := cl.GetUser(ctx, broker.ByUsername, "user-"+watched); err != nil {
		t.Errorf("the watched user on the broker: %v", err)
	}
}
