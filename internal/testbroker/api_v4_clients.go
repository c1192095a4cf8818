package testbroker

import (
	"net/http"
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

// v4ClientSchema is emqx_mgmt_api_clients' query schema.
var v4ClientSchema = map[string]string{
	"clientid": v4Binary, "username": v4Binary, "zone": v4Atom, "ip_address": v4IP,
	"conn_state": v4Atom, "clean_start": v4Atom, "proto_name": v4Binary, "proto_ver": v4Integer,
	"_like_clientid": v4Binary, "_like_username": v4Binary,
	"_gte_created_at": v4Timestamp, "_lte_created_at": v4Timestamp,
	"_gte_connected_at": v4Timestamp, "_lte_connected_at": v4Timestamp,
	"_gte_mqueue_len": v4Integer, "_lte_mqueue_len": v4Integer,
	"_gte_mqueue_dropped": v4Integer, "_lte_mqueue_dropped": v4Integer,
}

// matchClient applies one clause. Atom-typed filters compare the atom's
// name, so clean_start=yes is no error; it matches no client.
func (c v4Clause) matchClient(ci clientInfo) bool {
	switch c.field {
	case "clientid":
		if c.op == opLike {
			return strings.Contains(ci.id, c.value)
		}
		return ci.id == c.value
	case "username":
		if c.op == opLike {
			return ci.hasUsername && strings.Contains(ci.username, c.value)
		}
		return ci.hasUsername && ci.username == c.value
	case "zone":
		return c.value == "external"
	case "ip_address":
		return c.sameIP(ci.ip)
	case "conn_state":
		return connState4(ci) == c.value
	case "clean_start":
		return strconv.FormatBool(ci.cleanStart) == c.value
	case "proto_name":
		return c.value == "MQTT"
	case "proto_ver":
		return c.compare(int64(ci.protoVer))
	case "created_at":
		return c.compare(ci.createdAt.UnixMilli())
	case "connected_at":
		return c.compare(ci.connectedAt.UnixMilli())
	case "mqueue_len", "mqueue_dropped":
		return c.compare(0) // the double queues nothing
	}
	return false
}

// v4ClientList filters before it reads _page and _limit, as cluster_query
// does; a value of the wrong type is code 108 here (fence/1), unlike the
// other v4 lists.
func (b *Broker) v4ClientList(c *v4call) response {
	fs, bad := parseV4Filters(c.pairs, v4ClientSchema)
	if bad != nil {
		return v4Err(108, bad.clientsMessage())
	}
	page, limit, ok := v4Paging(c.query, 10000)
	if !ok {
		return v4Internal()
	}
	var rows []map[string]any
	for _, cl := range b.clientSessions() {
		ci := b.clientSnapshot(cl)
		if fs.all(func(f v4Clause) bool { return f.matchClient(ci) }) {
			rows = append(rows, b.v4ClientJSON(ci))
		}
	}
	return v4PagedRows(rows, page, limit, len(fs) > 0)
}

// v4PagedRows is the page meta of the clients and subscriptions lists:
// count is -1 once any filter applies.
func v4PagedRows(rows []map[string]any, page, limit int, filtered bool) response {
	start, end, hasnext := pageSlice(len(rows), page, limit)
	count := len(rows)
	if filtered {
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

// v4SubSchema is emqx_mgmt_api_subscriptions' query schema.
var v4SubSchema = map[string]string{
	"clientid": v4Binary, "topic": v4Binary, "share": v4Binary, "qos": v4Integer, "_match_topic": v4Binary,
}

func (c v4Clause) matchSub(s subInfo) bool {
	bare, group := stripShare(s.topic)
	switch c.field {
	case "clientid":
		return s.clientID == c.value
	case "share":
		return group != "" && group == c.value
	case "qos":
		return int64(s.qos) == c.num
	case "topic":
		if c.op == opMatch {
			return topicMatch(bare, c.value)
		}
		return bare == c.value
	}
	return false
}

// v4SubList is two handlers in EMQX (emqx_mgmt_api_subscriptions:list/2):
// with a topic it filters a topic lookup itself; otherwise it runs the
// generic list query, whose bad values (qos=abc) nobody catches, so
// minirest answers 400 with the thrown term as text.
func (b *Broker) v4SubList(c *v4call) response {
	if topic, ok := firstQuery(c.query, "topic"); ok {
		return b.v4SubsOfTopic(c, topic)
	}
	fs, bad := parseV4Filters(c.pairs, v4SubSchema)
	if bad != nil {
		return textResp(http.StatusBadRequest, bad.thrown())
	}
	page, limit, ok := v4Paging(c.query, 10000)
	if !ok {
		return v4Internal()
	}
	var rows []map[string]any
	for _, s := range b.allSubscriptions() {
		if fs.all(func(f v4Clause) bool { return f.matchSub(s) }) {
			rows = append(rows, v4SubJSON(s))
		}
	}
	return v4PagedRows(rows, page, limit, len(fs) > 0)
}

// v4SubsOfTopic lists the subscriptions to one topic, shared ones
// included: EMQX stores them under the bare topic. The value is
// percent-decoded a second time; _match_topic is ignored, qos is parsed
// with binary_to_integer (a crash, 500, when it is not a number), share
// is a prefix of the "$share/<group>" form, and count is the real count.
func (b *Broker) v4SubsOfTopic(c *v4call, topic string) response {
	if d, err := url.PathUnescape(topic); err == nil {
		topic = d
	}
	var qos *int64
	if s, has := firstQuery(c.query, "qos"); has {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return v4Internal()
		}
		qos = &n
	}
	clientid, hasClient := firstQuery(c.query, "clientid")
	share, hasShare := firstQuery(c.query, "share")
	var rows []map[string]any
	for _, s := range b.allSubscriptions() {
		if bare, _ := stripShare(s.topic); bare != topic ||
			qos != nil && int64(s.qos) != *qos || hasClient && s.clientID != clientid ||
			hasShare && !strings.HasPrefix(s.topic, "$share/"+share) {
			continue
		}
		rows = append(rows, v4SubJSON(s))
	}
	page, limit, ok := v4Paging(c.query, 10000)
	if !ok {
		return v4Internal()
	}
	return v4PagedRows(rows, page, limit, false)
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
