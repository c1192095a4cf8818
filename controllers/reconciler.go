package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// deps is what every reconciler and kind shares.
type deps struct {
	client.Client
	Options
	conns    *connector
	recorder events.EventRecorder
}

// reconciler is the one Reconcile of MQTTUser, MQTTACL and MQTTBan: what
// differs between the kinds is in kind. It runs, in order: finalization of
// a deleted object, suspension, the finalizer, the claim, the broker
// lookup, desired versus observed state, the write when they differ, and
// one status patch.
type reconciler[T brokerObject, S any] struct {
	deps
	kind    brokerKind[T, S]
	name    string
	newObj  func() T
	newList func() client.ObjectList
	items   func(client.ObjectList) []T
	// snaps keeps the broker's recent lists of the kind, so that a cold
	// start or a wipe repair needs no GET per object.
	snaps *snapshots[S]
	// drift receives the objects the drift scanner found out of sync.
	drift chan event.GenericEvent
	// claims knows which objects claim each broker entry.
	claims *claimRegistry
}

func newReconciler[T brokerObject, S any](d deps, name string, k brokerKind[T, S], newObj func() T,
	newList func() client.ObjectList, items func(client.ObjectList) []T) *reconciler[T, S] {
	r := &reconciler[T, S]{deps: d, kind: k, name: name, newObj: newObj, newList: newList, items: items,
		snaps: newSnapshots[S](d.Clock, d.snapshotTTL()), drift: make(chan event.GenericEvent, 1024)}
	r.claims = newClaimRegistry(func(o client.Object) string { return k.claim(o.(T)).key }, func() client.Object { return newObj() })
	d.conns.onForget(r.snaps.drop)
	return r
}

// Reconcile reads the object, acts, and patches its status once.
func (r *reconciler[T, S]) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := r.newObj()
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := obj.DeepCopyObject().(T)
	res, err := r.reconcile(ctx, obj)
	if perr := patchStatus(ctx, r.Client, obj, before); perr != nil {
		return ctrl.Result{}, perr
	}
	return conflictAsRequeue(res, err)
}

func (r *reconciler[T, S]) reconcile(ctx context.Context, obj T) (ctrl.Result, error) {
	if !obj.GetDeletionTimestamp().IsZero() {
		return ctrl.Result{}, r.delete(ctx, obj)
	}
	st, gen := obj.GetCommonStatus(), obj.GetGeneration()
	if obj.IsSuspended() {
		setSuspended(st, gen, true)
		return ctrl.Result{}, nil
	}
	setSuspended(st, gen, false)
	if err := ensureFinalizer(ctx, r.Client, obj); err != nil {
		return ctrl.Result{}, err
	}
	err := r.sync(ctx, obj)
	if after, busy := retryAfterBusy(err); busy {
		return ctrl.Result{RequeueAfter: jitter(after)}, nil
	}
	res, err := summarize(st, gen, err, "the broker holds "+r.kind.claim(obj).what)
	if rq, ok := r.kind.(requeuer[T]); ok && err == nil {
		if d := rq.requeueAfter(obj, r.Clock.Now()); d > 0 {
			res.RequeueAfter = d
		}
	}
	return res, err
}

