package emqx5

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"unicode/utf8"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/internal/emqxapi"
)

type wireSubscription struct {
	Node     string      `json:"node"`
	ClientID string      `json:"clientid"`
	Topic    string      `json:"topic"`
	QoS      emqxapi.Int `json:"qos"`
}

// ListSubscriptions reads every page of the subscription list, filtered by
// client when clientID is set (an offline client then simply has none).
func (c *Client) ListSubscriptions(ctx context.Context, clientID string) ([]broker.Subscription, error) {
	q := url.Values{}
	if clientID != "" {
		q.Set("clientid", clientID)
	}
	ws, err := list[wireSubscription](ctx, c, "ListSubscriptions", emqxapi.Path("subscriptions"), q)
	if err != nil {
		return nil, err
	}
	out := make([]broker.Subscription, 0, len(ws))
	for _, w := range ws {
		out = append(out, broker.Subscription{ClientID: w.ClientID, Topic: w.Topic, QoS: int(w.QoS.V), Node: w.Node})
	}
	return out, nil
}

func publishBody(m broker.Message) map[string]any {
	body := map[string]any{"topic": m.Topic, "qos": m.QoS, "retain": m.Retain, "payload": string(m.Payload), "payload_encoding": "plain"}
	if !utf8.Valid(m.Payload) {
		body["payload"] = base64.StdEncoding.EncodeToString(m.Payload)
		body["payload_encoding"] = "base64"
	}
	return body
}

// publishReply is one message's outcome: an id, or a reason code.
type publishReply struct {
	ID         string          `json:"id"`
	ReasonCode *int64          `json:"reason_code"`
	Message    json.RawMessage `json:"message"`
}

// result turns one reply into a PublishResult. Reason code 16 means nobody
// was subscribed, which is not a failure; 131 inside a 503 is a dispatch
// failure and worth retrying.
func (r publishReply) result(op string, status int) broker.PublishResult {
	if r.ReasonCode == nil {
		return broker.PublishResult{ID: r.ID}
	}
	rc := int(*r.ReasonCode)
	if rc == broker.ReasonNoMatchingSubscribers {
		return broker.PublishResult{ID: r.ID, NoSubscribers: true}
	}
	class := broker.ReasonCodeClass(rc)
	if status >= 500 {
		class = broker.ClassTransient
	}
	return broker.PublishResult{ID: r.ID, Err: &broker.Error{
		Op: op, Class: class, Code: broker.ReasonCode(rc), HTTPStatus: status, Message: emqxapi.MessageText(r.Message),
	}}
}

// Publish sends one message: 200 delivered, 202 nobody subscribed
// (NoSubscribers, not an error), 400 with reason code 144 for a bad topic.
func (c *Client) Publish(ctx context.Context, m broker.Message) (broker.PublishResult, error) {
	const op = "Publish"
	var r publishReply
	status, err := c.call(ctx, op, http.MethodPost, emqxapi.Path("publish"), nil, publishBody(m), &r)
	if err != nil {
		return broker.PublishResult{}, err
	}
	res := r.result(op, status)
	if status == http.StatusAccepted {
		res.NoSubscribers = true
	}
	return res, res.Err
}

// PublishBatch publishes all messages in one request. The broker validates
// every message first and rejects the whole batch (an error, nothing
// published) if one is invalid; otherwise each message gets its own result,
// including on 503 when some could not be dispatched.
func (c *Client) PublishBatch(ctx context.Context, ms []broker.Message) ([]broker.PublishResult, error) {
	const op = "PublishBatch"
	if len(ms) == 0 {
		return nil, nil // the broker fails on an empty batch
	}
	body := make([]map[string]any, len(ms))
	for i, m := range ms {
		body[i] = publishBody(m)
	}
	var replies []publishReply
	perItem := func(status int, b []byte) bool {
		t := bytes.TrimSpace(b)
		return status == http.StatusServiceUnavailable && len(t) > 0 && t[0] == '['
	}
	status, err := c.callAccept(ctx, op, http.MethodPost, emqxapi.Path("publish", "bulk"), nil, body, &replies, perItem)
	if err != nil {
		return nil, err
	}
	out := make([]broker.PublishResult, len(ms))
	for i := range out {
		if i >= len(replies) {
			out[i].Err = &broker.Error{Op: op, Class: broker.ClassTransient, HTTPStatus: status, Message: "broker reported no result for this message"}
			continue
		}
		out[i] = replies[i].result(op, status)
	}
	return out, nil
}

// Subscribe asks a connected client's session to subscribe; an offline
// client is ClassNotFound. The broker applies it asynchronously.
func (c *Client) Subscribe(ctx context.Context, r broker.SubscribeRequest) error {
	const op = "Subscribe"
	if r.ClientID == "" {
		return invalid(op, "client id must not be empty")
	}
	body := map[string]any{"topic": r.Topic, "qos": r.QoS}
	_, err := c.call(ctx, op, http.MethodPost, emqxapi.Path("clients", r.ClientID, "subscribe"), nil, body, nil)
	return err
}

