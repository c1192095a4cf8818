package testbroker

import (
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// v5call is one /api/v5 request after routing and body parsing.
type v5call struct {
	r     *http.Request
	vars  map[string]string // decoded by the router, as cowboy does
	query url.Values
	body  any // decoded JSON for routes with a request body
	ctype string
}

type v5route struct {
	method    string
	pattern   []string
	body      bool // the route has a JSON request body schema (415 applies)
	multipart bool // multipart/form-data is also accepted
	public    bool // no authentication
	handle    func(*Broker, *v5call) response
}

var v5routes []v5route

func v5handle(method, pattern string, body bool, h func(*Broker, *v5call) response) {
	v5routes = append(v5routes, v5route{method: method, pattern: splitPattern(pattern), body: body, handle: h})
}

// Envelope helpers: real status codes, {"code":"STRING","message"} errors.
func v5JSON(status int, v any) response { return jsonResp(status, v) }
func v5NoContent() response             { return emptyResp(http.StatusNoContent) }
func v5Err(status int, code, msg string) response {
	return jsonResp(status, map[string]any{"code": code, "message": msg})
}
func v5BadRequest(msg string) response { return v5Err(http.StatusBadRequest, "BAD_REQUEST", msg) }

// v5SchemaErr imitates the machine-generated text of a schema failure.
// Callers must not match on it, exactly as with EMQX.
func v5SchemaErr(field, reason string) response {
	return v5BadRequest(fmt.Sprintf(`{"kind":"validation_error","path":%q,"reason":%q}`, field, reason))
}

func v5Internal(reason string) response {
	return v5Err(http.StatusInternalServerError, "INTERNAL_ERROR", "error, "+reason+", []")
}

func v5Unauthorized(code, msg string) response {
	return v5Err(http.StatusUnauthorized, code, msg).with("WWW-Authenticate", `Basic Realm="emqx-dashboard"`)
}

// notFoundV5 is the dashboard's 404, whose body depends on Accept.
func notFoundV5(r *http.Request) response {
	accept := r.Header.Get("Accept")
	switch {
	case strings.Contains(accept, "application/json"):
		return v5Err(http.StatusNotFound, "NOT_FOUND", "Request Path Not Found")
	case strings.Contains(accept, "text/plain"):
		return textResp(http.StatusNotFound, "404 - NOT FOUND")
	}
	return response{status: http.StatusNotFound, ctype: "text/html",
		body: []byte("<html><head><title>404 - NOT FOUND</title></head><body><h1>404 - NOT FOUND</h1></body></html>")}
}

// v5Segments splits a raw path and percent-decodes every segment, like
// cowboy's router. A trailing slash is ignored; empty inner segments are
// kept (and so match nothing).
func v5Segments(rawPath string) ([]string, bool) {
	parts := strings.Split(strings.TrimPrefix(rawPath, "/"), "/")
	if n := len(parts); n > 0 && parts[n-1] == "" {
		parts = parts[:n-1]
	}
	for i, p := range parts {
		d, err := url.PathUnescape(p)
		if err != nil {
			return nil, false
		}
		parts[i] = d
	}
	return parts, true
}

func (b *Broker) serveV5(r *http.Request, rawPath string) (resp response) {
	segs, ok := v5Segments(rawPath)
	if !ok {
		return emptyResp(http.StatusBadRequest)
	}
	segs = segs[2:]
	var chosen []string
	var rt *v5route
	var vars map[string]string
	var allow []string
	for i := range v5routes {
		cand := &v5routes[i]
		if chosen != nil && !slices.Equal(cand.pattern, chosen) {
			continue
		}
		v, ok := matchPattern(cand.pattern, segs)
		if !ok {
			continue
		}
		chosen = cand.pattern
		allow = append(allow, cand.method)
		if cand.method == r.Method && rt == nil {
			rt, vars = cand, v
		}
	}
	if chosen == nil {
		return notFoundV5(r)
	}
	if rt == nil {
		return emptyResp(http.StatusMethodNotAllowed).with("Allow", strings.Join(allow, ", "))
	}
	b.prom.observe("v5", r.Method, rt.pattern)
	if !rt.public {
		if resp, ok := b.v5Authenticate(r); !ok {
			return resp
		}
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return v5BadRequest("invalid query string")
	}
	c := &v5call{r: r, vars: vars, query: q}
	if rt.body {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		c.ctype = mt
		switch {
		case mt == "application/json":
			raw, err := readBody(r)
			if err != nil {
				return v5BadRequest("Invalid json message received")
			}
			if c.body, err = decodeJSON(raw); err != nil {
				return v5BadRequest("Invalid json message received")
			}
		case rt.multipart && mt == "multipart/form-data":
		default:
			return v5Err(http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "content-type:application/json Required")
		}
	}
	defer func() {
		if p := recover(); p != nil {
			b.log.Error("v5 handler crashed", "path", rawPath, "panic", fmt.Sprint(p))
			resp = v5Internal(fmt.Sprint(p))
		}
	}()
	return rt.handle(b, c)
}

// v5Authenticate accepts HTTP Basic with the API key and secret.
func (b *Broker) v5Authenticate(r *http.Request) (response, bool) {
	h := r.Header.Get("Authorization")
	scheme, _, _ := strings.Cut(h, " ")
	switch strings.ToLower(scheme) {
	case "basic":
		if b.basicAuthOK(r) {
			return response{}, true
		}
		return v5Unauthorized("BAD_API_KEY_OR_SECRET", "Check api_key/api_secret"), false
	case "bearer":
		return v5Unauthorized("BAD_TOKEN", "Get a token by POST /login"), false
	}
	return v5Unauthorized("AUTHORIZATION_HEADER_ERROR", "Support authorization: basic/bearer "), false
}

// v5Paging parses page (>= 1, default 1) and limit (1..10000, default 100).
func v5Paging(q url.Values) (page, limit int, resp response, ok bool) {
	page, limit = 1, 100
	if s, has := firstQuery(q, "page"); has {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return 0, 0, v5SchemaErr("page", "bad page"), false
		}
		page = n
	}
	if s, has := firstQuery(q, "limit"); has {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			return 0, 0, v5SchemaErr("limit", "bad limit"), false
		}
		limit = n
	}
	return page, limit, response{}, true
}

