package controllers

import (
	"context"
	"errors"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// sessionMatch selects live sessions on a broker. EMQX checks credentials,
// bans and (after its cache TTL) rules only when a client connects or acts,
// so revoking anything for a client that is already connected means
// finding its sessions. Empty fields match everything.
type sessionMatch struct {
	clientID string
	username string
	peerHost string
}

// liveSessions returns the client ids of the connected sessions m selects.
func liveSessions(ctx context.Context, cl broker.Client, m sessionMatch) ([]string, error) {
	if m.clientID != "" && m.username == "" && m.peerHost == "" {
		c, err := cl.GetClient(ctx, m.clientID)
		if broker.IsNotFound(err) || (err == nil && !c.Connected) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return []string{c.ClientID}, nil
	}
	clients, err := cl.ListClients(ctx, broker.ClientFilter{ClientID: m.clientID, Username: m.username})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, c := range clients {
		if c.Connected && (m.peerHost == "" || c.IPAddress == m.peerHost) {
			ids = append(ids, c.ClientID)
		}
	}
	return ids, nil
}

// kickSessions disconnects the sessions m selects and returns how many it
// kicked; a client that is gone already counts as done.
func kickSessions(ctx context.Context, cl broker.Client, m sessionMatch) (int, error) {
	ids, err := liveSessions(ctx, cl, m)
	if err != nil {
		return 0, err
	}
	var errs []error
	n := 0
	for _, id := range ids {
		if err := cl.KickClient(ctx, id); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
