package live

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/brokertest"
	"github.com/mqttoperator/mqtt-operator/internal/mqtttest"
	"github.com/mqttoperator/mqtt-operator/internal/testbroker"
)

// Traits describe a driver and where its API version differs.
type Traits struct {
	Version broker.APIVersion
	// New builds the driver; pageSize > 0 overrides its list page size.
	New func(cfg broker.Config, pageSize int) (broker.Client, error)
	// UserKinds are the identity kinds the driver can store users under.
	UserKinds []broker.IdentityKind
	// Superusers is whether UserSpec.Superuser can be stored.
	Superusers bool
	// ExactRuleOrder is whether GetRules returns the rules exactly as
	// written (v5), rather than their canonical form (v4).
	ExactRuleOrder bool
	// BanUpsert is whether CreateBan overwrites an active ban (v4) rather
	// than failing with ClassAlreadyExists (v5).
	BanUpsert bool
	// PastBanAccepted is whether a ban that already ended is accepted (v4).
	PastBanAccepted bool
	// ReportsNoSubscribers is whether Publish can tell nobody received it.
	ReportsNoSubscribers bool
	// BadTopicCode is the Error.Code of a publish to an invalid topic.
	BadTopicCode string
}

// Harness is one test broker with a driver pointed at it.
type Harness struct {
	T      *testing.T
	B      *testbroker.Broker
	C      broker.Client
	Events *brokertest.Recorder
	traits Traits
}

// NewHarness starts a broker and builds the driver for it.
func NewHarness(t *testing.T, tr Traits, pageSize int, edit func(*broker.Config)) *Harness {
	t.Helper()
	b := Start(t, "username")
	h := &Harness{T: t, B: b, Events: &brokertest.Recorder{}, traits: tr}
	h.C = h.Client(pageSize, edit)
	return h
}

