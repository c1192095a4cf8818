package resources

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

func TestSchedulingPassThrough(t *testing.T) {
	b := fullBroker()
	objs := mustBuild(t, b)
	m := b.Spec.Managed
	spec := objs.StatefulSet.Spec.Template.Spec
	ctr := emqxContainer(t, objs)
	for name, pair := range map[string][2]any{
		"nodeSelector":              {m.NodeSelector, spec.NodeSelector},
		"tolerations":               {m.Tolerations, spec.Tolerations},
		"topologySpreadConstraints": {m.TopologySpreadConstraints, spec.TopologySpreadConstraints},
		"priorityClassName":         {m.PriorityClassName, spec.PriorityClassName},
		"imagePullSecrets":          {m.ImagePullSecrets, spec.ImagePullSecrets},
		"resources":                 {m.Resources, ctr.Resources},
		"imagePullPolicy":           {m.ImagePullPolicy, ctr.ImagePullPolicy},
		"image":                     {m.Image, ctr.Image},
		"storageClassName":          {m.Storage.StorageClassName, objs.StatefulSet.Spec.VolumeClaimTemplates[0].Spec.StorageClassName},
		"serviceType":               {m.ServiceType, objs.ClientService.Spec.Type},
	} {
		if diff := cmp.Diff(pair[0], pair[1]); diff != "" {
			t.Errorf("%s not passed through (-spec +built):\n%s", name, diff)
		}
	}
	// Topology spread constraints replace the default anti-affinity.
	if spec.Affinity != nil {
		t.Errorf("affinity = %+v, want none when the user spreads pods", spec.Affinity)
	}
	// The builder copies: changing the output leaves the spec alone.
	spec.Tolerations[0].Key = "changed"
	spec.NodeSelector["pool"] = "changed"
	if m.Tolerations[0].Key != "dedicated" || m.NodeSelector["pool"] != "mqtt" {
		t.Error("the StatefulSet shares memory with the spec")
	}
}

func TestAffinity(t *testing.T) {
	b := testBroker(testVersion5, 3, false)
	def := mustBuild(t, b).StatefulSet.Spec.Template.Spec.Affinity
	if def == nil || def.PodAntiAffinity == nil || len(def.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 ||
		len(def.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) != 0 {
		t.Fatalf("default affinity = %+v, want one preferred anti-affinity term", def)
	}
	user := &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
			Key: "kubernetes.io/arch", Operator: corev1.NodeSelectorOpIn, Values: []string{"arm64"}}}}},
	}}}
	b.Spec.Managed.Affinity = user
	if diff := cmp.Diff(user, mustBuild(t, b).StatefulSet.Spec.Template.Spec.Affinity); diff != "" {
		t.Errorf("user affinity must replace the default (-want +got):\n%s", diff)
	}
}
