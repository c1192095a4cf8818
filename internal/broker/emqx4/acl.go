package emqx4

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/internal/emqxapi"
)

// wireRule is one stored v4 rule. created_at is not in the 4.4 replies but
// is used when a broker sends it.
type wireRule struct {
	Username  string      `json:"username"`
	ClientID  string      `json:"clientid"`
	Topic     string      `json:"topic"`
	Action    string      `json:"action"`
	Access    string      `json:"access"`
	CreatedAt emqxapi.Int `json:"created_at"`
}

func (w wireRule) rule() broker.Rule {
	return broker.Rule{Topic: w.Topic, Action: actionFromWire(w.Action), Permission: broker.Permission(w.Access)}
}

func actionFromWire(a string) broker.Action {
	switch a {
	case "pub":
		return broker.ActionPublish
	case "sub":
		return broker.ActionSubscribe
	case "pubsub":
		return broker.ActionAll
	}
	return broker.Action(a) // already a domain name, or something new to report as is
}

func actionToWire(a broker.Action) string {
	switch a {
	case broker.ActionPublish:
		return "pub"
	case broker.ActionSubscribe:
		return "sub"
	case broker.ActionAll:
		return "pubsub"
	}
	return string(a)
}

// subjectRoute is the path of a subject's rules and the JSON field that
// names its login ("" for $all, which is sent without one).
func subjectRoute(op string, s broker.Subject) (segments []string, field string, err error) {
	switch s.Kind {
	case broker.ByUsername, broker.ByClientID:
		if s.Name == "" {
			return nil, "", invalid(op, string(s.Kind)+" subject needs a name")
		}
		return []string{"acl", string(s.Kind), s.Name}, string(s.Kind), nil
	case broker.ByAll:
		return []string{"acl", "$all"}, "", nil
	}
	return nil, "", unsupported(op, "unknown ACL subject kind "+string(s.Kind))
}

// sortStored orders rules newest first when every one carries created_at
// (stable, so pubsub halves keep the broker's order); otherwise the broker's
// order, newest first, is kept.
func sortStored(ws []wireRule) {
	for _, w := range ws {
		if !w.CreatedAt.Valid {
			return
		}
	}
	sort.SliceStable(ws, func(i, j int) bool { return ws[i].CreatedAt.V > ws[j].CreatedAt.V })
}

func rulesOf(ws []wireRule) []broker.Rule {
	out := make([]broker.Rule, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.rule())
	}
	return out
}

// stored reads a subject's rules as the broker keeps them: one per action,
// newest first.
func (c *Client) stored(ctx context.Context, op string, s broker.Subject) ([]broker.Rule, error) {
	segs, _, err := subjectRoute(op, s)
	if err != nil {
		return nil, err
	}
	var ws []wireRule
	if s.Kind == broker.ByAll {
		ws, err = listAll(ctx, c, op, emqxapi.Path(segs...), nil, decodeList[wireRule])
	} else {
		var env *envelope
		env, err = c.call(ctx, op, http.MethodGet, emqxapi.Path(segs...), nil, nil)
		if err == nil {
			err = decodeData(op, env, &ws)
		}
	}
	if err != nil {
		return nil, err
	}
	sortStored(ws)
	return rulesOf(ws), nil
}

// GetRules returns the subject's rules newest first, which is v4's
// evaluation order, in canonical form (a publish/subscribe pair that
// "all" was split into reads back as one "all" rule).
func (c *Client) GetRules(ctx context.Context, s broker.Subject) ([]broker.Rule, error) {
	rules, err := c.stored(ctx, "GetRules", s)
	if err != nil {
		return nil, err
	}
	return broker.CanonicalRules(rules), nil
}

