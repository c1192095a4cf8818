package controllers

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// brokerSeries is one mqtt_broker_* series: a field of broker.Metrics,
// labelled with the MQTTBroker's namespace and name.
type brokerSeries struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(*broker.Metrics) int64
}

func gauge(name, help string, value func(*broker.Metrics) int64) brokerSeries {
	return brokerSeries{prometheus.NewDesc(name, help, []string{"namespace", "name"}, nil), prometheus.GaugeValue, value}
}

// counter is one of EMQX's cumulative counters, exported as read: it
// restarts from zero with a broker node, which rate() and increase()
// handle as a counter reset.
func counter(name, help string, value func(*broker.Metrics) int64) brokerSeries {
	return brokerSeries{prometheus.NewDesc(name, help, []string{"namespace", "name"}, nil), prometheus.CounterValue, value}
}

// brokerSeriesList is every series exported for a broker, in the order of
// broker.Metrics. docs/metrics.md describes each.
var brokerSeriesList = []brokerSeries{
	gauge("mqtt_broker_connections", "Client channels of the broker, including those of disconnected sessions it keeps (EMQX connections.count, summed over nodes).",
		func(m *broker.Metrics) int64 { return m.Connections }),
	gauge("mqtt_broker_live_connections", "Clients connected to the broker now (EMQX live_connections.count, summed over nodes).",
		func(m *broker.Metrics) int64 { return m.LiveConnections }),
	gauge("mqtt_broker_sessions", "Sessions on the broker, connected or kept (EMQX sessions.count, summed over nodes).",
		func(m *broker.Metrics) int64 { return m.Sessions }),
	gauge("mqtt_broker_subscriptions", "Subscriptions on the broker, shared ones included (EMQX subscriptions.count, summed over nodes).",
		func(m *broker.Metrics) int64 { return m.Subscriptions }),
	gauge("mqtt_broker_topics", "Topics with at least one subscriber in the broker's route table (EMQX topics.count, cluster-wide).",
		func(m *broker.Metrics) int64 { return m.Topics }),
	gauge("mqtt_broker_retained_messages", "Retained messages the broker stores (EMQX retained.count, cluster-wide).",
		func(m *broker.Metrics) int64 { return m.RetainedMessages }),
	counter("mqtt_broker_messages_received_total", "Messages the broker received from clients (EMQX messages.received).",
		func(m *broker.Metrics) int64 { return m.MessagesReceived }),
	counter("mqtt_broker_messages_sent_total", "Messages the broker sent to clients (EMQX messages.sent).",
		func(m *broker.Metrics) int64 { return m.MessagesSent }),
	counter("mqtt_broker_messages_dropped_total", "Messages the broker dropped: no subscriber, not authorized, queue full or expired (EMQX messages.dropped).",
		func(m *broker.Metrics) int64 { return m.MessagesDropped }),
	counter("mqtt_broker_messages_retained_total", "Messages the broker received with the retain flag (EMQX messages.retained).",
		func(m *broker.Metrics) int64 { return m.MessagesRetained }),
	counter("mqtt_broker_authentication_failures_total", "Connections the broker refused because authentication failed (EMQX 5 authentication.failure, EMQX 4 client.auth.failure).",
		func(m *broker.Metrics) int64 { return m.AuthenticationFailures }),
	counter("mqtt_broker_authorization_denials_total", "Publishes and subscriptions the broker's authorization denied (EMQX 5 authorization.deny, EMQX 4 client.acl.deny).",
		func(m *broker.Metrics) int64 { return m.AuthorizationDenials }),
}

// statusMetrics is the summary MQTTBroker.status.metrics shows.
func statusMetrics(m broker.Metrics) *mqttv1.BrokerMetrics {
	return &mqttv1.BrokerMetrics{
		Connections: m.Connections, LiveConnections: m.LiveConnections, Sessions: m.Sessions,
		Subscriptions: m.Subscriptions, Topics: m.Topics, RetainedMessages: m.RetainedMessages,
		MessagesReceived: m.MessagesReceived, MessagesSent: m.MessagesSent, MessagesDropped: m.MessagesDropped,
		MessagesRetained: m.MessagesRetained, AuthenticationFailures: m.AuthenticationFailures,
		AuthorizationDenials: m.AuthorizationDenials,
	}
}

// brokerReading is the last summary read from one broker. The UID keeps a
// broker deleted and created again under its name from showing the old
// one's values.
type brokerReading struct {
	uid     types.UID
	metrics broker.Metrics
}

// brokerReadings holds the last reading of each broker, written by the
// gatherer (and by the broker reconciler's check, which reads the same
// summary) and read at scrape time. A nil *brokerReadings is the feature
// switched off: it records nothing.
type brokerReadings struct {
	mu sync.Mutex
	m  map[types.NamespacedName]brokerReading
}

