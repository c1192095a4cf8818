// Package brokertest holds test helpers shared by the broker drivers: a
// scriptable HTTP server that records what a driver sends, and helpers to
// compare errors.
package brokertest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// Request is what the server received. Path is the escaped path exactly as
// sent, so tests can check percent-encoding.
type Request struct {
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	Body     string
}

// Reply is a canned response.
type Reply struct {
	Status      int
	ContentType string
	Body        string
}

// JSON is a reply with a JSON body.
func JSON(status int, body string) Reply {
	return Reply{Status: status, ContentType: "application/json", Body: body}
}

// Text is a plain-text reply, like the v4 framework's errors.
func Text(status int, body string) Reply {
	return Reply{Status: status, ContentType: "text/plain", Body: body}
}

// Handler computes a reply from a request.
type Handler func(Request) Reply

// Server is an httptest.Server answering from routes keyed by method and
// escaped path (the query is ignored for matching). Unrouted requests get
// v4's 404 "Not found.".
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	routes   map[string]Handler
	fallback Handler
	requests []Request
}

// NewServer starts a server that is closed when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{routes: map[string]Handler{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// On answers method+path with replies in turn; the last one repeats.
func (s *Server) On(method, path string, replies ...Reply) {
	var mu sync.Mutex
	n := 0
	s.OnFunc(method, path, func(Request) Reply {
		mu.Lock()
		defer mu.Unlock()
		r := replies[min(n, len(replies)-1)]
		n++
		return r
	})
}

// OnFunc answers method+path with h.
func (s *Server) OnFunc(method, path string, h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routes[method+" "+path] = h
}

// Otherwise answers every request no route matches with h, for stateful
// fakes that parse the path themselves.
func (s *Server) Otherwise(h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fallback = h
}

// Requests returns what was received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Calls returns "METHOD path[?query]" of every request, in order.
func (s *Server) Calls() []string {
	var out []string
	for _, r := range s.Requests() {
		c := r.Method + " " + r.Path
		if r.RawQuery != "" {
			c += "?" + r.RawQuery
		}
		out = append(out, c)
	}
	return out
}

// Config is a client configuration pointing at the server.
func (s *Server) Config(v broker.APIVersion) broker.Config {
	return broker.Config{URL: s.URL, APIVersion: v, Username: "admin", Password: "s3cret-app-pw"}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req := Request{Method: r.Method, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(body)}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	h := s.routes[r.Method+" "+req.Path]
	if h == nil {
		h = s.fallback
	}
	s.mu.Unlock()
	reply := Text(http.StatusNotFound, "Not found.")
	if h != nil {
		reply = h(req)
	}
	if reply.ContentType != "" {
		w.Header().Set("Content-Type", reply.ContentType)
	}
	w.WriteHeader(reply.Status)
	_, _ = io.WriteString(w, reply.Body)
}
