package broker

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// fuzzTopics are the topic filters fuzzed rule lists draw from: few enough
// that lists repeat topics (where canonicalisation and shadowing matter),
// varied enough that filters overlap in every way.
var fuzzTopics = []string{"a", "a/b", "a/+", "a/#", "#", "+", "+/b", "b", "$SYS/#", "a/b/c", "${clientid}/x", "%c/x"}

// fuzzProbes are the requests the rules are evaluated against: topic names
// for publish, and filters (including wildcards) for subscribe.
var fuzzProbes = []string{"a", "a/b", "a/c", "a/b/c", "b", "x/b", "$SYS/x", "a/+", "a/#", "#", "+", "c", "${clientid}/x", "%c/x"}

// decodeRules turns fuzz bytes into a rule list, three bytes a rule.
func decodeRules(data []byte) []Rule {
	actions := []Action{ActionPublish, ActionSubscribe, ActionAll}
	perms := []Permission{Allow, Deny}
	var out []Rule
	for i := 0; i+2 < len(data) && len(out) < 40; i += 3 {
		out = append(out, Rule{
			Topic:      fuzzTopics[int(data[i])%len(fuzzTopics)],
			Action:     actions[int(data[i+1])%len(actions)],
			Permission: perms[int(data[i+2])%len(perms)],
		})
	}
	return out
}

// filterMatches is MQTT matching of a name (or, for a subscription, a
// filter taken word for word) against a rule's filter. Any fixed function
// of the two strings would do: equivalence is decided without it.
func filterMatches(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	f, t := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, w := range f {
		if w == "#" {
			return true
		}
		if i >= len(t) || (w != "+" && w != t[i]) {
			return false
		}
	}
	return len(f) == len(t)
}

// decide is first-match-wins evaluation: the permission of the first rule
// covering the action and matching the topic, or "nomatch".
func decide(rules []Rule, act Action, topic string) Permission {
	for _, r := range rules {
		if (r.Action == act || r.Action == ActionAll) && filterMatches(r.Topic, topic) {
			return r.Permission
		}
	}
	return "nomatch"
}

// sameDecisions reports the first request the two lists decide differently.
func sameDecisions(a, b []Rule) (string, bool) {
	for _, act := range []Action{ActionPublish, ActionSubscribe} {
		for _, p := range fuzzProbes {
			if da, db := decide(a, act, p), decide(b, act, p); da != db {
				return fmt.Sprintf("%s %q: %s vs %s", act, p, da, db), false
			}
		}
	}
	return "", true
}

// byAction lists the publish-only and subscribe-only rules of a list in
// order, all rules split in two: what a broker that keeps rules per action
// may hand back.
func byAction(rules []Rule) []Rule {
	var pubs, subs []Rule
	for _, r := range rules {
		if r.Action == ActionPublish || r.Action == ActionAll {
			pubs = append(pubs, Rule{Topic: r.Topic, Action: ActionPublish, Permission: r.Permission})
		}
		if r.Action == ActionSubscribe || r.Action == ActionAll {
			subs = append(subs, Rule{Topic: r.Topic, Action: ActionSubscribe, Permission: r.Permission})
		}
	}
	return append(subs, pubs...)
}

// FuzzRuleCanonicalization checks the properties the controllers and the v4
// driver rely on: CanonicalRules keeps every decision, is idempotent, keeps
// at most one rule per topic and action (what v4 can store), and
// RulesEquivalent accepts a list and its canonical or per-action form.
func FuzzRuleCanonicalization(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0, 1, 0})          // a publish and a subscribe rule merge
	f.Add([]byte{0, 2, 0, 0, 0, 1})          // all shadows a later publish
	f.Add([]byte{3, 0, 0, 1, 1, 1, 3, 1, 0}) // overlapping filters between a pair
	f.Add([]byte{4, 2, 1, 8, 1, 0, 11, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		rules := decodeRules(data)
		canon := CanonicalRules(rules)
		if diff, ok := sameDecisions(rules, canon); !ok {
			t.Fatalf("CanonicalRules changed a decision (%s)\nin:  %v\nout: %v", diff, rules, canon)
		}
		if again := CanonicalRules(canon); !RulesEqual(again, canon) {
			t.Fatalf("CanonicalRules is not idempotent:\nonce:  %v\ntwice: %v", canon, again)
		}
		type key struct {
			topic string
			act   Action
		}
		seen := map[key]bool{}
		for _, r := range canon {
			for _, act := range []Action{ActionPublish, ActionSubscribe} {
				if r.Action != act && r.Action != ActionAll {
					continue
				}
				if seen[key{r.Topic, act}] {
					t.Fatalf("canonical rules hold two %s rules for %q: %v", act, r.Topic, canon)
				}
				seen[key{r.Topic, act}] = true
			}
		}
		if !RulesEquivalent(rules, canon) || !RulesEquivalent(canon, rules) {
			t.Fatalf("a list is not equivalent to its canonical form:\nin:  %v\nout: %v", rules, canon)
		}
		if split := byAction(rules); !RulesEquivalent(rules, split) {
			t.Fatalf("a list is not equivalent to its per-action form:\nin:    %v\nsplit: %v", rules, split)
		}
		if err := ValidateRules(canon); err != nil && len(rules) > 0 {
			t.Fatalf("canonical rules do not validate: %v", err)
		}
	})
}

// FuzzRulesEquivalent checks that RulesEquivalent is an equivalence that
// never says yes wrongly: two lists it accepts decide every publish and
// subscribe alike. It also checks it against RulesEqual.
func FuzzRulesEquivalent(f *testing.F) {
	f.Add([]byte{0, 0, 0}, []byte{0, 0, 0})
	f.Add([]byte{0, 2, 0}, []byte{0, 0, 0, 0, 1, 0})
	f.Add([]byte{0, 0, 0, 0, 0, 1}, []byte{0, 0, 0})
	f.Add([]byte{3, 0, 0, 1, 1, 1}, []byte{1, 1, 1, 3, 0, 0})
	f.Add([]byte{2, 0, 1, 1, 0, 0}, []byte{1, 0, 0, 2, 0, 1})
	f.Fuzz(func(t *testing.T, x, y []byte) {
		a, b := decodeRules(x), decodeRules(y)
		eq := RulesEquivalent(a, b)
		if eq != RulesEquivalent(b, a) {
			t.Fatalf("RulesEquivalent is not symmetric:\na: %v\nb: %v", a, b)
		}
		if !RulesEquivalent(a, a) || !RulesEquivalent(a, slices.Clone(a)) {
			t.Fatalf("RulesEquivalent is not reflexive: %v", a)
		}
		if RulesEqual(a, b) && !eq {
			t.Fatalf("equal lists are not equivalent:\na: %v\nb: %v", a, b)
		}
		if eq {
			if diff, ok := sameDecisions(a, b); !ok {
				t.Fatalf("RulesEquivalent accepted lists that decide differently (%s):\na: %v\nb: %v", diff, a, b)
			}
		}
		// Transitivity through the canonical form.
		if eq != RulesEquivalent(CanonicalRules(a), CanonicalRules(b)) {
			t.Fatalf("equivalence changes under canonicalisation:\na: %v\nb: %v", a, b)
		}
	})
}
