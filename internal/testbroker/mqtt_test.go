package testbroker

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mqttoperator/mqtt-operator/internal/mqtttest"
)

// MQTT 5 reason codes the broker sends.
const (
	rcNotAuthorized = 0x87
	rcBadUserOrPass = 0x86
	rcBanned        = 0x8A
	rcAdminAction   = 0x98
)

func TestUserLogin(t *testing.T) {
	b := startBroker(t, Options{})
	mustCode4(t, v4(t, b, "POST", "/auth_username", `{"username":"alice","password":"s3cret"}`))
	mustCode4(t, v4(t, b, "POST", "/auth_clientid", `{"clientid":"dev-7","password":"devpw"}`))
	mustStatus(t, v5(t, b, "POST", authn+"/users", `{"user_id":"vic","password":"vpw"}`), http.StatusCreated)

	mqtttest.MustConnect(t, b.MQTTAddr(), "c-alice", "alice", "s3cret")
	refusedWith(t, b, "c-alice2", "alice", "wrong", rcBadUserOrPass)
	refusedWith(t, b, "c-nobody", "nobody", "x", rcNotAuthorized)
	refusedWith(t, b, "c-anon", "", "", rcNotAuthorized)
	// v4 semantics: a clientid entry authenticates whatever the username.
	mqtttest.MustConnect(t, b.MQTTAddr(), "dev-7", "anything", "devpw")
	mqtttest.MustConnect(t, b.MQTTAddr(), "c-vic", "vic", "vpw")

	// A password change applies to the next CONNECT.
	mustCode4(t, v4(t, b, "PUT", "/auth_username/alice", `{"password":"new"}`))
	refusedWith(t, b, "c-alice3", "alice", "s3cret", rcBadUserOrPass)
	mqtttest.MustConnect(t, b.MQTTAddr(), "c-alice4", "alice", "new")
}

func TestV5UserIDTypeClientID(t *testing.T) {
	b := startBroker(t, Options{V5UserIDType: "clientid"})
	mustStatus(t, v5(t, b, "POST", authn+"/users", `{"user_id":"sensor-1","password":"pw"}`), http.StatusCreated)
	cfg := v5(t, b, "GET", authn, "")
	if v, _ := jsonAt(cfg.json(t), "user_id_type"); v != "clientid" {
		t.Fatalf("user_id_type = %v", v)
	}
	// The user is a clientid entry: v4 sees it under auth_clientid.
	if r := v4(t, b, "GET", "/auth_clientid/sensor-1", ""); !strings.Contains(string(r.body), `"clientid":"sensor-1"`) {
		t.Fatalf("v4 auth_clientid lookup: %s", r.body)
	}
	mqtttest.MustConnect(t, b.MQTTAddr(), "sensor-1", "whoever", "pw")
	refusedWith(t, b, "other", "sensor-1", "pw", rcNotAuthorized)
}

func addUser(t *testing.T, b *Broker, name, pw string) {
	t.Helper()
	mustCode4(t, v4(t, b, "POST", "/auth_username", `{"username":"`+name+`","password":"`+pw+`"}`))
}

