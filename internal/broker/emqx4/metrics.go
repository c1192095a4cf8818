package emqx4

import (
	"context"
	"net/http"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/internal/emqxapi"
)

// metricNames are EMQX 4's names of the authentication and authorization
// counters (emqx_access_control counts client.auth.failure and
// client.acl.deny).
var metricNames = emqxapi.MetricNames{AuthenticationFailures: "client.auth.failure", AuthorizationDenials: "client.acl.deny"}

// Metrics sums /stats and /metrics over the running nodes.
func (c *Client) Metrics(ctx context.Context) (broker.Metrics, error) {
	const op = "Metrics"
	var stats []struct {
		Stats emqxapi.Counters `json:"stats"`
	}
	var metrics []struct {
		Metrics emqxapi.Counters `json:"metrics"`
	}
	for _, q := range []struct {
		route string
		out   any
	}{{"stats", &stats}, {"metrics", &metrics}} {
		env, err := c.call(ctx, op, http.MethodGet, emqxapi.Path(q.route), nil, nil)
		if err != nil {
			return broker.Metrics{}, err
		}
		if err := decodeData(op, env, q.out); err != nil {
			return broker.Metrics{}, err
		}
	}
	var s, m []emqxapi.Counters
	for _, x := range stats {
		s = append(s, x.Stats)
	}
	for _, x := range metrics {
		m = append(m, x.Metrics)
	}
	return emqxapi.SumMetrics(s, m, metricNames), nil
}

// Health reads /brokers, the cheapest authenticated call; the version is
// the first node's.
func (c *Client) Health(ctx context.Context) (broker.Info, error) {
	const op = "Health"
	env, err := c.call(ctx, op, http.MethodGet, emqxapi.Path("brokers"), nil, nil)
	if err != nil {
		return broker.Info{}, err
	}
	var nodes []emqxapi.NodeStatus
	if err := decodeData(op, env, &nodes); err != nil {
		return broker.Info{}, err
	}
	return emqxapi.NodesInfo(nodes), nil
}
