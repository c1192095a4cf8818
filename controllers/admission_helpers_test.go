package controllers

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// admission builds a valid object of each kind in one namespace for the
// admission tests; each case changes one thing (mut) to make it invalid.
type admission struct{ ns string }

func (a admission) ref() mqttv1.BrokerReference { return mqttv1.BrokerReference{Name: "b"} }

func (a admission) user(mut func(*mqttv1.MQTTUser)) client.Object {
	u := &mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{GenerateName: "u-", Namespace: a.ns}, Spec: mqttv1.MQTTUserSpec{BrokerRef: a.ref()}}
	mut(u)
	return u
}

func (a admission) acl(mut func(*mqttv1.MQTTACL)) client.Object {
	o := &mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{GenerateName: "a-", Namespace: a.ns}, Spec: mqttv1.MQTTACLSpec{
		BrokerRef: a.ref(), Subject: mqttv1.ACLSubject{Username: "alice"},
		Rules: []mqttv1.ACLRule{{Topic: "t/1", Action: mqttv1.ACLActionPublish, Permission: mqttv1.ACLAllow}},
	}}
	mut(o)
	return o
}

// topic is an ACL whose one rule has the topic s.
func (a admission) topic(s string) client.Object {
	return a.acl(func(o *mqttv1.MQTTACL) { o.Spec.Rules[0].Topic = s })
}

func (a admission) ban(mut func(*mqttv1.MQTTBan)) client.Object {
	b := &mqttv1.MQTTBan{ObjectMeta: metav1.ObjectMeta{GenerateName: "ban-", Namespace: a.ns}, Spec: mqttv1.MQTTBanSpec{BrokerRef: a.ref(), As: mqttv1.BanClientID, Who: "c1"}}
	mut(b)
	return b
}

// broker is an external MQTTBroker.
func (a admission) broker(mut func(*mqttv1.MQTTBroker)) client.Object {
	b := &mqttv1.MQTTBroker{ObjectMeta: metav1.ObjectMeta{GenerateName: "br-", Namespace: a.ns}, Spec: mqttv1.MQTTBrokerSpec{
		External: &mqttv1.ExternalBroker{URL: "http://emqx:18083", APIVersion: mqttv1.BrokerAPIv4, CredentialsSecretRef: mqttv1.LocalObjectReference{Name: "creds"}},
	}}
	mut(b)
	return b
}
