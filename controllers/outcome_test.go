package controllers

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// cond is a condition as the tables write it.
type cond struct {
	Type, Status, Reason, Message string
}

func conds(st mqttv1.CommonStatus) []cond {
	var out []cond
	for _, c := range st.Conditions {
		out = append(out, cond{c.Type, string(c.Status), c.Reason, c.Message})
	}
	return out
}

// TestClassify covers every broker error class: what is terminal, what
// waits, what is retried with backoff.
func TestClassify(t *testing.T) {
	o := &Options{ResyncInterval: time.Hour, WaitInterval: time.Minute}
	plain := errors.New("api server hiccup")
	cases := []struct {
		name string
		in   error
		want error // nil: the input comes back unchanged, for backoff
	}{
		{"not a broker error", plain, nil},
		{"rejected", &broker.Error{Op: "ReplaceRules", Class: broker.ClassRejected, Code: "115", Message: "bad_topic"},
			&stallError{reason: "IllegalTopic", msg: "broker code 115 (illegal topic): bad_topic (ReplaceRules)"}},
		{"unsupported", &broker.Error{Op: "CreateUser", Class: broker.ClassUnsupported, Message: "the v4 API has no superusers"},
			&stallError{reason: mqttv1.ReasonUnsupported, msg: "broker call failed: the v4 API has no superusers (CreateUser)"}},
		{"misconfigured looks again after a resync", &broker.Error{Op: "GetRules", Class: broker.ClassMisconfigured, Code: "111"},
			&stallError{reason: mqttv1.ReasonMisconfigured, msg: "broker code 111 (plugin not loaded) (GetRules)", requeue: time.Hour}},
		{"unauthorized waits", &broker.Error{Op: "GetUser", Class: broker.ClassUnauthorized, HTTPStatus: 401},
			&waitError{reason: mqttv1.ReasonUnauthorized, msg: "broker refused the API credentials: broker answered HTTP 401 (GetUser)", after: time.Minute}},
		{"transient stays itself", &broker.Error{Op: "GetUser", Class: broker.ClassTransient, HTTPStatus: 503}, nil},
		{"not found stays itself", &broker.Error{Op: "GetUser", Class: broker.ClassNotFound, Code: "NOT_FOUND"}, nil},
		{"wrapped broker error", fmt.Errorf("delete: %w", &broker.Error{Op: "DeleteBan", Class: broker.ClassRejected, Code: "BAD_REQUEST"}),
			&stallError{reason: "BadRequest", msg: "broker code BAD_REQUEST (bad request) (DeleteBan)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := classify(tc.in, o)
			if tc.want == nil {
				if !errors.Is(got, tc.in) {
					t.Fatalf("classify = %#v, want the input back", got)
				}
				return
			}
			if d := cmp.Diff(tc.want, got, cmp.AllowUnexported(stallError{}, waitError{})); d != "" {
				t.Fatalf("classify (-want +got):\n%s", d)
			}
		})
	}
}

