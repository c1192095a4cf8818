package controllers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/testbroker"
	"github.com/mqttoperator/mqtt-operator/test/faultproxy"
)

// Strings for the bad-input tables.
var (
	kb70      = strings.Repeat("a", 70*1024) // 71680 characters
	kb70Wide  = strings.Repeat("é", 35*1024) // 35840 characters, 71680 bytes
	invalid8  = "ab\xff\xfecd"               // not UTF-8; arrives as U+FFFD
	long254   = strings.Repeat("b", 254)     // one over an object name
	name240   = strings.Repeat("u", 240)     // a user name whose Secret name would be 257
	longLabel = strings.Repeat("v", 64)      // one over a label value
	tooMany   = func() map[string]string {
		m := map[string]string{}
		for i := range 65 {
			m[fmt.Sprintf("k%d", i)] = "v"
		}
		return m
	}()
)

// rawBody is a request body sent to the API server as bytes, for input no
// Go client can produce (invalid UTF-8 survives only this way).
type rawBody struct {
	resource string
	body     string
}

// TestBadInputRefusedAtAdmission: every invalid object admission can judge
// is refused by the API server, with a message that names the problem.
func TestBadInputRefusedAtAdmission(t *testing.T) {
	ns := newNamespace(t)
	adm := admission{ns: ns}
	user, acl, topic, ban := adm.user, adm.acl, adm.topic, adm.ban
	peer := func(ip string) client.Object {
		return ban(func(b *mqttv1.MQTTBan) { b.Spec.As, b.Spec.Who = mqttv1.BanPeerHost, ip })
	}
	ext := func(mut func(*mqttv1.ExternalBroker)) client.Object {
		return adm.broker(func(b *mqttv1.MQTTBroker) { mut(b.Spec.External) })
	}
	allowing := func(namespaces ...string) client.Object {
		return adm.broker(func(b *mqttv1.MQTTBroker) { b.Spec.AllowedNamespaces = namespaces })
	}
	managed := func(mut func(*mqttv1.ManagedBroker)) client.Object {
		return adm.broker(func(b *mqttv1.MQTTBroker) {
			b.Spec.External, b.Spec.Managed = nil, &mqttv1.ManagedBroker{Version: "5.8.6"}
			mut(b.Spec.Managed)
		})
	}
	rawUser := func(spec string) *rawBody {
		return &rawBody{"mqttusers", `{"apiVersion":"mqtt.mqttoperator.io/v1alpha1","kind":"MQTTUser","metadata":{"generateName":"raw-"},"spec":` + spec + `}`}
	}
	rawBan := func(spec string) *rawBody {
		return &rawBody{"mqttbans", `{"apiVersion":"mqtt.mqttoperator.io/v1alpha1","kind":"MQTTBan","metadata":{"generateName":"raw-"},"spec":` + spec + `}`}
	}
	until := metav1.NewTime(time.Now().Add(time.Hour))
	dur := func(s string) *metav1.Duration {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		return &metav1.Duration{Duration: d}
	}
	const fffd = "U+FFFD"

	cases := []struct {
		name string
		obj  client.Object
		raw  *rawBody
		want string
	}{
		// MQTTUser
		{"user: username with NUL", user(func(u *mqttv1.MQTTUser) { u.Spec.Username = "a\x00b" }), nil, "username must not contain control characters"},
		{"user: username with a newline", user(func(u *mqttv1.MQTTUser) { u.Spec.Username = "a\nb" }), nil, "username must not contain control characters"},
		{"user: username with DEL", user(func(u *mqttv1.MQTTUser) { u.Spec.Username = "a\x7f" }), nil, "username must not contain control characters"},
		{"user: username with ESC", user(func(u *mqttv1.MQTTUser) { u.Spec.Username = "\x1b[31mred" }), nil, "username must not contain control characters"},
		{"user: username invalid UTF-8 (Go client)", user(func(u *mqttv1.MQTTUser) { u.Spec.Username = invalid8 }), nil, fffd},
		{"user: username invalid UTF-8 (raw bytes)", nil, rawUser(`{"brokerRef":{"name":"emqx"},"username":"` + invalid8 + `"}`), fffd},
		{"user: username 70 KB", user(func(u *mqttv1.MQTTUser) { u.Spec.Username = kb70 }), nil, "spec.username: Too long"},
		{"user: username 70 KB of multibyte characters", user(func(u *mqttv1.MQTTUser) { u.Spec.Username = kb70Wide }), nil, "username must be at most 65535 bytes"},
		{"user: unknown identifier", user(func(u *mqttv1.MQTTUser) { u.Spec.Identifier = "email" }), nil, `supported values: "username", "clientid"`},
		{"user: unknown deletion policy", user(func(u *mqttv1.MQTTUser) { u.Spec.DeletionPolicy = "Orphan" }), nil, `supported values: "Delete", "Retain"`},
		{"user: empty broker name", user(func(u *mqttv1.MQTTUser) { u.Spec.BrokerRef.Name = "" }), nil, "spec.brokerRef.name"},
		{"user: broker name not an object name", user(func(u *mqttv1.MQTTUser) { u.Spec.BrokerRef.Name = "Bad_Name" }), nil, "name must be a valid object name"},
		{"user: broker name too long", user(func(u *mqttv1.MQTTUser) { u.Spec.BrokerRef.Name = long254 }), nil, "spec.brokerRef.name: Too long"},
		{"user: broker namespace not a namespace name", user(func(u *mqttv1.MQTTUser) { u.Spec.BrokerRef.Namespace = "Team A" }), nil, "namespace must be a valid namespace name"},
		{"user: password Secret name invalid", user(func(u *mqttv1.MQTTUser) {
			u.Spec.PasswordSecretRef = &mqttv1.SecretKeySelector{Name: "My Secret", Key: "password"}
		}), nil, "name must be a valid Secret name"},
		{"user: password Secret key with a slash", user(func(u *mqttv1.MQTTUser) {
			u.Spec.PasswordSecretRef = &mqttv1.SecretKeySelector{Name: "s", Key: "a/b"}
		}), nil, "key must be a valid Secret key"},
		{"user: password Secret key empty", user(func(u *mqttv1.MQTTUser) { u.Spec.PasswordSecretRef = &mqttv1.SecretKeySelector{Name: "s"} }), nil, "spec.passwordSecretRef.key"},
		{"user: name too long for the generated Secret", user(func(u *mqttv1.MQTTUser) { u.GenerateName = ""; u.Name = name240 }), nil,
			"the name must be at most 236 characters when the operator generates the password"},
		{"user: secretTemplate label key invalid", user(func(u *mqttv1.MQTTUser) {
			u.Spec.SecretTemplate = &mqttv1.SecretTemplate{Labels: map[string]string{"not a key!": "v"}}
		}), nil, "label keys must be valid label keys"},
		{"user: secretTemplate label value too long", user(func(u *mqttv1.MQTTUser) {
			u.Spec.SecretTemplate = &mqttv1.SecretTemplate{Labels: map[string]string{"team": longLabel}}
		}), nil, "label values must be at most 63 characters"},
		{"user: secretTemplate annotation key invalid", user(func(u *mqttv1.MQTTUser) {
			u.Spec.SecretTemplate = &mqttv1.SecretTemplate{Annotations: map[string]string{"/no-name": "v"}}
		}), nil, "annotation keys must be valid"},
		{"user: secretTemplate with 65 labels", user(func(u *mqttv1.MQTTUser) { u.Spec.SecretTemplate = &mqttv1.SecretTemplate{Labels: tooMany} }), nil,
			"spec.secretTemplate.labels: Too many"},

		// MQTTACL
		{"acl: no subject", acl(func(a *mqttv1.MQTTACL) { a.Spec.Subject = mqttv1.ACLSubject{} }), nil, "subject must set exactly one of username, clientid or all: true"},
		{"acl: two subjects", acl(func(a *mqttv1.MQTTACL) { a.Spec.Subject.ClientID = "c1" }), nil, "subject must set exactly one"},
		{"acl: all: false alone", acl(func(a *mqttv1.MQTTACL) { a.Spec.Subject = mqttv1.ACLSubject{All: false} }), nil, "subject must set exactly one"},
		{"acl: subject username with a tab", acl(func(a *mqttv1.MQTTACL) { a.Spec.Subject.Username = "a\tb" }), nil, "username must not contain control characters"},
		{"acl: subject username invalid UTF-8", acl(func(a *mqttv1.MQTTACL) { a.Spec.Subject.Username = invalid8 }), nil, fffd},
		{"acl: subject clientid with NUL", acl(func(a *mqttv1.MQTTACL) { a.Spec.Subject = mqttv1.ACLSubject{ClientID: "c\x00"} }), nil, "clientid must not contain control characters"},
		{"acl: subject clientid invalid UTF-8", acl(func(a *mqttv1.MQTTACL) { a.Spec.Subject = mqttv1.ACLSubject{ClientID: invalid8} }), nil, fffd},
		{"acl: subject clientid 70 KB", acl(func(a *mqttv1.MQTTACL) { a.Spec.Subject = mqttv1.ACLSubject{ClientID: kb70} }), nil, "spec.subject.clientid: Too long"},
		{"acl: unknown action", acl(func(a *mqttv1.MQTTACL) { a.Spec.Rules[0].Action = "pubsub" }), nil, `supported values: "publish", "subscribe", "all"`},
		{"acl: unknown permission", acl(func(a *mqttv1.MQTTACL) { a.Spec.Rules[0].Permission = "maybe" }), nil, `supported values: "allow", "deny"`},
		{"acl: unknown deletion policy", acl(func(a *mqttv1.MQTTACL) { a.Spec.DeletionPolicy = "Keep" }), nil, `supported values: "Delete", "Retain"`},
		{"acl: 101 rules", acl(func(a *mqttv1.MQTTACL) { a.Spec.Rules = nRules(101) }), nil, "must have at most 100 items"},
		{"acl: broker namespace invalid", acl(func(a *mqttv1.MQTTACL) { a.Spec.BrokerRef.Namespace = "-x" }), nil, "namespace must be a valid namespace name"},
		{"topic: empty", topic(""), nil, "spec.rules[0].topic"},
		{"topic: '#' not last", topic("a/#/b"), nil, "'#' may only be the whole last level"},
		{"topic: '#' inside a level", topic("a/b#"), nil, "'#' may only be the whole last level"},
		{"topic: '##'", topic("##"), nil, "'#' may only be the whole last level"},
		{"topic: '#/'", topic("#/"), nil, "'#' may only be the whole last level"},
		{"topic: '+' inside a level", topic("a/b+/c"), nil, "'+' may only be a whole level"},
		{"topic: '+' before text", topic("+x/y"), nil, "'+' may only be a whole level"},
		{"topic: '++'", topic("a/++"), nil, "'+' may only be a whole level"},
		{"topic: $SYS with '#' in the level", topic("$SYS#"), nil, "'#' may only be the whole last level"},
		{"topic: $SYS with '+' in a level", topic("$SYS/+x"), nil, "'+' may only be a whole level"},
		{"topic: shared subscription", topic("$share/g/sensors/#"), nil, "topic must not be a shared subscription"},
		{"topic: shared subscription, group only", topic("$share/g/"), nil, "topic must not be a shared subscription"},
		{"topic: $queue subscription", topic("$queue/jobs"), nil, "topic must not be a shared subscription"},
		{"topic: NUL", topic("a/\x00"), nil, "topic must not contain NUL or other control characters"},
		{"topic: newline", topic("a/b\n"), nil, "topic must not contain NUL or other control characters"},
		{"topic: DEL", topic("a/\x7f"), nil, "topic must not contain NUL or other control characters"},
		{"topic: invalid UTF-8", topic("t/" + invalid8), nil, fffd},
		{"topic: 70 KB", topic(kb70), nil, "spec.rules[0].topic: Too long"},
		{"topic: 70 KB of multibyte characters", topic(kb70Wide), nil, "topic must be at most 65535 bytes"},

		// MQTTBan
		{"ban: empty who", ban(func(b *mqttv1.MQTTBan) { b.Spec.Who = "" }), nil, "spec.who"},
		{"ban: who with NUL", ban(func(b *mqttv1.MQTTBan) { b.Spec.Who = "c\x00" }), nil, "who must not contain control characters"},
		{"ban: who with a tab", ban(func(b *mqttv1.MQTTBan) { b.Spec.Who = "a\tb" }), nil, "who must not contain control characters"},
		{"ban: who invalid UTF-8", ban(func(b *mqttv1.MQTTBan) { b.Spec.Who = invalid8 }), nil, fffd},
		{"ban: who invalid UTF-8 (raw bytes)", nil, rawBan(`{"brokerRef":{"name":"emqx"},"as":"username","who":"` + invalid8 + `"}`), fffd},
		{"ban: who 70 KB", ban(func(b *mqttv1.MQTTBan) { b.Spec.Who = kb70 }), nil, "spec.who: Too long"},
		{"ban: unknown kind", ban(func(b *mqttv1.MQTTBan) { b.Spec.As = "ip" }), nil, `supported values: "clientid", "username", "peerhost"`},
		{"ban: peerhost not an IP", peer("broker.example.com"), nil, "who must be an IP address when as is peerhost"},
		{"ban: peerhost a network", peer("10.0.0.0/8"), nil, "who must be an IP address when as is peerhost"},
		{"ban: peerhost IPv4 in IPv6", peer("::ffff:192.0.2.1"), nil, "who must be an IP address when as is peerhost"},
		{"ban: peerhost with a zone", peer("fe80::1%eth0"), nil, "who must be an IP address when as is peerhost"},
		{"ban: peerhost upper case (collides with 2001:db8::1)", peer("2001:DB8::1"), nil, "who must be an IP address in canonical form"},
		{"ban: peerhost uncompressed (collides with 2001:db8::1)", peer("2001:db8:0:0:0:0:0:1"), nil, "who must be an IP address in canonical form"},
		{"ban: until and duration", ban(func(b *mqttv1.MQTTBan) { b.Spec.Until, b.Spec.Duration = &until, dur("1h") }), nil, "until and duration are mutually exclusive"},
		{"ban: negative duration", ban(func(b *mqttv1.MQTTBan) { b.Spec.Duration = dur("-1h") }), nil, "duration must be a positive duration"},
		{"ban: zero duration", ban(func(b *mqttv1.MQTTBan) { b.Spec.Duration = dur("0s") }), nil, "duration must be a positive duration"},
		{"ban: duration not a duration", nil, rawBan(`{"brokerRef":{"name":"emqx"},"as":"clientid","who":"c","duration":"a week"}`), "duration must be a positive duration"},
		{"ban: until not a time", nil, rawBan(`{"brokerRef":{"name":"emqx"},"as":"clientid","who":"c","until":"tomorrow"}`), "spec.until"},
		{"ban: reason over 1024 characters", ban(func(b *mqttv1.MQTTBan) { b.Spec.Reason = strings.Repeat("r", 1025) }), nil, "spec.reason: Too long"},
		{"ban: reason with NUL", ban(func(b *mqttv1.MQTTBan) { b.Spec.Reason = "bad\x00" }), nil, "reason must not contain NUL"},
		{"ban: reason invalid UTF-8", ban(func(b *mqttv1.MQTTBan) { b.Spec.Reason = invalid8 }), nil, fffd},
		{"ban: unknown deletion policy", ban(func(b *mqttv1.MQTTBan) { b.Spec.DeletionPolicy = "Never" }), nil, `supported values: "Delete", "Retain"`},
		{"ban: broker name invalid", ban(func(b *mqttv1.MQTTBan) { b.Spec.BrokerRef.Name = "emqx/other" }), nil, "name must be a valid object name"},

		// MQTTBroker
		{"broker: url not http", ext(func(e *mqttv1.ExternalBroker) { e.URL = "ftp://emqx" }), nil, "url must be an http or https URL"},
		{"broker: url not a URL", ext(func(e *mqttv1.ExternalBroker) { e.URL = "http://emqx:18083\n" }), nil, "url must be an http or https URL"},
		{"broker: url with credentials", ext(func(e *mqttv1.ExternalBroker) { e.URL = "https://admin:public@emqx:18083" }), nil, "url must not hold credentials"},
		{"broker: url 3 KB", ext(func(e *mqttv1.ExternalBroker) { e.URL = "http://emqx/" + strings.Repeat("p", 3000) }), nil, "spec.external.url: Too long"},
		{"broker: unknown API version", ext(func(e *mqttv1.ExternalBroker) { e.APIVersion = "v3" }), nil, `supported values: "v4", "v5"`},
		{"broker: credentials Secret name invalid", ext(func(e *mqttv1.ExternalBroker) { e.CredentialsSecretRef.Name = "API creds" }), nil, "name must be a valid object name"},
		{"broker: CA Secret key invalid", ext(func(e *mqttv1.ExternalBroker) { e.CASecretRef = &mqttv1.SecretKeySelector{Name: "ca", Key: "ca crt"} }), nil, "key must be a valid Secret key"},
		{"broker: MQTT port 0", nil, &rawBody{"mqttbrokers", `{"apiVersion":"mqtt.mqttoperator.io/v1alpha1","kind":"MQTTBroker","metadata":{"generateName":"raw-"},"spec":{"external":{"url":"http://emqx","apiVersion":"v5","credentialsSecretRef":{"name":"c"},"mqttPort":0}}}`}, "spec.external.mqttPort"},
		{"broker: MQTT port 70000", ext(func(e *mqttv1.ExternalBroker) { e.MQTTPort = 70000 }), nil, "spec.external.mqttPort"},
		{"broker: MQTT host with a space", ext(func(e *mqttv1.ExternalBroker) { e.MQTTHost = "emqx .example.com" }), nil, "mqttHost must be a host name or an IP address"},
		{"broker: allowed namespace invalid", allowing("team-a", "Team B"), nil, "allowedNamespaces must hold namespace names"},
		{"broker: managed version unknown", managed(func(m *mqttv1.ManagedBroker) { m.Version = "6.0" }), nil, "spec.managed.version"},
		{"broker: managed replicas 0", managed(func(m *mqttv1.ManagedBroker) { m.Replicas = new(int32) }), nil, "spec.managed.replicas"},
		{"broker: managed service type unknown", managed(func(m *mqttv1.ManagedBroker) { m.ServiceType = "Ingress" }), nil, `supported values: "ClusterIP", "NodePort", "LoadBalancer"`},
	}
	refused := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.raw != nil {
				err = postRaw(ns, tc.raw)
			} else {
				err = k8sClient.Create(context.Background(), tc.obj)
			}
			if err == nil {
				t.Fatalf("accepted; want refused with %q", tc.want)
			}
			if !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) {
				t.Fatalf("refused for another reason: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("message %q does not contain %q", err.Error(), tc.want)
			}
			refused++
		})
	}
	t.Logf("%d invalid objects refused at admission", refused)
}

