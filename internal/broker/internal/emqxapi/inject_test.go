package emqxapi

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// TestInjectedTransport checks that Config.Transport carries every request:
// the URL may name a host that does not resolve (a tunnel dials for it) and
// may carry a path prefix (an HTTP proxy in front of the API), and Basic
// auth, method, escaped path and query arrive unchanged.
func TestInjectedTransport(t *testing.T) {
	type seen struct{ Method, Host, RawPath, Query, Auth string }
	var (
		mu  sync.Mutex
		got []seen
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, seen{r.Method, r.Host, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Authorization")})
		mu.Unlock()
		_, _ = w.Write([]byte("{}"))
	}))
	defer srv.Close()
	// The tunnel: whatever host the URL names, connect to the server.
	tunnel := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}}
	tests := []struct {
		name, url, wantPath string
	}{
		{"tunnel to a cluster-internal name", "http://emqx-api.team-a.svc:18083", "/api/v5/clients/a%2Fb"},
		{"path prefix of a proxy", "http://proxy.example:8001/api/v1/namespaces/team-a/services/http:emqx-api:18083/proxy/",
			"/api/v1/namespaces/team-a/services/http:emqx-api:18083/proxy/api/v5/clients/a%2Fb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			got = nil
			mu.Unlock()
			tr, err := NewTransport(broker.Config{URL: tt.url, Username: "key", Password: "secret", Transport: tunnel,
				CABundle: []byte("not pem: ignored with an injected transport")}, "/api/v5")
			if err != nil {
				t.Fatal(err)
			}
			_, err = tr.Do(context.Background(), Request{Op: "GetClient", Method: http.MethodGet, Path: Path("clients", "a/b"),
				Query: url.Values{"q": {"x y"}}}, okCheck)
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(tt.url)
			want := []seen{{http.MethodGet, u.Host, tt.wantPath, "q=x+y", "Basic a2V5OnNlY3JldA=="}}
			mu.Lock()
			defer mu.Unlock()
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("request mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClientQuery(t *testing.T) {
	got := ClientQuery(broker.ClientFilter{ClientID: "c", Username: "a+b", IPAddress: "10.0.0.1", State: broker.ConnIdle}).Encode()
	if want := "clientid=c&conn_state=idle&ip_address=10.0.0.1&username=a%2Bb"; got != want {
		t.Errorf("ClientQuery = %q, want %q", got, want)
	}
	if got := ClientQuery(broker.ClientFilter{}).Encode(); got != "" {
		t.Errorf("empty filter = %q, want no parameters", got)
	}
}
