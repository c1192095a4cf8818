package controllers

import (
	"time"

	"strconv"
	"strings"
	"testing"

	"github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

var apis = []broker.APIVersion{broker.APIv4, broker.APIv5}

func TestUserGeneratedPassword(t *testing.T) {
	for _, api := range apis {
		t.Run(string(api), func(t *testing.T) {
			e := newEnv(t, api)
			e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "sensor-1"}, Spec: mqttv1.MQTTUserSpec{BrokerRef: e.ref()}})
			e.waitReady(&mqttv1.MQTTUser{}, "sensor-1")

			secret := "sensor-1-mqtt-credentials"
			pw := e.secretValue(secret, "password")
			if len(pw) < 32 {
				t.Fatalf("generated password has %d characters, want at least 32", len(pw))
			}
			host, port := splitHostPort(t, e.tb.MQTTAddr())
			for k, want := range map[string]string{"username": "sensor-1", "host": host, "port": strconv.Itoa(int(port))} {
				if got := e.secretValue(secret, k); got != want {
					t.Errorf("Secret key %s = %q, want %q", k, got, want)
				}
			}
			var u mqttv1.MQTTUser
			_ = e.get(&u, "sensor-1")
			if u.Status.Username != "sensor-1" || u.Status.CredentialsSecretName != secret || !strings.HasPrefix(u.Status.PasswordHash, "sha256:") {
				t.Fatalf("status = %+v", u.Status)
			}
			if strings.Contains(u.Status.PasswordHash, pw) {
				t.Fatal("status holds the password")
			}
			if got := e.kstatus(&u); got != status.CurrentStatus {
				t.Fatalf("kstatus = %s, want Current", got)
			}
			if !e.canConnect("c-sensor", "sensor-1", pw) {
				t.Fatal("the user cannot connect with the generated password")
			}
			if e.canConnect("c-sensor", "sensor-1", pw+"x") {
				t.Fatal("a wrong password was accepted")
			}
			var s corev1.Secret
			_ = e.get(&s, secret)
			if !metav1.IsControlledBy(&s, &u) {
				t.Fatal("the generated Secret is not owned by the MQTTUser")
			}
		})
	}
}

func TestUserPasswordRotation(t *testing.T) {
	for _, api := range apis {
		t.Run(string(api), func(t *testing.T) {
			e := newEnv(t, api)
			e.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pw"}, StringData: map[string]string{"password": "first-secret"}})
			e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Spec: mqttv1.MQTTUserSpec{
				BrokerRef: e.ref(), Username: "app-user", PasswordSecretRef: &mqttv1.SecretKeySelector{Name: "pw", Key: "password"}}})
			e.waitReady(&mqttv1.MQTTUser{}, "app")
			e.eventuallyConnects("c-app", "app-user", "first-secret", true)

			var u mqttv1.MQTTUser
			_ = e.get(&u, "app")
			hash := u.Status.PasswordHash
			var s corev1.Secret
			e.update(&s, "pw", func() { s.Data["password"] = []byte("second-secret") })
			e.eventuallyConnects("c-app", "app-user", "second-secret", true)
			if e.canConnect("c-app", "app-user", "first-secret") {
				t.Fatal("the old password is still accepted after rotation")
			}
			// The broker is written before the status: wait for the status too.
			e.g.Eventually(func() string {
				_ = e.get(&u, "app")
				return u.Status.PasswordHash
			}, waitFor, 100*time.Millisecond).ShouldNot(gomega.Equal(hash), "status password hash did not change on rotation")
		})
	}
}

