package emqx4

import (
	"context"
	"net/http"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/internal/emqxapi"
)

var _ broker.Cluster = (*Client)(nil)

// Nodes reads /nodes. 4.4 lists only the running members of the answering
// node's cluster: emqx_mgmt:list_nodes/0 appends the stopped ones as bare
// maps, which the handler's {Node, Info} comprehension silently drops
// (emqx_mgmt_api_nodes:list/2). A member whose information could not be
// fetched comes as {"node", "error"} and counts as not running. 4.4 has no
// REST call to remove a member, so the v4 driver is no broker.NodeRemover.
func (c *Client) Nodes(ctx context.Context) ([]broker.Node, error) {
	const op = "Nodes"
	env, err := c.call(ctx, op, http.MethodGet, emqxapi.Path("nodes"), nil, nil)
	if err != nil {
		return nil, err
	}
	var nodes []emqxapi.NodeStatus
	if err := decodeData(op, env, &nodes); err != nil {
		return nil, err
	}
	return emqxapi.Members(nodes), nil
}
