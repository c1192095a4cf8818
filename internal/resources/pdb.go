package resources

import (
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// PodDisruptionBudget builds a budget allowing one node at a time to be
// evicted. It returns nil for a single node, where any budget would either
// block node drains forever or protect nothing; the controller then deletes
// an existing one.
func PodDisruptionBudget(in Input) (*policyv1.PodDisruptionBudget, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	return buildPDB(in.Broker), nil
}

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
