package emqx5

import (
	"context"
	"net/http"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/internal/emqxapi"
)

// wireRule is a v5 rule; qos and retain come back filled in and are ignored.
type wireRule struct {
	Topic      string `json:"topic"`
	Permission string `json:"permission"`
	Action     string `json:"action"`
}

type wireRules struct {
	Username string     `json:"username,omitempty"`
	ClientID string     `json:"clientid,omitempty"`
	Rules    []wireRule `json:"rules"`
}

func rulesPath(segments ...string) string {
	return emqxapi.Path(append([]string{"authorization", "sources", "built_in_database", "rules"}, segments...)...)
}

// collection is the rules route of a subject kind ("users", "clients", "all").
func collection(op string, kind broker.IdentityKind) (string, error) {
	switch kind {
	case broker.ByUsername:
		return "users", nil
	case broker.ByClientID:
		return "clients", nil
	case broker.ByAll:
		return "all", nil
	}
	return "", unsupported(op, "unknown ACL subject kind "+string(kind))
}

func subjectPath(op string, s broker.Subject) (string, error) {
	coll, err := collection(op, s.Kind)
	if err != nil {
		return "", err
	}
	if s.Kind == broker.ByAll {
		return rulesPath(coll), nil
	}
	if s.Name == "" {
		return "", invalid(op, string(s.Kind)+" subject needs a name")
	}
	return rulesPath(coll, s.Name), nil
}

func fromWire(ws []wireRule) []broker.Rule {
	out := make([]broker.Rule, 0, len(ws))
	for _, w := range ws {
		a := broker.Action(w.Action)
		switch w.Action { // the storage parser also knows the short names
		case "pub":
			a = broker.ActionPublish
		case "sub":
			a = broker.ActionSubscribe
		}
		out = append(out, broker.Rule{Topic: w.Topic, Action: a, Permission: broker.Permission(w.Permission)})
	}
	return out
}

func toWire(rs []broker.Rule) []wireRule {
	out := make([]wireRule, 0, len(rs))
	for _, r := range rs {
		out = append(out, wireRule{Topic: r.Topic, Permission: string(r.Permission), Action: string(r.Action)})
	}
	return out
}

// GetRules returns the subject's rules in stored order, which v5 evaluates
// in; a subject without an entry has none.
func (c *Client) GetRules(ctx context.Context, s broker.Subject) ([]broker.Rule, error) {
	const op = "GetRules"
	p, err := subjectPath(op, s)
	if err != nil {
		return nil, err
	}
	var w wireRules
	if _, err := c.call(ctx, op, http.MethodGet, p, nil, nil, &w); err != nil {
		if broker.IsNotFound(err) {
			return []broker.Rule{}, nil
		}
		return nil, err
	}
	return fromWire(w.Rules), nil
}

// ListRules reads every page of one kind's entries; ByAll is the single
// unpaged "all" list, keyed "" when it holds rules.
func (c *Client) ListRules(ctx context.Context, kind broker.IdentityKind) (map[string][]broker.Rule, error) {
	const op = "ListRules"
	coll, err := collection(op, kind)
	if err != nil {
		return nil, err
	}
	out := map[string][]broker.Rule{}
	if kind == broker.ByAll {
		var w wireRules
		if _, err := c.call(ctx, op, http.MethodGet, rulesPath(coll), nil, nil, &w); err != nil {
			return nil, err
		}
		if len(w.Rules) > 0 {
			out[""] = fromWire(w.Rules)
		}
		return out, nil
	}
	entries, err := list[wireRules](ctx, c, op, rulesPath(coll), nil)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		name := e.Username
		if kind == broker.ByClientID {
			name = e.ClientID
		}
		out[name] = fromWire(e.Rules)
	}
	return out, nil
}

// ReplaceRules writes the whole ordered list in one request (PUT for a
// user or client, POST for "all", both replace). An empty list deletes the
// entry rather than storing an empty one.
func (c *Client) ReplaceRules(ctx context.Context, s broker.Subject, rules []broker.Rule) error {
	const op = "ReplaceRules"
	p, err := subjectPath(op, s)
	if err != nil {
		return err
	}
	if err := validateRules(op, rules); err != nil {
		return err
	}
	if len(rules) == 0 {
		return c.DeleteRules(ctx, s)
	}
	body := wireRules{Rules: toWire(rules)}
	method := http.MethodPut
	switch s.Kind {
	case broker.ByUsername:
		body.Username = s.Name // must equal the path, or the broker fails with 500
	case broker.ByClientID:
		body.ClientID = s.Name
	case broker.ByAll:
		method = http.MethodPost
	}
	_, err = c.call(ctx, op, method, p, nil, body, nil)
	return err
}

// DeleteRules removes the subject's entry; a missing one (404) is fine.
func (c *Client) DeleteRules(ctx context.Context, s broker.Subject) error {
	const op = "DeleteRules"
	if s.Kind != broker.ByAll && s.Name == "" {
		return nil
	}
	p, err := subjectPath(op, s)
	if err != nil {
		return err
	}
	_, err = c.call(ctx, op, http.MethodDelete, p, nil, nil, nil)
	if broker.IsNotFound(err) {
		return nil
	}
	return err
}

func validateRules(op string, rules []broker.Rule) error {
	if err := broker.ValidateRules(rules); err != nil {
		return invalid(op, err.Error())
	}
	return nil
}
