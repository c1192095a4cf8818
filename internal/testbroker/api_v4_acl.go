package testbroker

import (
	"slices"
	"sort"
	"time"
)

// /acl (emqx_acl_mnesia_api in EMQX 4.4).

func init() {
	v4handle("POST", "acl", "Add ACL rules", (*Broker).v4ACLCreate)
	v4handle("GET", "acl/clientid", "List clientid ACL rules", v4ACLList(kindClientID))
	v4handle("GET", "acl/username", "List username ACL rules", v4ACLList(kindUsername))
	v4handle("GET", "acl/$all", "List $all ACL rules", v4ACLList(kindAll))
	v4handle("GET", "acl/clientid/:login", "Lookup a clientid's ACL rules", v4ACLGet(kindClientID))
	v4handle("GET", "acl/username/:login", "Lookup a username's ACL rules", v4ACLGet(kindUsername))
	v4handle("DELETE", "acl/clientid/:login/topic/:topic", "Delete a clientid's ACL rules for a topic", v4ACLDelete(kindClientID))
	v4handle("DELETE", "acl/username/:login/topic/:topic", "Delete a username's ACL rules for a topic", v4ACLDelete(kindUsername))
	v4handle("DELETE", "acl/$all/topic/:topic", "Delete $all ACL rules for a topic", v4ACLDelete(kindAll))
}

// v4ActionName renders a stored action with EMQX 4's names.
func v4ActionName(a string) string {
	switch a {
	case actPublish:
		return "pub"
	case actSubscribe:
		return "sub"
	}
	return "pubsub"
}

func lookup(obj map[string]any, key string) any {
	if v, ok := obj[key]; ok {
		return v
	}
	return erlMissing{}
}

// jsonValue renders a looked-up value for a JSON reply; jsx turns the atom
// undefined into the string "undefined".
func jsonValue(v any) any {
	if _, ok := v.(erlMissing); ok {
		return "undefined"
	}
	return jsonish(v)
}

// v4AddACL validates and stores one rule item. It returns the reply map with
// Erlang-side values, the failed field ("" on success) and whether the EMQX
// handler would have crashed (clientid and username both given).
func (b *Broker) v4AddACL(obj map[string]any) (map[string]any, string, bool) {
	_, hasC := obj["clientid"]
	_, hasU := obj["username"]
	if hasC && hasU {
		return nil, "", true
	}
	term := map[string]any{
		"topic":  lookup(obj, "topic"),
		"action": lookup(obj, "action"),
		"access": lookup(obj, "access"),
	}
	p := principal{kind: kindAll}
	loginOK := true
	switch {
	case hasC, hasU:
		key := kindClientID
		if hasU {
			key = kindUsername
		}
		term[key] = obj[key]
		name, ok := str(obj[key])
		loginOK = ok && name != ""
		p = principal{kind: key, name: name}
	default:
		term["all"] = "$all"
	}
	topic, topicOK := str(obj["topic"])
	topicOK = topicOK && topic != ""
	action, _ := str(obj["action"])
	access, _ := str(obj["access"])
	var actions []string
	switch action {
	case "pub":
		actions = []string{actPublish}
	case "sub":
		actions = []string{actSubscribe}
	case "pubsub":
		// Both halves get the same created_at, and lookups break the tie by
		// comparing whole records, newest "first": sub sorts before pub
		// (emqx_acl_mnesia_db:comparing/2).
		actions = []string{actSubscribe, actPublish}
	}
	failed := ""
	switch {
	case !loginOK:
		failed = "login"
	case !topicOK:
		failed = "topic"
	case actions == nil:
		failed = "action"
	case access != "allow" && access != "deny":
		failed = "access"
	}
	if failed != "" {
		term["result"] = "{error," + failed + "}"
		return term, failed, false
	}
	b.store.v4AddRules(p, actions, topic, access)
	term["result"] = "ok"
	return term, "", false
}

