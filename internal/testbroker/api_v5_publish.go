package testbroker

import (
	"encoding/base64"
	"net/http"
)

// /publish and /publish/bulk (emqx_mgmt_api_publish in EMQX 5.8).

// maxPacketSize is EMQX's default mqtt.max_packet_size.
const maxPacketSize = 1 << 20

func init() {
	v5handle("POST", "publish", true, (*Broker).v5Publish)
	v5handle("POST", "publish/bulk", true, (*Broker).v5PublishBulk)
}

func reasonResp(status, code int, msg string) response {
	return jsonResp(status, map[string]any{"reason_code": code, "message": msg})
}

// v5ParsePublish checks the schema (400 BAD_REQUEST) and then the message
// itself (400 with a reason_code and no "code" key).
func v5ParsePublish(v any) (apiMessage, response, bool) {
	obj, ok := v.(map[string]any)
	if !ok {
		return apiMessage{}, v5SchemaErr("", "expected an object"), false
	}
	var m apiMessage
	if m.topic, ok = str(obj["topic"]); !ok {
		return m, v5SchemaErr("topic", "required_field"), false
	}
	payload, ok := str(obj["payload"])
	if !ok {
		return m, v5SchemaErr("payload", "required_field"), false
	}
	if raw, has := obj["qos"]; has {
		n, isInt := intOf(raw)
		if !isInt || n < 0 || n > 2 {
			return m, v5SchemaErr("qos", "out of range"), false
		}
		m.qos = byte(n)
	}
	if raw, has := obj["retain"]; has {
		if m.retain, ok = raw.(bool); !ok {
			return m, v5SchemaErr("retain", "bad boolean"), false
		}
	}
	enc := "plain"
	if raw, has := obj["payload_encoding"]; has {
		enc, _ = str(raw)
		if enc != "plain" && enc != "base64" {
			return m, v5SchemaErr("payload_encoding", "unable_to_convert_to_enum_symbol"), false
		}
	}
	props, err := messageProps(obj["properties"], nil)
	if err != nil {
		return m, v5SchemaErr("properties", "bad properties"), false
	}
	m.props = props
	if !validTopicName(m.topic) {
		return m, reasonResp(http.StatusBadRequest, 144, "topic_name_invalid"), false
	}
	m.payload = []byte(payload)
	if enc == "base64" {
		if m.payload, err = base64.StdEncoding.DecodeString(payload); err != nil {
			return m, reasonResp(http.StatusBadRequest, 131, "{decode_base64_payload_failed,"+err.Error()+"}"), false
		}
	}
	if len(m.payload)+len(m.topic) > maxPacketSize {
		return m, reasonResp(http.StatusBadRequest, 151, "packet_too_large"), false
	}
	return m, response{}, true
}

func (b *Broker) v5Publish(c *v5call) response {
	m, resp, ok := v5ParsePublish(c.body)
	if !ok {
		return resp
	}
	id, matched := b.apiPublish(m)
	if !matched {
		return reasonResp(http.StatusAccepted, 16, "no_matching_subscribers")
	}
	return v5JSON(http.StatusOK, map[string]any{"id": id})
}

// v5PublishBulk validates every message before publishing any.
func (b *Broker) v5PublishBulk(c *v5call) response {
	arr, resp, ok := c.array()
	if !ok {
		return resp
	}
	if len(arr) == 0 {
		return v5Internal("{errror,no_messages}") // EMQX 5.8 crashes on its own typo here
	}
	msgs := make([]apiMessage, 0, len(arr))
	for _, e := range arr {
		m, resp, ok := v5ParsePublish(e)
		if !ok {
			return resp
		}
		msgs = append(msgs, m)
	}
	status := http.StatusOK
	out := make([]map[string]any, 0, len(msgs))
	for _, m := range msgs {
		id, matched := b.apiPublish(m)
		if !matched {
			status = http.StatusAccepted
			out = append(out, map[string]any{"reason_code": 16, "message": "no_matching_subscribers"})
			continue
		}
		out = append(out, map[string]any{"id": id})
	}
	return v5JSON(status, out)
}