func TestUserDeletionPolicy(t *testing.T) {
	for _, api := range apis {
		t.Run(string(api), func(t *testing.T) {
			e := newEnv(t, api)
			e.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pw"}, StringData: map[string]string{"password": "s3cret-pass"}})
			for _, name := range []string{"deleted", "retained"} {
				policy := mqttv1.DeletionPolicyDelete
				if name == "retained" {
					policy = mqttv1.DeletionPolicyRetain
				}
				e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: mqttv1.MQTTUserSpec{
					BrokerRef: e.ref(), DeletionPolicy: policy, PasswordSecretRef: &mqttv1.SecretKeySelector{Name: "pw", Key: "password"}}})
				e.waitReady(&mqttv1.MQTTUser{}, name)
				e.eventuallyConnects("c-"+name, name, "s3cret-pass", true)
				e.deleteAndWait(&mqttv1.MQTTUser{}, name)
			}
			if e.canConnect("c-deleted", "deleted", "s3cret-pass") {
				t.Fatal("a deleted user can still connect")
			}
			if !e.canConnect("c-retained", "retained", "s3cret-pass") {
				t.Fatal("a retained user was removed from the broker")
			}
		})
	}
}

func TestUserAdoptsExisting(t *testing.T) {
	e := newEnv(t, broker.APIv5)
	cl := e.brokerClient()
	if err := cl.CreateUser(e.ctx, broker.UserSpec{Kind: broker.ByUsername, ID: "legacy", Password: "old-password"}); err != nil {
		t.Fatal(err)
	}
	e.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pw"}, StringData: map[string]string{"password": "new-password"}})
	e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "legacy"}, Spec: mqttv1.MQTTUserSpec{
		BrokerRef: e.ref(), PasswordSecretRef: &mqttv1.SecretKeySelector{Name: "pw", Key: "password"}}})
	e.waitReady(&mqttv1.MQTTUser{}, "legacy")
	e.eventuallyConnects("c-legacy", "legacy", "new-password", true)
	if e.canConnect("c-legacy", "legacy", "old-password") {
		t.Fatal("the adopted user kept its old password")
	}
	e.expectEvent("legacy", "Adopted")
}

func TestUserConflict(t *testing.T) {
	e := newEnv(t, broker.APIv4)
	e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "first"}, Spec: mqttv1.MQTTUserSpec{BrokerRef: e.ref(), Username: "shared"}})
	e.waitReady(&mqttv1.MQTTUser{}, "first")
	e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "second"}, Spec: mqttv1.MQTTUserSpec{BrokerRef: e.ref(), Username: "shared"}})
	c := e.condition(&mqttv1.MQTTUser{}, "second", mqttv1.ConditionReady, metav1.ConditionFalse, mqttv1.ReasonUsernameConflict)
	if !strings.Contains(c.Message, e.ns+"/first") {
		t.Fatalf("conflict message %q does not name the holder", c.Message)
	}
	e.eventuallyKStatus(&mqttv1.MQTTUser{}, "second", status.FailedStatus)
	// The holder's password stays in force while the other waits.
	pw := e.secretValue("first-mqtt-credentials", "password")
	e.eventuallyConnects("c-shared", "shared", pw, true)

	e.deleteAndWait(&mqttv1.MQTTUser{}, "first")
	e.waitReady(&mqttv1.MQTTUser{}, "second")
	e.eventuallyConnects("c-shared", "shared", e.secretValue("second-mqtt-credentials", "password"), true)
}

func TestCrossNamespaceReference(t *testing.T) {
	e := newEnv(t, broker.APIv5)
	other := newNamespace(t)
	u := &mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "remote", Namespace: other}, Spec: mqttv1.MQTTUserSpec{
		BrokerRef: mqttv1.BrokerReference{Name: e.broker, Namespace: e.ns}}}
	e.create(u)
	o := &env{t: t, g: e.g, ctx: e.ctx, ns: other, tb: e.tb, broker: e.broker}
	o.condition(&mqttv1.MQTTUser{}, "remote", mqttv1.ConditionStalled, metav1.ConditionTrue, mqttv1.ReasonRefNotAllowed)

	var b mqttv1.MQTTBroker
	e.update(&b, e.broker, func() { b.Spec.AllowedNamespaces = []string{other} })
	o.waitReady(&mqttv1.MQTTUser{}, "remote")
}
