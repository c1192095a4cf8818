package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BanKind is what a ban matches.
// +kubebuilder:validation:Enum=clientid;username;peerhost
type BanKind string

const (
	// BanClientID bans an MQTT client identifier.
	BanClientID BanKind = "clientid"
	// BanUsername bans a CONNECT username.
	BanUsername BanKind = "username"
	// BanPeerHost bans a client IP address.
	BanPeerHost BanKind = "peerhost"
)

// MQTTBanSpec is one entry of a broker's banned list.
// +kubebuilder:validation:XValidation:rule="!(has(self.until) && has(self.duration))",message="until and duration are mutually exclusive"
// +kubebuilder:validation:XValidation:rule="self.as != 'peerhost' || isIP(self.who)",message="who must be an IP address when as is peerhost"
// +kubebuilder:validation:XValidation:rule="self.as != 'peerhost' || !isIP(self.who) || ip.isCanonical(self.who)",message="who must be an IP address in canonical form when as is peerhost (for example 2001:db8::1, not 2001:DB8:0::1): the broker stores the canonical form, so any other spelling never matches what it lists"
type MQTTBanSpec struct {
	// BrokerRef is the MQTTBroker that holds the ban. Immutable.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="brokerRef is immutable"
	BrokerRef BrokerReference `json:"brokerRef"`
	// As is what the ban matches: clientid, username or peerhost. Immutable.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="as is immutable"
	As BanKind `json:"as"`
	// Who is the client id, username or IP address banned. Immutable.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=65535
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="who is immutable"
	// +kubebuilder:validation:XValidation:rule="!self.matches('[\\\\x00-\\\\x1f\\\\x7f]')",message="who must not contain control characters"
	// +kubebuilder:validation:XValidation:rule="size(bytes(self)) <= 65535",message="who must be at most 65535 bytes"
	// +kubebuilder:validation:XValidation:rule="!self.contains('\\uFFFD')",message="who must not contain U+FFFD, the replacement character: the input was not valid UTF-8"
	Who string `json:"who"`
	// Reason is recorded on the broker.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.contains('\\u0000')",message="reason must not contain NUL"
	// +kubebuilder:validation:XValidation:rule="!self.contains('\\uFFFD')",message="reason must not contain U+FFFD, the replacement character: the input was not valid UTF-8"
	Reason string `json:"reason,omitempty"`
	// Until is when the ban ends (RFC 3339). With neither until nor duration
	// the ban is permanent.
	// +optional
	Until *metav1.Time `json:"until,omitempty"`
	// Duration of the ban counted from the object's creation, e.g. 1h.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.matches('^(([0-9]+([.][0-9]*)?|[.][0-9]+)(ns|us|µs|μs|ms|s|m|h))+$') && duration(self) > duration('0s')",message="duration must be a positive duration such as 90m or 1h30m"
	Duration *metav1.Duration `json:"duration,omitempty"`
	// Disconnect kicks live sessions of a banned client id at once.
	// +optional
	Disconnect bool `json:"disconnect,omitempty"`
	// DeletionPolicy says whether deleting this object lifts the ban on the
	// broker.
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
	// Suspend stops the operator from changing the broker for this object
	// until it is false again; the status says so.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// MQTTBanStatus is what the operator last observed and applied.
type MQTTBanStatus struct {
	// CommonStatus holds observedGeneration and the conditions.
	CommonStatus `json:",inline"`

	// Until is the end of the ban as applied; empty for a permanent ban.
	// +optional
	Until *metav1.Time `json:"until,omitempty"`
	// BrokerResult is the broker's answer to the last call.
	// +optional
	BrokerResult *BrokerResult `json:"brokerResult,omitempty"`
}

// MQTTBan bans a client id, username or peer address from an MQTT broker.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=mqtt,shortName=mqban
// +kubebuilder:printcolumn:name="Broker",type=string,JSONPath=`.spec.brokerRef.name`
// +kubebuilder:printcolumn:name="As",type=string,JSONPath=`.spec.as`
// +kubebuilder:printcolumn:name="Who",type=string,JSONPath=`.spec.who`
// +kubebuilder:printcolumn:name="Until",type=string,JSONPath=`.status.until`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Suspended",type=boolean,JSONPath=`.spec.suspend`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type MQTTBan struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired state.
	Spec MQTTBanSpec `json:"spec"`
	// Status is what the operator observed and applied.
	// It defaults to an empty object so that the API server fills in
	// observedGeneration: 0 on a new object.
	// +kubebuilder:default={}
	// +optional
	Status MQTTBanStatus `json:"status,omitempty"`
}

// MQTTBanList is a list of MQTTBan.
// +kubebuilder:object:root=true
type MQTTBanList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the listed objects.
	Items []MQTTBan `json:"items"`
}
