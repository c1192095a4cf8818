package broker

import (
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func pub(t string, p Permission) Rule { return Rule{Topic: t, Action: ActionPublish, Permission: p} }
func sub(t string, p Permission) Rule { return Rule{Topic: t, Action: ActionSubscribe, Permission: p} }
func all(t string, p Permission) Rule { return Rule{Topic: t, Action: ActionAll, Permission: p} }

func TestCanonicalRules(t *testing.T) {
	tests := []struct {
		name string
		in   []Rule
		want []Rule
	}{
		{name: "nil", in: nil, want: []Rule{}},
		{name: "single all stays", in: []Rule{all("a", Allow)}, want: []Rule{all("a", Allow)}},
		{
			name: "adjacent pub and sub merge",
			in:   []Rule{pub("a", Allow), sub("a", Allow)},
			want: []Rule{all("a", Allow)},
		},
		{
			name: "sub then pub merge too",
			in:   []Rule{sub("a", Deny), pub("a", Deny)},
			want: []Rule{all("a", Deny)},
		},
		{
			name: "different permission does not merge",
			in:   []Rule{pub("a", Allow), sub("a", Deny)},
			want: []Rule{pub("a", Allow), sub("a", Deny)},
		},
		{
			name: "non-adjacent pair does not merge",
			in:   []Rule{pub("t/#", Allow), sub("t/a", Deny), sub("t/#", Allow)},
			want: []Rule{pub("t/#", Allow), sub("t/a", Deny), sub("t/#", Allow)},
		},
		{
			name: "exact duplicate dropped",
			in:   []Rule{pub("a", Allow), pub("a", Deny)},
			want: []Rule{pub("a", Allow)},
		},
		{
			name: "all shadows a later single action",
			in:   []Rule{all("a", Allow), pub("a", Deny), sub("b", Deny)},
			want: []Rule{all("a", Allow), sub("b", Deny)},
		},
		{
			name: "single action shadows half of a later all",
			in:   []Rule{pub("a", Allow), all("a", Deny)},
			want: []Rule{pub("a", Allow), sub("a", Deny)},
		},
		{
			name: "order kept between topics",
			in:   []Rule{all("x", Deny), pub("y", Allow), all("z", Allow)},
			want: []Rule{all("x", Deny), pub("y", Allow), all("z", Allow)},
		},
		{
			name: "merge after drop",
			in:   []Rule{pub("a", Allow), pub("a", Deny), sub("a", Allow)},
			want: []Rule{all("a", Allow)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, CanonicalRules(tt.in)); diff != "" {
				t.Errorf("CanonicalRules() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRulesEqualAndEquivalent(t *testing.T) {
	tests := []struct {
		name       string
		a, b       []Rule
		equal      bool
		equivalent bool
	}{
		{name: "nil and empty", a: nil, b: []Rule{}, equal: true, equivalent: true},
		{name: "same", a: []Rule{all("a", Allow)}, b: []Rule{all("a", Allow)}, equal: true, equivalent: true},
		{name: "order differs", a: []Rule{pub("a", Allow), pub("b", Deny)}, b: []Rule{pub("b", Deny), pub("a", Allow)}},
		{name: "split all", a: []Rule{all("a", Allow)}, b: []Rule{sub("a", Allow), pub("a", Allow)}, equivalent: true},
		{name: "permission differs", a: []Rule{pub("a", Allow)}, b: []Rule{pub("a", Deny)}},
		{name: "shadowed extra", a: []Rule{pub("a", Allow), pub("a", Deny)}, b: []Rule{pub("a", Allow)}, equivalent: true},
		{name: "shadowed extra, other side", a: []Rule{pub("a", Allow)}, b: []Rule{pub("a", Allow), pub("a", Deny)}, equivalent: true},
		{name: "interleaved actions", a: []Rule{pub("x", Allow), pub("y", Deny), sub("x", Allow)}, b: []Rule{all("x", Allow), pub("y", Deny)}, equivalent: true},
		{name: "actions in any relative order", a: []Rule{pub("a", Deny), sub("b", Allow)}, b: []Rule{sub("b", Allow), pub("a", Deny)}, equivalent: true},
		{name: "order within an action", a: []Rule{pub("a/#", Deny), pub("a/b", Allow)}, b: []Rule{pub("a/b", Allow), pub("a/#", Deny)}},
		{name: "extra rule", a: []Rule{pub("a", Deny)}, b: []Rule{pub("a", Deny), sub("x", Deny)}},
		{name: "all narrowed to publish", a: []Rule{all("a", Deny)}, b: []Rule{pub("a", Deny)}},
		{name: "all after publish of the same topic", a: []Rule{pub("a", Deny), all("a", Allow)}, b: []Rule{pub("a", Deny), sub("a", Allow)}, equivalent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := [2]bool{RulesEqual(tt.a, tt.b), RulesEquivalent(tt.a, tt.b)}
			want := [2]bool{tt.equal, tt.equivalent}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("[equal, equivalent] mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateRules(t *testing.T) {
	cases := []struct {
		name  string
		rules []Rule
		want  string
	}{
		{"valid", []Rule{{Topic: "a/#", Action: ActionAll, Permission: Deny}, {Topic: "b", Action: ActionPublish, Permission: Allow}}, ""},
		{"none", nil, ""},
		{"empty topic", []Rule{{Action: ActionPublish, Permission: Allow}}, "rule topic must not be empty"},
		{"v4 action name", []Rule{{Topic: "a", Action: "pubsub", Permission: Allow}}, `unknown rule action "pubsub"`},
		{"bad permission", []Rule{{Topic: "a", Action: ActionSubscribe, Permission: "maybe"}}, `unknown rule permission "maybe"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateRules(tc.rules)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Fatalf("ValidateRules = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCanonicalRulesKeepDecisions checks, over seeded random rule lists,
// that canonicalisation never changes a decision: the canonical form is
// what v4 stores, so a difference here would be a silent change of access.
func TestCanonicalRulesKeepDecisions(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	topics := []string{"a", "a/#", "b", "+/x", "#"}
	actions := []Action{ActionPublish, ActionSubscribe, ActionAll}
	perms := []Permission{Allow, Deny}
	for i := range 2000 {
		rules := make([]Rule, rng.IntN(8))
		for j := range rules {
			rules[j] = Rule{Topic: topics[rng.IntN(len(topics))], Action: actions[rng.IntN(3)], Permission: perms[rng.IntN(2)]}
		}
		if c := CanonicalRules(rules); !RulesEquivalent(rules, c) {
			t.Fatalf("case %d: CanonicalRules(%v) = %v decides differently", i, rules, c)
		}
	}
}
