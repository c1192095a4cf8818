package emqx5

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
	s.On(http.MethodGet, authnPath, brokertest.JSON(200, `{"id":"password_based:built_in_database","mechanism":"password_based","backend":"built_in_database","user_id_type":"clientid"}`))
	s.On(http.MethodPost, usersURL, brokertest.JSON(201, `{"user_id":"dev1","is_superuser":true}`), brokertest.JSON(409, `{"code":"ALREADY_EXISTS","message":"User already exists"}`))
	s.On(http.MethodGet, usersURL+"/dev%2F1%20%23%C3%BC", brokertest.JSON(200, `{"user_id":"dev/1 #ü","is_superuser":true}`))
	s.On(http.MethodGet, usersURL+"/ghost", brokertest.JSON(404, `{"code":"NOT_FOUND","message":"User not found"}`))
	s.On(http.MethodPut, usersURL+"/dev1", brokertest.JSON(200, `{"user_id":"dev1","is_superuser":false}`))
	s.On(http.MethodPut, usersURL+"/ghost", brokertest.JSON(404, `{"code":"NOT_FOUND","message":"User not found"}`))
	s.On(http.MethodDelete, usersURL+"/ghost", brokertest.JSON(404, `{"code":"NOT_FOUND","message":"User not found"}`))
	s.On(http.MethodDelete, usersURL+"/dev1", brokertest.Reply{Status: 204})
	c, _ := newTestClient(t, s)
	ctx := context.Background()
	type res struct {
		User broker.User
		Err  brokertest.ErrorFields
	}
	get := func(kind broker.IdentityKind, id string) res {
		u, err := c.GetUser(ctx, kind, id)
		return res{u, brokertest.Fields(err)}
	}
	others, err := c.ListUsers(ctx, broker.ByUsername)
	got := map[string]any{
		"create":          brokertest.Fields(c.CreateUser(ctx, broker.UserSpec{Kind: broker.ByClientID, ID: "dev1", Password: "pw", Superuser: true})),
		"create again":    brokertest.Fields(c.CreateUser(ctx, broker.UserSpec{Kind: broker.ByClientID, ID: "dev1", Password: "pw"})),
		"create username": brokertest.Fields(c.CreateUser(ctx, broker.UserSpec{Kind: broker.ByUsername, ID: "bob", Password: "pw"})),
		"get":             get(broker.ByClientID, "dev/1 #ü"),
		"get missing":     get(broker.ByClientID, "ghost"),
		"get username":    get(broker.ByUsername, "bob"),
		"update":          brokertest.Fields(c.UpdateUser(ctx, broker.UserSpec{Kind: broker.ByClientID, ID: "dev1", Password: "new"})),
		"update missing":  brokertest.Fields(c.UpdateUser(ctx, broker.UserSpec{Kind: broker.ByClientID, ID: "ghost", Password: "new"})),
		"delete":          brokertest.Fields(c.DeleteUser(ctx, broker.ByClientID, "dev1")),
		"delete missing":  brokertest.Fields(c.DeleteUser(ctx, broker.ByClientID, "ghost")),
		"delete username": brokertest.Fields(c.DeleteUser(ctx, broker.ByUsername, "bob")),
		"list username":   []any{others, brokertest.Fields(err)},
	}
	want := map[string]any{
		"create":          brokertest.ErrorFields{},
		"create again":    fields("CreateUser", broker.ClassAlreadyExists, "ALREADY_EXISTS", 409, "AlreadyExists"),
		"create username": fields("CreateUser", broker.ClassUnsupported, "", 0, "Unsupported"),
		"get":             res{User: broker.User{Kind: broker.ByClientID, ID: "dev/1 #ü", Superuser: true}},
		"get missing":     res{Err: fields("GetUser", broker.ClassNotFound, "NOT_FOUND", 404, "NotFound")},
		"get username":    res{Err: fields("GetUser", broker.ClassUnsupported, "", 0, "Unsupported")},
		"update":          brokertest.ErrorFields{},
		"update missing":  fields("UpdateUser", broker.ClassNotFound, "NOT_FOUND", 404, "NotFound"),
		"delete":          brokertest.ErrorFields{},
		"delete missing":  brokertest.ErrorFields{},
		"delete username": brokertest.ErrorFields{},
		"list username":   []any{[]broker.User{}, brokertest.ErrorFields{}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("users mismatch (-want +got):\n%s", diff)
	}
	authnReads := 0
	bodies := map[string]string{}
	for _, r := range s.Requests() {
		if r.Path == authnPath {
			authnReads++
		}
		if r.Method == http.MethodPost || r.Method == http.MethodPut {
			bodies[r.Method+" "+r.Path] = r.Body
			if r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("%s %s without JSON content type", r.Method, r.Path)
			}
		}
	}
	if authnReads != 1 {
		t.Errorf("authenticator read %d times, want once", authnReads)
	}
	wantBodies := map[string]string{
		"POST " + usersURL:           `{"is_superuser":false,"password":"pw","user_id":"dev1"}`,
		"PUT " + usersURL + "/dev1":  `{"is_superuser":false,"password":"new"}`,
		"PUT " + usersURL + "/ghost": `{"is_superuser":false,"password":"new"}`,
	}
	if diff := cmp.Diff(wantBodies, bodies); diff != "" {
		t.Errorf("bodies mismatch (-want +got):\n%s", diff)
	}
}

