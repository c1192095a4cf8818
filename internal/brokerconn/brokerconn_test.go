package brokerconn

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

func TestConfig(t *testing.T) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	secret := func(name string, data map[string]string) *corev1.Secret {
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, Data: map[string][]byte{}}
		for k, v := range data {
			sec.Data[k] = []byte(v)
		}
		return sec
	}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(
		secret("api", map[string]string{"username": "key", "password": "secret"}),
		secret("ca", map[string]string{"ca.crt": "PEM"}),
		secret("b-api-credentials", map[string]string{"username": "admin", "password": "generated"}),
	).Build()
	ext := func(ca *mqttv1.SecretKeySelector) *mqttv1.MQTTBroker {
		return &mqttv1.MQTTBroker{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "b"}, Spec: mqttv1.MQTTBrokerSpec{External: &mqttv1.ExternalBroker{
			URL: "https://emqx.example:8443", APIVersion: mqttv1.BrokerAPIv4, InsecureSkipVerify: true,
			CredentialsSecretRef: mqttv1.LocalObjectReference{Name: "api"}, CASecretRef: ca}}}
	}
	tests := []struct {
		name       string
		b          *mqttv1.MQTTBroker
		want       broker.Config
		wantReason string
	}{
		{name: "external", b: ext(&mqttv1.SecretKeySelector{Name: "ca", Key: "ca.crt"}), want: broker.Config{URL: "https://emqx.example:8443",
			APIVersion: broker.APIv4, Username: "key", Password: "secret", CABundle: []byte("PEM"), InsecureSkipVerify: true}},
		{name: "missing ca key", b: ext(&mqttv1.SecretKeySelector{Name: "ca", Key: "tls.crt"}), wantReason: mqttv1.ReasonSecretInvalid},
		{name: "missing ca secret", b: ext(&mqttv1.SecretKeySelector{Name: "nope", Key: "ca.crt"}), wantReason: mqttv1.ReasonSecretNotFound},
		{name: "managed", b: &mqttv1.MQTTBroker{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "b"},
			Spec: mqttv1.MQTTBrokerSpec{Managed: &mqttv1.ManagedBroker{Version: "4.4.19"}}},
			want: broker.Config{URL: "http://b-api.ns.svc:8081", APIVersion: broker.APIv4, Username: "admin", Password: "generated"}},
		{name: "neither", b: &mqttv1.MQTTBroker{}, wantReason: mqttv1.ReasonInvalidSpec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Config(context.Background(), c, tt.b)
			var e *Error
			switch {
			case tt.wantReason != "":
				if !errors.As(err, &e) || e.Reason != tt.wantReason {
					t.Errorf("error = %v, want reason %s", err, tt.wantReason)
				}
			case err != nil:
				t.Fatal(err)
			default:
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("Config mismatch (-want +got):\n%s", diff)
				}
			}
		})
	}
}
