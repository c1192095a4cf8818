package emqx5

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/brokertest"
)

func rule(topic string, a broker.Action, p broker.Permission) broker.Rule {
	return broker.Rule{Topic: topic, Action: a, Permission: p}
}

func TestRules(t *testing.T) {
	s := brokertest.NewServer(t)
	s.On(http.MethodGet, rulesURL+"/users/a%2Fb%20%23", brokertest.JSON(200, `{"username":"a/b #","rules":[
		{"topic":"t/#","permission":"deny","action":"subscribe","qos":[0,1,2],"retain":"all"},
		{"topic":"t/1","permission":"allow","action":"all","qos":[0,1,2],"retain":"all"},
		{"topic":"x","permission":"allow","action":"pub","qos":[1],"retain":true}]}`))
	s.On(http.MethodGet, rulesURL+"/clients/none", brokertest.JSON(404, `{"code":"NOT_FOUND","message":"Not Found"}`))
	s.On(http.MethodGet, rulesURL+"/clients/nosrc", brokertest.JSON(404, `{"code":"NOT_FOUND","message":"Not found: built_in_database"}`))
	s.On(http.MethodGet, rulesURL+"/all", brokertest.JSON(200, `{"rules":[]}`))
	s.On(http.MethodPut, rulesURL+"/users/a%2Fb%20%23", brokertest.Reply{Status: 204})
	s.On(http.MethodPost, rulesURL+"/all", brokertest.Reply{Status: 204})
	s.On(http.MethodDelete, rulesURL+"/clients/none", brokertest.JSON(404, `{"code":"NOT_FOUND","message":"ClientID Not Found"}`))
	s.On(http.MethodDelete, rulesURL+"/users/empty", brokertest.Reply{Status: 204})
	s.On(http.MethodDelete, rulesURL+"/all", brokertest.Reply{Status: 204})
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
	desired := []broker.Rule{
		rule("t/#", broker.ActionSubscribe, broker.Deny),
		rule("t/1", broker.ActionAll, broker.Allow),
		rule("t/1", broker.ActionPublish, broker.Deny), // shadowed, but v5 keeps it
	}
	got := map[string]any{
		"get":         get(broker.Subject{Kind: broker.ByUsername, Name: "a/b #"}),
		"get missing": get(broker.Subject{Kind: broker.ByClientID, Name: "none"}),
		"get no src":  get(broker.Subject{Kind: broker.ByClientID, Name: "nosrc"}),
		"get all":     get(broker.Subject{Kind: broker.ByAll}),
		"replace":     brokertest.Fields(c.ReplaceRules(ctx, broker.Subject{Kind: broker.ByUsername, Name: "a/b #"}, desired)),
		"replace all": brokertest.Fields(c.ReplaceRules(ctx, broker.Subject{Kind: broker.ByAll}, desired[:1])),
		"to empty":    brokertest.Fields(c.ReplaceRules(ctx, broker.Subject{Kind: broker.ByUsername, Name: "empty"}, nil)),
		"all empty":   brokertest.Fields(c.ReplaceRules(ctx, broker.Subject{Kind: broker.ByAll}, []broker.Rule{})),
		"del missing": brokertest.Fields(c.DeleteRules(ctx, broker.Subject{Kind: broker.ByClientID, Name: "none"})),
		"bad action":  brokertest.Fields(c.ReplaceRules(ctx, broker.Subject{Kind: broker.ByAll}, []broker.Rule{rule("t", "pub", broker.Allow)})),
		"no name":     brokertest.Fields(c.ReplaceRules(ctx, broker.Subject{Kind: broker.ByClientID}, desired)),
	}
	want := map[string]any{
		"get": res{Rules: []broker.Rule{
			rule("t/#", broker.ActionSubscribe, broker.Deny),
			rule("t/1", broker.ActionAll, broker.Allow),
			rule("x", broker.ActionPublish, broker.Allow),
		}},
		"get missing": res{Rules: []broker.Rule{}},
		"get no src":  res{Err: fields("GetRules", broker.ClassMisconfigured, "NOT_FOUND", 404, "AuthzSourceNotFound")},
		"get all":     res{Rules: []broker.Rule{}},
		"replace":     brokertest.ErrorFields{},
		"replace all": brokertest.ErrorFields{},
		"to empty":    brokertest.ErrorFields{},
		"all empty":   brokertest.ErrorFields{},
		"del missing": brokertest.ErrorFields{},
		"bad action":  fields("ReplaceRules", broker.ClassRejected, "", 0, "Rejected"),
		"no name":     fields("ReplaceRules", broker.ClassRejected, "", 0, "Rejected"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rules mismatch (-want +got):\n%s", diff)
	}
	bodies := map[string]string{}
	for _, r := range s.Requests() {
		if r.Body != "" {
			bodies[r.Method+" "+r.Path] = r.Body
		}
	}
	wantBodies := map[string]string{
		"PUT " + rulesURL + "/users/a%2Fb%20%23": `{"username":"a/b #","rules":[{"topic":"t/#","permission":"deny","action":"subscribe"},{"topic":"t/1","permission":"allow","action":"all"},{"topic":"t/1","permission":"deny","action":"publish"}]}`,
		"POST " + rulesURL + "/all":              `{"rules":[{"topic":"t/#","permission":"deny","action":"subscribe"}]}`,
	}
	if diff := cmp.Diff(wantBodies, bodies); diff != "" {
		t.Errorf("bodies mismatch (-want +got):\n%s", diff)
	}
}

func TestListRules(t *testing.T) {
	s := brokertest.NewServer(t)
	s.OnFunc(http.MethodGet, rulesURL+"/clients", func(r brokertest.Request) brokertest.Reply {
		if r.RawQuery == "limit=1&page=1" {
			return brokertest.JSON(200, `{"data":[{"clientid":"c1","rules":[{"topic":"a","permission":"allow","action":"publish"}]}],"meta":{"page":1,"limit":1,"hasnext":true}}`)
		}
		return brokertest.JSON(200, `{"data":[{"clientid":"c2","rules":[]}],"meta":{"page":2,"limit":1,"hasnext":false}}`)
	})
	s.On(http.MethodGet, rulesURL+"/all", brokertest.JSON(200, `{"rules":[{"topic":"#","permission":"deny","action":"all"}]}`))
	c, _ := newTestClient(t, s)
	c.pageSize = 1
	clients, err := c.ListRules(context.Background(), broker.ByClientID)
	if err != nil {
		t.Fatal(err)
	}
	all, err := c.ListRules(context.Background(), broker.ByAll)
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string][]broker.Rule{
		{"c1": {rule("a", broker.ActionPublish, broker.Allow)}, "c2": {}},
		{"": {rule("#", broker.ActionAll, broker.Deny)}},
	}
	if diff := cmp.Diff(want, []map[string][]broker.Rule{clients, all}); diff != "" {
		t.Errorf("ListRules mismatch (-want +got):\n%s", diff)
	}
}
