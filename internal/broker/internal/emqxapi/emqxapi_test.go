package emqxapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/brokertest"
)

func TestBaseURL(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "http://emqx:18083", want: "http://emqx:18083"},
		{in: "http://emqx:18083/", want: "http://emqx:18083"},
		{in: "http://emqx:18083/api/v4", want: "http://emqx:18083"},
		{in: "http://emqx:18083/api/v4/", want: "http://emqx:18083"},
		{in: "https://emqx:8443/api/v5", want: "https://emqx:8443"},
		{in: " https://proxy/emqx/api/v5/ ", want: "https://proxy/emqx"},
		{in: "http://user:pw@emqx:18083?x=1#f", want: "http://emqx:18083"},
		{in: "emqx:18083", wantErr: true},
		{in: "ftp://emqx", wantErr: true},
		{in: "http://", wantErr: true},
		{in: "http://[::1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := baseURL(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("baseURL(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "pw") {
				t.Errorf("error leaks credentials: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("baseURL(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestPath(t *testing.T) {
	tests := []struct {
		segs []string
		want string
	}{
		{[]string{"auth_username", "alice"}, "/auth_username/alice"},
		{[]string{"acl", "$all", "topic", "a/b/#"}, "/acl/$all/topic/a%2Fb%2F%23"},
		{[]string{"x", "100% sure"}, "/x/100%25%20sure"},
		{[]string{"x", "a+b"}, "/x/a+b"},
		{[]string{"x", "zürich"}, "/x/z%C3%BCrich"},
		{[]string{"x", "$SYS/brokers/+/clients"}, "/x/$SYS%2Fbrokers%2F+%2Fclients"},
		{[]string{"x", "q?v=1"}, "/x/q%3Fv=1"},
		{[]string{"authentication", "password_based:built_in_database"}, "/authentication/password_based:built_in_database"},
		{[]string{"x", ".", ".."}, "/x/%2E/%2E%2E"},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, Path(tt.segs...)); diff != "" {
			t.Errorf("Path(%q) mismatch (-want +got):\n%s", tt.segs, diff)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestMetaMore(t *testing.T) {
	tests := []struct {
		name                string
		meta                Meta
		n, total, requested int
		want                bool
	}{
		{name: "empty page stops", meta: Meta{HasNext: ptr(true)}, n: 0, requested: 10},
		{name: "hasnext true", meta: Meta{HasNext: ptr(true)}, n: 3, total: 3, requested: 10, want: true},
		{name: "hasnext false beats full page", meta: Meta{HasNext: ptr(false)}, n: 10, total: 10, requested: 10},
		{name: "count not reached", meta: Meta{Count: ptr[int64](25)}, n: 10, total: 20, requested: 10, want: true},
		{name: "count reached", meta: Meta{Count: ptr[int64](20)}, n: 10, total: 20, requested: 10},
		{name: "count -1 falls back to full page", meta: Meta{Count: ptr[int64](-1)}, n: 10, total: 10, requested: 10, want: true},
		{name: "short page stops", meta: Meta{}, n: 9, total: 9, requested: 10},
		{name: "broker capped limit", meta: Meta{Limit: ptr[int64](5)}, n: 5, total: 5, requested: 10, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.meta.More(tt.n, tt.total, tt.requested); got != tt.want {
				t.Errorf("More() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIntAndCounters(t *testing.T) {
	var c Counters
	body := `{"node":"emqx@a","a":1,"b":"2","c":3.0,"d":null,"e":[1],"f":"x","g":1e3}`
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		t.Fatal(err)
	}
	want := Counters{"a": 1, "b": 2, "c": 3, "g": 1000}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("Counters mismatch (-want +got):\n%s", diff)
	}
	if err := json.Unmarshal([]byte(`[1]`), &c); err == nil {
		t.Error("Counters accepted a list")
	}
}

func TestSumMetrics(t *testing.T) {
	names := MetricNames{AuthenticationFailures: "authn.fail", AuthorizationDenials: "authz.deny"}
	cases := []struct {
		name           string
		stats, metrics []Counters
		want           broker.Metrics
	}{
		{name: "no nodes"},
		{
			name: "per-node values summed, cluster-wide tables taken once",
			stats: []Counters{
				{"connections.count": 2, "live_connections.count": 1, "sessions.count": 2, "subscriptions.count": 5, "topics.count": 7, "retained.count": 3},
				{"connections.count": 3, "live_connections.count": 3, "sessions.count": 4, "subscriptions.count": 1, "topics.count": 7, "retained.count": 3},
			},
			metrics: []Counters{
				{"messages.received": 10, "messages.sent": 20, "messages.dropped": 1, "messages.retained": 4, "authn.fail": 2, "authz.deny": 5},
				{"messages.received": 1, "messages.sent": 2, "messages.dropped": 0, "messages.retained": 1, "authn.fail": 1, "authz.deny": 0},
			},
			want: broker.Metrics{Connections: 5, LiveConnections: 4, Sessions: 6, Subscriptions: 6, Topics: 7, RetainedMessages: 3,
				MessagesReceived: 11, MessagesSent: 22, MessagesDropped: 1, MessagesRetained: 5, AuthenticationFailures: 3, AuthorizationDenials: 5},
		},
		{
			// A node that has not caught up reports less of a cluster-wide table.
			name:  "cluster-wide tables take the largest view",
			stats: []Counters{{"topics.count": 4, "retained.count": 9}, {"topics.count": 6, "retained.count": 8}},
			want:  broker.Metrics{Topics: 6, RetainedMessages: 9},
		},
		{
			name:    "the other flavour's names and unknown names are ignored",
			metrics: []Counters{{"client.auth.failure": 7, "authentication.failure": 8, "rules.matched": 3, "authz.deny": 1}},
			want:    broker.Metrics{AuthorizationDenials: 1},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, SumMetrics(tc.stats, tc.metrics, names)); diff != "" {
				t.Errorf("SumMetrics mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func okCheck(r *Response) (string, *broker.Error) {
	if r.Status >= 500 {
		return "5xx", &broker.Error{Class: broker.ClassTransient, HTTPStatus: r.Status, Message: string(r.Body)}
	}
	if r.Status >= 400 {
		return "4xx", &broker.Error{Class: broker.ClassRejected, HTTPStatus: r.Status, Message: string(r.Body)}
	}
	return "ok", nil
}

func newTransport(t *testing.T, s *brokertest.Server, rec *brokertest.Recorder, timeout time.Duration) *Transport {
	t.Helper()
	cfg := s.Config(broker.APIv4)
	cfg.URL += "/api/v4/"
	cfg.Timeout = timeout
	cfg.Observe = rec.Observe
	tr, err := NewTransport(cfg, "/api/v4")
	if err != nil {
		t.Fatal(err)
	}
	tr.Backoff = func(int) time.Duration { return time.Millisecond }
	return tr
}

func TestDoRetriesIdempotentOnly(t *testing.T) {
	s := brokertest.NewServer(t)
	s.On(http.MethodGet, "/api/v4/x", brokertest.Text(503, "busy"), brokertest.Text(502, "busy"), brokertest.Text(200, "ok"))
	s.On(http.MethodPost, "/api/v4/x", brokertest.Text(503, "busy"))
	s.On(http.MethodPut, "/api/v4/y", brokertest.Text(503, "busy"))
	s.On(http.MethodDelete, "/api/v4/z", brokertest.Text(400, "no"))
	rec := &brokertest.Recorder{}
	tr := newTransport(t, s, rec, 5*time.Second)
	ctx := context.Background()

	if _, err := tr.Do(ctx, Request{Op: "Get", Method: http.MethodGet, Path: "/x"}, okCheck); err != nil {
		t.Fatalf("GET after two 5xx: %v", err)
	}
	_, err := tr.Do(ctx, Request{Op: "Post", Method: http.MethodPost, Path: "/x", Body: map[string]string{"a": "b"}}, okCheck)
	if diff := cmp.Diff(brokertest.ErrorFields{Op: "Post", Class: broker.ClassTransient, HTTPStatus: 503, Reason: "Transient"}, brokertest.Fields(err)); diff != "" {
		t.Errorf("POST error mismatch (-want +got):\n%s", diff)
	}
	if _, err := tr.Do(ctx, Request{Op: "Put", Method: http.MethodPut, Path: "/y"}, okCheck); broker.ClassOf(err) != broker.ClassTransient {
		t.Errorf("PUT error = %v, want transient", err)
	}
	if _, err := tr.Do(ctx, Request{Op: "Delete", Method: http.MethodDelete, Path: "/z"}, okCheck); broker.ClassOf(err) != broker.ClassRejected {
		t.Errorf("DELETE error = %v, want rejected", err)
	}
	wantCalls := []string{
		"GET /api/v4/x", "GET /api/v4/x", "GET /api/v4/x",
		"POST /api/v4/x",
		"PUT /api/v4/y", "PUT /api/v4/y", "PUT /api/v4/y",
		"DELETE /api/v4/z",
	}
	if diff := cmp.Diff(wantCalls, s.Calls()); diff != "" {
		t.Errorf("calls mismatch (-want +got):\n%s", diff)
	}
	wantEvents := []string{"Get=5xx", "Get=5xx", "Get=ok", "Post=5xx", "Put=5xx", "Put=5xx", "Put=5xx", "Delete=4xx"}
	if diff := cmp.Diff(wantEvents, rec.Results()); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
	req := s.Requests()[3]
	if got := req.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("POST Content-Type = %q", got)
	}
	if user, pw, ok := (&http.Request{Header: req.Header}).BasicAuth(); !ok || user != "admin" || pw != "s3cret-app-pw" {
		t.Errorf("basic auth = %q %q %v", user, pw, ok)
	}
}

func TestDoTimeoutBoundsRetries(t *testing.T) {
	s := brokertest.NewServer(t)
	s.OnFunc(http.MethodGet, "/api/v4/slow", func(brokertest.Request) brokertest.Reply {
		time.Sleep(300 * time.Millisecond)
		return brokertest.Text(200, "late")
	})
	rec := &brokertest.Recorder{}
	tr := newTransport(t, s, rec, 100*time.Millisecond)
	start := time.Now()
	_, err := tr.Do(context.Background(), Request{Op: "Slow", Method: http.MethodGet, Path: "/slow"}, okCheck)
	if elapsed := time.Since(start); elapsed > 250*time.Millisecond {
		t.Errorf("call took %s, want about the 100ms timeout", elapsed)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap DeadlineExceeded", err)
	}
	if diff := cmp.Diff(brokertest.ErrorFields{Op: "Slow", Class: broker.ClassTransient, Reason: "Transient"}, brokertest.Fields(err)); diff != "" {
		t.Errorf("error mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Slow=error"}, rec.Results()); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
}

func TestDoScrubsSecrets(t *testing.T) {
	s := brokertest.NewServer(t)
	s.On(http.MethodPost, "/api/v4/u", brokertest.Text(400, "bad value hunter2 for s3cret-app-pw"))
	tr := newTransport(t, s, &brokertest.Recorder{}, time.Second)
	_, err := tr.Do(context.Background(), Request{Op: "U", Method: http.MethodPost, Path: "/u", Body: map[string]string{"password": "hunter2"}, Secrets: []string{"hunter2"}}, okCheck)
	if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "s3cret-app-pw") {
		t.Errorf("error leaks a secret: %v", err)
	}
	long := strings.Repeat("é", 400)
	if got := tr.clean(long, nil); len(got) > maxMessage+len("…") || !strings.HasSuffix(got, "…") {
		t.Errorf("clean did not truncate: %d bytes", len(got))
	}
}

func TestDoNetworkError(t *testing.T) {
	s := brokertest.NewServer(t)
	rec := &brokertest.Recorder{}
	tr := newTransport(t, s, rec, time.Second)
	s.Close()
	_, err := tr.Do(context.Background(), Request{Op: "Down", Method: http.MethodGet, Path: "/x"}, okCheck)
	if broker.ClassOf(err) != broker.ClassTransient {
		t.Errorf("error = %v, want transient", err)
	}
	if diff := cmp.Diff([]string{"Down=error", "Down=error", "Down=error"}, rec.Results()); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
}

func TestNewTransportTLS(t *testing.T) {
	_, err := NewTransport(broker.Config{URL: "https://x", CABundle: []byte("garbage")}, "/api/v5")
	if broker.ClassOf(err) != broker.ClassMisconfigured {
		t.Errorf("bad CA bundle: %v, want misconfigured", err)
	}
}
