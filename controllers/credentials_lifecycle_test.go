package controllers

import (
	"encoding/base64"
	"testing"
	"testing/cryptotest"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// minPasswordBits is the least entropy a generated password may carry.
const minPasswordBits = 128

// Generated passwords come from crypto/rand: making crypto/rand
// deterministic makes them repeat, which math/rand or a clock would not.
// Each carries at least minPasswordBits of entropy: every character encodes
// 6 bits of the random bytes, and decoding gives them back.
func TestGeneratedPasswordsUseCryptoRand(t *testing.T) {
	gen := func(seed uint64) string {
		cryptotest.SetGlobalRandom(t, seed)
		pw, err := generatePassword()
		if err != nil {
			t.Fatal(err)
		}
		return pw
	}
	// The suite's manager runs in this process and may draw on crypto/rand
	// between the two calls (a TLS handshake); one clean repeat out of a few
	// tries is proof enough.
	repeated := false
	for i := 0; i < 5 && !repeated; i++ {
		first, second := gen(42), gen(42)
		repeated = first == second
	}
	if !repeated {
		t.Fatal("the same crypto/rand stream gave different passwords: they do not come from crypto/rand")
	}
	if gen(42) == gen(43) {
		t.Fatal("different crypto/rand streams gave the same password")
	}
	pw := gen(7)
	raw, err := base64.RawURLEncoding.DecodeString(pw)
	if err != nil {
		t.Fatalf("password %q is not unpadded base64url: %v", pw, err)
	}
	if bits := 8 * len(raw); bits < minPasswordBits {
		t.Fatalf("password carries %d random bits, want at least %d", bits, minPasswordBits)
	}
	if base64.RawURLEncoding.EncodeToString(raw) != pw {
		t.Fatal("password is not the plain encoding of its random bytes")
	}
}

// A generated credentials Secret is controlled by its MQTTUser (so that
// garbage collection is a backstop), carries the operator's labels (and the
// watch label the manager's cache selects on), and is deleted by the
// finalizer itself: when the MQTTUser is gone, so is the Secret, whether or
// not a garbage collector runs.
func TestGeneratedSecretOwnedLabelledAndRevoked(t *testing.T) {
	e := newEnv(t, broker.APIv5)
	e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "dev"}, Spec: mqttv1.MQTTUserSpec{BrokerRef: e.ref()}})
	e.waitReady(&mqttv1.MQTTUser{}, "dev")
	var u mqttv1.MQTTUser
	if err := e.get(&u, "dev"); err != nil {
		t.Fatal(err)
	}
	var s corev1.Secret
	if err := e.get(&s, "dev-mqtt-credentials"); err != nil {
		t.Fatal(err)
	}
	ref := metav1.GetControllerOf(&s)
	if ref == nil || ref.UID != u.UID || ref.Kind != "MQTTUser" || !ptr.Deref(ref.BlockOwnerDeletion, false) {
		t.Fatalf("owner reference = %+v, want the MQTTUser %s as controller blocking deletion", ref, u.UID)
	}
	for k, v := range map[string]string{mqttv1.LabelManagedBy: mqttv1.ManagedByValue, mqttv1.LabelUser: "dev", mqttv1.LabelWatch: "true"} {
		if s.Labels[k] != v {
			t.Errorf("label %s = %q, want %q (labels %v)", k, s.Labels[k], v, s.Labels)
		}
	}
	pw := string(s.Data["password"])
	e.eventuallyConnects("c-dev", "dev", pw, true)

	if err := k8sClient.Delete(e.ctx, &u); err != nil {
		t.Fatal(err)
	}
	e.g.Eventually(func() bool { return apierrors.IsNotFound(e.get(&mqttv1.MQTTUser{}, "dev")) }, waitFor, 50*time.Millisecond).Should(gomega.BeTrue())
	// Checked right after the owner disappears: a garbage collector only
	// starts then, the finalizer ran before.
	err := e.get(&s, "dev-mqtt-credentials")
	if err == nil && s.DeletionTimestamp.IsZero() {
		t.Fatal("the generated Secret outlived its MQTTUser: the finalizer must delete it")
	}
	e.eventuallyConnects("c-dev", "dev", pw, false)
}

