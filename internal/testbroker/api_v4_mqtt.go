package testbroker

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// /mqtt/* (emqx_mgmt_api_pubsub in EMQX 4.4): publish, subscribe and
// unsubscribe on behalf of clients.

func init() {
	v4handle("POST", "mqtt/publish", "Publish a message", (*Broker).v4Publish)
	v4handle("POST", "mqtt/publish_batch", "Publish messages", (*Broker).v4PublishBatch)
	v4handle("POST", "mqtt/subscribe", "Subscribe a client", (*Broker).v4Subscribe)
	v4handle("POST", "mqtt/subscribe_batch", "Subscribe clients", (*Broker).v4SubscribeBatch)
	v4handle("POST", "mqtt/unsubscribe", "Unsubscribe a client", (*Broker).v4Unsubscribe)
	v4handle("POST", "mqtt/unsubscribe_batch", "Unsubscribe clients", (*Broker).v4UnsubscribeBatch)
}

var errBadParams = errors.New("bad_params")

// apiMessage is a message published through a management API.
type apiMessage struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
	props   packets.Properties
}

// newMsgID returns an EMQX-style message id: 16 random bytes in upper hex.
func newMsgID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}

// apiPublish routes a message through mochi's inline client, which skips
// authorization like EMQX's HTTP publish. It reports whether any subscriber
// matched.
func (b *Broker) apiPublish(m apiMessage) (string, bool) {
	matched := b.hasSubscribers(m.topic)
	inline, ok := b.mqtt.Clients.Get(mqtt.InlineClientId)
	if !ok {
		return newMsgID(), false
	}
	qos := min(m.qos, 2)
	err := b.mqtt.InjectPacket(inline, packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos, Retain: m.retain},
		TopicName:   m.topic,
		Payload:     m.payload,
		Properties:  m.props,
		PacketID:    uint16(qos), // mochi validates an id for QoS > 0 and never acks it
	})
	if err != nil {
		b.log.Debug("api publish", "topic", m.topic, "error", err)
	}
	return newMsgID(), matched
}

// v4Publication is a parsed /mqtt/publish item.
type v4Publication struct {
	clientOK bool
	topics   []string
	msg      apiMessage
}

// payloadText accepts a string or re-encodes a JSON object as text.
func payloadText(v any) ([]byte, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []byte(t), nil
	case map[string]any:
		return json.Marshal(t)
	}
	return nil, errBadParams
}

var v4PropNames = map[string]bool{
	"payload_format_indicator": true, "message_expiry_interval": true, "response_topic": true,
	"correlation_data": true, "user_properties": true, "subscription_identifier": true, "content_type": true,
}

// messageProps converts the properties object shared by both API versions.
func messageProps(v any, legacyUser any) (packets.Properties, error) {
	var props packets.Properties
	addUser := func(u any) error {
		obj, ok := u.(map[string]any)
		if !ok {
			return errBadParams
		}
		for k, val := range obj {
			s, ok := str(val)
			if !ok {
				return errBadParams
			}
			props.User = append(props.User, packets.UserProperty{Key: k, Val: s})
		}
		return nil
	}
	if v != nil {
		obj, ok := v.(map[string]any)
		if !ok {
			return props, errBadParams
		}
		for k, val := range obj {
			if !v4PropNames[k] {
				return props, errBadParams
			}
			switch k {
			case "payload_format_indicator":
				n, ok := intOf(val)
				if !ok {
					return props, errBadParams
				}
				props.PayloadFormat, props.PayloadFormatFlag = byte(n), true
			case "message_expiry_interval":
				n, ok := intOf(val)
				if !ok {
					return props, errBadParams
				}
				props.MessageExpiryInterval = uint32(n)
			case "response_topic", "content_type", "correlation_data":
				s, ok := str(val)
				if !ok {
					return props, errBadParams
				}
				switch k {
				case "response_topic":
					props.ResponseTopic = s
				case "content_type":
					props.ContentType = s
				default:
					props.CorrelationData = []byte(s)
				}
			case "user_properties":
				if err := addUser(val); err != nil {
					return props, err
				}
			}
		}
	}
	if legacyUser != nil {
		if err := addUser(legacyUser); err != nil {
			return props, err
		}
	}
	return props, nil
}

func (b *Broker) v4ParsePublish(p map[string]any) (v4Publication, error) {
	var pub v4Publication
	if v, ok := p["clientid"]; ok {
		_, pub.clientOK = str(v)
	} else {
		pub.clientOK = true
	}
	var names []string
	if v, ok := p["topic"]; ok {
		s, isStr := str(v)
		if !isStr {
			return pub, errBadParams
		}
		names = append(names, s)
	}
	if v, ok := p["topics"]; ok {
		s, isStr := str(v)
		if !isStr {
			return pub, errBadParams
		}
		names = append(names, strings.Split(s, ",")...)
	}
	for _, n := range names {
		if validTopicName(n) {
			pub.topics = append(pub.topics, n) // invalid names are dropped silently
		}
	}
	payload, err := payloadText(p["payload"])
	if err != nil {
		return pub, err
	}
	if enc, _ := str(p["encoding"]); enc == "base64" {
		payload, err = base64.StdEncoding.DecodeString(string(payload))
		if err != nil {
			return pub, errBadParams
		}
	}
	pub.msg.payload = payload
	if v, ok := p["qos"]; ok {
		n, isInt := intOf(v)
		if !isInt || n < 0 {
			return pub, errBadParams
		}
		pub.msg.qos = byte(min(n, 2)) // not validated by EMQX 4; clamped for the MQTT layer
	}
	if v, ok := p["retain"]; ok {
		pub.msg.retain = v == true
	}
	pub.msg.props, err = messageProps(p["properties"], p["user_properties"])
	if err != nil {
		return pub, err
	}
	return pub, nil
}

