// Package mqtttest is a small MQTT 5 client for tests that must prove what a
// broker enforces: who may connect, publish and subscribe.
package mqtttest

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// Conn is a connected MQTT client that records the messages it receives.
type Conn struct {
	client *paho.Client
	msgs   chan *paho.Publish
}

// ConnectError is a CONNECT the broker refused.
type ConnectError struct {
	ReasonCode byte
	Reason     string
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("connect refused: reason code %d %s", e.ReasonCode, e.Reason)
}

// Connect dials addr and sends CONNECT; a refusal is a *ConnectError.
func Connect(ctx context.Context, addr, clientID, username, password string) (*Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	c := &Conn{msgs: make(chan *paho.Publish, 100)}
	c.client = paho.NewClient(paho.ClientConfig{
		Conn: nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			select {
			case c.msgs <- pr.Packet:
			default:
			}
			return true, nil
		}},
	})
	cp := &paho.Connect{ClientID: clientID, KeepAlive: 30, CleanStart: true}
	if username != "" {
		cp.Username, cp.UsernameFlag = username, true
	}
	if password != "" {
		cp.Password, cp.PasswordFlag = []byte(password), true
	}
	ca, err := c.client.Connect(ctx, cp)
	if err != nil {
		_ = nc.Close()
		if ca != nil {
			return nil, &ConnectError{ReasonCode: ca.ReasonCode, Reason: ca.Properties.ReasonString}
		}
		return nil, fmt.Errorf("connect: %w", err)
	}
	if ca.ReasonCode != 0 {
		_ = nc.Close()
		return nil, &ConnectError{ReasonCode: ca.ReasonCode}
	}
	return c, nil
}

// Subscribe subscribes to one filter and returns the SUBACK reason code
// (0-2 granted QoS, 0x80 and above refused).
func (c *Conn) Subscribe(ctx context.Context, filter string) (byte, error) {
	sa, err := c.client.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 0}}})
	if sa != nil && len(sa.Reasons) == 1 {
		return sa.Reasons[0], nil
	}
	if err != nil {
		return 0, fmt.Errorf("subscribe %q: %w", filter, err)
	}
	return 0, fmt.Errorf("subscribe %q: no reason code in SUBACK", filter)
}

// Publish sends a QoS 0 message; a broker that denies it drops it silently.
func (c *Conn) Publish(ctx context.Context, topic string, payload []byte) error {
	_, err := c.client.Publish(ctx, &paho.Publish{Topic: topic, Payload: payload, QoS: 0})
	if err != nil {
		return fmt.Errorf("publish %q: %w", topic, err)
	}
	return nil
}

// Receive waits up to timeout for the next message.
func (c *Conn) Receive(timeout time.Duration) (*paho.Publish, bool) {
	select {
	case m := <-c.msgs:
		return m, true
	case <-time.After(timeout):
		return nil, false
	}
}

// Done is closed when the connection ends, e.g. after a kick.
func (c *Conn) Done() <-chan struct{} { return c.client.Done() }

// Close disconnects.
func (c *Conn) Close() { _ = c.client.Disconnect(&paho.Disconnect{ReasonCode: 0}) }
