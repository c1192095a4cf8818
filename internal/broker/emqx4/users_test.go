package emqx4

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/brokertest"
)

func TestUsers(t *testing.T) {
	s := brokertest.NewServer(t)
	s.On(http.MethodPost, "/api/v4/auth_username", brokertest.JSON(200, okBody), brokertest.JSON(200, `{"message":"existed"}`))
	s.On(http.MethodPost, "/api/v4/auth_clientid", brokertest.JSON(200, `{"message":"password"}`))
	s.On(http.MethodGet, "/api/v4/auth_username/a%2Fb%23c%25d%20e+%C3%BC", brokertest.JSON(200, `{"code":0,"data":{"username":"a/b#c%d e+ü","created_at":1700000000000}}`))
	s.On(http.MethodGet, "/api/v4/auth_username/ghost", brokertest.JSON(200, `{"code":0,"data":{}}`))
	s.On(http.MethodGet, "/api/v4/auth_clientid/old", brokertest.JSON(200, `{"code":0,"data":{"clientid":"old","password":"\u0001\u0002salthash"}}`))
	s.On(http.MethodPut, "/api/v4/auth_username/ghost", brokertest.JSON(200, `{"message":"noexisted"}`))
	s.On(http.MethodPut, "/api/v4/auth_username/bob", brokertest.JSON(200, okBody))
	s.On(http.MethodDelete, "/api/v4/auth_username/ghost", brokertest.JSON(200, okBody))
	s.On(http.MethodGet, "/api/v4/auth_clientid/x", brokertest.Text(404, "Not found."))
	c, _ := newTestClient(t, s)
	ctx := context.Background()
	odd := "a/b#c%d e+ü"

	type result struct {
		User broker.User
		Err  brokertest.ErrorFields
	}
	get := func(kind broker.IdentityKind, id string) result {
		u, err := c.GetUser(ctx, kind, id)
		return result{u, brokertest.Fields(err)}
	}
	got := map[string]any{
		"create":           brokertest.Fields(c.CreateUser(ctx, broker.UserSpec{Kind: broker.ByUsername, ID: "bob", Password: "pw"})),
		"create existing":  brokertest.Fields(c.CreateUser(ctx, broker.UserSpec{Kind: broker.ByUsername, ID: "bob", Password: "pw"})),
		"create bad pw":    brokertest.Fields(c.CreateUser(ctx, broker.UserSpec{Kind: broker.ByClientID, ID: "dev", Password: ""})),
		"create superuser": brokertest.Fields(c.CreateUser(ctx, broker.UserSpec{Kind: broker.ByUsername, ID: "root", Password: "pw", Superuser: true})),
		"create all kind":  brokertest.Fields(c.CreateUser(ctx, broker.UserSpec{Kind: broker.ByAll, ID: "x", Password: "pw"})),
		"get escaped":      get(broker.ByUsername, odd),
		"get missing":      get(broker.ByUsername, "ghost"),
		"get old version":  get(broker.ByClientID, "old"),
		"get no plugin":    get(broker.ByClientID, "x"),
		"update missing":   brokertest.Fields(c.UpdateUser(ctx, broker.UserSpec{Kind: broker.ByUsername, ID: "ghost", Password: "pw"})),
		"update":           brokertest.Fields(c.UpdateUser(ctx, broker.UserSpec{Kind: broker.ByUsername, ID: "bob", Password: "pw2"})),
		"update superuser": brokertest.Fields(c.UpdateUser(ctx, broker.UserSpec{Kind: broker.ByUsername, ID: "bob", Password: "pw2", Superuser: true})),
		"delete missing":   brokertest.Fields(c.DeleteUser(ctx, broker.ByUsername, "ghost")),
		"delete empty id":  brokertest.Fields(c.DeleteUser(ctx, broker.ByUsername, "")),
		"get empty id":     get(broker.ByUsername, ""),
	}
	want := map[string]any{
		"create":           brokertest.ErrorFields{},
		"create existing":  fields("CreateUser", broker.ClassAlreadyExists, "", 200, "UserExists"),
		"create bad pw":    fields("CreateUser", broker.ClassRejected, "", 200, "ParameterError"),
		"create superuser": fields("CreateUser", broker.ClassUnsupported, "", 0, "Unsupported"),
		"create all kind":  fields("CreateUser", broker.ClassUnsupported, "", 0, "Unsupported"),
		"get escaped":      result{User: broker.User{Kind: broker.ByUsername, ID: odd}},
		"get missing":      result{Err: fields("GetUser", broker.ClassNotFound, "", 200, "NotFound")},
		"get old version":  result{User: broker.User{Kind: broker.ByClientID, ID: "old"}},
		"get no plugin":    result{Err: fields("GetUser", broker.ClassMisconfigured, "", 404, "RouteNotFound")},
		"update missing":   fields("UpdateUser", broker.ClassNotFound, "", 200, "UserNotFound"),
		"update":           brokertest.ErrorFields{},
		"update superuser": fields("UpdateUser", broker.ClassUnsupported, "", 0, "Unsupported"),
		"delete missing":   brokertest.ErrorFields{},
		"delete empty id":  brokertest.ErrorFields{},
		"get empty id":     result{Err: fields("GetUser", broker.ClassRejected, "", 0, "Rejected")},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("users mismatch (-want +got):\n%s", diff)
	}
	var bodies []string
	for _, r := range s.Requests() {
		if r.Method == http.MethodPut {
			bodies = append(bodies, r.Body)
		}
	}
	if diff := cmp.Diff([]string{`{"password":"pw"}`, `{"password":"pw2"}`}, bodies); diff != "" {
		t.Errorf("PUT bodies mismatch (-want +got):\n%s", diff)
	}
}

