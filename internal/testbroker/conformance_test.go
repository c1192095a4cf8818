package testbroker

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mqttoperator/mqtt-operator/internal/mqtttest"
)

// conformanceRow is one request and what EMQX answers to it (v4.4.19 for
// /api/v4, v5.8.9 for /api/v5; docs/internals/emqx-api.md explains the
// quirks). Rows run in order against one broker, so later rows can rely on
// state created by earlier ones (noted in their names).
type conformanceRow struct {
	name string
	// src names the EMQX source (file and function, or test suite) that
	// shows the behaviour, where the row pins down something easy to get wrong.
	src    string
	before func(t *testing.T, b *Broker) // runs first, e.g. to connect a client
	req    req
	status int
	text   string         // exact text body (non-JSON replies)
	json   string         // exact JSON body, compared structurally
	fields map[string]any // JSON path -> value
	absent []string       // JSON paths that must not exist
	header map[string]string
	check  func(t *testing.T, r apiReply)
}

func r4(method, path, body string) req {
	return req{method: method, path: "/api/v4" + path, body: body}
}

func r5(method, path, body string) req {
	rq := req{method: method, path: "/api/v5" + path, body: body}
	if body != "" {
		rq.ctype = "application/json"
	}
	return rq
}

const (
	authn  = "/authentication/password_based:built_in_database"
	authnE = "/authentication/password_based%3Abuilt_in_database"
	rules5 = "/authorization/sources/built_in_database/rules"
)