// Client builds another driver for the harness's broker.
func (h *Harness) Client(pageSize int, edit func(*broker.Config)) broker.Client {
	h.T.Helper()
	cfg := broker.Config{
		URL: h.B.APIURL(), APIVersion: h.traits.Version, Username: "admin", Password: "public",
		Timeout: 3 * time.Second, Observe: h.Events.Observe,
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := h.traits.New(cfg, pageSize)
	if err != nil {
		h.T.Fatalf("new client: %v", err)
	}
	return c
}

// Must fails the test on err.
func (h *Harness) Must(err error) {
	h.T.Helper()
	if err != nil {
		h.T.Fatal(err)
	}
}

// WantClass checks err's class (nil for "").
func (h *Harness) WantClass(what string, err error, want broker.Class) {
	h.T.Helper()
	if got := broker.ClassOf(err); got != want {
		h.T.Errorf("%s: class %q (%v), want %q", what, got, err, want)
	}
}

var ctx = context.Background()

// Odd identifiers and topics exercise path escaping: "/", "#", "+", "$",
// "%", space and non-ASCII.
var oddNames = []string{"plain", "a/b", "c#d", "e+f", "$g", "100%", "sp ace", "zürich-ü", "x/../y"}

// Run is the conformance suite.
func Run(t *testing.T, tr Traits) {
	t.Run("Health", func(t *testing.T) { testHealth(t, tr) })
	t.Run("Users", func(t *testing.T) { testUsers(t, tr) })
	t.Run("UsersPagination", func(t *testing.T) { testUsersPagination(t, tr) })
	t.Run("UserLogin", func(t *testing.T) { testUserLogin(t, tr) })
	t.Run("RulesRoundTrip", func(t *testing.T) { testRulesRoundTrip(t, tr) })
	t.Run("RulesPagination", func(t *testing.T) { testRulesPagination(t, tr) })
	t.Run("RulesEnforced", func(t *testing.T) { testRulesEnforced(t, tr) })
	t.Run("Bans", func(t *testing.T) { testBans(t, tr) })
	t.Run("ClientsAndPubSub", func(t *testing.T) { testClientsAndPubSub(t, tr) })
	t.Run("Metrics", func(t *testing.T) { testMetrics(t, tr) })
	t.Run("Errors", func(t *testing.T) { testErrors(t, tr) })
}

func testHealth(t *testing.T, tr Traits) {
	h := NewHarness(t, tr, 0, nil)
	info, err := h.C.Health(ctx)
	h.Must(err)
	if info.Version == "" || info.Nodes != 1 || info.RunningNodes != 1 {
		t.Errorf("Health() = %+v", info)
	}
	if h.C.APIVersion() != tr.Version {
		t.Errorf("APIVersion() = %q", h.C.APIVersion())
	}
	if _, err := h.C.Metrics(ctx); err != nil {
		t.Errorf("Metrics(): %v", err)
	}
}

func testUsers(t *testing.T, tr Traits) {
	h := NewHarness(t, tr, 0, nil)
	for _, kind := range []broker.IdentityKind{broker.ByUsername, broker.ByClientID} {
		supported := slices.Contains(tr.UserKinds, kind)
		if !supported {
			h.WantClass("create unsupported kind", h.C.CreateUser(ctx, broker.UserSpec{Kind: kind, ID: "x", Password: "pw"}), broker.ClassUnsupported)
			users, err := h.C.ListUsers(ctx, kind)
			h.Must(err)
			if len(users) != 0 {
				t.Errorf("ListUsers(%s) = %v, want none", kind, users)
			}
			h.Must(h.C.DeleteUser(ctx, kind, "x"))
			continue
		}
		for _, id := range oddNames {
			h.Must(h.C.CreateUser(ctx, broker.UserSpec{Kind: kind, ID: id, Password: "pw-" + id}))
			h.WantClass("create twice "+id, h.C.CreateUser(ctx, broker.UserSpec{Kind: kind, ID: id, Password: "pw"}), broker.ClassAlreadyExists)
			u, err := h.C.GetUser(ctx, kind, id)
			h.Must(err)
			if diff := cmp.Diff(broker.User{Kind: kind, ID: id}, u); diff != "" {
				t.Errorf("GetUser(%q) mismatch (-want +got):\n%s", id, diff)
			}
			h.Must(h.C.UpdateUser(ctx, broker.UserSpec{Kind: kind, ID: id, Password: "new-" + id}))
		}
		users, err := h.C.ListUsers(ctx, kind)
		h.Must(err)
		var ids []string
		for _, u := range users {
			ids = append(ids, u.ID)
		}
		sort.Strings(ids)
		want := slices.Clone(oddNames)
		sort.Strings(want)
		if diff := cmp.Diff(want, ids); diff != "" {
			t.Errorf("ListUsers(%s) mismatch (-want +got):\n%s", kind, diff)
		}
		h.WantClass("update missing", h.C.UpdateUser(ctx, broker.UserSpec{Kind: kind, ID: "ghost", Password: "pw"}), broker.ClassNotFound)
		_, err = h.C.GetUser(ctx, kind, "ghost")
		h.WantClass("get missing", err, broker.ClassNotFound)
		for _, id := range oddNames {
			h.Must(h.C.DeleteUser(ctx, kind, id))
			h.Must(h.C.DeleteUser(ctx, kind, id))
			_, err := h.C.GetUser(ctx, kind, id)
			h.WantClass("get deleted "+id, err, broker.ClassNotFound)
		}
	}
	err := h.C.CreateUser(ctx, broker.UserSpec{Kind: tr.UserKinds[0], ID: "root", Password: "pw", Superuser: true})
	if !tr.Superusers {
		h.WantClass("superuser", err, broker.ClassUnsupported)
		return
	}
	h.Must(err)
	u, err := h.C.GetUser(ctx, tr.UserKinds[0], "root")
	h.Must(err)
	if !u.Superuser {
		t.Errorf("GetUser(root) = %+v, want a superuser", u)
	}
}

func testUsersPagination(t *testing.T, tr Traits) {
	h := NewHarness(t, tr, 40, nil)
	kind := tr.UserKinds[0]
	want := map[string]bool{}
	for i := range 250 {
		id := fmt.Sprintf("user-%03d", i)
		want[id] = true
		h.Must(h.C.CreateUser(ctx, broker.UserSpec{Kind: kind, ID: id, Password: "pw"}))
	}
	before := len(h.Events.Results())
	users, err := h.C.ListUsers(ctx, kind)
	h.Must(err)
	got := map[string]bool{}
	for _, u := range users {
		if got[u.ID] {
			t.Errorf("user %q listed twice", u.ID)
		}
		got[u.ID] = true
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListUsers mismatch (-want +got):\n%s", diff)
	}
	if pages := len(h.Events.Results()) - before; pages < 7 {
		t.Errorf("listed 250 users in %d requests with page size 40", pages)
	}
}

func testUserLogin(t *testing.T, tr Traits) {
	h := NewHarness(t, tr, 0, nil)
	h.Must(h.C.ReplaceRules(ctx, broker.Subject{Kind: broker.ByAll}, []broker.Rule{{Topic: "#", Action: broker.ActionAll, Permission: broker.Allow}}))
	h.Must(h.C.CreateUser(ctx, broker.UserSpec{Kind: broker.ByUsername, ID: "dev ü", Password: "first"}))
	mqtttest.MustConnect(t, h.B.MQTTAddr(), "login-1", "dev ü", "first")
	mqtttest.Refusal(t, h.B.MQTTAddr(), "login-2", "dev ü", "wrong")
	h.Must(h.C.UpdateUser(ctx, broker.UserSpec{Kind: broker.ByUsername, ID: "dev ü", Password: "second"}))
	mqtttest.MustConnect(t, h.B.MQTTAddr(), "login-3", "dev ü", "second")
	h.Must(h.C.DeleteUser(ctx, broker.ByUsername, "dev ü"))
	mqtttest.Refusal(t, h.B.MQTTAddr(), "login-4", "dev ü", "second")
}

func rule(topic string, a broker.Action, p broker.Permission) broker.Rule {
	return broker.Rule{Topic: topic, Action: a, Permission: p}
}

func (h *Harness) wantRules(what string, s broker.Subject, want []broker.Rule) {
	h.T.Helper()
	got, err := h.C.GetRules(ctx, s)
	h.Must(err)
	if h.traits.ExactRuleOrder {
		if diff := cmp.Diff(want, got, cmpEmpty); diff != "" {
			h.T.Errorf("%s: rules mismatch (-want +got):\n%s", what, diff)
		}
		return
	}
	if !broker.RulesEquivalent(want, got) {
		h.T.Errorf("%s: rules decide differently (-want canonical +got):\n%s", what, cmp.Diff(broker.CanonicalRules(want), got, cmpEmpty))
	}
}

var cmpEmpty = cmp.Comparer(func(a, b []broker.Rule) bool { return broker.RulesEqual(a, b) })

func testRulesRoundTrip(t *testing.T, tr Traits) {
	h := NewHarness(t, tr, 0, nil)
	pub, sub, all := broker.ActionPublish, broker.ActionSubscribe, broker.ActionAll
	allow, deny := broker.Allow, broker.Deny
	steps := [][]broker.Rule{
		{rule("a/b/#", all, allow), rule("x/+/y", pub, deny), rule("$SYS/#", sub, deny), rule("sp ace/ü", pub, allow), rule("100%/t", all, deny)},
		{rule("new/#", pub, deny), rule("a/b/#", all, allow), rule("x/+/y", pub, deny), rule("$SYS/#", sub, deny), rule("sp ace/ü", pub, allow), rule("100%/t", all, deny)},
		{rule("100%/t", all, deny), rule("a/b/#", pub, allow), rule("a/b/#", sub, deny), rule("#", all, deny)},
		{rule("x", pub, allow), rule("x", sub, allow), rule("y", all, allow)},
		{},
		{rule("last/#", all, allow)},
	}
	var subjects []broker.Subject
	for _, n := range []string{"u/1 #ü", "$c+1"} {
		subjects = append(subjects, broker.Subject{Kind: broker.ByUsername, Name: n}, broker.Subject{Kind: broker.ByClientID, Name: n})
	}
	subjects = append(subjects, broker.Subject{Kind: broker.ByAll})
	for _, s := range subjects {
		for i, rules := range steps {
			h.Must(h.C.ReplaceRules(ctx, s, rules))
			h.wantRules(fmt.Sprintf("%s %q step %d", s.Kind, s.Name, i), s, rules)
		}
		listed, err := h.C.ListRules(ctx, s.Kind)
		h.Must(err)
		if !broker.RulesEquivalent(listed[s.Name], steps[len(steps)-1]) {
			t.Errorf("ListRules(%s)[%q] = %v", s.Kind, s.Name, listed[s.Name])
		}
		h.Must(h.C.DeleteRules(ctx, s))
		h.Must(h.C.DeleteRules(ctx, s))
		h.wantRules("after delete", s, nil)
	}
	_, err := h.C.GetRules(ctx, broker.Subject{Kind: broker.ByUsername, Name: "nobody"})
	h.Must(err)
}

func testRulesPagination(t *testing.T, tr Traits) {
	h := NewHarness(t, tr, 7, nil)
	pub, all := broker.ActionPublish, broker.ActionAll
	want := map[string][]broker.Rule{}
	for i := range 30 {
		name := fmt.Sprintf("user/%02d", i)
		rules := []broker.Rule{rule("z/"+name, pub, broker.Deny), rule("a/#", all, broker.Allow), rule(fmt.Sprintf("m/%d", i%3), pub, broker.Deny)}
		h.Must(h.C.ReplaceRules(ctx, broker.Subject{Kind: broker.ByUsername, Name: name}, rules))
		want[name] = broker.CanonicalRules(rules)
	}
	got, err := h.C.ListRules(ctx, broker.ByUsername)
	h.Must(err)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListRules mismatch (-want +got):\n%s", diff)
	}
}

