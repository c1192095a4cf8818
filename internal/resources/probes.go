package resources

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// StatusPath answers 200 without authentication while the broker
// application runs: on the management port 8081 for 4.x (not on the
// dashboard port), on the dashboard port 18083 for 5.x. It says nothing
// about cluster membership, and answers before EMQX's automatic join has
// finished, so a pod is Ready only once the operator has also set the
// JoinedCondition readiness gate (docs/internals/managed.md, "Cluster
// membership").
const StatusPath = "/status"

// JoinedCondition is the pod condition the pods' readiness gate waits for.
// The controller sets it to True once the pod's EMQX node is a running
// member of the cluster the other Ready nodes are in. The StatefulSet's
// rolling update, the PodDisruptionBudget and the client Service all go by
// pod readiness, so none of them moves on while a node has not joined.
const JoinedCondition = "mqtt.mqttoperator.io/joined"

// probes returns startup, readiness and liveness probes for major.
//
// The startup probe allows five minutes: after a full restart with volumes a
// node waits for its peers' table copies before it serves /status. Once it
// has started, readiness reacts within 15 s, and liveness restarts a node
// only after 90 s of failures.
func probes(major string) (startup, readiness, liveness *corev1.Probe) {
	get := func(period, timeout, failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path:   StatusPath,
				Port:   intstr.FromString(apiPortName(major)),
				Scheme: corev1.URISchemeHTTP,
			}},
			PeriodSeconds:    period,
			TimeoutSeconds:   timeout,
			SuccessThreshold: 1,
			FailureThreshold: failures,
		}
	}
	return get(5, 3, 60), get(5, 3, 3), get(30, 5, 3)
}
