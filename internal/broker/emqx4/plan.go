package emqx4

import "github.com/mqttoperator/mqtt-operator/internal/broker"

// replacePlan is what ReplaceRules sends: topic deletions first, then
// inserts in the order given (the last insert becomes the newest rule).
type replacePlan struct {
	deleteTopics []string
	inserts      []broker.Rule
}

type ruleKey struct {
	topic  string
	action broker.Action
}

func atoms(rules []broker.Rule) []broker.Rule {
	out := make([]broker.Rule, 0, len(rules)*2)
	for _, r := range rules {
		if r.Action == broker.ActionAll {
			out = append(out,
				broker.Rule{Topic: r.Topic, Action: broker.ActionPublish, Permission: r.Permission},
				broker.Rule{Topic: r.Topic, Action: broker.ActionSubscribe, Permission: r.Permission})
			continue
		}
		out = append(out, r)
	}
	return out
}

// planReplace computes the fewest writes that turn current (stored rules,
// newest first) into desired (canonical, evaluation order) under v4's
// rules: an insert upserts by (topic, action) and becomes the newest rule;
// a delete removes every action of a topic.
//
// Topics holding an action that desired does not want for them must be
// deleted. After that, the desired list is split into a prefix that is
// (re)inserted and a suffix that must already be stored, in order, once the
// prefix's keys are taken out; the shortest such prefix is chosen, so a
// subject that is already right gets no writes.
func planReplace(current, desired []broker.Rule) replacePlan {
	want := map[ruleKey]bool{}
	for _, a := range atoms(desired) {
		want[ruleKey{a.Topic, a.Action}] = true
	}
	var p replacePlan
	doomed := map[string]bool{}
	for _, a := range atoms(current) {
		if want[ruleKey{a.Topic, a.Action}] || doomed[a.Topic] || a.Topic == "" {
			continue
		}
		doomed[a.Topic] = true
		p.deleteTopics = append(p.deleteTopics, a.Topic)
	}
	var kept []broker.Rule
	for _, a := range atoms(current) {
		if !doomed[a.Topic] {
			kept = append(kept, a)
		}
	}
	k := len(desired)
	for i := 0; i < len(desired); i++ {
		if suffixStored(kept, desired, i) {
			k = i
			break
		}
	}
	for i := k - 1; i >= 0; i-- {
		p.inserts = append(p.inserts, desired[i])
	}
	return p
}

// suffixStored reports whether, once desired[:k] is re-inserted, the rules
// left over from kept are exactly desired[k:].
func suffixStored(kept, desired []broker.Rule, k int) bool {
	moved := map[ruleKey]bool{}
	for _, a := range atoms(desired[:k]) {
		moved[ruleKey{a.Topic, a.Action}] = true
	}
	var rest []broker.Rule
	for _, a := range kept {
		if !moved[ruleKey{a.Topic, a.Action}] {
			rest = append(rest, a)
		}
	}
	return broker.RulesEqual(broker.CanonicalRules(rest), desired[k:])
}
