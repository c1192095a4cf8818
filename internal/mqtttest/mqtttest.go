// Package mqtttest is the MQTT client of the tests, for tests that must
// prove what a broker enforces: who may connect, publish and subscribe, and
// what the broker reports about a session. It speaks MQTT 5 (paho), plus a
// bare MQTT 3.1.1 CONNECT for what only older clients show.
package mqtttest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// Timeout bounds every wait of the helpers that take a testing.TB.
const Timeout = 10 * time.Second

// Conn is a connected MQTT 5 client that records the messages it receives.
type Conn struct {
	client *paho.Client
	msgs   chan *paho.Publish
	disc   chan byte // reason code of a DISCONNECT the server sent
}

// ConnectError is a CONNECT the broker refused.
type ConnectError struct {
	ReasonCode byte
	Reason     string
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("connect refused: reason code %d %s", e.ReasonCode, e.Reason)
}

// Connect dials addr and sends CONNECT (clean start; username and password
// only when not empty); a refusal is a *ConnectError.
func Connect(ctx context.Context, addr, clientID, username, password string) (*Conn, error) {
	d := net.Dialer{Timeout: Timeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	c := &Conn{msgs: make(chan *paho.Publish, 100), disc: make(chan byte, 1)}
	c.client = paho.NewClient(paho.ClientConfig{
		Conn: nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			select {
			case c.msgs <- pr.Packet:
			default: // a test that stopped reading must not stall the client
			}
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) {
			select {
			case c.disc <- d.ReasonCode:
			default:
			}
		},
		OnClientError: func(error) {},
		PacketTimeout: Timeout,
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

// MustConnect connects or fails the test, and closes the connection when
// the test ends.
func MustConnect(t testing.TB, addr, clientID, username, password string) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	c, err := Connect(ctx, addr, clientID, username, password)
	if err != nil {
		t.Fatalf("connect %q as %q: %v", clientID, username, err)
	}
	t.Cleanup(c.Close)
	return c
}

// Refusal connects expecting the broker to refuse, and returns the CONNACK
// reason code. An accepted connection or a transport failure fails the test.
func Refusal(t testing.TB, addr, clientID, username, password string) byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	c, err := Connect(ctx, addr, clientID, username, password)
	if err == nil {
		c.Close()
		t.Fatalf("connect %q as %q: accepted, want a refusal", clientID, username)
	}
	var ce *ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("connect %q as %q: %v, want a refusal", clientID, username, err)
	}
	return ce.ReasonCode
}

// Subscribe subscribes to one filter at QoS 1 and returns the SUBACK
// reason code (0-1 granted QoS, 0x80 and above refused).
func (c *Conn) Subscribe(ctx context.Context, filter string) (byte, error) {
	sa, err := c.client.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}})
	if sa != nil && len(sa.Reasons) == 1 {
		return sa.Reasons[0], nil
	}
	if err != nil {
		return 0, fmt.Errorf("subscribe %q: %w", filter, err)
	}
	return 0, fmt.Errorf("subscribe %q: no reason code in SUBACK", filter)
}

// MustSubscribe is Subscribe that fails the test when no SUBACK comes.
func (c *Conn) MustSubscribe(t testing.TB, filter string) byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	rc, err := c.Subscribe(ctx, filter)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// Publish sends a QoS 0 message; a broker that denies it drops it silently.
func (c *Conn) Publish(ctx context.Context, topic string, payload []byte) error {
	_, err := c.client.Publish(ctx, &paho.Publish{Topic: topic, Payload: payload, QoS: 0})
	if err != nil {
		return fmt.Errorf("publish %q: %w", topic, err)
	}
	return nil
}

// PublishAck sends a QoS 1 message and returns the PUBACK reason code:
// 0 (or 0x10, no matching subscribers) accepted, 0x87 not authorized.
func (c *Conn) PublishAck(ctx context.Context, topic string, payload []byte) (byte, error) {
	return c.publishQoS1(ctx, &paho.Publish{Topic: topic, Payload: payload, QoS: 1})
}

// PublishRetained sends a QoS 1 message with the retain flag, which the
// broker keeps for later subscribers, and returns the PUBACK reason code.
func (c *Conn) PublishRetained(ctx context.Context, topic string, payload []byte) (byte, error) {
	return c.publishQoS1(ctx, &paho.Publish{Topic: topic, Payload: payload, QoS: 1, Retain: true})
}

