package testbroker

import (
	"net/http"
	"strings"
)

// Built-in database authorization source (emqx_authz_api_mnesia in EMQX 5.8).

const (
	authzRules = "authorization/sources/built_in_database/rules"
	maxRules   = 100
)

func init() {
	v5handle("GET", "authorization/sources", false, (*Broker).v5SourcesList)
	v5handle("POST", "authorization/sources", true, (*Broker).v5SourcesCreate)
	v5handle("GET", "authorization/sources/:type", false, (*Broker).v5SourceGet)
	v5handle("DELETE", authzRules, false, (*Broker).v5RulesPurge)
	v5handle("GET", authzRules+"/all", false, (*Broker).v5AllGet)
	v5handle("POST", authzRules+"/all", true, (*Broker).v5AllSet)
	v5handle("DELETE", authzRules+"/all", false, (*Broker).v5AllDelete)
	for _, k := range []string{kindUsername, kindClientID} {
		coll := authzRules + "/" + v5Collection(k)
		v5handle("GET", coll, false, v5RulesList(k))
		v5handle("POST", coll, true, v5RulesCreate(k))
		v5handle("GET", coll+"/:name", false, v5RulesGet(k))
		v5handle("PUT", coll+"/:name", true, v5RulesPut(k))
		v5handle("DELETE", coll+"/:name", false, v5RulesDelete(k))
	}
	v5handle("DELETE", "authorization/cache", false, (*Broker).v5CacheClearAll)
}

// v5Collection is the URL word for a principal kind: users or clients.
func v5Collection(kind string) string {
	if kind == kindUsername {
		return "users"
	}
	return "clients"
}

func sourceJSON() map[string]any {
	return map[string]any{"type": "built_in_database", "enable": true, "max_rules": maxRules}
}

func (b *Broker) v5SourcesList(*v5call) response {
	return v5JSON(http.StatusOK, map[string]any{"sources": []any{sourceJSON()}})
}

func (b *Broker) v5SourcesCreate(c *v5call) response {
	obj, resp, ok := c.object()
	if !ok {
		return resp
	}
	if t, _ := str(obj["type"]); t == "built_in_database" {
		return v5BadRequest("duplicated_authz_source_type")
	}
	return v5BadRequest("testbroker supports only the built_in_database authorization source")
}

func (b *Broker) v5SourceGet(c *v5call) response {
	if c.vars["type"] != "built_in_database" {
		return v5Err(http.StatusNotFound, "NOT_FOUND", "Not found: "+c.vars["type"])
	}
	return v5JSON(http.StatusOK, sourceJSON())
}

func (b *Broker) v5RulesPurge(*v5call) response {
	return v5BadRequest("'built_in_database' type source must be disabled before purge.")
}

// parseV5Rule validates one rule object against the API schema and keeps
// what emqx_authz_rule_raw:parse_rule/1 keeps. pub and sub are refused here
// although EMQX's storage layer would understand them.
func parseV5Rule(v any, path string) (rule, response, bool) {
	obj, ok := v.(map[string]any)
	if !ok {
		return rule{}, v5SchemaErr(path, "expected an object"), false
	}
	r := rule{retain: "all"}
	if r.topic, ok = str(obj["topic"]); !ok {
		return rule{}, v5SchemaErr(path+".topic", "required_field"), false
	}
	if r.permission, _ = str(obj["permission"]); r.permission != "allow" && r.permission != "deny" {
		return rule{}, v5SchemaErr(path+".permission", "unable_to_convert_to_enum_symbol"), false
	}
	if r.action, _ = str(obj["action"]); r.action != actPublish && r.action != actSubscribe && r.action != actAll {
		return rule{}, v5SchemaErr(path+".action", "unable_to_convert_to_enum_symbol"), false
	}
	if q, has := obj["qos"]; has {
		list, isList := q.([]any)
		if !isList {
			list = []any{q}
		}
		r.qos = []int{}
		for _, e := range list {
			n, isInt := intOf(e)
			if !isInt || n < 0 || n > 2 {
				return rule{}, v5SchemaErr(path+".qos", "bad qos"), false
			}
			r.qos = append(r.qos, int(n))
		}
	}
	if rv, has := obj["retain"]; has {
		switch t := rv.(type) {
		case bool:
			r.retain = "false"
			if t {
				r.retain = "true"
			}
		case string:
			if t != "all" && t != "true" && t != "false" {
				return rule{}, v5SchemaErr(path+".retain", "bad retain"), false
			}
			r.retain = t
		default:
			return rule{}, v5SchemaErr(path+".retain", "bad retain"), false
		}
	}
	if r.action == actSubscribe {
		// Retain means nothing to a subscription: the storage parser keeps
		// only qos for it and reads it back with the default, "all".
		r.retain = "all"
	}
	return r, response{}, true
}

// parseV5Rules validates a rules array; present=false means the key was absent.
func parseV5Rules(obj map[string]any, path string) (rules []rule, present bool, resp response, ok bool) {
	raw, present := obj["rules"]
	if !present {
		return nil, false, response{}, true
	}
	arr, isArr := raw.([]any)
	if !isArr {
		return nil, true, v5SchemaErr(path+".rules", "expected an array"), false
	}
	rules = make([]rule, 0, len(arr))
	for _, e := range arr {
		r, resp, ok := parseV5Rule(e, path+".rules")
		if !ok {
			return nil, true, resp, false
		}
		rules = append(rules, r)
	}
	return rules, true, response{}, true
}