func v4Rows() []conformanceRow {
	return []conformanceRow{
		// auth_username / auth_clientid (emqx_auth_mnesia_api)
		{name: "v4 create user", req: r4("POST", "/auth_username", `{"username":"alice","password":"pw1"}`),
			status: 200, json: `{"code":0}`},
		{name: "v4 duplicate user is uncoded existed", req: r4("POST", "/auth_username", `{"username":"alice","password":"x"}`),
			status: 200, json: `{"message":"existed"}`},
		{name: "v4 missing username is login", req: r4("POST", "/auth_username", `{"password":"x"}`),
			status: 200, json: `{"message":"login"}`},
		{name: "v4 empty username is login", req: r4("POST", "/auth_username", `{"username":"","password":"x"}`),
			status: 200, json: `{"message":"login"}`},
		{name: "v4 missing password", req: r4("POST", "/auth_username", `{"username":"bob"}`),
			status: 200, json: `{"message":"password"}`},
		{name: "v4 batch result keyed by name", req: r4("POST", "/auth_username",
			`[{"username":"bob","password":"b"},{"username":"alice","password":"x"},{"username":"carol"},{"password":"p"}]`),
			status: 200, json: `{"code":0,"data":{"bob":"ok","alice":"{error,existed}","carol":"{error,password}","undefined":"{error,login}"}}`},
		{name: "v4 batch duplicate names: first result wins", req: r4("POST", "/auth_username",
			`[{"username":"dup","password":""},{"username":"dup","password":"d"}]`),
			status: 200, json: `{"code":0,"data":{"dup":"{error,password}"}}`},
		{name: "v4 empty batch crashes", req: r4("POST", "/auth_username", `[]`),
			status: 500, text: "Internal Error"},
		{name: "v4 batch with query string takes the single path", req: r4("POST", "/auth_username?x=1", `[{"username":"dan","password":"d"}]`),
			status: 200, json: `{"message":"login"}`},
		{name: "v4 get user has created_at, no password", req: r4("GET", "/auth_username/alice", ""),
			status: 200, fields: map[string]any{"code": 0, "data/username": "alice"}, absent: []string{"data/password"},
			check: func(t *testing.T, r apiReply) {
				if _, ok := jsonAt(r.json(t), "data/created_at"); !ok {
					t.Error("created_at missing")
				}
			}},
		{name: "v4 get missing user is success with empty data", req: r4("GET", "/auth_username/nobody", ""),
			status: 200, json: `{"code":0,"data":{}}`},
		{name: "v4 update missing user is noexisted", req: r4("PUT", "/auth_username/nobody", `{"password":"x"}`),
			status: 200, json: `{"message":"noexisted"}`},
		{name: "v4 update without password", req: r4("PUT", "/auth_username/alice", `{}`),
			status: 200, json: `{"message":"password"}`},
		{name: "v4 update password", req: r4("PUT", "/auth_username/alice", `{"password":"pw2"}`),
			status: 200, json: `{"code":0}`},
		{name: "v4 delete missing user is code 0", req: r4("DELETE", "/auth_username/nobody", ""),
			status: 200, json: `{"code":0}`},
		{name: "v4 list with filter has count -1", req: r4("GET", "/auth_username?_like_username=o", ""),
			status: 200, fields: map[string]any{"meta/count": -1, "meta/hasnext": false, "data/0/username": "bob"},
			absent: []string{"data/1"}},
		{name: "v4 exact filter overrides like on the same field", req: r4("GET", "/auth_username?_like_username=zzz&username=alice", ""),
			src:    "v4.4.19 apps/emqx_management/src/emqx_mgmt_api.erl pick_params_to_qs/4",
			status: 200, fields: map[string]any{"meta/count": -1, "data/0/username": "alice"}, absent: []string{"data/1"}},
		{name: "v4 list paging meta", req: r4("GET", "/auth_username?_limit=1", ""),
			status: 200, fields: map[string]any{"meta/page": 1, "meta/limit": 1, "meta/count": 3, "meta/hasnext": true}},
		{name: "v4 bad _page is a crash", req: r4("GET", "/auth_username?_page=abc", ""),
			status: 500, text: "Internal Error"},
		{name: "v4 invalid json is 400 text", req: r4("POST", "/auth_username", `{bad`),
			status: 400, text: "Bad Request"},
		{name: "v4 no credentials", req: req{method: "GET", path: "/api/v4/auth_username", user: "-"},
			status: 401, text: "UNAUTHORIZED", header: map[string]string{"WWW-Authenticate": `Basic Realm="minirest-server"`}},
		{name: "v4 wrong secret", req: req{method: "GET", path: "/api/v4/brokers", user: "admin", pass: "nope"},
			status: 401, text: "UNAUTHORIZED"},
		{name: "v4 unknown route", req: r4("GET", "/no_such_thing", ""), status: 404, text: "Not found."},
		{name: "v4 wrong method is 404", req: r4("PATCH", "/auth_username/alice", `{}`), status: 404, text: "Not found."},
		{name: "v4 empty segments are dropped", req: r4("GET", "//auth_username//alice", ""),
			status: 200, fields: map[string]any{"data/username": "alice"}},
		{name: "v4 create clientid user", req: r4("POST", "/auth_clientid", `{"clientid":"dev-1","password":"p"}`),
			status: 200, json: `{"code":0}`},
		{name: "v4 clientid list exact filter", req: r4("GET", "/auth_clientid?clientid=dev-1", ""),
			status: 200, fields: map[string]any{"meta/count": -1, "data/0/clientid": "dev-1"}},
		{name: "v4 clientid path var keeps +", req: r4("POST", "/auth_clientid", `{"clientid":"a+b","password":"p"}`),
			status: 200, json: `{"code":0}`},
		{name: "v4 + in path is literal", req: r4("GET", "/auth_clientid/a+b", ""),
			status: 200, fields: map[string]any{"data/clientid": "a+b"}},

		// acl (emqx_acl_mnesia_api)
		{name: "v4 acl pubsub create echoes pubsub", req: r4("POST", "/acl", `{"username":"alice","topic":"t/1","action":"pubsub","access":"allow"}`),
			status: 200, json: `{"code":0,"data":{"username":"alice","topic":"t/1","action":"pubsub","access":"allow","result":"ok"}}`},
		{name: "v4 acl pubsub stored as two rules, sub first", req: r4("GET", "/acl/username/alice", ""),
			src:    "v4.4.19 apps/emqx_auth_mnesia/src/emqx_acl_mnesia_db.erl normalize_rule/1, lookup_acl/1, comparing/2",
			status: 200, json: `{"code":0,"data":[{"username":"alice","topic":"t/1","action":"sub","access":"allow"},{"username":"alice","topic":"t/1","action":"pub","access":"allow"}]}`},
		{name: "v4 acl upsert per action moves to front", req: r4("POST", "/acl", `{"username":"alice","topic":"t/1","action":"pub","access":"deny"}`),
			status: 200, fields: map[string]any{"data/result": "ok"}},
		{name: "v4 acl list after upsert: no duplicate, newest first", req: r4("GET", "/acl/username?username=alice", ""),
			status: 200, fields: map[string]any{"meta/count": 2, "meta/limit": 50, "data/0/action": "pub", "data/0/access": "deny"},
			absent: []string{"meta/hasnext"}},
		{name: "v4 acl list: exact login overrides like", req: r4("GET", "/acl/username?username=alice&_like_username=zzz&action=pub", ""),
			src:    "v4.4.19 apps/emqx_management/src/emqx_mgmt_api.erl pick_params_to_qs/4; apps/emqx_auth_mnesia/src/emqx_acl_mnesia_db.erl filter_params/2",
			status: 200, fields: map[string]any{"meta/count": 1, "data/0/username": "alice", "data/0/access": "deny"}},
		{name: "v4 acl bad action is a printed erlang term", req: r4("POST", "/acl", `{"clientid":"c1","topic":"x","action":"pubx","access":"allow"}`),
			status: 200, json: `{"message":"{add,#{access => <<\"allow\">>,action => <<\"pubx\">>,clientid => <<\"c1\">>,result => <<\"{error,action}\">>,topic => <<\"x\">>}}"}`},
		{name: "v4 acl empty topic names the topic field", req: r4("POST", "/acl", `{"username":"u","topic":"","action":"pub","access":"allow"}`),
			status: 200, absent: []string{"code"}, check: func(t *testing.T, r apiReply) {
				msg, _ := jsonAt(r.json(t), "message")
				if s, _ := msg.(string); !strings.Contains(s, "{error,topic}") {
					t.Errorf("message %q lacks {error,topic}", s)
				}
			}},
		{name: "v4 acl clientid and username together crash", req: r4("POST", "/acl", `{"clientid":"c1","username":"u","topic":"x","action":"pub","access":"allow"}`),
			status: 500, text: "Internal Error"},
		{name: "v4 acl batch reply is reversed", req: r4("POST", "/acl",
			`[{"clientid":"c1","topic":"a","action":"sub","access":"allow"},{"topic":"b","action":"pub","access":"deny"}]`),
			status: 200, fields: map[string]any{"data/0/all": "$all", "data/0/result": "ok", "data/1/clientid": "c1"}},
		{name: "v4 acl batch item error in result", req: r4("POST", "/acl", `[{"clientid":"c2","topic":"a","action":"sub","access":"maybe"}]`),
			status: 200, fields: map[string]any{"code": 0, "data/0/result": "{error,access}"}},
		{name: "v4 acl empty batch crashes", req: r4("POST", "/acl", `[]`), status: 500, text: "Internal Error"},
		{name: "v4 %24all does not match the route", req: r4("GET", "/acl/%24all", ""), status: 404, text: "Not found."},
		{name: "v4 $all list meta has no hasnext", req: r4("GET", "/acl/$all", ""),
			status: 200, json: `{"code":0,"data":[{"all":"$all","topic":"b","action":"pub","access":"deny"}],"meta":{"page":1,"limit":50,"count":1}}`},
		{name: "v4 delete topic removes every action", req: r4("DELETE", "/acl/username/alice/topic/t%2F1", ""),
			status: 200, json: `{"code":0}`},
		{name: "v4 acl lookup after delete is empty", req: r4("GET", "/acl/username/alice", ""),
			status: 200, json: `{"code":0,"data":[]}`},
		{name: "v4 acl lookup unknown login", req: r4("GET", "/acl/clientid/nobody", ""),
			status: 200, json: `{"code":0,"data":[]}`},
		{name: "v4 acl delete missing rule is code 0", req: r4("DELETE", "/acl/$all/topic/none", ""),
			status: 200, json: `{"code":0}`},

		// banned (emqx_mgmt_api_banned)
		{name: "v4 ban without reason crashes", req: r4("POST", "/banned", `{"who":"c9","as":"clientid"}`),
			status: 500, text: "Internal Error"},
		{name: "v4 ban echoes only sent params", req: r4("POST", "/banned", `{"who":"c9","as":"clientid","reason":"r"}`),
			status: 200, json: `{"code":0,"data":{"who":"c9","as":"clientid","reason":"r"}}`},
		{name: "v4 ban missing who/as is 107", req: r4("POST", "/banned", `{"as":"clientid","reason":"r"}`),
			status: 200, json: `{"code":107,"message":"missing mandatory params: ['who', 'as']"}`},
		{name: "v4 ban bad as is 108", req: r4("POST", "/banned", `{"who":"x","as":"ip","reason":"r"}`),
			status: 200, json: `{"code":108,"message":"value of 'as' must be one of: ['clientid', 'username', 'peerhost']"}`},
		{name: "v4 ban bad peerhost crashes", req: r4("POST", "/banned", `{"who":"not-an-ip","as":"peerhost","reason":"r"}`),
			status: 500, text: "Internal Error"},
		{name: "v4 ban duplicate silently overwrites", req: r4("POST", "/banned", `{"who":"c9","as":"clientid","reason":"r2"}`),
			status: 200, fields: map[string]any{"code": 0, "data/reason": "r2"}},
		{name: "v4 ban list: defaults by=user and until=at+300", req: r4("GET", "/banned", ""),
			status: 200, fields: map[string]any{"meta/count": 1, "data/0/by": "user", "data/0/reason": "r2"},
			check: func(t *testing.T, r apiReply) {
				v := r.json(t)
				at, _ := jsonAt(v, "data/0/at")
				until, _ := jsonAt(v, "data/0/until")
				a, _ := at.(json.Number).Int64()
				u, _ := until.(json.Number).Int64()
				if u-a != 300 {
					t.Errorf("until-at = %d, want 300 (epoch seconds)", u-a)
				}
			}},
		{name: "v4 ban delete missing is code 0", req: r4("DELETE", "/banned/clientid/nobody", ""),
			status: 200, json: `{"code":0}`},
		{name: "v4 ban delete bad as is 108", req: r4("DELETE", "/banned/ip/x", ""),
			status: 200, fields: map[string]any{"code": 108}},

		// clients, subscriptions, mqtt (emqx_mgmt_api_clients, _subscriptions, _pubsub)
		{name: "v4 get unknown client is an empty list", req: r4("GET", "/clients/nobody", ""),
			status: 200, json: `{"code":0,"data":[]}`},
		{name: "v4 kick unknown client is code 0", req: r4("DELETE", "/clients/nobody", ""),
			status: 200, json: `{"code":0}`},
		{name: "v4 acl_cache of offline client", req: r4("GET", "/clients/nobody/acl_cache", ""),
			status: 200, json: `{"code":112,"message":"not_found"}`},
		{name: "v4 clients list meta", req: r4("GET", "/clients?_like_clientid=x", ""),
			status: 200, json: `{"code":0,"data":[],"meta":{"page":1,"limit":10000,"count":-1,"hasnext":false}}`},
		{name: "v4 clients: a filter of the wrong type is code 108", req: r4("GET", "/clients?proto_ver=abc", ""),
			src:    "v4.4.19 apps/emqx_management/src/emqx_mgmt_api_clients.erl fence/1",
			status: 200, json: `{"code":108,"message":"Can't convert <<\"abc\">> to integer type"}`},
		{name: "v4 clients: filters are converted before paging", req: r4("GET", "/clients?_page=x&_gte_created_at=soon", ""),
			src:    "v4.4.19 apps/emqx_management/src/emqx_mgmt_api.erl cluster_query/3",
			status: 200, json: `{"code":108,"message":"Can't convert <<\"soon\">> to timestamp type"}`},
		{name: "v4 clients: ip_address is dotted integers only", req: r4("GET", "/clients?ip_address=::1", ""),
			src:    "v4.4.19 apps/emqx_management/src/emqx_mgmt_api.erl to_type/2, aton/1",
			status: 200, json: `{"code":108,"message":"Can't convert <<\"::1\">> to ip type"}`},
		{name: "v4 clients: clean_start is an atom, any value converts", req: r4("GET", "/clients?clean_start=maybe", ""),
			src:    "v4.4.19 apps/emqx_management/src/emqx_mgmt_api_clients.erl CLIENT_QS_SCHEMA",
			status: 200, fields: map[string]any{"code": 0, "meta/count": -1}, absent: []string{"data/0"}},
		{name: "v4 subscriptions: a filter of the wrong type is framework 400 text", req: r4("GET", "/subscriptions?qos=abc", ""),
			src:    "v4.4.19 apps/emqx_management/src/emqx_mgmt_api_subscriptions.erl list/2; emqx/minirest 0.3.12 src/minirest.erl handle_request/2",
			status: 400, text: `{bad_value_type,{<<"qos">>,integer,<<"abc">>}}`},
		{name: "v4 node subscriptions: the same 400", req: r4("GET", "/nodes/emqx@127.0.0.1/subscriptions?qos=1.5", ""),
			src:    "v4.4.19 apps/emqx_management/src/emqx_mgmt_api.erl node_query/4",
			status: 400, text: `{bad_value_type,{<<"qos">>,integer,<<"1.5">>}}`},
		{name: "v4 subscriptions by topic: bad qos crashes", req: r4("GET", "/subscriptions?topic=a&qos=abc", ""),
			src:    "v4.4.19 apps/emqx_management/src/emqx_mgmt_api_subscriptions.erl qos/1",
			status: 500, text: "Internal Error"},
		{name: "v4 subscriptions of unknown client", req: r4("GET", "/subscriptions/nobody", ""),
			status: 200, json: `{"code":0,"data":[]}`},
		{name: "v4 publish wildcard topic is 115", req: r4("POST", "/mqtt/publish", `{"topic":"a/+","payload":"x"}`),
			status: 200, json: `{"code":115,"message":"bad_topic"}`},
		{name: "v4 publish without subscribers still code 0", req: r4("POST", "/mqtt/publish", `{"topic":"a/b","payload":"x"}`),
			status: 200, json: `{"code":0}`},
		{name: "v4 publish with return gives msgid", req: r4("POST", "/mqtt/publish", `{"topic":"a/b","payload":"x","return":true}`),
			status: 200, check: func(t *testing.T, r apiReply) {
				if id, _ := jsonAt(r.json(t), "data/msgid"); id == nil || id == "" {
					t.Errorf("no msgid in %s", r.body)
				}
			}},
		{name: "v4 publish topics drops invalid names", req: r4("POST", "/mqtt/publish", `{"topics":"a/b,c/#,d","payload":"x","return":1}`),
			status: 200, check: func(t *testing.T, r apiReply) {
				ids, _ := jsonAt(r.json(t), "data/msgids")
				if l, _ := ids.([]any); len(l) != 2 {
					t.Errorf("want 2 msgids, got %v", ids)
				}
			}},
		{name: "v4 publish non-string clientid", req: r4("POST", "/mqtt/publish", `{"topic":"a","clientid":5}`),
			status: 200, json: `{"code":108,"message":"bad clientid: must be string"}`},
		{name: "v4 publish bad base64", req: r4("POST", "/mqtt/publish", `{"topic":"a","payload":"!!","encoding":"base64"}`),
			status: 200, json: `{"code":108,"message":"bad_params"}`},
		{name: "v4 publish_batch per-item codes in order", req: r4("POST", "/mqtt/publish_batch",
			`[{"topic":"a","payload":"x"},{"topic":"b/#","payload":"x"}]`),
			status: 200, json: `{"code":0,"data":[{"topic":"a","code":0},{"topic":"b/#","code":115}]}`},
		{name: "v4 subscribe offline client is 112", req: r4("POST", "/mqtt/subscribe", `{"clientid":"nobody","topic":"a"}`),
			status: 200, json: `{"code":112,"message":"channel_not_found"}`},
		{name: "v4 subscribe bad qos is 116", req: r4("POST", "/mqtt/subscribe", `{"clientid":"nobody","topic":"a","qos":3}`),
			status: 200, json: `{"code":116,"message":"bad_qos"}`},
		{name: "v4 unsubscribe_batch item codes", req: r4("POST", "/mqtt/unsubscribe_batch", `[{"clientid":"nobody","topic":"a"}]`),
			status: 200, json: `{"code":0,"data":[{"clientid":"nobody","topic":"a","code":112}]}`},

		// metrics, stats, health
		{name: "v4 metrics nested per node", req: r4("GET", "/metrics", ""),
			status: 200, fields: map[string]any{"data/0/node": "emqx@127.0.0.1", "data/0/metrics/client.check_acl": 0}},
		{name: "v4 stats nested per node", req: r4("GET", "/stats", ""),
			status: 200, fields: map[string]any{"data/0/stats/connections.count": 0}},
		{name: "v4 brokers reports version", req: r4("GET", "/brokers", ""),
			status: 200, fields: map[string]any{"data/0/version": "4.4.19", "data/0/node_status": "Running"}},
		{name: "v4 node-scoped metrics are flat", req: r4("GET", "/nodes/emqx@127.0.0.1/metrics", ""),
			status: 200, fields: map[string]any{"data/messages.received": 0}},
		{name: "v4 unknown node is 404", req: r4("GET", "/nodes/other@host/stats", ""), status: 404, text: "Not found."},
		{name: "status without auth", req: req{method: "GET", path: "/status", user: "-"},
			status: 200, text: "Node emqx@127.0.0.1 is started\nemqx is running"},
	}
}

