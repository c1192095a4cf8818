package testbroker

import (
	"sync"
	"sync/atomic"
)

// v4MetricNames is EMQX 4's core metric set. Drivers must tolerate extra
// keys, so the double reports the full set even where it never counts.
var v4MetricNames = []string{
	"bytes.received", "bytes.sent",
	"packets.received", "packets.sent",
	"packets.connect.received", "packets.connack.sent", "packets.connack.error", "packets.connack.auth_error",
	"packets.publish.received", "packets.publish.sent", "packets.publish.inuse", "packets.publish.error",
	"packets.publish.auth_error", "packets.publish.dropped",
	"packets.puback.received", "packets.puback.sent", "packets.puback.inuse", "packets.puback.missed",
	"packets.pubrec.received", "packets.pubrec.sent", "packets.pubrec.inuse", "packets.pubrec.missed",
	"packets.pubrel.received", "packets.pubrel.sent", "packets.pubrel.missed",
	"packets.pubcomp.received", "packets.pubcomp.sent", "packets.pubcomp.inuse", "packets.pubcomp.missed",
	"packets.subscribe.received", "packets.subscribe.error", "packets.subscribe.auth_error", "packets.suback.sent",
	"packets.unsubscribe.received", "packets.unsubscribe.error", "packets.unsuback.sent",
	"packets.pingreq.received", "packets.pingresp.sent",
	"packets.disconnect.received", "packets.disconnect.sent",
	"packets.auth.received", "packets.auth.sent",
	"messages.received", "messages.sent",
	"messages.qos0.received", "messages.qos0.sent",
	"messages.qos1.received", "messages.qos1.sent",
	"messages.qos2.received", "messages.qos2.sent",
	"messages.publish", "messages.dropped", "messages.dropped.await_pubrel_timeout",
	"messages.dropped.no_subscribers", "messages.forward", "messages.retained", "messages.delayed",
	"messages.delivered", "messages.acked",
	"delivery.dropped", "delivery.dropped.no_local", "delivery.dropped.too_large",
	"delivery.dropped.qos0_msg", "delivery.dropped.queue_full", "delivery.dropped.expired",
	"client.connect", "client.connack", "client.connected", "client.authenticate", "client.check_acl",
	"client.subscribe", "client.unsubscribe", "client.disconnected",
	"client.auth.success", "client.auth.success.anonymous", "client.auth.failure",
	"client.acl.allow", "client.acl.deny", "client.acl.cache_hit",
	"session.created", "session.resumed", "session.takeovered", "session.discarded", "session.terminated",
}

// v5Renames maps EMQX 4 metric names to their EMQX 5 names.
var v5Renames = map[string]string{
	"client.check_acl":              "client.authorize",
	"client.acl.allow":              "authorization.allow",
	"client.acl.deny":               "authorization.deny",
	"client.acl.cache_hit":          "authorization.cache_hit",
	"client.auth.success":           "authentication.success",
	"client.auth.failure":           "authentication.failure",
	"client.auth.success.anonymous": "authentication.success.anonymous",
}

// v5OnlyMetrics are counted under these names only in the v5 view.
var v5OnlyMetrics = []string{
	"authorization.cache_miss", "authorization.superuser", "authorization.matched.allow",
	"authorization.matched.deny", "authorization.nomatch",
	"client.auth.anonymous", "client.enhanced_authenticate",
}

// metrics holds the broker's counters under their v4 names (plus the v5-only
// names); each API renders its own naming.
type metrics struct {
	mu sync.RWMutex
	c  map[string]*atomic.Int64
}

func newMetrics() *metrics {
	m := &metrics{c: map[string]*atomic.Int64{}}
	for _, n := range v4MetricNames {
		m.c[n] = new(atomic.Int64)
	}
	for _, n := range v5OnlyMetrics {
		m.c[n] = new(atomic.Int64)
	}
	return m
}

func (m *metrics) add(name string, d int64) {
	m.mu.RLock()
	c, ok := m.c[name]
	m.mu.RUnlock()
	if !ok {
		m.mu.Lock()
		if c, ok = m.c[name]; !ok {
			c = new(atomic.Int64)
			m.c[name] = c
		}
		m.mu.Unlock()
	}
	c.Add(d)
}

func (m *metrics) inc(names ...string) {
	for _, n := range names {
		m.add(n, 1)
	}
}

func (m *metrics) get(name string) int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if c, ok := m.c[name]; ok {
		return c.Load()
	}
	return 0
}

// v4 returns the counters under EMQX 4 names.
func (m *metrics) v4() map[string]int64 {
	out := make(map[string]int64, len(v4MetricNames))
	for _, n := range v4MetricNames {
		out[n] = m.get(n)
	}
	return out
}

// v5 returns the counters under EMQX 5 names.
func (m *metrics) v5() map[string]int64 {
	out := make(map[string]int64, len(v4MetricNames)+len(v5OnlyMetrics))
	for _, n := range v4MetricNames {
		name := n
		if r, ok := v5Renames[n]; ok {
			name = r
		}
		out[name] = m.get(n)
	}
	for _, n := range v5OnlyMetrics {
		out[n] = m.get(n)
	}
	return out
}