func TestUsersWithoutAuthenticator(t *testing.T) {
	s := brokertest.NewServer(t)
	s.On(http.MethodGet, authnPath,
		brokertest.JSON(404, `{"code":"NOT_FOUND","message":"Authenticator not found in the 'global' scope"}`),
		brokertest.JSON(404, `{"code":"NOT_FOUND","message":"not found"}`),
		brokertest.JSON(200, `{"user_id_type":"username"}`))
	s.On(http.MethodGet, usersURL+"/bob", brokertest.JSON(200, `{"user_id":"bob","is_superuser":false}`))
	c, _ := newTestClient(t, s)
	ctx := context.Background()
	_, err1 := c.GetUser(ctx, broker.ByUsername, "bob")
	err2 := c.DeleteUser(ctx, broker.ByUsername, "bob")
	u, err3 := c.GetUser(ctx, broker.ByUsername, "bob")
	got := []brokertest.ErrorFields{brokertest.Fields(err1), brokertest.Fields(err2), brokertest.Fields(err3)}
	want := []brokertest.ErrorFields{
		fields("GetUser", broker.ClassMisconfigured, "NOT_FOUND", 404, "AuthenticatorNotFound"),
		fields("DeleteUser", broker.ClassMisconfigured, "NOT_FOUND", 404, "AuthenticatorNotFound"),
		{},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
	if u.ID != "bob" {
		t.Errorf("user = %+v", u)
	}
}

func TestListUsersPagination(t *testing.T) {
	const n = 25
	s := brokertest.NewServer(t)
	s.On(http.MethodGet, authnPath, brokertest.JSON(200, `{"user_id_type":"username"}`))
	s.OnFunc(http.MethodGet, usersURL, func(r brokertest.Request) brokertest.Reply {
		q, _ := url.ParseQuery(r.RawQuery)
		page, _ := strconv.Atoi(q.Get("page"))
		limit, _ := strconv.Atoi(q.Get("limit"))
		var items []string
		for i := (page - 1) * limit; i < min(page*limit, n); i++ {
			items = append(items, fmt.Sprintf(`{"user_id":"u%02d","is_superuser":%v}`, i, i == 3))
		}
		return brokertest.JSON(200, fmt.Sprintf(`{"data":[%s],"meta":{"page":%d,"limit":%d,"hasnext":%v,"count":%d}}`,
			strings.Join(items, ","), page, limit, page*limit < n, n))
	})
	c, _ := newTestClient(t, s)
	c.pageSize = 10
	users, err := c.ListUsers(context.Background(), broker.ByUsername)
	if err != nil {
		t.Fatal(err)
	}
	var want []broker.User
	for i := 0; i < n; i++ {
		want = append(want, broker.User{Kind: broker.ByUsername, ID: fmt.Sprintf("u%02d", i), Superuser: i == 3})
	}
	if diff := cmp.Diff(want, users); diff != "" {
		t.Errorf("users mismatch (-want +got):\n%s", diff)
	}
	wantCalls := []string{"GET " + authnPath, "GET " + usersURL + "?limit=10&page=1", "GET " + usersURL + "?limit=10&page=2", "GET " + usersURL + "?limit=10&page=3"}
	if diff := cmp.Diff(wantCalls, s.Calls()); diff != "" {
		t.Errorf("calls mismatch (-want +got):\n%s", diff)
	}
}
