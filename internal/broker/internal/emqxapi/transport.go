// Package emqxapi is the HTTP plumbing the EMQX drivers share: base URL
// handling, TLS, Basic auth, per-call timeouts, bounded retries of
// idempotent requests, request observation, path escaping and pagination.
// It knows nothing about either API's envelope; each driver passes a Check
// that turns a response into success or a *broker.Error.
package emqxapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

const (
	// DefaultTimeout bounds a call, retries included, when Config.Timeout is zero.
	DefaultTimeout = 10 * time.Second
	// MaxAttempts bounds tries of an idempotent request.
	MaxAttempts = 3
	// maxBody caps what is read from a reply; a page of 10000 users is well under 1 MiB.
	maxBody = 64 << 20
	// maxMessage caps broker text copied into errors (and from there into status).
	maxMessage = 300
)

// Transport sends requests to one broker's API.
type Transport struct {
	base     string // scheme://host[:port][/proxy-prefix]/api/vN, escaped, no trailing slash
	user     string
	password string
	timeout  time.Duration
	observe  func(broker.RequestEvent)
	http     *http.Client
	// Backoff is how long to wait before retry n (1-based); tests shorten it.
	Backoff func(n int) time.Duration
}

// NewTransport validates cfg and prepares a Transport for apiPrefix
// ("/api/v4" or "/api/v5").
func NewTransport(cfg broker.Config, apiPrefix string) (*Transport, error) {
	base, err := baseURL(cfg.URL)
	if err != nil {
		return nil, misconfigured(err)
	}
	rt := cfg.Transport
	if rt == nil {
		r, err := newHTTPTransport(cfg)
		if err != nil {
			return nil, err
		}
		rt = r
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Transport{
		base:     base + apiPrefix,
		user:     cfg.Username,
		password: cfg.Password,
		timeout:  timeout,
		observe:  cfg.Observe,
		http: &http.Client{
			Transport: rt,
			// A redirect would turn a POST into a GET and may point at a
			// login page; surface it instead so the URL gets fixed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		Backoff: func(n int) time.Duration { return time.Duration(n) * 100 * time.Millisecond },
	}, nil
}

// newHTTPTransport builds the transport for a direct connection with the
// TLS settings of cfg.
func newHTTPTransport(cfg broker.Config) (*http.Transport, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify} //nolint:gosec // opt-in by the user for self-signed brokers
	if len(cfg.CABundle) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cfg.CABundle) {
			return nil, misconfigured(errors.New("ca bundle holds no PEM certificate"))
		}
		tlsCfg.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	tr.MaxIdleConnsPerHost = 8
	return tr, nil
}

// misconfigured marks a configuration error so that callers do not retry
// it as if the broker were down.
func misconfigured(err error) error {
	return &broker.Error{Op: "New", Class: broker.ClassMisconfigured, Message: err.Error()}
}

// baseURL accepts http(s)://host[:port][/prefix][/api/v4|/api/v5][/] and
// returns it without the API suffix, credentials, query or trailing slash.
func baseURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("parse broker url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("broker url %q: scheme must be http or https", u.Redacted())
	}
	if u.Host == "" {
		return "", fmt.Errorf("broker url %q has no host", u.Redacted())
	}
	u.User = nil // credentials come from Config only
	u.RawQuery, u.Fragment, u.RawFragment = "", "", ""
	p := strings.TrimRight(u.EscapedPath(), "/")
	for _, suffix := range []string{"/api/v4", "/api/v5"} {
		p = strings.TrimSuffix(p, suffix)
	}
	p = strings.TrimRight(p, "/")
	return u.Scheme + "://" + u.Host + p, nil
}

// Request is one API call.
type Request struct {
	// Op is the broker interface method, used in errors and RequestEvent.
	Op     string
	Method string
	// Path is relative to the API prefix, starts with "/" and is already
	// escaped (see Path).
	Path  string
	Query url.Values
	// Body is sent as JSON when non-nil.
	Body any
	// Secrets are scrubbed from any broker text copied into an error,
	// because some brokers echo invalid input back.
	Secrets []string
}

// Response is a reply as read off the wire.
type Response struct {
	Status      int
	ContentType string
	Body        []byte
	// RetryAfter is the reply's Retry-After, zero when absent or unreadable.
	RetryAfter time.Duration
}

// IsJSON reports whether the reply declares a JSON body.
func (r *Response) IsJSON() bool { return strings.Contains(r.ContentType, "json") }

// Check turns a reply into the RequestEvent result label and, for a
// failure, an error. It must not keep r.Body beyond the call.
type Check func(r *Response) (result string, err *broker.Error)

