package emqx5

import (
	"context"
	"net/http"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/internal/emqxapi"
)

// ListClients reads every page of the cluster's client list.
func (c *Client) ListClients(ctx context.Context, f broker.ClientFilter) ([]broker.ClientInfo, error) {
	ws, err := list[emqxapi.WireClient](ctx, c, "ListClients", emqxapi.Path("clients"), emqxapi.ClientQuery(f))
	if err != nil {
		return nil, err
	}
	out := make([]broker.ClientInfo, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.Info(parseTime))
	}
	return out, nil
}

// GetClient reads one client; 404 CLIENTID_NOT_FOUND is ClassNotFound.
func (c *Client) GetClient(ctx context.Context, clientID string) (broker.ClientInfo, error) {
	const op = "GetClient"
	if clientID == "" {
		return broker.ClientInfo{}, &broker.Error{Op: op, Class: broker.ClassNotFound, Message: "client not found"}
	}
	var w emqxapi.WireClient
	if _, err := c.call(ctx, op, http.MethodGet, emqxapi.Path("clients", clientID), nil, nil, &w); err != nil {
		return broker.ClientInfo{}, err
	}
	return w.Info(parseTime), nil
}

// KickClient disconnects the client and discards its session; an unknown
// client (404) is not an error.
func (c *Client) KickClient(ctx context.Context, clientID string) error {
	if clientID == "" {
		return nil
	}
	_, err := c.call(ctx, "KickClient", http.MethodDelete, emqxapi.Path("clients", clientID), nil, nil, nil)
	if broker.IsNotFound(err) {
		return nil
	}
	return err
}

// ClearAuthzCache drops the client's authorization cache; an unknown
// client (404) has none.
func (c *Client) ClearAuthzCache(ctx context.Context, clientID string) error {
	if clientID == "" {
		return nil
	}
	_, err := c.call(ctx, "ClearAuthzCache", http.MethodDelete, emqxapi.Path("clients", clientID, "authorization", "cache"), nil, nil, nil)
	if broker.IsNotFound(err) {
		return nil
	}
	return err
}

var _ broker.AuthzCacheFlusher = (*Client)(nil)

// ClearAllAuthzCaches calls DELETE /authorization/cache, which clears
// every connected client's cache on every node in one request.
func (c *Client) ClearAllAuthzCaches(ctx context.Context) error {
	_, err := c.call(ctx, "ClearAllAuthzCaches", http.MethodDelete, emqxapi.Path("authorization", "cache"), nil, nil, nil)
	return err
}
