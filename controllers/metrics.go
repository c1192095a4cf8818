package controllers

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

var (
	brokerRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mqtt_operator_broker_requests_total",
		Help: "Broker management API requests by broker, operation and broker result code.",
	}, []string{"broker", "operation", "code"})
	brokerLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "mqtt_operator_broker_request_duration_seconds",
		Help:    "Latency of broker management API requests.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"broker", "operation"})
	driftCorrections = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mqtt_operator_drift_corrections_total",
		Help: "Objects put back on a broker after they were changed or lost there.",
	}, []string{"kind"})
	objectsDesc = prometheus.NewDesc("mqtt_operator_objects",
		"Objects by kind and status: ready (Ready at their generation), stalled (retrying cannot help), suspended (spec.suspend), progressing (anything else).",
		[]string{"kind", "status"}, nil)
	brokerReadyDesc = prometheus.NewDesc("mqtt_operator_broker_ready",
		"1 when the MQTTBroker is Ready (its API answers with valid credentials), or suspended after being Ready; else 0.", []string{"namespace", "name"}, nil)
)

// Object statuses of the mqtt_operator_objects gauge.
var objectStatuses = []string{"ready", "progressing", "stalled", "suspended"}

// objectStatus sorts an object into one of objectStatuses.
func objectStatus(o client.Object, st *mqttv1.CommonStatus) string {
	switch {
	case apimeta.IsStatusConditionTrue(st.Conditions, mqttv1.ConditionSuspended):
		return "suspended"
	case st.IsReady(o.GetGeneration()):
		return "ready"
	case apimeta.IsStatusConditionTrue(st.Conditions, mqttv1.ConditionStalled):
		return "stalled"
	}
	return "progressing"
}

func observeRequest(brokerName string, ev broker.RequestEvent) {
	brokerRequests.WithLabelValues(brokerName, ev.Operation, ev.Result).Inc()
	brokerLatency.WithLabelValues(brokerName, ev.Operation).Observe(ev.Duration.Seconds())
}

// objectCollector counts objects from the informer cache at scrape time, so
// the gauge never drifts from what the cluster holds.
type objectCollector struct{ reader client.Reader }

func (c objectCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- objectsDesc
	ch <- brokerReadyDesc
}

func (c objectCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lists := map[string]client.ObjectList{
		"MQTTBroker": &mqttv1.MQTTBrokerList{}, "MQTTUser": &mqttv1.MQTTUserList{},
		"MQTTACL": &mqttv1.MQTTACLList{}, "MQTTBan": &mqttv1.MQTTBanList{},
	}
	for kind, list := range lists {
		// The objects are only read, so the cache need not copy them.
		if err := c.reader.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
			continue
		}
		counts := map[string]float64{}
		for _, s := range objectStatuses {
			counts[s] = 0
		}
		_ = apimeta.EachListItem(list, func(o runtime.Object) error {
			obj := o.(client.Object)
			st := o.(mqttv1.StatusAccess).GetCommonStatus()
			counts[objectStatus(obj, st)]++
			if b, ok := o.(*mqttv1.MQTTBroker); ok {
				ready := 0.0
				if b.UsableByDependents() {
					ready = 1
				}
				ch <- prometheus.MustNewConstMetric(brokerReadyDesc, prometheus.GaugeValue, ready, b.Namespace, b.Name)
			}
			return nil
		})
		for s, n := range counts {
			ch <- prometheus.MustNewConstMetric(objectsDesc, prometheus.GaugeValue, n, kind, s)
		}
	}
}

var (
	metricsOnce sync.Once
	collectorMu sync.Mutex
	collectors  []prometheus.Collector
)

// registerMetrics adds the operator's metrics to controller-runtime's
// registry, which the manager serves. The collectors read the cache of the
// manager being set up (and its broker readings, nil when broker metrics
// are off), replacing an earlier manager's (tests run several in one
// process).
func registerMetrics(reader client.Reader, readings *brokerReadings) {
	metricsOnce.Do(func() {
		metrics.Registry.MustRegister(brokerRequests, brokerLatency, driftCorrections, eventsDropped)
		// Start every kind's series at zero so rate() and alerts see them
		// before the first repair.
		for _, kind := range []string{"MQTTUser", "MQTTACL", "MQTTBan"} {
			driftCorrections.WithLabelValues(kind)
		}
		eventsDropped.WithLabelValues(corev1.EventTypeNormal)
		eventsDropped.WithLabelValues(corev1.EventTypeWarning)
	})
	collectorMu.Lock()
	defer collectorMu.Unlock()
	for _, c := range collectors {
		metrics.Registry.Unregister(c)
	}
	collectors = []prometheus.Collector{objectCollector{reader: reader}}
	if readings != nil {
		collectors = append(collectors, brokerMetricsCollector{reader: reader, readings: readings})
	}
	for _, c := range collectors {
		metrics.Registry.MustRegister(c)
	}
}
