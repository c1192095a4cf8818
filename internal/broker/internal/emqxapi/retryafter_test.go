package emqxapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{"86400", maxRetryAfter},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{now.Add(48 * time.Hour).Format(http.TimeFormat), maxRetryAfter},
	}
	for _, tc := range cases {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// A broker's Retry-After is waited for before an idempotent call is tried
// again, and handed to the caller with the error of one that is not.
func TestDoHonoursRetryAfter(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 || r.Method == http.MethodPost {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	tr, err := NewTransport(broker.Config{URL: srv.URL, Username: "u", Password: "p", Timeout: 5 * time.Second}, "/api/v5")
	if err != nil {
		t.Fatal(err)
	}
	tr.Backoff = func(int) time.Duration { return time.Millisecond }
	check := func(r *Response) (string, *broker.Error) {
		if r.Status == http.StatusTooManyRequests {
			return "429", &broker.Error{Class: StatusClass(r.Status), HTTPStatus: r.Status}
		}
		return "ok", nil
	}
	start := time.Now()
	if _, err := tr.Do(context.Background(), Request{Op: "Get", Method: http.MethodGet, Path: "/x"}, check); err != nil {
		t.Fatalf("GET after a 429: %v", err)
	}
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("retried after %s, before the broker's Retry-After of 1s", waited)
	}
	_, err = tr.Do(context.Background(), Request{Op: "Post", Method: http.MethodPost, Path: "/x", Body: map[string]string{}}, check)
	be, ok := broker.AsError(err)
	if !ok || be.Class != broker.ClassTransient || be.RetryAfter != time.Second {
		t.Fatalf("POST error = %#v, want transient with RetryAfter 1s", err)
	}
}

// JSON cut short is a transient failure; anything else that does not
// decode means the URL leads elsewhere.
func TestUndecodableClass(t *testing.T) {
	cases := []struct {
		body string
		want broker.Class
	}{
		{`{"code":0,"data":{"user`, broker.ClassTransient},
		{`[{"user_id":"a"},`, broker.ClassTransient},
		{`<html><body>Login</body></html>`, broker.ClassMisconfigured},
		{`{"data":"not a list"}`, broker.ClassMisconfigured},
		{`garbage`, broker.ClassMisconfigured},
		{``, broker.ClassMisconfigured},
	}
	for _, tc := range cases {
		var out struct {
			Data []any `json:"data"`
		}
		err := json.Unmarshal([]byte(tc.body), &out)
		if err == nil {
			t.Fatalf("%q decoded", tc.body)
		}
		if got := UndecodableClass([]byte(tc.body), err); got != tc.want {
			t.Errorf("UndecodableClass(%q) = %s, want %s", tc.body, got, tc.want)
		}
	}
}
