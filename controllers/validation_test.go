package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// The admission rules of the CRDs (CEL and OpenAPI) are checked on the real
// API server: every rule has a rejected and an accepted case.
func TestAdmissionValidation(t *testing.T) {
	ns := newNamespace(t)
	adm := admission{ns: ns}
	user, acl, topic, ban, broker := adm.user, adm.acl, adm.topic, adm.ban, adm.broker
	until := metav1.NewTime(time.Now().Add(time.Hour))
	long := strings.Repeat("a", 65536)
	longBytes := strings.Repeat("é", 40000) // 40000 characters, 80000 bytes

	cases := []struct {
		name    string
		obj     client.Object
		wantErr string // empty: accepted
	}{
		{"broker: external only", broker(func(*mqttv1.MQTTBroker) {}), ""},
		{"broker: managed only", broker(func(b *mqttv1.MQTTBroker) {
			b.Spec.External = nil
			b.Spec.Managed = &mqttv1.ManagedBroker{Version: "5.8.6"}
		}), ""},
		{"broker: neither", broker(func(b *mqttv1.MQTTBroker) { b.Spec.External = nil }), "exactly one of managed or external must be set"},
		{"broker: both", broker(func(b *mqttv1.MQTTBroker) { b.Spec.Managed = &mqttv1.ManagedBroker{Version: "4.4.19"} }), "exactly one of managed or external must be set"},
		{"broker: bad api version", broker(func(b *mqttv1.MQTTBroker) { b.Spec.External.APIVersion = "v3" }), "supported values: \"v4\", \"v5\""},
		{"broker: url not http", broker(func(b *mqttv1.MQTTBroker) { b.Spec.External.URL = "ftp://x" }), "url must be an http or https URL"},
		{"broker: bad managed version", broker(func(b *mqttv1.MQTTBroker) {
			b.Spec.External = nil
			b.Spec.Managed = &mqttv1.ManagedBroker{Version: "6.0"}
		}), "spec.managed.version"},

		{"broker: managed name too long", broker(func(b *mqttv1.MQTTBroker) {
			b.GenerateName = strings.Repeat("b", 53)
			b.Spec.External = nil
			b.Spec.Managed = &mqttv1.ManagedBroker{Version: "5.8.6"}
		}), "a managed broker's name must be a DNS-1035 label of at most 52 characters"},
		{"broker: long name fine when external", broker(func(b *mqttv1.MQTTBroker) { b.GenerateName = strings.Repeat("b", 60) }), ""},

		{"user: defaults", user(func(*mqttv1.MQTTUser) {}), ""},
		{"user: explicit username", user(func(u *mqttv1.MQTTUser) { u.Spec.Username = "dev/ice+1 é" }), ""},
		{"user: control character", user(func(u *mqttv1.MQTTUser) { u.Spec.Username = "bad\nname" }), "username must not contain control characters"},
		{"user: username over 65535 bytes", user(func(u *mqttv1.MQTTUser) { u.Spec.Username = longBytes }), "username must be at most 65535 bytes"},
		{"user: username over 65535 characters", user(func(u *mqttv1.MQTTUser) { u.Spec.Username = long }), "spec.username: Too long"},
		{"user: bad identifier", user(func(u *mqttv1.MQTTUser) { u.Spec.Identifier = "email" }), "supported values: \"username\", \"clientid\""},
		{"user: clientid identifier", user(func(u *mqttv1.MQTTUser) { u.Spec.Identifier = mqttv1.IdentifierClientID }), ""},
		{"user: bad deletion policy", user(func(u *mqttv1.MQTTUser) { u.Spec.DeletionPolicy = "Orphan" }), "supported values: \"Delete\", \"Retain\""},
		{"user: retain", user(func(u *mqttv1.MQTTUser) { u.Spec.DeletionPolicy = mqttv1.DeletionPolicyRetain }), ""},
		{"user: empty broker name", user(func(u *mqttv1.MQTTUser) { u.Spec.BrokerRef.Name = "" }), "spec.brokerRef.name"},

		{"acl: username subject", acl(func(*mqttv1.MQTTACL) {}), ""},
		{"acl: all subject", acl(func(a *mqttv1.MQTTACL) { a.Spec.Subject = mqttv1.ACLSubject{All: true} }), ""},
		{"acl: two subjects", acl(func(a *mqttv1.MQTTACL) { a.Spec.Subject.ClientID = "c1" }), "subject must set exactly one of username, clientid or all: true"},
		{"acl: no subject", acl(func(a *mqttv1.MQTTACL) { a.Spec.Subject = mqttv1.ACLSubject{} }), "subject must set exactly one of username, clientid or all: true"},
		{"acl: username and all", acl(func(a *mqttv1.MQTTACL) { a.Spec.Subject.All = true }), "subject must set exactly one of username, clientid or all: true"},
		{"acl: clientid with control char", acl(func(a *mqttv1.MQTTACL) { a.Spec.Subject = mqttv1.ACLSubject{ClientID: "c\x01"} }), "clientid must not contain control characters"},
		{"acl: bad action", acl(func(a *mqttv1.MQTTACL) { a.Spec.Rules[0].Action = "pubsub" }), "supported values: \"publish\", \"subscribe\", \"all\""},
		{"acl: bad permission", acl(func(a *mqttv1.MQTTACL) { a.Spec.Rules[0].Permission = "maybe" }), "supported values: \"allow\", \"deny\""},
		{"acl: 100 rules", acl(func(a *mqttv1.MQTTACL) { a.Spec.Rules = nRules(100) }), ""},
		{"acl: 101 rules", acl(func(a *mqttv1.MQTTACL) { a.Spec.Rules = nRules(101) }), "must have at most 100 items"},
		{"topic: wildcards valid", topic("a/+/b/#"), ""},
		{"topic: lone hash", topic("#"), ""},
		{"topic: lone plus", topic("+"), ""},
		{"topic: placeholders", topic("devices/${clientid}/%u/#"), ""},
		{"topic: $SYS and spaces", topic("$SYS/broker x/é"), ""},
		{"topic: empty levels", topic("/a//b/"), ""},
		{"topic: empty", topic(""), "spec.rules[0].topic"},
		{"topic: hash not last", topic("a/#/b"), "may only be the whole last level"},
		{"topic: hash inside level", topic("a/b#"), "may only be the whole last level"},
		{"topic: plus inside level", topic("a/b+/c"), "may only be a whole level"},
		{"topic: plus before text", topic("+x/y"), "may only be a whole level"},
		{"topic: NUL", topic("a/\x00"), "topic must not contain NUL"},
		{"topic: over 65535 bytes", topic(longBytes), "topic must be at most 65535 bytes"},

		{"ban: clientid", ban(func(*mqttv1.MQTTBan) {}), ""},
		{"ban: until", ban(func(b *mqttv1.MQTTBan) { b.Spec.Until = &until }), ""},
		{"ban: duration", ban(func(b *mqttv1.MQTTBan) { b.Spec.Duration = &metav1.Duration{Duration: time.Hour} }), ""},
		{"ban: until and duration", ban(func(b *mqttv1.MQTTBan) {
			b.Spec.Until = &until
			b.Spec.Duration = &metav1.Duration{Duration: time.Hour}
		}), "until and duration are mutually exclusive"},
		{"ban: bad as", ban(func(b *mqttv1.MQTTBan) { b.Spec.As = "ip" }), "supported values: \"clientid\", \"username\", \"peerhost\""},
		{"ban: peerhost ipv4", ban(func(b *mqttv1.MQTTBan) { b.Spec.As, b.Spec.Who = mqttv1.BanPeerHost, "192.0.2.7" }), ""},
		{"ban: peerhost ipv6", ban(func(b *mqttv1.MQTTBan) { b.Spec.As, b.Spec.Who = mqttv1.BanPeerHost, "2001:db8::1" }), ""},
		{"ban: peerhost not an ip", ban(func(b *mqttv1.MQTTBan) { b.Spec.As, b.Spec.Who = mqttv1.BanPeerHost, "example.com" }), "who must be an IP address when as is peerhost"},
		{"ban: empty who", ban(func(b *mqttv1.MQTTBan) { b.Spec.Who = "" }), "spec.who"},
		{"ban: who with control char", ban(func(b *mqttv1.MQTTBan) { b.Spec.Who = "a\tb" }), "who must not contain control characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := k8sClient.Create(context.Background(), tc.obj)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("want accepted, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want rejected with %q, got accepted", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("want error containing %q, got %v", tc.wantErr, err)
			}
		})
	}
}

