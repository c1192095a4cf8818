package emqx4

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
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

func decodeSubscriptions(op string, data json.RawMessage) ([]broker.Subscription, error) {
	var ws []wireSubscription
	if err := decodeData(op, &envelope{Data: data}, &ws); err != nil {
		return nil, err
	}
	out := make([]broker.Subscription, 0, len(ws))
	for _, w := range ws {
		out = append(out, broker.Subscription{ClientID: w.ClientID, Topic: w.Topic, QoS: int(w.QoS.V), Node: w.Node})
	}
	return out, nil
}

// ListSubscriptions lists one client's subscriptions (an unknown client has
// none), or every page of the cluster's when clientID is "".
func (c *Client) ListSubscriptions(ctx context.Context, clientID string) ([]broker.Subscription, error) {
	const op = "ListSubscriptions"
	if clientID != "" {
		env, err := c.call(ctx, op, http.MethodGet, emqxapi.Path("subscriptions", clientID), nil, nil)
		if err != nil {
			return nil, err
		}
		return decodeSubscriptions(op, env.Data)
	}
	return listAll(ctx, c, op, emqxapi.Path("subscriptions"), nil, decodeSubscriptions)
}

// publishBody is one message; text payloads go as is, anything else as base64.
func publishBody(m broker.Message, withReturn bool) map[string]any {
	body := map[string]any{"topic": m.Topic, "qos": m.QoS, "retain": m.Retain, "payload": string(m.Payload), "encoding": "plain"}
	if !utf8.Valid(m.Payload) {
		body["payload"] = base64.StdEncoding.EncodeToString(m.Payload)
		body["encoding"] = "base64"
	}
	if withReturn {
		body["return"] = true // ask for the message id
	}
	return body
}

// Publish sends one message. v4 cannot tell whether anyone received it, so
// NoSubscribers is always false; an invalid topic is code 115 (Rejected).
func (c *Client) Publish(ctx context.Context, m broker.Message) (broker.PublishResult, error) {
	const op = "Publish"
	env, err := c.call(ctx, op, http.MethodPost, emqxapi.Path("mqtt", "publish"), nil, publishBody(m, true))
	if err != nil {
		return broker.PublishResult{}, err
	}
	var data struct {
		MsgID string `json:"msgid"`
	}
	_ = json.Unmarshal(env.Data, &data) // the id is a nicety; older brokers omit it
	return broker.PublishResult{ID: data.MsgID}, nil
}

// itemResult is one entry of a batch reply.
type itemResult struct {
	Code    *int64          `json:"code"`
	Message json.RawMessage `json:"message"`
}

// itemErrors turns per-item codes into per-item errors; a reply shorter
// than the request leaves the rest with an error, since their fate is unknown.
func itemErrors(op string, n int, data json.RawMessage) ([]error, error) {
	var items []itemResult
	if err := decodeData(op, &envelope{Data: data}, &items); err != nil {
		return nil, err
	}
	out := make([]error, n)
	for i := range out {
		if i >= len(items) {
			out[i] = &broker.Error{Op: op, Class: broker.ClassTransient, HTTPStatus: http.StatusOK, Message: "broker reported no result for this item"}
			continue
		}
		it := items[i]
		if it.Code == nil || *it.Code == broker.V4Success {
			continue
		}
		code := strconv.FormatInt(*it.Code, 10)
		out[i] = &broker.Error{Op: op, Class: broker.CodeClass(code), Code: code, HTTPStatus: http.StatusOK, Message: emqxapi.MessageText(it.Message)}
	}
	return out, nil
}

// PublishBatch publishes every message in one request; the broker answers
// per message, in request order, without ids.
func (c *Client) PublishBatch(ctx context.Context, ms []broker.Message) ([]broker.PublishResult, error) {
	const op = "PublishBatch"
	if len(ms) == 0 {
		return nil, nil // the broker crashes on an empty batch
	}
	body := make([]map[string]any, len(ms))
	for i, m := range ms {
		body[i] = publishBody(m, false)
	}
	env, err := c.call(ctx, op, http.MethodPost, emqxapi.Path("mqtt", "publish_batch"), nil, body)
	if err != nil {
		return nil, err
	}
	errs, err := itemErrors(op, len(ms), env.Data)
	if err != nil {
		return nil, err
	}
	out := make([]broker.PublishResult, len(ms))
	for i := range out {
		out[i].Err = errs[i]
	}
	return out, nil
}

// Subscribe asks a connected client's session to subscribe; an offline
// client is code 112 (ClassNotFound). The broker applies it asynchronously.
func (c *Client) Subscribe(ctx context.Context, r broker.SubscribeRequest) error {
	body := map[string]any{"clientid": r.ClientID, "topic": r.Topic, "qos": r.QoS}
	_, err := c.call(ctx, "Subscribe", http.MethodPost, emqxapi.Path("mqtt", "subscribe"), nil, body)
	return err
}

// Unsubscribe removes a subscription of a connected client.
func (c *Client) Unsubscribe(ctx context.Context, clientID, topic string) error {
	body := map[string]any{"clientid": clientID, "topic": topic}
	_, err := c.call(ctx, "Unsubscribe", http.MethodPost, emqxapi.Path("mqtt", "unsubscribe"), nil, body)
	return err
}

// SubscribeBatch subscribes many clients in one request.
func (c *Client) SubscribeBatch(ctx context.Context, rs []broker.SubscribeRequest) ([]error, error) {
	body := make([]map[string]any, len(rs))
	for i, r := range rs {
		body[i] = map[string]any{"clientid": r.ClientID, "topic": r.Topic, "qos": r.QoS}
	}
	return c.batch(ctx, "SubscribeBatch", "subscribe_batch", body)
}

// UnsubscribeBatch unsubscribes many clients in one request.
func (c *Client) UnsubscribeBatch(ctx context.Context, rs []broker.SubscribeRequest) ([]error, error) {
	body := make([]map[string]any, len(rs))
	for i, r := range rs {
		body[i] = map[string]any{"clientid": r.ClientID, "topic": r.Topic}
	}
	return c.batch(ctx, "UnsubscribeBatch", "unsubscribe_batch", body)
}

func (c *Client) batch(ctx context.Context, op, route string, body []map[string]any) ([]error, error) {
	if len(body) == 0 {
		return nil, nil
	}
	env, err := c.call(ctx, op, http.MethodPost, emqxapi.Path("mqtt", route), nil, body)
	if err != nil {
		return nil, err
	}
	return itemErrors(op, len(body), env.Data)
}