// Unsubscribe removes a subscription of a connected client.
func (c *Client) Unsubscribe(ctx context.Context, clientID, topic string) error {
	const op = "Unsubscribe"
	if clientID == "" {
		return invalid(op, "client id must not be empty")
	}
	_, err := c.call(ctx, op, http.MethodPost, emqxapi.Path("clients", clientID, "unsubscribe"), nil, map[string]any{"topic": topic}, nil)
	return err
}

// group is the requests of one client within a batch, with their positions.
type group struct {
	clientID string
	index    []int
}

func groupByClient(rs []broker.SubscribeRequest) []group {
	var gs []group
	pos := map[string]int{}
	for i, r := range rs {
		g, ok := pos[r.ClientID]
		if !ok {
			g = len(gs)
			pos[r.ClientID] = g
			gs = append(gs, group{clientID: r.ClientID})
		}
		gs[g].index = append(gs[g].index, i)
	}
	return gs
}

// perClient reports whether a failure concerns only that client's requests
// (it is offline, or they were refused), so the rest of the batch goes on.
func perClient(err error) bool {
	c := broker.ClassOf(err)
	return c == broker.ClassNotFound || c == broker.ClassRejected
}

// SubscribeBatch sends one /subscribe/bulk per client (v5 batches are per
// client) and returns results in request order.
func (c *Client) SubscribeBatch(ctx context.Context, rs []broker.SubscribeRequest) ([]error, error) {
	const op = "SubscribeBatch"
	if len(rs) == 0 {
		return nil, nil
	}
	return c.perClientBatch(op, rs, func(g group) (map[int]error, error) {
		body := make([]map[string]any, len(g.index))
		for j, i := range g.index {
			body[j] = map[string]any{"topic": rs[i].Topic, "qos": rs[i].QoS}
		}
		var reply json.RawMessage
		if _, err := c.call(ctx, op, http.MethodPost, emqxapi.Path("clients", g.clientID, "subscribe", "bulk"), nil, body, &reply); err != nil {
			return nil, err
		}
		return bulkFailures(op, rs, g.index, reply), nil
	})
}

// bulkFailures reads a /subscribe/bulk reply. All-success is a list; any
// failure turns it into {"succeed":[…],"failed":[{"data":[clientid,topic,opts],"reason":…}]}.
// Failures are matched to requests by topic.
func bulkFailures(op string, rs []broker.SubscribeRequest, index []int, reply json.RawMessage) map[int]error {
	var mixed struct {
		Failed []struct {
			Data   []json.RawMessage `json:"data"`
			Reason json.RawMessage   `json:"reason"`
		} `json:"failed"`
	}
	t := bytes.TrimSpace(reply)
	if len(t) == 0 || t[0] != '{' || json.Unmarshal(t, &mixed) != nil {
		return nil
	}
	out := map[int]error{}
	for _, f := range mixed.Failed {
		var topic string
		if len(f.Data) > 1 {
			_ = json.Unmarshal(f.Data[1], &topic)
		}
		for _, i := range index {
			if _, done := out[i]; done || rs[i].Topic != topic {
				continue
			}
			out[i] = &broker.Error{Op: op, Class: broker.ClassRejected, HTTPStatus: http.StatusOK, Message: "subscribe failed: " + emqxapi.MessageText(f.Reason)}
			break
		}
	}
	return out
}

// UnsubscribeBatch sends one /unsubscribe/bulk per client and returns
// results in request order.
func (c *Client) UnsubscribeBatch(ctx context.Context, rs []broker.SubscribeRequest) ([]error, error) {
	const op = "UnsubscribeBatch"
	if len(rs) == 0 {
		return nil, nil
	}
	return c.perClientBatch(op, rs, func(g group) (map[int]error, error) {
		body := make([]map[string]string, len(g.index))
		for j, i := range g.index {
			body[j] = map[string]string{"topic": rs[i].Topic}
		}
		_, err := c.call(ctx, op, http.MethodPost, emqxapi.Path("clients", g.clientID, "unsubscribe", "bulk"), nil, body, nil)
		return nil, err
	})
}

// perClientBatch runs send once per client of rs (v5 batches are per
// client) and returns one result per request, in request order. A client
// the broker refuses fails only its own requests; any other failure fails
// the whole batch.
func (c *Client) perClientBatch(op string, rs []broker.SubscribeRequest, send func(group) (map[int]error, error)) ([]error, error) {
	out := make([]error, len(rs))
	for _, g := range groupByClient(rs) {
		if g.clientID == "" {
			for _, i := range g.index {
				out[i] = invalid(op, "client id must not be empty")
			}
			continue
		}
		failures, err := send(g)
		if err != nil {
			if !perClient(err) {
				return nil, err
			}
			for _, i := range g.index {
				out[i] = err
			}
			continue
		}
		for i, e := range failures {
			out[i] = e
		}
	}
	return out, nil
}
