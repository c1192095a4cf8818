package v1alpha1

// Finalizer is set on broker-facing objects so that the broker is cleaned up
// before the object disappears.
const Finalizer = "mqtt.mqttoperator.io/finalizer"

// ReconcileRequestedAtAnnotation asks the operator to reconcile an object
// now (kubectl mqtt reconcile sets it). Its value is the RFC 3339 time of
// the request; the controllers react to any change of an object's
// annotations.
const ReconcileRequestedAtAnnotation = "mqtt.mqttoperator.io/reconcile-requested-at"

// Condition types, following kstatus so Flux and Argo CD read health correctly.
const (
	// ConditionReady is True only when the broker holds exactly what the spec says.
	ConditionReady = "Ready"
	// ConditionReconciling is True while work is in progress.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when retrying cannot help until the spec or a
	// referenced object changes.
	ConditionStalled = "Stalled"
	// ConditionExpired is True on an MQTTBan whose end time has passed.
	ConditionExpired = "Expired"
	// ConditionSuspended is True while spec.suspend holds the object's
	// reconciliation; the other conditions keep what was last observed.
	ConditionSuspended = "Suspended"
)

// Condition reasons set by the operator itself. Broker rejections use the
// broker result code's CamelCase name instead (IllegalTopic, BadRequest, ...).
const (
	ReasonSucceeded        = "Succeeded"
	ReasonProgressing      = "Progressing"
	ReasonDeleting         = "Deleting"
	ReasonBrokerNotFound   = "BrokerNotFound"
	ReasonBrokerNotReady   = "BrokerNotReady"
	ReasonRefNotAllowed    = "RefNotAllowed"
	ReasonSecretNotFound   = "SecretNotFound"
	ReasonSecretInvalid    = "SecretInvalid"
	ReasonUnauthorized     = "Unauthorized"
	ReasonUnreachable      = "BrokerUnreachable"
	ReasonMisconfigured    = "BrokerMisconfigured"
	ReasonUnsupported      = "Unsupported"
	ReasonUsernameConflict = "UsernameConflict"
	ReasonSubjectConflict  = "SubjectConflict"
	ReasonBanConflict      = "BanConflict"
	ReasonExpired          = "Expired"
	ReasonActive           = "Active"
	ReasonInvalidSpec      = "InvalidSpec"
	ReasonRollingOut       = "RollingOut"
	ReasonSuspended        = "Suspended"
	ReasonPasswordUnknown  = "PasswordUnknown"
	// ReasonClusterSplit: the node answering the API lists some of the
	// broker's nodes as stopped although their pods run: the cluster is
	// partitioned.
	ReasonClusterSplit = "ClusterSplit"
	// ReasonNodesMissing: some of the broker's nodes are not members of the
	// answering node's cluster at all (never joined, or formed a cluster of
	// their own).
	ReasonNodesMissing = "NodesMissing"
	// ReasonUnexpectedNodes: the cluster has running members that are not
	// the broker's current pods.
	ReasonUnexpectedNodes = "UnexpectedNodes"
)

// Labels the operator puts on objects it generates.
const (
	// LabelManagedBy marks every object the operator generates, with value
	// ManagedByValue. The manager caches only the Secrets that carry it.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of LabelManagedBy.
	ManagedByValue = "mqtt-operator"
	// LabelUser names the MQTTUser a generated credentials Secret belongs to.
	LabelUser = "mqtt.mqttoperator.io/user"
	// LabelWatch, with value "true", is on every Secret the operator reads:
	// the ones it generates, and the ones a spec references (it adds the
	// label on first use). The manager's cache holds only Secrets with this
	// label, so unrelated Secrets cost no memory.
	LabelWatch = "mqtt.mqttoperator.io/watch"
)
