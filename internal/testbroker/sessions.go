package testbroker

import (
	"net"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// authzCacheMax is EMQX's default per-client authorization cache size.
const authzCacheMax = 32

// connState is what the double knows about one MQTT connection beyond what
// mochi tracks: the identity it authenticated with, its authorization cache
// and its traffic counters.
type connState struct {
	clientID    string
	username    string
	hasUsername bool
	superuser   bool
	peer        netip.Addr
	createdAt   time.Time
	connectedAt time.Time

	mu    sync.Mutex
	cache map[cacheKey]cacheEntry
	order []cacheKey

	recvMsg, sendMsg, recvPkt, sendPkt, recvOct, sendOct atomic.Int64
}

type cacheKey struct {
	action string
	topic  string
	qos    byte
	retain bool
}

type cacheEntry struct {
	allow bool
	at    time.Time
}

func (c *connState) cached(k cacheKey, now time.Time, ttl time.Duration) (bool, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.cache[k]
	if !ok || now.Sub(e.at) >= ttl {
		return false, false
	}
	return e.allow, true
}

func (c *connState) remember(k cacheKey, allow bool, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cache == nil {
		c.cache = map[cacheKey]cacheEntry{}
	}
	if _, ok := c.cache[k]; !ok {
		c.order = append(c.order, k)
	}
	c.cache[k] = cacheEntry{allow: allow, at: now}
	for len(c.order) > authzCacheMax {
		delete(c.cache, c.order[0])
		c.order = c.order[1:]
	}
}

func (c *connState) clearCache() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cache, c.order = nil, nil
}

// cacheItem is one authorization cache entry as the APIs list it.
type cacheItem struct {
	key   cacheKey
	entry cacheEntry
}

func (c *connState) cacheItems(now time.Time, ttl time.Duration) []cacheItem {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []cacheItem
	for _, k := range c.order {
		e := c.cache[k]
		if now.Sub(e.at) < ttl {
			out = append(out, cacheItem{key: k, entry: e})
		}
	}
	return out
}

// sessions maps mochi clients to their connState.
type sessions struct {
	mu sync.Mutex
	m  map[*mqtt.Client]*connState
}

func (s *sessions) put(cl *mqtt.Client, st *connState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[*mqtt.Client]*connState{}
	}
	s.m[cl] = st
}

func (s *sessions) get(cl *mqtt.Client) *connState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[cl]
}

func (s *sessions) drop(cl *mqtt.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, cl)
}

func (s *sessions) all() []*connState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*connState, 0, len(s.m))
	for _, st := range s.m {
		out = append(out, st)
	}
	return out
}

// prune forgets states of clients mochi no longer holds.
func (s *sessions) prune(live map[string]*mqtt.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for cl := range s.m {
		if cur, ok := live[cl.ID]; !ok || cur != cl {
			delete(s.m, cl)
		}
	}
}

