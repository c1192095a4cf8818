package controllers

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/testbroker"
)

// writeSelfSigned writes a certificate for 127.0.0.1 and its key, and
// returns the certificate's PEM to trust it.
func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string, caPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test broker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, caPEM
}

// An HTTPS broker API is trusted through caSecretRef; without the CA the
// broker is Stalled (retrying cannot fix a certificate), and adding the CA
// makes it Ready.
func TestExternalBrokerTLS(t *testing.T) {
	certFile, keyFile, caPEM := writeSelfSigned(t, t.TempDir())
	tb, err := testbroker.New(testbroker.Options{TLSCertFile: certFile, TLSKeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tb.Close() })
	e := &env{t: t, g: gomega.NewWithT(t), ctx: suiteCtx, ns: newNamespace(t), tb: tb, broker: "secure"}
	e.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "api"}, Type: corev1.SecretTypeBasicAuth, StringData: map[string]string{"username": "admin", "password": "public"}})
	e.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "ca"}, StringData: map[string]string{"ca.crt": string(caPEM)}})
	e.create(&mqttv1.MQTTBroker{ObjectMeta: metav1.ObjectMeta{Name: "secure"}, Spec: mqttv1.MQTTBrokerSpec{External: &mqttv1.ExternalBroker{
		URL: tb.APIURL(), APIVersion: mqttv1.BrokerAPIv5, CredentialsSecretRef: mqttv1.LocalObjectReference{Name: "api"}}}})
	e.condition(&mqttv1.MQTTBroker{}, "secure", mqttv1.ConditionStalled, metav1.ConditionTrue, mqttv1.ReasonMisconfigured)

	var b mqttv1.MQTTBroker
	e.update(&b, "secure", func() { b.Spec.External.CASecretRef = &mqttv1.SecretKeySelector{Name: "ca", Key: "ca.crt"} })
	e.waitReady(&mqttv1.MQTTBroker{}, "secure")
	e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "u"}, Spec: mqttv1.MQTTUserSpec{BrokerRef: e.ref()}})
	e.waitReady(&mqttv1.MQTTUser{}, "u")
}
