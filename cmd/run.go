package main

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
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
	cacheOpts, err := controllers.CacheOptions(o.namespaces())
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  newScheme(),
		Cache:                   cacheOpts,
		Metrics:                 metricsserver.Options{BindAddress: o.metricsAddr},
		HealthProbeBindAddress:  o.probeAddr,
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