// The reported defect: deleting an MQTTUser with a generated password and
// creating it again under the same name (kubectl replace, some GitOps
// syncs) must give a working user with a fresh password, not a Stalled
// object blocked by the Secret the deleted one left behind.
func TestUserRecreatedUnderSameName(t *testing.T) {
	for _, api := range apis {
		t.Run(string(api), func(t *testing.T) {
			e := newEnv(t, api)
			e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "cam"}, Spec: mqttv1.MQTTUserSpec{BrokerRef: e.ref()}})
			e.waitReady(&mqttv1.MQTTUser{}, "cam")
			old := e.secretValue("cam-mqtt-credentials", "password")
			e.deleteAndWait(&mqttv1.MQTTUser{}, "cam")
			e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "cam"}, Spec: mqttv1.MQTTUserSpec{BrokerRef: e.ref()}})
			e.waitReady(&mqttv1.MQTTUser{}, "cam")
			var u mqttv1.MQTTUser
			var s corev1.Secret
			if err := e.get(&u, "cam"); err != nil {
				t.Fatal(err)
			}
			e.g.Eventually(func() bool {
				return e.get(&s, "cam-mqtt-credentials") == nil && metav1.IsControlledBy(&s, &u)
			}, waitFor, 100*time.Millisecond).Should(gomega.BeTrue(), "the Secret is not owned by the new MQTTUser")
			pw := string(s.Data["password"])
			if pw == old {
				t.Fatal("the new MQTTUser kept the deleted one's password")
			}
			e.eventuallyConnects("c-cam", "cam", pw, true)
			e.eventuallyConnects("c-cam", "cam", old, false)
		})
	}
}

// A generated-name Secret whose owner is an MQTTUser of the same name that
// no longer exists (its finalizer was removed by hand, or it was deleted
// while the operator was not running and the garbage collector has not
// caught up) is taken over. One with no owner, or another live owner, is
// someone else's and stays untouched: the MQTTUser is Stalled and nothing
// reaches the broker.
func TestGeneratedSecretTakeover(t *testing.T) {
	e := newEnv(t, broker.APIv4)
	gone := metav1.OwnerReference{APIVersion: mqttv1.GroupVersion.String(), Kind: "MQTTUser", Name: "orphan",
		UID: types.UID("00000000-0000-0000-0000-00000000dead"), Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
	e.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "orphan-mqtt-credentials", OwnerReferences: []metav1.OwnerReference{gone},
		Labels: map[string]string{mqttv1.LabelManagedBy: mqttv1.ManagedByValue, mqttv1.LabelUser: "orphan"}},
		StringData: map[string]string{"password": "left-behind"}})
	e.create(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "live-owner"}})
	var owner corev1.ConfigMap
	if err := e.get(&owner, "live-owner"); err != nil {
		t.Fatal(err)
	}
	e.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "owned-mqtt-credentials", OwnerReferences: []metav1.OwnerReference{{
		APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID, Controller: ptr.To(true)}}},
		StringData: map[string]string{"password": "not-yours"}})
	e.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "mine-mqtt-credentials"}, StringData: map[string]string{"password": "hand-made"}})

	for _, name := range []string{"orphan", "owned", "mine"} {
		e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: mqttv1.MQTTUserSpec{BrokerRef: e.ref()}})
	}
	e.waitReady(&mqttv1.MQTTUser{}, "orphan")
	var u mqttv1.MQTTUser
	var s corev1.Secret
	if err := e.get(&u, "orphan"); err != nil {
		t.Fatal(err)
	}
	if err := e.get(&s, "orphan-mqtt-credentials"); err != nil {
		t.Fatal(err)
	}
	if !metav1.IsControlledBy(&s, &u) || len(s.OwnerReferences) != 1 {
		t.Fatalf("owner references after takeover = %+v, want only the new MQTTUser", s.OwnerReferences)
	}
	e.eventuallyConnects("c-orphan", "orphan", string(s.Data["password"]), true)

	for name, pw := range map[string]string{"owned": "not-yours", "mine": "hand-made"} {
		c := e.condition(&mqttv1.MQTTUser{}, name, mqttv1.ConditionStalled, metav1.ConditionTrue, mqttv1.ReasonSecretInvalid)
		e.g.Expect(c.Message).To(gomega.ContainSubstring(name+"-mqtt-credentials"), "the reason names the Secret")
		if err := e.get(&s, name+"-mqtt-credentials"); err != nil {
			t.Fatal(err)
		}
		if string(s.Data["password"]) != pw {
			t.Errorf("Secret %s-mqtt-credentials was changed", name)
		}
		if _, err := e.brokerClient().GetUser(e.ctx, broker.ByUsername, name); !broker.IsNotFound(err) {
			t.Errorf("user %s reached the broker (GetUser: %v)", name, err)
		}
	}
}