func v5Rows() []conformanceRow {
	hundredOne := strings.Repeat(`{"topic":"t","permission":"allow","action":"all"},`, 100) + `{"topic":"t","permission":"allow","action":"all"}`
	return []conformanceRow{
		// envelope: authentication, routing, body parsing (minirest, emqx_dashboard)
		{name: "v5 no authorization header", req: req{method: "GET", path: "/api/v5/clients", user: "-"},
			status: 401, json: `{"code":"AUTHORIZATION_HEADER_ERROR","message":"Support authorization: basic/bearer "}`,
			header: map[string]string{"WWW-Authenticate": `Basic Realm="emqx-dashboard"`}},
		{name: "v5 bad key", req: req{method: "GET", path: "/api/v5/clients", user: "admin", pass: "nope"},
			status: 401, json: `{"code":"BAD_API_KEY_OR_SECRET","message":"Check api_key/api_secret"}`},
		{name: "v5 unknown path with json accept", req: req{method: "GET", path: "/api/v5/nope", accept: "application/json"},
			status: 404, json: `{"code":"NOT_FOUND","message":"Request Path Not Found"}`},
		{name: "v5 unknown path with text accept", req: req{method: "GET", path: "/api/v5/nope", accept: "text/plain"},
			status: 404, text: "404 - NOT FOUND"},
		{name: "v5 wrong method", req: r5("PATCH", authn+"/users/x", ""),
			status: 405, text: "", header: map[string]string{"Allow": "GET, PUT, DELETE"}},
		{name: "v5 body without content type", req: req{method: "POST", path: "/api/v5" + authn + "/users", body: `{"user_id":"v","password":"p"}`},
			status: 415, json: `{"code":"UNSUPPORTED_MEDIA_TYPE","message":"content-type:application/json Required"}`},
		{name: "v5 invalid json", req: r5("POST", authn+"/users", `{bad`),
			status: 400, json: `{"code":"BAD_REQUEST","message":"Invalid json message received"}`},
		{name: "v5 status without auth", req: req{method: "GET", path: "/api/v5/status", user: "-"},
			status: 200, text: "Node emqx@127.0.0.1 is started\nemqx is running", header: map[string]string{"Retry-After": "15"}},

		// built-in database users (emqx_authn_api)
		{name: "v5 create user is 201", req: r5("POST", authn+"/users", `{"user_id":"vic","password":"p"}`),
			status: 201, json: `{"user_id":"vic","is_superuser":false}`},
		{name: "v5 duplicate user is 409", req: r5("POST", authnE+"/users", `{"user_id":"vic","password":"p"}`),
			status: 409, json: `{"code":"ALREADY_EXISTS","message":"User already exists"}`},
		{name: "v5 empty user_id", req: r5("POST", authn+"/users", `{"user_id":"","password":"p"}`),
			status: 400, json: `{"code":"BAD_REQUEST","message":"User error: invalid_user_id"}`},
		{name: "v5 missing password is a schema error", req: r5("POST", authn+"/users", `{"user_id":"w"}`),
			status: 400, fields: map[string]any{"code": "BAD_REQUEST"}},
		{name: "v5 unknown field on create", req: r5("POST", authn+"/users", `{"user_id":"u3","password":"p3","foobar":"foobar"}`),
			src:    "v5.8.9 apps/emqx_auth_mnesia/test/emqx_authn_api_mnesia_SUITE.erl test_authenticator_users/1; apps/emqx_auth/src/emqx_authn/emqx_authn_api.erl fields(request_user_create)",
			status: 400, fields: map[string]any{"code": "BAD_REQUEST"}},
		{name: "v5 clientid instead of user_id", req: r5("POST", authn+"/users", `{"clientid":"u1","password":"p1"}`),
			src:    "v5.8.9 apps/emqx_auth_mnesia/test/emqx_authn_api_mnesia_SUITE.erl test_authenticator_users/1",
			status: 400, fields: map[string]any{"code": "BAD_REQUEST"}},
		{name: "v5 refused creates wrote nothing", req: r5("GET", authn+"/users/u3", ""),
			status: 404, json: `{"code":"NOT_FOUND","message":"User not found"}`},
		{name: "v5 get user unwrapped", req: r5("GET", authnE+"/users/vic", ""),
			status: 200, json: `{"user_id":"vic","is_superuser":false}`},
		{name: "v5 get missing user", req: r5("GET", authn+"/users/nobody", ""),
			status: 404, json: `{"code":"NOT_FOUND","message":"User not found"}`},
		{name: "v5 update returns the user", req: r5("PUT", authn+"/users/vic", `{"password":"q","is_superuser":true}`),
			status: 200, json: `{"user_id":"vic","is_superuser":true}`},
		{name: "v5 user_id in an update body", req: r5("PUT", authn+"/users/vic", `{"user_id":"vic","password":"p1"}`),
			src:    "v5.8.9 apps/emqx_auth_mnesia/test/emqx_authn_api_mnesia_SUITE.erl test_authenticator_user/1; apps/emqx_auth/src/emqx_authn/emqx_authn_api.erl fields(request_user_update)",
			status: 400, fields: map[string]any{"code": "BAD_REQUEST"}},
		{name: "v5 update missing user", req: r5("PUT", authn+"/users/nobody", `{"password":"q"}`),
			status: 404, json: `{"code":"NOT_FOUND","message":"User not found"}`},
		{name: "v5 delete missing user", req: r5("DELETE", authn+"/users/nobody", ""),
			status: 404, json: `{"code":"NOT_FOUND","message":"User not found"}`},
		{name: "v5 limit out of range", req: r5("GET", authn+"/users?limit=0", ""),
			status: 400, fields: map[string]any{"code": "BAD_REQUEST"}},
		{name: "v5 list sorted by id, sees v4 username users", req: r5("GET", authn+"/users", ""),
			status: 200, fields: map[string]any{"data/0/user_id": "alice", "data/1/user_id": "bob", "data/2/user_id": "dup", "meta/count": 4, "meta/limit": 100, "meta/hasnext": false}},
		{name: "v5 list with like omits count", req: r5("GET", authn+"/users?like_user_id=ic", ""),
			status: 200, fields: map[string]any{"data/0/user_id": "alice", "meta/hasnext": false}, absent: []string{"meta/count"}},
		{name: "v5 import overrides", req: r5("POST", authn+"/import_users?type=plain", `[{"user_id":"vic","password":"x"},{"user_id":"new1","password":"y"}]`),
			status: 200, json: `{"total":2,"success":1,"override":1,"skipped":0,"failed":0}`},
		{name: "v5 delete user is 204", req: r5("DELETE", authn+"/users/new1", ""), status: 204, text: ""},
		{name: "v5 authenticator config", req: r5("GET", authn, ""),
			status: 200, fields: map[string]any{"user_id_type": "username", "id": "password_based:built_in_database"}},

		// built-in database authorization rules (emqx_authz_api_mnesia)
		{name: "v5 rules reject pub", req: r5("POST", rules5+"/users", `[{"username":"vic","rules":[{"topic":"t","permission":"allow","action":"pub"}]}]`),
			status: 400, fields: map[string]any{"code": "BAD_REQUEST"}},
		{name: "v5 rules create", req: r5("POST", rules5+"/users", `[{"username":"vic","rules":[{"topic":"t/#","permission":"allow","action":"publish"}]}]`),
			status: 204, text: ""},
		{name: "v5 rules batch with an existing name", req: r5("POST", rules5+"/users", `[{"username":"zed","rules":[]},{"username":"vic","rules":[]}]`),
			status: 409, json: `{"code":"ALREADY_EXISTS","message":"User 'vic' already exist"}`},
		{name: "v5 rules batch wrote nothing", req: r5("GET", rules5+"/users/zed", ""),
			status: 404, json: `{"code":"NOT_FOUND","message":"Not Found"}`},
		{name: "v5 rules read fills qos and retain", req: r5("GET", rules5+"/users/vic", ""),
			status: 200, json: `{"username":"vic","rules":[{"topic":"t/#","permission":"allow","action":"publish","qos":[0,1,2],"retain":"all"}]}`},
		{name: "v5 rules put with another name crashes", req: r5("PUT", rules5+"/users/vic", `{"username":"other","rules":[]}`),
			status: 500, fields: map[string]any{"code": "INTERNAL_ERROR"}},
		{name: "v5 rules put over the limit", req: r5("PUT", rules5+"/users/vic", `{"username":"vic","rules":[`+hundredOne+`]}`),
			status: 400, json: `{"code":"BAD_REQUEST","message":"The rules length exceeds the maximum limit."}`},
		{name: "v5 rules put upserts an empty entry", req: r5("PUT", rules5+"/clients/dev-9", `{"clientid":"dev-9","rules":[]}`),
			status: 204, text: ""},
		{name: "v5 empty entry still exists", req: r5("GET", rules5+"/clients/dev-9", ""),
			status: 200, json: `{"clientid":"dev-9","rules":[]}`},
		{name: "v5 rules with retain true", req: r5("PUT", rules5+"/clients/dev-10", `{"clientid":"dev-10","rules":[
			{"topic":"s","permission":"allow","action":"subscribe","retain":true,"qos":[1]},
			{"topic":"p","permission":"deny","action":"publish","retain":true},
			{"topic":"a","permission":"allow","action":"all","retain":false}]}`),
			status: 204, text: ""},
		{name: "v5 subscribe rule drops retain", req: r5("GET", rules5+"/clients/dev-10", ""),
			src:    "v5.8.9 apps/emqx_auth/src/emqx_authz/emqx_authz_rule_raw.erl validate_rule_action/3, format_action/2",
			status: 200, json: `{"clientid":"dev-10","rules":[
			{"topic":"s","permission":"allow","action":"subscribe","qos":[1],"retain":"all"},
			{"topic":"p","permission":"deny","action":"publish","qos":[0,1,2],"retain":true},
			{"topic":"a","permission":"allow","action":"all","qos":[0,1,2],"retain":false}]}`},
		{name: "v5 rules list has principals", req: r5("GET", rules5+"/users", ""),
			status: 200, fields: map[string]any{"data/0/username": "vic", "meta/count": 1}},
		{name: "v5 delete missing username rules", req: r5("DELETE", rules5+"/users/nobody", ""),
			status: 404, json: `{"code":"NOT_FOUND","message":"Username Not Found"}`},
		{name: "v5 delete missing clientid rules", req: r5("DELETE", rules5+"/clients/nobody", ""),
			status: 404, json: `{"code":"NOT_FOUND","message":"ClientID Not Found"}`},
		{name: "v5 all rules replaced", req: r5("POST", rules5+"/all", `{"rules":[{"topic":"pub/#","permission":"allow","action":"all","retain":false}]}`),
			status: 204, text: ""},
		{name: "v5 all rules read", req: r5("GET", rules5+"/all", ""),
			status: 200, json: `{"rules":[{"topic":"pub/#","permission":"allow","action":"all","qos":[0,1,2],"retain":false}]}`},
		{name: "v5 all rules cleared", req: r5("DELETE", rules5+"/all", ""), status: 204, text: ""},
		{name: "v5 all rules never 404", req: r5("GET", rules5+"/all", ""), status: 200, json: `{"rules":[]}`},

		// banned (emqx_mgmt_api_banned)
		{name: "v5 ban default until infinity", req: r5("POST", "/banned", `{"as":"clientid","who":"b1"}`),
			status: 200, fields: map[string]any{"until": "infinity", "by": "mgmt_api", "reason": "", "who": "b1"}},
		{name: "v5 active duplicate ban", req: r5("POST", "/banned", `{"as":"clientid","who":"b1"}`),
			status: 400, fields: map[string]any{"code": "ALREADY_EXISTS"}, check: func(t *testing.T, r apiReply) {
				msg, _ := jsonAt(r.json(t), "message")
				var old map[string]any
				if err := json.Unmarshal([]byte(msg.(string)), &old); err != nil || old["who"] != "b1" {
					t.Errorf("message is not the existing ban as JSON: %v (%v)", msg, err)
				}
			}},
		{name: "v5 expired ban refused", req: r5("POST", "/banned", `{"as":"clientid","who":"b2","until":1}`),
			status: 400, fields: map[string]any{"code": "BAD_REQUEST"}},
		{name: "v5 ban bad as", req: r5("POST", "/banned", `{"as":"ip","who":"b2"}`),
			status: 400, fields: map[string]any{"code": "BAD_REQUEST"}},
		{name: "v5 ban list meta has no hasnext", req: r5("GET", "/banned", ""),
			status: 200, fields: map[string]any{"meta/count": 2, "meta/page": 1}, absent: []string{"meta/hasnext"}},
		{name: "v5 ban list with two filters", req: r5("GET", "/banned?clientid=a&username=b", ""),
			status: 400, json: `{"code":"BAD_REQUEST","message":"too_many_filters"}`},
		{name: "v5 ban list: exact overrides like on the same field", req: r5("GET", "/banned?like_clientid=zzz&clientid=b1", ""),
			src:    "v5.8.9 apps/emqx_management/src/emqx_mgmt_api.erl do_parse_qstring/4; emqx_mgmt_api_banned.erl list_banned/3",
			status: 200, fields: map[string]any{"data/0/who": "b1", "meta/count": 1, "meta/hasnext": false}, absent: []string{"data/1"}},
		{name: "v5 ban list: like on another field is a second filter", req: r5("GET", "/banned?like_username=zzz&clientid=b1", ""),
			status: 400, json: `{"code":"BAD_REQUEST","message":"too_many_filters"}`},
		{name: "v5 delete missing ban", req: r5("DELETE", "/banned/clientid/nobody", ""),
			status: 404, json: `{"code":"NOT_FOUND","message":"clientid: nobody not found"}`},
		{name: "v5 delete ban", req: r5("DELETE", "/banned/clientid/b1", ""), status: 204, text: ""},

		// clients, publish (emqx_mgmt_api_clients, emqx_mgmt_api_publish)
		{name: "v5 get unknown client", req: r5("GET", "/clients/nobody", ""),
			status: 404, json: `{"code":"CLIENTID_NOT_FOUND","message":"Client ID not found"}`},
		{name: "v5 kick unknown client", req: r5("DELETE", "/clients/nobody", ""),
			status: 404, json: `{"code":"CLIENTID_NOT_FOUND","message":"Client ID not found"}`},
		{name: "v5 subscribe offline client", req: r5("POST", "/clients/nobody/subscribe", `{"topic":"a"}`),
			status: 404, fields: map[string]any{"code": "CLIENTID_NOT_FOUND"}},
		{name: "v5 kickout bulk always 204", req: r5("POST", "/clients/kickout/bulk", `["nobody"]`), status: 204, text: ""},
		{name: "v5 publish bad topic has reason_code, no code", req: r5("POST", "/publish", `{"topic":"a/+","payload":"x"}`),
			status: 400, json: `{"reason_code":144,"message":"topic_name_invalid"}`},
		{name: "v5 publish without subscribers is 202", req: r5("POST", "/publish", `{"topic":"nobody/listens","payload":"x"}`),
			status: 202, json: `{"reason_code":16,"message":"no_matching_subscribers"}`},
		{name: "v5 publish missing payload is a schema error", req: r5("POST", "/publish", `{"topic":"a"}`),
			status: 400, fields: map[string]any{"code": "BAD_REQUEST"}},
		{name: "v5 publish bulk is all-or-nothing", req: r5("POST", "/publish/bulk", `[{"topic":"ok","payload":"x"},{"topic":"bad/#","payload":"x"}]`),
			status: 400, json: `{"reason_code":144,"message":"topic_name_invalid"}`},
		{name: "v5 subscriptions list", req: r5("GET", "/subscriptions", ""),
			status: 200, json: `{"data":[],"meta":{"page":1,"limit":100,"hasnext":false,"count":0}}`},

		// metrics and stats (emqx_mgmt_api_metrics, emqx_mgmt_api_stats)
		{name: "v5 metrics flat per node with v5 names", req: r5("GET", "/metrics", ""),
			status: 200, fields: map[string]any{"0/node": "emqx@127.0.0.1", "0/client.authorize": 0, "0/authentication.success": 0},
			absent: []string{"0/metrics", "0/client.check_acl"}},
		{name: "v5 aggregated metrics", req: r5("GET", "/metrics?aggregate=true", ""),
			status: 200, fields: map[string]any{"authorization.deny": 0}, absent: []string{"node"}},
		{name: "v5 metrics aggregate is a boolean", req: r5("GET", "/metrics?aggregate=maybe", ""),
			src:    "v5.8.9 apps/emqx_management/src/emqx_mgmt_api_metrics.erl schema/1; apps/emqx_dashboard/src/emqx_dashboard_swagger.erl check_parameter/6",
			status: 400, fields: map[string]any{"code": "BAD_REQUEST"}},
		{name: "v5 metrics aggregate=false is per node", req: r5("GET", "/metrics?aggregate=false", ""),
			status: 200, fields: map[string]any{"0/node": "emqx@127.0.0.1"}},
		{name: "v5 stats", req: r5("GET", "/stats", ""),
			status: 200, fields: map[string]any{"0/connections.count": 0}},
		{name: "v5 stats aggregate is a boolean", req: r5("GET", "/stats?aggregate=maybe", ""),
			src:    "v5.8.9 apps/emqx_management/src/emqx_mgmt_api_stats.erl fields(aggregate)",
			status: 400, fields: map[string]any{"code": "BAD_REQUEST"}},
		{name: "v5 aggregated stats", req: r5("GET", "/stats?aggregate=true", ""),
			status: 200, fields: map[string]any{"connections.count": 0}, absent: []string{"node"}},
		{name: "v5 stats take no node parameter", req: r5("GET", "/stats?node=other@host", ""),
			src:    "v5.8.9 apps/emqx_management/src/emqx_mgmt_api_stats.erl list/2",
			status: 200, fields: map[string]any{"0/node": "emqx@127.0.0.1"}},
		{name: "v5 nodes report version", req: r5("GET", "/nodes", ""),
			status: 200, fields: map[string]any{"0/version": "5.8.9", "0/node_status": "running"}},
	}
}

