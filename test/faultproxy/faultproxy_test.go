package faultproxy

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Each fault reaches the client as intended, and the broker sees the call
// exactly when the fault says so.
func TestFaults(t *testing.T) {
	var hits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"code":0,"data":{"username":"alice","superuser":false}}`)
	}))
	defer up.Close()
	p, err := New(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Close() }()
	hc := &http.Client{Timeout: 500 * time.Millisecond}
	call := func(method string) (int, string, http.Header, error) {
		req, _ := http.NewRequest(method, p.URL()+"/api/v4/auth_username/alice", strings.NewReader("{}"))
		resp, err := hc.Do(req)
		if err != nil {
			return 0, "", nil, err
		}
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header, err
	}
	cases := []struct {
		name    string
		fault   Fault
		method  string
		reached bool
		check   func(status int, body string, h http.Header, err error) string
	}{
		{"server error", Fault{Kind: ServerError, Status: 502}, "GET", false, func(s int, _ string, _ http.Header, err error) string {
			if err != nil || s != 502 {
				return "want 502"
			}
			return ""
		}},
		{"429 with Retry-After", Fault{Kind: TooManyRequests, RetryAfter: "3"}, "GET", false, func(s int, _ string, h http.Header, err error) string {
			if err != nil || s != 429 || h.Get("Retry-After") != "3" {
				return "want 429 with Retry-After: 3"
			}
			return ""
		}},
		{"truncated JSON after the write", Fault{Kind: TruncatedJSON}, "POST", true, func(s int, b string, _ http.Header, err error) string {
			full := `{"code":0,"data":{"username":"alice","superuser":false}}`
			if err != nil || s != 200 || b != full[:len(full)/2] {
				return "want the first half of the body"
			}
			return ""
		}},
		{"cut body", Fault{Kind: CutBody}, "GET", true, func(_ int, _ string, _ http.Header, err error) string {
			if !errors.Is(err, io.ErrUnexpectedEOF) && (err == nil || !strings.Contains(err.Error(), "reset")) {
				return "want the body to end early"
			}
			return ""
		}},
		{"garbage", Fault{Kind: Garbage}, "GET", false, func(s int, b string, _ http.Header, err error) string {
			if err != nil || s != 200 || strings.HasPrefix(b, "{") {
				return "want 200 with a non-JSON body"
			}
			return ""
		}},
		{"stall past the client's timeout", Fault{Kind: Stall, Stall: 5 * time.Second}, "GET", false, func(_ int, _ string, _ http.Header, err error) string {
			if err == nil || !strings.Contains(err.Error(), "Timeout") {
				return "want a client timeout"
			}
			return ""
		}},
		{"reset after the write reached the broker", Fault{Kind: Reset, AfterForward: true}, "DELETE", true, func(_ int, _ string, _ http.Header, err error) string {
			if err == nil {
				return "want a connection error"
			}
			return ""
		}},
		{"reset before", Fault{Kind: Reset}, "DELETE", false, func(_ int, _ string, _ http.Header, err error) string {
			if err == nil {
				return "want a connection error"
			}
			return ""
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := hits.Load()
			p.Inject(tc.fault, 1)
			status, body, h, err := call(tc.method)
			if msg := tc.check(status, body, h, err); msg != "" {
				t.Fatalf("%s; got status %d body %q err %v", msg, status, body, err)
			}
			if reached := hits.Load() > before; reached != tc.reached {
				t.Fatalf("broker reached = %v, want %v", reached, tc.reached)
			}
			// The next call passes.
			if s, _, _, err := call("GET"); err != nil || s != 200 {
				t.Fatalf("call after the fault: %d %v", s, err)
			}
		})
	}
	st := p.Stats()
	if st.Faults[Reset] != 2 || st.Faults[TruncatedJSON] != 1 || st.Requests != 2*len(cases) {
		t.Fatalf("stats = %+v", st)
	}
}

// An outage refuses connections, drops open ones, and ends on the same
// address; random faults follow their rate.
func TestOutageAndRandomFaults(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "{}") }))
	defer up.Close()
	p, err := New(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Close() }()
	url := p.URL()
	get := func() error {
		resp, err := http.Get(url + "/x")
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != 200 {
			return errors.New(resp.Status)
		}
		return nil
	}
	if err := get(); err != nil {
		t.Fatal(err)
	}
	if err := p.SetOutage(true); err != nil {
		t.Fatal(err)
	}
	if err := get(); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("during the outage: %v, want connection refused", err)
	}
	if err := p.SetOutage(false); err != nil {
		t.Fatal(err)
	}
	if p.URL() != url {
		t.Fatalf("address changed: %s → %s", url, p.URL())
	}
	if err := get(); err != nil {
		t.Fatalf("after the outage: %v", err)
	}
	p.SetRandom(7, 0.5, []Fault{{Kind: ServerError}})
	failed := 0
	for range 400 {
		if get() != nil {
			failed++
		}
	}
	if failed < 140 || failed > 260 {
		t.Fatalf("%d of 400 calls failed at rate 0.5", failed)
	}
	p.Clear()
	if err := get(); err != nil {
		t.Fatal(err)
	}
}
