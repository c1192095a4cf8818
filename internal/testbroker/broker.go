package testbroker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// nodeName is the single cluster node the double pretends to be.
const nodeName = "emqx@127.0.0.1"

// banSweepInterval is how often expired bans are removed, as in EMQX.
const banSweepInterval = time.Minute

// Options configures a Broker. Zero values select the documented defaults.
type Options struct {
	MQTTAddr                string        // default "127.0.0.1:0"
	APIAddr                 string        // default "127.0.0.1:0"
	AppID                   string        // default "admin"; also the v5 API key
	AppSecret               string        // default "public"; also the v5 API secret
	TLSCertFile, TLSKeyFile string        // optional TLS on the API
	AuthzCacheTTL           time.Duration // default time.Minute
	V5UserIDType            string        // "username" (default) or "clientid"
	Version4                string        // reported v4 broker version, default "4.4.19"
	Version5                string        // reported v5 broker version, default "5.8.9"
	Logger                  *slog.Logger  // nil = discard
}

func (o *Options) setDefaults() error {
	if o.MQTTAddr == "" {
		o.MQTTAddr = "127.0.0.1:0"
	}
	if o.APIAddr == "" {
		o.APIAddr = "127.0.0.1:0"
	}
	if o.AppID == "" {
		o.AppID = "admin"
	}
	if o.AppSecret == "" {
		o.AppSecret = "public"
	}
	if o.AuthzCacheTTL <= 0 {
		o.AuthzCacheTTL = time.Minute
	}
	switch o.V5UserIDType {
	case "":
		o.V5UserIDType = kindUsername
	case kindUsername, kindClientID:
	default:
		return fmt.Errorf("v5 user id type %q: must be username or clientid", o.V5UserIDType)
	}
	if o.Version4 == "" {
		o.Version4 = "4.4.19"
	}
	if o.Version5 == "" {
		o.Version5 = "5.8.9"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		return errors.New("tls: both a certificate and a key file are needed")
	}
	return nil
}

// Broker is a real MQTT broker plus an EMQX-compatible management API.
type Broker struct {
	opts     Options
	log      *slog.Logger
	now      func() time.Time
	started  time.Time
	store    *store
	metrics  *metrics
	prom     *promMetrics
	faults   faults
	sessions sessions
	statMax  statMax
	cluster  clusterState
	mqtt     *mqtt.Server
	tls      *tls.Config

	mu        sync.Mutex
	running   bool
	closed    bool
	mqttAddr  string
	apiAddr   string
	apiSrv    *http.Server
	apiDone   chan struct{}
	stopSweep chan struct{}
	sweepDone chan struct{}
}

// New validates the options and builds a broker; Start makes it listen.
func New(opts Options) (*Broker, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, fmt.Errorf("testbroker options: %w", err)
	}
	b := &Broker{opts: opts, log: opts.Logger, now: time.Now, metrics: newMetrics()}
	b.store = newStore(func() time.Time { return b.now() })
	b.prom = newPromMetrics(b.store)
	if opts.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(opts.TLSCertFile, opts.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("load api tls key pair: %w", err)
		}
		b.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	mqttLog := slog.New(redactPackets{opts.Logger.Handler()}).With("component", "mqtt")
	b.mqtt = mqtt.New(&mqtt.Options{InlineClient: true, Logger: mqttLog})
	if err := b.mqtt.AddHook(&hook{b: b}, nil); err != nil {
		return nil, fmt.Errorf("add mqtt hook: %w", err)
	}
	return b, nil
}

