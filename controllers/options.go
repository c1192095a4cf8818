package controllers

import (
	"fmt"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

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
	// MaxRetryDelay caps the exponential backoff after transient failures,
	// so an object whose broker comes back is retried within this long.
	MaxRetryDelay time.Duration
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
	if o.MaxRetryDelay <= 0 {
		o.MaxRetryDelay = time.Minute
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

// controllerOptions are the workqueue settings every controller uses: the
// default backoff starts at 5ms but grows to 16 minutes, far too long to
// notice a broker that is back, so it is capped at MaxRetryDelay.
func (o *Options) controllerOptions() controller.Options {
	return controller.Options{
		MaxConcurrentReconciles: o.MaxConcurrentReconciles,
		RateLimiter: workqueue.NewTypedMaxOfRateLimiter(
			workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](100*time.Millisecond, o.MaxRetryDelay),
			&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
		),
	}
}
