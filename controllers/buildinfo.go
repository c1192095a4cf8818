package controllers

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/mqttoperator/mqtt-operator/internal/version"
)

// newBuildInfo is the conventional info metric: always 1, the build in its
// labels, so dashboards can join on it and alerts can tell versions apart.
func newBuildInfo(i version.Info) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "mqtt_operator_build_info",
		Help: "Build of the running manager; always 1.",
		ConstLabels: prometheus.Labels{
			"version": i.Version, "commit": i.Commit, "date": i.Date, "goversion": i.GoVersion,
		},
	})
	g.Set(1)
	return g
}

var buildInfoOnce sync.Once

// registerBuildInfo adds mqtt_operator_build_info to controller-runtime's
// registry once per process.
func registerBuildInfo() {
	buildInfoOnce.Do(func() { metrics.Registry.MustRegister(newBuildInfo(version.Get())) })
}
