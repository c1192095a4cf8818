package emqx4

import (
	"testing"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// FuzzDecodeEnvelope feeds arbitrary replies through every decoder the
// driver applies to broker output; none may panic.
func FuzzDecodeEnvelope(f *testing.F) {
	seeds := []struct {
		status int
		body   string
	}{
		{200, `{"code":0}`},
		{200, `{"code":0,"data":{"username":"a","created_at":1}}`},
		{200, `{"code":0,"data":{}}`},
		{200, `{"code":0,"data":[]}`},
		{200, `{"message":"existed"}`},
		{200, `{"message":{"nested":true}}`},
		{200, `{"code":"0"}`},
		{200, `{"code":1e400}`},
		{200, `{"code":115,"message":"bad_topic"}`},
		{200, `{"code":0,"data":[{"who":"c","as":"clientid","at":"x","until":1e30}],"meta":{"page":1,"limit":-5,"count":"7","hasnext":"yes"}}`},
		{200, `{"code":0,"data":[{"clientid":"c","connected_at":"2024-01-02 03:04:05","connected":"true"}]}`},
		{200, `{"code":0,"data":[{"topic":"a","action":"pubsub","access":"allow","created_at":-1}]}`},
		{200, `{"code":0,"data":[{"topic":"a","code":115},{"code":null},7]}`},
		{200, `{"code":0,"data":[{"node":"n","stats":{"connections.count":"9"}}]}`},
		{200, `null`},
		{200, `[]`},
		{200, ``},
		{401, `UNAUTHORIZED`},
		{404, `Not found.`},
		{500, `Internal Error`},
		{-1, "\xff\xfe"},
	}
	for _, s := range seeds {
		f.Add(s.status, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		env, _, berr := decodeReply(status, body)
		if berr != nil {
			_ = berr.Error()
			_ = berr.Reason()
			return
		}
		data := env.Data
		_, _ = decodeUser(data, broker.ByUsername)
		_, _ = decodeBans("f", data)
		_, _ = decodeClients("f", data)
		_, _ = decodeSubscriptions("f", data)
		_, _ = itemErrors("f", 3, data)
		var ws []wireRule
		if decodeData("f", env, &ws) == nil {
			sortStored(ws)
			_ = broker.CanonicalRules(rulesOf(ws))
		}
		var users []wireUser
		_ = decodeData("f", env, &users)
		_ = env.Meta.More(1, 1, 1)
	})
}
