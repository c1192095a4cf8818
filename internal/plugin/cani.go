package plugin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/authz"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// ErrDenied is returned by CanI when the answer is no, so that the command
// exits non-zero as kubectl auth can-i does.
var ErrDenied = errors.New("denied")

// CanIOptions is a can-i question.
type CanIOptions struct {
	// Namespace and Broker name the MQTTBroker.
	Namespace, Broker string
	// Username is asked about when HasUsername; ClientID when non-empty.
	Username    string
	HasUsername bool
	ClientID    string
	Action      broker.Action
	Topic       string
	// NoMatch overrides the broker's no-match answer ("allow" or "deny");
	// empty means deny, which is what a managed broker is configured with.
	NoMatch string
	// Live asks the broker's rules instead and reports differences.
	Live   bool
	Output string
}

// CanIAnswer is the document of can-i -o json|yaml.
type CanIAnswer struct {
	Allowed bool `json:"allowed"`
	// From is "objects" or "broker" (with --live).
	From string `json:"from"`
	// Matched is false when no rule matched and the no-match setting decided.
	Matched bool   `json:"matched"`
	NoMatch string `json:"noMatch"`
	// Source names the MQTTACL (mqttacl namespace/name) or the broker's
	// rule list (broker username:NAME) whose rule decided.
	Source    string       `json:"source,omitempty"`
	RuleIndex *int         `json:"ruleIndex,omitempty"`
	Rule      *broker.Rule `json:"rule,omitempty"`
	// Notes say what the answer assumes.
	Notes []string `json:"notes,omitempty"`
	// Differences between the objects and the broker (with --live).
	Differences []string `json:"differences,omitempty"`
}

// ACLSubjects are the MQTTACLs of one broker, by subject key, holder only.
type ACLSubjects map[string]*mqttv1.MQTTACL

// BrokerACLs lists the MQTTACLs that refer to the broker ns/name and keeps,
// for each subject, the one the operator applies: the oldest, ties broken by
// namespace and name, ignoring objects being deleted. MQTTACLs in other
// namespaces are found when the caller may list them cluster-wide.
func BrokerACLs(ctx context.Context, c client.Reader, ns, name string) (ACLSubjects, []string, error) {
	var l mqttv1.MQTTACLList
	var notes []string
	if err := c.List(ctx, &l); err != nil {
		if !apierrors.IsForbidden(err) {
			return nil, nil, fmt.Errorf("list mqttacls: %w", err)
		}
		if err := c.List(ctx, &l, client.InNamespace(ns)); err != nil {
			return nil, nil, fmt.Errorf("list mqttacls in namespace %q: %w", ns, err)
		}
		notes = append(notes, fmt.Sprintf("only MQTTACLs in namespace %s were read (listing all namespaces is forbidden)", ns))
	}
	out := ACLSubjects{}
	for i := range l.Items {
		a := &l.Items[i]
		refNS := cmp.Or(a.Spec.BrokerRef.Namespace, a.Namespace)
		if refNS != ns || a.Spec.BrokerRef.Name != name || !a.DeletionTimestamp.IsZero() {
			continue
		}
		key := a.Spec.Subject.SubjectKey()
		if cur, ok := out[key]; !ok || olderACL(a, cur) {
			out[key] = a
		}
	}
	return out, notes, nil
}

func olderACL(a, b *mqttv1.MQTTACL) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name)) < 0
}

// SpecRules converts an MQTTACL's rules to broker rules, in order.
func SpecRules(rs []mqttv1.ACLRule) []broker.Rule {
	out := make([]broker.Rule, 0, len(rs))
	for _, r := range rs {
		out = append(out, broker.Rule{Topic: r.Topic, Action: broker.Action(r.Action), Permission: broker.Permission(r.Permission)})
	}
	return out
}

// subjectKeys are the subject keys a question involves, in evaluation order.
type subjectKeys struct{ clientID, username, all string }