func TestACLDenyAndAllow(t *testing.T) {
	b := startBroker(t, Options{})
	addUser(t, b, "sub", "p")
	addUser(t, b, "pub", "p")
	mustCode4(t, v4(t, b, "POST", "/acl", `[
		{"username":"sub","topic":"t/#","action":"sub","access":"allow"},
		{"username":"pub","topic":"t/open","action":"pub","access":"allow"},
		{"username":"pub","topic":"t/secret","action":"pub","access":"deny"}]`))

	sub := mqtttest.MustConnect(t, b.MQTTAddr(), "s", "sub", "p")
	if rc := sub.MustSubscribe(t, "t/#"); rc > 2 {
		t.Fatalf("subscribe t/# refused: 0x%x", rc)
	}
	// No rule for "x/#": acl_nomatch is deny, so SUBACK carries 0x87.
	if rc := sub.MustSubscribe(t, "x/#"); rc != rcNotAuthorized {
		t.Fatalf("subscribe x/# = 0x%x, want 0x87", rc)
	}

	pub := mqtttest.MustConnect(t, b.MQTTAddr(), "p", "pub", "p")
	if rc := pub.MustPublish(t, "t/secret", "hidden", 1); rc != rcNotAuthorized {
		t.Fatalf("denied QoS1 publish: PUBACK 0x%x, want 0x87", rc)
	}
	pub.MustPublish(t, "t/secret", "hidden-qos0", 0)
	if rc := pub.MustPublish(t, "t/open", "visible", 1); rc >= 0x80 {
		t.Fatalf("allowed publish: refused 0x%x", rc)
	}
	// Messages from one publisher arrive in order, so if the first message the
	// subscriber sees is t/open, both t/secret publishes were dropped.
	if got := sub.Next(t); got.Topic != "t/open" || string(got.Payload) != "visible" {
		t.Fatalf("first delivered message = %s %q, want t/open", got.Topic, got.Payload)
	}
	// The deny counts under both APIs' names.
	m4 := v4(t, b, "GET", "/metrics", "").json(t)
	if v, _ := jsonAt(m4, "data/0/metrics/client.acl.deny"); normJSON(v).(int64) < 3 {
		t.Errorf("client.acl.deny = %v, want >= 3", v)
	}
	m5 := v5(t, b, "GET", "/metrics?aggregate=true", "").json(t)
	if v, _ := jsonAt(m5, "authorization.deny"); normJSON(v).(int64) < 3 {
		t.Errorf("authorization.deny = %v, want >= 3", v)
	}
}

func TestACLOrderAndPlaceholders(t *testing.T) {
	b := startBroker(t, Options{})
	for _, u := range []string{"u1", "u2", "watch"} {
		addUser(t, b, u, "p")
	}
	mustCode4(t, v4(t, b, "POST", "/acl", `[
		{"username":"watch","topic":"#","action":"sub","access":"allow"},
		{"topic":"marker","action":"pub","access":"allow"},
		{"topic":"dev/%c/#","action":"pub","access":"allow"}]`))
	// v4: newest first within a principal, so the later allow on a/ok wins
	// over the older deny on a/#.
	mustCode4(t, v4(t, b, "POST", "/acl", `{"username":"u1","topic":"a/#","action":"pub","access":"deny"}`))
	mustCode4(t, v4(t, b, "POST", "/acl", `{"username":"u1","topic":"a/ok","action":"pub","access":"allow"}`))
	// clientid rules are evaluated before username rules.
	mustCode4(t, v4(t, b, "POST", "/acl", `{"clientid":"cu1","topic":"b/#","action":"pub","access":"allow"}`))
	mustCode4(t, v4(t, b, "POST", "/acl", `{"username":"u1","topic":"b/#","action":"pub","access":"deny"}`))
	// v5: array order, ${username}, and "eq " literal filters.
	mustStatus(t, v5(t, b, "PUT", rules5+"/users/u2", `{"username":"u2","rules":[
		{"topic":"home/${username}/#","permission":"allow","action":"publish"},
		{"topic":"x/1","permission":"deny","action":"publish"},
		{"topic":"x/#","permission":"allow","action":"publish"},
		{"topic":"eq lit/#","permission":"allow","action":"subscribe"}]}`), http.StatusNoContent)

	w := mqtttest.MustConnect(t, b.MQTTAddr(), "w", "watch", "p")
	w.MustSubscribe(t, "#")
	check := func(p *mqtttest.Conn, topic string, allowed bool) {
		t.Helper()
		p.MustPublish(t, topic, "m", 0)
		p.MustPublish(t, "marker", "end", 0)
		got := w.Next(t)
		if allowed {
			if got.Topic != topic {
				t.Fatalf("%s: got %s first, want it delivered", topic, got.Topic)
			}
			got = w.Next(t)
		} else if got.Topic == topic {
			t.Fatalf("%s: delivered, want dropped", topic)
		}
		if got.Topic != "marker" {
			t.Fatalf("%s: expected the marker, got %s", topic, got.Topic)
		}
	}
	p1 := mqtttest.MustConnect(t, b.MQTTAddr(), "cu1", "u1", "p")
	check(p1, "a/denied", false)
	check(p1, "a/ok", true)
	check(p1, "b/x", true)
	check(p1, "dev/cu1/t", true)
	check(p1, "dev/other/t", false)
	p2 := mqtttest.MustConnect(t, b.MQTTAddr(), "cu2", "u2", "p")
	check(p2, "home/u2/x", true)
	check(p2, "home/u1/x", false)
	check(p2, "x/1", false)
	check(p2, "x/2", true)
	if rc := p2.MustSubscribe(t, "lit/#"); rc > 2 {
		t.Fatalf("eq rule: subscribe lit/# = 0x%x, want granted", rc)
	}
	if rc := p2.MustSubscribe(t, "lit/x"); rc != rcNotAuthorized {
		t.Fatalf("eq rule: subscribe lit/x = 0x%x, want 0x87", rc)
	}
}