// sessionRows need MQTT clients, so they come last: the earlier rows count
// on an empty broker.
func sessionRows() []conformanceRow {
	connect311 := func(clientID string, clean bool) func(t *testing.T, b *Broker) {
		return func(t *testing.T, b *Broker) {
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			s, err := mqtttest.Connect311(ctx, b.MQTTAddr(), clientID, "keeper", "kpw", clean)
			if err != nil {
				t.Fatalf("MQTT 3.1.1 connect %s: %v", clientID, err)
			}
			t.Cleanup(s.Close)
		}
	}
	keep := connect311("keep-311", false)
	return []conformanceRow{
		{name: "v4 clean session 0 has the zone's session expiry", before: func(t *testing.T, b *Broker) {
			mustCode4(t, v4(t, b, "POST", "/auth_username", `{"username":"keeper","password":"kpw"}`))
			keep(t, b)
		}, req: r4("GET", "/clients/keep-311", ""),
			src:    "v4.4.19 src/emqx_channel.erl expiry_interval/2; etc/emqx.conf zone.external.session_expiry_interval",
			status: 200, fields: map[string]any{"data/0/expiry_interval": 7200, "data/0/clean_start": false, "data/0/proto_ver": 4}},
		{name: "v5 clean session 0 has the zone's session expiry", req: r5("GET", "/clients/keep-311", ""),
			src:    "v5.8.9 apps/emqx/src/emqx_channel.erl expiry_interval/2; apps/emqx_management/src/emqx_mgmt_api_clients.erl convert_expiry_interval_unit/1",
			status: 200, fields: map[string]any{"expiry_interval": 7200, "clean_start": false}},
		{name: "v4 clean session 1 has no session expiry", before: connect311("clean-311", true), req: r4("GET", "/clients/clean-311", ""),
			status: 200, fields: map[string]any{"data/0/expiry_interval": 0, "data/0/clean_start": true}},
		{name: "v4 clients: exact clientid overrides like", req: r4("GET", "/clients?_like_clientid=zzz&clientid=keep-311", ""),
			src:    "v4.4.19 apps/emqx_management/src/emqx_mgmt_api.erl pick_params_to_qs/4",
			status: 200, fields: map[string]any{"data/0/clientid": "keep-311", "meta/count": -1}, absent: []string{"data/1"}},
		{name: "v5 clients: exact clientid overrides like, and count stays", req: r5("GET", "/clients?like_clientid=zzz&clientid=keep-311", ""),
			src:    "v5.8.9 apps/emqx_management/src/emqx_mgmt_api.erl do_parse_qstring/4",
			status: 200, fields: map[string]any{"data/0/clientid": "keep-311", "meta/count": 1}, absent: []string{"data/1"}},
		{name: "v4 clients: clean_start=false", req: r4("GET", "/clients?clean_start=false", ""),
			status: 200, fields: map[string]any{"data/0/clientid": "keep-311", "meta/count": -1}, absent: []string{"data/1"}},
		{name: "v5 subscribe the 3.1.1 client", req: r5("POST", "/clients/keep-311/subscribe", `{"topic":"t/1"}`),
			status: 200, fields: map[string]any{"topic": "t/1", "clientid": "keep-311"}},
		{name: "v5 subscriptions: exact topic overrides match_topic", req: r5("GET", "/subscriptions?match_topic=zzz/%23&topic=t/1", ""),
			src:    "v5.8.9 apps/emqx_management/src/emqx_mgmt_api.erl do_parse_qstring/4",
			status: 200, fields: map[string]any{"data/0/clientid": "keep-311", "meta/count": 1}, absent: []string{"data/1"}},
		{name: "v4 subscriptions: a topic query ignores _match_topic and counts", req: r4("GET", "/subscriptions?_match_topic=zzz/%23&topic=t/1", ""),
			src:    "v4.4.19 apps/emqx_management/src/emqx_mgmt_api_subscriptions.erl list/2, add_meta/2",
			status: 200, fields: map[string]any{"data/0/clientid": "keep-311", "meta/count": 1}, absent: []string{"data/1"}},
		{name: "v4 subscriptions: match filter alone", req: r4("GET", "/subscriptions?_match_topic=t/%2B", ""),
			status: 200, fields: map[string]any{"data/0/topic": "t/1", "meta/count": -1}, absent: []string{"data/1"}},
	}
}

