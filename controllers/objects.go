package controllers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// statusObject is a kind whose status the reconcilers summarise.
type statusObject interface {
	client.Object
	mqttv1.StatusAccess
}

// ensureFinalizer adds the finalizer before anything is written to the
// broker, so nothing the operator creates there can be orphaned.
func ensureFinalizer(ctx context.Context, c client.Client, obj client.Object) error {
	if controllerutil.ContainsFinalizer(obj, mqttv1.Finalizer) {
		return nil
	}
	patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
	controllerutil.AddFinalizer(obj, mqttv1.Finalizer)
	if err := c.Patch(ctx, obj, patch); err != nil {
		return fmt.Errorf("add finalizer: %w", err)
	}
	return nil
}

// removeFinalizer lets Kubernetes delete the object.
func removeFinalizer(ctx context.Context, c client.Client, obj client.Object) error {
	if !controllerutil.ContainsFinalizer(obj, mqttv1.Finalizer) {
		return nil
	}
	patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
	controllerutil.RemoveFinalizer(obj, mqttv1.Finalizer)
	if err := c.Patch(ctx, obj, patch); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("remove finalizer: %w", err)
	}
	return nil
}

// patchStatus writes the status once per reconcile, and only when it changed.
func patchStatus(ctx context.Context, c client.Client, obj, before statusObject) error {
	if statusEqual(obj, before) {
		return nil
	}
	if err := c.Status().Patch(ctx, obj, client.MergeFrom(before)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("patch status: %w", err)
	}
	return nil
}

// statusEqual compares the whole status of two objects of one kind.
func statusEqual(a, b client.Object) bool {
	switch x := a.(type) {
	case *mqttv1.MQTTUser:
		return equality.Semantic.DeepEqual(x.Status, b.(*mqttv1.MQTTUser).Status)
	case *mqttv1.MQTTACL:
		return equality.Semantic.DeepEqual(x.Status, b.(*mqttv1.MQTTACL).Status)
	case *mqttv1.MQTTBan:
		return equality.Semantic.DeepEqual(x.Status, b.(*mqttv1.MQTTBan).Status)
	case *mqttv1.MQTTBroker:
		return equality.Semantic.DeepEqual(x.Status, b.(*mqttv1.MQTTBroker).Status)
	}
	return false
}

// markProgressing records at once that a new generation is being worked
// on: Reconciling=True (and Ready=Unknown on a new object). Without it a
// freshly applied object would have no status until the first reconcile
// finished, which kstatus reads as Current.
func markProgressing(ctx context.Context, c client.Client, obj statusObject) error {
	st := obj.GetCommonStatus()
	gen := obj.GetGeneration()
	if st.ObservedGeneration == gen {
		return nil
	}
	before := obj.DeepCopyObject().(statusObject)
	msg := fmt.Sprintf("reconciling generation %d", gen)
	apimeta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: mqttv1.ConditionReconciling, Status: metav1.ConditionTrue,
		Reason: mqttv1.ReasonProgressing, Message: msg, ObservedGeneration: gen})
	if apimeta.FindStatusCondition(st.Conditions, mqttv1.ConditionReady) == nil {
		apimeta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: mqttv1.ConditionReady, Status: metav1.ConditionUnknown,
			Reason: mqttv1.ReasonProgressing, Message: msg, ObservedGeneration: gen})
	}
	st.ObservedGeneration = gen
	return patchStatus(ctx, c, obj, before)
}