func TestSuperuserBypassesACL(t *testing.T) {
	b := startBroker(t, Options{})
	mustStatus(t, v5(t, b, "POST", authn+"/users", `{"user_id":"root","password":"r","is_superuser":true}`), http.StatusCreated)
	root := mqtttest.MustConnect(t, b.MQTTAddr(), "root", "root", "r")
	if rc := root.MustSubscribe(t, "any/#"); rc > 2 {
		t.Fatalf("superuser subscribe refused: 0x%x", rc)
	}
	if rc := root.MustPublish(t, "any/thing", "x", 1); rc >= 0x80 {
		t.Fatalf("superuser publish: refused 0x%x", rc)
	}
	if got := root.Next(t); got.Topic != "any/thing" {
		t.Fatalf("got %s", got.Topic)
	}
}

func TestBanRefusesAndDeleteRestores(t *testing.T) {
	b := startBroker(t, Options{})
	addUser(t, b, "alice", "p")
	mustCode4(t, v4(t, b, "POST", "/banned", `{"who":"c1","as":"clientid","reason":"test"}`))
	refusedWith(t, b, "c1", "alice", "p", rcBanned)
	mustCode4(t, v4(t, b, "DELETE", "/banned/clientid/c1", ""))
	mqtttest.MustConnect(t, b.MQTTAddr(), "c1", "alice", "p")

	// v5 username ban; a ban whose until passed no longer applies.
	mustStatus(t, v5(t, b, "POST", "/banned", `{"as":"username","who":"alice"}`), http.StatusOK)
	refusedWith(t, b, "c2", "alice", "p", rcBanned)
	mustStatus(t, v5(t, b, "DELETE", "/banned/username/alice", ""), http.StatusNoContent)
	past := time.Now().Add(-time.Hour).Unix()
	mustCode4(t, v4(t, b, "POST", "/banned", `{"who":"alice","as":"username","reason":"old","until":`+jsonInt(past)+`}`))
	mqtttest.MustConnect(t, b.MQTTAddr(), "c3", "alice", "p")
	// The expired entry stays listed until the sweeper runs.
	if r := v4(t, b, "GET", "/banned", ""); !strings.Contains(string(r.body), `"reason":"old"`) {
		t.Fatalf("expired ban should still be listed: %s", r.body)
	}
	b.sweep()
	if r := v4(t, b, "GET", "/banned", ""); strings.Contains(string(r.body), `"reason":"old"`) {
		t.Fatalf("expired ban not swept: %s", r.body)
	}

	// Peerhost bans refuse by address.
	mustCode4(t, v4(t, b, "POST", "/banned", `{"who":"127.0.0.1","as":"peerhost","reason":"local"}`))
	refusedWith(t, b, "c4", "alice", "p", rcBanned)
}

func jsonInt(n int64) string {
	raw, _ := json.Marshal(n)
	return string(raw)
}

func TestClientIDBanKicksLiveSession(t *testing.T) {
	b := startBroker(t, Options{})
	addUser(t, b, "alice", "p")
	mc := mqtttest.MustConnect(t, b.MQTTAddr(), "live", "alice", "p")
	mustStatus(t, v5(t, b, "POST", "/banned", `{"as":"clientid","who":"live"}`), http.StatusOK)
	mc.WaitClosed(t)
	refusedWith(t, b, "live", "alice", "p", rcBanned)
}

