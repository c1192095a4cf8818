package controllers

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// TestObjectStatus sorts objects for the mqtt_operator_objects gauge the
// way alerts expect: suspension first, then Ready at the generation, then
// Stalled.
func TestObjectStatus(t *testing.T) {
	c := func(typ string, s metav1.ConditionStatus, gen int64) metav1.Condition {
		return metav1.Condition{Type: typ, Status: s, ObservedGeneration: gen}
	}
	cases := []struct {
		name string
		gen  int64
		st   mqttv1.CommonStatus
		want string
	}{
		{"new", 1, mqttv1.CommonStatus{}, "progressing"},
		{"ready", 2, mqttv1.CommonStatus{ObservedGeneration: 2, Conditions: []metav1.Condition{c("Ready", "True", 2)}}, "ready"},
		{"ready for an older generation", 3, mqttv1.CommonStatus{ObservedGeneration: 2, Conditions: []metav1.Condition{c("Ready", "True", 2)}}, "progressing"},
		{"stalled", 1, mqttv1.CommonStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{c("Ready", "False", 1), c("Stalled", "True", 1)}}, "stalled"},
		{"waiting", 1, mqttv1.CommonStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{c("Ready", "False", 1), c("Reconciling", "True", 1)}}, "progressing"},
		{"suspended wins", 1, mqttv1.CommonStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{c("Ready", "True", 1), c("Suspended", "True", 1)}}, "suspended"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := &mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Generation: tc.gen}, Status: mqttv1.MQTTUserStatus{CommonStatus: tc.st}}
			if got := objectStatus(u, &u.Status.CommonStatus); got != tc.want {
				t.Fatalf("objectStatus = %q, want %q", got, tc.want)
			}
		})
	}
}
