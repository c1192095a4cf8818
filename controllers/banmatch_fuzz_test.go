package controllers

import (
	"testing"
	"time"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// v4PermanentUntil is what the v4 driver stores for a permanent ban, and
// the end from which it reads a ban back as permanent.
const v4PermanentUntil int64 = 4102444800

// v4RoundTrip is a ban as the v4 API hands it back after the driver wrote
// it: epoch seconds, permanent stored as 2100-01-01 and read back as zero.
func v4RoundTrip(b broker.Ban) broker.Ban {
	until := v4PermanentUntil
	if !b.Until.IsZero() {
		until = b.Until.Unix()
	}
	b.Until = time.Time{}
	if until < v4PermanentUntil {
		b.Until = time.Unix(until, 0).UTC()
	}
	return b
}

// v5RoundTrip is a ban as the v5 API hands it back: RFC 3339 to the
// second, "infinity" for a permanent one.
func v5RoundTrip(b broker.Ban) broker.Ban {
	if !b.Until.IsZero() {
		t, err := time.Parse(time.RFC3339, b.Until.UTC().Format(time.RFC3339))
		if err != nil {
			panic(err)
		}
		b.Until = t
	}
	return b
}

// fuzzTime maps fuzz integers onto 1970..2300, where bans live, with any
// sub-second part; zero means permanent.
func fuzzTime(sec, nsec int64, permanent bool) time.Time {
	if permanent {
		return time.Time{}
	}
	const span = int64(330 * 365 * 24 * 3600)
	s := sec % span
	if s < 0 {
		s += span
	}
	ns := nsec % int64(time.Second)
	if ns < 0 {
		ns += int64(time.Second)
	}
	return time.Unix(s+1, ns).UTC()
}

// FuzzBanMatches checks the properties that keep the ban reconciler from
// rewriting a ban forever or missing a change: banMatches is reflexive and
// symmetric, never matches across reasons, and matches a ban with what
// either API returns after the driver wrote it. Two bans with the same
// reason match exactly when their ends are within a second of each other,
// or both are permanent (an end from 2100 on counts as permanent).
func FuzzBanMatches(f *testing.F) {
	f.Add("r", "r", int64(1893456000), int64(0), int64(1893456000), int64(400_000_000), false, false)
	f.Add("r", "r", int64(0), int64(0), int64(0), int64(0), true, true)
	f.Add("old", "new", int64(1893456000), int64(0), int64(1893456000), int64(0), false, false)
	f.Add("", "", int64(7258118400), int64(0), int64(0), int64(0), false, true) // 2200 against permanent
	f.Add("r", "r", int64(1893456000), int64(999_999_999), int64(1893456001), int64(0), false, false)
	f.Fuzz(func(t *testing.T, ra, rb string, sa, na, sb, nb int64, pa, pb bool) {
		a := broker.Ban{As: broker.BanClientID, Who: "c", Reason: ra, Until: fuzzTime(sa, na, pa)}
		b := broker.Ban{As: broker.BanClientID, Who: "c", Reason: rb, Until: fuzzTime(sb, nb, pb)}
		if !banMatches(a, a) {
			t.Fatalf("a ban does not match itself: %+v", a)
		}
		m := banMatches(a, b)
		if m != banMatches(b, a) {
			t.Fatalf("banMatches is not symmetric: %+v %+v", a, b)
		}
		if ra != rb && m {
			t.Fatalf("bans with different reasons match: %q %q", ra, rb)
		}
		// What the reconciler writes (ends truncated to the second, as
		// banUntil does) must read back as a match, or every resync would
		// write it again.
		want := a
		if !want.Until.IsZero() {
			want.Until = want.Until.Truncate(time.Second)
		}
		for api, rt := range map[string]func(broker.Ban) broker.Ban{"v4": v4RoundTrip, "v5": v5RoundTrip} {
			if have := rt(want); !banMatches(have, want) {
				t.Fatalf("%s: the ban read back %v does not match the ban written %v", api, have.Until, want.Until)
			}
		}
		if ra == rb {
			far := time.Unix(v4PermanentUntil, 0)
			norm := func(t time.Time) time.Time {
				if !t.IsZero() && !t.Before(far) {
					return time.Time{}
				}
				return t
			}
			ua, ub := norm(a.Until), norm(b.Until)
			expect := ua.IsZero() && ub.IsZero()
			if !ua.IsZero() && !ub.IsZero() {
				d := ua.Sub(ub)
				expect = d < time.Second && d > -time.Second
			}
			if m != expect {
				t.Fatalf("banMatches(%v, %v) = %v, want %v", a.Until, b.Until, m, expect)
			}
		}
	})
}
