package resources

import "github.com/mqttoperator/mqtt-operator/api/v1alpha1"

// Label keys and values put on every object; app.kubernetes.io/managed-by
// is v1alpha1.LabelManagedBy.
const (
	LabelName     = "app.kubernetes.io/name"
	LabelInstance = "app.kubernetes.io/instance"

	AppName = "emqx"
)

// Annotations of the pod template. A change of either rolls the pods:
// mounted files and secretKeyRef env are otherwise only read when EMQX
// starts.
const (
	// ConfigHashAnnotation holds a hash of the ConfigMap and of the EMQX
	// bootstrap file (the API credentials).
	ConfigHashAnnotation = "mqtt.mqttoperator.io/config-hash"
	// CookieHashAnnotation holds a hash of the Erlang cookie. Nodes with
	// different cookies cannot form one cluster, so the controller restarts
	// every pod whose annotation differs from the template's at once
	// instead of letting the StatefulSet roll them one by one.
	CookieHashAnnotation = "mqtt.mqttoperator.io/cookie-hash"
)

// commonLabels are set on every object built for b.
func commonLabels(b *v1alpha1.MQTTBroker) map[string]string {
	l := SelectorLabels(b)
	l[v1alpha1.LabelManagedBy] = v1alpha1.ManagedByValue
	return l
}

// secretLabels are the labels of the Secrets the operator generates: the
// manager caches only Secrets with the watch label.
func secretLabels(b *v1alpha1.MQTTBroker) map[string]string {
	l := commonLabels(b)
	l[v1alpha1.LabelWatch] = "true"
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
