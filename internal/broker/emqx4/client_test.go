package emqx4

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/brokertest"
)

const okBody = `{"code":0}`

func newTestClient(t *testing.T, s *brokertest.Server) (*Client, *brokertest.Recorder) {
	t.Helper()
	rec := &brokertest.Recorder{}
	cfg := s.Config(broker.APIv4)
	cfg.URL += "/api/v4/" // tolerated suffix
	cfg.Observe = rec.Observe
	cfg.Timeout = 2 * time.Second
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.t.Backoff = func(int) time.Duration { return time.Millisecond }
	c.gap = 0
	return c, rec
}

func fields(op string, class broker.Class, code string, status int, reason string) brokertest.ErrorFields {
	return brokertest.ErrorFields{Op: op, Class: class, Code: code, HTTPStatus: status, Reason: reason}
}

func TestDecodeReply(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		wantResult string
		want       brokertest.ErrorFields
	}{
		{name: "success", status: 200, body: `{"code":0}`, wantResult: "0"},
		{name: "success with data", status: 200, body: `{"code":0,"data":{"a":1}}`, wantResult: "0"},
		{name: "coded", status: 200, body: `{"code":115,"message":"bad_topic"}`, wantResult: "115", want: fields("", broker.ClassRejected, "115", 200, "IllegalTopic")},
		{name: "rpc error", status: 200, body: `{"code":101,"message":"rpc"}`, wantResult: "101", want: fields("", broker.ClassTransient, "101", 200, "RPCError")},
		{name: "unknown error", status: 200, body: `{"code":102,"message":"x"}`, wantResult: "102", want: fields("", broker.ClassTransient, "102", 200, "UnknownError")},
		{name: "missing param", status: 200, body: `{"code":107,"message":"missing mandatory params: ['who', 'as']"}`, wantResult: "107", want: fields("", broker.ClassRejected, "107", 200, "MissingParameter")},
		{name: "existed", status: 200, body: `{"message":"existed"}`, wantResult: "UserExists", want: fields("", broker.ClassAlreadyExists, "", 200, "UserExists")},
		{name: "noexisted", status: 200, body: `{"message":"noexisted"}`, wantResult: "UserNotFound", want: fields("", broker.ClassNotFound, "", 200, "UserNotFound")},
		{name: "login", status: 200, body: `{"message":"login"}`, wantResult: "ParameterError", want: fields("", broker.ClassRejected, "", 200, "ParameterError")},
		{name: "no code no message", status: 200, body: `{}`, wantResult: "200", want: fields("", broker.ClassMisconfigured, "", 200, "Misconfigured")},
		{name: "not json", status: 200, body: `<html>`, wantResult: "200", want: fields("", broker.ClassMisconfigured, "", 200, "Misconfigured")},
		{name: "unauthorized", status: 401, body: `UNAUTHORIZED`, wantResult: "401", want: fields("", broker.ClassUnauthorized, "", 401, "Unauthorized")},
		{name: "forbidden", status: 403, body: ``, wantResult: "403", want: fields("", broker.ClassUnauthorized, "", 403, "Unauthorized")},
		{name: "plugin not loaded", status: 404, body: `Not found.`, wantResult: "404", want: fields("", broker.ClassMisconfigured, "", 404, "RouteNotFound")},
		{name: "bad json", status: 400, body: `Bad Request`, wantResult: "400", want: fields("", broker.ClassRejected, "", 400, "Rejected")},
		{name: "crash", status: 500, body: `Internal Error`, wantResult: "500", want: fields("", broker.ClassTransient, "", 500, "Transient")},
		{name: "unavailable", status: 503, body: ``, wantResult: "503", want: fields("", broker.ClassTransient, "", 503, "Transient")},
		{name: "redirect", status: 302, body: ``, wantResult: "302", want: fields("", broker.ClassMisconfigured, "", 302, "Misconfigured")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, result, berr := decodeReply(tt.status, []byte(tt.body))
			if result != tt.wantResult {
				t.Errorf("result = %q, want %q", result, tt.wantResult)
			}
			var err error
			if berr != nil {
				err = berr
			}
			if diff := cmp.Diff(tt.want, brokertest.Fields(err)); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
			if (berr == nil) != (env != nil) {
				t.Errorf("envelope %v with error %v", env, berr)
			}
		})
	}
}

