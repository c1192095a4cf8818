package testbroker

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// /clients and /subscriptions (emqx_mgmt_api_clients and
// emqx_mgmt_api_subscriptions in EMQX 5.8).

func init() {
	v5handle("GET", "clients", false, (*Broker).v5ClientList)
	v5handle("POST", "clients/kickout/bulk", true, (*Broker).v5KickBulk)
	v5handle("GET", "clients/:clientid", false, (*Broker).v5ClientGet)
	v5handle("DELETE", "clients/:clientid", false, (*Broker).v5ClientKick)
	v5handle("GET", "clients/:clientid/subscriptions", false, (*Broker).v5ClientSubs)
	v5handle("POST", "clients/:clientid/subscribe", true, (*Broker).v5Subscribe)
	v5handle("POST", "clients/:clientid/subscribe/bulk", true, (*Broker).v5SubscribeBulk)
	v5handle("POST", "clients/:clientid/unsubscribe", true, (*Broker).v5Unsubscribe)
	v5handle("POST", "clients/:clientid/unsubscribe/bulk", true, (*Broker).v5UnsubscribeBulk)
	v5handle("GET", "clients/:clientid/authorization/cache", false, (*Broker).v5CacheList)
	v5handle("DELETE", "clients/:clientid/authorization/cache", false, (*Broker).v5CacheClear)
	v5handle("GET", "subscriptions", false, (*Broker).v5SubList)
}

// v5Time is EMQX 5's client timestamp: RFC 3339 with milliseconds.
func v5Time(t time.Time) string {
	return t.Local().Format("2006-01-02T15:04:05.000-07:00")
}

func clientNotFound() response {
	return v5Err(http.StatusNotFound, "CLIENTID_NOT_FOUND", "Client ID not found")
}

func (b *Broker) v5ClientJSON(ci clientInfo) map[string]any {
	m := map[string]any{
		"clientid": ci.id, "username": nullable(ci.username, ci.hasUsername), "node": nodeName,
		"connected": ci.connected, "ip_address": ci.ip, "port": ci.port, "proto_name": "MQTT",
		"proto_ver": ci.protoVer, "keepalive": ci.keepalive, "clean_start": ci.cleanStart,
		"expiry_interval": ci.expiryInterval, "is_bridge": false, "is_expired": false,
		"mountpoint": nil, "enable_authn": true, "listener": "tcp:default", "zone": "default",
		"connected_at": v5Time(ci.connectedAt), "created_at": v5Time(ci.createdAt),
		"subscriptions_cnt": ci.subscriptions, "subscriptions_max": "infinity",
		"inflight_cnt": ci.inflight, "inflight_max": 32, "mqueue_len": 0, "mqueue_max": 1000,
		"mqueue_dropped": 0, "awaiting_rel_cnt": 0, "awaiting_rel_max": 100,
		"recv_cnt": ci.recvPkt, "recv_msg": ci.recvMsg, "recv_oct": ci.recvOct, "recv_pkt": ci.recvPkt,
		"send_cnt": ci.sendPkt, "send_msg": ci.sendMsg, "send_oct": ci.sendOct, "send_pkt": ci.sendPkt,
		"recv_msg.qos0": 0, "recv_msg.qos1": 0, "recv_msg.qos2": 0, "recv_msg.dropped": 0, "recv_msg.dropped.await_pubrel_timeout": 0,
		"send_msg.qos0": 0, "send_msg.qos1": 0, "send_msg.qos2": 0, "send_msg.dropped": 0,
		"send_msg.dropped.expired": 0, "send_msg.dropped.queue_full": 0, "send_msg.dropped.too_large": 0,
		"heap_size": 4185, "reductions": 12345, "mailbox_len": 0, "durable": false,
	}
	if !ci.connected {
		m["disconnected_at"] = v5Time(ci.disconnectedAt)
	}
	return m
}

// v5Timestamp parses epoch milliseconds or RFC 3339.
func v5Timestamp(s string) (time.Time, bool) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), true
	}
	t, err := time.Parse(time.RFC3339, s)
	return t, err == nil
}

// clientFilter is one /clients query filter, already converted.
type clientFilter func(ci clientInfo) bool