// sync makes the broker hold what obj asks for. It writes only when the
// broker differs, and needs no broker call at all when a fresh list of the
// broker shows the object in sync.
func (r *reconciler[T, S]) sync(ctx context.Context, obj T) error {
	c := r.kind.claim(obj)
	b, cl, err := r.connect(ctx, obj, c)
	if err != nil {
		return err
	}
	want, err := r.kind.desired(ctx, obj, b)
	if err != nil {
		return err
	}
	ctx, done, err := r.conns.brokerCalls(ctx, b)
	if err != nil {
		return err
	}
	defer done()
	// An explicit request to reconcile (kubectl mqtt reconcile) looks at
	// the broker itself.
	st := obj.GetCommonStatus()
	requested := obj.GetAnnotations()[mqttv1.ReconcileRequestedAtAnnotation]
	direct := requested != st.LastHandledReconcileAt
	st.LastHandledReconcileAt = requested
	have, found, err := r.observe(ctx, cl, b, obj, c, want, direct)
	if err != nil {
		return r.failed(b, obj, err)
	}
	adopted := obj.GetBrokerResult() == nil
	if r.kind.inSync(want, have) {
		if adopted {
			// The broker held this already: it is ours from now on, and
			// deleting the object removes it.
			r.event(obj, corev1.EventTypeNormal, "Adopted", "Observe", "adopted %s already on the broker", c.what)
			obj.SetBrokerResult(successResult("Observe", r.Clock.Now()))
		}
		return nil
	}
	repair := settled(obj) && r.kind.inSync(want, r.kind.specState(obj))
	op, err := r.kind.apply(ctx, cl, obj, want, have, found)
	if err != nil {
		r.snaps.forget(b, c.entry)
		return r.failed(b, obj, err)
	}
	r.snaps.put(b, c.entry, want)
	if !repair {
		// A repair puts back what the status already says the broker
		// holds; its Event and the drift metric record it. Leaving the
		// status alone spares a write per object when a broker loses its
		// data, which is when the API server has the most to do.
		obj.SetBrokerResult(successResult(op, r.Clock.Now()))
	}
	r.recordChange(obj, c, op, repair, adopted, found)
	if h, ok := r.kind.(afterApplyHook[T, S]); ok {
		h.afterApply(ctx, cl, obj, want, have, found)
	}
	return nil
}

// connect finds obj's broker, checks that obj holds its claim there, and
// returns a client for it.
func (r *reconciler[T, S]) connect(ctx context.Context, obj T, c claim) (*mqttv1.MQTTBroker, broker.Client, error) {
	b, err := r.conns.resolve(ctx, obj.GetNamespace(), obj.GetBrokerRef())
	if err != nil {
		return nil, nil, err
	}
	if other, err := r.claims.otherHolder(ctx, r.Client, obj, c.key); err != nil {
		return nil, nil, err
	} else if other != "" {
		return nil, nil, stalled(c.conflictReason, "%s on MQTTBroker %s is held by %s", c.what, brokerKey(obj.GetNamespace(), obj.GetBrokerRef()), other)
	}
	cl, err := r.conns.clientFor(ctx, b)
	return b, cl, err
}

// recordChange tells what a write did: one Event, and for a repair the
// drift metric.
func (r *reconciler[T, S]) recordChange(obj T, c claim, op string, repair, adopted, found bool) {
	switch {
	case repair:
		driftCorrections.WithLabelValues(r.name).Inc()
		r.event(obj, corev1.EventTypeWarning, "Repaired", op, "%s had changed or gone on the broker and was put back", c.what)
	case adopted && found:
		r.event(obj, corev1.EventTypeNormal, "Adopted", op, "adopted %s already on the broker and updated it", c.what)
	case !found:
		r.event(obj, corev1.EventTypeNormal, "Created", op, "created %s on the broker", c.what)
	default:
		r.event(obj, corev1.EventTypeNormal, "Updated", op, "updated %s on the broker", c.what)
	}
}

// observe reads obj's entry from a fresh list of the broker when there is
// one, and from the broker otherwise.
func (r *reconciler[T, S]) observe(ctx context.Context, cl broker.Client, b *mqttv1.MQTTBroker, obj T, c claim, want S, direct bool) (S, bool, error) {
	if !direct {
		if !r.snaps.has(b) {
			// First look at this broker since the manager started or the
			// broker came back: one list serves every object of the kind.
			// A failure only means asking for the one entry instead.
			_ = r.snaps.fill(ctx, b, func(ctx context.Context) (map[string]bool, map[string]S, error) {
				objs, err := r.objectsOf(ctx, b)
				if err != nil {
					return nil, nil, err
				}
				return r.listEntries(ctx, cl, objs)
			})
		}
		have, found, ok := r.snaps.get(b, c.scope, c.entry)
		confirm := false
		if ac, isChecker := r.kind.(absenceChecker[S]); isChecker && ok && !found {
			confirm = ac.confirmAbsence(want)
		}
		if ok && !confirm {
			return have, found, nil
		}
	}
	return r.kind.observe(ctx, cl, obj)
}

// objectsOf lists the objects of the kind that use b, from the cache.
func (r *reconciler[T, S]) objectsOf(ctx context.Context, b *mqttv1.MQTTBroker) ([]T, error) {
	list := r.newList()
	if err := r.List(ctx, list, client.MatchingFields{indexBroker: b.Namespace + "/" + b.Name}); err != nil {
		return nil, err
	}
	return r.items(list), nil
}

