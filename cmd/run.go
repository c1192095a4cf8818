package main

import (
	"context"
	"crypto/tls"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/controllers"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/drivers"
)

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(mqttv1.AddToScheme(s))
	return s
}

// metricsOptions serves metrics over HTTPS behind Kubernetes authentication
// and authorization unless --metrics-secure=false. HTTP/2 is not offered:
// the endpoint does not need it, and it avoids the HTTP/2 stream reset
// attacks (CVE-2023-44487, CVE-2023-39325).
func metricsOptions(o *options) metricsserver.Options {
	m := metricsserver.Options{BindAddress: o.metricsAddr, SecureServing: o.metricsSecure}
	if o.metricsSecure {
		m.FilterProvider = filters.WithAuthenticationAndAuthorization
		m.CertDir = o.metricsCertDir
		m.TLSOpts = []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }}
	}
	return m
}

// run builds the manager with every controller and blocks until ctx ends.
func run(ctx context.Context, cfg *rest.Config, o *options) error {
	return runWithFactory(ctx, cfg, o, drivers.NewFactory())
}

func runWithFactory(ctx context.Context, cfg *rest.Config, o *options, f broker.Factory) error {
	if err := o.validate(); err != nil {
		return err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS = float32(o.kubeAPIQPS)
	cfg.Burst = o.kubeAPIBurst
	cacheOpts := controllers.CacheOptions(o.namespaces())
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  newScheme(),
		Cache:                   cacheOpts,
		Metrics:                 metricsOptions(o),
		HealthProbeBindAddress:  o.probeAddr,
		PprofBindAddress:        o.pprofAddr,
		LeaderElection:          o.leaderElect,
		LeaderElectionID:        "mqtt-operator.mqtt.mqttoperator.io",
		LeaderElectionNamespace: o.leaderElectionNamespace,
		// The manager exits on losing the lease so a standby takes over cleanly.
		LeaderElectionReleaseOnCancel: true,
		Controller:                    config.Controller{SkipNameValidation: &o.skipNameValidation},
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	if err := controllers.SetupAll(mgr, controllers.Options{
		Factory:                 f,
		ResyncInterval:          o.resyncInterval,
		BrokerTimeout:           o.brokerTimeout,
		MaxConcurrentReconciles: o.maxConcurrentReconciles,
		BrokerConcurrency:       o.brokerConcurrency,
		MaxRetryDelay:           o.maxRetryDelay,
		BrokerMetricsInterval:   o.brokerMetricsInterval,
		EventRate:               o.eventRate,
	}); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("add health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("add ready check: %w", err)
	}
	ctrl.Log.WithName("setup").Info("starting manager", "resyncInterval", o.resyncInterval.String(), "maxConcurrentReconciles", o.maxConcurrentReconciles,
		"brokerMetricsInterval", o.brokerMetricsInterval.String(),
		"watchNamespaces", o.namespaces())
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("run manager: %w", err)
	}
	return nil
}
