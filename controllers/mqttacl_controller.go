package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// MQTTACLReconciler makes a subject's rules on a broker equal to an
// MQTTACL's ordered rule list.
type MQTTACLReconciler struct {
	client.Client
	Options
	conns    *connector
	recorder events.EventRecorder
	drift    chan event.GenericEvent
}

// +kubebuilder:rbac:groups=mqtt.mqttoperator.io,resources=mqttacls,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=mqtt.mqttoperator.io,resources=mqttacls/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=mqtt.mqttoperator.io,resources=mqttacls/finalizers,verbs=update

// Reconcile observes the subject's rules, replaces them when they differ,
// and reports.
func (r *MQTTACLReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	a := &mqttv1.MQTTACL{}
	if err := r.Get(ctx, req.NamespacedName, a); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !a.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.finalize(ctx, a)
	}
	if err := ensureFinalizer(ctx, r.Client, a); err != nil {
		return ctrl.Result{}, err
	}
	if err := markProgressing(ctx, r.Client, a); err != nil {
		return ctrl.Result{}, err
	}
	before := a.DeepCopy()
	res, err := summarize(&a.Status.CommonStatus, a.Generation, r.reconcileACL(ctx, a), "rules are on the broker", &r.Options)
	if perr := patchStatus(ctx, r.Client, a, before); perr != nil {
		return ctrl.Result{}, perr
	}
	return res, err
}

func subjectOf(s mqttv1.ACLSubject) broker.Subject {
	switch {
	case s.Username != "":
		return broker.Subject{Kind: broker.ByUsername, Name: s.Username}
	case s.ClientID != "":
		return broker.Subject{Kind: broker.ByClientID, Name: s.ClientID}
	default:
		return broker.Subject{Kind: broker.ByAll}
	}
}

func (r *MQTTACLReconciler) reconcileACL(ctx context.Context, a *mqttv1.MQTTACL) error {
	a.Status.Subject = a.Spec.Subject.SubjectKey()
	b, err := r.conns.resolve(ctx, a.Namespace, a.Spec.BrokerRef)
	if err != nil {
		return err
	}
	if other, err := otherHolder(ctx, r.Client, a, &mqttv1.MQTTACLList{}, aclClaim(a)); err != nil {
		return err
	} else if other != "" {
		return stalled(mqttv1.ReasonSubjectConflict, "subject %s on MQTTBroker %s is held by MQTTACL %s", a.Status.Subject, brokerKey(a.Namespace, a.Spec.BrokerRef), other)
	}
	cl, err := r.conns.clientFor(ctx, b)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, r.conns.callTimeout())
	defer cancel()

	subject := subjectOf(a.Spec.Subject)
	want := desiredRules(a.Spec.Rules)
	have, err := cl.GetRules(ctx, subject)
	if err != nil {
		return r.brokerFailed(a, err)
	}
	if !rulesEquivalent(want, have) {
		if err := cl.ReplaceRules(ctx, subject, want); err != nil {
			return r.brokerFailed(a, err)
		}
		if a.Status.ObservedGeneration == a.Generation && a.Status.IsReady(a.Generation) {
			driftCorrections.WithLabelValues("MQTTACL").Inc()
			r.recorder.Eventf(a, nil, corev1.EventTypeWarning, "Repaired", "ReplaceRules", "rules of %s had changed on the broker and were put back", a.Status.Subject)
		} else {
			r.recorder.Eventf(a, nil, corev1.EventTypeNormal, "Applied", "ReplaceRules", "applied %d rules for %s", len(want), a.Status.Subject)
		}
		a.Status.BrokerResult = successResult("ReplaceRules", timeNow())
		r.clearCaches(ctx, cl, subject)
	}
	a.Status.RuleCount = int32(len(a.Spec.Rules))
	return nil
}