func keysFor(o CanIOptions) subjectKeys {
	k := subjectKeys{all: mqttv1.ACLSubject{All: true}.SubjectKey()}
	if o.ClientID != "" {
		k.clientID = mqttv1.ACLSubject{ClientID: o.ClientID}.SubjectKey()
	}
	if o.HasUsername {
		k.username = mqttv1.ACLSubject{Username: o.Username}.SubjectKey()
	}
	return k
}

// objectRules builds the rule lists from the MQTTACL objects.
func objectRules(acls ACLSubjects, k subjectKeys) authz.Rules {
	list := func(key string) *authz.RuleList {
		a, ok := acls[key]
		if key == "" || !ok {
			return nil
		}
		return &authz.RuleList{Source: "mqttacl " + a.Namespace + "/" + a.Name, Rules: SpecRules(a.Spec.Rules)}
	}
	return authz.Rules{ClientID: list(k.clientID), Username: list(k.username), All: list(k.all)}
}

// liveRules reads the broker's rule lists for the subjects.
func liveRules(ctx context.Context, cl broker.ACLs, o CanIOptions) (authz.Rules, error) {
	get := func(s broker.Subject, label string) (*authz.RuleList, error) {
		rs, err := cl.GetRules(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("read the broker's rules of %s: %w", label, err)
		}
		return &authz.RuleList{Source: "broker " + label, Rules: rs}, nil
	}
	var out authz.Rules
	var err error
	k := keysFor(o)
	if o.ClientID != "" {
		if out.ClientID, err = get(broker.Subject{Kind: broker.ByClientID, Name: o.ClientID}, k.clientID); err != nil {
			return out, err
		}
	}
	if o.HasUsername {
		if out.Username, err = get(broker.Subject{Kind: broker.ByUsername, Name: o.Username}, k.username); err != nil {
			return out, err
		}
	}
	out.All, err = get(broker.Subject{Kind: broker.ByAll}, k.all)
	return out, err
}

// BrokerAPIVersion is the management API flavour of an MQTTBroker.
func BrokerAPIVersion(b *mqttv1.MQTTBroker) broker.APIVersion {
	if b.Spec.External != nil {
		return broker.APIVersion(b.Spec.External.APIVersion)
	}
	return broker.APIVersion(b.Spec.Managed.APIVersion())
}

// CanI answers whether a client may publish or subscribe to a topic, from
// the MQTTACL objects or, with Live, from the broker's rules (compared with
// the objects). connect is called only for Live. The answer no returns
// ErrDenied after printing.
func CanI(ctx context.Context, c client.Reader, connect func() (*BrokerConn, error), w io.Writer, o CanIOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	b, err := GetBroker(ctx, c, o.Namespace, o.Broker)
	if err != nil {
		return err
	}
	ans := CanIAnswer{From: "objects", Notes: o.notes(b)}
	noMatch := broker.Deny
	if o.NoMatch != "" {
		noMatch = broker.Permission(o.NoMatch)
	}
	ans.NoMatch = string(noMatch)
	acls, notes, err := BrokerACLs(ctx, c, b.Namespace, b.Name)
	if err != nil {
		return err
	}
	ans.Notes = append(ans.Notes, notes...)
	v := BrokerAPIVersion(b)
	req := authz.Request{ClientID: o.ClientID, Username: o.Username, HasUsername: o.HasUsername, Action: o.Action, Topic: o.Topic}
	objRules := objectRules(acls, keysFor(o))
	d := authz.Evaluate(v, objRules, req, noMatch)
	if o.Live {
		live, err := fetchLiveRules(ctx, connect, o)
		if err != nil {
			return err
		}
		ld := authz.Evaluate(v, live, req, noMatch)
		ans.From = "broker"
		ans.Differences = ruleDifferences(objRules, live)
		if ld.Allowed != d.Allowed {
			ans.Differences = append(ans.Differences, fmt.Sprintf("the objects answer %s (%s)", yesNo(d.Allowed), d))
		}
		d = ld
	}
	ans.Allowed, ans.Matched = d.Allowed, d.Matched
	if d.Matched {
		idx, r := d.Index, d.Rule
		ans.Source, ans.RuleIndex, ans.Rule = d.Source, &idx, &r
	}
	if o.Output != OutputTable {
		err = writeDoc(w, o.Output, ans)
	} else {
		err = writeCanI(w, ans)
	}
	if err != nil {
		return err
	}
	if !ans.Allowed {
		return ErrDenied
	}
	return nil
}

