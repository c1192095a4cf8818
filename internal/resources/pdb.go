package resources

import (
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// buildPDB builds a budget allowing one node at a time to be evicted. A pod
// counts as available only once Ready, that is once it has joined the
// cluster, so a drain never takes a second node while the first has not
// rejoined. It returns nil for a single node, where any budget would either
// block node drains forever or protect nothing; the controller then deletes
// an existing one.
func buildPDB(b *v1alpha1.MQTTBroker) *policyv1.PodDisruptionBudget {
	if replicas(b.Spec.Managed) <= 1 {
		return nil
	}
	maxUnavailable := intstr.FromInt32(1)
	return &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: objectMeta(b, PDBName(b)),
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: &maxUnavailable,
			Selector:       &metav1.LabelSelector{MatchLabels: SelectorLabels(b)},
		},
	}
}