// normJSON makes decoded values comparable with Go literals.
func normJSON(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case int:
		return int64(t)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = normJSON(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = normJSON(e)
		}
		return out
	}
	return v
}

func TestConformance(t *testing.T) {
	b := startBroker(t, Options{})
	rows := append(append(v4Rows(), v5Rows()...), sessionRows()...)
	if len(rows) < 40 {
		t.Fatalf("only %d conformance rows", len(rows))
	}
	for _, row := range rows {
		if row.before != nil {
			row.before(t, b) // on the parent test, so what it opens outlives the row
		}
		t.Run(row.name, func(t *testing.T) {
			if row.src != "" {
				t.Logf("EMQX source: %s", row.src)
			}
			r := doAPI(t, b, row.req)
			if r.status != row.status {
				t.Fatalf("status = %d, want %d (body %s)", r.status, row.status, r.body)
			}
			for k, v := range row.header {
				if got := r.header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			ctype := r.header.Get("Content-Type")
			switch {
			case row.json != "":
				if ctype != "application/json" {
					t.Errorf("Content-Type = %q, want application/json", ctype)
				}
				want := normJSON(apiReply{body: []byte(row.json)}.json(t))
				if diff := cmp.Diff(want, normJSON(r.json(t))); diff != "" {
					t.Errorf("body mismatch (-want +got):\n%s", diff)
				}
			case row.fields == nil && row.check == nil:
				if string(r.body) != row.text {
					t.Errorf("body = %q, want %q", r.body, row.text)
				}
				if row.text != "" && strings.HasPrefix(ctype, "application/json") {
					t.Errorf("Content-Type = %q, want a non-JSON reply", ctype)
				}
			}
			if row.fields != nil || row.absent != nil {
				got := r.json(t)
				for path, want := range row.fields {
					v, ok := jsonAt(got, path)
					if !ok {
						t.Errorf("%s missing in %s", path, r.body)
						continue
					}
					if diff := cmp.Diff(normJSON(want), normJSON(v)); diff != "" {
						t.Errorf("%s (-want +got):\n%s", path, diff)
					}
				}
				for _, path := range row.absent {
					if _, ok := jsonAt(got, path); ok {
						t.Errorf("%s present in %s", path, r.body)
					}
				}
			}
			if row.check != nil {
				row.check(t, r)
			}
		})
	}
	t.Logf("%d conformance rows", len(rows))
}

// TestV4UnauthorizedHasNoContentType checks minirest's bare 401.
func TestV4UnauthorizedHasNoContentType(t *testing.T) {
	b := startBroker(t, Options{})
	r := doAPI(t, b, req{method: "GET", path: "/api/v4/clients", user: "-"})
	mustStatus(t, r, http.StatusUnauthorized)
	if ct := r.header.Get("Content-Type"); ct != "" {
		t.Errorf("Content-Type = %q, want none", ct)
	}
}
