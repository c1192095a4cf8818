package emqx5

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/brokertest"
)

const (
	authnPath = "/api/v5/authentication/password_based:built_in_database"
	usersURL  = authnPath + "/users"
	rulesURL  = "/api/v5/authorization/sources/built_in_database/rules"
)

func newTestClient(t *testing.T, s *brokertest.Server) (*Client, *brokertest.Recorder) {
	t.Helper()
	rec := &brokertest.Recorder{}
	cfg := s.Config(broker.APIv5)
	cfg.URL += "/api/v5"
	cfg.Observe = rec.Observe
	cfg.Timeout = 2 * time.Second
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.t.Backoff = func(int) time.Duration { return time.Millisecond }
	return c, rec
}

func fields(op string, class broker.Class, code string, status int, reason string) brokertest.ErrorFields {
	return brokertest.ErrorFields{Op: op, Class: class, Code: code, HTTPStatus: status, Reason: reason}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		wantResult string
		want       brokertest.ErrorFields
	}{
		{name: "ok", status: 200, body: `{}`, wantResult: "200"},
		{name: "created", status: 201, body: `{}`, wantResult: "201"},
		{name: "no content", status: 204, wantResult: "204"},
		{name: "schema", status: 400, body: `{"code":"BAD_REQUEST","message":"x"}`, wantResult: "BAD_REQUEST", want: fields("", broker.ClassRejected, "BAD_REQUEST", 400, "BadRequest")},
		{name: "exists", status: 409, body: `{"code":"ALREADY_EXISTS","message":"User already exists"}`, wantResult: "ALREADY_EXISTS", want: fields("", broker.ClassAlreadyExists, "ALREADY_EXISTS", 409, "AlreadyExists")},
		{name: "ban exists is 400", status: 400, body: `{"code":"ALREADY_EXISTS","message":"{\"who\":\"c\"}"}`, wantResult: "ALREADY_EXISTS", want: fields("", broker.ClassAlreadyExists, "ALREADY_EXISTS", 400, "AlreadyExists")},
		{name: "user not found", status: 404, body: `{"code":"NOT_FOUND","message":"User not found"}`, wantResult: "NOT_FOUND", want: fields("", broker.ClassNotFound, "NOT_FOUND", 404, "NotFound")},
		{name: "no authenticator", status: 404, body: `{"code":"NOT_FOUND","message":"Authenticator not found in the 'global' scope"}`, wantResult: "NOT_FOUND", want: fields("", broker.ClassMisconfigured, "NOT_FOUND", 404, "AuthenticatorNotFound")},
		{name: "no authz source", status: 404, body: `{"code":"NOT_FOUND","message":"Not found: built_in_database"}`, wantResult: "NOT_FOUND", want: fields("", broker.ClassMisconfigured, "NOT_FOUND", 404, "AuthzSourceNotFound")},
		{name: "chain without db authenticator", status: 400, body: `{"code":"BAD_REQUEST","message":"User error: {not_found,{authenticator,<<\"password_based:built_in_database\">>}}"}`, wantResult: "BAD_REQUEST", want: fields("", broker.ClassMisconfigured, "BAD_REQUEST", 400, "AuthenticatorNotFound")},
		{name: "no route", status: 404, body: `{"code":"NOT_FOUND","message":"Request Path Not Found"}`, wantResult: "NOT_FOUND", want: fields("", broker.ClassMisconfigured, "NOT_FOUND", 404, "RouteNotFound")},
		{name: "no route html", status: 404, body: `<html>nope</html>`, wantResult: "404", want: fields("", broker.ClassMisconfigured, "", 404, "RouteNotFound")},
		{name: "client not found", status: 404, body: `{"code":"CLIENTID_NOT_FOUND","message":"Client ID not found"}`, wantResult: "CLIENTID_NOT_FOUND", want: fields("", broker.ClassNotFound, "CLIENTID_NOT_FOUND", 404, "ClientIDNotFound")},
		{name: "bad key", status: 401, body: `{"code":"BAD_API_KEY_OR_SECRET","message":"Check api_key/api_secret"}`, wantResult: "BAD_API_KEY_OR_SECRET", want: fields("", broker.ClassUnauthorized, "BAD_API_KEY_OR_SECRET", 401, "BadAPIKeyOrSecret")},
		{name: "role", status: 403, body: `{"code":"UNAUTHORIZED_ROLE","message":"x"}`, wantResult: "UNAUTHORIZED_ROLE", want: fields("", broker.ClassUnauthorized, "UNAUTHORIZED_ROLE", 403, "UnauthorizedRole")},
		{name: "media type", status: 415, body: `{"code":"UNSUPPORTED_MEDIA_TYPE","message":"x"}`, wantResult: "UNSUPPORTED_MEDIA_TYPE", want: fields("", broker.ClassRejected, "UNSUPPORTED_MEDIA_TYPE", 415, "UnsupportedMediaType")},
		{name: "wrong method", status: 405, wantResult: "405", want: fields("", broker.ClassMisconfigured, "", 405, "RouteNotFound")},
		{name: "crash", status: 500, body: `{"code":"INTERNAL_ERROR","message":"error, badarg"}`, wantResult: "INTERNAL_ERROR", want: fields("", broker.ClassTransient, "INTERNAL_ERROR", 500, "InternalError")},
		{name: "node down", status: 500, body: `{"code":"NODE_DOWN","message":"x"}`, wantResult: "NODE_DOWN", want: fields("", broker.ClassTransient, "NODE_DOWN", 500, "NodeDown")},
		{name: "bad topic", status: 400, body: `{"reason_code":144,"message":"topic_name_invalid"}`, wantResult: "reason_code:144", want: fields("", broker.ClassRejected, "reason_code:144", 400, "TopicNameInvalid")},
		{name: "dispatch failed", status: 503, body: `{"reason_code":131,"message":"failed_to_dispatch"}`, wantResult: "reason_code:131", want: fields("", broker.ClassTransient, "reason_code:131", 503, "ImplementationSpecificError")},
		{name: "unavailable empty", status: 503, wantResult: "503", want: fields("", broker.ClassTransient, "", 503, "Transient")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			result, berr := classify(tt.status, []byte(tt.body))
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
		})
	}
}

func TestRetriesAndObserve(t *testing.T) {
	s := brokertest.NewServer(t)
	s.On(http.MethodGet, "/api/v5/nodes", brokertest.JSON(500, `{"code":"NODE_DOWN","message":"x"}`), brokertest.JSON(200, `[{"node":"emqx@a","node_status":"running","version":"5.8.9"}]`))
	s.On(http.MethodPost, "/api/v5/publish", brokertest.JSON(503, `{"reason_code":131,"message":"failed_to_dispatch"}`))
	c, rec := newTestClient(t, s)
	info, err := c.Health(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(broker.Info{Version: "5.8.9", Nodes: 1, RunningNodes: 1}, info); diff != "" {
		t.Errorf("health mismatch (-want +got):\n%s", diff)
	}
	_, err = c.Publish(context.Background(), broker.Message{Topic: "t"})
	if diff := cmp.Diff(fields("Publish", broker.ClassTransient, "reason_code:131", 503, "ImplementationSpecificError"), brokertest.Fields(err)); diff != "" {
		t.Errorf("publish mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Health=NODE_DOWN", "Health=200", "Publish=reason_code:131"}, rec.Results()); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
}
