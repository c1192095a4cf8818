package emqx4

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/internal/emqxapi"
)

// parseTime reads v4 timestamps: "YYYY-MM-DD HH:MM:SS" in the node's local
// time zone, which the API does not name, so it is taken as UTC; RFC 3339
// and epoch seconds or milliseconds are accepted too.
func parseTime(raw json.RawMessage) time.Time {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		s = strings.TrimSpace(s)
		for _, layout := range []string{"2006-01-02 15:04:05", time.RFC3339Nano} {
			if t, err := time.Parse(layout, s); err == nil {
				return t.UTC()
			}
		}
	}
	var n emqxapi.Int
	_ = n.UnmarshalJSON(raw)
	switch {
	case !n.Valid || n.V <= 0:
		return time.Time{}
	case n.V > 1e12:
		return time.UnixMilli(n.V).UTC()
	}
	return time.Unix(n.V, 0).UTC()
}

func decodeClients(op string, data json.RawMessage) ([]broker.ClientInfo, error) {
	var ws []emqxapi.WireClient
	if err := decodeData(op, &envelope{Data: data}, &ws); err != nil {
		return nil, err
	}
	out := make([]broker.ClientInfo, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.Info(parseTime))
	}
	return out, nil
}

// ListClients reads every page of the cluster's client list.
func (c *Client) ListClients(ctx context.Context, f broker.ClientFilter) ([]broker.ClientInfo, error) {
	return listAll(ctx, c, "ListClients", emqxapi.Path("clients"), emqxapi.ClientQuery(f), decodeClients)
}

// GetClient reads one client. v4 returns a list with one entry per node
// holding the session, empty when none does; a connected entry is preferred.
func (c *Client) GetClient(ctx context.Context, clientID string) (broker.ClientInfo, error) {
	const op = "GetClient"
	notFound := &broker.Error{Op: op, Class: broker.ClassNotFound, HTTPStatus: http.StatusOK, Message: "client not found"}
	if clientID == "" {
		return broker.ClientInfo{}, notFound
	}
	env, err := c.call(ctx, op, http.MethodGet, emqxapi.Path("clients", clientID), nil, nil)
	if err != nil {
		return broker.ClientInfo{}, err
	}
	items, err := decodeClients(op, env.Data)
	if err != nil {
		return broker.ClientInfo{}, err
	}
	if len(items) == 0 {
		return broker.ClientInfo{}, notFound
	}
	for _, it := range items {
		if it.Connected {
			return it, nil
		}
	}
	return items[0], nil
}

// KickClient ends the client's connection and session. 4.3.9+ answer code
// 0 for an unknown client; older versions answer 112, also taken as done.
func (c *Client) KickClient(ctx context.Context, clientID string) error {
	if clientID == "" {
		return nil
	}
	_, err := c.call(ctx, "KickClient", http.MethodDelete, emqxapi.Path("clients", clientID), nil, nil)
	if hasCode(err, broker.V4ClientOffline) {
		return nil
	}
	return err
}

// ClearAuthzCache drops the client's ACL cache; 112 (offline) means there
// is no cache to drop.
func (c *Client) ClearAuthzCache(ctx context.Context, clientID string) error {
	if clientID == "" {
		return nil
	}
	_, err := c.call(ctx, "ClearAuthzCache", http.MethodDelete, emqxapi.Path("clients", clientID, "acl_cache"), nil, nil)
	if hasCode(err, broker.V4ClientOffline) {
		return nil
	}
	return err
}
