package resources

import "github.com/mqttoperator/mqtt-operator/api/v1alpha1"

// Label keys and values put on every object.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelManagedBy = "app.kubernetes.io/managed-by"

	AppName   = "emqx"
	ManagedBy = "mqtt-operator"
)

// ConfigHashAnnotation on the pod template holds a hash of the ConfigMap and
// Secret content, so that a change to either rolls the pods (mounted files
// and secretKeyRef env are otherwise only read at start).
const ConfigHashAnnotation = "mqtt.mqttoperator.io/config-hash"

// CommonLabels are set on every object built for b.
func CommonLabels(b *v1alpha1.MQTTBroker) map[string]string {
	l := SelectorLabels(b)
	l[LabelManagedBy] = ManagedBy
	return l
}

// SelectorLabels select b's pods. They never change for the life of the
// broker, because a StatefulSet's selector is immutable.
func SelectorLabels(b *v1alpha1.MQTTBroker) map[string]string {
	return map[string]string{
		LabelName:     AppName,
		LabelInstance: b.Name,
	}
}
