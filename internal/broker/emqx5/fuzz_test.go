package emqx5

import (
	"encoding/json"
	"testing"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/internal/emqxapi"
)

// FuzzDecodeReply feeds arbitrary replies through the error classifier and
// every body decoder; none may panic.
func FuzzDecodeReply(f *testing.F) {
	seeds := []struct {
		status int
		body   string
	}{
		{200, `{"user_id":"a","is_superuser":true}`},
		{201, `{}`},
		{204, ``},
		{400, `{"code":"BAD_REQUEST","message":{"kind":"validation_error"}}`},
		{400, `{"reason_code":144,"message":"topic_name_invalid"}`},
		{400, `{"reason_code":"144"}`},
		{404, `{"code":"NOT_FOUND","message":"Not found: built_in_database"}`},
		{409, `{"code":"ALREADY_EXISTS"}`},
		{503, `[{"id":"1"},{"reason_code":131}]`},
		{200, `{"succeed":[],"failed":[{"data":["c",7,null],"reason":{"x":1}},{"data":[]}]}`},
		{200, `{"data":[{"as":"clientid","who":"c","at":"2024-01-01T00:00:00Z","until":"infinity"},{"until":1e300}],"meta":{"hasnext":null,"count":-1}}`},
		{200, `{"data":[{"username":"u","rules":[{"topic":"t","permission":"allow","action":"pub","qos":[0],"retain":"all"}]}],"meta":{}}`},
		{200, `[{"node":"n","connections.count":"5","x":[1]}]`},
		{200, `{"messages.received":1.5e3}`},
		{200, `null`},
		{-7, "\x00\xff"},
	}
	for _, s := range seeds {
		f.Add(s.status, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if _, berr := classify(status, body); berr != nil {
			_ = berr.Error()
			_ = berr.Reason()
		}
		var u wireUser
		_ = json.Unmarshal(body, &u)
		var bans page[wireBan]
		if json.Unmarshal(body, &bans) == nil {
			for _, b := range bans.Data {
				_ = b.ban()
			}
			_ = bans.Meta.More(len(bans.Data), 1, 1)
		}
		var rules page[wireRules]
		if json.Unmarshal(body, &rules) == nil {
			for _, r := range rules.Data {
				_ = broker.RulesEquivalent(fromWire(r.Rules), nil)
			}
		}
		var clients page[emqxapi.WireClient]
		if json.Unmarshal(body, &clients) == nil {
			for _, c := range clients.Data {
				_ = c.Info(parseTime)
			}
		}
		var replies []publishReply
		if json.Unmarshal(body, &replies) == nil {
			for _, r := range replies {
				_ = r.result("f", status)
			}
		}
		var one publishReply
		if json.Unmarshal(body, &one) == nil {
			_ = one.result("f", status)
		}
		var counters nodeCounters
		_ = json.Unmarshal(body, &counters)
		rs := []broker.SubscribeRequest{{ClientID: "c", Topic: "7"}, {ClientID: "c", Topic: ""}}
		_ = bulkFailures("f", rs, []int{0, 1}, body)
	})
}
