package plugin

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// now is the fake clock's time in every test.
var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fakeClock() *clocktesting.FakePassiveClock { return clocktesting.NewFakePassiveClock(now) }

func newFakeClient(t *testing.T, objs ...client.Object) client.Client {
	t.Helper()
	s, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).
		WithStatusSubresource(&mqttv1.MQTTBroker{}, &mqttv1.MQTTUser{}, &mqttv1.MQTTACL{}, &mqttv1.MQTTBan{}).
		Build()
}

// meta is object metadata created age ago at the given generation.
func meta(ns, name string, age time.Duration, generation int64) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, Generation: generation,
		CreationTimestamp: metav1.NewTime(now.Add(-age))}
}

func cond(t string, s metav1.ConditionStatus, reason, msg string, gen int64) metav1.Condition {
	return metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg, ObservedGeneration: gen,
		LastTransitionTime: metav1.NewTime(now.Add(-time.Minute))}
}

func common(gen int64, conds ...metav1.Condition) mqttv1.CommonStatus {
	return mqttv1.CommonStatus{ObservedGeneration: gen, Conditions: conds}
}

func ready(gen int64, reason, msg string) mqttv1.CommonStatus {
	return common(gen, cond(mqttv1.ConditionReady, metav1.ConditionTrue, reason, msg, gen))
}

func stalled(gen int64, reason, msg string) mqttv1.CommonStatus {
	return common(gen,
		cond(mqttv1.ConditionReady, metav1.ConditionFalse, reason, msg, gen),
		cond(mqttv1.ConditionStalled, metav1.ConditionTrue, reason, msg, gen))
}

func reconciling(gen int64, reason, msg string) mqttv1.CommonStatus {
	return common(gen,
		cond(mqttv1.ConditionReady, metav1.ConditionFalse, reason, msg, gen),
		cond(mqttv1.ConditionReconciling, metav1.ConditionTrue, reason, msg, gen))
}

func ref(name string) mqttv1.BrokerReference { return mqttv1.BrokerReference{Name: name} }

// fixture is a cluster with every kind in every state the table shows.
func fixture() []client.Object {
	deleting := meta("team-a", "old-ban", 48*time.Hour, 1)
	deleting.DeletionTimestamp = &metav1.Time{Time: now.Add(-time.Minute)}
	deleting.Finalizers = []string{mqttv1.Finalizer}

	return []client.Object{
		&mqttv1.MQTTBroker{ObjectMeta: meta("team-a", "emqx", 72*time.Hour, 1),
			Status: mqttv1.MQTTBrokerStatus{CommonStatus: ready(1, mqttv1.ReasonSucceeded, "broker 5.8.6 answers at http://emqx-api.team-a.svc:18083/api/v5"),
				MQTTHost: "emqx.team-a.svc", MQTTPort: 1883}},
		&mqttv1.MQTTBroker{ObjectMeta: meta("infra", "shared", 400*24*time.Hour, 2),
			Status: mqttv1.MQTTBrokerStatus{CommonStatus: reconciling(2, mqttv1.ReasonUnreachable, "dial tcp 10.0.0.7:8081: connect: connection refused")}},
		&mqttv1.MQTTUser{ObjectMeta: meta("team-a", "sensor-1", 2*time.Hour, 1), Spec: mqttv1.MQTTUserSpec{BrokerRef: ref("emqx")},
			Status: mqttv1.MQTTUserStatus{CommonStatus: ready(1, mqttv1.ReasonSucceeded, "user sensor-1 is on the broker"),
				Username: "sensor-1", CredentialsSecretName: "sensor-1-mqtt-credentials"}},
		&mqttv1.MQTTUser{ObjectMeta: meta("team-a", "dashboard", 90*time.Minute, 1),
			Spec: mqttv1.MQTTUserSpec{BrokerRef: ref("emqx"), PasswordSecretRef: &mqttv1.SecretKeySelector{Name: "dashboard-pw", Key: "secret"}},
			Status: mqttv1.MQTTUserStatus{CommonStatus: stalled(1, mqttv1.ReasonSecretNotFound,
				"Secret dashboard-pw not found:\ncreate it or fix spec.passwordSecretRef, then the operator retries on its own")}},
		&mqttv1.MQTTUser{ObjectMeta: meta("team-a", "new-user", 5*time.Second, 1), Spec: mqttv1.MQTTUserSpec{BrokerRef: ref("emqx")}},
		&mqttv1.MQTTUser{ObjectMeta: meta("team-b", "remote", 30*24*time.Hour, 1),
			Spec:   mqttv1.MQTTUserSpec{BrokerRef: mqttv1.BrokerReference{Name: "shared", Namespace: "infra"}},
			Status: mqttv1.MQTTUserStatus{CommonStatus: reconciling(1, mqttv1.ReasonBrokerNotReady, "MQTTBroker infra/shared is not ready")}},
		&mqttv1.MQTTACL{ObjectMeta: meta("team-a", "sensor-1", 2*time.Hour, 3), Spec: mqttv1.MQTTACLSpec{BrokerRef: ref("emqx")},
			Status: mqttv1.MQTTACLStatus{CommonStatus: ready(2, mqttv1.ReasonSucceeded, "2 rules applied")}},
		&mqttv1.MQTTACL{ObjectMeta: meta("team-a", "bad-topic", 10*time.Minute, 1), Spec: mqttv1.MQTTACLSpec{BrokerRef: ref("emqx")},
			Status: mqttv1.MQTTACLStatus{CommonStatus: stalled(1, "IllegalTopic", "broker code 115 (illegal topic): topic filter sensors/#/x is invalid")}},
		&mqttv1.MQTTBan{ObjectMeta: meta("team-a", "spammer", 26*time.Hour, 1),
			Spec:   mqttv1.MQTTBanSpec{BrokerRef: mqttv1.BrokerReference{Name: "emqx", Namespace: "team-a"}, As: mqttv1.BanClientID, Who: "spammer"},
			Status: mqttv1.MQTTBanStatus{CommonStatus: ready(1, mqttv1.ReasonExpired, "ban ended at 2026-03-01T00:00:00Z")}},
		&mqttv1.MQTTBan{ObjectMeta: deleting,
			Spec:   mqttv1.MQTTBanSpec{BrokerRef: ref("emqx"), As: mqttv1.BanPeerHost, Who: "10.1.2.3"},
			Status: mqttv1.MQTTBanStatus{CommonStatus: ready(1, mqttv1.ReasonSucceeded, "ban is in force")}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "sensor-1-mqtt-credentials"},
			Data: map[string][]byte{"username": []byte("sensor-1"), "password": []byte("s3cret-Pw"),
				"host": []byte("emqx.team-a.svc"), "port": []byte("1883")}},
	}
}

// golden compares got with testdata/<name>.golden, rewriting it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s (run go test -update to create it): %v", path, err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got; go test -update rewrites it):\n%s", path, diff)
	}
}