func TestKickDisconnectsLiveClient(t *testing.T) {
	b := startBroker(t, Options{})
	addUser(t, b, "alice", "p")
	mc := mqtttest.MustConnect(t, b.MQTTAddr(), "k1", "alice", "p")
	r := v4(t, b, "GET", "/clients/k1", "")
	if v, _ := jsonAt(r.json(t), "data/0/clientid"); v != "k1" {
		t.Fatalf("client not listed: %s", r.body)
	}
	if v, _ := jsonAt(r.json(t), "data/0/username"); v != "alice" {
		t.Fatalf("username not shown: %s", r.body)
	}
	mustCode4(t, v4(t, b, "DELETE", "/clients/k1", ""))
	mc.WaitClosed(t)
	// The DISCONNECT may race with the socket close; the close is what matters.
	if rc, ok := mc.ServerDisconnect(); ok && rc != rcAdminAction {
		t.Errorf("DISCONNECT reason 0x%x, want 0x98", rc)
	}
	if r := v4(t, b, "GET", "/clients/k1", ""); !strings.Contains(string(r.body), `"data":[]`) {
		t.Fatalf("kicked client still listed: %s", r.body)
	}
	// Kicking again is still code 0 in v4 but 404 in v5.
	mustCode4(t, v4(t, b, "DELETE", "/clients/k1", ""))
	mustStatus(t, v5(t, b, "DELETE", "/clients/k1", ""), http.StatusNotFound)

	// v5 kick of a live client, and reconnecting with the same id works.
	mc2 := mqtttest.MustConnect(t, b.MQTTAddr(), "k2", "alice", "p")
	mustStatus(t, v5(t, b, "GET", "/clients/k2", ""), http.StatusOK)
	mustStatus(t, v5(t, b, "DELETE", "/clients/k2", ""), http.StatusNoContent)
	mc2.WaitClosed(t)
	mqtttest.MustConnect(t, b.MQTTAddr(), "k2", "alice", "p")
	mustStatus(t, v5(t, b, "GET", "/clients/k2", ""), http.StatusOK)
}

func TestAPIPublishReachesSubscriber(t *testing.T) {
	b := startBroker(t, Options{})
	addUser(t, b, "alice", "p")
	mustCode4(t, v4(t, b, "POST", "/acl", `{"username":"alice","topic":"news/#","action":"sub","access":"allow"}`))
	sub := mqtttest.MustConnect(t, b.MQTTAddr(), "s1", "alice", "p")
	sub.MustSubscribe(t, "news/#")

	// HTTP publishes bypass authorization: no pub rule exists for anyone.
	mustCode4(t, v4(t, b, "POST", "/mqtt/publish", `{"topic":"news/v4","payload":"aGVsbG8=","encoding":"base64","qos":1}`))
	if got := sub.Next(t); got.Topic != "news/v4" || string(got.Payload) != "hello" {
		t.Fatalf("v4 publish delivered %s %q", got.Topic, got.Payload)
	}
	r := v5(t, b, "POST", "/publish", `{"topic":"news/v5","payload":"hi","properties":{"user_properties":{"k":"v"}}}`)
	mustStatus(t, r, http.StatusOK)
	if id, _ := jsonAt(r.json(t), "id"); id == nil || id == "" {
		t.Fatalf("no id in %s", r.body)
	}
	got := sub.Next(t)
	if got.Topic != "news/v5" || string(got.Payload) != "hi" || got.Properties == nil || got.Properties.User.Get("k") != "v" {
		t.Fatalf("v5 publish delivered %s %q %+v", got.Topic, got.Payload, got.Properties)
	}
	bulk := v5(t, b, "POST", "/publish/bulk", `[{"topic":"news/a","payload":"1"},{"topic":"elsewhere","payload":"2"}]`)
	mustStatus(t, bulk, http.StatusAccepted)
	if got := sub.Next(t); got.Topic != "news/a" {
		t.Fatalf("bulk delivered %s", got.Topic)
	}
}

