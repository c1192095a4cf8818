package testbroker

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// /clients and /subscriptions (emqx_mgmt_api_clients and
// emqx_mgmt_api_subscriptions in EMQX 4.4).

func init() {
	v4handle("GET", "clients", "List clients", (*Broker).v4ClientList)
	v4handle("GET", "clients/username/:username", "Lookup clients by username", (*Broker).v4ClientsByUsername)
	v4handle("GET", "clients/:clientid", "Lookup a client", (*Broker).v4ClientGet)
	v4handle("DELETE", "clients/:clientid", "Kick out a client", (*Broker).v4ClientKick)
	v4handle("GET", "clients/:clientid/acl_cache", "List a client's ACL cache", (*Broker).v4ACLCacheList)
	v4handle("DELETE", "clients/:clientid/acl_cache", "Clear a client's ACL cache", (*Broker).v4ACLCacheClear)
	v4handle("GET", "subscriptions", "List subscriptions", (*Broker).v4SubList)
	v4handle("GET", "subscriptions/:clientid", "List a client's subscriptions", (*Broker).v4SubsOfClient)

	v4handle("GET", "nodes/:node/clients", "List clients on a node", onNode((*Broker).v4ClientList))
	v4handle("GET", "nodes/:node/clients/username/:username", "Lookup clients by username on a node", onNode((*Broker).v4ClientsByUsername))
	v4handle("GET", "nodes/:node/clients/:clientid", "Lookup a client on a node", onNode((*Broker).v4ClientGet))
	v4handle("GET", "nodes/:node/subscriptions", "List subscriptions on a node", onNode((*Broker).v4SubList))
	v4handle("GET", "nodes/:node/subscriptions/:clientid", "List a client's subscriptions on a node", onNode((*Broker).v4SubsOfClient))
}

// onNode makes a cluster handler node-scoped. The node path variable is an
// existing atom in EMQX; any other name fails to parse and gets 404.
func onNode(h func(*Broker, *v4call) response) func(*Broker, *v4call) response {
	return func(b *Broker, c *v4call) response {
		if c.vars["node"] != nodeName {
			return v4NotFound()
		}
		return h(b, c)
	}
}

// v4Time is EMQX 4's client timestamp format, in the node's local time.
func v4Time(t time.Time) string {
	return t.Local().Format("2006-01-02 15:04:05")
}

func nullable(s string, ok bool) any {
	if !ok {
		return nil
	}
	return s
}

func (b *Broker) v4ClientJSON(ci clientInfo) map[string]any {
	m := map[string]any{
		"node": nodeName, "clientid": ci.id, "username": nullable(ci.username, ci.hasUsername),
		"proto_name": "MQTT", "proto_ver": ci.protoVer, "ip_address": ci.ip, "port": ci.port,
		"is_bridge": false, "zone": "external", "mountpoint": nil, "clean_start": ci.cleanStart,
		"keepalive": ci.keepalive, "expiry_interval": ci.expiryInterval, "connected": ci.connected,
		"connected_at": v4Time(ci.connectedAt), "created_at": v4Time(ci.createdAt),
		"subscriptions_cnt": ci.subscriptions, "max_subscriptions": 0,
		"inflight": ci.inflight, "max_inflight": 32, "awaiting_rel": 0, "max_awaiting_rel": 100,
		"mqueue_len": 0, "max_mqueue": 1000, "mqueue_dropped": 0,
		"heap_size": 4185, "reductions": 12345, "mailbox_len": 0,
		"recv_cnt": ci.recvPkt, "recv_msg": ci.recvMsg, "recv_oct": ci.recvOct, "recv_pkt": ci.recvPkt,
		"send_cnt": ci.sendPkt, "send_msg": ci.sendMsg, "send_oct": ci.sendOct, "send_pkt": ci.sendPkt,
		"recv_msg.qos0": 0, "recv_msg.qos1": 0, "recv_msg.qos2": 0, "recv_msg.dropped": 0, "recv_msg.dropped.expired": 0,
		"send_msg.qos0": 0, "send_msg.qos1": 0, "send_msg.qos2": 0, "send_msg.dropped": 0, "send_msg.dropped.expired": 0,
	}
	if !ci.connected {
		m["disconnected_at"] = v4Time(ci.disconnectedAt)
	}
	return m
}

