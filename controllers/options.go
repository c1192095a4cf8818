package controllers

import (
	"fmt"
	"strings"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
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
	// BrokerConcurrency bounds the reconciles calling one broker at once,
	// across kinds.
	BrokerConcurrency int
	// WaitInterval is how long to wait before looking again at an object
	// whose broker is not ready.
	WaitInterval time.Duration
	// MaxRetryDelay caps the exponential backoff after transient failures,
	// so an object whose broker comes back is retried within this long.
	MaxRetryDelay time.Duration
	// BrokerMetricsInterval is how often every usable broker's metrics are
	// read and exported as mqtt_broker_* series; 0 turns that off.
	BrokerMetricsInterval time.Duration
	// EventRate is how many Events of each type (Normal, Warning) the
	// manager sends per second on average, in bursts of ten seconds'
	// worth; 0 means no bound.
	EventRate float64
	// Clock tells the time; tests inject a fake one to expire bans
	// without waiting.
	Clock clock.Clock
}

func (o *Options) defaults() {
	if o.ResyncInterval <= 0 {
		o.ResyncInterval = 5 * time.Minute
	}
	if o.BrokerTimeout <= 0 {
		o.BrokerTimeout = 10 * time.Second
	}
	if o.MaxConcurrentReconciles <= 0 {
		o.MaxConcurrentReconciles = 16
	}
	if o.BrokerConcurrency <= 0 {
		o.BrokerConcurrency = 8
	}
	if o.WaitInterval <= 0 {
		o.WaitInterval = 15 * time.Second
	}
	if o.MaxRetryDelay <= 0 {
		o.MaxRetryDelay = time.Minute
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
}

// snapshotTTL is how long a list of a broker answers for it. The drift
// scanner refreshes the lists every resync interval, so that is the bound.
func (o *Options) snapshotTTL() time.Duration { return o.ResyncInterval }

// SetupAll registers the field indexes, the reconcilers and the drift
// scanner of every kind with mgr.
func SetupAll(mgr ctrl.Manager, o Options) error {
	o.defaults()
	if o.Factory == nil {
		return fmt.Errorf("controllers: a broker factory is required")
	}
	var readings *brokerReadings
	if o.BrokerMetricsInterval > 0 {
		readings = newBrokerReadings()
	}
	registerMetrics(mgr.GetClient(), readings)
	registerBuildInfo()
	conns := newConnector(mgr.GetClient(), mgr.GetAPIReader(), o)
	budget := newEventBudget(o.EventRate)
	depsFor := func(name string) deps {
		return deps{Client: mgr.GetClient(), Options: o, conns: conns, recorder: budget.recorder(mgr.GetEventRecorder(name))}
	}
	users := newUserReconciler(depsFor("mqttuser-controller"))
	acls := newACLReconciler(depsFor("mqttacl-controller"))
	bans := newBanReconciler(depsFor("mqttban-controller"))
	brokers := &MQTTBrokerReconciler{Client: mgr.GetClient(), Options: o, conns: conns, recorder: budget.recorder(mgr.GetEventRecorder("mqttbroker-controller")),
		readings: readings}
	for name, setup := range map[string]func(ctrl.Manager) error{
		"MQTTBroker": brokers.SetupWithManager, "MQTTUser": users.SetupWithManager,
		"MQTTACL": acls.SetupWithManager, "MQTTBan": bans.SetupWithManager,
	} {
		if err := setup(mgr); err != nil {
			return fmt.Errorf("setup %s controller: %w", name, err)
		}
	}
	scanner := &driftScanner{c: mgr.GetClient(), conns: conns, interval: o.ResyncInterval, kinds: []driftSource{users, acls, bans}}
	if err := mgr.Add(scanner); err != nil {
		return fmt.Errorf("add drift scanner: %w", err)
	}
	if readings != nil {
		g := &brokerMetricsGatherer{c: mgr.GetClient(), conns: conns, interval: o.BrokerMetricsInterval, readings: readings}
		if err := mgr.Add(g); err != nil {
			return fmt.Errorf("add broker metrics gatherer: %w", err)
		}
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

// lowerName is a kind's controller name: MQTTUser → mqttuser.
func lowerName(kind string) string { return strings.ToLower(kind) }

// itemPointers points into a list's items, so the generic code can work
// with the kind's pointer type.
func itemPointers[E any](items []E) []*E {
	out := make([]*E, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}
