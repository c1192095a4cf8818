package emqx4

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

func pub(t string, p broker.Permission) broker.Rule {
	return broker.Rule{Topic: t, Action: broker.ActionPublish, Permission: p}
}
func sub(t string, p broker.Permission) broker.Rule {
	return broker.Rule{Topic: t, Action: broker.ActionSubscribe, Permission: p}
}
func all(t string, p broker.Permission) broker.Rule {
	return broker.Rule{Topic: t, Action: broker.ActionAll, Permission: p}
}

const (
	allow = broker.Allow
	deny  = broker.Deny
)

func TestPlanReplace(t *testing.T) {
	tests := []struct {
		name    string
		current []broker.Rule // stored atoms, newest first
		desired []broker.Rule // canonical
		want    replacePlan
	}{
		{name: "empty to empty", want: replacePlan{}},
		{
			name:    "fresh subject: insert all in reverse",
			desired: []broker.Rule{all("a", allow), pub("b", deny), sub("c", allow)},
			want:    replacePlan{inserts: []broker.Rule{sub("c", allow), pub("b", deny), all("a", allow)}},
		},
		{
			name:    "already in sync: no writes",
			current: []broker.Rule{pub("a", allow), sub("a", allow), pub("b", deny)},
			desired: []broker.Rule{all("a", allow), pub("b", deny)},
			want:    replacePlan{},
		},
		{
			name:    "pubsub halves in either order are in sync",
			current: []broker.Rule{sub("a", allow), pub("a", allow)},
			desired: []broker.Rule{all("a", allow)},
			want:    replacePlan{},
		},
		{
			name:    "delete everything",
			current: []broker.Rule{pub("a", allow), sub("a", allow), pub("b", deny)},
			want:    replacePlan{deleteTopics: []string{"a", "b"}},
		},
		{
			name:    "new rule first: only it is inserted",
			current: []broker.Rule{pub("b", deny), sub("c", allow)},
			desired: []broker.Rule{pub("a", allow), pub("b", deny), sub("c", allow)},
			want:    replacePlan{inserts: []broker.Rule{pub("a", allow)}},
		},
		{
			name:    "new rule last: everything is re-inserted",
			current: []broker.Rule{pub("a", allow), pub("b", deny)},
			desired: []broker.Rule{pub("a", allow), pub("b", deny), sub("c", allow)},
			want:    replacePlan{inserts: []broker.Rule{sub("c", allow), pub("b", deny), pub("a", allow)}},
		},
		{
			name:    "permission flip is an upsert, no delete",
			current: []broker.Rule{pub("a", allow), pub("b", deny)},
			desired: []broker.Rule{pub("a", deny), pub("b", deny)},
			want:    replacePlan{inserts: []broker.Rule{pub("a", deny)}},
		},
		{
			name:    "narrowing all to publish deletes the topic first",
			current: []broker.Rule{pub("a", allow), sub("a", allow)},
			desired: []broker.Rule{pub("a", allow)},
			want:    replacePlan{deleteTopics: []string{"a"}, inserts: []broker.Rule{pub("a", allow)}},
		},
		{
			name:    "widening publish to all is an upsert",
			current: []broker.Rule{pub("a", allow)},
			desired: []broker.Rule{all("a", allow)},
			want:    replacePlan{inserts: []broker.Rule{all("a", allow)}},
		},
		{
			name:    "swap order",
			current: []broker.Rule{pub("a", allow), pub("b", deny)},
			desired: []broker.Rule{pub("b", deny), pub("a", allow)},
			want:    replacePlan{inserts: []broker.Rule{pub("b", deny)}},
		},
		{
			name:    "unwanted topic in the middle is deleted, rest kept",
			current: []broker.Rule{pub("a", allow), pub("x", deny), pub("b", deny)},
			desired: []broker.Rule{pub("a", allow), pub("b", deny)},
			want:    replacePlan{deleteTopics: []string{"x"}},
		},
		{
			name:    "split halves with different permissions",
			current: []broker.Rule{},
			desired: []broker.Rule{pub("a", allow), sub("a", deny)},
			want:    replacePlan{inserts: []broker.Rule{sub("a", deny), pub("a", allow)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := planReplace(tt.current, tt.desired)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(replacePlan{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("planReplace mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
