package resources

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// HeadlessService builds the StatefulSet's governing Service. It exists for
// DNS only: the SRV records EMQX's dns discovery reads and the per-pod names
// that are the node names (pitfall 5).
func HeadlessService(in Input) (*corev1.Service, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	return buildHeadlessService(in.Broker), nil
}

func buildHeadlessService(b *v1alpha1.MQTTBroker) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: objectMeta(b, HeadlessServiceName(b)),
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeClusterIP,
			ClusterIP: corev1.ClusterIPNone,
			// Nodes must find each other before they are Ready, or a
			// restarting cluster never forms (pitfall 5).
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

// ClientService builds the Service MQTT clients use: the MQTT listeners
// only. Its type is spec.managed.serviceType. Only Ready pods receive
// traffic. The management API has a Service of its own (APIService), so a
// LoadBalancer for MQTT never exposes the API outside the cluster.
func ClientService(in Input) (*corev1.Service, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	return buildClientService(in.Broker), nil
}

func buildClientService(b *v1alpha1.MQTTBroker) *corev1.Service {
	t := b.Spec.Managed.ServiceType
	if t == "" {
		t = corev1.ServiceTypeClusterIP
	}
	var ports []corev1.ServicePort
	for _, p := range mqttPorts() {
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

// APIService builds the ClusterIP Service of the management API (4.x: 8081
// REST and 18083 dashboard; 5.x: 18083 for both), which the operator
// reaches the broker through.
func APIService(in Input) (*corev1.Service, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	return buildAPIService(in.Broker), nil
}

func buildAPIService(b *v1alpha1.MQTTBroker) *corev1.Service {
	var ports []corev1.ServicePort
	for _, p := range apiPorts(b.Spec.Managed.MajorVersion()) {
		ports = append(ports, servicePort(p.Name, p.ContainerPort))
	}
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: objectMeta(b, APIServiceName(b)),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: SelectorLabels(b),
			Ports:    ports,
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

// mqttPorts are the listener ports EMQX opens by default.
func mqttPorts() []corev1.ContainerPort {
	return []corev1.ContainerPort{
		containerPort(PortNameMQTT, PortMQTT),
		containerPort(PortNameMQTTS, PortMQTTS),
		containerPort(PortNameWS, PortWS),
		containerPort(PortNameWSS, PortWSS),
	}
}

// apiPorts are the dashboard and, on 4.x, the management listener.
func apiPorts(major string) []corev1.ContainerPort {
	ports := []corev1.ContainerPort{containerPort(PortNameDashboard, PortDashboard)}
	if major == Major4 {
		ports = append(ports, containerPort(PortNameManagement, PortManagement))
	}
	return ports
}

// clientPorts are the MQTT listeners and the API ports.
func clientPorts(major string) []corev1.ContainerPort {
	return append(mqttPorts(), apiPorts(major)...)
}

// containerPorts are all ports of the EMQX container.
func containerPorts(major string) []corev1.ContainerPort {
	return append(clientPorts(major),
		containerPort(PortNameEkka, PortEkka),
		containerPort(PortNameGenRPC, PortGenRPC),
	)
}

func containerPort(name string, port int32) corev1.ContainerPort {
	return corev1.ContainerPort{Name: name, ContainerPort: port, Protocol: corev1.ProtocolTCP}
}