// Immutable fields are checked on update.
func TestAdmissionImmutability(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	ref := mqttv1.BrokerReference{Name: "b"}

	cases := []struct {
		name    string
		obj     client.Object
		mutate  func(client.Object)
		wantErr string
	}{
		{"user: username change", &mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "u1", Namespace: ns}, Spec: mqttv1.MQTTUserSpec{BrokerRef: ref, Username: "alice"}},
			func(o client.Object) { o.(*mqttv1.MQTTUser).Spec.Username = "bob" }, "username is immutable"},
		{"user: username set to other than name", &mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "u2", Namespace: ns}, Spec: mqttv1.MQTTUserSpec{BrokerRef: ref}},
			func(o client.Object) { o.(*mqttv1.MQTTUser).Spec.Username = "carol" }, "username is immutable"},
		{"user: username set to the name", &mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "u3", Namespace: ns}, Spec: mqttv1.MQTTUserSpec{BrokerRef: ref}},
			func(o client.Object) { o.(*mqttv1.MQTTUser).Spec.Username = "u3" }, ""},
		{"user: brokerRef change", &mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "u4", Namespace: ns}, Spec: mqttv1.MQTTUserSpec{BrokerRef: ref}},
			func(o client.Object) { o.(*mqttv1.MQTTUser).Spec.BrokerRef.Name = "other" }, "brokerRef is immutable"},
		{"user: password ref change allowed", &mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "u5", Namespace: ns}, Spec: mqttv1.MQTTUserSpec{BrokerRef: ref}},
			func(o client.Object) {
				o.(*mqttv1.MQTTUser).Spec.PasswordSecretRef = &mqttv1.SecretKeySelector{Name: "s", Key: "password"}
			}, ""},
		{"acl: subject change", &mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{Name: "a1", Namespace: ns}, Spec: mqttv1.MQTTACLSpec{BrokerRef: ref, Subject: mqttv1.ACLSubject{Username: "alice"}, Rules: nRules(1)}},
			func(o client.Object) { o.(*mqttv1.MQTTACL).Spec.Subject.Username = "bob" }, "subject is immutable"},
		{"acl: rules change allowed", &mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{Name: "a2", Namespace: ns}, Spec: mqttv1.MQTTACLSpec{BrokerRef: ref, Subject: mqttv1.ACLSubject{Username: "alice"}, Rules: nRules(1)}},
			func(o client.Object) { o.(*mqttv1.MQTTACL).Spec.Rules = nRules(3) }, ""},
		{"broker: storage change", &mqttv1.MQTTBroker{ObjectMeta: metav1.ObjectMeta{Name: "m1", Namespace: ns}, Spec: mqttv1.MQTTBrokerSpec{Managed: &mqttv1.ManagedBroker{Version: "5.8.6",
			Storage: &mqttv1.BrokerStorage{Size: resource.MustParse("1Gi")}}}},
			func(o client.Object) { o.(*mqttv1.MQTTBroker).Spec.Managed.Storage.Size = resource.MustParse("2Gi") }, "storage is immutable"},
		{"broker: storage added", &mqttv1.MQTTBroker{ObjectMeta: metav1.ObjectMeta{Name: "m2", Namespace: ns}, Spec: mqttv1.MQTTBrokerSpec{Managed: &mqttv1.ManagedBroker{Version: "5.8.6"}}},
			func(o client.Object) {
				o.(*mqttv1.MQTTBroker).Spec.Managed.Storage = &mqttv1.BrokerStorage{Size: resource.MustParse("1Gi")}
			}, "storage is immutable"},
		{"broker: version change allowed", &mqttv1.MQTTBroker{ObjectMeta: metav1.ObjectMeta{Name: "m3", Namespace: ns}, Spec: mqttv1.MQTTBrokerSpec{Managed: &mqttv1.ManagedBroker{Version: "5.8.6"}}},
			func(o client.Object) { o.(*mqttv1.MQTTBroker).Spec.Managed.Version = "5.8.7" }, ""},
		{"ban: who change", &mqttv1.MQTTBan{ObjectMeta: metav1.ObjectMeta{Name: "b1", Namespace: ns}, Spec: mqttv1.MQTTBanSpec{BrokerRef: ref, As: mqttv1.BanClientID, Who: "c1"}},
			func(o client.Object) { o.(*mqttv1.MQTTBan).Spec.Who = "c2" }, "who is immutable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := k8sClient.Create(ctx, tc.obj); err != nil {
				t.Fatalf("create: %v", err)
			}
			// A merge patch carries no resourceVersion, so the operator adding
			// its finalizer meanwhile cannot make the write conflict.
			before := tc.obj.DeepCopyObject().(client.Object)
			tc.mutate(tc.obj)
			err := k8sClient.Patch(ctx, tc.obj, client.MergeFrom(before))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("want accepted, got %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("want error containing %q, got %v", tc.wantErr, err)
			}
		})
	}
}

func nRules(n int) []mqttv1.ACLRule {
	rules := make([]mqttv1.ACLRule, n)
	for i := range rules {
		rules[i] = mqttv1.ACLRule{Topic: "t/" + strings.Repeat("x", i%7) + "/#", Action: mqttv1.ACLActionAll, Permission: mqttv1.ACLDeny}
	}
	return rules
}

// newNamespace creates a namespace for one test and deletes it afterwards.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "t-"}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), ns) })
	return ns.Name
}
