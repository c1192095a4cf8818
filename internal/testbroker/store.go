package testbroker

import (
	"sync"
	"time"
)

// Identity kinds. A v4 broker keeps username and clientid users in separate
// namespaces of one table; the v5 authenticator sees only the namespace named
// by its user_id_type.
const (
	kindUsername = "username"
	kindClientID = "clientid"
	kindAll      = "all"
)

// store is the single in-memory database behind both management APIs and
// the MQTT hooks, so that a user created through /api/v4 can log in and is
// visible through /api/v5, as it would be on one real broker.
type store struct {
	mu    sync.Mutex
	now   func() time.Time
	users map[userKey]*userRecord
	rules map[principal]*ruleSet
	bans  map[banKey]*ban
	// seq orders v4 rule timestamps that land in the same millisecond.
	seq int64
}

func newStore(now func() time.Time) *store {
	s := &store{now: now}
	s.wipe()
	return s
}

// wipe drops every user, rule and ban, as a broker that lost its data.
func (s *store) wipe() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users = map[userKey]*userRecord{}
	s.rules = map[principal]*ruleSet{}
	s.bans = map[banKey]*ban{}
}
