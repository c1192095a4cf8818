package resources

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// buildHeadlessService builds the StatefulSet's governing Service. It
// exists for DNS only: the SRV records EMQX's dns discovery reads and the
// per-pod names that are the node names.
func buildHeadlessService(b *v1alpha1.MQTTBroker) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: objectMeta(b, HeadlessServiceName(b)),
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeClusterIP,
			ClusterIP: corev1.ClusterIPNone,
			// Nodes must find each other before they are Ready (which
			// they become only after joining), or no cluster ever forms.
			PublishNotReadyAddresses: true,
			Selector:                 SelectorLabels(b),
			// The cluster-internal ports: Erlang distribution (ekka) and
			// gen_rpc. EPMD (4369) is not used with ekka.
			Ports: []corev1.ServicePort{
				servicePort(PortNameEkka, PortEkka),
				servicePort(PortNameGenRPC, PortGenRPC),
			},
		},
	}
}

// buildClientService builds the Service MQTT clients use: the MQTT
// listeners only, the TLS ones only with spec.managed.tls. Its type is
// spec.managed.serviceType. Only Ready pods, which have joined the cluster,
// receive traffic. The management API has a Service of its own, so a
// LoadBalancer for MQTT never exposes the API outside the cluster.
func buildClientService(b *v1alpha1.MQTTBroker) *corev1.Service {
	t := b.Spec.Managed.ServiceType
	if t == "" {
		t = corev1.ServiceTypeClusterIP
	}
	var ports []corev1.ServicePort
	for _, p := range mqttPorts(b) {
		ports = append(ports, servicePort(p.Name, p.ContainerPort))
	}
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: objectMeta(b, ClientServiceName(b)),
		Spec: corev1.ServiceSpec{
			Type:     t,
			Selector: SelectorLabels(b),
			Ports:    ports,
		},
	}
}

// buildAPIService builds the ClusterIP Service of the management API (4.x:
// 8081 REST and 18083 dashboard; 5.x: 18083 for both), which the operator
// reaches the broker through. It routes to pods that are not Ready too: a
// pod becomes Ready only once the operator, through this Service, has seen
// its node join the cluster (docs/internals/managed.md, "Cluster
// membership"). MQTTUser, MQTTACL and MQTTBan objects write through it
// only while the whole broker is Ready.
func buildAPIService(b *v1alpha1.MQTTBroker) *corev1.Service {
	var ports []corev1.ServicePort
	for _, p := range apiPorts(b.Spec.Managed.MajorVersion()) {
		ports = append(ports, servicePort(p.Name, p.ContainerPort))
	}
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: objectMeta(b, APIServiceName(b)),
		Spec: corev1.ServiceSpec{
			Type:                     corev1.ServiceTypeClusterIP,
			Selector:                 SelectorLabels(b),
			Ports:                    ports,
			PublishNotReadyAddresses: true,
		},
	}
}

func servicePort(name string, port int32) corev1.ServicePort {
	return corev1.ServicePort{
		Name:       name,
		Protocol:   corev1.ProtocolTCP,
		Port:       port,
		TargetPort: intstr.FromString(name),
	}
}

// mqttPorts are the MQTT listener ports: TCP and WebSocket always, TLS and
// secure WebSocket only with a certificate of the user's.
func mqttPorts(b *v1alpha1.MQTTBroker) []corev1.ContainerPort {
	ports := []corev1.ContainerPort{
		containerPort(PortNameMQTT, PortMQTT),
		containerPort(PortNameWS, PortWS),
	}
	if b.Spec.Managed.TLS != nil {
		ports = append(ports,
			containerPort(PortNameMQTTS, PortMQTTS),
			containerPort(PortNameWSS, PortWSS))
	}
	return ports
}

// apiPorts are the dashboard and, on 4.x, the management listener.
func apiPorts(major string) []corev1.ContainerPort {
	ports := []corev1.ContainerPort{containerPort(PortNameDashboard, PortDashboard)}
	if major == Major4 {
		ports = append(ports, containerPort(PortNameManagement, PortManagement))
	}
	return ports
}

// containerPorts are all ports of the EMQX container.
func containerPorts(b *v1alpha1.MQTTBroker) []corev1.ContainerPort {
	return append(append(mqttPorts(b), apiPorts(b.Spec.Managed.MajorVersion())...),
		containerPort(PortNameEkka, PortEkka),
		containerPort(PortNameGenRPC, PortGenRPC),
	)
}

func containerPort(name string, port int32) corev1.ContainerPort {
	return corev1.ContainerPort{Name: name, ContainerPort: port, Protocol: corev1.ProtocolTCP}
}