func v5ClientFilters(q url.Values) ([]clientFilter, bool, response) {
	var fs []clientFilter
	bad := func(k string) response { return v5Err(http.StatusBadRequest, "INVALID_PARAMETER", "invalid "+k) }
	if ids, ok := q["clientid"]; ok {
		fs = append(fs, func(ci clientInfo) bool { return slices.Contains(ids, ci.id) })
	}
	if names, ok := q["username"]; ok {
		fs = append(fs, func(ci clientInfo) bool { return ci.hasUsername && slices.Contains(names, ci.username) })
	}
	fuzzy := false
	if v, ok := v5Fuzzy(q, "like_clientid"); ok {
		fuzzy = true
		fs = append(fs, func(ci clientInfo) bool { return strings.Contains(ci.id, v) })
	}
	if v, ok := v5Fuzzy(q, "like_username"); ok {
		fuzzy = true
		fs = append(fs, func(ci clientInfo) bool { return ci.hasUsername && strings.Contains(ci.username, v) })
	}
	if v, ok := firstQuery(q, "ip_address"); ok {
		fs = append(fs, func(ci clientInfo) bool { return ci.ip == v })
	}
	if v, ok := firstQuery(q, "conn_state"); ok {
		if v != "connected" && v != "disconnected" && v != "idle" {
			return nil, false, bad("conn_state")
		}
		fs = append(fs, func(ci clientInfo) bool { return connState4(ci) == v })
	}
	if want, has, ok := queryBool(q, "clean_start"); !ok {
		return nil, false, bad("clean_start")
	} else if has {
		fs = append(fs, func(ci clientInfo) bool { return ci.cleanStart == want })
	}
	if v, ok := firstQuery(q, "proto_ver"); ok {
		want, err := strconv.Atoi(v)
		if err != nil {
			return nil, false, bad("proto_ver")
		}
		fs = append(fs, func(ci clientInfo) bool { return ci.protoVer == want })
	}
	for _, k := range []string{"gte_created_at", "lte_created_at", "gte_connected_at", "lte_connected_at"} {
		v, ok := firstQuery(q, k)
		if !ok {
			continue
		}
		t, ok := v5Timestamp(v)
		if !ok {
			return nil, false, bad(k)
		}
		gte, created := strings.HasPrefix(k, "gte"), strings.HasSuffix(k, "created_at")
		fs = append(fs, func(ci clientInfo) bool {
			at := ci.connectedAt
			if created {
				at = ci.createdAt
			}
			if gte {
				return !at.Before(t)
			}
			return !at.After(t)
		})
	}
	return fs, fuzzy, response{}
}

func (b *Broker) v5ClientList(c *v5call) response {
	page, limit, resp, ok := v5Paging(c.query)
	if !ok {
		return resp
	}
	fs, fuzzy, errResp := v5ClientFilters(c.query)
	if errResp.status != 0 {
		return errResp
	}
	node, hasNode := firstQuery(c.query, "node")
	var rows []map[string]any
	for _, cl := range b.clientSessions() {
		if hasNode && node != nodeName {
			break
		}
		ci := b.clientSnapshot(cl)
		keep := true
		for _, f := range fs {
			keep = keep && f(ci)
		}
		if keep {
			rows = append(rows, b.v5ClientJSON(ci))
		}
	}
	return v5Page(rows, page, limit, !fuzzy)
}

func (b *Broker) v5ClientGet(c *v5call) response {
	cl, ok := b.findClient(c.vars["clientid"])
	if !ok {
		return clientNotFound()
	}
	return v5JSON(http.StatusOK, b.v5ClientJSON(b.clientSnapshot(cl)))
}

func (b *Broker) v5ClientKick(c *v5call) response {
	if !b.kick(c.vars["clientid"]) {
		return clientNotFound()
	}
	return v5NoContent()
}

func (b *Broker) v5KickBulk(c *v5call) response {
	arr, resp, ok := c.array()
	if !ok {
		return resp
	}
	ids := make([]string, 0, len(arr))
	for _, e := range arr {
		s, isStr := str(e)
		if !isStr {
			return v5SchemaErr("", "expected an array of strings")
		}
		ids = append(ids, s)
	}
	for _, id := range ids {
		b.kick(id)
	}
	return v5NoContent()
}

