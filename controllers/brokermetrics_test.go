package controllers

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/brokertest/live"
)

// distinctMetrics gives every field of broker.Metrics its own value (its
// index + 1), so a mapping that swaps or drops a field shows.
func distinctMetrics(t *testing.T) broker.Metrics {
	t.Helper()
	var m broker.Metrics
	v := reflect.ValueOf(&m).Elem()
	for i := range v.NumField() {
		v.Field(i).SetInt(int64(i + 1))
	}
	return m
}

// Every field of the summary is exported exactly once, gauges for the
// state now and _total counters for EMQX's counters, and shown in status.
func TestBrokerSeriesCoverEveryField(t *testing.T) {
	m := distinctMetrics(t)
	typ := reflect.TypeFor[broker.Metrics]()
	if len(brokerSeriesList) != typ.NumField() {
		t.Fatalf("%d series for %d fields of broker.Metrics", len(brokerSeriesList), typ.NumField())
	}
	for i, s := range brokerSeriesList {
		field := typ.Field(i).Name
		if got := s.value(&m); got != int64(i+1) {
			t.Errorf("series %d (%s) exports field %d, want %s", i, s.desc, got-1, field)
		}
		counter := strings.HasSuffix(field, "Failures") || strings.HasSuffix(field, "Denials") || strings.HasPrefix(field, "Messages")
		wantKind := prometheus.GaugeValue
		if counter {
			wantKind = prometheus.CounterValue
		}
		if s.kind != wantKind {
			t.Errorf("series for %s has type %v, want %v", field, s.kind, wantKind)
		}
		if name := s.desc.String(); counter != strings.Contains(name, `_total"`) {
			t.Errorf("%s: counters, and only counters, end in _total", name)
		}
	}
	want := &mqttv1.BrokerMetrics{Connections: 1, LiveConnections: 2, Sessions: 3, Subscriptions: 4, Topics: 5, RetainedMessages: 6,
		MessagesReceived: 7, MessagesSent: 8, MessagesDropped: 9, MessagesRetained: 10, AuthenticationFailures: 11, AuthorizationDenials: 12}
	if d := cmp.Diff(want, statusMetrics(m)); d != "" {
		t.Errorf("statusMetrics (-want +got):\n%s", d)
	}
}

// brokerSeries reads the registry the manager serves and returns the
// mqtt_broker_* values of one broker, by metric name, and their types.
func brokerSeriesOf(t *testing.T, namespace, name string) (map[string]float64, map[string]dto.MetricType) {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	values, types := map[string]float64{}, map[string]dto.MetricType{}
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "mqtt_broker_") {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["namespace"] != namespace || labels["name"] != name {
				continue
			}
			if len(labels) != 2 {
				t.Errorf("%s has labels %v, want namespace and name only", f.GetName(), labels)
			}
			types[f.GetName()] = f.GetType()
			switch f.GetType() {
			case dto.MetricType_GAUGE:
				values[f.GetName()] = m.GetGauge().GetValue()
			case dto.MetricType_COUNTER:
				values[f.GetName()] = m.GetCounter().GetValue()
			}
		}
	}
	return values, types
}

