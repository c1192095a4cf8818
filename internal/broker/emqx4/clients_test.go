package emqx4

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/brokertest"
)

func TestClients(t *testing.T) {
	s := brokertest.NewServer(t)
	s.On(http.MethodGet, "/api/v4/clients/gone", brokertest.JSON(200, `{"code":0,"data":[]}`))
	s.On(http.MethodGet, "/api/v4/clients/c%2F1", brokertest.JSON(200, `{"code":0,"data":[
		{"node":"emqx@b","clientid":"c/1","username":"u","connected":false,"ip_address":"10.0.0.2","connected_at":"2024-01-02 03:04:05"},
		{"node":"emqx@a","clientid":"c/1","username":"u","connected":true,"ip_address":"10.0.0.1","connected_at":"2024-01-02 03:04:06"}]}`))
	s.On(http.MethodGet, "/api/v4/clients", brokertest.JSON(200, `{"code":0,"data":[
		{"node":"emqx@a","clientid":"x","username":"a+b c","connected":true,"ip_address":"::1","connected_at":1704164646}],
		"meta":{"page":1,"limit":10000,"count":-1,"hasnext":false}}`))
	s.On(http.MethodDelete, "/api/v4/clients/gone", brokertest.JSON(200, okBody))
	s.On(http.MethodDelete, "/api/v4/clients/old-broker", brokertest.JSON(200, `{"code":112,"message":"not_found"}`))
	s.On(http.MethodDelete, "/api/v4/clients/rpc", brokertest.JSON(200, `{"code":101,"message":"badrpc"}`))
	s.On(http.MethodDelete, "/api/v4/clients/gone/acl_cache", brokertest.JSON(200, `{"code":112,"message":"not_found"}`))
	s.On(http.MethodDelete, "/api/v4/clients/x/acl_cache", brokertest.JSON(200, okBody))
	c, _ := newTestClient(t, s)
	ctx := context.Background()

	_, err := c.GetClient(ctx, "gone")
	if diff := cmp.Diff(fields("GetClient", broker.ClassNotFound, "", 200, "NotFound"), brokertest.Fields(err)); diff != "" {
		t.Errorf("GetClient(gone) mismatch (-want +got):\n%s", diff)
	}
	got, err := c.GetClient(ctx, "c/1")
	if err != nil {
		t.Fatal(err)
	}
	want := broker.ClientInfo{ClientID: "c/1", Username: "u", Node: "emqx@a", Connected: true, IPAddress: "10.0.0.1", ConnectedAt: time.Date(2024, 1, 2, 3, 4, 6, 0, time.UTC)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetClient mismatch (-want +got):\n%s", diff)
	}
	list, err := c.ListClients(ctx, broker.ClientFilter{Username: "a+b c"})
	if err != nil {
		t.Fatal(err)
	}
	wantList := []broker.ClientInfo{{ClientID: "x", Username: "a+b c", Node: "emqx@a", Connected: true, IPAddress: "::1", ConnectedAt: time.Unix(1704164646, 0).UTC()}}
	if diff := cmp.Diff(wantList, list); diff != "" {
		t.Errorf("ListClients mismatch (-want +got):\n%s", diff)
	}
	errs := []brokertest.ErrorFields{
		brokertest.Fields(c.KickClient(ctx, "gone")),
		brokertest.Fields(c.KickClient(ctx, "old-broker")),
		brokertest.Fields(c.KickClient(ctx, "rpc")),
		brokertest.Fields(c.ClearAuthzCache(ctx, "gone")),
		brokertest.Fields(c.ClearAuthzCache(ctx, "x")),
	}
	wantErrs := []brokertest.ErrorFields{{}, {}, fields("KickClient", broker.ClassTransient, "101", 200, "RPCError"), {}, {}}
	if diff := cmp.Diff(wantErrs, errs); diff != "" {
		t.Errorf("kick/cache mismatch (-want +got):\n%s", diff)
	}
	var q string
	for _, r := range s.Requests() {
		if r.Path == "/api/v4/clients" {
			q = r.RawQuery
		}
	}
	if q != "_limit=10000&_page=1&username=a%2Bb+c" {
		t.Errorf("query = %q; + must be sent as %%2B", q)
	}
}