func connState4(ci clientInfo) string {
	if ci.connected {
		return "connected"
	}
	return "disconnected"
}

// clientFilter is one query filter over clients, already converted.
type clientFilter func(ci clientInfo) bool

// v4ClientFilters converts the /clients query filters. A value that cannot be
// converted is reported with EMQX's code 108 message.
func v4ClientFilters(q url.Values) ([]clientFilter, bool, response) {
	var fs []clientFilter
	get := func(k string) (string, bool) { return firstQuery(q, k) }
	convErr := func(v, typ string) response {
		return v4Err(108, "Can't convert "+v+" to "+typ+" type")
	}
	if v, ok := get("clientid"); ok {
		fs = append(fs, func(ci clientInfo) bool { return ci.id == v })
	}
	if v, ok := get("username"); ok {
		fs = append(fs, func(ci clientInfo) bool { return ci.hasUsername && ci.username == v })
	}
	if v, ok := get("_like_clientid"); ok {
		fs = append(fs, func(ci clientInfo) bool { return strings.Contains(ci.id, v) })
	}
	if v, ok := get("_like_username"); ok {
		fs = append(fs, func(ci clientInfo) bool { return ci.hasUsername && strings.Contains(ci.username, v) })
	}
	if v, ok := get("ip_address"); ok {
		fs = append(fs, func(ci clientInfo) bool { return ci.ip == v })
	}
	if v, ok := get("zone"); ok {
		fs = append(fs, func(clientInfo) bool { return v == "external" })
	}
	if v, ok := get("proto_name"); ok {
		fs = append(fs, func(clientInfo) bool { return v == "MQTT" })
	}
	if v, ok := get("conn_state"); ok {
		fs = append(fs, func(ci clientInfo) bool { return connState4(ci) == v })
	}
	if v, ok := get("clean_start"); ok {
		want, err := strconv.ParseBool(v)
		if err != nil || (v != "true" && v != "false") {
			return nil, true, convErr(v, "boolean")
		}
		fs = append(fs, func(ci clientInfo) bool { return ci.cleanStart == want })
	}
	if v, ok := get("proto_ver"); ok {
		want, err := strconv.Atoi(v)
		if err != nil {
			return nil, true, convErr(v, "integer")
		}
		fs = append(fs, func(ci clientInfo) bool { return ci.protoVer == want })
	}
	for _, k := range []string{"_gte_created_at", "_lte_created_at", "_gte_connected_at", "_lte_connected_at"} {
		v, ok := get(k)
		if !ok {
			continue
		}
		sec, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, true, convErr(v, "integer")
		}
		gte, created := strings.HasPrefix(k, "_gte"), strings.HasSuffix(k, "created_at")
		fs = append(fs, func(ci clientInfo) bool {
			t := ci.connectedAt.Unix()
			if created {
				t = ci.createdAt.Unix()
			}
			if gte {
				return t >= sec
			}
			return t <= sec
		})
	}
	return fs, false, response{}
}

func (b *Broker) v4ClientList(c *v4call) response {
	page, limit, ok := v4Paging(c.query, 10000)
	if !ok {
		return v4Internal()
	}
	fs, bad, errResp := v4ClientFilters(c.query)
	if bad {
		return errResp
	}
	var rows []map[string]any
	for _, cl := range b.clientSessions() {
		ci := b.clientSnapshot(cl)
		keep := true
		for _, f := range fs {
			keep = keep && f(ci)
		}
		if keep {
			rows = append(rows, b.v4ClientJSON(ci))
		}
	}
	start, end, hasnext := pageSlice(len(rows), page, limit)
	count := len(rows)
	if len(fs) > 0 {
		count = -1
	}
	data := rows[start:end]
	if data == nil {
		data = []map[string]any{}
	}
	return v4Paged(data, v4Meta(page, limit, count, hasnext))
}

