package controllers

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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
		"Objects by kind and Ready condition status.", []string{"kind", "ready"}, nil)
)

func observeRequest(brokerName string, ev broker.RequestEvent) {
	brokerRequests.WithLabelValues(brokerName, ev.Operation, ev.Result).Inc()
	brokerLatency.WithLabelValues(brokerName, ev.Operation).Observe(ev.Duration.Seconds())
}

// objectCollector counts objects from the informer cache at scrape time, so
// the gauge never drifts from what the cluster holds.
type objectCollector struct{ reader client.Reader }

func (c objectCollector) Describe(ch chan<- *prometheus.Desc) { ch <- objectsDesc }

func (c objectCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lists := map[string]client.ObjectList{
		"MQTTBroker": &mqttv1.MQTTBrokerList{}, "MQTTUser": &mqttv1.MQTTUserList{},
		"MQTTACL": &mqttv1.MQTTACLList{}, "MQTTBan": &mqttv1.MQTTBanList{},
	}
	for kind, list := range lists {
		if err := c.reader.List(ctx, list); err != nil {
			continue
		}
		counts := map[string]float64{"True": 0, "False": 0, "Unknown": 0}
		_ = apimeta.EachListItem(list, func(o runtime.Object) error {
			st := o.(mqttv1.StatusAccess).GetCommonStatus()
			ready := "Unknown"
			if c := st.ReadyCondition(); c != nil {
				ready = string(c.Status)
			}
			counts[ready]++
			return nil
		})
		for ready, n := range counts {
			ch <- prometheus.MustNewConstMetric(objectsDesc, prometheus.GaugeValue, n, kind, ready)
		}
	}
}

var (
	metricsOnce sync.Once
	collectorMu sync.Mutex
	collector   prometheus.Collector
)

// registerMetrics adds the operator's metrics to controller-runtime's
// registry, which the manager serves. The object gauge reads the cache of
// the manager being set up, replacing an earlier manager's (tests run
// several in one process).
func registerMetrics(reader client.Reader) {
	metricsOnce.Do(func() {
		metrics.Registry.MustRegister(brokerRequests, brokerLatency, driftCorrections)
		// Start every kind's series at zero so rate() and alerts see them
		// before the first repair.
		for _, kind := range []string{"MQTTUser", "MQTTACL", "MQTTBan"} {
			driftCorrections.WithLabelValues(kind)
		}
	})
	collectorMu.Lock()
	defer collectorMu.Unlock()
	if collector != nil {
		metrics.Registry.Unregister(collector)
	}
	collector = objectCollector{reader: reader}
	metrics.Registry.MustRegister(collector)
}
