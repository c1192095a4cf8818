// Package v1alpha1 contains the mqtt.mqttoperator.io/v1alpha1 API: MQTTBroker,
// MQTTUser, MQTTACL and MQTTBan.
// +kubebuilder:object:generate=true
// +groupName=mqtt.mqttoperator.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "mqtt.mqttoperator.io", Version: "v1alpha1"}

	// SchemeBuilder registers the kinds with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the kinds of this group-version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
