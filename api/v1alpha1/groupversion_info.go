// Package v1alpha1 contains the mqtt.mqttoperator.io/v1alpha1 API: MQTTBroker,
// MQTTUser, MQTTACL and MQTTBan.
// +kubebuilder:object:generate=true
// +groupName=mqtt.mqttoperator.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "mqtt.mqttoperator.io", Version: "v1alpha1"}

	// SchemeBuilder registers the kinds with a runtime.Scheme. It depends on
	// apimachinery only, so the API package stays cheap to import.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the kinds of this group-version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&MQTTBroker{}, &MQTTBrokerList{},
		&MQTTUser{}, &MQTTUserList{},
		&MQTTACL{}, &MQTTACLList{},
		&MQTTBan{}, &MQTTBanList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
