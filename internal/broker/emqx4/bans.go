package emqx4

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/internal/emqxapi"
)

const (
	// PermanentBanUntil is the "until" (epoch seconds, 2100-01-01T00:00:00Z)
	// sent for a ban with a zero Until: v4 has no permanent ban and would
	// otherwise end it after five minutes.
	PermanentBanUntil int64 = 4102444800
	// PermanentBanThreshold is the "until" from which ListBans reports a ban
	// as permanent (zero Until).
	PermanentBanThreshold int64 = PermanentBanUntil
)

// wireBan is a banned-list entry. at and until are epoch seconds, but the
// broker does not type-check them, so anything is tolerated on read.
type wireBan struct {
	Who    string          `json:"who"`
	As     string          `json:"as"`
	Reason string          `json:"reason"`
	By     string          `json:"by"`
	At     json.RawMessage `json:"at"`
	Until  json.RawMessage `json:"until"`
}

func (w wireBan) ban() broker.Ban {
	b := broker.Ban{As: broker.BanKind(w.As), Who: w.Who, Reason: w.Reason, By: w.By}
	var at emqxapi.Int
	_ = at.UnmarshalJSON(w.At)
	if at.Valid && at.V > 0 {
		b.At = time.Unix(at.V, 0).UTC()
	}
	var until emqxapi.Int
	_ = until.UnmarshalJSON(w.Until)
	// A non-numeric until (stored as a string by some other client) compares
	// greater than any integer in Erlang, so such a ban never ends.
	if until.Valid && until.V < PermanentBanThreshold {
		b.Until = time.Unix(until.V, 0).UTC()
	}
	return b
}

// CreateBan writes a ban; v4 overwrites an existing (as, who) entry.
func (c *Client) CreateBan(ctx context.Context, b broker.Ban) error {
	const op = "CreateBan"
	body := map[string]any{
		"who": b.Who,
		"as":  string(b.As),
		// reason is optional in the docs but a missing one crashes the
		// handler (HTTP 500), so it is always sent.
		"reason": b.Reason,
		"until":  PermanentBanUntil,
	}
	if !b.Until.IsZero() {
		body["until"] = b.Until.Unix()
	}
	if !b.At.IsZero() {
		body["at"] = b.At.Unix()
	}
	if b.By != "" {
		body["by"] = b.By
	}
	_, err := c.call(ctx, op, http.MethodPost, emqxapi.Path("banned"), nil, body)
	return err
}

// ListBans reads every page of the banned list.
func (c *Client) ListBans(ctx context.Context) ([]broker.Ban, error) {
	return listAll(ctx, c, "ListBans", emqxapi.Path("banned"), nil, decodeBans)
}

func decodeBans(op string, data json.RawMessage) ([]broker.Ban, error) {
	var ws []wireBan
	if err := decodeData(op, &envelope{Data: data}, &ws); err != nil {
		return nil, err
	}
	out := make([]broker.Ban, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.ban())
	}
	return out, nil
}

// DeleteBan removes an entry; v4 already treats a missing one as success.
func (c *Client) DeleteBan(ctx context.Context, as broker.BanKind, who string) error {
	const op = "DeleteBan"
	if who == "" {
		return nil // cannot be addressed, and cannot have been created
	}
	_, err := c.call(ctx, op, http.MethodDelete, emqxapi.Path("banned", string(as), who), nil, nil)
	return err
}
