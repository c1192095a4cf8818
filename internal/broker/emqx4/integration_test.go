package emqx4

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/brokertest"
	"github.com/mqttoperator/mqtt-operator/internal/broker/brokertest/live"
	"github.com/mqttoperator/mqtt-operator/internal/testbroker"
)

var traits = live.Traits{
	Version: broker.APIv4,
	New: func(cfg broker.Config, pageSize int) (broker.Client, error) {
		c, err := New(cfg)
		if err != nil {
			return nil, err
		}
		if pageSize > 0 {
			c.pageSize = pageSize
		}
		return c, nil
	},
	UserKinds:            []broker.IdentityKind{broker.ByUsername, broker.ByClientID},
	BanUpsert:            true,
	PastBanAccepted:      true,
	ReportsNoSubscribers: false,
	BadTopicCode:         "115",
}

// TestIntegration runs the conformance suite against the test broker's
// /api/v4 over real HTTP and MQTT.
func TestIntegration(t *testing.T) { live.Run(t, traits) }

// TestIntegrationV4Codes covers what only v4 has: result codes in HTTP 200
// replies and the uncoded messages.
func TestIntegrationV4Codes(t *testing.T) {
	h := live.NewHarness(t, traits, 0, nil)
	ctx := context.Background()
	h.B.InjectFault(testbroker.Fault{Count: 1, V4Code: 101, Message: "badrpc"})
	if _, err := h.C.ListUsers(ctx, broker.ByUsername); err != nil {
		t.Errorf("ListUsers after one RPC error: %v", err)
	}
	h.B.InjectFault(testbroker.Fault{Count: 3, V4Code: 101, Message: "badrpc"})
	_, err := h.C.ListBans(ctx)
	got := []brokertest.ErrorFields{brokertest.Fields(err)}
	u := broker.UserSpec{Kind: broker.ByClientID, ID: "dup", Password: "pw"}
	h.Must(h.C.CreateUser(ctx, u))
	got = append(got,
		brokertest.Fields(h.C.CreateUser(ctx, u)),
		brokertest.Fields(h.C.UpdateUser(ctx, broker.UserSpec{Kind: broker.ByUsername, ID: "dup", Password: "pw"})),
		brokertest.Fields(h.C.CreateUser(ctx, broker.UserSpec{Kind: broker.ByUsername, ID: "nopw"})),
		brokertest.Fields(h.C.Subscribe(ctx, broker.SubscribeRequest{ClientID: "offline", Topic: "t"})),
	)
	want := []brokertest.ErrorFields{
		{Op: "ListBans", Class: broker.ClassTransient, Code: "101", HTTPStatus: 200, Reason: "RPCError"},
		{Op: "CreateUser", Class: broker.ClassAlreadyExists, HTTPStatus: 200, Reason: "UserExists"},
		{Op: "UpdateUser", Class: broker.ClassNotFound, HTTPStatus: 200, Reason: "UserNotFound"},
		{Op: "CreateUser", Class: broker.ClassRejected, HTTPStatus: 200, Reason: "ParameterError"},
		{Op: "Subscribe", Class: broker.ClassNotFound, Code: "112", HTTPStatus: 200, Reason: "ClientOffline"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors mismatch (-want +got):\n%s", diff)
	}
}
