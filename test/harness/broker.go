package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/mqttoperator/mqtt-operator/internal/testbroker"
)

// The test broker's default management API credentials (AppID/AppSecret on
// v4, API key/secret on v5).
const (
	BrokerAppID     = "admin"
	BrokerAppSecret = "public"
)

// TestBrokerOptions configure StartTestBroker.
type TestBrokerOptions struct {
	// Bin is the testbroker binary.
	Bin string
	// LogPath receives its output.
	LogPath string
	// MQTTAddr and APIAddr default to free loopback ports.
	MQTTAddr, APIAddr string
	// Args are extra flags (see cmd/testbroker).
	Args []string
}

// TestBroker is the test broker running as a process.
type TestBroker struct {
	*Process
	opts              TestBrokerOptions
	mqttAddr, apiAddr string
	http              *http.Client
}

// StartTestBroker starts the test broker and waits for its API.
func StartTestBroker(ctx context.Context, o TestBrokerOptions) (*TestBroker, error) {
	b := &TestBroker{Process: NewProcess("testbroker", o.Bin, o.LogPath, nil), opts: o, http: &http.Client{Timeout: 30 * time.Second}}
	if err := b.pickAddrs(); err != nil {
		return nil, err
	}
	// A port the harness picked can be taken before the broker binds it,
	// as for the manager (see Manager.Start).
	auto := o.MQTTAddr == "" || o.APIAddr == ""
	if err := startOnOwnPorts(b.Process, auto, b.pickAddrs, func() error { return b.Start(ctx) }); err != nil {
		return nil, err
	}
	return b, nil
}

// pickAddrs chooses free ports for the addresses the options left empty.
func (b *TestBroker) pickAddrs() error {
	b.mqttAddr, b.apiAddr = b.opts.MQTTAddr, b.opts.APIAddr
	for _, a := range []*string{&b.mqttAddr, &b.apiAddr} {
		if *a == "" {
			addr, err := FreeAddr()
			if err != nil {
				return err
			}
			*a = addr
		}
	}
	b.args = append([]string{"--mqtt-addr", b.mqttAddr, "--api-addr", b.apiAddr}, b.opts.Args...)
	return nil
}

// Start (re)starts the process with the same flags and waits until it
// answers on its API and listens on both its addresses itself.
func (b *TestBroker) Start(ctx context.Context) error {
	if err := b.Process.Start(); err != nil {
		return err
	}
	err := waitHTTP(ctx, b.URL()+"/testbroker/", b.Process, 30*time.Second)
	if err == nil {
		err = waitListening(ctx, b.Process, 30*time.Second, b.apiAddr, b.mqttAddr)
	}
	if err != nil {
		_ = b.Kill()
		return err
	}
	return nil
}

// URL is the management API's base URL (for MQTTBroker spec.external.url).
func (b *TestBroker) URL() string { return "http://" + b.apiAddr }

// MQTTAddr is the MQTT listener's host:port.
func (b *TestBroker) MQTTAddr() string { return b.mqttAddr }

// APIAddr is the management API's host:port.
func (b *TestBroker) APIAddr() string { return b.apiAddr }

// Metrics scrapes /testbroker/metrics: testbroker_api_requests_total
// {api,method,route} and testbroker_stored_{users,rules,bans}.
func (b *TestBroker) Metrics(ctx context.Context) (Metrics, error) {
	return scrape(ctx, b.http, b.URL()+"/testbroker/metrics")
}

// Wipe drops every user, rule and ban, as a broker that lost its data.
func (b *TestBroker) Wipe(ctx context.Context) error {
	return b.control(ctx, http.MethodPost, "/wipe", nil)
}

// InjectFault queues a fault: the next f.Count API calls fail as f says
// (see testbroker.Fault).
func (b *TestBroker) InjectFault(ctx context.Context, f testbroker.Fault) error {
	return b.control(ctx, http.MethodPost, "/faults", f)
}

// ClearFaults drops the pending faults.
func (b *TestBroker) ClearFaults(ctx context.Context) error {
	return b.control(ctx, http.MethodDelete, "/faults", nil)
}

// SetLatency delays every API call by d (0 disables).
func (b *TestBroker) SetLatency(ctx context.Context, d time.Duration) error {
	return b.control(ctx, http.MethodPost, "/latency", map[string]string{"latency": d.String()})
}

// Outage closes the API listener for d, then reopens it on the same address.
func (b *TestBroker) Outage(ctx context.Context, d time.Duration) error {
	return b.control(ctx, http.MethodPost, "/api-outage", map[string]string{"duration": d.String()})
}

func (b *TestBroker) control(ctx context.Context, method, path string, body any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.URL()+"/testbroker"+path, rd)
	if err != nil {
		return err
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return fmt.Errorf("test broker %s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("test broker %s %s: %s %s", method, path, resp.Status, msg)
	}
	return nil
}
