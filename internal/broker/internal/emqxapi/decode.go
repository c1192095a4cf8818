package emqxapi

import (
	"bytes"
	"encoding/json"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// Int is a JSON number that also accepts a numeric string, which is how
// some brokers (and Erlang-side bugs) send large counters. Valid is false
// for anything else, including null.
type Int struct {
	V     int64
	Valid bool
}

// UnmarshalJSON never fails: an unreadable value is just not Valid, so one
// odd field does not sink a whole reply.
func (n *Int) UnmarshalJSON(b []byte) error {
	*n = Int{}
	b = bytes.TrimSpace(b)
	if len(b) > 1 && b[0] == '"' {
		var s string
		if json.Unmarshal(b, &s) != nil {
			return nil
		}
		b = []byte(s)
	}
	if v, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		*n = Int{V: v, Valid: true}
		return nil
	}
	if f, err := strconv.ParseFloat(string(b), 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) && math.Abs(f) < 9e18 {
		*n = Int{V: int64(f), Valid: true}
	}
	return nil
}

// Counters decodes a flat JSON object, keeping only numeric members (v5
// puts "node" beside the counters).
type Counters map[string]int64

// UnmarshalJSON never fails on member values; only a body that is not an
// object is an error.
func (c *Counters) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(Counters, len(raw))
	for k, v := range raw {
		var n Int
		_ = n.UnmarshalJSON(v)
		if n.Valid {
			out[k] = n.V
		}
	}
	*c = out
	return nil
}

// MetricNames are the names of the counters the flavours name differently.
type MetricNames struct {
	AuthenticationFailures string
	AuthorizationDenials   string
}

// SumMetrics builds the broker summary from per-node stats and metrics.
// Connections, sessions, subscriptions and the counters are per node and
// are summed. topics.count (the route table) and retained.count (the
// retained message table) are cluster-wide tables that every node reports
// in full, so the largest value is taken instead of the sum.
func SumMetrics(stats, metrics []Counters, names MetricNames) broker.Metrics {
	var m broker.Metrics
	for _, s := range stats {
		m.Connections += s["connections.count"]
		m.LiveConnections += s["live_connections.count"]
		m.Sessions += s["sessions.count"]
		m.Subscriptions += s["subscriptions.count"]
		m.Topics = max(m.Topics, s["topics.count"])
		m.RetainedMessages = max(m.RetainedMessages, s["retained.count"])
	}
	for _, x := range metrics {
		m.MessagesReceived += x["messages.received"]
		m.MessagesSent += x["messages.sent"]
		m.MessagesDropped += x["messages.dropped"]
		m.MessagesRetained += x["messages.retained"]
		m.AuthenticationFailures += x[names.AuthenticationFailures]
		m.AuthorizationDenials += x[names.AuthorizationDenials]
	}
	return m
}

// MessageText is a broker's message as text, whether it was sent as a JSON
// string or as some other JSON value (v4 prints Erlang terms, v5 sometimes
// nests objects).
func MessageText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// NodeStatus is what both APIs report of a node for a health check and a
// membership list.
type NodeStatus struct {
	Node       string `json:"node"`
	Version    string `json:"version"`
	NodeStatus string `json:"node_status"`
}

// Running reports whether the node's status says it runs.
func (n NodeStatus) Running() bool { return strings.EqualFold(n.NodeStatus, "running") }

// Members maps reported nodes to the domain's cluster members.
func Members(nodes []NodeStatus) []broker.Node {
	out := make([]broker.Node, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, broker.Node{Name: n.Node, Running: n.Running()})
	}
	return out
}

// NodesInfo summarises nodes: the version is the first node's, and a node
// counts as running when its status says so.
func NodesInfo(nodes []NodeStatus) broker.Info {
	var info broker.Info
	for i, n := range nodes {
		if i == 0 {
			info.Version = n.Version
		}
		info.Nodes++
		if n.Running() {
			info.RunningNodes++
		}
	}
	return info
}

// WireClient holds the fields of a client object that the domain needs;
// both APIs name them alike.
type WireClient struct {
	ClientID    string          `json:"clientid"`
	Username    string          `json:"username"`
	Node        string          `json:"node"`
	Connected   bool            `json:"connected"`
	IPAddress   string          `json:"ip_address"`
	ConnectedAt json.RawMessage `json:"connected_at"`
}

// Info maps the wire object to the domain, reading the connection time
// with the API's own timestamp parser.
func (w WireClient) Info(parseTime func(json.RawMessage) time.Time) broker.ClientInfo {
	return broker.ClientInfo{
		ClientID: w.ClientID, Username: w.Username, Node: w.Node,
		Connected: w.Connected, IPAddress: w.IPAddress, ConnectedAt: parseTime(w.ConnectedAt),
	}
}

// ClientQuery is the client list filter as query parameters; both APIs
// name them alike (clientid, username, ip_address, conn_state).
func ClientQuery(f broker.ClientFilter) url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"clientid": f.ClientID, "username": f.Username, "ip_address": f.IPAddress, "conn_state": string(f.State)} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}
