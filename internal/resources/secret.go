package resources

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// The credentials Secret's bootstrap key is mounted read-only in this
// directory, under the file name each major version's docs use. Only that key
// is projected: the other values reach the container through secretKeyRef.
const bootstrapDir = "/opt/mqtt-operator/bootstrap"

// bootstrapFileName is the file the EMQX bootstrap env var points at.
func bootstrapFileName(major string) string {
	if major == Major4 {
		return "bootstrap_apps"
	}
	return "bootstrap_api_keys"
}

func bootstrapPath(major string) string { return bootstrapDir + "/" + bootstrapFileName(major) }

// Secret builds the credentials Secret. It has type kubernetes.io/basic-auth:
// username and password are what the operator's driver authenticates with
// (AppID/AppSecret on 4.x, API key/secret on 5.x), the same shape as an
// external broker's credentials Secret. It also holds the EMQX bootstrap file
// (key "bootstrap", one key:secret line, pitfall 1), the Erlang cookie and
// the dashboard password.
func Secret(in Input) (*corev1.Secret, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	return buildSecret(in.Broker, in.Credentials), nil
}

func buildSecret(b *v1alpha1.MQTTBroker, c Credentials) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: secretMeta(b),
		Type:       corev1.SecretTypeBasicAuth,
		Data: map[string][]byte{
			SecretKeyUsername:          []byte(c.APIKey),
			SecretKeyPassword:          []byte(c.APISecret),
			SecretKeyBootstrap:         []byte(c.bootstrapFile()),
			SecretKeyNodeCookie:        []byte(c.NodeCookie),
			SecretKeyDashboardPassword: []byte(c.DashboardPassword),
		},
	}
}

// secretMeta labels the Secret so that the manager's cache, which holds
// only Secrets with the watch label, sees it.
func secretMeta(b *v1alpha1.MQTTBroker) metav1.ObjectMeta {
	m := objectMeta(b, CredentialsSecretName(b))
	m.Labels[v1alpha1.LabelWatch] = "true"
	return m
}
