package testbroker

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// v4call is one /api/v4 request after routing and body parsing.
type v4call struct {
	r     *http.Request
	vars  map[string]string // percent-decoded once; '+' stays '+'
	query url.Values        // form-decoded: '+' is a space
	pairs []queryPair       // the same, in order, for list filters
	// params is what an EMQX 4 handler sees for an object body: the body's
	// keys with the query string's pairs taking precedence.
	params map[string]any
	// list is true when the handler would see a bare list: a JSON array body
	// without a query string, or no body and no query at all (which Erlang
	// cannot tell from "[]").
	list  bool
	items []any
}

type v4route struct {
	method  string
	pattern []string
	descr   string
	handle  func(*Broker, *v4call) response
}

func (rt v4route) name() string {
	if len(rt.pattern) == 0 {
		return "/"
	}
	s := ""
	for _, p := range rt.pattern {
		s += "/" + p
	}
	return s
}

var v4routes []v4route

func v4handle(method, pattern, descr string, h func(*Broker, *v4call) response) {
	v4routes = append(v4routes, v4route{method: method, pattern: splitPattern(pattern), descr: descr, handle: h})
}

// Envelope helpers (minirest 0.3): every handler outcome is HTTP 200 JSON.
func v4OK() response           { return jsonResp(http.StatusOK, map[string]any{"code": 0}) }
func v4Data(d any) response    { return jsonResp(http.StatusOK, map[string]any{"code": 0, "data": d}) }
func v4Uncoded(m any) response { return jsonResp(http.StatusOK, map[string]any{"message": m}) }
func v4Err(code int, m string) response {
	return jsonResp(http.StatusOK, map[string]any{"code": code, "message": m})
}
func v4Paged(d any, meta map[string]any) response {
	return jsonResp(http.StatusOK, map[string]any{"code": 0, "data": d, "meta": meta})
}

// Framework-level replies are text/plain, never JSON.
func v4Internal() response { return textResp(http.StatusInternalServerError, "Internal Error") }
func v4NotFound() response { return textResp(http.StatusNotFound, "Not found.") }

func v4Unauthorized() response {
	return response{status: http.StatusUnauthorized, body: []byte("UNAUTHORIZED")}.
		with("WWW-Authenticate", `Basic Realm="minirest-server"`)
}

// serveV4 authenticates, routes on the raw path, parses the body and runs
// the handler, turning a handler panic into minirest's 500 reply.
func (b *Broker) serveV4(r *http.Request, rawPath string) (resp response) {
	if !b.basicAuthOK(r) {
		return v4Unauthorized()
	}
	segs := splitNonEmpty(rawPath)[2:]
	var rt *v4route
	var vars map[string]string
	for i := range v4routes {
		if v4routes[i].method != r.Method {
			continue
		}
		if v, ok := matchPattern(v4routes[i].pattern, segs); ok {
			rt, vars = &v4routes[i], v
			break
		}
	}
	if rt == nil {
		return v4NotFound()
	}
	b.prom.observe("v4", r.Method, rt.pattern)
	c := &v4call{r: r, vars: map[string]string{}, params: map[string]any{}}
	for k, v := range vars {
		d, err := url.PathUnescape(v)
		if err != nil {
			return emptyResp(http.StatusBadRequest)
		}
		c.vars[k] = d
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return emptyResp(http.StatusBadRequest)
	}
	c.query, c.pairs = q, queryPairs(r.URL.RawQuery)
	body, err := readBody(r)
	if err != nil {
		return textResp(http.StatusBadRequest, "Bad Request")
	}
	if resp, ok := c.parseBody(body); !ok {
		return resp
	}
	defer func() {
		if p := recover(); p != nil {
			b.log.Error("v4 handler crashed", "path", rawPath, "panic", fmt.Sprint(p))
			resp = v4Internal()
		}
	}()
	return rt.handle(b, c)
}

func (c *v4call) parseBody(body []byte) (response, bool) {
	hasQuery := len(c.query) > 0
	if len(body) == 0 {
		c.list = !hasQuery
		for k := range c.query {
			c.params[k] = c.query.Get(k)
		}
		return response{}, true
	}
	v, err := decodeJSON(body)
	if err != nil {
		return textResp(http.StatusBadRequest, "Bad Request"), false
	}
	switch t := v.(type) {
	case map[string]any:
		c.params = t
	case []any:
		if !hasQuery {
			c.list, c.items = true, t
		}
		// With a query string the handler sees the first query pair where it
		// expects the list, takes the single-item path and finds only the
		// query's keys.
	}
	for k := range c.query {
		c.params[k] = c.query.Get(k)
	}
	return response{}, true
}

// v4Paging parses _page and _limit; anything but a decimal integer (or a
// value below 1) crashes the EMQX handler, hence ok=false means 500.
func v4Paging(q url.Values, defLimit int) (page, limit int, ok bool) {
	page, limit = 1, defLimit
	if s, has := firstQuery(q, "_page"); has {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil || n < 1 {
			return 0, 0, false
		}
		page = int(n)
	}
	if s, has := firstQuery(q, "_limit"); has {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil || n < 1 {
			return 0, 0, false
		}
		limit = int(n)
	}
	return page, limit, true
}

// v4Meta is the auth/clients/subscriptions page meta (with hasnext).
func v4Meta(page, limit, count int, hasnext bool) map[string]any {
	return map[string]any{"page": page, "limit": limit, "count": count, "hasnext": hasnext}
}

// jsonish renders a JSON value the way EMQX echoes parameters back.
func jsonish(v any) any {
	if n, ok := v.(json.Number); ok {
		if i, err := n.Int64(); err == nil {
			return i
		}
		if f, err := n.Float64(); err == nil {
			return f
		}
	}
	return v
}

func init() {
	v4handle("GET", "", "List API routes", (*Broker).v4Routes)
}

func (b *Broker) v4Routes(*v4call) response {
	out := make([]map[string]any, 0, len(v4routes))
	for _, rt := range v4routes {
		out = append(out, map[string]any{"name": rt.name(), "method": rt.method, "path": rt.name(), "descr": rt.descr})
	}
	return v4Data(out)
}