func (c *Conn) publishQoS1(ctx context.Context, p *paho.Publish) (byte, error) {
	pr, err := c.client.Publish(ctx, p)
	if pr != nil {
		return pr.ReasonCode, nil
	}
	return 0, fmt.Errorf("publish %q: %w", p.Topic, err)
}

// MustPublish publishes at QoS 0 or 1 and returns the PUBACK reason code (0
// for QoS 0), failing the test when the message cannot be sent or, at QoS
// 1, no PUBACK comes.
func (c *Conn) MustPublish(t testing.TB, topic, payload string, qos byte) byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	var rc byte
	var err error
	if qos == 0 {
		err = c.Publish(ctx, topic, []byte(payload))
	} else {
		rc, err = c.PublishAck(ctx, topic, []byte(payload))
	}
	if err != nil {
		t.Fatal(err)
	}
	return rc
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

// Next returns the next message, failing the test after Timeout.
func (c *Conn) Next(t testing.TB) *paho.Publish {
	t.Helper()
	m, ok := c.Receive(Timeout)
	if !ok {
		t.Fatal("no message received")
	}
	return m
}

// Done is closed when the connection ends, e.g. after a kick.
func (c *Conn) Done() <-chan struct{} { return c.client.Done() }

// WaitClosed fails the test unless the broker ends the connection within
// Timeout.
func (c *Conn) WaitClosed(t testing.TB) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(Timeout):
		t.Fatal("connection not closed by the broker")
	}
}

// ServerDisconnect returns the reason code of a DISCONNECT the broker sent,
// if one has arrived.
func (c *Conn) ServerDisconnect() (byte, bool) {
	select {
	case rc := <-c.disc:
		return rc, true
	default:
		return 0, false
	}
}

// Disconnect sends a normal DISCONNECT.
func (c *Conn) Disconnect() error { return c.client.Disconnect(&paho.Disconnect{ReasonCode: 0}) }

// Close disconnects, ignoring errors.
func (c *Conn) Close() { _ = c.Disconnect() }

// Session311 is an MQTT 3.1.1 connection that only holds a session open:
// it cannot publish or subscribe. It exists for what brokers report about
// older clients, such as the session expiry of a clean session 0 client.
type Session311 struct{ nc net.Conn }

// Connect311 sends an MQTT 3.1.1 CONNECT without keep-alive; a refusal is a
// *ConnectError with the CONNACK return code.
func Connect311(ctx context.Context, addr, clientID, username, password string, cleanSession bool) (*Session311, error) {
	d := net.Dialer{Timeout: Timeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	var vh bytes.Buffer
	str := func(s string) {
		_ = binary.Write(&vh, binary.BigEndian, uint16(len(s)))
		vh.WriteString(s)
	}
	str("MQTT")
	vh.WriteByte(4) // protocol level 3.1.1
	var flags byte
	if cleanSession {
		flags |= 0x02
	}
	if username != "" {
		flags |= 0x80
	}
	if password != "" {
		flags |= 0x40
	}
	vh.Write([]byte{flags, 0, 0}) // keep-alive 0: no pings needed
	str(clientID)
	if username != "" {
		str(username)
	}
	if password != "" {
		str(password)
	}
	pkt := []byte{0x10}
	for n := vh.Len(); ; {
		b := byte(n % 128)
		if n /= 128; n > 0 {
			b |= 0x80
		}
		pkt = append(pkt, b)
		if n == 0 {
			break
		}
	}
	pkt = append(pkt, vh.Bytes()...)
	connack := make([]byte, 4)
	if _, err = nc.Write(pkt); err == nil {
		_, err = io.ReadFull(nc, connack)
	}
	if err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	if connack[0] != 0x20 || connack[3] != 0 {
		_ = nc.Close()
		return nil, &ConnectError{ReasonCode: connack[3]}
	}
	_ = nc.SetDeadline(time.Time{})
	return &Session311{nc: nc}, nil
}

// Close sends DISCONNECT and closes the connection.
func (s *Session311) Close() {
	_, _ = s.nc.Write([]byte{0xE0, 0})
	_ = s.nc.Close()
}
