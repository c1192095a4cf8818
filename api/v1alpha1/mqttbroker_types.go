package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BrokerAPIVersion is the management API flavour of a broker.
// +kubebuilder:validation:Enum=v4;v5
type BrokerAPIVersion string

const (
	// BrokerAPIv4 is /api/v4 (EMQX 4.x, EMQX Cloud v4).
	BrokerAPIv4 BrokerAPIVersion = "v4"
	// BrokerAPIv5 is /api/v5 (EMQX 5.x).
	BrokerAPIv5 BrokerAPIVersion = "v5"
)

// MQTTBrokerSpec says which broker the other kinds talk to: exactly one of
// managed or external.
// +kubebuilder:validation:XValidation:rule="has(self.managed) != has(self.external)",message="exactly one of managed or external must be set"
type MQTTBrokerSpec struct {
	// Managed runs EMQX as a StatefulSet owned by this object.
	// +optional
	Managed *ManagedBroker `json:"managed,omitempty"`
	// External points at an existing broker's management API.
	// +optional
	External *ExternalBroker `json:"external,omitempty"`
	// AllowedNamespaces lists namespaces, besides this object's own, whose
	// MQTTUser, MQTTACL and MQTTBan objects may reference this broker.
	// "*" allows every namespace.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.all(n, n == '*' || n.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'))",message="allowedNamespaces must hold namespace names (lowercase letters, digits and '-') or \"*\""
	AllowedNamespaces []string `json:"allowedNamespaces,omitempty"`
	// Suspend stops the operator from changing this broker or its managed
	// objects until it is false again; the status says so. Objects that use
	// the broker are not suspended by it.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// ManagedBroker is EMQX run by the operator.
//
// The version rules follow what EMQX can do with the data a running cluster
// holds (docs/brokers.md): no move between major versions, no return to an
// earlier minor version, and no cluster of EMQX 5.9 or later without a
// license.
// +kubebuilder:validation:XValidation:rule="has(self.storage) == has(oldSelf.storage) && (!has(self.storage) || self.storage == oldSelf.storage)",message="storage is immutable: a StatefulSet's volume claim templates cannot change"
// +kubebuilder:validation:XValidation:rule="self.version.split('.')[0] == oldSelf.version.split('.')[0]",message="version cannot change between EMQX 4 and EMQX 5: EMQX has no in-place upgrade across major versions, the data formats differ. Create a new MQTTBroker and move the MQTT objects to it (docs/migrating-4-to-5.md)"
// +kubebuilder:validation:XValidation:rule="self.version.split('.')[0] != oldSelf.version.split('.')[0] || int(self.version.split('.')[1]) >= int(oldSelf.version.split('.')[1])",message="version cannot go back to an earlier minor version: EMQX does not read data written by a newer minor version (patch downgrades within a minor version are allowed; docs/brokers.md)"
// +kubebuilder:validation:XValidation:rule="!has(self.licenseSecretRef) || self.version.startsWith('5.')",message="licenseSecretRef applies to EMQX 5 only"
// +kubebuilder:validation:XValidation:rule="!self.version.startsWith('5.') || int(self.version.split('.')[1]) < 9 || !has(self.replicas) || self.replicas <= 1 || has(self.licenseSecretRef)",message="EMQX 5.9 and later run a single node without a license: set licenseSecretRef, use replicas: 1, or choose a version before 5.9 (docs/brokers.md)"
type ManagedBroker struct {
	// Version of EMQX, e.g. 5.8.6 or 4.4.19; the API flavour follows the major
	// version. Changing it rolls the pods, one at a time. It may move
	// forward within a major version and back by patch releases only.
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:Pattern=`^[45]\.[0-9]+\.[0-9]+$`
	// +kubebuilder:validation:XValidation:rule="!self.matches('^4[.][0-9]+[.][0-9]+$') || (self.split('.')[1] == '4' && int(self.split('.')[2]) >= 11)",message="EMQX 4 must be 4.4.11 or later: earlier versions have no management.bootstrap_apps_file, which keeps the operator's API credentials"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^5[.]0[.][0-9]+$') || int(self.split('.')[2]) >= 14",message="EMQX 5.0.0 to 5.0.13 have no api_key.bootstrap_file, so the operator could never authenticate: use 5.0.14 or later"
	Version string `json:"version"`
	// Image overrides the container image. The default follows the
	// version: emqx/emqx:<version> up to 5.8, emqx/emqx-enterprise:<version>
	// from 5.9 (EMQX publishes those versions only as emqx-enterprise).
	// +optional
	Image string `json:"image,omitempty"`
	// ImagePullPolicy of the EMQX container.
	// +optional
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`
	// Replicas is the number of EMQX nodes.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=32
	Replicas *int32 `json:"replicas,omitempty"`
	// Resources of the EMQX container.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
	// Storage is a PersistentVolumeClaim per node for EMQX's data; emptyDir when absent.
	// +optional
	Storage *BrokerStorage `json:"storage,omitempty"`
	// ServiceType of the client Service.
	// +optional
	// +kubebuilder:default=ClusterIP
	// +kubebuilder:validation:Enum=ClusterIP;NodePort;LoadBalancer
	ServiceType corev1.ServiceType `json:"serviceType,omitempty"`
	// Env is added to the EMQX container last, overriding generated settings,
	// except those the operator relies on (API credentials, authentication and
	// authorization, cluster discovery), which are refused.
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`
	// NodeSelector of the pods.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// Tolerations of the pods.
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// Affinity of the pods.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`
	// TopologySpreadConstraints of the pods.
	// +optional
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`
	// PriorityClassName of the pods.
	// +optional
	PriorityClassName string `json:"priorityClassName,omitempty"`
	// ImagePullSecrets of the pods.
	// +optional
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`
	// TLS enables the MQTT over TLS (8883) and secure WebSocket (8084)
	// listeners with the certificate of a Secret. Without it those
	// listeners are off: the certificate inside the EMQX image is a public
	// demo key.
	// +optional
	TLS *BrokerTLS `json:"tls,omitempty"`
	// LicenseSecretRef selects the EMQX license key (EMQX 5 only). EMQX 5.9
	// and later need one to run more than one node.
	// +optional
	LicenseSecretRef *SecretKeySelector `json:"licenseSecretRef,omitempty"`
}

// BrokerTLS is the certificate of the broker's MQTT TLS listeners.
type BrokerTLS struct {
	// SecretName names a Secret of type kubernetes.io/tls (keys tls.crt and
	// tls.key, as cert-manager writes them) in the broker's namespace. It
	// is mounted into the pods; renewing it does not restart them.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	SecretName string `json:"secretName"`
}

// BrokerStorage is the per-node volume for EMQX's data directory.
type BrokerStorage struct {
	// Size of each node's volume.
	Size resource.Quantity `json:"size"`
	// StorageClassName of the claims; the cluster default when absent.
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`
}

// ExternalBroker is an existing broker reached over its management API.
type ExternalBroker struct {
	// URL is the management API base, e.g. https://emqx.example.com:8443 (a
	// trailing /api/v4 or /api/v5 is accepted).
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && (self.startsWith('http://') || self.startsWith('https://'))",message="url must be an http or https URL"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[A-Za-z]+://[^/?#]*@')",message="url must not hold credentials (user:password@host): they would show in status and logs; put them in credentialsSecretRef"
	URL string `json:"url"`
	// APIVersion is v4 (EMQX 4.x, EMQX Cloud v4) or v5 (EMQX 5.x).
	APIVersion BrokerAPIVersion `json:"apiVersion"`
	// CredentialsSecretRef names a kubernetes.io/basic-auth Secret: username is
	// the AppID or API key, password the AppSecret or API secret.
	CredentialsSecretRef LocalObjectReference `json:"credentialsSecretRef"`
	// CASecretRef selects a PEM CA bundle to trust for the API.
	// +optional
	CASecretRef *SecretKeySelector `json:"caSecretRef,omitempty"`
	// InsecureSkipVerify disables TLS certificate verification. Test setups only.
	// +optional
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`
	// MQTTHost is the host MQTT clients connect to, written into generated
	// credentials Secrets; defaults to the API URL's host.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9:]([-A-Za-z0-9.:]*[A-Za-z0-9])?$')",message="mqttHost must be a host name or an IP address"
	MQTTHost string `json:"mqttHost,omitempty"`
	// MQTTPort is the port MQTT clients connect to.
	// +optional
	// +kubebuilder:default=1883
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	MQTTPort int32 `json:"mqttPort,omitempty"`
}

// BrokerMetrics is a summary of the broker's stats and metrics, summed over
// its nodes, as last read when the operator checked the broker (once per
// resync interval). The counters are cumulative since each node started.
// The operator's metrics endpoint exports the same values, more often, as
// mqtt_broker_* series.
type BrokerMetrics struct {
	// Connections is the number of client channels, including those of
	// disconnected sessions the broker keeps.
	Connections int64 `json:"connections"`
	// LiveConnections is the number of clients connected now.
	// +optional
	LiveConnections int64 `json:"liveConnections"`
	// Sessions is the number of sessions, connected or kept.
	// +optional
	Sessions int64 `json:"sessions"`
	// Subscriptions is the number of subscriptions.
	Subscriptions int64 `json:"subscriptions"`
	// Topics is the number of topics with at least one subscriber.
	// +optional
	Topics int64 `json:"topics"`
	// RetainedMessages is the number of retained messages stored.
	// +optional
	RetainedMessages int64 `json:"retainedMessages"`
	// MessagesReceived counts messages received from clients.
	MessagesReceived int64 `json:"messagesReceived"`
	// MessagesSent counts messages delivered to clients.
	MessagesSent int64 `json:"messagesSent"`
	// MessagesDropped counts messages the broker dropped (no subscriber,
	// not authorized, queue full, expired).
	MessagesDropped int64 `json:"messagesDropped"`
	// MessagesRetained counts messages received with the retain flag.
	// +optional
	MessagesRetained int64 `json:"messagesRetained"`
	// AuthenticationFailures counts connections refused by authentication.
	// +optional
	AuthenticationFailures int64 `json:"authenticationFailures"`
	// AuthorizationDenials counts publishes and subscriptions refused by
	// authorization.
	// +optional
	AuthorizationDenials int64 `json:"authorizationDenials"`
}

// MQTTBrokerStatus is what the operator last observed.
type MQTTBrokerStatus struct {
	// CommonStatus holds observedGeneration and the conditions.
	CommonStatus `json:",inline"`

	// Mode is Managed or External.
	// +optional
	Mode string `json:"mode,omitempty"`
	// APIURL is the management API base the operator uses.
	// +optional
	APIURL string `json:"apiURL,omitempty"`
	// APIVersion is the API flavour in use.
	// +optional
	APIVersion BrokerAPIVersion `json:"apiVersion,omitempty"`
	// BrokerVersion is the version the broker reports.
	// +optional
	BrokerVersion string `json:"brokerVersion,omitempty"`
	// Replicas is the desired number of nodes (managed mode).
	// +optional
	Replicas int32 `json:"replicas,omitempty"`
	// ReadyReplicas is the number of ready nodes (managed) or running nodes (external).
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`
	// MQTTHost is where MQTT clients connect. For a managed broker it is the
	// client Service's fully qualified name once the cluster domain is known.
	// +optional
	MQTTHost string `json:"mqttHost,omitempty"`
	// MQTTPort is the plain MQTT port clients connect to.
	// +optional
	MQTTPort int32 `json:"mqttPort,omitempty"`
	// CredentialsSecretName is the generated API credentials Secret (managed mode).
	// +optional
	CredentialsSecretName string `json:"credentialsSecretName,omitempty"`
	// ClusterDomain is the Kubernetes DNS domain the managed broker's pods
	// run under, read from their EMQX node names (or from the operator's own
	// resolver settings before the broker has answered). The published host
	// names end in it.
	// +optional
	ClusterDomain string `json:"clusterDomain,omitempty"`
	// Metrics is a summary of the broker's stats and metrics, updated when
	// the operator checks the broker.
	// +optional
	Metrics *BrokerMetrics `json:"metrics,omitempty"`
	// LastChecked is when the API last answered.
	// +optional
	LastChecked *metav1.Time `json:"lastChecked,omitempty"`
}

// MQTTBroker is an EMQX broker, run by the operator or reached over its API.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=mqtt,shortName={mqbroker,mqb}
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.status.mode`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.brokerVersion`
// +kubebuilder:printcolumn:name="Replicas",type=integer,JSONPath=`.status.readyReplicas`
// +kubebuilder:printcolumn:name="API",type=string,JSONPath=`.status.apiURL`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Suspended",type=boolean,JSONPath=`.spec.suspend`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="!has(self.spec.managed) || (size(self.metadata.name) <= 52 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$'))",message="a managed broker's name must be a DNS-1035 label of at most 52 characters: it names the StatefulSet, its pods and Services"
type MQTTBroker struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired state.
	Spec MQTTBrokerSpec `json:"spec"`
	// Status is what the operator observed and applied.
	// It defaults to an empty object so that the API server fills in
	// observedGeneration: 0 on a new object.
	// +kubebuilder:default={}
	// +optional
	Status MQTTBrokerStatus `json:"status,omitempty"`
}

// MQTTBrokerList is a list of MQTTBroker.
// +kubebuilder:object:root=true
type MQTTBrokerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the listed objects.
	Items []MQTTBroker `json:"items"`
}

// AllowsNamespace reports whether objects in ns may reference this broker.
func (b *MQTTBroker) AllowsNamespace(ns string) bool {
	if ns == b.Namespace {
		return true
	}
	for _, a := range b.Spec.AllowedNamespaces {
		if a == ns || a == "*" {
			return true
		}
	}
	return false
}

// UsableByDependents reports whether MQTTUser, MQTTACL and MQTTBan objects
// may write to the broker: it is Ready for its current generation, or it is
// suspended and was Ready when last observed (suspending a broker stops the
// operator from changing the broker, not its dependents).
func (b *MQTTBroker) UsableByDependents() bool {
	if b.Spec.Suspend {
		c := b.Status.ReadyCondition()
		return c != nil && c.Status == metav1.ConditionTrue
	}
	return b.Status.IsReady(b.Generation)
}

// MajorVersion is the EMQX major version of a managed broker ("4" or "5").
func (m *ManagedBroker) MajorVersion() string {
	if m == nil || m.Version == "" {
		return ""
	}
	return m.Version[:1]
}

// APIVersion is the management API flavour that follows the managed version.
func (m *ManagedBroker) APIVersion() BrokerAPIVersion {
	if m.MajorVersion() == "4" {
		return BrokerAPIv4
	}
	return BrokerAPIv5
}
