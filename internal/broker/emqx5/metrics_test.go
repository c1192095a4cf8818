package emqx5

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/brokertest"
)

func TestMetricsAndHealth(t *testing.T) {
	s := brokertest.NewServer(t)
	s.On(http.MethodGet, "/api/v5/stats", brokertest.JSON(200, `[
		{"node":"emqx@a","connections.count":3,"live_connections.count":2,"sessions.count":3,"cluster_sessions.count":5,"subscriptions.count":4,"topics.count":9,"retained.count":5},
		{"node":"emqx@b","connections.count":1,"live_connections.count":1,"sessions.count":2,"cluster_sessions.count":5,"subscriptions.count":2,"topics.count":9,"retained.count":5}]`))
	// An aggregated reply: one object summed over the nodes.
	s.On(http.MethodGet, "/api/v5/metrics", brokertest.JSON(200, `{"messages.received":12,"messages.sent":10,"messages.dropped":1,"messages.retained":3,
		"authentication.failure":5,"authentication.success":40,"authorization.deny":8,"authorization.allow":70}`))
	s.On(http.MethodGet, "/api/v5/nodes", brokertest.JSON(200, `[
		{"node":"emqx@a","node_status":"running","version":"5.8.9"},
		{"node":"emqx@b","node_status":"stopped","version":"5.8.8"},
		{"node":"emqx@c","node_status":"running","version":"5.8.9"}]`))
	c, _ := newTestClient(t, s)
	m, err := c.Metrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(broker.Metrics{Connections: 4, LiveConnections: 3, Sessions: 5, Subscriptions: 6, Topics: 9, RetainedMessages: 5,
		MessagesReceived: 12, MessagesSent: 10, MessagesDropped: 1, MessagesRetained: 3, AuthenticationFailures: 5, AuthorizationDenials: 8}, m); diff != "" {
		t.Errorf("metrics mismatch (-want +got):\n%s", diff)
	}
	info, err := c.Health(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(broker.Info{Version: "5.8.9", Nodes: 3, RunningNodes: 2}, info); diff != "" {
		t.Errorf("health mismatch (-want +got):\n%s", diff)
	}
	if c.APIVersion() != broker.APIv5 {
		t.Errorf("APIVersion = %v", c.APIVersion())
	}
}
