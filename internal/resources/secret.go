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

// buildSecret builds the credentials Secret. It has type
// kubernetes.io/basic-auth: username and password are what the operator's
// driver authenticates with (AppID/AppSecret on 4.x, API key/secret on
// 5.x), the same shape as an external broker's credentials Secret. It also
// holds the EMQX bootstrap file (key "bootstrap", one key:secret line) and
// the dashboard password.
func buildSecret(b *v1alpha1.MQTTBroker, c Credentials) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: CredentialsSecretName(b), Namespace: b.Namespace, Labels: secretLabels(b)},
		Type:       corev1.SecretTypeBasicAuth,
		Data: map[string][]byte{
			SecretKeyUsername:          []byte(c.APIKey),
			SecretKeyPassword:          []byte(c.APISecret),
			SecretKeyBootstrap:         []byte(c.bootstrapFile()),
			SecretKeyDashboardPassword: []byte(c.DashboardPassword),
		},
	}
}

// buildCookieSecret builds the Secret of the Erlang cookie. It is immutable:
// the cookie must stay what the running nodes started with, and it is never
// regenerated while the Secret exists.
func buildCookieSecret(b *v1alpha1.MQTTBroker, cookie string) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: CookieSecretName(b), Namespace: b.Namespace, Labels: secretLabels(b)},
		Type:       corev1.SecretTypeOpaque,
		Immutable:  ptrTo(true),
		Data:       map[string][]byte{SecretKeyCookie: []byte(cookie)},
	}
}
