package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// MQTTACLReconciler makes a subject's rules on a broker equal to an
// MQTTACL's ordered rule list.
type MQTTACLReconciler struct {
	base
}

// +kubebuilder:rbac:groups=mqtt.mqttoperator.io,resources=mqttacls,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=mqtt.mqttoperator.io,resources=mqttacls/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=mqtt.mqttoperator.io,resources=mqttacls/finalizers,verbs=update

// Reconcile observes the subject's rules, replaces them when they differ,
// and reports.
func (r *MQTTACLReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	a := &mqttv1.MQTTACL{}
	return r.reconcileObject(ctx, req, a,
		func(ctx context.Context) error { return r.finalize(ctx, a) },
		func(ctx context.Context) (ctrl.Result, error) {
			return summarize(&a.Status.CommonStatus, a.Generation, r.reconcileACL(ctx, a), "rules are on the broker", &r.Options)
		})
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
	cl, err := r.holderClient(ctx, a, a.Spec.BrokerRef, &mqttv1.MQTTACLList{}, aclClaim(a), mqttv1.ReasonSubjectConflict, "subject "+a.Status.Subject)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, r.conns.callTimeout())
	defer cancel()

	subject := subjectOf(a.Spec.Subject)
	want := desiredRules(a.Spec.Rules)
	have, err := cl.GetRules(ctx, subject)
	if err != nil {
		return r.failed(a, &a.Status.BrokerResult, err)
	}
	if !rulesEquivalent(want, have) {
		if err := cl.ReplaceRules(ctx, subject, want); err != nil {
			return r.failed(a, &a.Status.BrokerResult, err)
		}
		if a.Status.ObservedGeneration == a.Generation && a.Status.IsReady(a.Generation) {
			driftCorrections.WithLabelValues("MQTTACL").Inc()
			r.recorder.Eventf(a, nil, corev1.EventTypeWarning, "Repaired", "ReplaceRules", "rules of %s had changed on the broker and were put back", a.Status.Subject)
		} else {
			r.recorder.Eventf(a, nil, corev1.EventTypeNormal, "Applied", "ReplaceRules", "applied %d rules for %s", len(want), a.Status.Subject)
		}
		a.Status.BrokerResult = successResult("ReplaceRules", timeNow())
		r.clearCaches(ctx, cl, subject)
	} else if a.Status.BrokerResult == nil {
		// The broker held these rules already: they are ours from now on,
		// and deleting the MQTTACL removes them.
		r.recorder.Eventf(a, nil, corev1.EventTypeNormal, "Adopted", "GetRules", "adopted the %d rules of %s already on the broker", len(have), a.Status.Subject)
		a.Status.BrokerResult = successResult("GetRules", timeNow())
	}
	a.Status.RuleCount = int32(len(a.Spec.Rules))
	return nil
}

// clearCaches drops the cached authorization results of the subject's
// connected clients so the new rules apply at once rather than after the
// broker's cache TTL. Failures only delay the change, so they are logged.
func (r *MQTTACLReconciler) clearCaches(ctx context.Context, cl broker.Client, s broker.Subject) {
	if f, ok := cl.(broker.AuthzCacheFlusher); ok && s.Kind == broker.ByAll {
		if err := f.ClearAllAuthzCaches(ctx); err != nil {
			log.FromContext(ctx).Info("cannot clear the authorization caches", "error", err.Error())
		}
		return
	}
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

// finalize removes the subject's rules unless they were never applied or
// another MQTTACL takes the subject over.
func (r *MQTTACLReconciler) finalize(ctx context.Context, a *mqttv1.MQTTACL) error {
	if a.Status.BrokerResult == nil {
		return nil
	}
	cl, err := r.cleanupClient(ctx, a, a.Spec.BrokerRef, &mqttv1.MQTTACLList{}, aclClaim(a))
	if err != nil || cl == nil {
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

// SetupWithManager needs no watches beyond the common ones.
func (r *MQTTACLReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return r.setup(mgr, "mqttacl", &mqttv1.MQTTACL{}, func() client.ObjectList { return &mqttv1.MQTTACLList{} },
		func(o client.Object) string { return aclClaim(o.(*mqttv1.MQTTACL)) }, r, nil)
}
