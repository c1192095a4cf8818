package controllers

import (
	"errors"
	"slices"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// deletionPredicate passes updates that start an object's deletion.
func deletionPredicate() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetDeletionTimestamp().IsZero() && !e.ObjectNew.GetDeletionTimestamp().IsZero()
	}}
}

// notCreated passes every event but creations, for objects the operator
// creates itself (generated Secrets): the reconcile that creates one goes
// on with it, and at start every owner is queued by its own watch, so a
// creation would only queue its owner a second time. Changes and deletions
// by others still wake the owner, which puts the object back.
func notCreated() predicate.Predicate {
	return predicate.Funcs{CreateFunc: func(event.CreateEvent) bool { return false }}
}

// claimChanged passes the events after which another claimant may take
// over: a claimant's deletion starting or finishing.
func claimChanged() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return true },
		UpdateFunc: func(e event.UpdateEvent) bool {
			return e.ObjectOld.GetDeletionTimestamp().IsZero() && !e.ObjectNew.GetDeletionTimestamp().IsZero()
		},
	}
}

// brokerReadinessChanged passes MQTTBroker events that matter to the
// objects using it: it appeared, went away, became ready or not, or its
// connection details changed.
func brokerReadinessChanged() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		o, ok1 := e.ObjectOld.(*mqttv1.MQTTBroker)
		n, ok2 := e.ObjectNew.(*mqttv1.MQTTBroker)
		if !ok1 || !ok2 {
			return true
		}
		return o.Status.IsReady(o.Generation) != n.Status.IsReady(n.Generation) ||
			o.Status.MQTTHost != n.Status.MQTTHost || o.Status.MQTTPort != n.Status.MQTTPort ||
			o.Status.APIURL != n.Status.APIURL ||
			!slices.Equal(o.Spec.AllowedNamespaces, n.Spec.AllowedNamespaces) ||
			apimeta.IsStatusConditionTrue(n.Status.Conditions, mqttv1.ConditionReady) != apimeta.IsStatusConditionTrue(o.Status.Conditions, mqttv1.ConditionReady)
	}}
}

// isGone reports whether a broker reference cannot lead to a broker that
// holds anything of ours: the MQTTBroker is gone or was never allowed.
func isGone(err error) bool {
	var we *waitError
	var se *stallError
	return (errors.As(err, &we) && we.reason == mqttv1.ReasonBrokerNotFound) ||
		(errors.As(err, &se) && se.reason == mqttv1.ReasonRefNotAllowed)
}