// v5RuleJSON renders a rule; qos and retain are filled in even for rules
// written without them (and even for v4 rules).
func v5RuleJSON(r rule) map[string]any {
	qos := r.qos
	if qos == nil {
		qos = []int{0, 1, 2}
	}
	var retain any = "all"
	switch r.retain {
	case "true":
		retain = true
	case "false":
		retain = false
	}
	return map[string]any{"topic": r.topic, "permission": r.permission, "action": r.action, "qos": qos, "retain": retain}
}

func v5RulesJSON(rules []rule) []map[string]any {
	out := make([]map[string]any, 0, len(rules))
	for _, r := range rules {
		out = append(out, v5RuleJSON(r))
	}
	return out
}

func v5Noun(kind string) string {
	if kind == kindUsername {
		return "User"
	}
	return "Client"
}

func v5RulesList(kind string) func(*Broker, *v5call) response {
	return func(b *Broker, c *v5call) response {
		page, limit, resp, ok := v5Paging(c.query)
		if !ok {
			return resp
		}
		like, hasLike := firstQuery(c.query, "like_"+kind)
		var rows []map[string]any
		for _, pr := range b.store.listRules(kind) {
			if hasLike && !strings.Contains(pr.p.name, like) {
				continue
			}
			rows = append(rows, map[string]any{kind: pr.p.name, "rules": v5RulesJSON(pr.rules)})
		}
		return v5Page(rows, page, limit, !hasLike)
	}
}

// v5RulesCreate is create-only for the whole batch: if any principal already
// has an entry, nothing is written.
func v5RulesCreate(kind string) func(*Broker, *v5call) response {
	return func(b *Broker, c *v5call) response {
		arr, resp, ok := c.array()
		if !ok {
			return resp
		}
		batch := make([]principalRules, 0, len(arr))
		for _, e := range arr {
			obj, isObj := e.(map[string]any)
			if !isObj {
				return v5SchemaErr("", "expected an object")
			}
			name, isStr := str(obj[kind])
			if !isStr {
				return v5SchemaErr(kind, "required_field")
			}
			rules, present, resp, ok := parseV5Rules(obj, kind)
			if !ok {
				return resp
			}
			if !present {
				return v5Internal("{badkey,<<\"rules\">>}")
			}
			batch = append(batch, principalRules{p: principal{kind: kind, name: name}, rules: rules})
		}
		for _, pr := range batch {
			if len(pr.rules) > maxRules {
				return v5BadRequest("The rules length of " + v5Noun(kind) + " '" + pr.p.name + "' exceeds the maximum limit.")
			}
		}
		if existing, ok := b.store.v5CreateRules(batch); !ok {
			return v5Err(http.StatusConflict, "ALREADY_EXISTS", v5Noun(kind)+" '"+existing.name+"' already exist")
		}
		return v5NoContent()
	}
}

func v5RulesGet(kind string) func(*Broker, *v5call) response {
	return func(b *Broker, c *v5call) response {
		name := c.vars["name"]
		rules, ok := b.store.rulesOf(principal{kind: kind, name: name})
		if !ok {
			return v5Err(http.StatusNotFound, "NOT_FOUND", "Not Found")
		}
		return v5JSON(http.StatusOK, map[string]any{kind: name, "rules": v5RulesJSON(rules)})
	}
}

// v5RulesPut replaces a principal's whole list (creating it if absent). A
// body naming another principal matches no handler clause in EMQX: 500.
func v5RulesPut(kind string) func(*Broker, *v5call) response {
	return func(b *Broker, c *v5call) response {
		obj, resp, ok := c.object()
		if !ok {
			return resp
		}
		rules, present, resp, ok := parseV5Rules(obj, "")
		if !ok {
			return resp
		}
		name := c.vars["name"]
		if bodyName, _ := str(obj[kind]); bodyName != name || !present {
			return v5Internal("function_clause")
		}
		if len(rules) > maxRules {
			return v5BadRequest("The rules length exceeds the maximum limit.")
		}
		b.store.v5PutRules(principal{kind: kind, name: name}, rules)
		return v5NoContent()
	}
}

func v5RulesDelete(kind string) func(*Broker, *v5call) response {
	return func(b *Broker, c *v5call) response {
		if !b.store.deleteRules(principal{kind: kind, name: c.vars["name"]}) {
			msg := "Username Not Found"
			if kind == kindClientID {
				msg = "ClientID Not Found"
			}
			return v5Err(http.StatusNotFound, "NOT_FOUND", msg)
		}
		return v5NoContent()
	}
}

func (b *Broker) v5AllGet(*v5call) response {
	rules, _ := b.store.rulesOf(principal{kind: kindAll})
	return v5JSON(http.StatusOK, map[string]any{"rules": v5RulesJSON(rules)})
}

func (b *Broker) v5AllSet(c *v5call) response {
	obj, resp, ok := c.object()
	if !ok {
		return resp
	}
	rules, present, resp, ok := parseV5Rules(obj, "")
	if !ok {
		return resp
	}
	if !present {
		return v5Internal("function_clause")
	}
	if len(rules) > maxRules {
		return v5BadRequest("The length of rules exceeds the maximum limit.")
	}
	b.store.v5PutRules(principal{kind: kindAll}, rules)
	return v5NoContent()
}

func (b *Broker) v5AllDelete(*v5call) response {
	b.store.deleteRules(principal{kind: kindAll})
	return v5NoContent()
}

func (b *Broker) v5CacheClearAll(*v5call) response {
	b.clearAllAuthzCaches()
	return v5NoContent()
}