func testRulesEnforced(t *testing.T, tr Traits) {
	h := NewHarness(t, tr, 0, nil)
	pub, all := broker.ActionPublish, broker.ActionAll
	for _, u := range []string{"reader", "writer"} {
		h.Must(h.C.CreateUser(ctx, broker.UserSpec{Kind: broker.ByUsername, ID: u, Password: "pw"}))
	}
	h.Must(h.C.ReplaceRules(ctx, broker.Subject{Kind: broker.ByUsername, Name: "reader"}, []broker.Rule{rule("#", all, broker.Allow)}))
	writer := broker.Subject{Kind: broker.ByUsername, Name: "writer"}
	// First match wins: the narrow allow must come before the wide deny.
	h.Must(h.C.ReplaceRules(ctx, writer, []broker.Rule{rule("x/ok", pub, broker.Allow), rule("x/#", pub, broker.Deny), rule("#", all, broker.Allow)}))
	r := mqtttest.MustConnect(t, h.B.MQTTAddr(), "reader-1", "reader", "pw")
	r.MustSubscribe(t, "x/#")
	r.MustSubscribe(t, "y/#")
	w := mqtttest.MustConnect(t, h.B.MQTTAddr(), "writer-1", "writer", "pw")
	w.MustPublish(t, "x/ok", "1", 1)
	w.MustPublish(t, "x/no", "2", 1)
	w.MustPublish(t, "x/ok", "3", 1)
	var got []string
	for p, ok := r.Receive(time.Second); ok; p, ok = r.Receive(300 * time.Millisecond) {
		got = append(got, p.Topic+"="+string(p.Payload))
	}
	if diff := cmp.Diff([]string{"x/ok=1", "x/ok=3"}, got); diff != "" {
		t.Errorf("delivered mismatch (-want +got):\n%s", diff)
	}
	// Reversing the order makes the deny win; the cache must be cleared
	// for a connected client to see it at once.
	h.Must(h.C.ReplaceRules(ctx, writer, []broker.Rule{rule("x/#", pub, broker.Deny), rule("x/ok", pub, broker.Allow), rule("#", all, broker.Allow)}))
	h.Must(h.C.ClearAuthzCache(ctx, "writer-1"))
	w.MustPublish(t, "x/ok", "4", 1)
	w.MustPublish(t, "y/ok", "5", 1)
	got = nil
	for p, ok := r.Receive(time.Second); ok; p, ok = r.Receive(300 * time.Millisecond) {
		got = append(got, p.Topic+"="+string(p.Payload))
	}
	if diff := cmp.Diff([]string{"y/ok=5"}, got); diff != "" {
		t.Errorf("delivered after reorder mismatch (-want +got):\n%s", diff)
	}
}