func v5SubJSON(s subInfo) map[string]any {
	return map[string]any{"node": nodeName, "topic": s.topic, "clientid": s.clientID, "qos": s.qos,
		"nl": s.nl, "rap": s.rap, "rh": s.rh, "durable": false}
}

func (b *Broker) v5ClientSubs(c *v5call) response {
	cl, ok := b.findClient(c.vars["clientid"])
	if !ok {
		return clientNotFound()
	}
	out := []map[string]any{}
	for _, s := range subscriptionsOf(cl) {
		out = append(out, v5SubJSON(s))
	}
	return v5JSON(http.StatusOK, out)
}

// v5SubOpts is a parsed subscribe request.
type v5SubOpts struct {
	topic       string
	qos, nl, rh int64
	rap         int64
}

func parseV5Sub(v any) (v5SubOpts, response, bool) {
	obj, ok := v.(map[string]any)
	if !ok {
		return v5SubOpts{}, v5SchemaErr("", "expected an object"), false
	}
	var o v5SubOpts
	if o.topic, ok = str(obj["topic"]); !ok {
		return o, v5SchemaErr("topic", "required_field"), false
	}
	for _, f := range []struct {
		key string
		dst *int64
		max int64
	}{{"qos", &o.qos, 2}, {"nl", &o.nl, 1}, {"rap", &o.rap, 1}, {"rh", &o.rh, 2}} {
		raw, has := obj[f.key]
		if !has {
			continue
		}
		n, isInt := intOf(raw)
		if !isInt || n < 0 || n > f.max {
			return o, v5SchemaErr(f.key, "out of range"), false
		}
		*f.dst = n
	}
	return o, response{}, true
}

func (o v5SubOpts) json(clientID string) map[string]any {
	return map[string]any{"topic": o.topic, "qos": o.qos, "nl": o.nl, "rap": o.rap, "rh": o.rh,
		"node": nodeName, "clientid": clientID}
}

// v5DoSubscribe subscribes one filter; the reason is "" on success.
func (b *Broker) v5DoSubscribe(cl *mqtt.Client, o v5SubOpts) (int, string, string) {
	if _, group := stripShare(o.topic); group != "" && o.nl == 1 {
		return http.StatusBadRequest, "INVALID_PARAMETER", "Invalid Subscribe options: `no_local` not allowed for shared-sub"
	}
	if !validTopicFilter(o.topic) {
		return http.StatusInternalServerError, "UNKNOWN_ERROR", "{topic_filter_invalid}"
	}
	b.apiSubscribe(cl, packets.Subscription{Filter: o.topic, Qos: byte(o.qos), NoLocal: o.nl == 1,
		RetainAsPublished: o.rap == 1, RetainHandling: byte(o.rh)})
	return 0, "", ""
}

func (b *Broker) v5Subscribe(c *v5call) response {
	o, resp, ok := parseV5Sub(c.body)
	if !ok {
		return resp
	}
	cl, ok := b.connectedClient(c.vars["clientid"])
	if !ok {
		return clientNotFound()
	}
	if status, code, msg := b.v5DoSubscribe(cl, o); status != 0 {
		return v5Err(status, code, msg)
	}
	return v5JSON(http.StatusOK, o.json(cl.ID))
}

func (b *Broker) v5SubscribeBulk(c *v5call) response {
	arr, resp, ok := c.array()
	if !ok {
		return resp
	}
	opts := make([]v5SubOpts, 0, len(arr))
	for _, e := range arr {
		o, resp, ok := parseV5Sub(e)
		if !ok {
			return resp
		}
		opts = append(opts, o)
	}
	cl, ok := b.connectedClient(c.vars["clientid"])
	if !ok {
		return clientNotFound()
	}
	succeed := []map[string]any{}
	failed := []map[string]any{}
	for _, o := range opts {
		if status, _, msg := b.v5DoSubscribe(cl, o); status != 0 {
			failed = append(failed, map[string]any{
				"data":   []any{cl.ID, o.topic, map[string]any{"qos": o.qos, "nl": o.nl, "rap": o.rap, "rh": o.rh}},
				"reason": msg,
			})
			continue
		}
		succeed = append(succeed, o.json(cl.ID))
	}
	if len(failed) > 0 {
		return v5JSON(http.StatusOK, map[string]any{"succeed": succeed, "failed": failed})
	}
	return v5JSON(http.StatusOK, succeed)
}

