package emqx5

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/internal/emqxapi"
)

// metricNames are EMQX 5's names of the authentication and authorization
// counters, renamed from 4.x's client.auth.failure and client.acl.deny.
var metricNames = emqxapi.MetricNames{AuthenticationFailures: "authentication.failure", AuthorizationDenials: "authorization.deny"}

// Metrics sums /stats and /metrics over the nodes; v5 puts the counters
// flat beside "node".
func (c *Client) Metrics(ctx context.Context) (broker.Metrics, error) {
	const op = "Metrics"
	var stats, metrics nodeCounters
	if _, err := c.call(ctx, op, http.MethodGet, emqxapi.Path("stats"), nil, nil, &stats); err != nil {
		return broker.Metrics{}, err
	}
	if _, err := c.call(ctx, op, http.MethodGet, emqxapi.Path("metrics"), nil, nil, &metrics); err != nil {
		return broker.Metrics{}, err
	}
	return emqxapi.SumMetrics(stats, metrics, metricNames), nil
}

// nodeCounters is a per-node list, or the single object an aggregated
// reply is.
type nodeCounters []emqxapi.Counters

// UnmarshalJSON accepts a list or a single object.
func (n *nodeCounters) UnmarshalJSON(b []byte) error {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		var one emqxapi.Counters
		if err := json.Unmarshal(t, &one); err != nil {
			return err
		}
		*n = nodeCounters{one}
		return nil
	}
	var many []emqxapi.Counters
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*n = many
	return nil
}

// Health reads /nodes: the version is the first node's, and a node counts
// as running when its node_status says so.
func (c *Client) Health(ctx context.Context) (broker.Info, error) {
	var nodes []emqxapi.NodeStatus
	if _, err := c.call(ctx, "Health", http.MethodGet, emqxapi.Path("nodes"), nil, nil, &nodes); err != nil {
		return broker.Info{}, err
	}
	return emqxapi.NodesInfo(nodes), nil
}