// validate refuses a question that cannot be answered.
func (o CanIOptions) validate() error {
	switch {
	case o.Action != broker.ActionPublish && o.Action != broker.ActionSubscribe:
		return fmt.Errorf("unknown action %q: want publish or subscribe", o.Action)
	case o.Topic == "":
		return errors.New("topic must not be empty")
	case !o.HasUsername && o.ClientID == "":
		return errors.New("name a username, a client id (--client), or both")
	case o.NoMatch != "" && o.NoMatch != string(broker.Allow) && o.NoMatch != string(broker.Deny):
		return fmt.Errorf("unknown --no-match %q: want allow or deny", o.NoMatch)
	}
	return nil
}

// notes are what the answer assumes for lack of information.
func (o CanIOptions) notes(b *mqttv1.MQTTBroker) []string {
	var notes []string
	if o.NoMatch == "" && b.Spec.Managed == nil {
		notes = append(notes, "the broker's no-match setting is not known to the plugin; assumed deny (set --no-match)")
	}
	if o.ClientID == "" {
		notes = append(notes, "no client id given: rules for client ids are not considered")
	}
	if !o.HasUsername {
		notes = append(notes, "no username given: the client is taken to connect without one")
	}
	return notes
}

// fetchLiveRules reads the broker's rules for the subjects of o.
func fetchLiveRules(ctx context.Context, connect func() (*BrokerConn, error), o CanIOptions) (authz.Rules, error) {
	conn, err := connect()
	if err != nil {
		return authz.Rules{}, err
	}
	defer conn.Close()
	return liveRules(ctx, conn.Client, o)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func writeCanI(w io.Writer, a CanIAnswer) error {
	var b strings.Builder
	b.WriteString(yesNo(a.Allowed) + "\n")
	if a.Matched {
		fmt.Fprintf(&b, "decided by rule %d of %s: %s %s %q\n", *a.RuleIndex, a.Source, a.Rule.Permission, a.Rule.Action, a.Rule.Topic)
	} else {
		fmt.Fprintf(&b, "no rule matched; the broker's no-match setting decides: %s\n", a.NoMatch)
	}
	for _, n := range a.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	for _, d := range a.Differences {
		fmt.Fprintf(&b, "difference: %s\n", d)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ruleDifferences compares each subject's rules in the objects with the
// broker's, as the operator does (broker.RulesEquivalent).
func ruleDifferences(objects, live authz.Rules) []string {
	var out []string
	pairs := []struct{ o, l *authz.RuleList }{{objects.ClientID, live.ClientID}, {objects.Username, live.Username}, {objects.All, live.All}}
	for _, p := range pairs {
		if p.l == nil {
			continue
		}
		label := strings.TrimPrefix(p.l.Source, "broker ")
		var want []broker.Rule
		if p.o != nil {
			want = p.o.Rules
		}
		if broker.RulesEquivalent(want, p.l.Rules) {
			continue
		}
		if p.o == nil {
			out = append(out, fmt.Sprintf("%s: no MQTTACL, but the broker has %d rules", label, len(p.l.Rules)))
			continue
		}
		out = append(out, fmt.Sprintf("%s: the broker's %d rules differ from the %d of %s (the operator will put them back)",
			label, len(p.l.Rules), len(want), p.o.Source))
	}
	slices.Sort(out)
	return out
}
