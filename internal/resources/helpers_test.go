package resources

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

const (
	testVersion4 = "4.4.19"
	testVersion5 = "5.8.6"
)

// testCredentials and testCookie are fixed so that the golden files are
// stable.
var testCredentials = Credentials{
	APIKey:            DefaultAPIKey,
	APISecret:         "ApiSecret0123456789abcdefghijklm",
	DashboardPassword: "DashPassword0123456789abcdefghij",
}

const testCookie = "NodeCookie0123456789abcdefghijkl"

func testBroker(version string, replicas int32, storage bool) *v1alpha1.MQTTBroker {
	b := &v1alpha1.MQTTBroker{
		TypeMeta:   metav1.TypeMeta{APIVersion: "mqtt.mqttoperator.io/v1alpha1", Kind: "MQTTBroker"},
		ObjectMeta: metav1.ObjectMeta{Name: "broker", Namespace: "mqtt"},
		Spec: v1alpha1.MQTTBrokerSpec{Managed: &v1alpha1.ManagedBroker{
			Version:     version,
			Replicas:    ptrTo(replicas),
			ServiceType: corev1.ServiceTypeClusterIP,
		}},
	}
	if storage {
		b.Spec.Managed.Storage = &v1alpha1.BrokerStorage{Size: resource.MustParse("1Gi")}
	}
	return b
}

func testInput(b *v1alpha1.MQTTBroker) Input {
	return Input{Broker: b, Credentials: testCredentials, Cookie: testCookie}
}

func mustBuild(t *testing.T, b *v1alpha1.MQTTBroker) *Objects {
	t.Helper()
	objs, err := Build(testInput(b))
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return objs
}

// renderYAML renders all objects as one multi-document YAML stream.
func renderYAML(t *testing.T, objs *Objects) string {
	t.Helper()
	var docs []string
	for _, o := range objs.All() {
		out, err := yaml.Marshal(o)
		if err != nil {
			t.Fatalf("marshal %T: %v", o, err)
		}
		docs = append(docs, string(out))
	}
	return strings.Join(docs, "---\n")
}

func emqxContainer(t *testing.T, objs *Objects) *corev1.Container {
	t.Helper()
	cs := objs.StatefulSet.Spec.Template.Spec.Containers
	if len(cs) != 1 || cs[0].Name != ContainerName {
		t.Fatalf("want one container %q, got %d", ContainerName, len(cs))
	}
	return &cs[0]
}

func findEnv(env []corev1.EnvVar, name string) (corev1.EnvVar, bool) {
	for _, e := range env {
		if e.Name == name {
			return e, true
		}
	}
	return corev1.EnvVar{}, false
}

func mustEnvValue(t *testing.T, c *corev1.Container, name string) string {
	t.Helper()
	e, ok := findEnv(c.Env, name)
	if !ok {
		t.Fatalf("env %s missing", name)
	}
	if e.ValueFrom != nil {
		t.Fatalf("env %s comes from %v, want a literal value", name, e.ValueFrom)
	}
	return e.Value
}

func findVolume(objs *Objects, name string) (corev1.Volume, bool) {
	for _, v := range objs.StatefulSet.Spec.Template.Spec.Volumes {
		if v.Name == name {
			return v, true
		}
	}
	return corev1.Volume{}, false
}

// mountFor returns the mount whose directory contains path.
func mountFor(c *corev1.Container, path string) (corev1.VolumeMount, bool) {
	for _, m := range c.VolumeMounts {
		if strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/") {
			return m, true
		}
	}
	return corev1.VolumeMount{}, false
}

func containerPortNumber(c *corev1.Container, name string) (int32, bool) {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

// matrix is every version × replicas × storage combination the golden files cover.
type matrixCase struct {
	name     string
	version  string
	replicas int32
	storage  bool
}

func matrix() []matrixCase {
	var cases []matrixCase
	for _, v := range []struct{ tag, version string }{{"v4", testVersion4}, {"v5", testVersion5}} {
		for _, r := range []int32{1, 3} {
			for _, s := range []bool{false, true} {
				storage := "emptydir"
				if s {
					storage = "storage"
				}
				cases = append(cases, matrixCase{
					name:    v.tag + "-" + map[int32]string{1: "1replica", 3: "3replicas"}[r] + "-" + storage,
					version: v.version, replicas: r, storage: s,
				})
			}
		}
	}
	return cases
}