// listEntries lists the broker's entries in the scopes of objs.
func (r *reconciler[T, S]) listEntries(ctx context.Context, cl broker.Client, objs []T) (map[string]bool, map[string]S, error) {
	scopes := map[string]bool{}
	for _, o := range objs {
		scopes[r.kind.claim(o).scope] = true
	}
	entries, err := r.kind.list(ctx, cl, objs)
	return scopes, entries, err
}

// scanBroker is the drift scan of one broker for the kind: one list per
// scope, which also refreshes the kind's snapshot, and a wake-up for every
// settled object the broker no longer matches. It returns how many it woke.
func (r *reconciler[T, S]) scanBroker(ctx context.Context, b *mqttv1.MQTTBroker, cl broker.Client) (int, error) {
	at := r.Clock.Now()
	objs, err := r.objectsOf(ctx, b)
	if err != nil {
		return 0, err
	}
	if !slices.ContainsFunc(objs, func(o T) bool { return settled(o) }) {
		return 0, nil
	}
	scopes, entries, err := r.listEntries(ctx, cl, objs)
	if err != nil {
		return 0, err
	}
	var wake []T
	for _, o := range objs {
		if settled(o) && !r.kind.inSync(r.kind.specState(o), entries[r.kind.claim(o).entry]) {
			wake = append(wake, o)
		}
	}
	// From here the snapshot owns entries: reconcilers update it in place.
	r.snaps.store(b, at, scopes, entries)
	for i, o := range wake {
		select {
		case r.drift <- event.GenericEvent{Object: o}:
		case <-ctx.Done():
			return i, ctx.Err()
		}
	}
	return len(wake), nil
}

// delete removes what a deleted object put on the broker, then lets it go.
// While that fails the object says why, with reason Deleting.
func (r *reconciler[T, S]) delete(ctx context.Context, obj T) error {
	if !controllerutil.ContainsFinalizer(obj, mqttv1.Finalizer) {
		return nil
	}
	if err := r.finalize(ctx, obj); err != nil {
		if errors.Is(err, errBrokerBusy) {
			return err
		}
		setDeleting(obj.GetCommonStatus(), obj.GetGeneration(), err)
		return err
	}
	return removeFinalizer(ctx, r.Client, obj)
}

func (r *reconciler[T, S]) finalize(ctx context.Context, obj T) error {
	// The finalizer is added before the first broker write, so an object
	// that has it may have written its entry even when its status does not
	// say so: the manager can stop between the write and the status patch.
	// Removing is idempotent, so it is always done.
	if obj.GetDeletionPolicy() == mqttv1.DeletionPolicyDelete {
		if err := r.removeFromBroker(ctx, obj); err != nil {
			return err
		}
	}
	if h, ok := r.kind.(finalizerHook[T]); ok {
		return h.finalizeKubernetes(ctx, obj)
	}
	return nil
}

func (r *reconciler[T, S]) removeFromBroker(ctx context.Context, obj T) error {
	c := r.kind.claim(obj)
	if succ, err := r.claims.liveSuccessor(ctx, r.Client, obj, c.key); err != nil || succ {
		// Another object takes the entry over.
		return err
	}
	// A broker that is gone, or was never allowed, holds nothing of ours.
	// One that is being deleted is waited for: it is gone soon, and then
	// there is nothing to remove. This is what keeps namespace deletion
	// from hanging when the broker and its credentials go at the same time.
	b, err := r.conns.resolve(ctx, obj.GetNamespace(), obj.GetBrokerRef())
	if isGone(err) {
		return nil
	}
	if err != nil {
		return err
	}
	cl, err := r.conns.clientFor(ctx, b)
	if err != nil {
		return err
	}
	ctx, done, err := r.conns.brokerCalls(ctx, b)
	if err != nil {
		return err
	}
	defer done()
	if err := r.kind.remove(ctx, cl, obj); err != nil {
		return fmt.Errorf("remove %s from the broker: %w", c.what, err)
	}
	r.snaps.absent(b, c.entry)
	r.event(obj, corev1.EventTypeNormal, "Deleted", "Delete", "removed %s from the broker", c.what)
	return nil
}

