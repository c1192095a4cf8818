package harness

import (
	"fmt"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// ExternalBroker is an MQTTBroker for this test broker over the given API
// ("v4" or "v5"), and the Secret with its API credentials.
func (b *TestBroker) ExternalBroker(namespace, name, apiVersion string) (*corev1.Secret, *mqttv1.MQTTBroker, error) {
	host, portStr, err := net.SplitHostPort(b.mqttAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("mqtt address %q: %w", b.mqttAddr, err)
	}
	port, err := strconv.ParseInt(portStr, 10, 32)
	if err != nil {
		return nil, nil, fmt.Errorf("mqtt port %q: %w", portStr, err)
	}
	creds := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name + "-api-credentials"},
		Type:       corev1.SecretTypeBasicAuth,
		StringData: map[string]string{"username": BrokerAppID, "password": BrokerAppSecret},
	}
	mb := &mqttv1.MQTTBroker{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: mqttv1.MQTTBrokerSpec{External: &mqttv1.ExternalBroker{
			URL:                  b.URL(),
			APIVersion:           mqttv1.BrokerAPIVersion(apiVersion),
			CredentialsSecretRef: mqttv1.LocalObjectReference{Name: creds.Name},
			MQTTHost:             host,
			MQTTPort:             int32(port),
		}},
	}
	return creds, mb, nil
}
