// Package faultproxy is an HTTP proxy that sits between the operator and a
// broker's management API and breaks some of the calls the way networks,
// load balancers and overloaded brokers do: 5xx and 429 answers, truncated
// or garbage bodies, replies that never come, reset connections and full
// outages. Faults can hit a call before it reaches the broker, or after (the
// broker applied a write but the operator never learns it), which is where
// retries go wrong.
//
// The proxy also counts the calls it sees, so tests can bound how hard the
// operator hits a failing broker.
package faultproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Kind is one way a call can fail.
type Kind string

// The faults the proxy injects.
const (
	// ServerError answers Status (503 when zero) with a short text body.
	ServerError Kind = "server-error"
	// TooManyRequests answers 429, with a Retry-After header when RetryAfter
	// is set.
	TooManyRequests Kind = "too-many-requests"
	// TruncatedJSON answers with the broker's status and the first half of
	// its body, with a Content-Length that matches: the HTTP exchange is
	// clean but the JSON is cut off.
	TruncatedJSON Kind = "truncated-json"
	// CutBody announces the full body and closes the connection half-way
	// through it.
	CutBody Kind = "cut-body"
	// Garbage answers 200 with bytes that are not JSON.
	Garbage Kind = "garbage"
	// Stall holds the call until the client gives up (or Stall passes),
	// then drops the connection.
	Stall Kind = "stall"
	// Reset closes the connection with a TCP reset and no answer.
	Reset Kind = "reset"
)

// Kinds lists every fault kind.
var Kinds = []Kind{ServerError, TooManyRequests, TruncatedJSON, CutBody, Garbage, Stall, Reset}

// Fault is one injected failure.
type Fault struct {
	Kind Kind
	// Status of a ServerError; 503 when zero.
	Status int
	// RetryAfter is the Retry-After header of a TooManyRequests answer
	// ("2", or an HTTP date); none when empty.
	RetryAfter string
	// AfterForward sends the call on to the broker first and breaks only
	// the reply. ServerError, TooManyRequests and Garbage ignore it; the
	// reply-damaging kinds (TruncatedJSON, CutBody) always forward.
	AfterForward bool
	// Stall bounds how long a Stall fault holds the call; one minute when
	// zero.
	Stall time.Duration
}

// Call is one call the proxy received.
type Call struct {
	At     time.Time
	Method string
	// Path is the escaped path, as the broker would route it.
	Path string
	// Fault is the kind injected, "" when the call passed.
	Fault Kind
}

// Stats counts what the proxy saw.
type Stats struct {
	// Requests is every call received, Forwarded those that reached the
	// broker, Writes the forwarded calls that can change it (POST, PUT,
	// DELETE).
	Requests, Forwarded, Writes int
	// Faults counts the injected faults by kind.
	Faults map[Kind]int
}

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	upstream *url.URL
	rp       *httputil.ReverseProxy
	addr     string

	mu     sync.Mutex
	srv    *http.Server
	conns  map[net.Conn]struct{}
	queue  []Fault
	rate   float64
	mix    []Fault
	rng    *rand.Rand
	outage bool
	stats  Stats
	calls  []Call
	closed bool
}

// New starts a proxy on a loopback port in front of upstream (the broker's
// API base, such as http://127.0.0.1:18083).
func New(upstream string) (*Proxy, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	p := &Proxy{upstream: u, conns: map[net.Conn]struct{}{}, rng: rand.New(rand.NewPCG(1, 1)), stats: Stats{Faults: map[Kind]int{}}}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(u); r.Out.Host = u.Host },
		// A broken upstream is reported as a 502, as a real proxy does.
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, "upstream: "+err.Error(), http.StatusBadGateway)
		},
	}
	if err := p.listen("127.0.0.1:0"); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Proxy) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	p.addr = ln.Addr().String()
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve), ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(c net.Conn, s http.ConnState) {
			p.mu.Lock()
			defer p.mu.Unlock()
			switch s {
			case http.StateNew:
				p.conns[c] = struct{}{}
			case http.StateClosed, http.StateHijacked:
				delete(p.conns, c)
			}
		}}
	srv := p.srv
	go func() { _ = srv.Serve(ln) }()
	return nil
}

// URL is the proxy's base URL; give it to the operator as the broker's API URL.
func (p *Proxy) URL() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return "http://" + p.addr
}

// Inject queues a fault for each of the next n calls.
func (p *Proxy) Inject(f Fault, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range n {
		p.queue = append(p.queue, f)
	}
}

// SetRandom makes each call, once the queue is empty, fail with probability
// rate with a fault drawn from mix, using a generator seeded with seed. A
// rate of zero stops random faults.
func (p *Proxy) SetRandom(seed uint64, rate float64, mix []Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	p.rate, p.mix = rate, append([]Fault(nil), mix...)
}

