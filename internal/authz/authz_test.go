package authz

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

func rule(topic string, a broker.Action, p broker.Permission) broker.Rule {
	return broker.Rule{Topic: topic, Action: a, Permission: p}
}

const (
	pub = broker.ActionPublish
	sub = broker.ActionSubscribe
	all = broker.ActionAll
)

func TestMatch(t *testing.T) {
	tests := []struct {
		topic, filter string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/+", true},
		{"a/b/c", "a/+", false},
		{"a", "a/#", true},
		{"a/b/c", "a/#", true},
		{"a/b", "#", true},
		{"$SYS/broker", "#", false},
		{"$SYS/broker", "+/broker", false},
		{"$SYS/broker", "$SYS/#", true},
		{"$SYS/broker", "$SYS/+", true},
		{"a/+", "a/+", true}, // a subscription filter compared word by word
		{"a/#", "a/+", true},
		{"a/+", "a/b", false},
		{"/a", "+/a", true},
		{"a/", "a/+", true},
		{"a", "a/+", false},
		{"b", "a/#", false},
	}
	for _, tt := range tests {
		if got := Match(tt.topic, tt.filter); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.topic, tt.filter, got, tt.want)
		}
	}
}

func TestEvaluate(t *testing.T) {
	sensor := Request{ClientID: "dev-1", Username: "sensor", HasUsername: true, Action: pub, Topic: "sensors/dev-1/temp"}
	with := func(r Request, f func(*Request)) Request { f(&r); return r }
	tests := []struct {
		name    string
		v       broker.APIVersion
		rules   Rules
		req     Request
		noMatch broker.Permission
		want    Decision
	}{
		{
			name:    "no rules: the no-match setting decides",
			v:       broker.APIv5,
			req:     sensor,
			noMatch: broker.Deny,
			want:    Decision{},
		},
		{
			name:    "no match allow",
			v:       broker.APIv5,
			rules:   Rules{Username: &RuleList{Source: "u", Rules: []broker.Rule{rule("other", all, broker.Deny)}}},
			req:     sensor,
			noMatch: broker.Allow,
			want:    Decision{Allowed: true},
		},
		{
			name: "first match wins within a list",
			v:    broker.APIv5,
			rules: Rules{Username: &RuleList{Source: "mqttacl a/sensor", Rules: []broker.Rule{
				rule("sensors/#", sub, broker.Deny), rule("sensors/+/temp", pub, broker.Allow), rule("sensors/#", all, broker.Deny)}}},
			req:  sensor,
			want: Decision{Allowed: true, Matched: true, Source: "mqttacl a/sensor", Index: 1, Rule: rule("sensors/+/temp", pub, broker.Allow), Subject: broker.ByUsername},
		},
		{
			name: "clientid rules before username rules before all",
			v:    broker.APIv4,
			rules: Rules{
				ClientID: &RuleList{Source: "c", Rules: []broker.Rule{rule("x", all, broker.Allow), rule("sensors/#", pub, broker.Deny)}},
				Username: &RuleList{Source: "u", Rules: []broker.Rule{rule("sensors/#", pub, broker.Allow)}},
				All:      &RuleList{Source: "all", Rules: []broker.Rule{rule("#", all, broker.Allow)}},
			},
			req:  sensor,
			want: Decision{Matched: true, Source: "c", Index: 1, Rule: rule("sensors/#", pub, broker.Deny), Subject: broker.ByClientID},
		},
		{
			name: "all-clients rules after the subject's",
			v:    broker.APIv5,
			rules: Rules{
				Username: &RuleList{Source: "u", Rules: []broker.Rule{rule("other/#", pub, broker.Allow)}},
				All:      &RuleList{Source: "all", Rules: []broker.Rule{rule("#", pub, broker.Allow)}},
			},
			req:     sensor,
			noMatch: broker.Deny,
			want:    Decision{Allowed: true, Matched: true, Source: "all", Rule: rule("#", pub, broker.Allow), Subject: broker.ByAll},
		},
		{
			name:  "no username: username rules are not consulted",
			v:     broker.APIv5,
			rules: Rules{Username: &RuleList{Source: "u", Rules: []broker.Rule{rule("#", all, broker.Allow)}}},
			req:   with(sensor, func(r *Request) { r.HasUsername, r.Username = false, "" }),
			want:  Decision{},
		},
		{
			name:  "# does not cover $SYS",
			v:     broker.APIv5,
			rules: Rules{All: &RuleList{Source: "all", Rules: []broker.Rule{rule("#", sub, broker.Allow)}}},
			req:   with(sensor, func(r *Request) { r.Action, r.Topic = sub, "$SYS/brokers/+/clients" }),
			want:  Decision{},
		},
		{
			name:  "shared subscription is checked as its filter",
			v:     broker.APIv4,
			rules: Rules{All: &RuleList{Source: "all", Rules: []broker.Rule{rule("jobs/#", sub, broker.Allow)}}},
			req:   with(sensor, func(r *Request) { r.Action, r.Topic = sub, "$share/workers/jobs/+" }),
			want:  Decision{Allowed: true, Matched: true, Source: "all", Rule: rule("jobs/#", sub, broker.Allow), Subject: broker.ByAll},
		},
		{
			name:  "v5 eq matches the literal filter only",
			v:     broker.APIv5,
			rules: Rules{All: &RuleList{Source: "all", Rules: []broker.Rule{rule("eq #", sub, broker.Deny), rule("#", sub, broker.Allow)}}},
			req:   with(sensor, func(r *Request) { r.Action, r.Topic = sub, "#" }),
			want:  Decision{Matched: true, Source: "all", Rule: rule("eq #", sub, broker.Deny), Subject: broker.ByAll},
		},
		{
			name:  "v5 eq does not match another topic",
			v:     broker.APIv5,
			rules: Rules{All: &RuleList{Source: "all", Rules: []broker.Rule{rule("eq #", sub, broker.Deny), rule("#", sub, broker.Allow)}}},
			req:   with(sensor, func(r *Request) { r.Action, r.Topic = sub, "a/b" }),
			want:  Decision{Allowed: true, Matched: true, Source: "all", Index: 1, Rule: rule("#", sub, broker.Allow), Subject: broker.ByAll},
		},
		{
			name:  "v4 has no eq: the topic is taken as written",
			v:     broker.APIv4,
			rules: Rules{All: &RuleList{Source: "all", Rules: []broker.Rule{rule("eq #", sub, broker.Deny)}}},
			req:   with(sensor, func(r *Request) { r.Action, r.Topic = sub, "#" }),
			want:  Decision{},
		},
		{
			name:  "v5 placeholders",
			v:     broker.APIv5,
			rules: Rules{All: &RuleList{Source: "all", Rules: []broker.Rule{rule("sensors/${clientid}/#", pub, broker.Allow)}}},
			req:   sensor,
			want:  Decision{Allowed: true, Matched: true, Source: "all", Rule: rule("sensors/${clientid}/#", pub, broker.Allow), Subject: broker.ByAll},
		},
		{
			name:  "v5 ${username} without a username never matches",
			v:     broker.APIv5,
			rules: Rules{All: &RuleList{Source: "all", Rules: []broker.Rule{rule("${username}/#", pub, broker.Deny)}}},
			req:   with(sensor, func(r *Request) { r.HasUsername, r.Username, r.Topic = false, "", "${username}/x" }),
			want:  Decision{},
		},
		{
			name:  "v5 does not know %c",
			v:     broker.APIv5,
			rules: Rules{All: &RuleList{Source: "all", Rules: []broker.Rule{rule("sensors/%c/#", pub, broker.Allow)}}},
			req:   sensor,
			want:  Decision{},
		},
		{
			name:  "v4 %c is a whole level",
			v:     broker.APIv4,
			rules: Rules{All: &RuleList{Source: "all", Rules: []broker.Rule{rule("sensors/%c/#", pub, broker.Allow)}}},
			req:   sensor,
			want:  Decision{Allowed: true, Matched: true, Source: "all", Rule: rule("sensors/%c/#", pub, broker.Allow), Subject: broker.ByAll},
		},
		{
			name:  "v4 %u stays literal without a username",
			v:     broker.APIv4,
			rules: Rules{All: &RuleList{Source: "all", Rules: []broker.Rule{rule("%u/x", pub, broker.Allow)}}},
			req:   with(sensor, func(r *Request) { r.HasUsername, r.Username, r.Topic = false, "", "%u/x" }),
			want:  Decision{Allowed: true, Matched: true, Source: "all", Rule: rule("%u/x", pub, broker.Allow), Subject: broker.ByAll},
		},
		{
			name:    "v5 unknown placeholder never matches",
			v:       broker.APIv5,
			rules:   Rules{All: &RuleList{Source: "all", Rules: []broker.Rule{rule("${zone}/#", pub, broker.Deny)}}},
			req:     with(sensor, func(r *Request) { r.Topic = "${zone}/a" }),
			noMatch: broker.Allow,
			want:    Decision{Allowed: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Evaluate(tt.v, tt.rules, tt.req, tt.noMatch)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Evaluate mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
