package testbroker

import (
	"bytes"
	"fmt"
	"strconv"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// deniedFilter replaces a subscription filter that authorization refused.
// mochi asks OnACLCheck about a filter only after OnSubscribe, and asks the
// same hook (with the topic name) before every delivery, which EMQX does not
// do. Rewriting refused filters to this marker lets OnACLCheck refuse exactly
// them: a topic name can never contain NUL or '#'.
const deniedFilter = "\x00testbroker-denied/#"

// hook enforces the built-in database on MQTT traffic and counts metrics.
type hook struct {
	mqtt.HookBase
	b *Broker
}

func (h *hook) ID() string { return "testbroker" }

func (h *hook) Provides(b byte) bool {
	return bytes.Contains([]byte{
		mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnSessionEstablished,
		mqtt.OnDisconnect, mqtt.OnPacketRead, mqtt.OnPacketSent, mqtt.OnPublish, mqtt.OnSubscribe,
		mqtt.OnSubscribed, mqtt.OnUnsubscribed, mqtt.OnClientExpired,
	}, []byte{b})
}

// OnConnect checks bans and credentials. Doing both here, rather than in
// OnConnectAuthenticate, lets the CONNACK carry EMQX's codes: banned (0x8A),
// not authorized for an unknown user (0x87) and bad username or password
// (0x86), mapped to 5, 5 and 4 for MQTT 3.x clients.
func (h *hook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	m := h.b.metrics
	m.inc("client.connect", "packets.connect.received")
	now := h.b.now()
	username := string(pk.Connect.Username)
	hasUsername := pk.Connect.UsernameFlag && username != ""
	peer := peerAddr(cl.Net.Remote)

	if bn, banned := h.b.store.bannedConnect(cl.ID, username, hasUsername, peer, now.Unix()); banned {
		h.b.log.Info("connect refused: banned", "clientid", cl.ID, "as", bn.as)
		return h.refuse(cl, packets.ErrBanned, packets.Err3NotAuthorized)
	}

	m.inc("client.authenticate")
	res, super := h.b.store.authenticate(cl.ID, username, hasUsername, string(pk.Connect.Password))
	switch res {
	case authNotFound:
		m.inc("client.auth.failure", "packets.connack.auth_error")
		h.b.log.Info("connect refused: unknown user", "clientid", cl.ID, "username", username)
		return h.refuse(cl, packets.ErrNotAuthorized, packets.Err3NotAuthorized)
	case authBadPassword:
		m.inc("client.auth.failure", "packets.connack.auth_error")
		h.b.log.Info("connect refused: bad password", "clientid", cl.ID, "username", username)
		return h.refuse(cl, packets.ErrBadUsernameOrPassword, packets.ErrMalformedUsernameOrPassword)
	}
	m.inc("client.auth.success")
	h.b.sessions.put(cl, &connState{
		clientID: cl.ID, username: username, hasUsername: hasUsername, superuser: super,
		peer: peer, createdAt: now, connectedAt: now,
	})
	return nil
}

func (h *hook) refuse(cl *mqtt.Client, v5, v3 packets.Code) error {
	code := v5
	if cl.Properties.ProtocolVersion < 5 {
		code = v3
	}
	h.b.metrics.inc("packets.connack.error", "client.connack")
	if err := h.b.mqtt.SendConnack(cl, code, false, nil); err != nil {
		return fmt.Errorf("send connack: %w", err)
	}
	return v5
}

// OnConnectAuthenticate accepts: OnConnect already refused every CONNECT
// that must not get through.
func (h *hook) OnConnectAuthenticate(cl *mqtt.Client, _ packets.Packet) bool {
	return h.b.sessions.get(cl) != nil
}

func (h *hook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	h.b.metrics.inc("client.connected", "client.connack", "session.created")
}

func (h *hook) OnDisconnect(cl *mqtt.Client, _ error, expire bool) {
	h.b.metrics.inc("client.disconnected")
	if expire {
		h.b.metrics.inc("session.terminated")
		h.b.sessions.drop(cl)
		return
	}
	if st := h.b.sessions.get(cl); st != nil {
		st.clearCache()
	}
}

func (h *hook) OnClientExpired(cl *mqtt.Client) {
	h.b.metrics.inc("session.terminated")
	h.b.sessions.drop(cl)
}

var packetReceivedMetric = map[byte]string{
	packets.Publish:     "packets.publish.received",
	packets.Puback:      "packets.puback.received",
	packets.Pubrec:      "packets.pubrec.received",
	packets.Pubrel:      "packets.pubrel.received",
	packets.Pubcomp:     "packets.pubcomp.received",
	packets.Subscribe:   "packets.subscribe.received",
	packets.Unsubscribe: "packets.unsubscribe.received",
	packets.Pingreq:     "packets.pingreq.received",
	packets.Disconnect:  "packets.disconnect.received",
	packets.Auth:        "packets.auth.received",
}

var packetSentMetric = map[byte]string{
	packets.Connack:    "packets.connack.sent",
	packets.Publish:    "packets.publish.sent",
	packets.Puback:     "packets.puback.sent",
	packets.Pubrec:     "packets.pubrec.sent",
	packets.Pubrel:     "packets.pubrel.sent",
	packets.Pubcomp:    "packets.pubcomp.sent",
	packets.Suback:     "packets.suback.sent",
	packets.Unsuback:   "packets.unsuback.sent",
	packets.Pingresp:   "packets.pingresp.sent",
	packets.Disconnect: "packets.disconnect.sent",
	packets.Auth:       "packets.auth.sent",
}

func (h *hook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	m := h.b.metrics
	size := int64(pk.FixedHeader.Remaining + 2)
	m.inc("packets.received")
	m.add("bytes.received", size)
	if n, ok := packetReceivedMetric[pk.FixedHeader.Type]; ok {
		m.inc(n)
	}
	if st := h.b.sessions.get(cl); st != nil {
		st.recvPkt.Add(1)
		st.recvOct.Add(size)
		if pk.FixedHeader.Type == packets.Publish {
			st.recvMsg.Add(1)
		}
	}
	return pk, nil
}

func (h *hook) OnPacketSent(cl *mqtt.Client, pk packets.Packet, b []byte) {
	m := h.b.metrics
	m.inc("packets.sent")
	m.add("bytes.sent", int64(len(b)))
	if n, ok := packetSentMetric[pk.FixedHeader.Type]; ok {
		m.inc(n)
	}
	st := h.b.sessions.get(cl)
	if st != nil {
		st.sendPkt.Add(1)
		st.sendOct.Add(int64(len(b)))
	}
	if pk.FixedHeader.Type == packets.Publish {
		m.inc("messages.sent", "messages.delivered", "messages.qos"+strconv.Itoa(int(pk.FixedHeader.Qos))+".sent")
		if st != nil {
			st.sendMsg.Add(1)
		}
	}
}

// OnPublish authorizes client publishes. A denied publish is dropped: an
// MQTT 5 QoS 1 publisher gets PUBACK 0x87, everyone else a normal ack (or
// none for QoS 0), matching EMQX's default deny_action "ignore". Publishes
// from the management API arrive through mochi's inline client and bypass
// authorization, as in EMQX.
func (h *hook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	m := h.b.metrics
	if !cl.Net.Inline {
		m.inc("messages.received", "messages.qos"+strconv.Itoa(int(pk.FixedHeader.Qos))+".received")
		if !h.b.authorizeClient(cl, actPublish, pk.TopicName, pk.FixedHeader.Qos, pk.FixedHeader.Retain) {
			m.inc("packets.publish.auth_error", "messages.dropped")
			if cl.Properties.ProtocolVersion == 5 && pk.FixedHeader.Qos == 1 {
				return pk, packets.ErrNotAuthorized
			}
			return pk, packets.CodeSuccessIgnore
		}
	}
	m.inc("messages.publish")
	if pk.FixedHeader.Retain && len(pk.Payload) > 0 {
		m.inc("messages.retained")
	}
	if !h.b.hasSubscribers(pk.TopicName) {
		m.inc("messages.dropped", "messages.dropped.no_subscribers")
	}
	return pk, nil
}

// OnSubscribe authorizes each well-formed filter and rewrites refused ones
// to deniedFilter so that mochi answers them with a SUBACK failure code.
func (h *hook) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if cl.Net.Inline {
		return pk
	}
	filters := make(packets.Subscriptions, len(pk.Filters))
	copy(filters, pk.Filters)
	for i, f := range filters {
		if !mqtt.IsValidFilter(f.Filter, false) {
			continue
		}
		if !h.b.authorizeClient(cl, actSubscribe, f.Filter, f.Qos, false) {
			h.b.metrics.inc("packets.subscribe.auth_error")
			filters[i].Filter = deniedFilter
		}
	}
	pk.Filters = filters
	return pk
}

