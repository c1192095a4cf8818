package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// StatusAccess is what the reconcilers need of every kind's status.
// +kubebuilder:object:generate=false
type StatusAccess interface {
	GetCommonStatus() *CommonStatus
}

// GetCommonStatus returns the conditions and observed generation.
func (b *MQTTBroker) GetCommonStatus() *CommonStatus { return &b.Status.CommonStatus }

// GetCommonStatus returns the conditions and observed generation.
func (u *MQTTUser) GetCommonStatus() *CommonStatus { return &u.Status.CommonStatus }

// GetCommonStatus returns the conditions and observed generation.
func (a *MQTTACL) GetCommonStatus() *CommonStatus { return &a.Status.CommonStatus }

// GetCommonStatus returns the conditions and observed generation.
func (b *MQTTBan) GetCommonStatus() *CommonStatus { return &b.Status.CommonStatus }

// ReadyCondition returns the Ready condition, or nil.
func (s *CommonStatus) ReadyCondition() *metav1.Condition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == ConditionReady {
			return &s.Conditions[i]
		}
	}
	return nil
}

// IsReady reports whether Ready is True for the given generation.
func (s *CommonStatus) IsReady(generation int64) bool {
	c := s.ReadyCondition()
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == generation && s.ObservedGeneration == generation
}
