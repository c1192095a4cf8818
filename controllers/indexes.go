package controllers

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// Field index names. The informer cache answers these lookups, so finding
// the objects of a broker, a Secret's users or a name's claimants costs no
// API call.
const (
	indexBroker     = "mqtt.spec.brokerRef"
	indexClaim      = "mqtt.claim"
	indexSecretName = "mqtt.spec.passwordSecretRef.name"
)

func registerIndexes(mgr ctrl.Manager) error {
	idx := mgr.GetFieldIndexer()
	ctx := context.Background()
	type entry struct {
		obj client.Object
		key string
		fn  client.IndexerFunc
	}
	entries := []entry{
		{&mqttv1.MQTTUser{}, indexBroker, func(o client.Object) []string {
			u := o.(*mqttv1.MQTTUser)
			return []string{brokerKey(u.Namespace, u.Spec.BrokerRef)}
		}},
		{&mqttv1.MQTTACL{}, indexBroker, func(o client.Object) []string {
			a := o.(*mqttv1.MQTTACL)
			return []string{brokerKey(a.Namespace, a.Spec.BrokerRef)}
		}},
		{&mqttv1.MQTTBan{}, indexBroker, func(o client.Object) []string {
			b := o.(*mqttv1.MQTTBan)
			return []string{brokerKey(b.Namespace, b.Spec.BrokerRef)}
		}},
		{&mqttv1.MQTTUser{}, indexClaim, func(o client.Object) []string { return []string{userKind{}.claim(o.(*mqttv1.MQTTUser)).key} }},
		{&mqttv1.MQTTACL{}, indexClaim, func(o client.Object) []string { return []string{aclKind{}.claim(o.(*mqttv1.MQTTACL)).key} }},
		{&mqttv1.MQTTBan{}, indexClaim, func(o client.Object) []string { return []string{banKind{}.claim(o.(*mqttv1.MQTTBan)).key} }},
		{&mqttv1.MQTTUser{}, indexSecretName, func(o client.Object) []string {
			u := o.(*mqttv1.MQTTUser)
			if u.Spec.PasswordSecretRef == nil {
				return nil
			}
			return []string{u.Spec.PasswordSecretRef.Name}
		}},
	}
	for _, e := range entries {
		if err := idx.IndexField(ctx, e.obj, e.key, e.fn); err != nil {
			return fmt.Errorf("index %T by %s: %w", e.obj, e.key, err)
		}
	}
	return nil
}
