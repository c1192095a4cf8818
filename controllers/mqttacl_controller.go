package controllers

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// An MQTTACL is the ordered authorization rule list of one subject (a
// username, a client id, or all clients) on a broker. The subject's rules
// on the broker are made equivalent to the spec's (broker.RulesEquivalent):
// rules added there by other means are removed. After a change the
// subject's connected clients have their authorization cache cleared, so
// the rules apply at once rather than after the broker's cache TTL.

// +kubebuilder:rbac:groups=mqtt.mqttoperator.io,resources=mqttacls,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=mqtt.mqttoperator.io,resources=mqttacls/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=mqtt.mqttoperator.io,resources=mqttacls/finalizers,verbs=update

// aclKind is the MQTTACL side of reconciler; its state is the subject's
// rules in evaluation order.
type aclKind struct{ deps }

func (k aclKind) claim(a *mqttv1.MQTTACL) claim {
	key := a.Spec.Subject.SubjectKey()
	return claim{key: brokerKey(a.Namespace, a.Spec.BrokerRef) + "|" + key, scope: string(subjectOf(a.Spec.Subject).Kind), entry: key,
		what: "the rules of " + key, conflictReason: mqttv1.ReasonSubjectConflict}
}

// specState maps the spec's rules to the broker's terms in canonical form:
// parts no message can reach are dropped, which keeps the list storable on
// v4, whose API keeps one rule per (topic, action).
func (k aclKind) specState(a *mqttv1.MQTTACL) []broker.Rule {
	rules := make([]broker.Rule, 0, len(a.Spec.Rules))
	for _, r := range a.Spec.Rules {
		rules = append(rules, broker.Rule{Topic: r.Topic, Action: broker.Action(r.Action), Permission: broker.Permission(r.Permission)})
	}
	return broker.CanonicalRules(rules)
}

func (k aclKind) desired(_ context.Context, a *mqttv1.MQTTACL, _ *mqttv1.MQTTBroker) ([]broker.Rule, error) {
	a.Status.Subject = a.Spec.Subject.SubjectKey()
	a.Status.RuleCount = int32(len(a.Spec.Rules))
	if i, j, ok := duplicateRule(a.Spec.Rules); ok {
		// Admission cannot compare every pair of up to 100 long topics
		// within CEL's cost budget, so the check is here.
		return nil, stalled(mqttv1.ReasonInvalidSpec, "rule %d repeats rule %d (topic %q, action %s): the second can never decide anything; remove it",
			j, i, a.Spec.Rules[j].Topic, a.Spec.Rules[j].Action)
	}
	return k.specState(a), nil
}

// duplicateRule finds the first rule whose topic and action an earlier rule
// already has.
func duplicateRule(rules []mqttv1.ACLRule) (first, dup int, found bool) {
	type key struct {
		topic  string
		action mqttv1.ACLAction
	}
	seen := make(map[key]int, len(rules))
	for i, r := range rules {
		k := key{r.Topic, r.Action}
		if j, ok := seen[k]; ok {
			return j, i, true
		}
		seen[k] = i
	}
	return 0, 0, false
}

func (k aclKind) observe(ctx context.Context, cl broker.Client, a *mqttv1.MQTTACL) ([]broker.Rule, bool, error) {
	rules, err := cl.GetRules(ctx, subjectOf(a.Spec.Subject))
	return rules, len(rules) > 0, err
}

func (k aclKind) list(ctx context.Context, cl broker.Client, acls []*mqttv1.MQTTACL) (map[string][]broker.Rule, error) {
	out := map[string][]broker.Rule{}
	listed := map[broker.IdentityKind]bool{}
	for _, a := range acls {
		kind := subjectOf(a.Spec.Subject).Kind
		if listed[kind] {
			continue
		}
		listed[kind] = true
		bySubject, err := cl.ListRules(ctx, kind)
		if err != nil {
			return nil, err
		}
		for name, rules := range bySubject {
			out[subjectKey(broker.Subject{Kind: kind, Name: name})] = rules
		}
	}
	return out, nil
}

func (k aclKind) inSync(want, have []broker.Rule) bool { return broker.RulesEquivalent(want, have) }

func (k aclKind) apply(ctx context.Context, cl broker.Client, a *mqttv1.MQTTACL, want, _ []broker.Rule, _ bool) (string, error) {
	return "ReplaceRules", cl.ReplaceRules(ctx, subjectOf(a.Spec.Subject), want)
}

func (k aclKind) afterApply(ctx context.Context, cl broker.Client, a *mqttv1.MQTTACL, _, _ []broker.Rule, _ bool) {
	clearCaches(ctx, cl, subjectOf(a.Spec.Subject))
}

func (k aclKind) remove(ctx context.Context, cl broker.Client, a *mqttv1.MQTTACL) error {
	s := subjectOf(a.Spec.Subject)
	if err := cl.DeleteRules(ctx, s); err != nil {
		return err
	}
	clearCaches(ctx, cl, s)
	return nil
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

// subjectKey is the printable form of a subject, as ACLSubject.SubjectKey
// writes it.
func subjectKey(s broker.Subject) string {
	if s.Kind == broker.ByAll {
		return "all"
	}
	return string(s.Kind) + ":" + s.Name
}

// clearCaches drops the cached authorization results of the subject's
// connected clients so that changed rules apply at once rather than after
// the broker's cache TTL. Failures only delay the change, so they are
// logged.
func clearCaches(ctx context.Context, cl broker.Client, s broker.Subject) {
	logger := log.FromContext(ctx)
	if f, ok := cl.(broker.AuthzCacheFlusher); ok && s.Kind == broker.ByAll {
		if err := f.ClearAllAuthzCaches(ctx); err != nil {
			logger.Info("cannot clear the authorization caches", "error", err.Error())
		}
		return
	}
	m := sessionMatch{}
	switch s.Kind {
	case broker.ByClientID:
		m.clientID = s.Name
	case broker.ByUsername:
		m.username = s.Name
	}
	ids, err := liveSessions(ctx, cl, m)
	if err != nil {
		logger.Info("cannot list clients to clear their authorization cache", "error", err.Error())
		return
	}
	for _, id := range ids {
		if err := cl.ClearAuthzCache(ctx, id); err != nil {
			logger.Info("cannot clear a client's authorization cache", "clientid", id, "error", err.Error())
		}
	}
}

// MQTTACLReconciler reconciles MQTTACLs.
type MQTTACLReconciler struct {
	*reconciler[*mqttv1.MQTTACL, []broker.Rule]
}

func newACLReconciler(d deps) *MQTTACLReconciler {
	return &MQTTACLReconciler{newReconciler(d, "MQTTACL", brokerKind[*mqttv1.MQTTACL, []broker.Rule](aclKind{d}),
		func() *mqttv1.MQTTACL { return &mqttv1.MQTTACL{} },
		func() client.ObjectList { return &mqttv1.MQTTACLList{} },
		func(l client.ObjectList) []*mqttv1.MQTTACL { return itemPointers(l.(*mqttv1.MQTTACLList).Items) })}
}

// SetupWithManager needs no watches beyond the common ones.
func (r *MQTTACLReconciler) SetupWithManager(mgr ctrl.Manager) error { return r.setup(mgr, nil) }
