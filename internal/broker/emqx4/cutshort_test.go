package emqx4

import (
	"testing"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// A v4 reply cut short on the way is retried; a page that is not JSON at
// all points at something that is not the v4 API.
func TestDecodeReplyCutShort(t *testing.T) {
	for body, want := range map[string]broker.Class{
		`{"code":0,"data":[{"username":"a"`: broker.ClassTransient,
		`<html>login</html>`:                broker.ClassMisconfigured,
	} {
		if _, _, err := decodeReply(200, []byte(body)); err == nil || err.Class != want {
			t.Errorf("decodeReply(200, %q) = %v, want class %s", body, err, want)
		}
	}
}
