package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// BrokerReference points at an MQTTBroker. A reference into another
// namespace is honoured only where that MQTTBroker lists the referring
// namespace in spec.allowedNamespaces.
type BrokerReference struct {
	// Name of the MQTTBroker.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="name must be a valid object name: lowercase letters, digits, '-' and '.'"
	Name string `json:"name"`
	// Namespace of the MQTTBroker; defaults to the referring object's namespace.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self == '' || self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="namespace must be a valid namespace name: lowercase letters, digits and '-'"
	Namespace string `json:"namespace,omitempty"`
}

// SecretKeySelector selects one key of a Secret in the object's namespace.
type SecretKeySelector struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="name must be a valid Secret name: lowercase letters, digits, '-' and '.'"
	Name string `json:"name"`
	// Key within the Secret's data.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[-._a-zA-Z0-9]+$')",message="key must be a valid Secret key: letters, digits, '-', '_' and '.'"
	Key string `json:"key"`
}

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	// Name of the object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="name must be a valid object name: lowercase letters, digits, '-' and '.'"
	Name string `json:"name"`
}

// BrokerResult records the broker's answer to the last call that changed or
// failed to change the broker. Putting back what drift removed or changed
// is not recorded here (it is an Event, reason Repaired, and the
// mqtt_operator_drift_corrections_total metric): the status already said
// the broker held it.
type BrokerResult struct {
	// Code is the broker's raw result code: "0" or "115" on v4, an HTTP status
	// or a string such as "BAD_REQUEST" on v5.
	// +optional
	Code string `json:"code,omitempty"`
	// Message is the broker's message, if any.
	// +optional
	Message string `json:"message,omitempty"`
	// Operation is the driver operation that produced the result, e.g. CreateUser.
	// +optional
	Operation string `json:"operation,omitempty"`
	// Time the result was received.
	// +optional
	Time metav1.Time `json:"time,omitempty"`
}

// CommonStatus is shared by every kind's status.
type CommonStatus struct {
	// ObservedGeneration is the metadata.generation the status describes.
	// It is 0 until the operator first processes the object, so that tools
	// reading health with kstatus (Flux) see a new object as in progress.
	// +optional
	// +kubebuilder:default=0
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready, Reconciling and Stalled (kstatus), plus kind-specific ones.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// LastHandledReconcileAt is the value of the
	// mqtt.mqttoperator.io/reconcile-requested-at annotation the operator
	// last acted on: a new value makes it look at the broker itself rather
	// than at its recent list of the broker.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`
}

// DeletionPolicy says what happens on the broker when the object is deleted.
// +kubebuilder:validation:Enum=Delete;Retain
type DeletionPolicy string

const (
	// DeletionPolicyDelete removes the broker object with the Kubernetes object.
	DeletionPolicyDelete DeletionPolicy = "Delete"
	// DeletionPolicyRetain leaves the broker object in place.
	DeletionPolicyRetain DeletionPolicy = "Retain"
)
