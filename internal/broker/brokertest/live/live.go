// Package live runs the broker drivers against internal/testbroker, a real
// MQTT broker that serves the EMQX v4 and v5 management APIs, over real
// HTTP and MQTT. It holds the conformance suite both drivers' integration
// tests run, with Traits for where the API versions legitimately differ.
package live

import (
	"testing"
	"time"

	"github.com/mqttoperator/mqtt-operator/internal/testbroker"
)

// waitFor bounds every wait on the broker.
const waitFor = 10 * time.Second

// Start runs a test broker until the test ends. userIDType is the v5
// authenticator's user_id_type ("" for username).
func Start(t *testing.T, userIDType string) *testbroker.Broker {
	t.Helper()
	b, err := testbroker.New(testbroker.Options{
		MQTTAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0",
		AppID: "admin", AppSecret: "public", V5UserIDType: userIDType,
	})
	if err != nil {
		t.Fatalf("new test broker: %v", err)
	}
	if err := b.Start(); err != nil {
		t.Fatalf("start test broker: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close test broker: %v", err)
		}
	})
	return b
}

// Eventually polls cond until it holds or waitFor passes.
func Eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