// A ready broker's metrics are exported as mqtt_broker_* series and shown
// in its status; MQTT traffic moves them; the series go when the broker
// stops being usable or is deleted.
func TestBrokerMetricsExported(t *testing.T) {
	for _, api := range apis {
		t.Run(string(api), func(t *testing.T) {
			e := newEnv(t, api)
			series := func() map[string]float64 {
				v, _ := brokerSeriesOf(t, e.ns, e.broker)
				return v
			}
			// A fresh broker: the series are there, at zero.
			e.g.Eventually(series, waitFor, 100*time.Millisecond).Should(gomega.HaveKeyWithValue("mqtt_broker_connections", 0.0))

			e.userWithPassword("dev", "dev-password")
			e.create(&mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{Name: "dev"}, Spec: mqttv1.MQTTACLSpec{BrokerRef: e.ref(),
				Subject: mqttv1.ACLSubject{Username: "dev"}, Rules: []mqttv1.ACLRule{rule("ok/#", mqttv1.ACLActionAll, mqttv1.ACLAllow)}}})
			e.waitReady(&mqttv1.MQTTACL{}, "dev")

			// Traffic that moves every value.
			m := live.MetricsTraffic(t, e.tb.MQTTAddr(), "dev", "dev-password")
			want := map[string]float64{
				"mqtt_broker_connections": float64(m.Connections), "mqtt_broker_live_connections": float64(m.LiveConnections),
				"mqtt_broker_sessions": float64(m.Sessions), "mqtt_broker_subscriptions": float64(m.Subscriptions),
				"mqtt_broker_topics": float64(m.Topics), "mqtt_broker_retained_messages": float64(m.RetainedMessages),
				"mqtt_broker_messages_received_total": float64(m.MessagesReceived), "mqtt_broker_messages_sent_total": float64(m.MessagesSent),
				"mqtt_broker_messages_dropped_total": float64(m.MessagesDropped), "mqtt_broker_messages_retained_total": float64(m.MessagesRetained),
				"mqtt_broker_authentication_failures_total": float64(m.AuthenticationFailures),
				"mqtt_broker_authorization_denials_total":   float64(m.AuthorizationDenials),
			}
			e.g.Eventually(series, waitFor, 100*time.Millisecond).Should(gomega.Equal(want))
			_, types := brokerSeriesOf(t, e.ns, e.broker)
			for name, typ := range types {
				if wantType := map[bool]dto.MetricType{true: dto.MetricType_COUNTER, false: dto.MetricType_GAUGE}[strings.HasSuffix(name, "_total")]; typ != wantType {
					t.Errorf("%s is a %v, want a %v", name, typ, wantType)
				}
			}

			// status.metrics shows the same summary after the next check.
			e.g.Eventually(func() *mqttv1.BrokerMetrics {
				b := &mqttv1.MQTTBroker{}
				if err := e.get(b, e.broker); err != nil {
					return nil
				}
				return b.Status.Metrics
			}, waitFor, 100*time.Millisecond).Should(gomega.Equal(&mqttv1.BrokerMetrics{
				Connections: m.Connections, LiveConnections: m.LiveConnections, Sessions: m.Sessions, Subscriptions: m.Subscriptions,
				Topics: m.Topics, RetainedMessages: m.RetainedMessages, MessagesReceived: m.MessagesReceived, MessagesSent: m.MessagesSent,
				MessagesDropped: m.MessagesDropped, MessagesRetained: m.MessagesRetained,
				AuthenticationFailures: m.AuthenticationFailures, AuthorizationDenials: m.AuthorizationDenials,
			}))

			// Credentials the broker refuses: the broker is not usable, and
			// its last values are not shown.
			secret := &corev1.Secret{}
			e.update(secret, "emqx-api", func() { secret.Data["password"] = []byte("not-the-secret") })
			e.condition(&mqttv1.MQTTBroker{}, e.broker, mqttv1.ConditionReady, metav1.ConditionFalse, "")
			e.g.Eventually(series, waitFor, 100*time.Millisecond).Should(gomega.BeEmpty())
			e.update(secret, "emqx-api", func() { secret.Data["password"] = []byte("public") })
			e.waitReady(&mqttv1.MQTTBroker{}, e.broker)
			e.g.Eventually(series, waitFor, 100*time.Millisecond).Should(gomega.HaveKeyWithValue("mqtt_broker_authentication_failures_total", 1.0))

			// Deleted: gone.
			e.deleteAndWait(&mqttv1.MQTTBroker{}, e.broker)
			e.g.Eventually(series, waitFor, 100*time.Millisecond).Should(gomega.BeEmpty())
		})
	}
}
