package controllers

import (
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// Options configure every reconciler.
type Options struct {
	// Factory builds broker API clients; tests inject their own.
	Factory broker.Factory
	// ResyncInterval is how often the broker is checked for drift.
	ResyncInterval time.Duration
	// BrokerTimeout bounds one broker API call, retries included.
	BrokerTimeout time.Duration
	// MaxConcurrentReconciles per kind.
	MaxConcurrentReconciles int
	// WaitInterval is how long to wait before looking again at an object
	// whose broker is not ready.
	WaitInterval time.Duration
}

func (o *Options) defaults() {
	if o.ResyncInterval <= 0 {
		o.ResyncInterval = 5 * time.Minute
	}
	if o.BrokerTimeout <= 0 {
		o.BrokerTimeout = 10 * time.Second
	}
	if o.MaxConcurrentReconciles <= 0 {
		o.MaxConcurrentReconciles = 4
	}
	if o.WaitInterval <= 0 {
		o.WaitInterval = 15 * time.Second
	}
}

// SetupAll registers the field indexes, the reconcilers and the drift
// scanner of every kind with mgr.
func SetupAll(mgr ctrl.Manager, o Options) error {
	o.defaults()
	if o.Factory == nil {
		return fmt.Errorf("controllers: a broker factory is required")
	}
	if err := registerIndexes(mgr); err != nil {
		return err
	}
	registerMetrics(mgr.GetClient())
	conns := newConnector(mgr.GetClient(), o)
	users := &MQTTUserReconciler{newBase(mgr, o, conns, "mqttuser-controller")}
	acls := &MQTTACLReconciler{newBase(mgr, o, conns, "mqttacl-controller")}
	bans := &MQTTBanReconciler{newBase(mgr, o, conns, "mqttban-controller")}
	brokers := &MQTTBrokerReconciler{Client: mgr.GetClient(), Options: o, conns: conns, recorder: mgr.GetEventRecorder("mqttbroker-controller")}
	for name, setup := range map[string]func(ctrl.Manager) error{
		"MQTTBroker": brokers.SetupWithManager, "MQTTUser": users.SetupWithManager,
		"MQTTACL": acls.SetupWithManager, "MQTTBan": bans.SetupWithManager,
	} {
		if err := setup(mgr); err != nil {
			return fmt.Errorf("setup %s controller: %w", name, err)
		}
	}
	scanner := &driftScanner{c: mgr.GetClient(), conns: conns, interval: o.ResyncInterval, users: users.drift, acls: acls.drift, bans: bans.drift}
	if err := mgr.Add(scanner); err != nil {
		return fmt.Errorf("add drift scanner: %w", err)
	}
	return nil
}