// ListRules reads every page of one kind's rules. The broker sorts only
// within a page, so a login whose rules straddle pages is re-read on its
// own unless the broker sends created_at.
func (c *Client) ListRules(ctx context.Context, kind broker.IdentityKind) (map[string][]broker.Rule, error) {
	const op = "ListRules"
	if kind == broker.ByAll {
		rules, err := c.stored(ctx, op, broker.Subject{Kind: broker.ByAll})
		if err != nil {
			return nil, err
		}
		out := map[string][]broker.Rule{}
		if len(rules) > 0 {
			out[""] = broker.CanonicalRules(rules)
		}
		return out, nil
	}
	segs, _, err := subjectRoute(op, broker.Subject{Kind: kind, Name: "x"})
	if err != nil {
		return nil, err
	}
	segs = segs[:2]
	pages, err := listPages(ctx, c, op, emqxapi.Path(segs...), nil, decodeList[wireRule])
	if err != nil {
		return nil, err
	}
	byLogin, split := groupByLogin(kind, pages)
	out := make(map[string][]broker.Rule, len(byLogin))
	for login, ws := range byLogin {
		sortStored(ws)
		if split[login] && !ws[0].CreatedAt.Valid && login != "" {
			rules, err := c.GetRules(ctx, broker.Subject{Kind: kind, Name: login})
			if err != nil {
				return nil, err
			}
			out[login] = rules
			continue
		}
		out[login] = broker.CanonicalRules(rulesOf(ws))
	}
	return out, nil
}

// groupByLogin collects listed rules by login, and tells which logins have
// rules on more than one page.
func groupByLogin(kind broker.IdentityKind, pages [][]wireRule) (byLogin map[string][]wireRule, split map[string]bool) {
	byLogin, split = map[string][]wireRule{}, map[string]bool{}
	lastPage := map[string]int{}
	for i, items := range pages {
		page := i + 1
		for _, w := range items {
			login := w.Username
			if kind == broker.ByClientID {
				login = w.ClientID
			}
			if p, seen := lastPage[login]; seen && p != page {
				split[login] = true
			}
			lastPage[login] = page
			byLogin[login] = append(byLogin[login], w)
		}
	}
	return byLogin, split
}

// ReplaceRules makes the subject's stored rules evaluate like rules; see
// the package documentation for how, and where v4 falls short of the order.
func (c *Client) ReplaceRules(ctx context.Context, s broker.Subject, rules []broker.Rule) error {
	const op = "ReplaceRules"
	segs, field, err := subjectRoute(op, s)
	if err != nil {
		return err
	}
	if err := validateRules(op, rules); err != nil {
		return err
	}
	current, err := c.stored(ctx, op, s)
	if err != nil {
		return err
	}
	p := planReplace(current, broker.CanonicalRules(rules))
	for _, topic := range p.deleteTopics {
		if _, err := c.call(ctx, op, http.MethodDelete, emqxapi.Path(append(segs, "topic", topic)...), nil, nil); err != nil {
			return err
		}
	}
	for i, r := range p.inserts {
		if i > 0 && !pause(ctx, c.gap) {
			return &broker.Error{Op: op, Class: broker.ClassTransient, Message: "interrupted while writing rules", Err: ctx.Err()}
		}
		if err := c.insert(ctx, op, field, s.Name, r); err != nil {
			return err
		}
	}
	return nil
}

func (c *Client) insert(ctx context.Context, op, field, login string, r broker.Rule) error {
	body := map[string]string{"topic": r.Topic, "action": actionToWire(r.Action), "access": string(r.Permission)}
	if field != "" {
		body[field] = login
	}
	env, err := c.call(ctx, op, http.MethodPost, emqxapi.Path("acl"), nil, body)
	if err != nil {
		return err
	}
	// A single add reports failure through an uncoded message; a result
	// field other than "ok" is checked too in case a version sets code 0.
	var res struct {
		Result string `json:"result"`
	}
	if json.Unmarshal(env.Data, &res) == nil && res.Result != "" && res.Result != "ok" {
		reason, _, class := broker.V4Uncoded(res.Result)
		return &broker.Error{Op: op, Class: class, HTTPStatus: http.StatusOK, Message: res.Result, ReasonOverride: reason}
	}
	return nil
}

// DeleteRules removes every topic of the subject; missing rules are fine.
func (c *Client) DeleteRules(ctx context.Context, s broker.Subject) error {
	const op = "DeleteRules"
	if s.Kind != broker.ByAll && s.Name == "" {
		return nil // nothing can be stored under an empty login
	}
	segs, _, err := subjectRoute(op, s)
	if err != nil {
		return err
	}
	current, err := c.stored(ctx, op, s)
	if err != nil {
		return err
	}
	for _, topic := range planReplace(current, nil).deleteTopics {
		if _, err := c.call(ctx, op, http.MethodDelete, emqxapi.Path(append(segs, "topic", topic)...), nil, nil); err != nil {
			return err
		}
	}
	return nil
}

func validateRules(op string, rules []broker.Rule) error {
	if err := broker.ValidateRules(rules); err != nil {
		return invalid(op, err.Error())
	}
	return nil
}

func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
