package controllers

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// Field index names. The informer cache answers these lookups, so finding
// the objects of a broker or a Secret's users costs no API call (a name's
// claimants: claimRegistry).
const (
	indexBroker     = "mqtt.spec.brokerRef"
	indexSecretName = "mqtt.spec.passwordSecretRef.name"
)

// registerIndexes indexes a broker-facing kind by broker. Claims have a
// registry of their own (claimRegistry), which costs less memory.
func (r *reconciler[T, S]) registerIndexes(mgr ctrl.Manager) error {
	return indexFields(mgr, r.newObj(), map[string]client.IndexerFunc{
		indexBroker: func(o client.Object) []string {
			return []string{brokerKey(o.GetNamespace(), o.(T).GetBrokerRef())}
		},
	})
}

func indexFields(mgr ctrl.Manager, obj client.Object, fields map[string]client.IndexerFunc) error {
	for name, fn := range fields {
		if err := mgr.GetFieldIndexer().IndexField(context.Background(), obj, name, fn); err != nil {
			return fmt.Errorf("index %T by %s: %w", obj, name, err)
		}
	}
	return nil
}

// secretNameIndex finds the MQTTUsers that name a Secret.
func secretNameIndex(o client.Object) []string {
	u := o.(*mqttv1.MQTTUser)
	if u.Spec.PasswordSecretRef == nil {
		return nil
	}
	return []string{u.Spec.PasswordSecretRef.Name}
}
