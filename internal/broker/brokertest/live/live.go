// Package live runs the broker drivers against internal/testbroker, a real
// MQTT broker that serves the EMQX v4 and v5 management APIs, over real
// HTTP and MQTT. It holds the conformance suite both drivers' integration
// tests run, with Traits for where the API versions legitimately differ.
package live

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/mqttoperator/mqtt-operator/internal/testbroker"
)

// waitFor bounds every wait on the broker.
const waitFor = 10 * time.Second

// Start runs a test broker until the test ends. userIDType is the v5
// authenticator's user_id_type ("" for username).
func Start(t *testing.T, userIDType string) *testbroker.Broker {
	t.Helper()
	b, err := testbroker.New(testbroker.Options{
		MQTTAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0",
		AppID: "admin", AppSecret: "public", V5UserIDType: userIDType,
	})
	if err != nil {
		t.Fatalf("new test broker: %v", err)
	}
	if err := b.Start(); err != nil {
		t.Fatalf("start test broker: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close test broker: %v", err)
		}
	})
	return b
}

// MQTT is a connected MQTT 5 client that records what it receives.
type MQTT struct {
	*paho.Client
	Msgs chan *paho.Publish
	Gone chan struct{} // closed when the connection ends
}

// Dial connects clientID with the given credentials (username "" sends
// none) and returns the CONNACK reason code with any error.
func Dial(t *testing.T, addr, clientID, username, password string) (*MQTT, byte, error) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, waitFor)
	if err != nil {
		t.Fatalf("dial mqtt: %v", err)
	}
	m := &MQTT{Msgs: make(chan *paho.Publish, 100), Gone: make(chan struct{})}
	m.Client = paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			m.Msgs <- pr.Packet
			return true, nil
		}},
		OnClientError:      func(error) {},
		OnServerDisconnect: func(*paho.Disconnect) {},
		PacketTimeout:      waitFor,
	})
	cp := &paho.Connect{ClientID: clientID, KeepAlive: 30, CleanStart: true}
	if username != "" {
		cp.Username, cp.UsernameFlag = username, true
	}
	if password != "" {
		cp.Password, cp.PasswordFlag = []byte(password), true
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	ca, err := m.Connect(ctx, cp)
	var code byte
	if ca != nil {
		code = ca.ReasonCode
	}
	if err != nil {
		_ = conn.Close()
		return nil, code, err
	}
	go func() {
		<-m.Done()
		close(m.Gone)
	}()
	t.Cleanup(func() { _ = m.Disconnect(&paho.Disconnect{}) })
	return m, code, nil
}

// MustDial is Dial that fails the test on a refused connection.
func MustDial(t *testing.T, addr, clientID, username, password string) *MQTT {
	t.Helper()
	m, code, err := Dial(t, addr, clientID, username, password)
	if err != nil {
		t.Fatalf("connect %q: %v (reason 0x%x)", clientID, err, code)
	}
	return m
}

// Sub subscribes to filter at QoS 1 and returns the SUBACK reason code.
func (m *MQTT) Sub(t *testing.T, filter string) byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	sa, err := m.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}})
	if sa == nil || len(sa.Reasons) == 0 {
		t.Fatalf("subscribe %q: %v", filter, err)
	}
	return sa.Reasons[0]
}

// Pub publishes at QoS 1; the error carries a refused PUBACK.
func (m *MQTT) Pub(t *testing.T, topic, payload string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, err := m.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(payload)})
	return err
}

// Next returns the next message received within d, or nil.
func (m *MQTT) Next(d time.Duration) *paho.Publish {
	select {
	case p := <-m.Msgs:
		return p
	case <-time.After(d):
		return nil
	}
}

// Eventually polls cond until it holds or waitFor passes.
func Eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
