package emqx4

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
	s.On(http.MethodGet, "/api/v4/stats", brokertest.JSON(200, `{"code":0,"data":[
		{"node":"emqx@a","stats":{"connections.count":3,"live_connections.count":2,"sessions.count":3,"subscriptions.count":4,"topics.count":9,"retained.count":5,"retained.max":6}},
		{"node":"emqx@b","stats":{"connections.count":1,"live_connections.count":1,"sessions.count":2,"subscriptions.count":2,"topics.count":9,"retained.count":5}}]}`))
	s.On(http.MethodGet, "/api/v4/metrics", brokertest.JSON(200, `{"code":0,"data":[
		{"node":"emqx@a","metrics":{"messages.received":10,"messages.sent":7,"messages.dropped":1,"messages.retained":2,"rules.matched":5,
			"client.auth.failure":4,"client.acl.deny":6,"client.acl.allow":50}},
		{"node":"emqx@b","metrics":{"messages.received":2,"messages.sent":3,"messages.dropped":0,"messages.retained":1,
			"client.auth.failure":1,"client.acl.deny":"2"}}]}`))
	s.On(http.MethodGet, "/api/v4/brokers", brokertest.JSON(200, `{"code":0,"data":[
		{"node":"emqx@a","node_status":"Running","version":"4.4.19"},
		{"node":"emqx@b","node_status":"Stopped","version":"4.4.18"}]}`))
	c, _ := newTestClient(t, s)
	m, err := c.Metrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantM := broker.Metrics{Connections: 4, LiveConnections: 3, Sessions: 5, Subscriptions: 6, Topics: 9, RetainedMessages: 5,
		MessagesReceived: 12, MessagesSent: 10, MessagesDropped: 1, MessagesRetained: 3, AuthenticationFailures: 5, AuthorizationDenials: 8}
	if diff := cmp.Diff(wantM, m); diff != "" {
		t.Errorf("metrics mismatch (-want +got):\n%s", diff)
	}
	info, err := c.Health(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(broker.Info{Version: "4.4.19", Nodes: 2, RunningNodes: 1}, info); diff != "" {
		t.Errorf("health mismatch (-want +got):\n%s", diff)
	}
	if c.APIVersion() != broker.APIv4 {
		t.Errorf("APIVersion = %v", c.APIVersion())
	}
}

func TestHealthUnauthorized(t *testing.T) {
	s := brokertest.NewServer(t)
	s.On(http.MethodGet, "/api/v4/brokers", brokertest.Text(401, "UNAUTHORIZED"))
	c, _ := newTestClient(t, s)
	_, err := c.Health(context.Background())
	if diff := cmp.Diff(fields("Health", broker.ClassUnauthorized, "", 401, "Unauthorized"), brokertest.Fields(err)); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}