func TestRequestShape(t *testing.T) {
	s := brokertest.NewServer(t)
	s.On(http.MethodPost, "/api/v4/auth_username", brokertest.JSON(200, okBody))
	c, rec := newTestClient(t, s)
	if err := c.CreateUser(context.Background(), broker.UserSpec{Kind: broker.ByUsername, ID: "alice", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	req := s.Requests()[0]
	got := map[string]string{
		"path":         req.Path,
		"query":        req.RawQuery,
		"content-type": req.Header.Get("Content-Type"),
		"accept":       req.Header.Get("Accept"),
		"body":         req.Body,
		"auth":         req.Header.Get("Authorization"),
	}
	want := map[string]string{
		"path":         "/api/v4/auth_username",
		"query":        "",
		"content-type": "application/json",
		"accept":       "application/json",
		"body":         `{"password":"pw","username":"alice"}`,
		"auth":         "Basic YWRtaW46czNjcmV0LWFwcC1wdw==",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("request mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"CreateUser=0"}, rec.Results()); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
}

func TestTransientRetries(t *testing.T) {
	s := brokertest.NewServer(t)
	s.On(http.MethodGet, "/api/v4/auth_username/bob",
		brokertest.JSON(200, `{"code":101,"message":"rpc failed"}`),
		brokertest.Text(503, ""),
		brokertest.JSON(200, `{"code":0,"data":{"username":"bob","created_at":1}}`))
	s.On(http.MethodPost, "/api/v4/auth_username", brokertest.Text(503, ""))
	c, rec := newTestClient(t, s)
	ctx := context.Background()
	u, err := c.GetUser(ctx, broker.ByUsername, "bob")
	if err != nil {
		t.Fatalf("GetUser after transient failures: %v", err)
	}
	if diff := cmp.Diff(broker.User{Kind: broker.ByUsername, ID: "bob"}, u); diff != "" {
		t.Errorf("user mismatch (-want +got):\n%s", diff)
	}
	err = c.CreateUser(ctx, broker.UserSpec{Kind: broker.ByUsername, ID: "bob", Password: "pw"})
	if diff := cmp.Diff(fields("CreateUser", broker.ClassTransient, "", 503, "Transient"), brokertest.Fields(err)); diff != "" {
		t.Errorf("create error mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"GetUser=101", "GetUser=503", "GetUser=0", "CreateUser=503"}, rec.Results()); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
}

func TestPasswordNeverInError(t *testing.T) {
	s := brokertest.NewServer(t)
	// A hypothetical broker that echoes the body back in its error.
	s.OnFunc(http.MethodPut, "/api/v4/auth_clientid/dev1", func(r brokertest.Request) brokertest.Reply {
		return brokertest.JSON(200, `{"message":"bad `+strings.ReplaceAll(r.Body, `"`, `'`)+`"}`)
	})
	c, _ := newTestClient(t, s)
	err := c.UpdateUser(context.Background(), broker.UserSpec{Kind: broker.ByClientID, ID: "dev1", Password: "topsecret!"})
	if err == nil || strings.Contains(err.Error(), "topsecret!") {
		t.Errorf("error = %v; want an error without the password", err)
	}
}

func TestURLVariants(t *testing.T) {
	for _, suffix := range []string{"", "/", "/api/v4", "/api/v4/"} {
		s := brokertest.NewServer(t)
		s.On(http.MethodGet, "/api/v4/brokers", brokertest.JSON(200, `{"code":0,"data":[]}`))
		cfg := s.Config(broker.APIv4)
		cfg.URL += suffix
		c, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Health(context.Background()); err != nil {
			t.Errorf("URL suffix %q: %v", suffix, err)
		}
	}
}

// TestListsReadEveryPage runs each paginated list over a two-page reply:
// every list goes through listPages, keeps its filter on every page and
// returns the items of both pages.
func TestListsReadEveryPage(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, path, item, query string
		list                    func(c *Client) (int, error)
	}{
		{name: "users", path: "/api/v4/auth_username", item: `{"username":"u%d"}`,
			list: func(c *Client) (int, error) { us, err := c.ListUsers(ctx, broker.ByUsername); return len(us), err }},
		{name: "bans", path: "/api/v4/banned", item: `{"who":"w%d","as":"clientid","reason":"r","at":1,"until":2}`,
			list: func(c *Client) (int, error) { bs, err := c.ListBans(ctx); return len(bs), err }},
		{name: "subscriptions", path: "/api/v4/subscriptions", item: `{"clientid":"c","topic":"t/%d","qos":0}`,
			list: func(c *Client) (int, error) { ss, err := c.ListSubscriptions(ctx, ""); return len(ss), err }},
		{name: "clients", path: "/api/v4/clients", item: `{"clientid":"c%d"}`, query: "&clientid=c&username=u",
			list: func(c *Client) (int, error) {
				cs, err := c.ListClients(ctx, broker.ClientFilter{ClientID: "c", Username: "u"})
				return len(cs), err
			}},
		{name: "$all rules", path: "/api/v4/acl/$all", item: `{"all":"$all","topic":"t/%d","action":"pub","access":"allow"}`,
			list: func(c *Client) (int, error) { rs, err := c.ListRules(ctx, broker.ByAll); return len(rs[""]), err }},
		{name: "username rules", path: "/api/v4/acl/username", item: `{"username":"u","topic":"t/%[1]d","action":"pub","access":"allow","created_at":%[1]d}`,
			list: func(c *Client) (int, error) { rs, err := c.ListRules(ctx, broker.ByUsername); return len(rs["u"]), err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := brokertest.NewServer(t)
			s.OnFunc(http.MethodGet, tt.path, func(r brokertest.Request) brokertest.Reply {
				if strings.Contains(r.RawQuery, "_page=1") {
					return brokertest.JSON(200, `{"code":0,"data":[`+fmt.Sprintf(tt.item, 1)+`,`+fmt.Sprintf(tt.item, 2)+
						`],"meta":{"page":1,"limit":2,"count":3,"hasnext":true}}`)
				}
				return brokertest.JSON(200, `{"code":0,"data":[`+fmt.Sprintf(tt.item, 3)+`],"meta":{"page":2,"limit":2,"count":3,"hasnext":false}}`)
			})
			c, _ := newTestClient(t, s)
			c.pageSize = 2
			n, err := tt.list(c)
			if err != nil || n != 3 {
				t.Fatalf("listed %d items, %v; want 3", n, err)
			}
			want := []string{"GET " + tt.path + "?_limit=2&_page=1" + tt.query, "GET " + tt.path + "?_limit=2&_page=2" + tt.query}
			if diff := cmp.Diff(want, s.Calls()); diff != "" {
				t.Errorf("requests mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
