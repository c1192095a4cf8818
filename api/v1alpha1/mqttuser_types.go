package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IdentifierKind says which MQTT identity a user is matched on.
// +kubebuilder:validation:Enum=username;clientid
type IdentifierKind string

const (
	// IdentifierUsername matches the CONNECT username.
	IdentifierUsername IdentifierKind = "username"
	// IdentifierClientID matches the MQTT client identifier.
	IdentifierClientID IdentifierKind = "clientid"
)

// MQTTUserSpec is a built-in database user on an MQTT broker.
type MQTTUserSpec struct {
	// BrokerRef is the MQTTBroker that holds the user. Immutable.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="brokerRef is immutable"
	BrokerRef BrokerReference `json:"brokerRef"`

	// Username is the login (or client id, see identifier) on the broker.
	// Defaults to metadata.name. Immutable.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=65535
	// +kubebuilder:validation:XValidation:rule="!self.matches('[\\\\x00-\\\\x1f\\\\x7f]')",message="username must not contain control characters"
	// +kubebuilder:validation:XValidation:rule="size(bytes(self)) <= 65535",message="username must be at most 65535 bytes"
	// +kubebuilder:validation:XValidation:rule="!self.contains('\\uFFFD')",message="username must not contain U+FFFD, the replacement character: the input was not valid UTF-8"
	Username string `json:"username,omitempty"`

	// Identifier says whether Username is matched against the MQTT username
	// or the client id. Immutable.
	// +optional
	// +kubebuilder:default=username
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="identifier is immutable"
	Identifier IdentifierKind `json:"identifier,omitempty"`

	// PasswordSecretRef selects the password. When absent the operator
	// generates one into the Secret <name>-mqtt-credentials, which it owns.
	// A change of the Secret's content is applied to the broker.
	// +optional
	PasswordSecretRef *SecretKeySelector `json:"passwordSecretRef,omitempty"`

	// Superuser bypasses authorization. Supported by the v5 API only.
	// +optional
	Superuser bool `json:"superuser,omitempty"`

	// DeletionPolicy says whether deleting this object deletes the broker user.
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
	// KeepExistingPassword adopts a user that already exists on the broker
	// without knowing its password (EMQX never returns passwords, so an
	// imported user's password cannot be read). While it is true and
	// passwordSecretRef is unset, the operator generates no password and
	// never changes the broker user's password; the user must exist on the
	// broker. Setting passwordSecretRef later takes the password over.
	// +optional
	KeepExistingPassword bool `json:"keepExistingPassword,omitempty"`
	// DisconnectOnPasswordChange kicks the user's live sessions after its
	// password changed on the broker, so that a rotated-out credential stops
	// working at once. EMQX otherwise keeps sessions that authenticated with
	// the old password.
	// +optional
	DisconnectOnPasswordChange bool `json:"disconnectOnPasswordChange,omitempty"`
	// SecretTemplate adds labels and annotations to the generated
	// credentials Secret, for tools such as reflector or external-secrets.
	// +optional
	SecretTemplate *SecretTemplate `json:"secretTemplate,omitempty"`
	// Suspend stops the operator from changing the broker for this object
	// until it is false again; the status says so.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// SecretTemplate is metadata copied onto a Secret the operator generates.
type SecretTemplate struct {
	// Labels to add. Labels the operator sets itself take precedence.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self.all(k, !format.qualifiedName().validate(k).hasValue())",message="label keys must be valid label keys: an optional DNS-subdomain prefix and '/', then at most 63 letters, digits, '-', '_' and '.'"
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(self[k]) <= 63)",message="label values must be at most 63 characters"
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations to add.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self.all(k, !format.qualifiedName().validate(k).hasValue())",message="annotation keys must be valid: an optional DNS-subdomain prefix and '/', then at most 63 letters, digits, '-', '_' and '.'"
	Annotations map[string]string `json:"annotations,omitempty"`
}

// MQTTUserStatus is what the operator last observed and applied.
type MQTTUserStatus struct {
	// CommonStatus holds observedGeneration and the conditions.
	CommonStatus `json:",inline"`

	// Username is the login applied on the broker.
	// +optional
	Username string `json:"username,omitempty"`
	// PasswordSource says where the applied password comes from: Secret
	// (passwordSecretRef), Generated, or Broker (keepExistingPassword: the
	// password on the broker is left as it was found).
	// +optional
	PasswordSource string `json:"passwordSource,omitempty"`
	// CredentialsSecretName is the Secret that holds the password.
	// +optional
	CredentialsSecretName string `json:"credentialsSecretName,omitempty"`
	// PasswordHash is a salted SHA-256 of the password last applied, so that
	// rotation is noticed without storing the password.
	// +optional
	PasswordHash string `json:"passwordHash,omitempty"`
	// BrokerResult is the broker's answer to the last call.
	// +optional
	BrokerResult *BrokerResult `json:"brokerResult,omitempty"`
}

// MQTTUser is a user of an MQTT broker's built-in database.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=mqtt,shortName={mquser,mqu}
// +kubebuilder:printcolumn:name="Broker",type=string,JSONPath=`.spec.brokerRef.name`
// +kubebuilder:printcolumn:name="Username",type=string,JSONPath=`.status.username`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Suspended",type=boolean,JSONPath=`.spec.suspend`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="has(self.spec.passwordSecretRef) || size(self.metadata.name) <= 236",message="the name must be at most 236 characters when the operator generates the password, so that the Secret <name>-mqtt-credentials is a valid name"
// +kubebuilder:validation:XValidation:rule="has(oldSelf.spec.username) ? (has(self.spec.username) && self.spec.username == oldSelf.spec.username) : (!has(self.spec.username) || self.spec.username == self.metadata.name)",message="username is immutable"
type MQTTUser struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired state.
	Spec MQTTUserSpec `json:"spec"`
	// Status is what the operator observed and applied.
	// It defaults to an empty object so that the API server fills in
	// observedGeneration: 0 on a new object.
	// +kubebuilder:default={}
	// +optional
	Status MQTTUserStatus `json:"status,omitempty"`
}

// MQTTUserList is a list of MQTTUser.
// +kubebuilder:object:root=true
type MQTTUserList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the listed objects.
	Items []MQTTUser `json:"items"`
}

// EffectiveUsername is spec.username, or metadata.name when it is unset.
func (u *MQTTUser) EffectiveUsername() string {
	if u.Spec.Username != "" {
		return u.Spec.Username
	}
	return u.Name
}

// EffectiveIdentifier is spec.identifier with its default applied.
func (u *MQTTUser) EffectiveIdentifier() IdentifierKind {
	if u.Spec.Identifier == "" {
		return IdentifierUsername
	}
	return u.Spec.Identifier
}

// GeneratedSecretName is the Secret the operator generates when no
// passwordSecretRef is given.
func (u *MQTTUser) GeneratedSecretName() string { return u.Name + "-mqtt-credentials" }