// v5Meta builds a page meta; count is left out when a fuzzy filter was used.
func v5Meta(page, limit, count int, hasnext, withCount bool) map[string]any {
	m := map[string]any{"page": page, "limit": limit, "hasnext": hasnext}
	if withCount {
		m["count"] = count
	}
	return m
}

// v5Page slices rows and builds the list body.
func v5Page[T any](rows []T, page, limit int, withCount bool) response {
	start, end, hasnext := pageSlice(len(rows), page, limit)
	data := rows[start:end]
	if data == nil {
		data = []T{}
	}
	return v5JSON(http.StatusOK, map[string]any{"data": data, "meta": v5Meta(page, limit, len(rows), hasnext, withCount)})
}

// object returns the body as a JSON object or a schema error.
func (c *v5call) object() (map[string]any, response, bool) {
	obj, ok := c.body.(map[string]any)
	if !ok {
		return nil, v5SchemaErr("", "expected an object"), false
	}
	return obj, response{}, true
}

// strictObject is object for a schema that refuses unknown fields, as
// hocon's struct check does: a key outside fields is a 400 BAD_REQUEST.
func (c *v5call) strictObject(fields ...string) (map[string]any, response, bool) {
	obj, resp, ok := c.object()
	if !ok {
		return nil, resp, false
	}
	var unknown []string
	for k := range obj {
		if !slices.Contains(fields, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, v5SchemaErr(strings.Join(unknown, ","), "unknown_fields"), false
	}
	return obj, response{}, true
}

// array returns the body as a JSON array or a schema error.
func (c *v5call) array() ([]any, response, bool) {
	arr, ok := c.body.([]any)
	if !ok {
		return nil, v5SchemaErr("", "expected an array"), false
	}
	return arr, response{}, true
}

// v5Fuzzy returns a fuzzy filter (like_<field>, match_<field>) unless an
// exact filter on the same field overrides it: emqx_mgmt_api's
// do_parse_qstring/4 drops such a clause.
func v5Fuzzy(q url.Values, key string) (string, bool) {
	field := strings.TrimPrefix(strings.TrimPrefix(key, "like_"), "match_")
	if _, exact := q[field]; exact {
		return "", false
	}
	return firstQuery(q, key)
}

// queryBool parses an optional boolean query parameter.
func queryBool(q url.Values, key string) (bool, bool, bool) {
	s, has := firstQuery(q, key)
	if !has {
		return false, false, true
	}
	switch s {
	case "true":
		return true, true, true
	case "false":
		return false, true, true
	}
	return false, true, false
}
