package emqx4

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/brokertest"
)

// aclModel imitates emqx_auth_mnesia's ACL API closely enough to check
// ordering: upsert per (login, topic, action), pubsub split in two rules
// sharing a timestamp, delete per topic, newest first within a page only.
type aclModel struct {
	mu     sync.Mutex
	clock  int64
	rules  map[string][]atom // "username:alice", "clientid:c1", "$all:"
	posted []time.Time
}

type atom struct {
	login, topic, action, access string
	ts                           int64
}

func newACLModel() *aclModel { return &aclModel{rules: map[string][]atom{}} }

func v4ok(data any) brokertest.Reply {
	b, _ := json.Marshal(map[string]any{"code": 0, "data": data})
	return brokertest.JSON(200, string(b))
}

func (m *aclModel) item(a atom) map[string]string {
	kind, name, _ := strings.Cut(a.login, ":")
	it := map[string]string{"topic": a.topic, "action": a.action, "access": a.access}
	if kind == "$all" {
		it["all"] = "$all"
	} else {
		it[kind] = name
	}
	return it
}

// newestFirst sorts by timestamp, and puts "sub" before "pub" on ties so
// that the driver cannot rely on the order of pubsub halves.
func newestFirst(as []atom) {
	sort.SliceStable(as, func(i, j int) bool {
		if as[i].ts != as[j].ts {
			return as[i].ts > as[j].ts
		}
		return as[i].action > as[j].action
	})
}

func (m *aclModel) handle(r brokertest.Request) brokertest.Reply {
	m.mu.Lock()
	defer m.mu.Unlock()
	var segs []string
	for _, s := range strings.Split(strings.TrimPrefix(r.Path, "/api/v4/"), "/") {
		u, err := url.PathUnescape(s)
		if err != nil {
			return brokertest.Text(400, "")
		}
		segs = append(segs, u)
	}
	if len(segs) == 0 || segs[0] != "acl" {
		return brokertest.Text(404, "Not found.")
	}
	q, _ := url.ParseQuery(r.RawQuery)
	switch {
	case r.Method == http.MethodPost && len(segs) == 1:
		var body map[string]string
		if json.Unmarshal([]byte(r.Body), &body) != nil {
			return brokertest.Text(400, "Bad Request")
		}
		login := "$all:"
		if v, ok := body["username"]; ok {
			login = "username:" + v
		} else if v, ok := body["clientid"]; ok {
			login = "clientid:" + v
		}
		actions := map[string][]string{"pub": {"pub"}, "sub": {"sub"}, "pubsub": {"pub", "sub"}}[body["action"]]
		if actions == nil || body["topic"] == "" {
			return brokertest.JSON(200, `{"message":"{add,#{result => <<\"{error,action}\">>}}"}`)
		}
		m.clock++
		m.posted = append(m.posted, time.Now())
		for _, act := range actions {
			kept := m.rules[login][:0]
			for _, a := range m.rules[login] {
				if a.topic != body["topic"] || a.action != act {
					kept = append(kept, a)
				}
			}
			m.rules[login] = append(kept, atom{login: login, topic: body["topic"], action: act, access: body["access"], ts: m.clock})
		}
		return v4ok(map[string]string{"result": "ok"})
	case r.Method == http.MethodGet && len(segs) == 3:
		as := append([]atom(nil), m.rules[segs[1]+":"+segs[2]]...)
		newestFirst(as)
		items := []map[string]string{}
		for _, a := range as {
			items = append(items, m.item(a))
		}
		return v4ok(items)
	case r.Method == http.MethodGet && len(segs) == 2:
		// Flat list in storage order (login, topic, action), sorted per page.
		var as []atom
		for login, rs := range m.rules {
			if strings.HasPrefix(login, segs[1]+":") {
				as = append(as, rs...)
			}
		}
		sort.Slice(as, func(i, j int) bool {
			if as[i].login != as[j].login {
				return as[i].login < as[j].login
			}
			if as[i].topic != as[j].topic {
				return as[i].topic < as[j].topic
			}
			return as[i].action < as[j].action
		})
		page, _ := strconv.Atoi(q.Get("_page"))
		limit, _ := strconv.Atoi(q.Get("_limit"))
		lo, hi := min((page-1)*limit, len(as)), min(page*limit, len(as))
		pg := append([]atom(nil), as[lo:hi]...)
		newestFirst(pg)
		items := []map[string]string{}
		for _, a := range pg {
			items = append(items, m.item(a))
		}
		b, _ := json.Marshal(map[string]any{"code": 0, "data": items, "meta": map[string]int{"page": page, "limit": limit, "count": len(as)}})
		return brokertest.JSON(200, string(b))
	case r.Method == http.MethodDelete && (len(segs) == 5 && segs[3] == "topic" || len(segs) == 4 && segs[2] == "topic"):
		login, topic := "$all:", segs[3]
		if len(segs) == 5 {
			login, topic = segs[1]+":"+segs[2], segs[4]
		}
		kept := m.rules[login][:0]
		for _, a := range m.rules[login] {
			if a.topic != topic {
				kept = append(kept, a)
			}
		}
		m.rules[login] = kept
		return brokertest.JSON(200, okBody)
	}
	return brokertest.Text(404, "Not found.")
}