func newBrokerReadings() *brokerReadings {
	return &brokerReadings{m: map[types.NamespacedName]brokerReading{}}
}

func (r *brokerReadings) record(b *mqttv1.MQTTBroker, m broker.Metrics) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[client.ObjectKeyFromObject(b)] = brokerReading{uid: b.UID, metrics: m}
}

func (r *brokerReadings) forget(key types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, key)
}

// keepOnly drops the readings of brokers not in keep.
func (r *brokerReadings) keepOnly(keep map[types.NamespacedName]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.m {
		if !keep[k] {
			delete(r.m, k)
		}
	}
}

// of returns the broker's reading, if it is of this very broker.
func (r *brokerReadings) of(b *mqttv1.MQTTBroker) (broker.Metrics, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rd, ok := r.m[client.ObjectKeyFromObject(b)]
	if !ok || rd.uid != b.UID {
		return broker.Metrics{}, false
	}
	return rd.metrics, true
}

// metricsExported is whether a broker's series are exported: the same test
// as the drift scanner's, so a broker that is deleted or stops being usable
// loses its series at the next scrape instead of showing stale values.
func metricsExported(b *mqttv1.MQTTBroker) bool {
	return b.UsableByDependents() && b.DeletionTimestamp.IsZero()
}

// brokerMetricsCollector exports the readings of the brokers usable now.
type brokerMetricsCollector struct {
	reader   client.Reader
	readings *brokerReadings
}

func (c brokerMetricsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, s := range brokerSeriesList {
		ch <- s.desc
	}
}

func (c brokerMetricsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var brokers mqttv1.MQTTBrokerList
	if err := c.reader.List(ctx, &brokers, client.UnsafeDisableDeepCopy); err != nil {
		return
	}
	for i := range brokers.Items {
		b := &brokers.Items[i]
		if !metricsExported(b) {
			continue
		}
		m, ok := c.readings.of(b)
		if !ok {
			continue
		}
		for _, s := range brokerSeriesList {
			ch <- prometheus.MustNewConstMetric(s.desc, s.kind, float64(s.value(&m)), b.Namespace, b.Name)
		}
	}
}

// brokerMetricsGatherer reads every usable broker's metrics and stats once
// per interval through its management API. Only the leader gathers (it
// already holds the connections), so only the leader exports mqtt_broker_*
// series. It never writes status: the broker reconciler updates
// status.metrics once per resync interval, when it checks the broker.
type brokerMetricsGatherer struct {
	c        client.Reader
	conns    *connector
	interval time.Duration
	readings *brokerReadings
}

// gatherConcurrency bounds the brokers read at once, so that a few slow
// brokers do not delay every other one's reading by their timeouts.
const gatherConcurrency = 8

// NeedLeaderElection: only the leader gathers.
func (g *brokerMetricsGatherer) NeedLeaderElection() bool { return true }

// Start gathers until ctx ends, at a fixed interval (no jitter: rate()
// over evenly spaced readings is smoother).
func (g *brokerMetricsGatherer) Start(ctx context.Context) error {
	t := time.NewTicker(g.interval)
	defer t.Stop()
	for {
		g.gatherAll(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (g *brokerMetricsGatherer) gatherAll(ctx context.Context) {
	logger := log.FromContext(ctx).WithName("broker-metrics")
	var brokers mqttv1.MQTTBrokerList
	if err := g.c.List(ctx, &brokers); err != nil {
		logger.Error(err, "list MQTTBrokers")
		return
	}
	keep := map[types.NamespacedName]bool{}
	var eg errgroup.Group
	eg.SetLimit(gatherConcurrency)
	for i := range brokers.Items {
		b := &brokers.Items[i]
		if !metricsExported(b) {
			continue
		}
		key := client.ObjectKeyFromObject(b)
		keep[key] = true
		if g.conns.pausedFor(b) > 0 {
			// The broker asked to be left alone: the last reading stays.
			continue
		}
		eg.Go(func() error {
			cl, err := g.conns.clientFor(ctx, b)
			if err == nil {
				cctx, cancel := context.WithTimeout(ctx, g.conns.callTimeout())
				var m broker.Metrics
				m, err = cl.Metrics(cctx)
				cancel()
				if err == nil {
					g.readings.record(b, m)
					return nil
				}
			}
			// No value is better than a stale one; the failed call is
			// counted in mqtt_operator_broker_requests_total.
			g.readings.forget(key)
			logger.Info("reading broker metrics failed", "broker", key.String(), "error", err.Error())
			return nil
		})
	}
	_ = eg.Wait()
	g.readings.keepOnly(keep)
}