func TestAPISubscribeAndSubscriptionsList(t *testing.T) {
	b := startBroker(t, Options{})
	addUser(t, b, "alice", "p")
	mc := mqtttest.MustConnect(t, b.MQTTAddr(), "as1", "alice", "p")

	// API subscriptions skip authorization: alice has no rules at all.
	mustCode4(t, v4(t, b, "POST", "/mqtt/subscribe", `{"clientid":"as1","topics":"a/1,a/2","qos":1}`))
	r := v5(t, b, "POST", "/clients/as1/subscribe", `{"topic":"b/#","qos":0}`)
	mustStatus(t, r, http.StatusOK)
	if v, _ := jsonAt(r.json(t), "clientid"); v != "as1" {
		t.Fatalf("subscribe reply %s", r.body)
	}
	subs := v4(t, b, "GET", "/subscriptions/as1", "").json(t)
	if l, _ := jsonAt(subs, "data"); len(l.([]any)) != 3 {
		t.Fatalf("want 3 subscriptions, got %v", l)
	}
	mustCode4(t, v4(t, b, "POST", "/mqtt/publish", `{"topic":"b/x","payload":"p"}`))
	if got := mc.Next(t); got.Topic != "b/x" {
		t.Fatalf("got %s", got.Topic)
	}
	stats := v5(t, b, "GET", "/stats", "").json(t)
	for name, want := range map[string]int64{"connections.count": 1, "subscriptions.count": 3, "topics.count": 3} {
		if v, _ := jsonAt(stats, "0/"+name); normJSON(v) != want {
			t.Errorf("%s = %v, want %d", name, v, want)
		}
	}
	mustStatus(t, v5(t, b, "POST", "/clients/as1/unsubscribe", `{"topic":"b/#"}`), http.StatusNoContent)
	mustCode4(t, v4(t, b, "POST", "/mqtt/unsubscribe", `{"clientid":"as1","topic":"a/1"}`))
	list := v5(t, b, "GET", "/clients/as1/subscriptions", "").json(t)
	if l, _ := list.([]any); len(l) != 1 {
		t.Fatalf("want 1 subscription left, got %v", list)
	}
	if v, _ := jsonAt(list, "0/topic"); v != "a/2" {
		t.Fatalf("remaining subscription %v", v)
	}
}

func TestAuthzCacheNeedsClearing(t *testing.T) {
	b := startBroker(t, Options{}) // default TTL: one minute
	addUser(t, b, "alice", "p")
	addUser(t, b, "watch", "p")
	mustCode4(t, v4(t, b, "POST", "/acl", `[
		{"username":"watch","topic":"#","action":"sub","access":"allow"},
		{"username":"alice","topic":"probe","action":"pub","access":"allow"},
		{"username":"alice","topic":"t","action":"pub","access":"allow"}]`))
	w := mqtttest.MustConnect(t, b.MQTTAddr(), "w", "watch", "p")
	w.MustSubscribe(t, "#")
	a := mqtttest.MustConnect(t, b.MQTTAddr(), "a", "alice", "p")

	// delivered reports whether a publish to topic reaches the watcher, using
	// a probe publish (always allowed) as the end marker.
	delivered := func(topic string) bool {
		t.Helper()
		a.MustPublish(t, topic, "x", 0)
		a.MustPublish(t, "probe", "end", 0)
		got := w.Next(t)
		if got.Topic == "probe" {
			return false
		}
		w.Next(t) // the probe
		return true
	}
	if !delivered("t") {
		t.Fatal("allowed publish dropped")
	}
	mustCode4(t, v4(t, b, "POST", "/acl", `{"username":"alice","topic":"t","action":"pub","access":"deny"}`))
	if !delivered("t") {
		t.Fatal("cached allow should still apply before the cache is cleared")
	}
	cache := v4(t, b, "GET", "/clients/a/acl_cache", "").json(t)
	if l, _ := jsonAt(cache, "data"); len(l.([]any)) == 0 {
		t.Fatalf("acl_cache empty: %v", cache)
	}
	mustCode4(t, v4(t, b, "DELETE", "/clients/a/acl_cache", ""))
	if delivered("t") {
		t.Fatal("deny not applied after clearing the cache")
	}

	// Same through v5: allow again, clear every cache at once.
	mustStatus(t, v5(t, b, "PUT", rules5+"/users/alice", `{"username":"alice","rules":[
		{"topic":"probe","permission":"allow","action":"publish"},
		{"topic":"t","permission":"allow","action":"publish"}]}`), http.StatusNoContent)
	if delivered("t") {
		t.Fatal("cached deny should still apply")
	}
	mustStatus(t, v5(t, b, "DELETE", "/authorization/cache", ""), http.StatusNoContent)
	if !delivered("t") {
		t.Fatal("allow not applied after clearing all caches")
	}
}