func testBans(t *testing.T, tr Traits) {
	h := NewHarness(t, tr, 0, nil)
	h.Must(h.C.CreateUser(ctx, broker.UserSpec{Kind: broker.ByUsername, ID: "u", Password: "pw"}))
	h.Must(h.C.ReplaceRules(ctx, broker.Subject{Kind: broker.ByAll}, []broker.Rule{rule("#", broker.ActionAll, broker.Allow)}))
	until := time.Now().Add(time.Hour).Truncate(time.Second).UTC()
	perm := broker.Ban{As: broker.BanClientID, Who: "bad/1 #ü", Reason: "spam"}
	timed := broker.Ban{As: broker.BanUsername, Who: "troll", Reason: "", By: "ops", Until: until}
	h.Must(h.C.CreateBan(ctx, perm))
	h.Must(h.C.CreateBan(ctx, timed))
	bans, err := h.C.ListBans(ctx)
	h.Must(err)
	byWho := map[string]broker.Ban{}
	for _, b := range bans {
		if b.At.IsZero() {
			t.Errorf("ban %q has no At", b.Who)
		}
		b.At = time.Time{}
		b.By = ""
		byWho[b.Who] = b
	}
	timed.By = ""
	if diff := cmp.Diff(map[string]broker.Ban{perm.Who: perm, timed.Who: timed}, byWho); diff != "" {
		t.Errorf("ListBans mismatch (-want +got):\n%s", diff)
	}
	err = h.C.CreateBan(ctx, perm)
	if tr.BanUpsert {
		h.Must(err)
	} else {
		h.WantClass("duplicate ban", err, broker.ClassAlreadyExists)
	}
	err = h.C.CreateBan(ctx, broker.Ban{As: broker.BanClientID, Who: "old", Until: time.Now().Add(-time.Hour)})
	if tr.PastBanAccepted {
		h.Must(err)
	} else {
		h.WantClass("past ban", err, broker.ClassRejected)
	}
	h.WantClass("bad kind", h.C.CreateBan(ctx, broker.Ban{As: "nope", Who: "x"}), broker.ClassRejected)
	mqtttest.Refusal(t, h.B.MQTTAddr(), perm.Who, "u", "pw")
	h.Must(h.C.DeleteBan(ctx, perm.As, perm.Who))
	h.Must(h.C.DeleteBan(ctx, perm.As, perm.Who))
	mqtttest.MustConnect(t, h.B.MQTTAddr(), perm.Who, "u", "pw")
}

