// Package authz answers "may this client publish or subscribe to this
// topic?" from ACL rules, the way EMQX's built-in database authorization
// decides it, without asking a broker. The kubectl plugin's can-i uses it.
//
// EMQX evaluates the rules of the client's clientid, then those of its
// username, then the rules for all clients; within each list the first rule
// whose action and topic match decides. When no rule matches, the broker's
// no-match setting decides. Topic matching follows MQTT: "+" matches one
// level, "#" the rest, and neither matches a first level that starts with
// "$" (so "#" does not match "$SYS/brokers"). A subscription to a shared
// filter ($share/group/filter) is checked as filter.
//
// The two API flavours differ in the topic placeholders a rule may hold:
//
//   - v4: a level that is exactly %c is the client id, exactly %u the
//     username; %u stays literal when the client sent no username.
//   - v5: ${clientid} and ${username} anywhere in the topic; a rule whose
//     placeholder cannot be filled (${username} without a username, or any
//     other ${...}) never matches. A topic "eq T" matches only the topic T
//     itself, wildcards included literally.
//
// Order within a list is evaluation order. For v5 that is the stored array
// order; for v4 it is newest first, which the operator's v4 driver arranges
// to equal the MQTTACL's order (see broker.CanonicalRules).
package authz

import (
	"fmt"
	"strings"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// RuleList is one subject's rules and where they come from.
type RuleList struct {
	// Source names the rules' origin for the answer, e.g. "mqttacl team-a/sensor-1".
	Source string
	Rules  []broker.Rule
}

// Rules are the rule lists that can apply to a client; nil lists are
// skipped.
type Rules struct {
	ClientID *RuleList
	Username *RuleList
	All      *RuleList
}

// Request is what a client attempts.
type Request struct {
	ClientID string
	// Username is the CONNECT username; HasUsername is false when the
	// client sent none.
	Username    string
	HasUsername bool
	// Action is broker.ActionPublish or broker.ActionSubscribe.
	Action broker.Action
	// Topic is the topic of a publish or the filter of a subscribe.
	Topic string
}

// Decision is the answer and what decided it.
type Decision struct {
	Allowed bool
	// Matched is false when no rule matched and NoMatch decided.
	Matched bool
	// Source and Index name the deciding rule (Index counts from 0 in the
	// list's evaluation order); Rule is that rule.
	Source string
	Index  int
	Rule   broker.Rule
	// Subject is "clientid", "username" or "all" for the deciding list.
	Subject broker.IdentityKind
}

// String is a one-line explanation.
func (d Decision) String() string {
	verdict := "no"
	if d.Allowed {
		verdict = "yes"
	}
	if !d.Matched {
		return verdict + ": no rule matched; the broker's no-match setting decides"
	}
	return fmt.Sprintf("%s: rule %d of %s (%s %s %s) decides", verdict, d.Index, d.Source, d.Rule.Permission, d.Rule.Action, d.Rule.Topic)
}

// Evaluate decides req against rules as a broker of the given API version
// does; noMatch is the broker's answer when no rule matches.
func Evaluate(v broker.APIVersion, rules Rules, req Request, noMatch broker.Permission) Decision {
	topic := req.Topic
	if req.Action == broker.ActionSubscribe {
		topic = stripShare(topic)
	}
	lists := []struct {
		kind broker.IdentityKind
		l    *RuleList
	}{{broker.ByClientID, rules.ClientID}, {broker.ByUsername, rules.Username}, {broker.ByAll, rules.All}}
	for _, e := range lists {
		if e.l == nil || (e.kind == broker.ByUsername && !req.HasUsername) {
			continue
		}
		for i, r := range e.l.Rules {
			if r.Action != broker.ActionAll && r.Action != req.Action {
				continue
			}
			if !topicMatches(v, r.Topic, topic, req) {
				continue
			}
			return Decision{Allowed: r.Permission == broker.Allow, Matched: true, Source: e.l.Source, Index: i, Rule: r, Subject: e.kind}
		}
	}
	return Decision{Allowed: noMatch == broker.Allow}
}

// topicMatches reports whether a rule's topic covers topic for req.
func topicMatches(v broker.APIVersion, ruleTopic, topic string, req Request) bool {
	if v == broker.APIv5 {
		if lit, ok := strings.CutPrefix(ruleTopic, "eq "); ok {
			return lit == topic
		}
		filter, ok := fillV5(ruleTopic, req)
		return ok && Match(topic, filter)
	}
	return Match(topic, fillV4(ruleTopic, req))
}

// fillV4 replaces levels that are exactly %c or %u.
func fillV4(filter string, req Request) string {
	levels := strings.Split(filter, "/")
	for i, l := range levels {
		switch {
		case l == "%c":
			levels[i] = req.ClientID
		case l == "%u" && req.HasUsername:
			levels[i] = req.Username
		}
	}
	return strings.Join(levels, "/")
}

// fillV5 renders ${clientid} and ${username}; false when a placeholder
// cannot be rendered.
func fillV5(filter string, req Request) (string, bool) {
	if strings.Contains(filter, "${username}") {
		if !req.HasUsername {
			return "", false
		}
		filter = strings.ReplaceAll(filter, "${username}", req.Username)
	}
	filter = strings.ReplaceAll(filter, "${clientid}", req.ClientID)
	return filter, !strings.Contains(filter, "${")
}

// Match reports whether an MQTT topic name (or a subscription filter, whose
// wildcards are then compared as words) matches filter.
func Match(topic, filter string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	name, f := strings.Split(topic, "/"), strings.Split(filter, "/")
	for {
		switch {
		case len(f) == 1 && f[0] == "#":
			return true
		case len(name) == 0 && len(f) == 0:
			return true
		case len(name) == 0 || len(f) == 0:
			return false
		case f[0] == "+" || f[0] == name[0]:
			name, f = name[1:], f[1:]
		default:
			return false
		}
	}
}

// stripShare turns $share/group/filter into filter.
func stripShare(filter string) string {
	rest, ok := strings.CutPrefix(filter, "$share/")
	if !ok {
		return filter
	}
	if _, f, found := strings.Cut(rest, "/"); found {
		return f
	}
	return filter
}
