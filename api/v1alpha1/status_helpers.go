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

// BrokerObject is implemented by the kinds that stand for something on a
// broker (MQTTUser, MQTTACL, MQTTBan), so that one reconciler can drive
// them all.
// +kubebuilder:object:generate=false
type BrokerObject interface {
	StatusAccess
	// GetBrokerRef is the MQTTBroker the object is on.
	GetBrokerRef() BrokerReference
	// GetDeletionPolicy says whether deleting the object removes its broker state.
	GetDeletionPolicy() DeletionPolicy
	// IsSuspended reports spec.suspend.
	IsSuspended() bool
	// GetBrokerResult is the broker's answer to the last call, nil before any.
	GetBrokerResult() *BrokerResult
	// SetBrokerResult records the broker's answer to a call.
	SetBrokerResult(*BrokerResult)
}

// GetBrokerRef is spec.brokerRef.
func (u *MQTTUser) GetBrokerRef() BrokerReference { return u.Spec.BrokerRef }

// GetBrokerRef is spec.brokerRef.
func (a *MQTTACL) GetBrokerRef() BrokerReference { return a.Spec.BrokerRef }

// GetBrokerRef is spec.brokerRef.
func (b *MQTTBan) GetBrokerRef() BrokerReference { return b.Spec.BrokerRef }

// GetDeletionPolicy is spec.deletionPolicy with its default applied.
func (u *MQTTUser) GetDeletionPolicy() DeletionPolicy { return defaultPolicy(u.Spec.DeletionPolicy) }

// GetDeletionPolicy is spec.deletionPolicy with its default applied.
func (a *MQTTACL) GetDeletionPolicy() DeletionPolicy { return defaultPolicy(a.Spec.DeletionPolicy) }

// GetDeletionPolicy is spec.deletionPolicy with its default applied.
func (b *MQTTBan) GetDeletionPolicy() DeletionPolicy { return defaultPolicy(b.Spec.DeletionPolicy) }

func defaultPolicy(p DeletionPolicy) DeletionPolicy {
	if p == "" {
		return DeletionPolicyDelete
	}
	return p
}

// IsSuspended reports spec.suspend.
func (u *MQTTUser) IsSuspended() bool { return u.Spec.Suspend }

// IsSuspended reports spec.suspend.
func (a *MQTTACL) IsSuspended() bool { return a.Spec.Suspend }

// IsSuspended reports spec.suspend.
func (b *MQTTBan) IsSuspended() bool { return b.Spec.Suspend }

// GetBrokerResult is status.brokerResult.
func (u *MQTTUser) GetBrokerResult() *BrokerResult { return u.Status.BrokerResult }

// GetBrokerResult is status.brokerResult.
func (a *MQTTACL) GetBrokerResult() *BrokerResult { return a.Status.BrokerResult }

// GetBrokerResult is status.brokerResult.
func (b *MQTTBan) GetBrokerResult() *BrokerResult { return b.Status.BrokerResult }

// SetBrokerResult sets status.brokerResult.
func (u *MQTTUser) SetBrokerResult(r *BrokerResult) { u.Status.BrokerResult = r }

// SetBrokerResult sets status.brokerResult.
func (a *MQTTACL) SetBrokerResult(r *BrokerResult) { a.Status.BrokerResult = r }

// SetBrokerResult sets status.brokerResult.
func (b *MQTTBan) SetBrokerResult(r *BrokerResult) { b.Status.BrokerResult = r }
