package resources

import (
	"fmt"

	"github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// MaxBrokerNameLength is the longest MQTTBroker name that can be managed: the
// StatefulSet's pods carry the label controller-revision-hash=<name>-<10
// chars>, which must fit in 63 characters.
const MaxBrokerNameLength = 52

// StatefulSetName is the name of the EMQX StatefulSet; pods are <name>-<ordinal>.
func StatefulSetName(b *v1alpha1.MQTTBroker) string { return b.Name }

// HeadlessServiceName is the governing Service of the StatefulSet; it gives
// every pod the stable DNS name EMQX uses as its node name.
func HeadlessServiceName(b *v1alpha1.MQTTBroker) string { return b.Name + "-headless" }

// ClientServiceName is the Service MQTT clients and the operator connect to.
func ClientServiceName(b *v1alpha1.MQTTBroker) string { return b.Name }

// ConfigMapName is the ConfigMap holding the start script and the ACL file.
func ConfigMapName(b *v1alpha1.MQTTBroker) string { return b.Name + "-config" }

// CredentialsSecretName is the Secret holding the generated API credentials.
// Its suffix cannot collide with the <user>-mqtt-credentials Secrets of MQTTUser.
func CredentialsSecretName(b *v1alpha1.MQTTBroker) string { return b.Name + "-api-credentials" }

// CookieSecretName is the Secret holding the Erlang cookie.
func CookieSecretName(b *v1alpha1.MQTTBroker) string { return b.Name + "-erlang-cookie" }

// PDBName is the PodDisruptionBudget of a multi-node broker.
func PDBName(b *v1alpha1.MQTTBroker) string { return b.Name }

// APIServiceName is the ClusterIP Service of the management API.
func APIServiceName(b *v1alpha1.MQTTBroker) string { return b.Name + "-api" }

// serviceHost is the DNS name of one of b's Services:
// <svc>.<namespace>.svc.<cluster domain>, fully qualified once the cluster
// domain is known (status.clusterDomain). Before that it ends in .svc,
// which the resolver's search path completes inside the cluster. Nothing
// the pods run with contains the domain: they read it from the files the
// kubelet writes (docs/internals/managed.md, "Host names").
func serviceHost(b *v1alpha1.MQTTBroker, service string) string {
	host := fmt.Sprintf("%s.%s.svc", service, b.Namespace)
	if d := b.Status.ClusterDomain; d != "" {
		host += "." + d
	}
	return host
}

// APIURL is the base URL of the broker's management API through the API
// Service: port 8081 (/api/v4) for 4.x, 18083 (/api/v5) for 5.x. No /api/vN
// suffix is included.
func APIURL(b *v1alpha1.MQTTBroker) string {
	return fmt.Sprintf("http://%s:%d", serviceHost(b, APIServiceName(b)), apiPort(b.Spec.Managed.MajorVersion()))
}

// MQTTHost is the host MQTT clients inside the cluster connect to: the
// client Service.
func MQTTHost(b *v1alpha1.MQTTBroker) string { return serviceHost(b, ClientServiceName(b)) }

// MQTTPort is the plain MQTT port of the client Service.
func MQTTPort(_ *v1alpha1.MQTTBroker) int32 { return PortMQTT }

// apiPort is the port the management API and /status listen on.
func apiPort(major string) int32 {
	if major == Major4 {
		return PortManagement
	}
	return PortDashboard
}

// apiPortName names apiPort's container port; probes refer to it by name.
func apiPortName(major string) string {
	if major == Major4 {
		return PortNameManagement
	}
	return PortNameDashboard
}