// postRaw sends a JSON body as is and returns the API server's refusal.
func postRaw(ns string, r *rawBody) error {
	hc, err := rest.HTTPClientFor(testCfg)
	if err != nil {
		return err
	}
	url := fmt.Sprintf("%s/apis/%s/namespaces/%s/%s", strings.TrimSuffix(testCfg.Host, "/"), mqttv1.GroupVersion.String(), ns, r.resource)
	resp, err := hc.Post(url, "application/json", bytes.NewReader([]byte(r.body)))
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode < 300 {
		return nil
	}
	var status metav1.Status
	if err := json.Unmarshal(body, &status); err != nil || status.Kind != "Status" {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, body)
	}
	return &apierrors.StatusError{ErrStatus: status}
}

// proxiedEnv is an env whose MQTTBroker reaches the test broker through a
// fault proxy, which counts every call the operator makes.
func proxiedEnv(t *testing.T, api broker.APIVersion) (*env, *faultproxy.Proxy) {
	t.Helper()
	tb, err := testbroker.New(testbroker.Options{AuthzCacheTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tb.Close() })
	p, err := faultproxy.New(tb.APIURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	e := &env{t: t, g: gomega.NewWithT(t), ctx: context.Background(), ns: newNamespace(t), tb: tb, broker: "emqx", api: api}
	e.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "emqx-api"}, Type: corev1.SecretTypeBasicAuth,
		StringData: map[string]string{"username": "admin", "password": "public"}})
	host, port := splitHostPort(t, tb.MQTTAddr())
	e.create(&mqttv1.MQTTBroker{ObjectMeta: metav1.ObjectMeta{Name: e.broker}, Spec: mqttv1.MQTTBrokerSpec{External: &mqttv1.ExternalBroker{
		URL: p.URL(), APIVersion: mqttv1.BrokerAPIVersion(api), CredentialsSecretRef: mqttv1.LocalObjectReference{Name: "emqx-api"}, MQTTHost: host, MQTTPort: port}}})
	e.waitReady(&mqttv1.MQTTBroker{}, e.broker)
	return e, p
}