// failed records a failed broker call in the object's brokerResult and an
// Event, pauses calls to b if the broker asked for it (Retry-After), and
// classifies the failure for the summary.
func (r *reconciler[T, S]) failed(b *mqttv1.MQTTBroker, obj T, err error) error {
	r.conns.backOff(b, err)
	if be, ok := broker.AsError(err); ok {
		obj.SetBrokerResult(brokerResultOf(be, r.Clock.Now()))
		r.event(obj, corev1.EventTypeWarning, "BrokerError", be.Op, "%s", brokerErrorMessage(be))
	}
	return classify(err, &r.Options)
}

func (r *reconciler[T, S]) event(obj client.Object, typ, reason, action, note string, args ...any) {
	r.recorder.Eventf(obj, nil, typ, reason, action, note, args...)
}

// settled reports whether an object claims the broker holds what it asks
// for: the only state the broker can contradict, since the others are
// being retried already.
func settled(o brokerObject) bool {
	st := o.GetCommonStatus()
	c := st.ReadyCondition()
	return st.IsReady(o.GetGeneration()) && c.Reason == mqttv1.ReasonSucceeded &&
		o.GetDeletionTimestamp().IsZero() && !o.IsSuspended()
}

// setSuspended shows spec.suspend in the status. Suspension is a state the
// operator has reached for the generation that asked for it, so it observes
// that generation and drops Reconciling: GitOps tools waiting on the object
// (kstatus has no suspended state) would otherwise wait for as long as it
// is suspended. Ready and Stalled keep what was last observed, and
// Suspended says that changes are not being applied.
func setSuspended(st *mqttv1.CommonStatus, gen int64, on bool) {
	if !on {
		apimeta.RemoveStatusCondition(&st.Conditions, mqttv1.ConditionSuspended)
		return
	}
	st.ObservedGeneration = gen
	apimeta.RemoveStatusCondition(&st.Conditions, mqttv1.ConditionReconciling)
	apimeta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: mqttv1.ConditionSuspended, Status: metav1.ConditionTrue,
		Reason: mqttv1.ReasonSuspended, Message: "spec.suspend is true: the operator changes nothing on the broker for this object", ObservedGeneration: gen})
}

// setDeleting shows why a deleted object is still there.
func setDeleting(st *mqttv1.CommonStatus, gen int64, err error) {
	st.ObservedGeneration = gen
	msg := "cannot finish deletion: " + err.Error()
	if be, ok := broker.AsError(err); ok {
		msg = "cannot finish deletion: " + brokerErrorMessage(be)
	}
	for _, t := range []string{mqttv1.ConditionReady, mqttv1.ConditionReconciling} {
		s := metav1.ConditionTrue
		if t == mqttv1.ConditionReady {
			s = metav1.ConditionFalse
		}
		apimeta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: t, Status: s, Reason: mqttv1.ReasonDeleting, Message: msg, ObservedGeneration: gen})
	}
	apimeta.RemoveStatusCondition(&st.Conditions, mqttv1.ConditionStalled)
}

// setup builds the controller with the watches every kind needs: the kind
// itself, its MQTTBroker, its rivals for a claim and the drift scanner's
// findings. more adds the kind's own watches.
func (r *reconciler[T, S]) setup(mgr ctrl.Manager, more func(*builder.Builder) *builder.Builder) error {
	if err := r.registerIndexes(mgr); err != nil {
		return err
	}
	obj := r.newObj()
	inf, err := mgr.GetCache().GetInformer(context.Background(), obj)
	if err != nil {
		return fmt.Errorf("informer of %s: %w", r.name, err)
	}
	if _, err := inf.AddEventHandler(r.claims.handler()); err != nil {
		return fmt.Errorf("claim registry of %s: %w", r.name, err)
	}
	bld := ctrl.NewControllerManagedBy(mgr).
		For(obj, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, deletionPredicate()))).
		Watches(&mqttv1.MQTTBroker{}, enqueueByBroker(mgr.GetClient(), r.newList), builder.WithPredicates(brokerReadinessChanged())).
		Watches(r.newObj(), r.claims.enqueueClaimants(), builder.WithPredicates(claimChanged())).
		WatchesRawSource(source.Channel(r.drift, &handler.EnqueueRequestForObject{})).
		WithOptions(r.controllerOptions()).
		Named(lowerName(r.name))
	if more != nil {
		bld = more(bld)
	}
	return bld.Complete(r)
}
