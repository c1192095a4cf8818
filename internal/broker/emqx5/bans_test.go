package emqx5

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/brokertest"
)

func TestBans(t *testing.T) {
	s := brokertest.NewServer(t)
	s.On(http.MethodPost, "/api/v5/banned",
		brokertest.JSON(200, `{"as":"clientid","who":"c1","by":"mgmt_api","reason":"","at":"2024-01-01T00:00:00Z","until":"infinity"}`),
		brokertest.JSON(200, `{}`),
		brokertest.JSON(400, `{"code":"ALREADY_EXISTS","message":"{\"who\":\"c1\",\"as\":\"clientid\"}"}`),
		brokertest.JSON(400, `{"code":"BAD_REQUEST","message":"Cannot create expired banned, 1 to 2"}`))
	s.On(http.MethodDelete, "/api/v5/banned/username/a%2Fb", brokertest.JSON(404, `{"code":"NOT_FOUND","message":"username: a/b not found"}`))
	s.On(http.MethodDelete, "/api/v5/banned/clientid/c1", brokertest.Reply{Status: 204})
	s.OnFunc(http.MethodGet, "/api/v5/banned", func(r brokertest.Request) brokertest.Reply {
		if r.RawQuery == "limit=2&page=1" {
			return brokertest.JSON(200, `{"data":[
				{"as":"clientid","who":"c1","by":"op","reason":"r","at":"2024-01-01T00:00:00Z","until":"infinity"},
				{"as":"username","who":"u","by":"op","reason":"","at":"2024-01-01T00:00:00+01:00","until":"2030-01-01T00:00:00Z"}],
				"meta":{"page":1,"limit":2,"count":3}}`)
		}
		return brokertest.JSON(200, `{"data":[{"as":"peerhost","who":"::1","by":"op","reason":"","at":1704067200,"until":1893456000000}],"meta":{"page":2,"limit":2,"count":3}}`)
	})
	c, _ := newTestClient(t, s)
	c.pageSize = 2
	ctx := context.Background()
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	until := time.Date(2030, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 3600))
	errs := []brokertest.ErrorFields{
		brokertest.Fields(c.CreateBan(ctx, broker.Ban{As: broker.BanClientID, Who: "c1"})),
		brokertest.Fields(c.CreateBan(ctx, broker.Ban{As: broker.BanUsername, Who: "u", Reason: "r", By: "op", At: at, Until: until})),
		brokertest.Fields(c.CreateBan(ctx, broker.Ban{As: broker.BanClientID, Who: "c1"})),
		brokertest.Fields(c.CreateBan(ctx, broker.Ban{As: broker.BanClientID, Who: "c2", Until: time.Unix(2, 0)})),
		brokertest.Fields(c.DeleteBan(ctx, broker.BanUsername, "a/b")),
		brokertest.Fields(c.DeleteBan(ctx, broker.BanClientID, "c1")),
	}
	wantErrs := []brokertest.ErrorFields{
		{}, {},
		fields("CreateBan", broker.ClassAlreadyExists, "ALREADY_EXISTS", 400, "AlreadyExists"),
		fields("CreateBan", broker.ClassRejected, "BAD_REQUEST", 400, "BadRequest"),
		{}, {},
	}
	if diff := cmp.Diff(wantErrs, errs); diff != "" {
		t.Errorf("errors mismatch (-want +got):\n%s", diff)
	}
	reqs := s.Requests()
	wantBodies := []string{
		`{"as":"clientid","reason":"","until":"infinity","who":"c1"}`,
		`{"as":"username","at":"2024-01-01T00:00:00Z","by":"op","reason":"r","until":"2029-12-31T23:00:00Z","who":"u"}`,
	}
	if diff := cmp.Diff(wantBodies, []string{reqs[0].Body, reqs[1].Body}); diff != "" {
		t.Errorf("bodies mismatch (-want +got):\n%s", diff)
	}
	bans, err := c.ListBans(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []broker.Ban{
		{As: broker.BanClientID, Who: "c1", By: "op", Reason: "r", At: at},
		{As: broker.BanUsername, Who: "u", By: "op", At: at.Add(-time.Hour), Until: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
		{As: broker.BanPeerHost, Who: "::1", By: "op", At: at, Until: time.UnixMilli(1893456000000).UTC()},
	}
	if diff := cmp.Diff(want, bans); diff != "" {
		t.Errorf("bans mismatch (-want +got):\n%s", diff)
	}
}
