package resources

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ with the current output")

// fullBroker sets every optional field, to pin how each is rendered.
func fullBroker() *v1alpha1.MQTTBroker {
	b := testBroker(testVersion5, 3, true)
	m := b.Spec.Managed
	m.Image = "registry.example/mirror/emqx:5.8.6"
	m.ImagePullPolicy = corev1.PullIfNotPresent
	m.ServiceType = corev1.ServiceTypeLoadBalancer
	m.Storage.StorageClassName = ptrTo("fast")
	m.Resources = corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("512Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
	}
	m.NodeSelector = map[string]string{"pool": "mqtt"}
	m.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "mqtt", Effect: corev1.TaintEffectNoSchedule}}
	m.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
		MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone", WhenUnsatisfiable: corev1.ScheduleAnyway,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelInstance: "broker"}},
	}}
	m.PriorityClassName = "mqtt-critical"
	m.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "mirror-pull"}}
	m.Env = []corev1.EnvVar{
		{Name: "EMQX_LOG__CONSOLE__LEVEL", Value: "debug"},
		{Name: "EMQX_DASHBOARD__DEFAULT_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "my-dashboard"}, Key: "password"}}},
	}
	m.TLS = &v1alpha1.BrokerTLS{SecretName: "broker-tls"}
	m.LicenseSecretRef = &v1alpha1.SecretKeySelector{Name: "emqx-license", Key: "license.key"}
	return b
}

type goldenCase struct {
	name   string
	broker *v1alpha1.MQTTBroker
}

// extraGoldenCases pin what the matrix leaves out: every optional field,
// TLS on 4.4, and a licensed EMQX 5.9 cluster on its default image.
func extraGoldenCases() []goldenCase {
	tls4 := testBroker(testVersion4, 3, true)
	tls4.Spec.Managed.TLS = &v1alpha1.BrokerTLS{SecretName: "broker-tls"}
	licensed := testBroker("5.9.1", 3, true)
	licensed.Spec.Managed.LicenseSecretRef = &v1alpha1.SecretKeySelector{Name: "emqx-license", Key: "key"}
	return []goldenCase{
		{"v5-all-fields", fullBroker()},
		{"v4-3replicas-tls", tls4},
		{"v5.9-3replicas-license", licensed},
	}
}

func TestGolden(t *testing.T) {
	var cases []goldenCase
	for _, c := range matrix() {
		cases = append(cases, goldenCase{c.name, testBroker(c.version, c.replicas, c.storage)})
	}
	cases = append(cases, extraGoldenCases()...)

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := renderYAML(t, mustBuild(t, tc.broker))
			path := filepath.Join("testdata", tc.name+".yaml")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden file (create it with `go test ./internal/resources -update`): %v", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s (-want +got); if the change is intended, run `go test ./internal/resources -update` and review the diff:\n%s",
					path, cmp.Diff(strings.Split(string(want), "\n"), strings.Split(got, "\n")))
			}
		})
	}
}
