package controllers

import (
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
)

var eventsDropped = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "mqtt_operator_events_dropped_total",
	Help: "Events not sent because the operator was over its Event budget (--event-rate), by type.",
}, []string{"type"})

// eventBudget bounds the Events the whole manager sends, per type, so that
// thousands of objects changing at once (a cold start, a broker that lost
// its data) cost the API server a bounded number of writes. Every Event is
// also the manager's memory until the API server has it: client-go's
// recorder holds a goroutine and a copy per Event and sends them at the
// client's rate. Events are best-effort in Kubernetes anyway; the object's
// conditions and the metrics carry the same facts, and what was left out
// is counted in mqtt_operator_events_dropped_total.
type eventBudget map[string]*rate.Limiter

// newEventBudget allows perSecond Events of each type on average, in bursts
// of up to ten seconds' worth; perSecond <= 0 means no bound.
func newEventBudget(perSecond float64) eventBudget {
	if perSecond <= 0 {
		return nil
	}
	burst := int(10 * perSecond)
	return eventBudget{
		corev1.EventTypeNormal:  rate.NewLimiter(rate.Limit(perSecond), burst),
		corev1.EventTypeWarning: rate.NewLimiter(rate.Limit(perSecond), burst),
	}
}

// recorder wraps r so that its Events draw on the budget.
func (b eventBudget) recorder(r events.EventRecorder) events.EventRecorder {
	if b == nil {
		return r
	}
	return budgetedRecorder{next: r, budget: b}
}

type budgetedRecorder struct {
	next   events.EventRecorder
	budget eventBudget
}

// Eventf sends the Event if the budget of its type allows it now.
func (r budgetedRecorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	if l := r.budget[eventtype]; l != nil && !l.Allow() {
		eventsDropped.WithLabelValues(eventtype).Inc()
		return
	}
	r.next.Eventf(regarding, related, eventtype, reason, action, note, args...)
}
