package emqx5

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/brokertest"
)

func TestNodesAndForceLeave(t *testing.T) {
	s := brokertest.NewServer(t)
	s.On(http.MethodGet, "/api/v5/nodes", brokertest.JSON(200, `[
		{"node":"emqx@e-0.e-headless.ns.svc.cluster.example","node_status":"running","version":"5.8.9"},
		{"node":"emqx@e-2.e-headless.ns.svc.cluster.example","node_status":"stopped","version":"5.8.9"}]`))
	s.On(http.MethodDelete, "/api/v5/cluster/emqx@e-2.e-headless.ns.svc.cluster.example/force_leave", brokertest.Reply{Status: 204})
	s.On(http.MethodDelete, "/api/v5/cluster/emqx@gone/force_leave", brokertest.JSON(404, `{"code":"NOT_FOUND","message":"node not found"}`))
	// EMQX answers a node that is not a member with 400 and ekka's reason
	// (emqx_mgmt_api_cluster:force_leave/2).
	s.On(http.MethodDelete, "/api/v5/cluster/emqx@departed/force_leave", brokertest.JSON(400, `{"code":"BAD_REQUEST","message":"node_not_in_cluster"}`))
	s.On(http.MethodDelete, "/api/v5/cluster/emqx@self/force_leave", brokertest.JSON(400, `{"code":"BAD_REQUEST","message":"Can't leave self"}`))
	c, _ := newTestClient(t, s)
	ctx := context.Background()

	nodes, err := c.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []broker.Node{{Name: "emqx@e-0.e-headless.ns.svc.cluster.example", Running: true}, {Name: "emqx@e-2.e-headless.ns.svc.cluster.example"}}
	if d := cmp.Diff(want, nodes); d != "" {
		t.Fatalf("Nodes (-want +got):\n%s", d)
	}
	if err := c.ForceLeave(ctx, "emqx@e-2.e-headless.ns.svc.cluster.example"); err != nil {
		t.Fatalf("ForceLeave: %v", err)
	}
	if err := c.ForceLeave(ctx, "emqx@gone"); err != nil {
		t.Fatalf("ForceLeave of a node already gone: %v", err)
	}
	if err := c.ForceLeave(ctx, "emqx@departed"); err != nil {
		t.Fatalf("ForceLeave of a node that is not a member any more: %v, want done", err)
	}
	err = c.ForceLeave(ctx, "emqx@self")
	if broker.ClassOf(err) != broker.ClassRejected {
		t.Fatalf("ForceLeave refused by the broker: class %q (%v), want Rejected", broker.ClassOf(err), err)
	}
}

func TestClearAllAuthzCaches(t *testing.T) {
	s := brokertest.NewServer(t)
	s.On(http.MethodDelete, "/api/v5/authorization/cache", brokertest.Reply{Status: 204})
	c, _ := newTestClient(t, s)
	if err := c.ClearAllAuthzCaches(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := s.Calls(); len(got) != 1 || got[0] != "DELETE /api/v5/authorization/cache" {
		t.Fatalf("calls = %v", got)
	}
}
