package testbroker

import (
	"strings"
	"sync"
)

// statMax remembers the high-water mark of each *.count stat.
type statMax struct {
	mu  sync.Mutex
	max map[string]int64
}

func (s *statMax) observe(name string, v int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.max == nil {
		s.max = map[string]int64{}
	}
	if v > s.max[name] {
		s.max[name] = v
	}
	return s.max[name]
}

// stats computes EMQX's stats from mochi's live sessions. EMQX counts a
// disconnected persistent session as a connection (its channel lives on),
// so connections.count includes them and live_connections.count does not.
func (b *Broker) stats() map[string]int64 {
	sessions := b.clientSessions()
	var live, subs, shared int64
	topics := map[string]bool{}
	for _, cl := range sessions {
		if !cl.Closed() {
			live++
		}
		for filter := range cl.State.Subscriptions.GetAll() {
			subs++
			bare, group := stripShare(filter)
			if group != "" {
				shared++
			}
			topics[bare] = true
		}
	}
	cur := map[string]int64{
		"connections":          int64(len(sessions)),
		"live_connections":     live,
		"channels":             int64(len(sessions)),
		"sessions":             int64(len(sessions)),
		"topics":               int64(len(topics)),
		"routes":               int64(len(topics)),
		"suboptions":           subs,
		"subscribers":          subs,
		"subscriptions":        subs,
		"subscriptions.shared": shared,
		"retained":             b.retainedCount(),
	}
	out := make(map[string]int64, 2*len(cur))
	for k, v := range cur {
		out[k+".count"] = v
		out[k+".max"] = b.statMax.observe(k, v)
	}
	return out
}

// retainedCount counts the retained messages clients and the API stored.
// mochi keeps its own $SYS statistics as retained messages too; EMQX's
// $SYS topics are not those, so they are left out of retained.count.
func (b *Broker) retainedCount() int64 {
	var n int64
	for topic := range b.mqtt.Topics.Retained.GetAll() {
		if !strings.HasPrefix(topic, "$SYS/") {
			n++
		}
	}
	return n
}
