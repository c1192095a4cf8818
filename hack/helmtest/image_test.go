package helmtest

import (
	"testing"

	"github.com/distribution/reference"
	appsv1 "k8s.io/api/apps/v1"
)

// The manager's image reference: the public repository at the chart's
// appVersion by default, a given tag, or a digest, which wins over any tag.
// Every result is a reference a container runtime can pull.
func TestImageReference(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct{ set, want string }{
		{"", "ghcr.io/mqttoperator/mqtt-operator:v0.1.0"},
		{"image.tag=v0.2.0", "ghcr.io/mqttoperator/mqtt-operator:v0.2.0"},
		{"image.digest=" + digest, "ghcr.io/mqttoperator/mqtt-operator@" + digest},
		{"image.tag=v0.2.0,image.digest=" + digest, "ghcr.io/mqttoperator/mqtt-operator@" + digest},
		{"image.repository=registry.local:5000/team/mqtt-operator", "registry.local:5000/team/mqtt-operator:v0.1.0"},
	} {
		t.Run("set "+tc.set, func(t *testing.T) {
			got := one[*appsv1.Deployment](t, renderSet(t, tc.set).objects).Spec.Template.Spec.Containers[0].Image
			if got != tc.want {
				t.Errorf("image = %q, want %q", got, tc.want)
			}
			ref, err := reference.ParseNormalizedNamed(got)
			if err != nil {
				t.Fatalf("%q is not an image reference: %v", got, err)
			}
			_, tagged := ref.(reference.Tagged)
			_, digested := ref.(reference.Digested)
			if tagged == digested {
				t.Errorf("%q: tagged %v, digested %v; want exactly one", got, tagged, digested)
			}
		})
	}
}