// stalledCase is an object admission accepts but the operator must refuse:
// Stalled with the reason, and nothing written to the broker.
type stalledCase struct {
	name   string
	setup  []client.Object
	obj    statusObject
	reason string
	msg    string
}

// TestBadInputStalledWithoutBrokerWrites: what admission cannot judge (the
// content of a Secret, what exists already, another object's claim) leaves
// the object Stalled with a clear reason, and the broker receives no write.
func TestBadInputStalledWithoutBrokerWrites(t *testing.T) {
	e, p := proxiedEnv(t, broker.APIv4)
	ref := e.ref()
	secret := func(name string, data map[string][]byte) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: data}
	}
	refUser := func(name, secretName string) *mqttv1.MQTTUser {
		return &mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: mqttv1.MQTTUserSpec{BrokerRef: ref,
			PasswordSecretRef: &mqttv1.SecretKeySelector{Name: secretName, Key: "password"}}}
	}
	other := newNamespace(t)
	cases := []stalledCase{
		{name: "password Secret missing", obj: refUser("no-secret", "absent"), reason: mqttv1.ReasonSecretNotFound, msg: "absent"},
		{name: "password key missing", setup: []client.Object{secret("nokey", map[string][]byte{"pass": []byte("x")})},
			obj: refUser("no-key", "nokey"), reason: mqttv1.ReasonSecretInvalid, msg: `"password"`},
		{name: "password empty", setup: []client.Object{secret("empty", map[string][]byte{"password": {}})},
			obj: refUser("empty-pw", "empty"), reason: mqttv1.ReasonSecretInvalid, msg: "empty"},
		{name: "password not UTF-8 (JSON would change it)", setup: []client.Object{secret("binary", map[string][]byte{"password": []byte("pw\xff\xfe")})},
			obj: refUser("binary-pw", "binary"), reason: mqttv1.ReasonSecretInvalid, msg: "UTF-8"},
		{name: "password 70 KB (over MQTT's 65535 bytes)", setup: []client.Object{secret("huge", map[string][]byte{"password": []byte(kb70)})},
			obj: refUser("huge-pw", "huge"), reason: mqttv1.ReasonSecretInvalid, msg: "65535"},
		{name: "generated Secret name taken by someone else's Secret", setup: []client.Object{secret("taken-mqtt-credentials", map[string][]byte{"password": []byte("theirs")})},
			obj: &mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "taken"}, Spec: mqttv1.MQTTUserSpec{BrokerRef: ref}}, reason: mqttv1.ReasonSecretInvalid, msg: "taken-mqtt-credentials"},
		{name: "superuser on a v4 broker", obj: &mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "root"}, Spec: mqttv1.MQTTUserSpec{BrokerRef: ref, Superuser: true}},
			reason: mqttv1.ReasonUnsupported, msg: "superuser"},
		{name: "keepExistingPassword for a user the broker lacks", obj: &mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "imported"},
			Spec: mqttv1.MQTTUserSpec{BrokerRef: ref, KeepExistingPassword: true}}, reason: mqttv1.ReasonPasswordUnknown, msg: "imported"},
		{name: "broker in a namespace that does not allow this one", obj: &mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "intruder", Namespace: other},
			Spec: mqttv1.MQTTUserSpec{BrokerRef: mqttv1.BrokerReference{Name: e.broker, Namespace: e.ns}}}, reason: mqttv1.ReasonRefNotAllowed, msg: other},
		{name: "ACL repeating a topic and action", obj: &mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{Name: "dup"}, Spec: mqttv1.MQTTACLSpec{BrokerRef: ref,
			Subject: mqttv1.ACLSubject{Username: "dup"}, Rules: []mqttv1.ACLRule{
				{Topic: "a/#", Action: mqttv1.ACLActionPublish, Permission: mqttv1.ACLAllow},
				{Topic: "b", Action: mqttv1.ACLActionSubscribe, Permission: mqttv1.ACLAllow},
				{Topic: "a/#", Action: mqttv1.ACLActionPublish, Permission: mqttv1.ACLDeny}}}},
			reason: mqttv1.ReasonInvalidSpec, msg: "a/#"},
	}
	for _, tc := range cases {
		for _, o := range tc.setup {
			e.create(o)
		}
		e.create(tc.obj)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ce := *e
			ce.t, ce.g = t, gomega.NewWithT(t)
			if ns := tc.obj.GetNamespace(); ns != "" {
				ce.ns = ns
			}
			c := ce.condition(tc.obj.DeepCopyObject().(statusObject), tc.obj.GetName(), mqttv1.ConditionStalled, metav1.ConditionTrue, tc.reason)
			if !strings.Contains(c.Message, tc.msg) {
				t.Errorf("Stalled message %q does not mention %q", c.Message, tc.msg)
			}
		})
	}
	// Give retries and the drift scanner time to write, should they.
	time.Sleep(2 * testResync)
	if w := p.Stats().Writes; w != 0 {
		t.Fatalf("the broker received %d writes for objects that are all invalid", w)
	}
	t.Logf("%d invalid objects Stalled, %d broker calls, none a write", len(cases), p.Stats().Requests)
}