// TestSummarize covers every outcome: success, a reason of the object's
// own, a stall with and without a look-again, a wait, a broker failure
// with and without a code, and any other error.
func TestSummarize(t *testing.T) {
	const gen = 3
	cases := []struct {
		name    string
		in      error
		start   []metav1.Condition
		want    []cond
		result  ctrl.Result
		errKind string // "", "terminal", "same"
	}{
		{name: "success clears the others", in: nil,
			start: []metav1.Condition{{Type: mqttv1.ConditionStalled, Status: metav1.ConditionTrue, Reason: "x"}, {Type: mqttv1.ConditionReconciling, Status: metav1.ConditionTrue, Reason: "y"}},
			want:  []cond{{"Ready", "True", "Succeeded", "ok"}}},
		{name: "done with a reason of its own", in: &doneError{reason: mqttv1.ReasonExpired, msg: "ban expired at T"},
			want: []cond{{"Ready", "True", "Expired", "ban expired at T"}}},
		{name: "stall is terminal", in: &stallError{reason: "IllegalTopic", msg: "m"},
			start:   []metav1.Condition{{Type: mqttv1.ConditionReconciling, Status: metav1.ConditionTrue, Reason: "y"}},
			want:    []cond{{"Ready", "False", "IllegalTopic", "m"}, {"Stalled", "True", "IllegalTopic", "m"}},
			errKind: "terminal"},
		{name: "stall that looks again", in: &stallError{reason: mqttv1.ReasonMisconfigured, msg: "m", requeue: time.Hour},
			want:   []cond{{"Ready", "False", "BrokerMisconfigured", "m"}, {"Stalled", "True", "BrokerMisconfigured", "m"}},
			result: ctrl.Result{RequeueAfter: time.Hour}},
		{name: "wait", in: &waitError{reason: mqttv1.ReasonBrokerNotReady, msg: "m", after: time.Minute},
			start:  []metav1.Condition{{Type: mqttv1.ConditionStalled, Status: metav1.ConditionTrue, Reason: "x"}},
			want:   []cond{{"Ready", "False", "BrokerNotReady", "m"}, {"Reconciling", "True", "BrokerNotReady", "m"}},
			result: ctrl.Result{RequeueAfter: time.Minute}},
		{name: "broker failure without a code", in: &broker.Error{Op: "GetUser", Class: broker.ClassTransient, Err: errors.New("dial tcp: refused")},
			want:    []cond{{"Ready", "False", "BrokerUnreachable", "broker call failed: dial tcp: refused (GetUser)"}, {"Reconciling", "True", "BrokerUnreachable", "broker call failed: dial tcp: refused (GetUser)"}},
			errKind: "same"},
		{name: "broker failure with a code", in: &broker.Error{Op: "GetUser", Class: broker.ClassTransient, Code: "102"},
			want:    []cond{{"Ready", "False", "UnknownError", "broker code 102 (unknown error) (GetUser)"}, {"Reconciling", "True", "UnknownError", "broker code 102 (unknown error) (GetUser)"}},
			errKind: "same"},
		{name: "broker asked to come back later", in: &broker.Error{Op: "GetUser", Class: broker.ClassTransient, HTTPStatus: 429, RetryAfter: 8 * time.Second},
			want:   []cond{{"Ready", "False", "BrokerUnreachable", "broker answered HTTP 429 (GetUser)"}, {"Reconciling", "True", "BrokerUnreachable", "broker answered HTTP 429 (GetUser)"}},
			result: ctrl.Result{RequeueAfter: 8 * time.Second}},
		{name: "any other error", in: errors.New("patch: conflict"),
			want:    []cond{{"Ready", "False", "Progressing", "patch: conflict"}, {"Reconciling", "True", "Progressing", "patch: conflict"}},
			errKind: "same"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := mqttv1.CommonStatus{Conditions: tc.start}
			res, err := summarize(&st, gen, tc.in, "ok")
			if st.ObservedGeneration != gen {
				t.Fatalf("observedGeneration = %d", st.ObservedGeneration)
			}
			for _, c := range st.Conditions {
				if c.ObservedGeneration != gen {
					t.Fatalf("condition %s has generation %d", c.Type, c.ObservedGeneration)
				}
			}
			if d := cmp.Diff(tc.want, conds(st), cmpopts.SortSlices(func(a, b cond) bool { return a.Type < b.Type })); d != "" {
				t.Fatalf("conditions (-want +got):\n%s", d)
			}
			// Jitter adds up to a fifth.
			if tc.result.RequeueAfter > 0 {
				if res.RequeueAfter < tc.result.RequeueAfter || res.RequeueAfter > tc.result.RequeueAfter*6/5 {
					t.Fatalf("requeueAfter = %v, want about %v", res.RequeueAfter, tc.result.RequeueAfter)
				}
			} else if res.RequeueAfter != 0 {
				t.Fatalf("requeueAfter = %v, want none", res.RequeueAfter)
			}
			switch tc.errKind {
			case "":
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
			case "terminal":
				if !errors.Is(err, reconcile.TerminalError(nil)) {
					t.Fatalf("err = %v, want a terminal error", err)
				}
			case "same":
				if !errors.Is(err, tc.in) {
					t.Fatalf("err = %v, want the input back for backoff", err)
				}
			}
		})
	}
}

