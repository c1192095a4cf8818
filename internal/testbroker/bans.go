package testbroker

import (
	"math"
	"net/netip"
	"regexp"
	"sort"
)

// Ban kinds. The *_re and peerhost_net kinds exist since EMQX 5.6.
const (
	banClientID    = "clientid"
	banUsername    = "username"
	banPeerhost    = "peerhost"
	banClientIDRe  = "clientid_re"
	banUsernameRe  = "username_re"
	banPeerhostNet = "peerhost_net"
)

// infinity is the stored "until" of a ban that never expires.
const infinity = math.MaxInt64

type banKey struct {
	as  string
	who string
}

// ban is one banned entry. Times are epoch seconds, like both EMQX versions
// store them. atText/untilText keep a non-integer value a v4 client sent:
// EMQX 4 stores it unchecked, and because an Erlang binary sorts above every
// integer such a ban never expires and is never swept.
type ban struct {
	as, who   string
	by        string
	reason    string
	at        int64
	until     int64
	atText    any
	untilText any
	re        *regexp.Regexp
	net       netip.Prefix
}

// active reports whether the ban still refuses connections at now (seconds).
func (b *ban) active(now int64) bool {
	return b.untilText != nil || b.until > now
}

// putBan stores a ban, overwriting any entry with the same (as, who).
func (s *store) putBan(b ban) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bans[banKey{b.as, b.who}] = &b
}

// createBanIfInactive stores b unless an active ban with the same key exists,
// in which case it returns that ban (the v5 ALREADY_EXISTS case).
func (s *store) createBanIfInactive(b ban, now int64) (ban, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := banKey{b.as, b.who}
	if old, ok := s.bans[k]; ok && old.active(now) {
		return *old, false
	}
	s.bans[k] = &b
	return b, true
}

func (s *store) deleteBan(as, who string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := banKey{as, who}
	_, ok := s.bans[k]
	delete(s.bans, k)
	return ok
}

func (s *store) clearBans() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bans = map[banKey]*ban{}
}

// listBans returns all bans, ordered by kind and then who for stable pages.
func (s *store) listBans() []ban {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ban, 0, len(s.bans))
	for _, b := range s.bans {
		out = append(out, *b)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].as != out[j].as {
			return out[i].as < out[j].as
		}
		return out[i].who < out[j].who
	})
	return out
}

// sweepBans removes bans whose until lies in the past, like EMQX's periodic
// expiry job. It returns how many were removed.
func (s *store) sweepBans(now int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, b := range s.bans {
		if b.untilText == nil && b.until < now {
			delete(s.bans, k)
			n++
		}
	}
	return n
}

// bannedConnect returns the active ban that refuses a CONNECT, checking in
// EMQX's order: clientid, username, peerhost, then the pattern kinds.
func (s *store) bannedConnect(clientID, username string, hasUsername bool, peer netip.Addr, now int64) (ban, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	try := func(as, who string) (*ban, bool) {
		b, ok := s.bans[banKey{as, who}]
		if ok && b.active(now) {
			return b, true
		}
		return nil, false
	}
	if b, ok := try(banClientID, clientID); ok {
		return *b, true
	}
	if hasUsername {
		if b, ok := try(banUsername, username); ok {
			return *b, true
		}
	}
	if peer.IsValid() {
		if b, ok := try(banPeerhost, peer.String()); ok {
			return *b, true
		}
	}
	for _, b := range s.bans {
		if !b.active(now) {
			continue
		}
		switch b.as {
		case banClientIDRe:
			if b.re != nil && b.re.MatchString(clientID) {
				return *b, true
			}
		case banUsernameRe:
			if hasUsername && b.re != nil && b.re.MatchString(username) {
				return *b, true
			}
		case banPeerhostNet:
			if peer.IsValid() && b.net.IsValid() && b.net.Contains(peer.Unmap()) {
				return *b, true
			}
		}
	}
	return ban{}, false
}
