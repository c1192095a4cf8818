package emqx4

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/brokertest"
)

func TestCreateBanBodies(t *testing.T) {
	s := brokertest.NewServer(t)
	s.On(http.MethodPost, "/api/v4/banned", brokertest.JSON(200, `{"code":0,"data":{}}`))
	c, _ := newTestClient(t, s)
	ctx := context.Background()
	until := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, b := range []broker.Ban{
		{As: broker.BanClientID, Who: "c1"},
		{As: broker.BanUsername, Who: "bob", Reason: "spam", By: "op", At: at, Until: until},
	} {
		if err := c.CreateBan(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	var got []map[string]any
	for _, r := range s.Requests() {
		var m map[string]any
		if err := json.Unmarshal([]byte(r.Body), &m); err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	want := []map[string]any{
		{"who": "c1", "as": "clientid", "reason": "", "until": float64(PermanentBanUntil)},
		{"who": "bob", "as": "username", "reason": "spam", "by": "op", "at": float64(at.Unix()), "until": float64(until.Unix())},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ban bodies mismatch (-want +got):\n%s", diff)
	}
	if s.Requests()[1].Body != `{"as":"username","at":1704067200,"by":"op","reason":"spam","until":1893553445,"who":"bob"}` {
		t.Errorf("times not sent as integers: %s", s.Requests()[1].Body)
	}
}

func TestBanErrorsAndDelete(t *testing.T) {
	s := brokertest.NewServer(t)
	s.On(http.MethodPost, "/api/v4/banned",
		brokertest.JSON(200, `{"code":108,"message":"value of 'as' must be one of: ['clientid', 'username', 'peerhost']"}`),
		brokertest.Text(500, "Internal Error"))
	s.On(http.MethodDelete, "/api/v4/banned/peerhost/::1", brokertest.JSON(200, okBody))
	s.On(http.MethodDelete, "/api/v4/banned/clientid/a%2Fb%20%23", brokertest.JSON(200, okBody))
	c, _ := newTestClient(t, s)
	ctx := context.Background()
	got := []brokertest.ErrorFields{
		brokertest.Fields(c.CreateBan(ctx, broker.Ban{As: "ip", Who: "x"})),
		brokertest.Fields(c.CreateBan(ctx, broker.Ban{As: broker.BanPeerHost, Who: "not-an-ip"})),
		brokertest.Fields(c.DeleteBan(ctx, broker.BanPeerHost, "::1")),
		brokertest.Fields(c.DeleteBan(ctx, broker.BanClientID, "a/b #")),
		brokertest.Fields(c.DeleteBan(ctx, broker.BanClientID, "")),
	}
	want := []brokertest.ErrorFields{
		fields("CreateBan", broker.ClassRejected, "108", 200, "ParameterError"),
		fields("CreateBan", broker.ClassTransient, "", 500, "Transient"),
		{}, {}, {},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors mismatch (-want +got):\n%s", diff)
	}
	if n := len(s.Requests()); n != 4 {
		t.Errorf("%d requests (a POST that failed with 500 must not be retried): %v", n, s.Calls())
	}
}

func TestListBans(t *testing.T) {
	s := brokertest.NewServer(t)
	s.OnFunc(http.MethodGet, "/api/v4/banned", func(r brokertest.Request) brokertest.Reply {
		if r.RawQuery == "_limit=2&_page=1" {
			return brokertest.JSON(200, `{"code":0,"data":[
				{"who":"c1","as":"clientid","reason":"r","by":"user","at":1700000000,"until":1700000300},
				{"who":"bob","as":"username","reason":"","by":"op","at":1700000000,"until":4102444800}],
				"meta":{"page":1,"limit":2,"count":3}}`)
		}
		return brokertest.JSON(200, `{"code":0,"data":[
			{"who":"10.0.0.1","as":"peerhost","reason":"x","by":"user","at":"garbage","until":"forever"}],
			"meta":{"page":2,"limit":2,"count":3}}`)
	})
	c, _ := newTestClient(t, s)
	c.pageSize = 2
	bans, err := c.ListBans(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []broker.Ban{
		{As: broker.BanClientID, Who: "c1", Reason: "r", By: "user", At: time.Unix(1700000000, 0).UTC(), Until: time.Unix(1700000300, 0).UTC()},
		{As: broker.BanUsername, Who: "bob", By: "op", At: time.Unix(1700000000, 0).UTC()},
		{As: broker.BanPeerHost, Who: "10.0.0.1", Reason: "x", By: "user"},
	}
	if diff := cmp.Diff(want, bans); diff != "" {
		t.Errorf("bans mismatch (-want +got):\n%s", diff)
	}
	if len(s.Requests()) != 2 {
		t.Errorf("calls: %v", s.Calls())
	}
}
