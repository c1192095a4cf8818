package resources

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

func TestNames(t *testing.T) {
	b := testBroker(testVersion5, 1, false)
	for fn, want := range map[string]string{
		StatefulSetName(b):       "broker",
		HeadlessServiceName(b):   "broker-headless",
		ClientServiceName(b):     "broker",
		ConfigMapName(b):         "broker-config",
		CredentialsSecretName(b): "broker-api-credentials",
		CookieSecretName(b):      "broker-erlang-cookie",
		PDBName(b):               "broker",
		MQTTHost(b):              "broker.mqtt.svc",
	} {
		if fn != want {
			t.Errorf("got %q, want %q", fn, want)
		}
	}
	if MQTTPort(b) != 1883 {
		t.Errorf("MQTTPort = %d", MQTTPort(b))
	}
	if got := APIURL(b); got != "http://broker-api.mqtt.svc:18083" {
		t.Errorf("5.x APIURL = %q", got)
	}
	if got := APIURL(testBroker(testVersion4, 1, false)); got != "http://broker-api.mqtt.svc:8081" {
		t.Errorf("4.x APIURL = %q", got)
	}
	// Once the cluster domain is known, the published names are fully
	// qualified, so they resolve without the cluster's search path too.
	b.Status.ClusterDomain = "corp.example"
	if got := APIURL(b); got != "http://broker-api.mqtt.svc.corp.example:18083" {
		t.Errorf("5.x APIURL with a domain = %q", got)
	}
	if got := MQTTHost(b); got != "broker.mqtt.svc.corp.example" {
		t.Errorf("MQTTHost with a domain = %q", got)
	}
}

func TestLabels(t *testing.T) {
	b := testBroker(testVersion5, 1, false)
	want := map[string]string{LabelName: "emqx", LabelInstance: "broker", v1alpha1.LabelManagedBy: "mqtt-operator"}
	got := commonLabels(b)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("label %s = %q, want %q", k, got[k], v)
		}
	}
	sel := SelectorLabels(b)
	if len(sel) != 2 || sel[LabelName] != "emqx" || sel[LabelInstance] != "broker" {
		t.Errorf("selector labels = %v: keep them to name and instance, they can never change", sel)
	}
	sel[LabelName] = "mutated"
	if SelectorLabels(b)[LabelName] != "emqx" {
		t.Error("SelectorLabels returns shared state")
	}
}

// The default image follows the version: EMQX publishes 5.9 and later only
// as emqx/emqx-enterprise. spec.managed.image always wins.
func TestImage(t *testing.T) {
	for version, want := range map[string]string{
		"4.4.19": "emqx/emqx:4.4.19",
		"5.0.14": "emqx/emqx:5.0.14",
		"5.8.9":  "emqx/emqx:5.8.9",
		"5.9.0":  "emqx/emqx-enterprise:5.9.0",
		"5.10.1": "emqx/emqx-enterprise:5.10.1",
	} {
		b := testBroker(version, 1, false)
		if got := emqxContainer(t, mustBuild(t, b)).Image; got != want {
			t.Errorf("%s: image = %q, want %q", version, got, want)
		}
		b.Spec.Managed.Image = "mirror/emqx:custom"
		if got := emqxContainer(t, mustBuild(t, b)).Image; got != "mirror/emqx:custom" {
			t.Errorf("%s: container image with spec.managed.image = %q", version, got)
		}
	}
}

