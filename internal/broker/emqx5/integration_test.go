package emqx5

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/brokertest"
	"github.com/mqttoperator/mqtt-operator/internal/broker/brokertest/live"
	"github.com/mqttoperator/mqtt-operator/internal/mqtttest"
	"github.com/mqttoperator/mqtt-operator/internal/testbroker"
)

var traits = live.Traits{
	Version: broker.APIv5,
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
	UserKinds:            []broker.IdentityKind{broker.ByUsername},
	Superusers:           true,
	ExactRuleOrder:       true,
	ReportsNoSubscribers: true,
	BadTopicCode:         "reason_code:144",
}

// TestIntegration runs the conformance suite against the test broker's
// /api/v5 over real HTTP and MQTT.
func TestIntegration(t *testing.T) { live.Run(t, traits) }

// TestIntegrationClientIDAuthenticator checks a broker whose authenticator
// identifies users by client id.
func TestIntegrationClientIDAuthenticator(t *testing.T) {
	b := live.Start(t, "clientid")
	c, err := New(broker.Config{URL: b.APIURL() + "/api/v5/", Username: "admin", Password: "public"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.CreateUser(ctx, broker.UserSpec{Kind: broker.ByClientID, ID: "dev/1", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	if err := c.ReplaceRules(ctx, broker.Subject{Kind: broker.ByAll}, []broker.Rule{{Topic: "#", Action: broker.ActionAll, Permission: broker.Allow}}); err != nil {
		t.Fatal(err)
	}
	mqtttest.MustConnect(t, b.MQTTAddr(), "dev/1", "", "pw")
	users, err := c.ListUsers(ctx, broker.ByClientID)
	if err != nil || len(users) != 1 || users[0].ID != "dev/1" {
		t.Errorf("ListUsers = %v, %v", users, err)
	}
	_, err = c.GetUser(ctx, broker.ByUsername, "dev/1")
	got := []brokertest.ErrorFields{
		brokertest.Fields(c.CreateUser(ctx, broker.UserSpec{Kind: broker.ByUsername, ID: "bob", Password: "pw"})),
		brokertest.Fields(err),
		brokertest.Fields(c.DeleteUser(ctx, broker.ByUsername, "bob")),
	}
	want := []brokertest.ErrorFields{
		{Op: "CreateUser", Class: broker.ClassUnsupported, Reason: "Unsupported"},
		{Op: "GetUser", Class: broker.ClassUnsupported, Reason: "Unsupported"},
		{},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

// TestIntegrationV5Codes covers v5 error codes a fault can produce.
func TestIntegrationV5Codes(t *testing.T) {
	h := live.NewHarness(t, traits, 0, nil)
	ctx := context.Background()
	h.B.InjectFault(testbroker.Fault{Count: 3, HTTPStatus: 500, V5Code: "NODE_DOWN", Message: "node down"})
	_, err := h.C.ListBans(ctx)
	if diff := cmp.Diff(brokertest.ErrorFields{Op: "ListBans", Class: broker.ClassTransient, Code: "NODE_DOWN", HTTPStatus: 500, Reason: "NodeDown"}, brokertest.Fields(err)); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
	h.B.InjectFault(testbroker.Fault{Count: 1, HTTPStatus: 500, V5Code: "NODE_DOWN"})
	if _, err := h.C.ListRules(ctx, broker.ByClientID); err != nil {
		t.Errorf("ListRules after one NODE_DOWN: %v", err)
	}
	_, err = h.C.GetUser(ctx, broker.ByUsername, "ghost")
	if diff := cmp.Diff(brokertest.ErrorFields{Op: "GetUser", Class: broker.ClassNotFound, Code: "NOT_FOUND", HTTPStatus: 404, Reason: "NotFound"}, brokertest.Fields(err)); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}