func testClientsAndPubSub(t *testing.T, tr Traits) {
	h := NewHarness(t, tr, 0, nil)
	h.Must(h.C.CreateUser(ctx, broker.UserSpec{Kind: broker.ByUsername, ID: "dev", Password: "pw"}))
	h.Must(h.C.ReplaceRules(ctx, broker.Subject{Kind: broker.ByAll}, []broker.Rule{rule("#", broker.ActionAll, broker.Allow)}))
	const id = "dev/1 ü#"
	m := mqtttest.MustConnect(t, h.B.MQTTAddr(), id, "dev", "pw")

	ci, err := h.C.GetClient(ctx, id)
	h.Must(err)
	if ci.ClientID != id || ci.Username != "dev" || !ci.Connected || ci.ConnectedAt.IsZero() {
		t.Errorf("GetClient = %+v", ci)
	}
	for _, f := range []broker.ClientFilter{{ClientID: id}, {Username: "dev"}, {}} {
		list, err := h.C.ListClients(ctx, f)
		h.Must(err)
		if len(list) != 1 || list[0].ClientID != id {
			t.Errorf("ListClients(%+v) = %+v", f, list)
		}
	}
	_, err = h.C.GetClient(ctx, "nobody")
	h.WantClass("get unknown client", err, broker.ClassNotFound)
	if mt, err := h.C.Metrics(ctx); err != nil || mt.Connections != 1 {
		t.Errorf("Metrics() = %+v, %v; want one connection", mt, err)
	}

	h.Must(h.C.Subscribe(ctx, broker.SubscribeRequest{ClientID: id, Topic: "api/+/t", QoS: 1}))
	h.WantClass("subscribe offline", h.C.Subscribe(ctx, broker.SubscribeRequest{ClientID: "offline", Topic: "a"}), broker.ClassNotFound)
	hasSub := func(topic string) bool {
		subs, err := h.C.ListSubscriptions(ctx, id)
		h.Must(err)
		for _, s := range subs {
			if s.Topic == topic && s.ClientID == id {
				return true
			}
		}
		return false
	}
	Eventually(t, "API subscription", func() bool { return hasSub("api/+/t") })
	all, err := h.C.ListSubscriptions(ctx, "")
	h.Must(err)
	if len(all) == 0 {
		t.Error("ListSubscriptions(\"\") is empty")
	}

	res, err := h.C.Publish(ctx, broker.Message{Topic: "api/x/t", Payload: []byte("hello"), QoS: 1})
	h.Must(err)
	if res.NoSubscribers {
		t.Errorf("Publish to a subscribed topic: %+v", res)
	}
	if p, ok := m.Receive(waitFor); !ok || string(p.Payload) != "hello" {
		t.Errorf("received %v, want hello", p)
	}
	res, err = h.C.Publish(ctx, broker.Message{Topic: "nobody/listens", Payload: []byte("x")})
	h.Must(err)
	if res.NoSubscribers != tr.ReportsNoSubscribers {
		t.Errorf("Publish without subscribers: NoSubscribers = %v", res.NoSubscribers)
	}
	_, err = h.C.Publish(ctx, broker.Message{Topic: "bad/#", Payload: []byte("x")})
	h.WantClass("bad topic", err, broker.ClassRejected)
	if be, ok := broker.AsError(err); !ok || be.Code != tr.BadTopicCode {
		t.Errorf("bad topic error %v, want code %q", err, tr.BadTopicCode)
	}
	results, err := h.C.PublishBatch(ctx, []broker.Message{{Topic: "api/y/t", Payload: []byte{0xff, 0x01}}, {Topic: "nobody", Payload: []byte("z")}})
	h.Must(err)
	if len(results) != 2 || results[0].Err != nil || results[1].Err != nil {
		t.Errorf("PublishBatch = %+v", results)
	}
	if p, ok := m.Receive(waitFor); !ok || string(p.Payload) != "\xff\x01" {
		t.Errorf("received %v, want the binary payload", p)
	}

	errs, err := h.C.SubscribeBatch(ctx, []broker.SubscribeRequest{{ClientID: id, Topic: "b/1"}, {ClientID: "offline", Topic: "b/2"}, {ClientID: id, Topic: "b/3", QoS: 2}})
	h.Must(err)
	if len(errs) != 3 || errs[0] != nil || !broker.IsNotFound(errs[1]) || errs[2] != nil {
		t.Errorf("SubscribeBatch = %v", errs)
	}
	Eventually(t, "batch subscriptions", func() bool { return hasSub("b/1") && hasSub("b/3") })
	errs, err = h.C.UnsubscribeBatch(ctx, []broker.SubscribeRequest{{ClientID: id, Topic: "b/1"}, {ClientID: "offline", Topic: "b/2"}})
	h.Must(err)
	if len(errs) != 2 || errs[0] != nil || !broker.IsNotFound(errs[1]) {
		t.Errorf("UnsubscribeBatch = %v", errs)
	}
	h.Must(h.C.Unsubscribe(ctx, id, "api/+/t"))
	Eventually(t, "unsubscribed", func() bool { return !hasSub("api/+/t") && !hasSub("b/1") })

	h.Must(h.C.ClearAuthzCache(ctx, id))
	h.Must(h.C.ClearAuthzCache(ctx, "offline"))
	h.Must(h.C.KickClient(ctx, id))
	select {
	case <-m.Done():
	case <-time.After(waitFor):
		t.Error("kicked client still connected")
	}
	h.Must(h.C.KickClient(ctx, id))
	h.Must(h.C.KickClient(ctx, "offline"))
	Eventually(t, "client gone", func() bool {
		_, err := h.C.GetClient(ctx, id)
		return broker.IsNotFound(err)
	})
}