// Clear drops queued and random faults.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queue, p.rate, p.mix = nil, 0, nil
}

// SetOutage refuses every connection while on (the listener is closed and
// open connections are reset), as a broker or network that is down does; off
// listens again on the same address.
func (p *Proxy) SetOutage(on bool) error {
	p.mu.Lock()
	if p.outage == on || p.closed {
		p.mu.Unlock()
		return nil
	}
	p.outage = on
	if !on {
		defer p.mu.Unlock()
		var err error
		// The port was ours a moment ago; retry briefly should the kernel
		// still hold it.
		for i := 0; i < 50; i++ {
			if err = p.listen(p.addr); err == nil {
				return nil
			}
			time.Sleep(20 * time.Millisecond)
		}
		return err
	}
	srv := p.srv
	conns := make([]net.Conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	_ = srv.Close()
	for _, c := range conns {
		reset(c)
	}
	return nil
}

// Stats returns the counts so far.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Faults = make(map[Kind]int, len(p.stats.Faults))
	for k, v := range p.stats.Faults {
		s.Faults[k] = v
	}
	return s
}

// Close stops the proxy.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	srv := p.srv
	p.mu.Unlock()
	return srv.Close()
}

// Calls returns every call received so far, in order.
func (p *Proxy) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Call(nil), p.calls...)
}

// next picks the fault for a call, if any, and counts the call.
func (p *Proxy) next(r *http.Request) (Fault, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Requests++
	call := Call{At: time.Now(), Method: r.Method, Path: r.URL.EscapedPath()}
	var f Fault
	switch {
	case len(p.queue) > 0:
		f, p.queue = p.queue[0], p.queue[1:]
	case p.rate > 0 && len(p.mix) > 0 && p.rng.Float64() < p.rate:
		f = p.mix[p.rng.IntN(len(p.mix))]
	default:
		p.calls = append(p.calls, call)
		return Fault{}, false
	}
	call.Fault = f.Kind
	p.calls = append(p.calls, call)
	p.stats.Faults[f.Kind]++
	return f, true
}

func (p *Proxy) countForward(r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Forwarded++
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch:
		p.stats.Writes++
	}
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	f, faulty := p.next(r)
	if !faulty {
		p.countForward(r)
		p.rp.ServeHTTP(w, r)
		return
	}
	switch f.Kind {
	case ServerError:
		status := f.Status
		if status == 0 {
			status = http.StatusServiceUnavailable
		}
		http.Error(w, http.StatusText(status), status)
	case TooManyRequests:
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		http.Error(w, "Too Many Requests", http.StatusTooManyRequests)
	case Garbage:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("<html>\x00\xff not json"))
	case TruncatedJSON, CutBody:
		status, header, body, err := p.roundTrip(r)
		if err != nil {
			http.Error(w, "upstream: "+err.Error(), http.StatusBadGateway)
			return
		}
		half := body[:len(body)/2]
		if f.Kind == TruncatedJSON {
			for k, v := range header {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(half)))
			w.WriteHeader(status)
			_, _ = w.Write(half)
			return
		}
		conn, buf, err := hijack(w)
		if err != nil {
			return
		}
		_, _ = fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", status, http.StatusText(status), header.Get("Content-Type"), len(body)+1)
		_, _ = buf.Write(half)
		_ = buf.Flush()
		reset(conn)
	case Stall:
		if f.AfterForward {
			_, _, _, _ = p.roundTrip(r)
		}
		d := f.Stall
		if d <= 0 {
			d = time.Minute
		}
		select {
		case <-r.Context().Done():
		case <-time.After(d):
		}
		if conn, _, err := hijack(w); err == nil {
			reset(conn)
		}
	case Reset:
		if f.AfterForward {
			_, _, _, _ = p.roundTrip(r)
		}
		if conn, _, err := hijack(w); err == nil {
			reset(conn)
		}
	}
}

// roundTrip forwards a call and reads the whole reply.
func (p *Proxy) roundTrip(r *http.Request) (int, http.Header, []byte, error) {
	p.countForward(r)
	rec := &recorder{header: http.Header{}}
	p.rp.ServeHTTP(rec, r.WithContext(context.WithoutCancel(r.Context())))
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status == http.StatusBadGateway && rec.body.Len() > 0 && bytes.HasPrefix(rec.body.Bytes(), []byte("upstream: ")) {
		return 0, nil, nil, errors.New(rec.body.String())
	}
	return rec.status, rec.header, rec.body.Bytes(), nil
}

type recorder struct {
	status int
	header http.Header
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(s int) { r.status = s }

type flusher interface{ Flush() error }

func hijack(w http.ResponseWriter) (net.Conn, interface {
	io.Writer
	flusher
}, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("cannot hijack")
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	return conn, rw.Writer, nil
}

// reset closes a connection with a TCP RST rather than a FIN.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
