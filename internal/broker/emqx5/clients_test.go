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

func TestClients(t *testing.T) {
	notFound := brokertest.JSON(404, `{"code":"CLIENTID_NOT_FOUND","message":"Client ID not found"}`)
	s := brokertest.NewServer(t)
	s.On(http.MethodGet, "/api/v5/clients/c%2F1", brokertest.JSON(200, `{"clientid":"c/1","username":"u","node":"emqx@a","connected":true,"ip_address":"10.0.0.1","connected_at":"2024-01-02T03:04:05.123+00:00"}`))
	s.On(http.MethodGet, "/api/v5/clients/gone", notFound)
	s.On(http.MethodGet, "/api/v5/clients", brokertest.JSON(200, `{"data":[{"clientid":"x","username":"a+b","node":"n","connected":false}],"meta":{"page":1,"limit":1000,"hasnext":false}}`))
	s.On(http.MethodDelete, "/api/v5/clients/gone", notFound)
	s.On(http.MethodDelete, "/api/v5/clients/c%2F1", brokertest.Reply{Status: 204})
	s.On(http.MethodDelete, "/api/v5/clients/gone/authorization/cache", notFound)
	s.On(http.MethodDelete, "/api/v5/clients/c%2F1/authorization/cache", brokertest.Reply{Status: 204})
	c, _ := newTestClient(t, s)
	ctx := context.Background()
	got, err := c.GetClient(ctx, "c/1")
	if err != nil {
		t.Fatal(err)
	}
	want := broker.ClientInfo{ClientID: "c/1", Username: "u", Node: "emqx@a", Connected: true, IPAddress: "10.0.0.1", ConnectedAt: time.Date(2024, 1, 2, 3, 4, 5, 123e6, time.UTC)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetClient mismatch (-want +got):\n%s", diff)
	}
	_, errGone := c.GetClient(ctx, "gone")
	list, err := c.ListClients(ctx, broker.ClientFilter{ClientID: "x", Username: "a+b"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]broker.ClientInfo{{ClientID: "x", Username: "a+b", Node: "n"}}, list); diff != "" {
		t.Errorf("ListClients mismatch (-want +got):\n%s", diff)
	}
	errs := []brokertest.ErrorFields{
		brokertest.Fields(errGone),
		brokertest.Fields(c.KickClient(ctx, "gone")),
		brokertest.Fields(c.KickClient(ctx, "c/1")),
		brokertest.Fields(c.ClearAuthzCache(ctx, "gone")),
		brokertest.Fields(c.ClearAuthzCache(ctx, "c/1")),
	}
	wantErrs := []brokertest.ErrorFields{fields("GetClient", broker.ClassNotFound, "CLIENTID_NOT_FOUND", 404, "ClientIDNotFound"), {}, {}, {}, {}}
	if diff := cmp.Diff(wantErrs, errs); diff != "" {
		t.Errorf("errors mismatch (-want +got):\n%s", diff)
	}
	for _, r := range s.Requests() {
		if r.Path == "/api/v5/clients" && r.RawQuery != "clientid=x&limit=1000&page=1&username=a%2Bb" {
			t.Errorf("list query = %q", r.RawQuery)
		}
	}
}