func TestValidateSpec(t *testing.T) {
	cases := []struct {
		name    string
		mutate  func(*testing.T) error
		wantErr string
	}{
		{"4.4.11 is the first 4.x with bootstrap files", func(t *testing.T) error {
			return ValidateSpec(testBroker("4.4.11", 1, false))
		}, ""},
		{"4.4.10 lacks bootstrap files", func(t *testing.T) error {
			return ValidateSpec(testBroker("4.4.10", 1, false))
		}, "4.4.11"},
		{"4.3 refused", func(t *testing.T) error { return ValidateSpec(testBroker("4.3.22", 1, false)) }, "4.4.11"},
		{"5.0.13 lacks the API key bootstrap file", func(t *testing.T) error { return ValidateSpec(testBroker("5.0.13", 1, false)) }, "5.0.14"},
		{"5.0.14 is the first 5.x with it", func(t *testing.T) error { return ValidateSpec(testBroker("5.0.14", 1, false)) }, ""},
		{"6.x refused", func(t *testing.T) error { return ValidateSpec(testBroker("6.0.0", 1, false)) }, "major version"},
		{"garbage version", func(t *testing.T) error { return ValidateSpec(testBroker("5.8", 1, false)) }, "not a version"},
		{"5.9 single node without license", func(t *testing.T) error {
			return ValidateSpec(testBroker("5.9.0", 1, false))
		}, ""},
		{"5.9 cluster without license", func(t *testing.T) error {
			return ValidateSpec(testBroker("5.9.0", 3, false))
		}, "licenseSecretRef"},
		{"5.10 cluster with license", func(t *testing.T) error {
			b := testBroker("5.10.1", 3, false)
			b.Spec.Managed.LicenseSecretRef = &v1alpha1.SecretKeySelector{Name: "emqx-license", Key: "license.key"}
			return ValidateSpec(b)
		}, ""},
		{"5.8 cluster needs no license", func(t *testing.T) error { return ValidateSpec(testBroker("5.8.9", 3, false)) }, ""},
		{"license on 4.x", func(t *testing.T) error {
			b := testBroker(testVersion4, 1, false)
			b.Spec.Managed.LicenseSecretRef = &v1alpha1.SecretKeySelector{Name: "emqx-license", Key: "license.key"}
			return ValidateSpec(b)
		}, "EMQX 5 only"},
		{"zero replicas", func(t *testing.T) error { return ValidateSpec(testBroker(testVersion5, 0, false)) }, "at least 1"},
		{"nil replicas defaults to 1", func(t *testing.T) error {
			b := testBroker(testVersion5, 1, false)
			b.Spec.Managed.Replicas = nil
			if got := *mustBuild(t, b).StatefulSet.Spec.Replicas; got != 1 {
				t.Errorf("replicas = %d", got)
			}
			return ValidateSpec(b)
		}, ""},
		{"external broker", func(t *testing.T) error {
			b := testBroker(testVersion5, 1, false)
			b.Spec.Managed = nil
			return ValidateSpec(b)
		}, "spec.managed"},
		{"name with dots", func(t *testing.T) error {
			b := testBroker(testVersion5, 1, false)
			b.Name = "my.broker"
			return ValidateSpec(b)
		}, "metadata.name"},
		{"name starting with a digit", func(t *testing.T) error {
			b := testBroker(testVersion5, 1, false)
			b.Name = "1broker"
			return ValidateSpec(b)
		}, "metadata.name"},
		{"longest name", func(t *testing.T) error {
			b := testBroker(testVersion5, 3, false)
			b.Name = "b" + strings.Repeat("x", MaxBrokerNameLength-1)
			objs := mustBuild(t, b)
			// The revision hash label is <sts>-<up to 10 chars>.
			if errs := validation.IsValidLabelValue(objs.StatefulSet.Name + "-0123456789"); len(errs) > 0 {
				t.Errorf("revision label would be invalid: %v", errs)
			}
			if errs := validation.IsDNS1035Label(objs.HeadlessService.Name); len(errs) > 0 {
				t.Errorf("headless name invalid: %v", errs)
			}
			return nil
		}, ""},
		{"name too long", func(t *testing.T) error {
			b := testBroker(testVersion5, 1, false)
			b.Name = strings.Repeat("b", MaxBrokerNameLength+1)
			return ValidateSpec(b)
		}, "too long"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.mutate(t)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !IsSpecError(err) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want a *SpecError containing %q", err, tc.wantErr)
			}
		})
	}
}