// clearCaches drops the cached authorization results of the subject's
// connected clients so the new rules apply at once rather than after the
// broker's cache TTL. Failures only delay the change, so they are logged.
func (r *MQTTACLReconciler) clearCaches(ctx context.Context, cl broker.Client, s broker.Subject) {
	var ids []string
	switch s.Kind {
	case broker.ByClientID:
		ids = []string{s.Name}
	default:
		f := broker.ClientFilter{}
		if s.Kind == broker.ByUsername {
			f.Username = s.Name
		}
		clients, err := cl.ListClients(ctx, f)
		if err != nil {
			log.FromContext(ctx).Info("cannot list clients to clear their authorization cache", "error", err.Error())
			return
		}
		for _, c := range clients {
			if c.Connected {
				ids = append(ids, c.ClientID)
			}
		}
	}
	for _, id := range ids {
		if err := cl.ClearAuthzCache(ctx, id); err != nil {
			log.FromContext(ctx).Info("cannot clear a client's authorization cache", "clientid", id, "error", err.Error())
		}
	}
}

func (r *MQTTACLReconciler) brokerFailed(a *mqttv1.MQTTACL, err error) error {
	if be, ok := broker.AsError(err); ok {
		a.Status.BrokerResult = brokerResultOf(be, timeNow())
		r.recorder.Eventf(a, nil, corev1.EventTypeWarning, "BrokerError", be.Op, "%s", brokerErrorMessage(be))
	}
	return classify(err, &r.Options)
}

// finalize removes the subject's rules unless another MQTTACL takes the
// subject over, then the finalizer.
func (r *MQTTACLReconciler) finalize(ctx context.Context, a *mqttv1.MQTTACL) error {
	if !controllerutil.ContainsFinalizer(a, mqttv1.Finalizer) {
		return nil
	}
	if a.Status.IsReady(a.Status.ObservedGeneration) || a.Status.BrokerResult != nil {
		if err := r.deleteFromBroker(ctx, a); err != nil {
			return err
		}
	}
	return removeFinalizer(ctx, r.Client, a)
}

func (r *MQTTACLReconciler) deleteFromBroker(ctx context.Context, a *mqttv1.MQTTACL) error {
	if succ, err := liveSuccessor(ctx, r.Client, a, &mqttv1.MQTTACLList{}, aclClaim(a)); err != nil || succ {
		return err
	}
	b, err := r.conns.resolve(ctx, a.Namespace, a.Spec.BrokerRef)
	if err != nil {
		if isGone(err) {
			return nil
		}
		return err
	}
	cl, err := r.conns.clientFor(ctx, b)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, r.conns.callTimeout())
	defer cancel()
	subject := subjectOf(a.Spec.Subject)
	if err := cl.DeleteRules(ctx, subject); err != nil {
		return fmt.Errorf("delete rules from broker: %w", err)
	}
	r.clearCaches(ctx, cl, subject)
	r.recorder.Eventf(a, nil, corev1.EventTypeNormal, "Deleted", "DeleteRules", "deleted the rules of %s from the broker", a.Spec.Subject.SubjectKey())
	return nil
}

// SetupWithManager watches MQTTACLs, their brokers, their rivals for a
// subject and the drift scanner's findings.
func (r *MQTTACLReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.drift == nil {
		r.drift = make(chan event.GenericEvent, 1024)
	}
	newList := func() client.ObjectList { return &mqttv1.MQTTACLList{} }
	return ctrl.NewControllerManagedBy(mgr).
		For(&mqttv1.MQTTACL{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, deletionPredicate()))).
		Watches(&mqttv1.MQTTBroker{}, enqueueByBroker(mgr.GetClient(), newList), builder.WithPredicates(brokerReadinessChanged())).
		Watches(&mqttv1.MQTTACL{}, enqueueClaimants(mgr.GetClient(), newList, func(o client.Object) string { return aclClaim(o.(*mqttv1.MQTTACL)) }), builder.WithPredicates(claimChanged())).
		WatchesRawSource(source.Channel(r.drift, &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		Named("mqttacl").
		Complete(r)
}
