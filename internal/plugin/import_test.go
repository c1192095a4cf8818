package plugin

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

func TestImportObjects(t *testing.T) {
	b := &mqttv1.MQTTBroker{ObjectMeta: metav1.ObjectMeta{Namespace: "iot", Name: "cloud"}}
	ref := mqttv1.BrokerReference{Name: "cloud"}
	until := now.Add(24 * time.Hour)
	content := BrokerContent{
		Users: []broker.User{
			{Kind: broker.ByUsername, ID: "sensor-1"},
			{Kind: broker.ByUsername, ID: "Admin_User", Superuser: true},
			{Kind: broker.ByClientID, ID: "sensor-1"}, // same id as a username
		},
		Rules: map[broker.IdentityKind]map[string][]broker.Rule{
			broker.ByUsername: {"sensor-1": {
				{Topic: "sensors/%u/#", Action: broker.ActionPublish, Permission: broker.Allow},
				{Topic: "a/#/b", Action: broker.ActionAll, Permission: broker.Deny}, // never matches; the CRD refuses it
			}},
			broker.ByClientID: {"dev/1": {}},
			broker.ByAll:      {"": {{Topic: "#", Action: broker.ActionSubscribe, Permission: broker.Deny}}},
		},
		Bans: []broker.Ban{
			{As: broker.BanPeerHost, Who: "10.0.0.9", Reason: "flood"},
			{As: broker.BanClientID, Who: "bad", Until: until},
			{As: broker.BanUsername, Who: "old", Until: now.Add(-time.Minute)}, // ended
		},
	}
	res := ImportObjects(b, content, now)
	om := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: "iot", Name: name} }
	untilTime := metav1.NewTime(until)
	want := []client.Object{
		&mqttv1.MQTTUser{TypeMeta: typeMeta("MQTTUser"), ObjectMeta: om("admin-user-" + hashOf("username:Admin_User")),
			Spec: mqttv1.MQTTUserSpec{BrokerRef: ref, Username: "Admin_User", Superuser: true, KeepExistingPassword: true}},
		&mqttv1.MQTTUser{TypeMeta: typeMeta("MQTTUser"), ObjectMeta: om("sensor-1"),
			Spec: mqttv1.MQTTUserSpec{BrokerRef: ref, Username: "sensor-1", KeepExistingPassword: true}},
		&mqttv1.MQTTUser{TypeMeta: typeMeta("MQTTUser"), ObjectMeta: om("sensor-1-" + hashOf("clientid:sensor-1")),
			Spec: mqttv1.MQTTUserSpec{BrokerRef: ref, Username: "sensor-1", Identifier: mqttv1.IdentifierClientID, KeepExistingPassword: true}},
		&mqttv1.MQTTACL{TypeMeta: typeMeta("MQTTACL"), ObjectMeta: om("sensor-1"),
			Spec: mqttv1.MQTTACLSpec{BrokerRef: ref, Subject: mqttv1.ACLSubject{Username: "sensor-1"},
				Rules: []mqttv1.ACLRule{{Topic: "sensors/%u/#", Action: mqttv1.ACLActionPublish, Permission: mqttv1.ACLAllow}}}},
		&mqttv1.MQTTACL{TypeMeta: typeMeta("MQTTACL"), ObjectMeta: om("dev-1-" + hashOf("clientid:dev/1")),
			Spec: mqttv1.MQTTACLSpec{BrokerRef: ref, Subject: mqttv1.ACLSubject{ClientID: "dev/1"}, Rules: []mqttv1.ACLRule{}}},
		&mqttv1.MQTTACL{TypeMeta: typeMeta("MQTTACL"), ObjectMeta: om("all-clients"),
			Spec: mqttv1.MQTTACLSpec{BrokerRef: ref, Subject: mqttv1.ACLSubject{All: true},
				Rules: []mqttv1.ACLRule{{Topic: "#", Action: mqttv1.ACLActionSubscribe, Permission: mqttv1.ACLDeny}}}},
		&mqttv1.MQTTBan{TypeMeta: typeMeta("MQTTBan"), ObjectMeta: om("clientid-bad"),
			Spec: mqttv1.MQTTBanSpec{BrokerRef: ref, As: mqttv1.BanClientID, Who: "bad", Until: &untilTime}},
		&mqttv1.MQTTBan{TypeMeta: typeMeta("MQTTBan"), ObjectMeta: om("peerhost-10.0.0.9"),
			Spec: mqttv1.MQTTBanSpec{BrokerRef: ref, As: mqttv1.BanPeerHost, Who: "10.0.0.9", Reason: "flood"}},
	}
	if diff := cmp.Diff(want, res.Objects); diff != "" {
		t.Errorf("objects mismatch (-want +got):\n%s", diff)
	}
	wantWarnings := []string{`username:sensor-1 rule 1 (deny all "a/#/b") left out: '#' may only be the whole last level; it matches nothing on the broker, and applying the MQTTACL removes it`}
	if diff := cmp.Diff(wantWarnings, res.Warnings); diff != "" {
		t.Errorf("warnings mismatch (-want +got):\n%s", diff)
	}
	// The same content always gives the same names.
	if diff := cmp.Diff(res, ImportObjects(b, content, now)); diff != "" {
		t.Errorf("a second import differs:\n%s", diff)
	}
}

func TestImportNames(t *testing.T) {
	n := newNamer()
	long := string(bytes.Repeat([]byte("a"), 300))
	for _, id := range []string{"sensor-1", "Sensor-1", "sensor_1", "-x-", "..", "日本", long, "a.b", "sensor-1"} {
		name := n.name("username", id)
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
			t.Errorf("name(%q) = %q: %v", id, name, errs)
		}
	}
	if len(n.used) != 9 {
		t.Errorf("names collided: %v", n.used)
	}
}

func TestWriteManifests(t *testing.T) {
	objs := []client.Object{
		&mqttv1.MQTTUser{TypeMeta: typeMeta("MQTTUser"), ObjectMeta: metav1.ObjectMeta{Namespace: "iot", Name: "u"},
			Spec: mqttv1.MQTTUserSpec{BrokerRef: mqttv1.BrokerReference{Name: "b"}, Username: "u", KeepExistingPassword: true}},
		&mqttv1.MQTTBan{TypeMeta: typeMeta("MQTTBan"), ObjectMeta: metav1.ObjectMeta{Namespace: "iot", Name: "clientid-x"},
			Spec: mqttv1.MQTTBanSpec{BrokerRef: mqttv1.BrokerReference{Name: "b"}, As: mqttv1.BanClientID, Who: "x"}},
	}
	var b bytes.Buffer
	if err := WriteManifests(&b, OutputTable, objs); err != nil {
		t.Fatal(err)
	}
	want := `apiVersion: mqtt.mqttoperator.io/v1alpha1
kind: MQTTUser
metadata:
  name: u
  namespace: iot
spec:
  brokerRef:
    name: b
  keepExistingPassword: true
  username: u
---
apiVersion: mqtt.mqttoperator.io/v1alpha1
kind: MQTTBan
metadata:
  name: clientid-x
  namespace: iot
spec:
  as: clientid
  brokerRef:
    name: b
  who: x
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("manifests mismatch (-want +got):\n%s", diff)
	}
}
