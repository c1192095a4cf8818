package controllers

import (
	"testing"
	"time"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

func TestBanMatches(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	ban := func(reason string, until time.Time) broker.Ban {
		return broker.Ban{As: broker.BanClientID, Who: "c", Reason: reason, Until: until}
	}
	cases := []struct {
		name       string
		have, want broker.Ban
		match      bool
	}{
		{"same end", ban("r", at), ban("r", at), true},
		{"sub-second difference", ban("r", at), ban("r", at.Add(400*time.Millisecond)), true},
		{"later end", ban("r", at), ban("r", at.Add(time.Minute)), false},
		{"reason changed", ban("old", at), ban("new", at), false},
		{"both permanent", ban("r", time.Time{}), ban("r", time.Time{}), true},
		{"permanent vs timed", ban("r", time.Time{}), ban("r", at), false},
		{"v4 reads a far end back as permanent", ban("r", time.Time{}), ban("r", time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)), true},
		{"v5 keeps a far end", ban("r", time.Date(2150, 1, 1, 0, 0, 0, 0, time.UTC)), ban("r", time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := banMatches(tc.have, tc.want); got != tc.match {
				t.Fatalf("banMatches = %v, want %v", got, tc.match)
			}
		})
	}
}
