package controllers

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

type countingRecorder map[string]int

func (c countingRecorder) Eventf(_, _ runtime.Object, eventtype, _, _, _ string, _ ...any) {
	c[eventtype]++
}

// A burst of Events beyond the budget is cut at ten seconds' worth, per
// type, and what was left out is counted; Warnings keep their own budget
// when Normal Events run out; no bound passes everything.
func TestEventBudget(t *testing.T) {
	got := countingRecorder{}
	rec := newEventBudget(20).recorder(got)
	droppedBefore := testutil.ToFloat64(eventsDropped.WithLabelValues(corev1.EventTypeNormal))
	for range 1000 {
		rec.Eventf(nil, nil, corev1.EventTypeNormal, "Created", "Create", "created")
	}
	rec.Eventf(nil, nil, corev1.EventTypeWarning, "Repaired", "Create", "put back")
	// The loop takes far less than a second: at most one more token.
	if n := got[corev1.EventTypeNormal]; n < 200 || n > 201 {
		t.Errorf("%d Normal Events sent of 1000, want the burst of 200", n)
	}
	if got[corev1.EventTypeWarning] != 1 {
		t.Errorf("the Warning was not sent after the Normal budget ran out: %v", got)
	}
	dropped := testutil.ToFloat64(eventsDropped.WithLabelValues(corev1.EventTypeNormal)) - droppedBefore
	if int(dropped)+got[corev1.EventTypeNormal] != 1000 {
		t.Errorf("%v Events counted as dropped, %d sent, of 1000", dropped, got[corev1.EventTypeNormal])
	}

	all := countingRecorder{}
	unbounded := newEventBudget(0).recorder(all)
	for range 1000 {
		unbounded.Eventf(nil, nil, corev1.EventTypeNormal, "Created", "Create", "created")
	}
	if all[corev1.EventTypeNormal] != 1000 {
		t.Errorf("without a bound %d of 1000 Events were sent", all[corev1.EventTypeNormal])
	}
}