func aclClient(t *testing.T) (*Client, *aclModel, *brokertest.Server) {
	t.Helper()
	s := brokertest.NewServer(t)
	m := newACLModel()
	s.Otherwise(m.handle)
	c, _ := newTestClient(t, s)
	return c, m, s
}

func TestReplaceRulesConverges(t *testing.T) {
	steps := [][]broker.Rule{
		{all("a/#", allow), pub("b/+", deny), sub("c", allow)},
		{all("a/#", allow), pub("b/+", deny), sub("c", allow)},
		{pub("new", deny), all("a/#", allow), pub("b/+", deny), sub("c", allow)},
		{pub("b/+", deny), pub("new", deny), all("a/#", allow)},
		{pub("a/#", allow), sub("a/#", deny), pub("new", allow)},
		{pub("x", allow), pub("x", deny), sub("x", allow), all("y", deny)},
		{},
		{all("#", deny)},
	}
	subjects := []broker.Subject{
		{Kind: broker.ByUsername, Name: "alice"},
		{Kind: broker.ByClientID, Name: "dev/1 #ü"},
		{Kind: broker.ByAll},
	}
	for _, subj := range subjects {
		t.Run(string(subj.Kind), func(t *testing.T) {
			c, _, _ := aclClient(t)
			ctx := context.Background()
			for i, desired := range steps {
				if err := c.ReplaceRules(ctx, subj, desired); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				got, err := c.GetRules(ctx, subj)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if !broker.RulesEquivalent(desired, got) {
					t.Errorf("step %d: got %v, want equivalent of %v", i, got, desired)
				}
				if diff := cmp.Diff(broker.CanonicalRules(desired), got); diff != "" {
					t.Errorf("step %d: rules mismatch (-want +got):\n%s", i, diff)
				}
			}
		})
	}
}

func TestReplaceRulesRequests(t *testing.T) {
	c, m, s := aclClient(t)
	c.gap = insertGap
	ctx := context.Background()
	subj := broker.Subject{Kind: broker.ByUsername, Name: "a/b c"}
	if err := c.ReplaceRules(ctx, subj, []broker.Rule{pub("t/1", allow), sub("t/#", deny), all("$SYS/+/x", allow)}); err != nil {
		t.Fatal(err)
	}
	if err := c.ReplaceRules(ctx, subj, []broker.Rule{pub("t/1", allow), all("$SYS/+/x", allow), pub("100%", deny)}); err != nil {
		t.Fatal(err)
	}
	var posts []map[string]string
	for _, r := range s.Requests() {
		if r.Method == http.MethodPost {
			var b map[string]string
			_ = json.Unmarshal([]byte(r.Body), &b)
			posts = append(posts, b)
		}
	}
	wantCalls := []string{
		"GET /api/v4/acl/username/a%2Fb%20c",
		"POST /api/v4/acl", "POST /api/v4/acl", "POST /api/v4/acl",
		"GET /api/v4/acl/username/a%2Fb%20c",
		"DELETE /api/v4/acl/username/a%2Fb%20c/topic/t%2F%23",
		"POST /api/v4/acl", "POST /api/v4/acl", "POST /api/v4/acl",
	}
	if diff := cmp.Diff(wantCalls, s.Calls()); diff != "" {
		t.Errorf("calls mismatch (-want +got):\n%s", diff)
	}
	u := "a/b c"
	wantPosts := []map[string]string{
		{"username": u, "topic": "$SYS/+/x", "action": "pubsub", "access": "allow"},
		{"username": u, "topic": "t/#", "action": "sub", "access": "deny"},
		{"username": u, "topic": "t/1", "action": "pub", "access": "allow"},
		{"username": u, "topic": "100%", "action": "pub", "access": "deny"},
		{"username": u, "topic": "$SYS/+/x", "action": "pubsub", "access": "allow"},
		{"username": u, "topic": "t/1", "action": "pub", "access": "allow"},
	}
	if diff := cmp.Diff(wantPosts, posts); diff != "" {
		t.Errorf("posts mismatch (-want +got):\n%s", diff)
	}
	for i := 1; i < 3; i++ {
		if d := m.posted[i].Sub(m.posted[i-1]); d < 2*time.Millisecond {
			t.Errorf("inserts %d and %d only %s apart", i-1, i, d)
		}
	}
}

