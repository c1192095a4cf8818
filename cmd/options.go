package main

import (
	"flag"
	"fmt"
	"strings"
	"time"
)

// options are the manager's command-line settings.
type options struct {
	metricsAddr             string
	metricsSecure           bool
	metricsCertDir          string
	probeAddr               string
	pprofAddr               string
	leaderElect             bool
	leaderElectionNamespace string
	maxConcurrentReconciles int
	brokerConcurrency       int
	resyncInterval          time.Duration
	brokerTimeout           time.Duration
	kubeAPIQPS              float64
	kubeAPIBurst            int
	maxRetryDelay           time.Duration
	watchNamespaces         string
	printVersion            bool
	brokerMetricsInterval   time.Duration
	eventRate               float64
	// skipNameValidation lets tests run several managers in one process;
	// controller names are registered process-wide.
	skipNameValidation bool
}

// newFlagSet is a flag set that reports errors instead of exiting.
func newFlagSet() *flag.FlagSet { return flag.NewFlagSet("manager", flag.ContinueOnError) }

func bindFlags(fs *flag.FlagSet) *options {
	o := &options{}
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8443", "Address of the Prometheus metrics endpoint; 0 disables it.")
	fs.BoolVar(&o.metricsSecure, "metrics-secure", true, "Serve metrics over HTTPS to clients that present a Kubernetes token allowed to get /metrics (TokenReview and SubjectAccessReview); false serves plain HTTP to anyone.")
	fs.StringVar(&o.metricsCertDir, "metrics-cert-dir", "", "Directory with tls.crt and tls.key for the metrics endpoint, reloaded when they change; a self-signed certificate is generated when empty.")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints.")
	fs.StringVar(&o.pprofAddr, "pprof-bind-address", "", "Address of the Go profiler's /debug/pprof/ endpoints; empty (the default) disables them. Use a loopback address: profiles expose memory contents.")
	fs.BoolVar(&o.leaderElect, "leader-elect", false, "Elect a leader so that only one replica reconciles at a time.")
	fs.StringVar(&o.leaderElectionNamespace, "leader-election-namespace", "", "Namespace of the leader election Lease; defaults to the pod's namespace.")
	fs.IntVar(&o.maxConcurrentReconciles, "max-concurrent-reconciles", 16, "Reconciles run at once per kind (see docs/benchmarks.md for how the default was chosen).")
	fs.IntVar(&o.brokerConcurrency, "broker-concurrency", 8, "Reconciles calling one broker at once, across kinds, so that a slow broker cannot hold every worker.")
	fs.DurationVar(&o.resyncInterval, "resync-interval", 5*time.Minute, "How often a ready object is checked against the broker to repair drift (jittered).")
	fs.DurationVar(&o.maxRetryDelay, "max-retry-delay", time.Minute, "Longest backoff between retries after transient failures, such as an unreachable broker.")
	fs.DurationVar(&o.brokerTimeout, "broker-timeout", 10*time.Second, "Upper bound of one broker API call, retries included.")
	fs.Float64Var(&o.kubeAPIQPS, "kube-api-qps", 500, "Queries per second to the Kubernetes API. The API server's Priority and Fairness protects it; this only bounds the manager's own bursts.")
	fs.IntVar(&o.kubeAPIBurst, "kube-api-burst", 1000, "Burst of queries to the Kubernetes API.")
	fs.StringVar(&o.watchNamespaces, "watch-namespaces", "", "Comma-separated namespaces to watch; empty watches every namespace. With it set, the operator needs RBAC only in those namespaces.")
	fs.BoolVar(&o.printVersion, "version", false, "Print the version and exit.")
	fs.Float64Var(&o.eventRate, "event-rate", 20, "Events of each type (Normal, Warning) the manager sends per second on average, in bursts of ten seconds' worth; more are dropped and counted in mqtt_operator_events_dropped_total. 0 sends every Event.")
	fs.DurationVar(&o.brokerMetricsInterval, "broker-metrics-interval", time.Minute, "How often the leader reads every ready broker's metrics and stats and exports them as mqtt_broker_* series; 0 disables them.")
	return o
}

// validate refuses settings no flag parser catches.
func (o *options) validate() error {
	if o.eventRate < 0 {
		return fmt.Errorf("--event-rate must not be negative (0 sends every Event), got %v", o.eventRate)
	}
	if o.brokerMetricsInterval < 0 {
		return fmt.Errorf("--broker-metrics-interval must not be negative (0 disables broker metrics), got %s", o.brokerMetricsInterval)
	}
	return nil
}

// namespaces is --watch-namespaces as a list; nil means every namespace.
func (o *options) namespaces() []string {
	var out []string
	for _, ns := range strings.Split(o.watchNamespaces, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			out = append(out, ns)
		}
	}
	return out
}