// pagedUsers serves n users like 4.4.4+ (hasnext) or older brokers (count only).
func pagedUsers(n int, withHasNext bool) brokertest.Handler {
	return func(r brokertest.Request) brokertest.Reply {
		q, _ := url.ParseQuery(r.RawQuery)
		page, _ := strconv.Atoi(q.Get("_page"))
		limit, _ := strconv.Atoi(q.Get("_limit"))
		var items []string
		for i := (page - 1) * limit; i < min(page*limit, n); i++ {
			items = append(items, fmt.Sprintf(`{"username":"u%03d","created_at":1}`, i))
		}
		meta := fmt.Sprintf(`"page":%d,"limit":%d,"count":%d`, page, limit, n)
		if withHasNext {
			meta += fmt.Sprintf(`,"hasnext":%v`, page*limit < n)
		}
		return brokertest.JSON(200, `{"code":0,"data":[`+strings.Join(items, ",")+`],"meta":{`+meta+`}}`)
	}
}

func TestListUsersPagination(t *testing.T) {
	tests := []struct {
		name      string
		n         int
		hasNext   bool
		wantCalls int
	}{
		{name: "hasnext", n: 25, hasNext: true, wantCalls: 3},
		{name: "count only", n: 25, wantCalls: 3},
		{name: "exact multiple with hasnext", n: 20, hasNext: true, wantCalls: 2},
		{name: "exact multiple count only", n: 20, wantCalls: 2},
		{name: "empty", n: 0, hasNext: true, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := brokertest.NewServer(t)
			s.OnFunc(http.MethodGet, "/api/v4/auth_username", pagedUsers(tt.n, tt.hasNext))
			c, _ := newTestClient(t, s)
			c.pageSize = 10
			users, err := c.ListUsers(context.Background(), broker.ByUsername)
			if err != nil {
				t.Fatal(err)
			}
			want := []broker.User{}
			for i := 0; i < tt.n; i++ {
				want = append(want, broker.User{Kind: broker.ByUsername, ID: fmt.Sprintf("u%03d", i)})
			}
			if diff := cmp.Diff(want, users); diff != "" {
				t.Errorf("users mismatch (-want +got):\n%s", diff)
			}
			if got := len(s.Requests()); got != tt.wantCalls {
				t.Errorf("%d requests, want %d: %v", got, tt.wantCalls, s.Calls())
			}
			if q := s.Requests()[0].RawQuery; q != "_limit=10&_page=1" {
				t.Errorf("query = %q", q)
			}
		})
	}
}