// testMetrics moves every field of the summary with MQTT traffic and
// compares the broker's answer with what the traffic must have done.
func testMetrics(t *testing.T, tr Traits) {
	h := NewHarness(t, tr, 0, nil)
	m0, err := h.C.Metrics(ctx)
	h.Must(err)
	if diff := cmp.Diff(broker.Metrics{}, m0); diff != "" {
		t.Errorf("a fresh broker's metrics (-want +got):\n%s", diff)
	}
	h.Must(h.C.CreateUser(ctx, broker.UserSpec{Kind: broker.ByUsername, ID: "dev", Password: "pw"}))
	h.Must(h.C.ReplaceRules(ctx, broker.Subject{Kind: broker.ByUsername, Name: "dev"},
		[]broker.Rule{rule("ok/#", broker.ActionAll, broker.Allow), rule("#", broker.ActionAll, broker.Deny)}))
	want := MetricsTraffic(t, h.B.MQTTAddr(), "dev", "pw")
	// Stats may be sampled a moment late; wait for them, then compare.
	var got broker.Metrics
	for deadline := time.Now().Add(waitFor); ; time.Sleep(20 * time.Millisecond) {
		got, err = h.C.Metrics(ctx)
		h.Must(err)
		if cmp.Equal(want, got) || time.Now().After(deadline) {
			break
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metrics after the traffic (-want +got):\n%s", diff)
	}
}

// MetricsTraffic sends MQTT traffic that moves every field of
// broker.Metrics: a refused login, a login, a retained message, a denied
// publish and a denied subscription, and a delivery. The user must exist
// with that password and be allowed ok/# and nothing else. It returns what
// a broker that saw no other traffic then reports; the client stays
// connected until the test ends.
func MetricsTraffic(t *testing.T, mqttAddr, username, password string) broker.Metrics {
	t.Helper()
	mqtttest.Refusal(t, mqttAddr, "intruder", username, "not-"+password)
	c := mqtttest.MustConnect(t, mqttAddr, username+"-1", username, password)
	pctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	if rc, err := c.PublishRetained(pctx, "ok/state", []byte("on")); err != nil || rc > 0x10 {
		t.Fatalf("retained publish: reason code %#x, %v", rc, err)
	}
	if rc, err := c.PublishAck(pctx, "secret/x", []byte("no")); err != nil || rc != 0x87 {
		t.Fatalf("denied publish: reason code %#x, %v; want 0x87", rc, err)
	}
	if rc := c.MustSubscribe(t, "secret/#"); rc < 0x80 {
		t.Fatalf("denied subscription granted (%#x)", rc)
	}
	c.MustSubscribe(t, "ok/#")
	if p, ok := c.Receive(waitFor); !ok || string(p.Payload) != "on" {
		t.Fatalf("retained message not delivered: %v", p)
	}
	return broker.Metrics{
		Connections: 1, LiveConnections: 1, Sessions: 1, Subscriptions: 1, Topics: 1, RetainedMessages: 1,
		// The retained publish and the denied one.
		MessagesReceived: 2,
		// The retained message, to the subscriber that came later.
		MessagesSent: 1,
		// The retained publish had no subscriber yet; the denied one was dropped.
		MessagesDropped:        2,
		MessagesRetained:       1,
		AuthenticationFailures: 1,
		// The publish and the subscription.
		AuthorizationDenials: 2,
	}
}

func testErrors(t *testing.T, tr Traits) {
	h := NewHarness(t, tr, 0, nil)
	bad := h.Client(0, func(c *broker.Config) { c.Password = "wrong" })
	_, err := bad.Health(ctx)
	h.WantClass("wrong credentials", err, broker.ClassUnauthorized)
	h.WantClass("wrong credentials create", bad.CreateUser(ctx, broker.UserSpec{Kind: tr.UserKinds[0], ID: "x", Password: "pw"}), broker.ClassUnauthorized)

	// Two 503s: the third try of an idempotent call succeeds.
	h.B.InjectFault(testbroker.Fault{Count: 2, HTTPStatus: 503})
	before := len(h.Events.Results())
	if _, err := h.C.Health(ctx); err != nil {
		t.Errorf("Health after two 503s: %v", err)
	}
	if n := len(h.Events.Results()) - before; n != 3 {
		t.Errorf("%d requests for one Health, want 3: %v", n, h.Events.Results()[before:])
	}
	// Three are more than the retry budget.
	h.B.InjectFault(testbroker.Fault{Count: 3, HTTPStatus: 503})
	_, err = h.C.Health(ctx)
	h.WantClass("persistent 503", err, broker.ClassTransient)
	if be, ok := broker.AsError(err); !ok || be.HTTPStatus != 503 {
		t.Errorf("persistent 503: %v", err)
	}
	// A create is never retried: one fault fails it, and nothing was written.
	// (ListUsers first, so that v5's one-time authenticator read is done.)
	_, err = h.C.ListUsers(ctx, tr.UserKinds[0])
	h.Must(err)
	h.B.InjectFault(testbroker.Fault{Count: 1, HTTPStatus: 503})
	h.WantClass("create during outage", h.C.CreateUser(ctx, broker.UserSpec{Kind: tr.UserKinds[0], ID: "once", Password: "pw"}), broker.ClassTransient)
	_, err = h.C.GetUser(ctx, tr.UserKinds[0], "once")
	h.WantClass("user after failed create", err, broker.ClassNotFound)
	h.Must(h.C.CreateUser(ctx, broker.UserSpec{Kind: tr.UserKinds[0], ID: "once", Password: "pw"}))

	h.Must(h.B.StopAPI())
	_, err = h.C.Health(ctx)
	h.WantClass("api down", err, broker.ClassTransient)
	h.Must(h.B.StartAPI())
	if _, err := h.C.Health(ctx); err != nil {
		t.Errorf("Health after restart: %v", err)
	}

	slow := h.Client(0, func(c *broker.Config) { c.Timeout = 300 * time.Millisecond })
	h.B.SetLatency(2 * time.Second)
	start := time.Now()
	_, err = slow.Health(ctx)
	h.B.SetLatency(0)
	h.WantClass("timeout", err, broker.ClassTransient)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout error %v does not wrap DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("timed-out call took %s with a 300ms timeout", d)
	}
}
