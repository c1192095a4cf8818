package controllers

import (
	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// desiredRules maps the spec's rules to the broker's terms in canonical
// form: parts no message can reach (a later rule for a topic and action
// already decided) are dropped, which keeps the set storable on v4, whose
// API keeps one rule per (topic, action).
func desiredRules(spec []mqttv1.ACLRule) []broker.Rule {
	rules := make([]broker.Rule, 0, len(spec))
	for _, r := range spec {
		rules = append(rules, broker.Rule{Topic: r.Topic, Action: broker.Action(r.Action), Permission: broker.Permission(r.Permission)})
	}
	return broker.CanonicalRules(rules)
}

// rulesEquivalent reports whether two rule lists decide every publish and
// every subscribe the same way. A publish is decided by the rules covering
// publish, in order, and likewise for subscribe, so comparing those two
// projections is exact, and it tolerates a broker that stores an "all" rule
// as a publish rule and a subscribe rule.
func rulesEquivalent(a, b []broker.Rule) bool {
	for _, act := range []broker.Action{broker.ActionPublish, broker.ActionSubscribe} {
		pa, pb := project(a, act), project(b, act)
		if len(pa) != len(pb) {
			return false
		}
		for i := range pa {
			if pa[i] != pb[i] {
				return false
			}
		}
	}
	return true
}

type decision struct {
	topic      string
	permission broker.Permission
}

func project(rules []broker.Rule, act broker.Action) []decision {
	var out []decision
	for _, r := range rules {
		if r.Action == act || r.Action == broker.ActionAll {
			out = append(out, decision{r.Topic, r.Permission})
		}
	}
	return out
}
