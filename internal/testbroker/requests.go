package testbroker

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// promMetrics is what GET /testbroker/metrics serves in the Prometheus text
// format: management API requests by API, method and route, and the size
// of the built-in database. Benchmarks and soaks read it to count the calls
// an operator makes (and its writes) from the broker's side, independently
// of what the operator reports about itself.
type promMetrics struct {
	requests *prometheus.CounterVec
	handler  http.Handler
}

func newPromMetrics(s *store) *promMetrics {
	reg := prometheus.NewRegistry()
	m := &promMetrics{requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "testbroker_api_requests_total",
		Help: "Management API requests that matched a route, by API (v4, v5), HTTP method and route pattern.",
	}, []string{"api", "method", "route"})}
	stored := func(kind, help string, count func() int) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "testbroker_stored_" + kind, Help: help,
		}, func() float64 { return float64(count()) })
	}
	reg.MustRegister(m.requests,
		stored("users", "Users in the built-in database (both identity namespaces).", s.userCount),
		stored("rules", "Authorization rules in the built-in database.", s.ruleCount),
		stored("bans", "Entries of the banned list, expired ones included until swept.", s.banCount))
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return m
}

// observe counts one request that matched the route pattern.
func (m *promMetrics) observe(api, method string, pattern []string) {
	m.requests.WithLabelValues(api, method, "/"+strings.Join(pattern, "/")).Inc()
}

func (s *store) userCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.users)
}

func (s *store) ruleCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, rs := range s.rules {
		n += len(rs.rules)
	}
	return n
}

func (s *store) banCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.bans)
}