// Ban expiry runs on the injected clock: no test waits for a ban to end.
func TestBanExpiryOnClock(t *testing.T) {
	start := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start)
	k := banKind{deps{Options: Options{Clock: clk}}}
	until := metav1.NewTime(start.Add(time.Hour))
	b := &mqttv1.MQTTBan{ObjectMeta: metav1.ObjectMeta{Generation: 1}, Spec: mqttv1.MQTTBanSpec{As: mqttv1.BanClientID, Who: "c", Until: &until}}

	if _, err := k.desired(t.Context(), b, nil); err != nil {
		t.Fatalf("desired before the end: %v", err)
	}
	if c := findCond(b.Status.Conditions, mqttv1.ConditionExpired); c == nil || c.Status != metav1.ConditionFalse {
		t.Fatalf("Expired before the end = %+v", c)
	}
	if got := k.requeueAfter(b, clk.Now()); got != time.Hour+time.Second {
		t.Fatalf("requeueAfter = %v, want 1h1s", got)
	}

	clk.Step(time.Hour)
	_, err := k.desired(t.Context(), b, nil)
	var de *doneError
	if !errors.As(err, &de) || de.reason != mqttv1.ReasonExpired {
		t.Fatalf("desired at the end = %v, want Expired", err)
	}
	if c := findCond(b.Status.Conditions, mqttv1.ConditionExpired); c == nil || c.Status != metav1.ConditionTrue {
		t.Fatalf("Expired at the end = %+v", c)
	}
	if got := k.requeueAfter(b, clk.Now()); got != 0 {
		t.Fatalf("requeueAfter after the end = %v, want none", got)
	}
	if _, err := summarize(&b.Status.CommonStatus, 1, err, "ok"); err != nil {
		t.Fatal(err)
	}
	if c := findCond(b.Status.Conditions, mqttv1.ConditionReady); c.Status != metav1.ConditionTrue || c.Reason != mqttv1.ReasonExpired {
		t.Fatalf("Ready = %+v, want True/Expired", c)
	}
}

func findCond(cs []metav1.Condition, t string) *metav1.Condition {
	for i := range cs {
		if cs[i].Type == t {
			return &cs[i]
		}
	}
	return nil
}

// TestUserInSync is the user's one definition of in sync, including the
// password it cannot see on the broker.
func TestUserInSync(t *testing.T) {
	k := userKind{}
	cases := []struct {
		name       string
		want, have userState
		inSync     bool
	}{
		{"same", userState{present: true, superuser: true, passwordHash: "h", appliedHash: "h"}, userState{present: true, superuser: true}, true},
		{"missing", userState{present: true, passwordHash: "h", appliedHash: "h"}, userState{}, false},
		{"superuser flipped on the broker", userState{present: true, superuser: true, passwordHash: "h", appliedHash: "h"}, userState{present: true}, false},
		{"password rotated", userState{present: true, passwordHash: "new", appliedHash: "old"}, userState{present: true}, false},
		{"never applied", userState{present: true, passwordHash: "h"}, userState{present: true}, false},
		{"kept password", userState{present: true, keep: true}, userState{present: true}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := k.inSync(tc.want, tc.have); got != tc.inSync {
				t.Fatalf("inSync = %v, want %v", got, tc.inSync)
			}
		})
	}
}

func TestUsablePassword(t *testing.T) {
	cases := []struct {
		name string
		pw   []byte
		ok   bool
	}{
		{"ascii", []byte("s3cret"), true},
		{"utf-8", []byte("pässwörd✓"), true},
		{"longest", make([]byte, maxPasswordBytes), true},
		{"too long", make([]byte, maxPasswordBytes+1), false},
		{"not utf-8", []byte{0xff, 0xfe, 'a'}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := usablePassword(tc.pw); (err == nil) != tc.ok {
				t.Fatalf("usablePassword = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestDuplicateRule(t *testing.T) {
	r := func(topic string, a mqttv1.ACLAction) mqttv1.ACLRule {
		return mqttv1.ACLRule{Topic: topic, Action: a, Permission: mqttv1.ACLAllow}
	}
	cases := []struct {
		name       string
		rules      []mqttv1.ACLRule
		first, dup int
		found      bool
	}{
		{"none", []mqttv1.ACLRule{r("a", "publish"), r("a", "subscribe"), r("b", "publish"), r("a", "all")}, 0, 0, false},
		{"repeat", []mqttv1.ACLRule{r("a", "publish"), r("b", "all"), r("a", "publish")}, 0, 2, true},
		{"first repeat wins", []mqttv1.ACLRule{r("x", "all"), r("y", "all"), r("y", "all"), r("x", "all")}, 1, 2, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			i, j, ok := duplicateRule(tc.rules)
			if ok != tc.found || (ok && (i != tc.first || j != tc.dup)) {
				t.Fatalf("duplicateRule = (%d, %d, %v), want (%d, %d, %v)", i, j, ok, tc.first, tc.dup, tc.found)
			}
		})
	}
}