func termJSON(term map[string]any) map[string]any {
	out := make(map[string]any, len(term))
	for k, v := range term {
		out[k] = jsonValue(v)
	}
	return out
}

func (b *Broker) v4ACLCreate(c *v4call) response {
	if !c.list {
		term, failed, crash := b.v4AddACL(c.params)
		if crash {
			return v4Internal()
		}
		if failed != "" {
			return v4Uncoded("{add," + erlTerm(term) + "}")
		}
		return v4Data(termJSON(term))
	}
	if len(c.items) == 0 {
		return v4Internal()
	}
	out := make([]map[string]any, 0, len(c.items))
	for _, it := range c.items {
		obj, ok := it.(map[string]any)
		if !ok {
			return v4Internal()
		}
		term, _, crash := b.v4AddACL(obj)
		if crash {
			return v4Internal()
		}
		out = append(out, termJSON(term))
	}
	slices.Reverse(out) // EMQX accumulates the replies by prepending
	return v4Data(out)
}

type v4ACLRow struct {
	login   string
	rule    rule
	created time.Time
}

func v4ACLRowJSON(kind string, row v4ACLRow) map[string]any {
	m := map[string]any{"topic": row.rule.topic, "action": v4ActionName(row.rule.action), "access": row.rule.permission}
	if kind == kindAll {
		m["all"] = "$all"
	} else {
		m[kind] = row.login
	}
	return m
}

func v4ACLList(kind string) func(*Broker, *v4call) response {
	return func(b *Broker, c *v4call) response {
		schema := map[string]string{"topic": v4Binary, "action": v4Atom, "access": v4Atom}
		if kind != kindAll {
			schema[kind], schema["_like_"+kind] = v4Binary, v4Binary
		}
		fs, _ := parseV4Filters(c.pairs, schema)
		page, limit, ok := v4Paging(c.query, 50)
		if !ok {
			return v4Internal()
		}
		var rows []v4ACLRow
		for _, pr := range b.store.listRules(kind) {
			for _, r := range pr.rules {
				if fs.all(func(f v4Clause) bool { return f.matchACL(pr.p.name, r) }) {
					rows = append(rows, v4ACLRow{login: pr.p.name, rule: r, created: r.createdAt})
				}
			}
		}
		start, end, _ := pageSlice(len(rows), page, limit)
		pageRows := rows[start:end]
		sort.SliceStable(pageRows, func(i, j int) bool { return pageRows[i].created.After(pageRows[j].created) })
		data := make([]map[string]any, 0, len(pageRows))
		for _, row := range pageRows {
			data = append(data, v4ACLRowJSON(kind, row))
		}
		return v4Paged(data, map[string]any{"page": page, "limit": limit, "count": len(rows)})
	}
}

// matchACL applies one clause of an ACL list query to a rule of login.
func (c v4Clause) matchACL(login string, r rule) bool {
	switch c.field {
	case "topic":
		return r.topic == c.value
	case "action":
		return v4ActionName(r.action) == c.value
	case "access":
		return r.permission == c.value
	}
	return c.matchLogin(login)
}

func v4ACLGet(kind string) func(*Broker, *v4call) response {
	return func(b *Broker, c *v4call) response {
		login := c.vars["login"]
		rules, _ := b.store.rulesOf(principal{kind: kind, name: login})
		data := make([]map[string]any, 0, len(rules))
		for _, r := range rules {
			data = append(data, v4ACLRowJSON(kind, v4ACLRow{login: login, rule: r}))
		}
		return v4Data(data)
	}
}

func v4ACLDelete(kind string) func(*Broker, *v4call) response {
	return func(b *Broker, c *v4call) response {
		p := principal{kind: kind}
		if kind != kindAll {
			p.name = c.vars["login"]
		}
		b.store.v4DeleteTopic(p, c.vars["topic"])
		return v4OK()
	}
}
