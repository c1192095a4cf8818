package controllers

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// statusObject is a kind whose status the reconcilers summarise.
type statusObject interface {
	client.Object
	mqttv1.StatusAccess
}

// finalizerPatch is how the finalizer list is changed. A JSON merge patch
// replaces a list whole, so without the resourceVersion it would drop a
// finalizer another controller added after the cache was read (or bring
// back one it removed). With it, such a race is a conflict, and the object
// is looked at again from the cache.
func finalizerPatch(obj client.Object) client.Patch {
	return client.MergeFromWithOptions(obj.DeepCopyObject().(client.Object), client.MergeFromWithOptimisticLock{})
}

// conflictRetry is how soon an object whose finalizer patch met a newer
// version is looked at again: the cache lags the API server by about a
// watch event.
const conflictRetry = 250 * time.Millisecond

// conflictAsRequeue turns the conflict of a finalizer patch (see
// finalizerPatch) into a quiet retry: the cache will soon hold the newer
// object, and nothing failed that a user should read about.
func conflictAsRequeue(res ctrl.Result, err error) (ctrl.Result, error) {
	if apierrors.IsConflict(err) {
		return ctrl.Result{RequeueAfter: jitter(conflictRetry)}, nil
	}
	return res, err
}

// ensureFinalizer adds the finalizer before anything is written to the
// broker, so nothing the operator creates there can be orphaned.
func ensureFinalizer(ctx context.Context, c client.Client, obj client.Object) error {
	if controllerutil.ContainsFinalizer(obj, mqttv1.Finalizer) {
		return nil
	}
	patch := finalizerPatch(obj)
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
	patch := finalizerPatch(obj)
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