func parseV5Topic(v any) (string, response, bool) {
	obj, ok := v.(map[string]any)
	if !ok {
		return "", v5SchemaErr("", "expected an object"), false
	}
	t, ok := str(obj["topic"])
	if !ok {
		return "", v5SchemaErr("topic", "required_field"), false
	}
	return t, response{}, true
}

func (b *Broker) v5Unsubscribe(c *v5call) response {
	topic, resp, ok := parseV5Topic(c.body)
	if !ok {
		return resp
	}
	cl, ok := b.connectedClient(c.vars["clientid"])
	if !ok {
		return clientNotFound()
	}
	b.apiUnsubscribe(cl, topic)
	return v5NoContent()
}

func (b *Broker) v5UnsubscribeBulk(c *v5call) response {
	arr, resp, ok := c.array()
	if !ok {
		return resp
	}
	topics := make([]string, 0, len(arr))
	for _, e := range arr {
		t, resp, ok := parseV5Topic(e)
		if !ok {
			return resp
		}
		topics = append(topics, t)
	}
	cl, ok := b.connectedClient(c.vars["clientid"])
	if !ok {
		return clientNotFound()
	}
	for _, t := range topics {
		b.apiUnsubscribe(cl, t)
	}
	return v5NoContent()
}

func (b *Broker) v5CacheList(c *v5call) response {
	cl, ok := b.connectedClient(c.vars["clientid"])
	if !ok {
		return clientNotFound()
	}
	out := []map[string]any{}
	if st := b.sessions.get(cl); st != nil {
		for _, it := range st.cacheItems(b.now(), b.opts.AuthzCacheTTL) {
			result := "deny"
			if it.entry.allow {
				result = "allow"
			}
			out = append(out, map[string]any{
				"access":       map[string]any{"action_type": it.key.action, "qos": it.key.qos, "retain": it.key.retain},
				"topic":        it.key.topic,
				"result":       result,
				"updated_time": it.entry.at.UnixMilli(),
			})
		}
	}
	return v5JSON(http.StatusOK, out)
}

func (b *Broker) v5CacheClear(c *v5call) response {
	if !b.clearAuthzCache(c.vars["clientid"]) {
		return clientNotFound()
	}
	return v5NoContent()
}

func (b *Broker) v5SubList(c *v5call) response {
	page, limit, resp, ok := v5Paging(c.query)
	if !ok {
		return resp
	}
	get := func(k string) (string, bool) { return firstQuery(c.query, k) }
	node, hasNode := get("node")
	if hasNode && node != nodeName {
		return v5Err(http.StatusInternalServerError, "NODE_DOWN", "Node "+node+" is down")
	}
	clientid, hasClient := get("clientid")
	topic, hasTopic := get("topic")
	group, hasGroup := get("share_group")
	if match, has := get("match_topic"); has && (strings.HasPrefix(match, "$share/") || !validTopicFilter(match)) {
		return v5Err(http.StatusBadRequest, "INVALID_PARAMETER", "match_topic_invalid")
	}
	match, hasMatch := v5Fuzzy(c.query, "match_topic")
	var qos int
	qosS, hasQoS := get("qos")
	if hasQoS {
		n, err := strconv.Atoi(qosS)
		if err != nil || n < 0 || n > 2 {
			return v5SchemaErr("qos", "out of range")
		}
		qos = n
	}
	var rows []map[string]any
	for _, s := range b.allSubscriptions() {
		bare, g := stripShare(s.topic)
		if hasClient && s.clientID != clientid || hasTopic && s.topic != topic ||
			hasGroup && g != group || hasQoS && int(s.qos) != qos ||
			hasMatch && !topicMatch(bare, match) {
			continue
		}
		rows = append(rows, v5SubJSON(s))
	}
	return v5Page(rows, page, limit, !hasMatch)
}
