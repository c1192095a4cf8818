package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// base is what the MQTTUser, MQTTACL and MQTTBan reconcilers share: each
// writes one kind of object to a broker on behalf of a Kubernetes object
// that references an MQTTBroker and competes with its peers for a claim.
type base struct {
	client.Client
	Options
	conns    *connector
	recorder events.EventRecorder
	// drift receives the objects the drift scanner found out of sync.
	drift chan event.GenericEvent
}

func newBase(mgr ctrl.Manager, o Options, conns *connector, name string) base {
	return base{Client: mgr.GetClient(), Options: o, conns: conns, recorder: mgr.GetEventRecorder(name), drift: make(chan event.GenericEvent, 1024)}
}

// reconcileObject runs the steps every broker-facing reconcile shares: get
// the object, finalize it when it is being deleted, add the finalizer,
// mark a new generation Reconciling, run the kind's work, and patch the
// status once.
func (r *base) reconcileObject(ctx context.Context, req ctrl.Request, obj statusObject,
	finalize func(context.Context) error, work func(context.Context) (ctrl.Result, error)) (ctrl.Result, error) {
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		if !controllerutil.ContainsFinalizer(obj, mqttv1.Finalizer) {
			return ctrl.Result{}, nil
		}
		if err := finalize(ctx); err != nil {
			return ctrl.Result{}, err
		}
		return ctrl.Result{}, removeFinalizer(ctx, r.Client, obj)
	}
	if err := ensureFinalizer(ctx, r.Client, obj); err != nil {
		return ctrl.Result{}, err
	}
	if err := markProgressing(ctx, r.Client, obj); err != nil {
		return ctrl.Result{}, err
	}
	before := obj.DeepCopyObject().(statusObject)
	res, err := work(ctx)
	if perr := patchStatus(ctx, r.Client, obj, before); perr != nil {
		return ctrl.Result{}, perr
	}
	return res, err
}

// failed records a failed broker call in the object's brokerResult and an
// Event, and classifies it for the summary.
func (r *base) failed(obj client.Object, result **mqttv1.BrokerResult, err error) error {
	if be, ok := broker.AsError(err); ok {
		*result = brokerResultOf(be, timeNow())
		r.recorder.Eventf(obj, nil, corev1.EventTypeWarning, "BrokerError", be.Op, "%s", brokerErrorMessage(be))
	}
	return classify(err, &r.Options)
}

// holderClient resolves the object's broker and checks that the object
// holds its claim, then returns a client for the broker.
func (r *base) holderClient(ctx context.Context, obj client.Object, ref mqttv1.BrokerReference, peers client.ObjectList, claim, conflictReason, what string) (broker.Client, error) {
	b, err := r.conns.resolve(ctx, obj.GetNamespace(), ref)
	if err != nil {
		return nil, err
	}
	if other, err := otherHolder(ctx, r.Client, obj, peers, claim); err != nil {
		return nil, err
	} else if other != "" {
		return nil, stalled(conflictReason, "%s on MQTTBroker %s is held by %s", what, brokerKey(obj.GetNamespace(), ref), other)
	}
	return r.conns.clientFor(ctx, b)
}

// cleanupClient returns a client for removing a deleted object's broker
// state, or nil when there is nothing to remove: another live object takes
// the claim over, or the broker is gone or was never allowed.
func (r *base) cleanupClient(ctx context.Context, obj client.Object, ref mqttv1.BrokerReference, peers client.ObjectList, claim string) (broker.Client, error) {
	if succ, err := liveSuccessor(ctx, r.Client, obj, peers, claim); err != nil || succ {
		return nil, err
	}
	b, err := r.conns.resolve(ctx, obj.GetNamespace(), ref)
	if err != nil {
		if isGone(err) {
			return nil, nil
		}
		return nil, err
	}
	return r.conns.clientFor(ctx, b)
}

// setup builds the controller of a broker-facing kind with the watches
// they all need: the kind itself, its MQTTBroker, its rivals for a claim
// and the drift scanner's findings. more adds the kind's own watches.
func (r *base) setup(mgr ctrl.Manager, name string, obj client.Object, newList func() client.ObjectList,
	claim func(client.Object) string, rec reconcile.Reconciler, more func(*builder.Builder) *builder.Builder) error {
	bld := ctrl.NewControllerManagedBy(mgr).
		For(obj, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, deletionPredicate()))).
		Watches(&mqttv1.MQTTBroker{}, enqueueByBroker(mgr.GetClient(), newList), builder.WithPredicates(brokerReadinessChanged())).
		Watches(obj.DeepCopyObject().(client.Object), enqueueClaimants(mgr.GetClient(), newList, claim), builder.WithPredicates(claimChanged())).
		WatchesRawSource(source.Channel(r.drift, &handler.EnqueueRequestForObject{})).
		WithOptions(r.controllerOptions()).
		Named(name)
	if more != nil {
		bld = more(bld)
	}
	return bld.Complete(rec)
}
