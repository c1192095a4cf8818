package testbroker

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqttoperator/mqtt-operator/internal/mqtttest"
)

// testTimeout bounds every wait in these tests.
const testTimeout = 10 * time.Second

func startBroker(t *testing.T, opts Options) *Broker {
	t.Helper()
	b, err := New(opts)
	if err != nil {
		t.Fatalf("new broker: %v", err)
	}
	if err := b.Start(); err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close broker: %v", err)
		}
	})
	return b
}

// apiReply is a raw HTTP reply.
type apiReply struct {
	status int
	header http.Header
	body   []byte
}

func (r apiReply) json(t *testing.T) any {
	t.Helper()
	var v any
	dec := json.NewDecoder(strings.NewReader(string(r.body)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
	return v
}

// req describes one API call; path is sent exactly as written (already
// escaped), relative to the API base URL.
type req struct {
	method string
	path   string
	body   string
	ctype  string // used only when set
	user   string // "-" sends no credentials; "" the defaults
	pass   string
	accept string
}

func doAPI(t *testing.T, b *Broker, rq req) apiReply {
	t.Helper()
	var body io.Reader
	if rq.body != "" {
		body = strings.NewReader(rq.body)
	}
	hreq, err := http.NewRequest(rq.method, b.APIURL()+rq.path, body)
	if err != nil {
		t.Fatalf("build request: %v", err)
	}
	switch rq.user {
	case "-":
	case "":
		hreq.SetBasicAuth("admin", "public")
	default:
		hreq.SetBasicAuth(rq.user, rq.pass)
	}
	if rq.ctype != "" {
		hreq.Header.Set("Content-Type", rq.ctype)
	}
	if rq.accept != "" {
		hreq.Header.Set("Accept", rq.accept)
	}
	client := &http.Client{Timeout: testTimeout}
	resp, err := client.Do(hreq)
	if err != nil {
		t.Fatalf("%s %s: %v", rq.method, rq.path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return apiReply{status: resp.StatusCode, header: resp.Header, body: raw}
}

// v4 and v5 are shorthands for successful-path calls in the MQTT tests.
func v4(t *testing.T, b *Broker, method, path, body string) apiReply {
	t.Helper()
	return doAPI(t, b, req{method: method, path: "/api/v4" + path, body: body})
}

func v5(t *testing.T, b *Broker, method, path, body string) apiReply {
	t.Helper()
	rq := req{method: method, path: "/api/v5" + path, body: body}
	if body != "" {
		rq.ctype = "application/json"
	}
	return doAPI(t, b, rq)
}

// mustCode4 asserts a v4 success envelope.
func mustCode4(t *testing.T, r apiReply) {
	t.Helper()
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"code":0`) {
		t.Fatalf("want v4 success, got %d %s", r.status, r.body)
	}
}

func mustStatus(t *testing.T, r apiReply, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("want HTTP %d, got %d %s", status, r.status, r.body)
	}
}

// jsonAt walks a decoded JSON value along a "/"-separated path of object
// keys and array indexes. Keys may contain dots (metric names do).
func jsonAt(v any, path string) (any, bool) {
	if path == "" {
		return v, true
	}
	for _, seg := range strings.Split(path, "/") {
		switch t := v.(type) {
		case map[string]any:
			next, ok := t[seg]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(t) {
				return nil, false
			}
			v = t[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// refusedWith connects expecting the broker to refuse with CONNACK reason want.
func refusedWith(t *testing.T, b *Broker, clientID, username, password string, want byte) {
	t.Helper()
	if rc := mqtttest.Refusal(t, b.MQTTAddr(), clientID, username, password); rc != want {
		t.Fatalf("connect %s: CONNACK 0x%x, want 0x%x", clientID, rc, want)
	}
}

// eventually polls cond until it holds or the test timeout passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