// TestNameCollisionsStalled: objects whose names collide on the broker
// after normalisation (a defaulted username, a spelled-out namespace, the
// same subject or ban) leave the first one in charge: the later one is
// Stalled with the holder's name, and the broker receives no write for it.
func TestNameCollisionsStalled(t *testing.T) {
	e, p := proxiedEnv(t, broker.APIv5)
	ref := e.ref()
	withNS := mqttv1.BrokerReference{Name: e.broker, Namespace: e.ns}
	holders := []statusObject{
		&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "alice"}, Spec: mqttv1.MQTTUserSpec{BrokerRef: ref}},
		&mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{Name: "alice-rules"}, Spec: mqttv1.MQTTACLSpec{BrokerRef: ref, Subject: mqttv1.ACLSubject{Username: "alice"},
			Rules: []mqttv1.ACLRule{{Topic: "alice/#", Action: mqttv1.ACLActionAll, Permission: mqttv1.ACLAllow}}}},
		&mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{Name: "everyone"}, Spec: mqttv1.MQTTACLSpec{BrokerRef: ref, Subject: mqttv1.ACLSubject{All: true},
			Rules: []mqttv1.ACLRule{{Topic: "#", Action: mqttv1.ACLActionAll, Permission: mqttv1.ACLDeny}}}},
		&mqttv1.MQTTBan{ObjectMeta: metav1.ObjectMeta{Name: "ban-c1"}, Spec: mqttv1.MQTTBanSpec{BrokerRef: ref, As: mqttv1.BanClientID, Who: "c1", Reason: "first"}},
		&mqttv1.MQTTBan{ObjectMeta: metav1.ObjectMeta{Name: "ban-ip"}, Spec: mqttv1.MQTTBanSpec{BrokerRef: ref, As: mqttv1.BanPeerHost, Who: "2001:db8::1"}},
	}
	for _, h := range holders {
		e.create(h)
	}
	for _, h := range holders {
		e.waitReady(h.DeepCopyObject().(statusObject), h.GetName())
	}
	pw := e.secretValue("alice-mqtt-credentials", "password")
	time.Sleep(time.Second) // let status writes and cache flushes settle
	before := p.Stats().Writes

	cases := []stalledCase{
		{name: "username given equals another user's defaulted name", obj: &mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "alice-2"},
			Spec: mqttv1.MQTTUserSpec{BrokerRef: ref, Username: "alice"}}, reason: mqttv1.ReasonUsernameConflict, msg: e.ns + "/alice"},
		{name: "same username with the broker namespace spelled out", obj: &mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "alice-3"},
			Spec: mqttv1.MQTTUserSpec{BrokerRef: withNS, Username: "alice"}}, reason: mqttv1.ReasonUsernameConflict, msg: e.ns + "/alice"},
		{name: "second ACL for the same username", obj: &mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{Name: "alice-more"}, Spec: mqttv1.MQTTACLSpec{BrokerRef: withNS,
			Subject: mqttv1.ACLSubject{Username: "alice"}, Rules: []mqttv1.ACLRule{{Topic: "#", Action: mqttv1.ACLActionAll, Permission: mqttv1.ACLAllow}}}},
			reason: mqttv1.ReasonSubjectConflict, msg: "alice-rules"},
		{name: "second ACL for all clients", obj: &mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{Name: "everyone-2"}, Spec: mqttv1.MQTTACLSpec{BrokerRef: ref,
			Subject: mqttv1.ACLSubject{All: true}, Rules: []mqttv1.ACLRule{{Topic: "#", Action: mqttv1.ACLActionAll, Permission: mqttv1.ACLAllow}}}},
			reason: mqttv1.ReasonSubjectConflict, msg: "everyone"},
		{name: "second ban of the same client id", obj: &mqttv1.MQTTBan{ObjectMeta: metav1.ObjectMeta{Name: "ban-c1-again"},
			Spec: mqttv1.MQTTBanSpec{BrokerRef: ref, As: mqttv1.BanClientID, Who: "c1", Reason: "second"}}, reason: mqttv1.ReasonBanConflict, msg: "ban-c1"},
	}
	for _, tc := range cases {
		e.create(tc.obj)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ce := *e
			ce.t, ce.g = t, gomega.NewWithT(t)
			c := ce.condition(tc.obj.DeepCopyObject().(statusObject), tc.obj.GetName(), mqttv1.ConditionStalled, metav1.ConditionTrue, tc.reason)
			if !strings.Contains(c.Message, tc.msg) {
				t.Errorf("Stalled message %q does not name the holder %q", c.Message, tc.msg)
			}
		})
	}
	time.Sleep(2 * testResync)
	if w := p.Stats().Writes - before; w != 0 {
		t.Fatalf("the broker received %d writes for the colliding objects", w)
	}
	// The holders' state is untouched.
	e.eventuallyConnects("c-alice", "alice", pw, true)
	bans, err := e.brokerClient().ListBans(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bans {
		if b.Who == "c1" && b.Reason != "first" {
			t.Fatalf("the ban of c1 was rewritten: reason %q", b.Reason)
		}
	}
}
