package resources

import (
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// TLS listeners serve the user's certificate or are off: the certificate
// inside the EMQX image is a public demo key ("TLS").
func TestTLS(t *testing.T) {
	for _, c := range matrix() {
		for _, withTLS := range []bool{false, true} {
			name := c.name + map[bool]string{false: "", true: "-tls"}[withTLS]
			t.Run(name, func(t *testing.T) {
				b := testBroker(c.version, c.replicas, c.storage)
				if withTLS {
					b.Spec.Managed.TLS = &v1alpha1.BrokerTLS{SecretName: "broker-tls"}
				}
				objs := mustBuild(t, b)
				ctr := emqxContainer(t, objs)
				exposed := map[int32]bool{}
				for _, p := range objs.ClientService.Spec.Ports {
					exposed[p.Port] = true
				}
				for _, port := range []int32{PortMQTTS, PortWSS} {
					_, isContainerPort := containerPortNumber(ctr, map[int32]string{PortMQTTS: PortNameMQTTS, PortWSS: PortNameWSS}[port])
					if exposed[port] != withTLS || isContainerPort != withTLS {
						t.Errorf("port %d: on the Service %v, a container port %v; want %v", port, exposed[port], isContainerPort, withTLS)
					}
				}
				vol, mounted := findVolume(objs, volumeTLS)
				if mounted != withTLS {
					t.Fatalf("TLS volume present = %v, want %v", mounted, withTLS)
				}
				type setting struct{ name, want string }
				var want []setting
				switch {
				case major(c) == Major4 && withTLS:
					for _, l := range []string{"EMQX_LISTENER__SSL__EXTERNAL", "EMQX_LISTENER__WSS__EXTERNAL"} {
						want = append(want, setting{l + "__CERTFILE", tlsCertPath}, setting{l + "__KEYFILE", tlsKeyPath}, setting{l + "__CACERTFILE", tlsCertPath})
					}
				case major(c) == Major4:
					want = []setting{{"EMQX_LISTENER__SSL__EXTERNAL", ""}, {"EMQX_LISTENER__WSS__EXTERNAL", ""}}
				case withTLS:
					for _, l := range []string{"EMQX_LISTENERS__SSL__DEFAULT", "EMQX_LISTENERS__WSS__DEFAULT"} {
						want = append(want, setting{l + "__SSL_OPTIONS__CERTFILE", strconv.Quote(tlsCertPath)},
							setting{l + "__SSL_OPTIONS__KEYFILE", strconv.Quote(tlsKeyPath)}, setting{l + "__SSL_OPTIONS__CACERTFILE", strconv.Quote(tlsCertPath)})
					}
				default:
					want = []setting{{"EMQX_LISTENERS__SSL__DEFAULT__ENABLE", "false"}, {"EMQX_LISTENERS__WSS__DEFAULT__ENABLE", "false"}}
				}
				for _, w := range want {
					wantEnv(t, ctr, w.name, w.want)
				}
				for _, e := range ctr.Env {
					if strings.Contains(e.Value, "/etc/certs/") || strings.Contains(e.Value, "cert.pem") {
						t.Errorf("env %s points at the image's demo certificate: %s", e.Name, e.Value)
					}
				}
				if !withTLS {
					return
				}
				// The Secret of the kubernetes.io/tls shape is mounted where the
				// settings point, readable for fsGroup 1000.
				if vol.Secret == nil || vol.Secret.SecretName != "broker-tls" {
					t.Fatalf("TLS volume = %+v", vol)
				}
				keys := map[string]string{}
				for _, it := range vol.Secret.Items {
					keys[it.Key] = it.Path
				}
				if keys[corev1.TLSCertKey] != corev1.TLSCertKey || keys[corev1.TLSPrivateKeyKey] != corev1.TLSPrivateKeyKey || len(keys) != 2 {
					t.Errorf("TLS volume items = %v, want tls.crt and tls.key", keys)
				}
				if mode := vol.Secret.DefaultMode; mode == nil || *mode&0o040 == 0 {
					t.Errorf("TLS file mode %v is not readable by fsGroup 1000", mode)
				}
				for _, file := range []string{tlsCertPath, tlsKeyPath} {
					if m, ok := mountFor(ctr, file); !ok || m.Name != volumeTLS || !m.ReadOnly || m.SubPath != "" {
						t.Errorf("%s is not mounted read-only from the TLS volume (a subPath would not follow renewals): %+v", file, m)
					}
				}
			})
		}
	}
}

// The license is a mounted file that license.key names with a file://
// URL, so a renewed license reaches EMQX without a restart ("Licensing").
func TestLicense(t *testing.T) {
	b := testBroker("5.9.1", 3, true)
	if _, err := Build(testInput(b)); !IsSpecError(err) {
		t.Fatalf("a 5.9 cluster without a license: Build = %v, want a *SpecError", err)
	}
	b.Spec.Managed.LicenseSecretRef = &v1alpha1.SecretKeySelector{Name: "emqx-license", Key: "key"}
	objs := mustBuild(t, b)
	ctr := emqxContainer(t, objs)
	raw := mustEnvValue(t, ctr, envLicenseKey)
	url, err := strconv.Unquote(raw)
	if err != nil || !strings.HasPrefix(url, "file://") {
		t.Fatalf("%s = %s, want a quoted file:// URL", envLicenseKey, raw)
	}
	file := strings.TrimPrefix(url, "file://")
	m, ok := mountFor(ctr, file)
	if !ok || !m.ReadOnly || m.SubPath != "" {
		t.Fatalf("license file %s is not mounted read-only: %+v", file, m)
	}
	vol, _ := findVolume(objs, m.Name)
	if vol.Secret == nil || vol.Secret.SecretName != "emqx-license" || len(vol.Secret.Items) != 1 ||
		vol.Secret.Items[0].Key != "key" || m.MountPath+"/"+vol.Secret.Items[0].Path != file {
		t.Errorf("license volume = %+v", vol)
	}
	if emqxContainer(t, objs).Image != "emqx/emqx-enterprise:5.9.1" {
		t.Errorf("image = %s", emqxContainer(t, objs).Image)
	}
	// Without a license there is neither the setting nor the volume.
	plain := mustBuild(t, testBroker("5.9.1", 1, true))
	if _, ok := findEnv(emqxContainer(t, plain).Env, envLicenseKey); ok {
		t.Error("license.key set without a license")
	}
	if _, ok := findVolume(plain, volumeLicense); ok {
		t.Error("license volume without a license")
	}
}