func TestAuthzCacheExpires(t *testing.T) {
	b := startBroker(t, Options{AuthzCacheTTL: 20 * time.Millisecond})
	addUser(t, b, "alice", "p")
	mustCode4(t, v4(t, b, "POST", "/acl", `{"username":"alice","topic":"t","action":"sub","access":"deny"}`))
	a := mqtttest.MustConnect(t, b.MQTTAddr(), "a", "alice", "p")
	if rc := a.MustSubscribe(t, "t"); rc != rcNotAuthorized {
		t.Fatalf("subscribe = 0x%x, want denied", rc)
	}
	mustCode4(t, v4(t, b, "POST", "/acl", `{"username":"alice","topic":"t","action":"sub","access":"allow"}`))
	eventually(t, "the cached deny to expire", func() bool { return a.MustSubscribe(t, "t") <= 2 })
}

func TestMetricsCountTraffic(t *testing.T) {
	b := startBroker(t, Options{})
	addUser(t, b, "alice", "p")
	mustCode4(t, v4(t, b, "POST", "/acl", `{"username":"alice","topic":"m/#","action":"pubsub","access":"allow"}`))
	refusedWith(t, b, "bad", "alice", "nope", rcBadUserOrPass)
	mc := mqtttest.MustConnect(t, b.MQTTAddr(), "m1", "alice", "p")
	mc.MustSubscribe(t, "m/#")
	if rc := mc.MustPublish(t, "m/1", "x", 1); rc >= 0x80 {
		t.Fatalf("publish: refused 0x%x", rc)
	}
	mc.Next(t)
	mc.MustPublish(t, "m-unsubscribed", "x", 0)

	want4 := map[string]int64{"client.connected": 1, "client.auth.success": 1, "client.auth.failure": 1}
	min4 := map[string]int64{"messages.received": 2, "messages.sent": 1, "messages.dropped": 1, "client.acl.allow": 2}
	eventually(t, "v4 metrics", func() bool {
		m, _ := jsonAt(v4(t, b, "GET", "/metrics", "").json(t), "data/0/metrics")
		mm := m.(map[string]any)
		for k, v := range want4 {
			if normJSON(mm[k]) != v {
				return false
			}
		}
		for k, v := range min4 {
			if n, _ := normJSON(mm[k]).(int64); n < v {
				return false
			}
		}
		return true
	})
	m5 := v5(t, b, "GET", "/metrics?aggregate=true", "").json(t).(map[string]any)
	for k, v := range map[string]int64{"authentication.success": 1, "authentication.failure": 1, "client.connected": 1} {
		if normJSON(m5[k]) != v {
			t.Errorf("v5 %s = %v, want %d", k, m5[k], v)
		}
	}
	if _, ok := m5["client.auth.success"]; ok {
		t.Error("v5 metrics must use the renamed keys")
	}
	stats := v4(t, b, "GET", "/stats", "").json(t)
	for k, v := range map[string]int64{"connections.count": 1, "subscriptions.count": 1, "topics.count": 1} {
		if got, _ := jsonAt(stats, "data/0/stats/"+k); normJSON(got) != v {
			t.Errorf("stats %s = %v, want %d", k, got, v)
		}
	}
}

// TestCleanDisconnectRemovesSession makes sure a client disconnecting
// normally leaves no session behind.
func TestCleanDisconnectRemovesSession(t *testing.T) {
	b := startBroker(t, Options{})
	addUser(t, b, "alice", "p")
	mc := mqtttest.MustConnect(t, b.MQTTAddr(), "gone", "alice", "p")
	if err := mc.Disconnect(); err != nil {
		t.Fatalf("disconnect: %v", err)
	}
	eventually(t, "session removal", func() bool {
		return v5(t, b, "GET", "/clients/gone", "").status == http.StatusNotFound
	})
}