// OnACLCheck lets everything through except filters OnSubscribe refused;
// see deniedFilter.
func (h *hook) OnACLCheck(_ *mqtt.Client, topic string, write bool) bool {
	return write || topic != deniedFilter
}

func (h *hook) OnSubscribed(cl *mqtt.Client, _ packets.Packet, _ []byte) {
	if !cl.Net.Inline {
		h.b.metrics.inc("client.subscribe")
	}
}

func (h *hook) OnUnsubscribed(cl *mqtt.Client, pk packets.Packet) {
	if !cl.Net.Inline && pk.PacketID != 0 {
		h.b.metrics.inc("client.unsubscribe")
	}
}

// authorizeClient runs the authorization chain for a connected client:
// superuser bypass, then the per-connection cache, then the rules, with
// no_match = deny.
func (b *Broker) authorizeClient(cl *mqtt.Client, action, topic string, qos byte, retain bool) bool {
	m := b.metrics
	m.inc("client.check_acl")
	st := b.sessions.get(cl)
	if st == nil {
		m.inc("client.acl.deny", "authorization.nomatch")
		return false
	}
	if st.superuser {
		m.inc("authorization.superuser", "client.acl.allow")
		return true
	}
	now := b.now()
	key := cacheKey{action: action, topic: topic, qos: qos, retain: retain}
	allow, hit := st.cached(key, now, b.opts.AuthzCacheTTL)
	if hit {
		m.inc("client.acl.cache_hit")
	} else {
		m.inc("authorization.cache_miss")
		var matched bool
		allow, matched = b.store.authorize(authzRequest{
			clientID: st.clientID, username: st.username, hasUsername: st.hasUsername,
			action: action, topic: topic, qos: qos, retain: retain,
		})
		switch {
		case !matched:
			m.inc("authorization.nomatch")
		case allow:
			m.inc("authorization.matched.allow")
		default:
			m.inc("authorization.matched.deny")
		}
		st.remember(key, allow, now)
	}
	if allow {
		m.inc("client.acl.allow")
	} else {
		m.inc("client.acl.deny")
	}
	return allow
}

// hasSubscribers reports whether a publish to topic would reach anyone.
func (b *Broker) hasSubscribers(topic string) bool {
	subs := b.mqtt.Topics.Subscribers(topic)
	return len(subs.Subscriptions) > 0 || len(subs.Shared) > 0 || len(subs.InlineSubscriptions) > 0
}
