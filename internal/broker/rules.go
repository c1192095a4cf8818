package broker

import (
	"errors"
	"fmt"
	"slices"
)

// RulesEqual reports whether a and b are the same rules in the same order;
// nil and empty are equal.
func RulesEqual(a, b []Rule) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// RulesEquivalent is the one definition of "two rule lists grant the same
// access": it reports whether a and b decide every publish and every
// subscribe the same way under first-match-wins evaluation, as far as can be
// told without comparing topic filters with each other. Controllers, the
// drift scanner and the drivers' conformance suite all use it.
//
// A publish is decided by the rules that cover publish, in order, and
// likewise a subscribe, so it compares those two projections. Within a
// projection a rule whose topic appeared earlier can never match first, so
// it is dropped. That makes the comparison indifferent to what brokers do
// differently: v4 keeps one rule per (topic, action) and splits "all" rules,
// and rules for different actions may interleave in any order.
func RulesEquivalent(a, b []Rule) bool {
	for _, act := range []Action{ActionPublish, ActionSubscribe} {
		if !slices.Equal(decisions(a, act), decisions(b, act)) {
			return false
		}
	}
	return true
}

// decision is what one reachable rule decides for one action.
type decision struct {
	topic      string
	permission Permission
}

// decisions projects rules onto one action, in order, keeping only the
// first rule of each topic.
func decisions(rules []Rule, act Action) []decision {
	out := make([]decision, 0, len(rules))
	seen := make(map[string]bool, len(rules))
	for _, r := range rules {
		if (r.Action != act && r.Action != ActionAll) || seen[r.Topic] {
			continue
		}
		seen[r.Topic] = true
		out = append(out, decision{r.Topic, r.Permission})
	}
	return out
}

// CanonicalRules rewrites rules into the one form both API versions can
// store and return, without changing which rule decides any request:
//
//  1. every "all" rule becomes a publish and a subscribe rule in its place;
//  2. a rule whose (topic, action) appeared earlier is dropped, because the
//     earlier one always matches first (v4 stores one rule per (topic,
//     action), so it could not keep it anyway);
//  3. a publish and a subscribe rule that are next to each other and share
//     topic and permission become one "all" rule again.
//
// Only neighbours are merged: moving a rule past another could change the
// outcome when the topic filters in between overlap.
func CanonicalRules(rules []Rule) []Rule {
	type key struct {
		topic  string
		action Action
	}
	seen := make(map[key]bool, len(rules)*2)
	atoms := make([]Rule, 0, len(rules)*2)
	add := func(r Rule) {
		k := key{r.Topic, r.Action}
		if seen[k] {
			return
		}
		seen[k] = true
		atoms = append(atoms, r)
	}
	for _, r := range rules {
		if r.Action == ActionAll {
			add(Rule{Topic: r.Topic, Action: ActionPublish, Permission: r.Permission})
			add(Rule{Topic: r.Topic, Action: ActionSubscribe, Permission: r.Permission})
			continue
		}
		add(r)
	}
	out := make([]Rule, 0, len(atoms))
	for i := 0; i < len(atoms); i++ {
		if i+1 < len(atoms) && complementary(atoms[i], atoms[i+1]) {
			out = append(out, Rule{Topic: atoms[i].Topic, Action: ActionAll, Permission: atoms[i].Permission})
			i++
			continue
		}
		out = append(out, atoms[i])
	}
	return out
}

func complementary(a, b Rule) bool {
	if a.Topic != b.Topic || a.Permission != b.Permission {
		return false
	}
	return (a.Action == ActionPublish && b.Action == ActionSubscribe) ||
		(a.Action == ActionSubscribe && b.Action == ActionPublish)
}

// ValidateRules catches what a broker would refuse as malformed; the rule
// count is left to the broker because its limit is configurable.
func ValidateRules(rules []Rule) error {
	for _, r := range rules {
		switch {
		case r.Topic == "":
			return errors.New("rule topic must not be empty")
		case r.Action != ActionPublish && r.Action != ActionSubscribe && r.Action != ActionAll:
			return fmt.Errorf("unknown rule action %q", r.Action)
		case r.Permission != Allow && r.Permission != Deny:
			return fmt.Errorf("unknown rule permission %q", r.Permission)
		}
	}
	return nil
}