func TestRulesRead(t *testing.T) {
	s := brokertest.NewServer(t)
	s.On(http.MethodGet, "/api/v4/acl/clientid/c1", brokertest.JSON(200, `{"code":0,"data":[
		{"clientid":"c1","topic":"a","action":"sub","access":"allow"},
		{"clientid":"c1","topic":"a","action":"pub","access":"allow"},
		{"clientid":"c1","topic":"b","action":"pub","access":"deny"},
		{"clientid":"c1","topic":"c","action":"sub","access":"deny"},
		{"clientid":"c1","topic":"b","action":"sub","access":"deny"}]}`))
	s.On(http.MethodGet, "/api/v4/acl/clientid/sorted", brokertest.JSON(200, `{"code":0,"data":[
		{"clientid":"sorted","topic":"old","action":"pub","access":"allow","created_at":1},
		{"clientid":"sorted","topic":"new","action":"pub","access":"deny","created_at":3},
		{"clientid":"sorted","topic":"mid","action":"pubsub","access":"deny","created_at":2}]}`))
	s.On(http.MethodGet, "/api/v4/acl/clientid/nobody", brokertest.JSON(200, `{"code":0,"data":[]}`))
	s.On(http.MethodGet, "/api/v4/acl/username/x", brokertest.Text(404, "Not found."))
	c, _ := newTestClient(t, s)
	ctx := context.Background()
	type res struct {
		Rules []broker.Rule
		Err   brokertest.ErrorFields
	}
	get := func(s broker.Subject) res {
		r, err := c.GetRules(ctx, s)
		return res{r, brokertest.Fields(err)}
	}
	got := map[string]res{
		"merged":     get(broker.Subject{Kind: broker.ByClientID, Name: "c1"}),
		"created_at": get(broker.Subject{Kind: broker.ByClientID, Name: "sorted"}),
		"none":       get(broker.Subject{Kind: broker.ByClientID, Name: "nobody"}),
		"no plugin":  get(broker.Subject{Kind: broker.ByUsername, Name: "x"}),
		"no name":    get(broker.Subject{Kind: broker.ByUsername}),
	}
	want := map[string]res{
		"merged":     {Rules: []broker.Rule{all("a", allow), pub("b", deny), sub("c", deny), sub("b", deny)}},
		"created_at": {Rules: []broker.Rule{pub("new", deny), all("mid", deny), pub("old", allow)}},
		"none":       {Rules: []broker.Rule{}},
		"no plugin":  {Err: fields("GetRules", broker.ClassMisconfigured, "", 404, "RouteNotFound")},
		"no name":    {Err: fields("GetRules", broker.ClassRejected, "", 0, "Rejected")},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetRules mismatch (-want +got):\n%s", diff)
	}
}