// v4DoPublish returns the result code and message ids.
func (b *Broker) v4DoPublish(pub v4Publication) (int, string, []string) {
	if !pub.clientOK {
		return 108, "bad clientid: must be string", nil
	}
	if len(pub.topics) == 0 {
		return 115, "bad_topic", nil
	}
	var ids []string
	for _, t := range pub.topics {
		m := pub.msg
		m.topic = t
		id, _ := b.apiPublish(m)
		ids = append(ids, id)
	}
	return 0, "", ids
}

func (b *Broker) v4Publish(c *v4call) response {
	pub, err := b.v4ParsePublish(c.params)
	if err != nil {
		return v4Err(108, "bad_params")
	}
	code, msg, ids := b.v4DoPublish(pub)
	if code != 0 {
		return v4Err(code, msg)
	}
	if _, ok := c.params["return"]; !ok {
		return v4OK()
	}
	if _, ok := c.params["topics"]; ok {
		return v4Data(map[string]any{"msgids": ids})
	}
	return v4Data(map[string]any{"msgid": ids[len(ids)-1]})
}

func (b *Broker) v4PublishBatch(c *v4call) response {
	if !c.list {
		return v4Internal()
	}
	out := make([]map[string]any, 0, len(c.items))
	for _, it := range c.items {
		obj, ok := it.(map[string]any)
		if !ok {
			out = append(out, map[string]any{"code": 108, "message": "bad_params"})
			continue
		}
		pub, err := b.v4ParsePublish(obj)
		if err != nil {
			out = append(out, map[string]any{"code": 108, "message": "bad_params"})
			continue
		}
		code, _, _ := b.v4DoPublish(pub)
		topic, has := obj["topic"]
		if !has {
			topic = obj["topics"]
		}
		out = append(out, map[string]any{"topic": jsonish(topic), "code": code})
	}
	return v4Data(out)
}

// v4SubscribeOne implements one /mqtt/subscribe item and returns its code.
func (b *Broker) v4SubscribeOne(p map[string]any) (int, string) {
	clientID, ok := str(p["clientid"])
	if !ok {
		return 108, "bad clientid: must be string"
	}
	var filters []string
	if s, ok := str(p["topic"]); ok {
		filters = append(filters, s)
	}
	if s, ok := str(p["topics"]); ok {
		filters = append(filters, strings.Split(s, ",")...)
	}
	var valid []string
	for _, f := range filters {
		if validTopicFilter(f) {
			valid = append(valid, f)
		}
	}
	if len(valid) == 0 {
		return 115, "bad_topic"
	}
	var qos int64
	if v, ok := p["qos"]; ok {
		n, isInt := intOf(v)
		if !isInt || n < 0 || n > 2 {
			return 116, "bad_qos"
		}
		qos = n
	}
	cl, ok := b.connectedClient(clientID)
	if !ok {
		return 112, "channel_not_found"
	}
	for _, f := range valid {
		b.apiSubscribe(cl, packets.Subscription{Filter: f, Qos: byte(qos)})
	}
	return 0, ""
}

func (b *Broker) v4UnsubscribeOne(p map[string]any) (int, string) {
	clientID, ok := str(p["clientid"])
	if !ok {
		return 108, "bad clientid: must be string"
	}
	topic, ok := str(p["topic"])
	if !ok || !validTopicFilter(topic) {
		return 115, "bad_topic"
	}
	cl, ok := b.connectedClient(clientID)
	if !ok {
		return 112, "channel_not_found"
	}
	b.apiUnsubscribe(cl, topic)
	return 0, ""
}

func v4CodeReply(code int, msg string) response {
	if code == 0 {
		return v4OK()
	}
	return v4Err(code, msg)
}

func (b *Broker) v4Subscribe(c *v4call) response {
	return v4CodeReply(b.v4SubscribeOne(c.params))
}

func (b *Broker) v4Unsubscribe(c *v4call) response {
	return v4CodeReply(b.v4UnsubscribeOne(c.params))
}

func (b *Broker) v4BatchPerClient(c *v4call, one func(map[string]any) (int, string)) response {
	if !c.list {
		return v4Internal()
	}
	out := make([]map[string]any, 0, len(c.items))
	for _, it := range c.items {
		obj, ok := it.(map[string]any)
		if !ok {
			return v4Internal()
		}
		code, _ := one(obj)
		topic, has := obj["topic"]
		if !has {
			topic = obj["topics"]
		}
		out = append(out, map[string]any{"clientid": jsonish(obj["clientid"]), "topic": jsonish(topic), "code": code})
	}
	return v4Data(out)
}

func (b *Broker) v4SubscribeBatch(c *v4call) response {
	return b.v4BatchPerClient(c, b.v4SubscribeOne)
}

func (b *Broker) v4UnsubscribeBatch(c *v4call) response {
	return b.v4BatchPerClient(c, b.v4UnsubscribeOne)
}
