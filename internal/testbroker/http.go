package testbroker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds request bodies; EMQX's own limit is of the same order.
const maxBody = 8 << 20

// response is a complete HTTP reply. Handlers return one so that faults,
// framework errors and handler outcomes are all written the same way.
type response struct {
	status int
	ctype  string // "" sends no Content-Type at all
	body   []byte
	header http.Header
}

func jsonResp(status int, v any) response {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// EMQX does not HTML-escape; keep printed Erlang terms like "=>" readable.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return textResp(http.StatusInternalServerError, "Internal Error")
	}
	return response{status: status, ctype: "application/json", body: bytes.TrimRight(buf.Bytes(), "\n")}
}

func textResp(status int, s string) response {
	return response{status: status, ctype: "text/plain", body: []byte(s)}
}

func emptyResp(status int) response {
	return response{status: status}
}

func (r response) with(key, value string) response {
	if r.header == nil {
		r.header = http.Header{}
	}
	r.header.Set(key, value)
	return r
}

func (r response) write(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range r.header {
		h[k] = v
	}
	if r.ctype == "" {
		h["Content-Type"] = nil // stop net/http from sniffing one
	} else {
		h.Set("Content-Type", r.ctype)
	}
	w.WriteHeader(r.status)
	if len(r.body) > 0 {
		_, _ = w.Write(r.body)
	}
}

// ServeHTTP serves /api/v4, /api/v5, /status and the /testbroker control API.
func (b *Broker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	if path == "/testbroker" || strings.HasPrefix(path, "/testbroker/") {
		b.serveControl(w, r)
		return
	}
	version := ""
	switch {
	case path == "/api/v4" || strings.HasPrefix(path, "/api/v4/"):
		version = "v4"
	case path == "/api/v5" || strings.HasPrefix(path, "/api/v5/"), path == "/status":
		version = "v5"
	default:
		notFoundV5(r).write(w)
		return
	}
	if d := b.faults.getLatency(); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if f, ok := b.faults.take(version, path); ok {
		b.log.Debug("injected fault", "path", path, "status", f.HTTPStatus, "v4code", f.V4Code, "v5code", f.V5Code)
		faultResponse(version, f).write(w)
		return
	}
	var resp response
	switch {
	case path == "/status":
		resp = b.serveStatus(r)
	case version == "v4":
		resp = b.serveV4(r, path)
	default:
		resp = b.serveV5(r, path)
	}
	resp.write(w)
}

// readBody reads the request body up to maxBody.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxBody {
		return nil, errors.New("body too large")
	}
	return body, nil
}

// decodeJSON decodes one JSON value, keeping numbers as json.Number.
func decodeJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode json: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("decode json: trailing data")
	}
	return v, nil
}

// matchPattern matches path segments against a pattern whose ":name"
// segments bind variables.
func matchPattern(pattern, segs []string) (map[string]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	vars := map[string]string{}
	for i, p := range pattern {
		if name, ok := strings.CutPrefix(p, ":"); ok {
			vars[name] = segs[i]
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return vars, true
}

func splitPattern(p string) []string {
	return splitNonEmpty(p)
}

func splitNonEmpty(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// basicAuthOK checks Basic credentials against the configured app.
func (b *Broker) basicAuthOK(r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	return ok && id == b.opts.AppID && secret == b.opts.AppSecret
}

// pageSlice returns the bounds of a 1-based page and whether rows follow it.
func pageSlice(n, page, limit int) (int, int, bool) {
	start := (page - 1) * limit
	if start > n || start < 0 {
		start = n
	}
	end := start + limit
	if end > n || end < start {
		end = n
	}
	return start, end, end < n
}

// str returns v as a string when it is one.
func str(v any) (string, bool) {
	s, ok := v.(string)
	return s, ok
}

// intOf returns an integral JSON number.
func intOf(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		return 0, false
	}
	return i, true
}

// firstQuery returns the first value of a query key, as cowboy's proplist
// lookups do.
func firstQuery(q url.Values, key string) (string, bool) {
	vs, ok := q[key]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

func emqxUptimeV4(d time.Duration) string {
	d = d.Truncate(time.Second)
	h := int(d.Hours())
	m := int(d.Minutes()) % 60
	s := int(d.Seconds()) % 60
	switch {
	case h > 0:
		return fmt.Sprintf("%d hours, %d minutes, %d seconds", h, m, s)
	case m > 0:
		return fmt.Sprintf("%d minutes, %d seconds", m, s)
	default:
		return fmt.Sprintf("%d seconds", s)
	}
}
