package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ACLAction is what a rule governs.
// +kubebuilder:validation:Enum=publish;subscribe;all
type ACLAction string

const (
	// ACLActionPublish governs PUBLISH.
	ACLActionPublish ACLAction = "publish"
	// ACLActionSubscribe governs SUBSCRIBE.
	ACLActionSubscribe ACLAction = "subscribe"
	// ACLActionAll governs both.
	ACLActionAll ACLAction = "all"
)

// ACLPermission is a rule's verdict.
// +kubebuilder:validation:Enum=allow;deny
type ACLPermission string

const (
	// ACLAllow lets a matching action through.
	ACLAllow ACLPermission = "allow"
	// ACLDeny refuses a matching action.
	ACLDeny ACLPermission = "deny"
)

// ACLSubject is who the rules apply to: exactly one of username, clientid or all.
// +kubebuilder:validation:XValidation:rule="(has(self.username) ? 1 : 0) + (has(self.clientid) ? 1 : 0) + ((has(self.all) && self.all) ? 1 : 0) == 1",message="subject must set exactly one of username, clientid or all: true"
type ACLSubject struct {
	// Username the rules apply to.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=65535
	// +kubebuilder:validation:XValidation:rule="!self.matches('[\\\\x00-\\\\x1f\\\\x7f]')",message="username must not contain control characters"
	// +kubebuilder:validation:XValidation:rule="size(bytes(self)) <= 65535",message="username must be at most 65535 bytes"
	// +kubebuilder:validation:XValidation:rule="!self.contains('\\uFFFD')",message="username must not contain U+FFFD, the replacement character: the input was not valid UTF-8"
	Username string `json:"username,omitempty"`
	// ClientID the rules apply to.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=65535
	// +kubebuilder:validation:XValidation:rule="!self.matches('[\\\\x00-\\\\x1f\\\\x7f]')",message="clientid must not contain control characters"
	// +kubebuilder:validation:XValidation:rule="size(bytes(self)) <= 65535",message="clientid must be at most 65535 bytes"
	// +kubebuilder:validation:XValidation:rule="!self.contains('\\uFFFD')",message="clientid must not contain U+FFFD, the replacement character: the input was not valid UTF-8"
	ClientID string `json:"clientid,omitempty"`
	// All applies the rules to every client.
	// +optional
	All bool `json:"all,omitempty"`
}

// ACLRule is one rule; a subject's rules are evaluated in list order and
// the first match wins.
type ACLRule struct {
	// Topic is an MQTT topic filter; EMQX placeholders such as ${clientid}
	// (v5) or %c (v4) are passed through.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=65535
	// +kubebuilder:validation:XValidation:rule="!self.matches('[\\u0000-\\u001f\\u007f]')",message="topic must not contain NUL or other control characters"
	// +kubebuilder:validation:XValidation:rule="!self.contains('\\uFFFD')",message="topic must not contain U+FFFD, the replacement character: the input was not valid UTF-8"
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('$share/') && !self.startsWith('$queue/')",message="topic must not be a shared subscription ($share/<group>/<filter> or $queue/<filter>): EMQX authorizes a shared subscription against <filter>, so write the rule for <filter>"
	// +kubebuilder:validation:XValidation:rule="!self.matches('(?s)#.|[^/]#')",message="topic filter is invalid: '#' may only be the whole last level"
	// +kubebuilder:validation:XValidation:rule="!self.matches('[^/][+]')",message="topic filter is invalid: '+' may only be a whole level, and here it follows other characters"
	// +kubebuilder:validation:XValidation:rule="!self.matches('[+][^/]')",message="topic filter is invalid: '+' may only be a whole level, and here other characters follow it"
	// +kubebuilder:validation:XValidation:rule="size(bytes(self)) <= 65535",message="topic must be at most 65535 bytes"
	Topic string `json:"topic"`
	// Action is publish, subscribe or all.
	Action ACLAction `json:"action"`
	// Permission is allow or deny.
	Permission ACLPermission `json:"permission"`
}

// MQTTACLSpec is the ordered rule set of one subject on a broker.
type MQTTACLSpec struct {
	// BrokerRef is the MQTTBroker that holds the rules. Immutable.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="brokerRef is immutable"
	BrokerRef BrokerReference `json:"brokerRef"`
	// Subject the rules apply to. Immutable.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="subject is immutable"
	Subject ACLSubject `json:"subject"`
	// Rules in evaluation order. The subject's rules on the broker are made
	// equal to this list: rules added on the broker by other means are removed.
	// +kubebuilder:validation:MaxItems=100
	// +listType=atomic
	Rules []ACLRule `json:"rules"`
	// DeletionPolicy says whether deleting this object deletes the
	// subject's rules on the broker.
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
	// Suspend stops the operator from changing the broker for this object
	// until it is false again; the status says so.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// MQTTACLStatus is what the operator last observed and applied.
type MQTTACLStatus struct {
	// CommonStatus holds observedGeneration and the conditions.
	CommonStatus `json:",inline"`

	// Subject is the subject in printable form: username:<name>, clientid:<id> or all.
	// +optional
	Subject string `json:"subject,omitempty"`
	// RuleCount is the number of rules applied.
	// +optional
	RuleCount int32 `json:"ruleCount,omitempty"`
	// BrokerResult is the broker's answer to the last call.
	// +optional
	BrokerResult *BrokerResult `json:"brokerResult,omitempty"`
}

// MQTTACL is the authorization rule set of one subject on an MQTT broker.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=mqtt,shortName=mqacl
// +kubebuilder:printcolumn:name="Broker",type=string,JSONPath=`.spec.brokerRef.name`
// +kubebuilder:printcolumn:name="Subject",type=string,JSONPath=`.status.subject`
// +kubebuilder:printcolumn:name="Rules",type=integer,JSONPath=`.status.ruleCount`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Suspended",type=boolean,JSONPath=`.spec.suspend`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type MQTTACL struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired state.
	Spec MQTTACLSpec `json:"spec"`
	// Status is what the operator observed and applied.
	// It defaults to an empty object so that the API server fills in
	// observedGeneration: 0 on a new object.
	// +kubebuilder:default={}
	// +optional
	Status MQTTACLStatus `json:"status,omitempty"`
}

// MQTTACLList is a list of MQTTACL.
// +kubebuilder:object:root=true
type MQTTACLList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the listed objects.
	Items []MQTTACL `json:"items"`
}

// SubjectKey is the subject in printable form, also used to detect two
// MQTTACLs claiming one subject.
func (s ACLSubject) SubjectKey() string {
	switch {
	case s.Username != "":
		return "username:" + s.Username
	case s.ClientID != "":
		return "clientid:" + s.ClientID
	default:
		return "all"
	}
}
