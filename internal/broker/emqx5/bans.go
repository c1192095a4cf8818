package emqx5

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/internal/emqxapi"
)

// infinity is v5's until of a ban that never ends.
const infinity = "infinity"

type wireBan struct {
	As     string          `json:"as"`
	Who    string          `json:"who"`
	By     string          `json:"by"`
	Reason string          `json:"reason"`
	At     json.RawMessage `json:"at"`
	Until  json.RawMessage `json:"until"`
}

func (w wireBan) ban() broker.Ban {
	return broker.Ban{As: broker.BanKind(w.As), Who: w.Who, Reason: w.Reason, By: w.By, At: parseTime(w.At), Until: parseTime(w.Until)}
}

// parseTime reads RFC 3339 (what v5 replies with), "infinity" (zero, which
// the domain reads as permanent) or epoch seconds/milliseconds (what v5
// accepts on input).
func parseTime(raw json.RawMessage) time.Time {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		s = strings.TrimSpace(s)
		if s == "" || strings.EqualFold(s, infinity) {
			return time.Time{}
		}
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UTC()
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

// CreateBan adds a ban. An active entry for the same (as, who) gives
// ClassAlreadyExists (v5 answers 400 ALREADY_EXISTS); an until in the past
// is rejected by the broker.
func (c *Client) CreateBan(ctx context.Context, b broker.Ban) error {
	body := map[string]any{"as": string(b.As), "who": b.Who, "reason": b.Reason, "until": infinity}
	if !b.Until.IsZero() {
		body["until"] = b.Until.UTC().Format(time.RFC3339)
	}
	if !b.At.IsZero() {
		body["at"] = b.At.UTC().Format(time.RFC3339)
	}
	if b.By != "" {
		body["by"] = b.By
	}
	_, err := c.call(ctx, "CreateBan", http.MethodPost, emqxapi.Path("banned"), nil, body, nil)
	return err
}

// ListBans reads every page of the banned list.
func (c *Client) ListBans(ctx context.Context) ([]broker.Ban, error) {
	ws, err := list[wireBan](ctx, c, "ListBans", emqxapi.Path("banned"), nil)
	if err != nil {
		return nil, err
	}
	out := make([]broker.Ban, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.ban())
	}
	return out, nil
}

// DeleteBan removes an entry; a missing one (404) is fine.
func (c *Client) DeleteBan(ctx context.Context, as broker.BanKind, who string) error {
	if who == "" {
		return nil
	}
	_, err := c.call(ctx, "DeleteBan", http.MethodDelete, emqxapi.Path("banned", string(as), who), nil, nil, nil)
	if broker.IsNotFound(err) {
		return nil
	}
	return err
}