func TestListRulesAcrossPages(t *testing.T) {
	c, _, s := aclClient(t)
	ctx := context.Background()
	want := map[string][]broker.Rule{}
	for i := 0; i < 6; i++ {
		name := fmt.Sprintf("user%d", i)
		rules := []broker.Rule{pub(fmt.Sprintf("z/%d", i), deny), all("a/"+name, allow), sub("m", deny)}
		if err := c.ReplaceRules(ctx, broker.Subject{Kind: broker.ByUsername, Name: name}, rules); err != nil {
			t.Fatal(err)
		}
		want[name] = broker.CanonicalRules(rules)
	}
	if err := c.ReplaceRules(ctx, broker.Subject{Kind: broker.ByAll}, []broker.Rule{pub("x", deny), pub("y", allow)}); err != nil {
		t.Fatal(err)
	}
	c.pageSize = 5 // 24 username rules: every login's rules straddle or share pages
	before := len(s.Requests())
	got, err := c.ListRules(ctx, broker.ByUsername)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListRules mismatch (-want +got):\n%s", diff)
	}
	var refetched []string
	for _, r := range s.Requests()[before:] {
		if strings.HasPrefix(r.Path, "/api/v4/acl/username/") {
			refetched = append(refetched, r.Path)
		}
	}
	if len(refetched) == 0 || len(refetched) == 6 {
		t.Errorf("refetched %v; want only logins split across pages", refetched)
	}
	gotAll, err := c.ListRules(ctx, broker.ByAll)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string][]broker.Rule{"": {pub("x", deny), pub("y", allow)}}, gotAll); diff != "" {
		t.Errorf("ListRules($all) mismatch (-want +got):\n%s", diff)
	}
	gotClients, err := c.ListRules(ctx, broker.ByClientID)
	if err != nil {
		t.Fatal(err)
	}
	if len(gotClients) != 0 {
		t.Errorf("ListRules(clientid) = %v, want empty", gotClients)
	}
}

func TestDeleteRulesAndValidation(t *testing.T) {
	c, m, s := aclClient(t)
	ctx := context.Background()
	subj := broker.Subject{Kind: broker.ByAll}
	if err := c.ReplaceRules(ctx, subj, []broker.Rule{all("a", allow), pub("b", deny)}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteRules(ctx, subj); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteRules(ctx, subj); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if len(m.rules["$all:"]) != 0 {
		t.Errorf("rules left: %v", m.rules["$all:"])
	}
	var deletes []string
	for _, call := range s.Calls() {
		if strings.HasPrefix(call, "DELETE") {
			deletes = append(deletes, call)
		}
	}
	if diff := cmp.Diff([]string{"DELETE /api/v4/acl/$all/topic/a", "DELETE /api/v4/acl/$all/topic/b"}, deletes); diff != "" {
		t.Errorf("deletes mismatch (-want +got):\n%s", diff)
	}
	n := len(s.Requests())
	for _, bad := range [][]broker.Rule{
		{{Topic: "", Action: broker.ActionPublish, Permission: broker.Allow}},
		{{Topic: "a", Action: "pub", Permission: broker.Allow}},
		{{Topic: "a", Action: broker.ActionPublish, Permission: "maybe"}},
	} {
		if err := c.ReplaceRules(ctx, subj, bad); broker.ClassOf(err) != broker.ClassRejected {
			t.Errorf("ReplaceRules(%v) = %v, want Rejected", bad, err)
		}
	}
	if err := c.DeleteRules(ctx, broker.Subject{Kind: broker.ByUsername}); err != nil {
		t.Errorf("DeleteRules(no name) = %v", err)
	}
	if len(s.Requests()) != n {
		t.Errorf("invalid input reached the broker: %v", s.Calls()[n:])
	}
}

func TestInsertFailure(t *testing.T) {
	s := brokertest.NewServer(t)
	s.On(http.MethodGet, "/api/v4/acl/username/u", brokertest.JSON(200, `{"code":0,"data":[]}`))
	s.On(http.MethodPost, "/api/v4/acl", brokertest.JSON(200, `{"message":"{add,#{access => <<\"allow\">>,result => <<\"{error,topic}\">>}}"}`))
	c, _ := newTestClient(t, s)
	err := c.ReplaceRules(context.Background(), broker.Subject{Kind: broker.ByUsername, Name: "u"}, []broker.Rule{pub("t", allow)})
	if diff := cmp.Diff(fields("ReplaceRules", broker.ClassRejected, "", 200, "ParameterError"), brokertest.Fields(err)); diff != "" {
		t.Errorf("error mismatch (-want +got):\n%s", diff)
	}
}
