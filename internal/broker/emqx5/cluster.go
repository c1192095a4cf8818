package emqx5

import (
	"context"
	"net/http"
	"strings"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/internal/emqxapi"
)

var _ broker.Cluster = (*Client)(nil)

// Nodes reads /nodes, which lists stopped members too.
func (c *Client) Nodes(ctx context.Context) ([]broker.Node, error) {
	var nodes []struct {
		Node       string `json:"node"`
		NodeStatus string `json:"node_status"`
	}
	if _, err := c.call(ctx, "Nodes", http.MethodGet, emqxapi.Path("nodes"), nil, nil, &nodes); err != nil {
		return nil, err
	}
	out := make([]broker.Node, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, broker.Node{Name: n.Node, Running: strings.EqualFold(n.NodeStatus, "running")})
	}
	return out, nil
}

// ForceLeave calls DELETE /cluster/{node}/force_leave from a surviving
// node; a 404 means the node is not a member any more.
func (c *Client) ForceLeave(ctx context.Context, node string) error {
	_, err := c.call(ctx, "ForceLeave", http.MethodDelete, emqxapi.Path("cluster", node, "force_leave"), nil, nil, nil)
	if broker.IsNotFound(err) {
		return nil
	}
	return err
}
