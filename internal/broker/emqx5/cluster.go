package emqx5

import (
	"context"
	"net/http"
	"strings"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/internal/emqxapi"
)

var (
	_ broker.Cluster     = (*Client)(nil)
	_ broker.NodeRemover = (*Client)(nil)
)

// Nodes reads /nodes: the answering node's running cluster members first,
// then the core members it cannot reach, with node_status "stopped"
// (emqx_mgmt:list_nodes/0).
func (c *Client) Nodes(ctx context.Context) ([]broker.Node, error) {
	var nodes []emqxapi.NodeStatus
	if _, err := c.call(ctx, "Nodes", http.MethodGet, emqxapi.Path("nodes"), nil, nil, &nodes); err != nil {
		return nil, err
	}
	return emqxapi.Members(nodes), nil
}

// notInCluster is the message of EMQX's 400 reply to a force-leave of a
// node that is not a member: ekka's {error, node_not_in_cluster}, printed
// with ~p (emqx_mgmt_api_cluster:force_leave/2).
const notInCluster = "node_not_in_cluster"

// ForceLeave calls DELETE /cluster/{node}/force_leave from a surviving
// node. A node that is no member any more is what the call wants, so the
// 400 node_not_in_cluster reply (and a 404) count as done.
func (c *Client) ForceLeave(ctx context.Context, node string) error {
	_, err := c.call(ctx, "ForceLeave", http.MethodDelete, emqxapi.Path("cluster", node, "force_leave"), nil, nil, nil)
	if broker.IsNotFound(err) {
		return nil
	}
	if be, ok := broker.AsError(err); ok && be.HTTPStatus == http.StatusBadRequest && strings.Contains(be.Message, notInCluster) {
		return nil
	}
	return err
}
