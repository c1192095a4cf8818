package emqx4

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/brokertest"
)

func TestNodes(t *testing.T) {
	s := brokertest.NewServer(t)
	// As 4.4.19 answers: running members only, with their details; a member
	// whose details the RPC could not fetch carries an error instead.
	s.On(http.MethodGet, "/api/v4/nodes", brokertest.JSON(200, `{"code":0,"data":[
		{"node":"emqx@e-0.e-headless.ns.svc.cluster.example","node_status":"Running","version":"4.4.19","memory_total":"1.00G"},
		{"node":"emqx@e-1.e-headless.ns.svc.cluster.example","node_status":"Running","version":"4.4.19"},
		{"node":"emqx@e-2.e-headless.ns.svc.cluster.example","error":"timeout"}]}`))
	c, _ := newTestClient(t, s)
	nodes, err := c.Nodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []broker.Node{
		{Name: "emqx@e-0.e-headless.ns.svc.cluster.example", Running: true},
		{Name: "emqx@e-1.e-headless.ns.svc.cluster.example", Running: true},
		{Name: "emqx@e-2.e-headless.ns.svc.cluster.example"},
	}
	if d := cmp.Diff(want, nodes); d != "" {
		t.Fatalf("Nodes (-want +got):\n%s", d)
	}
	if _, ok := any(c).(broker.NodeRemover); ok {
		t.Error("4.4 has no REST force-leave; the v4 driver must not claim to remove nodes")
	}
}