// v4ClientGet returns a list: one entry per node holding the channel, [] if none.
func (b *Broker) v4ClientGet(c *v4call) response {
	data := []map[string]any{}
	if cl, ok := b.findClient(c.vars["clientid"]); ok {
		data = append(data, b.v4ClientJSON(b.clientSnapshot(cl)))
	}
	return v4Data(data)
}

func (b *Broker) v4ClientsByUsername(c *v4call) response {
	data := []map[string]any{}
	for _, cl := range b.clientSessions() {
		ci := b.clientSnapshot(cl)
		if ci.hasUsername && ci.username == c.vars["username"] {
			data = append(data, b.v4ClientJSON(ci))
		}
	}
	return v4Data(data)
}

// v4ClientKick succeeds whether or not the client exists (EMQX >= 4.3.9).
func (b *Broker) v4ClientKick(c *v4call) response {
	b.kick(c.vars["clientid"])
	return v4OK()
}

func (b *Broker) v4ACLCacheList(c *v4call) response {
	cl, ok := b.connectedClient(c.vars["clientid"])
	if !ok {
		return v4Err(112, "not_found")
	}
	data := []map[string]any{}
	if st := b.sessions.get(cl); st != nil {
		for _, it := range st.cacheItems(b.now(), b.opts.AuthzCacheTTL) {
			result := "deny"
			if it.entry.allow {
				result = "allow"
			}
			data = append(data, map[string]any{"topic": it.key.topic, "access": it.key.action,
				"result": result, "updated_time": it.entry.at.UnixMilli()})
		}
	}
	return v4Data(data)
}

func (b *Broker) v4ACLCacheClear(c *v4call) response {
	if !b.clearAuthzCache(c.vars["clientid"]) {
		return v4Err(112, "not_found")
	}
	return v4OK()
}

func v4SubJSON(s subInfo) map[string]any {
	return map[string]any{"node": nodeName, "clientid": s.clientID, "topic": s.topic, "qos": s.qos}
}

func (b *Broker) v4SubList(c *v4call) response {
	page, limit, ok := v4Paging(c.query, 10000)
	if !ok {
		return v4Internal()
	}
	get := func(k string) (string, bool) { return firstQuery(c.query, k) }
	clientid, hasClient := get("clientid")
	topic, hasTopic := get("topic")
	share, hasShare := get("share")
	qosS, hasQoS := get("qos")
	match, hasMatch := get("_match_topic")
	if hasTopic {
		// The topic path decodes the value a second time.
		if d, err := url.PathUnescape(topic); err == nil {
			topic = d
		}
	}
	var qos int
	if hasQoS {
		n, err := strconv.Atoi(qosS)
		if err != nil {
			return v4Err(108, "Can't convert "+qosS+" to integer type")
		}
		qos = n
	}
	var rows []map[string]any
	for _, s := range b.allSubscriptions() {
		bare, group := stripShare(s.topic)
		if hasClient && s.clientID != clientid || hasTopic && s.topic != topic ||
			hasShare && group != share || hasQoS && int(s.qos) != qos ||
			hasMatch && !topicMatch(bare, match) {
			continue
		}
		rows = append(rows, v4SubJSON(s))
	}
	start, end, hasnext := pageSlice(len(rows), page, limit)
	count := len(rows)
	if hasClient || hasShare || hasQoS || hasMatch {
		count = -1
	}
	data := rows[start:end]
	if data == nil {
		data = []map[string]any{}
	}
	return v4Paged(data, v4Meta(page, limit, count, hasnext))
}

func (b *Broker) v4SubsOfClient(c *v4call) response {
	data := []map[string]any{}
	if cl, ok := b.findClient(c.vars["clientid"]); ok {
		for _, s := range subscriptionsOf(cl) {
			data = append(data, v4SubJSON(s))
		}
	}
	return v4Data(data)
}
