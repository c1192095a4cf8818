package emqx5

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/brokertest"
)

// A v5 reply cut short on the way is a transient failure, not a sign of a
// misconfigured broker.
func TestReplyCutShortIsTransient(t *testing.T) {
	s := brokertest.NewServer(t)
	s.Otherwise(func(brokertest.Request) brokertest.Reply {
		return brokertest.JSON(http.StatusOK, `{"user_id":"alice","is_super`)
	})
	cfg := s.Config(broker.APIv5)
	cfg.Timeout = 2 * time.Second
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetUser(context.Background(), broker.ByUsername, "alice")
	if broker.ClassOf(err) != broker.ClassTransient {
		t.Fatalf("GetUser on a cut-short reply: %v, want transient", err)
	}
}