// Do sends req, retrying idempotent methods on transient failures within
// the call's timeout, and returns the successful reply.
func (t *Transport) Do(ctx context.Context, req Request, check Check) (*Response, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	var body []byte
	if req.Body != nil {
		b, err := json.Marshal(req.Body)
		if err != nil {
			return nil, &broker.Error{Op: req.Op, Class: broker.ClassRejected, Message: "encode request", Err: err}
		}
		body = b
	}
	for attempt := 1; ; attempt++ {
		start := time.Now()
		resp, err := t.send(ctx, req, body)
		var berr *broker.Error
		result := "error"
		if err != nil {
			berr = t.transportError(ctx, req, err)
		} else {
			result, berr = check(resp)
		}
		if t.observe != nil {
			t.observe(broker.RequestEvent{Operation: req.Op, Result: result, Duration: time.Since(start)})
		}
		if berr == nil {
			return resp, nil
		}
		berr.Op = req.Op
		berr.Message = t.clean(berr.Message, req.Secrets)
		wait := t.Backoff(attempt)
		if resp != nil && resp.RetryAfter > 0 && berr.Class == broker.ClassTransient {
			// The broker said when to come back: a retry within this call
			// waits that long, and callers learn it for their own requeue.
			berr.RetryAfter = resp.RetryAfter
			wait = resp.RetryAfter
		}
		if !idempotent(req.Method) || berr.Class != broker.ClassTransient || attempt >= MaxAttempts {
			return nil, berr
		}
		if !sleep(ctx, wait) {
			return nil, berr
		}
	}
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodHead:
		return true
	}
	return false
}

// sleep waits d unless the context would end first; it reports whether a
// retry still fits.
func sleep(ctx context.Context, d time.Duration) bool {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return false
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

func (t *Transport) send(ctx context.Context, req Request, body []byte) (*Response, error) {
	target := t.base + req.Path
	if len(req.Query) > 0 {
		// Encode writes "+" as %2B and space as "+", which is what both
		// APIs' form decoders expect.
		target += "?" + req.Query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, target, rd)
	if err != nil {
		return nil, err
	}
	hr.SetBasicAuth(t.user, t.password)
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("User-Agent", "mqtt-operator")
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	res, err := t.http.Do(hr)
	if err != nil {
		return nil, err
	}
	defer func() { _ = res.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxBody+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxBody {
		return nil, fmt.Errorf("reply larger than %d bytes", maxBody)
	}
	return &Response{Status: res.StatusCode, ContentType: res.Header.Get("Content-Type"), Body: data,
		RetryAfter: parseRetryAfter(res.Header.Get("Retry-After"), time.Now())}, nil
}

// maxRetryAfter caps what a broker may ask for: a confused proxy must not
// park an object for hours.
const maxRetryAfter = 10 * time.Minute

// parseRetryAfter reads a Retry-After value, delay-seconds or an HTTP date,
// capped at maxRetryAfter; zero when absent, unreadable or in the past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		d = time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = at.Sub(now)
	}
	return max(0, min(d, maxRetryAfter))
}

// UndecodableClass classifies a reply body that could not be decoded. JSON
// that stops early was cut short on the way (a dropped connection, a proxy
// timeout), which a retry fixes; anything else, HTML or JSON of another
// shape, means the URL does not lead to the API the driver speaks.
func UndecodableClass(body []byte, err error) broker.Class {
	b := bytes.TrimSpace(body)
	var syntax *json.SyntaxError
	if len(b) > 0 && (b[0] == '{' || b[0] == '[') && !json.Valid(b) && errors.As(err, &syntax) {
		return broker.ClassTransient
	}
	return broker.ClassMisconfigured
}

func (t *Transport) transportError(ctx context.Context, req Request, err error) *broker.Error {
	msg := "request failed"
	class := broker.ClassTransient
	switch {
	case tlsMisconfigured(err):
		// Retrying cannot fix a certificate the CA bundle does not cover,
		// or an http:// URL for an https:// listener (or the reverse).
		msg, class = "tls setup does not match the broker", broker.ClassMisconfigured
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		msg = fmt.Sprintf("no answer within %s", t.timeout)
	case errors.Is(ctx.Err(), context.Canceled):
		msg = "canceled"
	}
	// url.Error names method and URL; the URL holds no credentials (they
	// travel in a header and were stripped from the base).
	return &broker.Error{Op: req.Op, Class: class, Message: msg, Err: &scrubbed{msg: t.clean(err.Error(), req.Secrets), err: err}}
}

func tlsMisconfigured(err error) bool {
	var verify *tls.CertificateVerificationError
	var record tls.RecordHeaderError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &verify) || errors.As(err, &record) || errors.As(err, &unknownCA) ||
		errors.As(err, &hostname) || errors.As(err, &invalid) ||
		strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
}

// scrubbed shows a cleaned text but keeps the cause for errors.Is.
type scrubbed struct {
	msg string
	err error
}

func (s *scrubbed) Error() string { return s.msg }
func (s *scrubbed) Unwrap() error { return s.err }

// clean removes secrets from broker text and keeps it short enough for a
// condition message.
func (t *Transport) clean(msg string, secrets []string) string {
	for _, s := range append([]string{t.password}, secrets...) {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "***")
		}
	}
	msg = strings.TrimSpace(strings.ToValidUTF8(msg, "?"))
	if len(msg) > maxMessage {
		cut := maxMessage
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

// StatusClass is the class an HTTP status implies regardless of the API
// flavour, or "" when the body has to decide.
func StatusClass(status int) broker.Class {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return broker.ClassUnauthorized
	case status >= 500, status == http.StatusRequestTimeout, status == http.StatusTooManyRequests:
		return broker.ClassTransient
	case status >= 300 && status < 400:
		// Usually http:// pointed at an https:// listener, or a proxy login page.
		return broker.ClassMisconfigured
	}
	return ""
}

// Text is a short form of a non-JSON body for an error message.
func Text(body []byte) string {
	return strings.TrimSpace(string(body))
}
