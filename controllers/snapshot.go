package controllers

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// snapshots keeps, per broker, one kind's entries as the broker last listed
// them, updated with what the operator wrote since. While a snapshot is
// younger than ttl it answers for the broker, so that the reconciles after
// a manager restart or a broker wipe cost one paginated list instead of a
// GET each. Staleness is bounded the way drift already is: the drift
// scanner lists every broker once per resync interval and refreshes the
// snapshot then, a broker that stops being ready loses its snapshots, and
// an explicit reconcile request bypasses them.
type snapshots[S any] struct {
	clock clock.PassiveClock
	ttl   time.Duration
	fills singleflight.Group

	mu       sync.Mutex
	byBroker map[types.UID]*snapshot[S]
}

type snapshot[S any] struct {
	at time.Time
	// scopes were listed: entries of other scopes are not known.
	scopes  map[string]bool
	entries map[string]S
	// unknown entries are asked of the broker: a write to them failed
	// half-way.
	unknown map[string]bool
}

func newSnapshots[S any](c clock.PassiveClock, ttl time.Duration) *snapshots[S] {
	return &snapshots[S]{clock: c, ttl: ttl, byBroker: map[types.UID]*snapshot[S]{}}
}

// fresh returns b's snapshot if it is younger than ttl and than b's
// latest readiness: a broker that was away may have lost everything.
// Call with mu held.
func (s *snapshots[S]) fresh(b *mqttv1.MQTTBroker) *snapshot[S] {
	sn := s.byBroker[b.UID]
	if sn == nil || s.clock.Since(sn.at) >= s.ttl {
		return nil
	}
	// Condition times have a resolution of one second.
	if c := b.Status.ReadyCondition(); c != nil && !sn.at.After(c.LastTransitionTime.Add(time.Second)) {
		return nil
	}
	return sn
}

// get answers for one entry: ok is false when there is no fresh snapshot
// of its scope.
func (s *snapshots[S]) get(b *mqttv1.MQTTBroker, scope, entry string) (have S, found, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sn := s.fresh(b)
	if sn == nil || !sn.scopes[scope] || sn.unknown[entry] {
		return have, false, false
	}
	have, found = sn.entries[entry]
	return have, found, true
}

// has reports whether b has a fresh snapshot.
func (s *snapshots[S]) has(b *mqttv1.MQTTBroker) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fresh(b) != nil
}

// store replaces b's snapshot with a list of scopes taken at time at.
func (s *snapshots[S]) store(b *mqttv1.MQTTBroker, at time.Time, scopes map[string]bool, entries map[string]S) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byBroker[b.UID] = &snapshot[S]{at: at, scopes: scopes, entries: entries, unknown: map[string]bool{}}
}

// fill lists the broker once however many reconciles ask at the same time.
func (s *snapshots[S]) fill(ctx context.Context, b *mqttv1.MQTTBroker, list func(context.Context) (map[string]bool, map[string]S, error)) error {
	_, err, _ := s.fills.Do(string(b.UID), func() (any, error) {
		if s.has(b) {
			return nil, nil
		}
		at := s.clock.Now()
		scopes, entries, err := list(ctx)
		if err != nil {
			return nil, err
		}
		s.store(b, at, scopes, entries)
		return nil, nil
	})
	return err
}

// put records an entry the operator wrote.
func (s *snapshots[S]) put(b *mqttv1.MQTTBroker, entry string, v S) {
	s.update(b, func(sn *snapshot[S]) {
		sn.entries[entry] = v
		delete(sn.unknown, entry)
	})
}

// absent records an entry the operator removed.
func (s *snapshots[S]) absent(b *mqttv1.MQTTBroker, entry string) {
	s.update(b, func(sn *snapshot[S]) {
		delete(sn.entries, entry)
		delete(sn.unknown, entry)
	})
}

// forget marks an entry whose state is no longer known, because a write to
// it failed, so that the next look asks the broker.
func (s *snapshots[S]) forget(b *mqttv1.MQTTBroker, entry string) {
	s.update(b, func(sn *snapshot[S]) { sn.unknown[entry] = true })
}

func (s *snapshots[S]) update(b *mqttv1.MQTTBroker, f func(*snapshot[S])) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sn := s.byBroker[b.UID]; sn != nil {
		f(sn)
	}
}

// drop discards b's snapshot.
func (s *snapshots[S]) drop(uid types.UID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byBroker, uid)
}