// Start opens the MQTT and API listeners and returns once both accept
// connections.
func (b *Broker) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running || b.closed {
		return errors.New("testbroker: already started")
	}
	ln, err := net.Listen("tcp", b.opts.MQTTAddr)
	if err != nil {
		return fmt.Errorf("listen mqtt: %w", err)
	}
	if err := b.mqtt.AddListener(listeners.NewNet("mqtt", ln)); err != nil {
		_ = ln.Close()
		return fmt.Errorf("add mqtt listener: %w", err)
	}
	if err := b.mqtt.Serve(); err != nil {
		_ = ln.Close()
		return fmt.Errorf("serve mqtt: %w", err)
	}
	b.mqttAddr = ln.Addr().String()
	b.apiAddr = b.opts.APIAddr
	b.started = b.now()
	if err := b.startAPILocked(); err != nil {
		_ = b.mqtt.Close()
		return err
	}
	b.running = true
	b.stopSweep, b.sweepDone = make(chan struct{}), make(chan struct{})
	go b.sweepLoop(b.stopSweep, b.sweepDone)
	b.log.Info("testbroker started", "mqtt", b.mqttAddr, "api", b.apiURLLocked())
	return nil
}

func (b *Broker) sweepLoop(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(banSweepInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			b.sweep()
		}
	}
}

// sweep removes expired bans and forgets states of vanished sessions.
func (b *Broker) sweep() {
	if n := b.store.sweepBans(b.now().Unix()); n > 0 {
		b.log.Debug("expired bans swept", "count", n)
	}
	b.sessions.prune(b.mqtt.Clients.GetAll())
}

// Close stops both listeners and disconnects every client.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	wasRunning := b.running
	b.running = false
	b.mu.Unlock()
	if !wasRunning {
		return nil
	}
	close(b.stopSweep)
	<-b.sweepDone
	apiErr := b.StopAPI()
	mqttErr := b.mqtt.Close()
	if err := errors.Join(apiErr, mqttErr); err != nil {
		return fmt.Errorf("close testbroker: %w", err)
	}
	return nil
}

// APIURL is the API base URL without /api/vN, e.g. "http://127.0.0.1:18083".
func (b *Broker) APIURL() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.apiURLLocked()
}

func (b *Broker) apiURLLocked() string {
	scheme := "http"
	if b.tls != nil {
		scheme = "https"
	}
	return scheme + "://" + b.apiAddr
}

// MQTTAddr is the MQTT listener's host:port.
func (b *Broker) MQTTAddr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mqttAddr
}

// InjectFault queues a fault; see Fault.
func (b *Broker) InjectFault(f Fault) { b.faults.add(f) }

// ClearFaults drops every pending fault.
func (b *Broker) ClearFaults() { b.faults.clear() }

// SetLatency delays every management API call by d (0 disables).
func (b *Broker) SetLatency(d time.Duration) { b.faults.setLatency(d) }

// StopAPI closes the API listener and its connections; MQTT keeps running.
func (b *Broker) StopAPI() error {
	b.mu.Lock()
	srv, done := b.apiSrv, b.apiDone
	b.apiSrv, b.apiDone = nil, nil
	b.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Close()
	<-done
	if err != nil {
		return fmt.Errorf("stop api: %w", err)
	}
	b.log.Info("api stopped")
	return nil
}

// StartAPI reopens the API listener on the address it had before.
func (b *Broker) StartAPI() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || !b.running {
		return errors.New("testbroker: not running")
	}
	if b.apiSrv != nil {
		return nil
	}
	return b.startAPILocked()
}

func (b *Broker) startAPILocked() error {
	ln, err := net.Listen("tcp", b.apiAddr)
	if err != nil {
		return fmt.Errorf("listen api: %w", err)
	}
	b.apiAddr = ln.Addr().String()
	if b.tls != nil {
		ln = tls.NewListener(ln, b.tls)
	}
	srv := &http.Server{
		Handler:           b,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(b.log.Handler(), slog.LevelDebug),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.log.Error("api server", "error", err)
		}
	}()
	b.apiSrv, b.apiDone = srv, done
	return nil
}

// Wipe drops every user, rule and ban, as a broker that lost its data.
// Connections stay up; their authorization caches are cleared.
func (b *Broker) Wipe() {
	b.store.wipe()
	b.clearAllAuthzCaches()
	b.log.Info("state wiped")
}
