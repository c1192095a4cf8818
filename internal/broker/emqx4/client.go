// Package emqx4 drives the EMQX 4.x management API (/api/v4), which EMQX
// 4.3/4.4 and EMQX Cloud v4 deployments expose.
//
// The v4 API has quirks the driver hides from callers:
//
//   - Every handler answers HTTP 200; success is code 0, and the auth and
//     ACL APIs report failures with no code at all ({"message":"existed"}).
//     Those keep Error.Code empty and get a reason through
//     Error.ReasonOverride (see broker.V4Uncoded).
//   - Identifiers and topics travel as single, percent-escaped path
//     segments; "$all" is sent literally.
//   - Superusers do not exist in v4: a UserSpec with Superuser set gives
//     ClassUnsupported.
//
// # ACL rule order
//
// docs/internals/v4-acl-order.md explains this section at length.
//
// v4 stores one rule per (login, topic, action), evaluates a login's rules
// newest-created first, has no way to reorder them, and can only delete a
// whole topic (every action of it). "all" is stored as a publish and a
// subscribe rule sharing a timestamp. ReplaceRules therefore:
//
//  1. reduces the desired list to broker.CanonicalRules (it drops rules no
//     request can reach and merges neighbouring publish/subscribe pairs);
//  2. deletes every topic that is not wanted, and every topic holding an
//     action the desired list does not have for it;
//  3. re-inserts the shortest prefix of the desired list that makes the
//     stored order right, last rule first and a few milliseconds apart so
//     each insert gets its own created_at; the first desired rule ends up
//     newest, which is evaluated first.
//
// Where v4 cannot keep the spec's order exactly:
//
//   - A rule shadowed by an earlier rule with the same topic and action is
//     not stored, and a publish rule next to a subscribe rule of the same
//     topic and permission reads back as one "all" rule. Neither changes
//     any decision; compare with broker.RulesEquivalent, not RulesEqual.
//   - The update is not atomic: between step 2 and the end of step 3 a
//     deleted or not yet re-inserted rule is missing, so for a moment a
//     request may fall through to a later rule or the next ACL source.
//   - Order comes from created_at at millisecond resolution. A rule written
//     by someone else in the same millisecond, or clocks that differ
//     between cluster nodes, can reorder rules; the next reconcile sees the
//     difference and rewrites them.
//   - ListRules reads the flat paginated list. The broker sorts it newest
//     first within a page only and does not return created_at, so a login
//     whose rules span pages is re-read with GetRules.
//   - Across kinds the broker always evaluates clientid rules, then
//     username rules, then $all rules; nothing here can change that.
//
// # Bans
//
// v4 has no permanent ban and defaults "until" to five minutes, so a ban
// with a zero Until is sent with Until = PermanentBanUntil (2100-01-01), and
// ListBans reports any until at or beyond PermanentBanThreshold as zero.
package emqx4

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/internal/emqxapi"
)

const (
	// defaultPageSize is max_row_limit on 4.4.4+: one page keeps ACL lists,
	// which the broker sorts per page only, in order.
	defaultPageSize = 10000
	// insertGap separates ACL inserts so each gets a distinct created_at millisecond.
	insertGap = 2 * time.Millisecond
)

// Client is a broker.Client for the v4 API. It is safe for concurrent use.
type Client struct {
	t        *emqxapi.Transport
	pageSize int
	gap      time.Duration
}

var _ broker.Client = (*Client)(nil)

// New returns a client for the broker at cfg.URL. It does not contact the
// broker; call Health for that.
func New(cfg broker.Config) (*Client, error) {
	t, err := emqxapi.NewTransport(cfg, "/api/v4")
	if err != nil {
		return nil, err
	}
	return &Client{t: t, pageSize: defaultPageSize, gap: insertGap}, nil
}

// APIVersion reports v4.
func (c *Client) APIVersion() broker.APIVersion { return broker.APIv4 }

// listPages reads every page of the v4 list at path: GET with q (left
// unchanged) plus _page and _limit, until the reply's meta says the list
// has ended. decode turns one page's data into one item per entry; the
// pages come back in order, because ACL lists are sorted per page only.
func listPages[T any](ctx context.Context, c *Client, op, path string, q url.Values,
	decode func(op string, data json.RawMessage) ([]T, error)) ([][]T, error) {
	var pages [][]T
	err := emqxapi.Paginate(ctx, op, c.pageSize, func(page, limit int) (int, emqxapi.Meta, error) {
		pq := url.Values{"_page": {itoa(page)}, "_limit": {itoa(limit)}}
		for k, v := range q {
			pq[k] = v
		}
		env, err := c.call(ctx, op, http.MethodGet, path, pq, nil)
		if err != nil {
			return 0, emqxapi.Meta{}, err
		}
		items, err := decode(op, env.Data)
		if err != nil {
			return 0, emqxapi.Meta{}, err
		}
		pages = append(pages, items)
		return len(items), env.Meta, nil
	})
	if err != nil {
		return nil, err
	}
	return pages, nil
}

// listAll is listPages with the pages joined; an empty list is not nil.
func listAll[T any](ctx context.Context, c *Client, op, path string, q url.Values,
	decode func(op string, data json.RawMessage) ([]T, error)) ([]T, error) {
	pages, err := listPages(ctx, c, op, path, q, decode)
	if err != nil {
		return nil, err
	}
	out := []T{}
	for _, p := range pages {
		out = append(out, p...)
	}
	return out, nil
}

// decodeList reads a list reply's data as it is.
func decodeList[T any](op string, data json.RawMessage) ([]T, error) {
	var items []T
	err := decodeData(op, &envelope{Data: data}, &items)
	return items, err
}
