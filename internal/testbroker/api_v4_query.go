package testbroker

import (
	"net/url"
	"strconv"
	"strings"
)

// v4 list filters, as emqx_mgmt_api:params2qs/2 (EMQX 4.4) turns a query
// string into clauses. Every v4 list handler passes it a schema naming the
// filters it knows and their types; other keys are ignored. The rules a
// double has to keep (docs/internals/emqx-api.md, "Pagination and list filters"):
//
//   - keys are read in query-string order and each value is converted to
//     its type; the first that does not convert throws
//     {bad_value_type,{Key,Type,Value}}, which only /clients catches;
//   - _gte_/_lte_ prefixes make range clauses, _like_ and _match_ fuzzy
//     ones;
//   - a fuzzy clause is dropped when an exact clause names the same field
//     (pick_params_to_qs/4), so clientid=a&_like_clientid=b means
//     clientid=a.

// queryPair is one key=value of a query string, decoded as cowboy's
// parse_qs does ('+' is a space).
type queryPair struct{ key, value string }

// queryPairs splits a raw query string into pairs, in order. Undecodable
// pairs are skipped: serveV4 has already refused such a query.
func queryPairs(raw string) []queryPair {
	var out []queryPair
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, queryPair{dk, dv})
	}
	return out
}

// Filter value types of the v4 query schemas (emqx_mgmt_api:to_type/2).
const (
	v4Binary    = "binary"
	v4Atom      = "atom"
	v4Integer   = "integer"
	v4Timestamp = "timestamp" // epoch seconds, compared in milliseconds
	v4IP        = "ip"        // dotted integers; anything else does not convert
)

// Clause operators.
const (
	opEq    = "="
	opLike  = "like"  // substring
	opMatch = "match" // MQTT topic filter
	opGTE   = ">="
	opLTE   = "=<"
)

// v4Prefixes turn a key into a field and an operator; a key without one is
// an exact filter.
var v4Prefixes = []struct{ prefix, op string }{
	{"_gte_", opGTE}, {"_lte_", opLTE}, {"_like_", opLike}, {"_match_", opMatch},
}

// v4Clause is one converted filter.
type v4Clause struct {
	field, op string
	value     string  // as sent
	num       int64   // integer: the value; timestamp: milliseconds
	ip        []int64 // ip: the dotted parts
}

// v4BadValue is the term params2qs throws for a value of the wrong type.
type v4BadValue struct{ key, typ, value string }

// thrown prints the term as minirest's 400 reply body shows it.
func (e *v4BadValue) thrown() string {
	return "{bad_value_type,{" + erlTerm(e.key) + "," + e.typ + "," + erlTerm(e.value) + "}}"
}

// clientsMessage is the code 108 text /clients makes of it
// (emqx_mgmt_api_clients:fence/1 formats the value with ~p).
func (e *v4BadValue) clientsMessage() string {
	return "Can't convert " + erlTerm(e.value) + " to " + e.typ + " type"
}

// v4Filters is the clauses of one list query.
type v4Filters []v4Clause

// parseV4Filters picks the schema's keys out of pairs and converts them.
func parseV4Filters(pairs []queryPair, schema map[string]string) (v4Filters, *v4BadValue) {
	var exact, fuzzy v4Filters
	for _, p := range pairs {
		typ, ok := schema[p.key]
		if !ok {
			continue
		}
		c := v4Clause{field: p.key, op: opEq, value: p.value}
		for _, pre := range v4Prefixes {
			if f, ok := strings.CutPrefix(p.key, pre.prefix); ok {
				c.field, c.op = f, pre.op
				break
			}
		}
		if !c.convert(typ) {
			return nil, &v4BadValue{key: p.key, typ: typ, value: p.value}
		}
		if c.op == opLike || c.op == opMatch {
			fuzzy = append(fuzzy, c)
		} else {
			exact = append(exact, c)
		}
	}
	for _, f := range fuzzy {
		if _, shadowed := exact.get(f.field, ""); !shadowed {
			exact = append(exact, f)
		}
	}
	return exact, nil
}

func (c *v4Clause) convert(typ string) bool {
	var err error
	switch typ {
	case v4Integer:
		c.num, err = strconv.ParseInt(c.value, 10, 64)
	case v4Timestamp:
		c.num, err = strconv.ParseInt(c.value, 10, 64)
		c.num *= 1000
	case v4IP:
		for _, part := range strings.Split(c.value, ".") {
			n, perr := strconv.ParseInt(part, 10, 64)
			if perr != nil {
				return false
			}
			c.ip = append(c.ip, n)
		}
	}
	return err == nil
}

// get returns the first clause on field with op ("" for any operator).
func (fs v4Filters) get(field, op string) (v4Clause, bool) {
	for _, c := range fs {
		if c.field == field && (op == "" || c.op == op) {
			return c, true
		}
	}
	return v4Clause{}, false
}

// all reports whether every clause holds for an item.
func (fs v4Filters) all(match func(v4Clause) bool) bool {
	for _, c := range fs {
		if !match(c) {
			return false
		}
	}
	return true
}

// matchLogin applies an exact or _like_ clause to a user or ACL login.
func (c v4Clause) matchLogin(name string) bool {
	if c.op == opLike {
		return strings.Contains(name, c.value)
	}
	return name == c.value
}

// compare applies a range or equality clause to a number.
func (c v4Clause) compare(n int64) bool {
	switch c.op {
	case opGTE:
		return n >= c.num
	case opLTE:
		return n <= c.num
	}
	return n == c.num
}

// sameIP reports whether a textual address equals an ip clause's parts.
func (c v4Clause) sameIP(addr string) bool {
	parts := strings.Split(addr, ".")
	if len(parts) != len(c.ip) {
		return false
	}
	for i, p := range parts {
		if n, err := strconv.ParseInt(p, 10, 64); err != nil || n != c.ip[i] {
			return false
		}
	}
	return true
}