func peerAddr(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// clientSessions returns mochi's sessions (connected, or disconnected but
// persistent) without the inline client, sorted by clientid.
func (b *Broker) clientSessions() []*mqtt.Client {
	all := b.mqtt.Clients.GetAll()
	out := make([]*mqtt.Client, 0, len(all))
	for _, cl := range all {
		if !cl.Net.Inline {
			out = append(out, cl)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// findClient returns the session with the given clientid.
func (b *Broker) findClient(id string) (*mqtt.Client, bool) {
	cl, ok := b.mqtt.Clients.Get(id)
	if !ok || cl.Net.Inline {
		return nil, false
	}
	return cl, true
}

// connectedClient returns the session only if its connection is up.
func (b *Broker) connectedClient(id string) (*mqtt.Client, bool) {
	cl, ok := b.findClient(id)
	if !ok || cl.Closed() {
		return nil, false
	}
	return cl, true
}

func sessionExpires(cl *mqtt.Client) bool {
	if cl.Properties.ProtocolVersion == 5 {
		return cl.Properties.Props.SessionExpiryInterval == 0
	}
	return cl.Properties.Clean
}

// kick disconnects a client and discards its session, like EMQX's kick. It
// returns false when no session exists.
func (b *Broker) kick(id string) bool {
	cl, ok := b.findClient(id)
	if !ok {
		return false
	}
	b.metrics.inc("session.discarded")
	if !cl.Closed() {
		_ = b.mqtt.DisconnectClient(cl, packets.ErrAdministrativeAction)
		if sessionExpires(cl) {
			// mochi removes a clean session itself once the connection's read
			// loop ends; wait for that so a quick reconnect with the same
			// clientid is not removed by the old connection's cleanup.
			deadline := time.Now().Add(2 * time.Second)
			for time.Now().Before(deadline) {
				if cur, ok := b.mqtt.Clients.Get(id); !ok || cur != cl {
					return true
				}
				time.Sleep(2 * time.Millisecond)
			}
		}
	}
	b.mqtt.UnsubscribeClient(cl)
	cl.ClearInflights()
	if cur, ok := b.mqtt.Clients.Get(id); ok && cur == cl {
		b.mqtt.Clients.Delete(id)
	}
	b.sessions.drop(cl)
	return true
}

// apiSubscribe subscribes a connected client the way EMQX's management API
// does: without an authorization check, then delivers retained messages.
func (b *Broker) apiSubscribe(cl *mqtt.Client, sub packets.Subscription) {
	isNew := b.mqtt.Topics.Subscribe(cl.ID, sub)
	if isNew {
		atomic.AddInt64(&b.mqtt.Info.Subscriptions, 1)
	}
	cl.State.Subscriptions.Add(sub.Filter, sub)
	b.metrics.inc("client.subscribe")
	if _, group := stripShare(sub.Filter); group != "" {
		return
	}
	if sub.RetainHandling == 2 || (sub.RetainHandling == 1 && !isNew) {
		return
	}
	for _, msg := range b.mqtt.Topics.Messages(sub.Filter) {
		out := msg.Copy(false)
		out.FixedHeader.Retain = true
		if out.FixedHeader.Qos > sub.Qos {
			out.FixedHeader.Qos = sub.Qos
		}
		if out.FixedHeader.Qos > 0 {
			id, err := cl.NextPacketID()
			if err != nil {
				continue
			}
			out.PacketID = uint16(id)
			if cl.State.Inflight.Set(out) {
				atomic.AddInt64(&b.mqtt.Info.Inflight, 1)
			}
		}
		_ = cl.WritePacket(out)
	}
}

// apiUnsubscribe removes a client's subscription; it reports whether one existed.
func (b *Broker) apiUnsubscribe(cl *mqtt.Client, filter string) bool {
	_, had := cl.State.Subscriptions.Get(filter)
	if b.mqtt.Topics.Unsubscribe(filter, cl.ID) {
		atomic.AddInt64(&b.mqtt.Info.Subscriptions, -1)
	}
	cl.State.Subscriptions.Delete(filter)
	b.metrics.inc("client.unsubscribe")
	return had
}

// clearAuthzCache clears one connected client's cache.
func (b *Broker) clearAuthzCache(id string) bool {
	cl, ok := b.connectedClient(id)
	if !ok {
		return false
	}
	if st := b.sessions.get(cl); st != nil {
		st.clearCache()
	}
	return true
}

// clearAllAuthzCaches clears every connection's cache.
func (b *Broker) clearAllAuthzCaches() {
	for _, st := range b.sessions.all() {
		st.clearCache()
	}
}

// subInfo is one subscription as the APIs list it.
type subInfo struct {
	clientID string
	topic    string
	qos      byte
	nl, rap  int
	rh       int
}

func subscriptionsOf(cl *mqtt.Client) []subInfo {
	var out []subInfo
	for filter, s := range cl.State.Subscriptions.GetAll() {
		out = append(out, subInfo{clientID: cl.ID, topic: filter, qos: s.Qos,
			nl: b2i(s.NoLocal), rap: b2i(s.RetainAsPublished), rh: int(s.RetainHandling)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].topic < out[j].topic })
	return out
}

func (b *Broker) allSubscriptions() []subInfo {
	var out []subInfo
	for _, cl := range b.clientSessions() {
		out = append(out, subscriptionsOf(cl)...)
	}
	return out
}

func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}

// defaultSessionExpiry is EMQX's default session_expiry_interval, in the
// seconds the client APIs report.
const defaultSessionExpiry = 2 * 60 * 60

// clientInfo is a snapshot of one session for the client APIs.
type clientInfo struct {
	id             string
	username       string
	hasUsername    bool
	connected      bool
	ip             string
	port           int
	protoVer       int
	cleanStart     bool
	keepalive      int
	expiryInterval int64
	createdAt      time.Time
	connectedAt    time.Time
	disconnectedAt time.Time
	subscriptions  int
	inflight       int
	recvMsg        int64
	sendMsg        int64
	recvPkt        int64
	sendPkt        int64
	recvOct        int64
	sendOct        int64
}

func (b *Broker) clientSnapshot(cl *mqtt.Client) clientInfo {
	ci := clientInfo{
		id:            cl.ID,
		username:      string(cl.Properties.Username),
		hasUsername:   len(cl.Properties.Username) > 0,
		connected:     !cl.Closed(),
		protoVer:      int(cl.Properties.ProtocolVersion),
		cleanStart:    cl.Properties.Clean,
		keepalive:     int(cl.State.Keepalive),
		subscriptions: cl.State.Subscriptions.Len(),
		inflight:      cl.State.Inflight.Len(),
	}
	// emqx_channel:expiry_interval/2: MQTT 5 states its own; an older
	// client that keeps its session (clean session 0) gets the zone's
	// session_expiry_interval, 2h by default in both EMQX 4 and 5.
	switch {
	case ci.protoVer == 5:
		ci.expiryInterval = int64(cl.Properties.Props.SessionExpiryInterval)
	case !ci.cleanStart:
		ci.expiryInterval = defaultSessionExpiry
	}
	if host, port, err := net.SplitHostPort(cl.Net.Remote); err == nil {
		ci.ip = host
		ci.port, _ = strconv.Atoi(port)
	}
	if st := b.sessions.get(cl); st != nil {
		ci.username, ci.hasUsername = st.username, st.hasUsername
		ci.createdAt, ci.connectedAt = st.createdAt, st.connectedAt
		ci.recvMsg, ci.sendMsg = st.recvMsg.Load(), st.sendMsg.Load()
		ci.recvPkt, ci.sendPkt = st.recvPkt.Load(), st.sendPkt.Load()
		ci.recvOct, ci.sendOct = st.recvOct.Load(), st.sendOct.Load()
	}
	if !ci.connected {
		if t := cl.StopTime(); t > 0 {
			ci.disconnectedAt = time.Unix(t, 0)
		}
	}
	return ci
}
