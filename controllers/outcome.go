package controllers

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// stallError means retrying cannot help until the spec or a referenced
// object changes; the object reports Stalled=True.
type stallError struct {
	reason string
	msg    string
	// requeue, when set, looks again after this long even so, for causes
	// outside Kubernetes (a broker's own configuration).
	requeue time.Duration
}

func (e *stallError) Error() string { return e.msg }

// waitError means a dependency is not ready yet; the object reports
// Reconciling=True and is looked at again after a while.
type waitError struct {
	reason string
	msg    string
	after  time.Duration
}

func (e *waitError) Error() string { return e.msg }

// doneError means there is nothing to do on the broker and the object is
// Ready for a reason of its own, such as a ban that has ended.
type doneError struct {
	reason string
	msg    string
}

func (e *doneError) Error() string { return e.msg }

func stalled(reason, format string, args ...any) error {
	return &stallError{reason: reason, msg: fmt.Sprintf(format, args...)}
}

func waiting(reason string, after time.Duration, format string, args ...any) error {
	return &waitError{reason: reason, after: after, msg: fmt.Sprintf(format, args...)}
}

// brokerErrorMessage renders a broker failure for a condition message:
// "broker code 115 (illegal topic): bad_topic".
func brokerErrorMessage(e *broker.Error) string {
	var s string
	if e.Code != "" {
		s = fmt.Sprintf("broker code %s (%s)", e.Code, broker.CodeName(e.Code))
	} else if e.HTTPStatus != 0 {
		s = fmt.Sprintf("broker answered HTTP %d", e.HTTPStatus)
	} else {
		s = "broker call failed"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil && e.Code == "" {
		s += ": " + e.Err.Error()
	}
	return s + " (" + e.Op + ")"
}

// brokerResultOf records a broker failure for status.brokerResult.
func brokerResultOf(e *broker.Error, now time.Time) *mqttv1.BrokerResult {
	code := e.Code
	if code == "" && e.HTTPStatus != 0 {
		code = fmt.Sprint(e.HTTPStatus)
	}
	return &mqttv1.BrokerResult{Code: code, Message: e.Message, Operation: e.Op, Time: metav1.NewTime(now)}
}

// successResult records a successful broker write.
func successResult(op string, now time.Time) *mqttv1.BrokerResult {
	return &mqttv1.BrokerResult{Code: "0", Message: "success", Operation: op, Time: metav1.NewTime(now)}
}

// classify turns a broker error into the stall, wait or transient error the
// summary understands.
func classify(err error, o *Options) error {
	be, ok := broker.AsError(err)
	if !ok {
		return err
	}
	switch be.Class {
	case broker.ClassRejected, broker.ClassUnsupported:
		reason := be.Reason()
		if be.Class == broker.ClassUnsupported {
			reason = mqttv1.ReasonUnsupported
		}
		return &stallError{reason: reason, msg: brokerErrorMessage(be)}
	case broker.ClassMisconfigured:
		return &stallError{reason: mqttv1.ReasonMisconfigured, msg: brokerErrorMessage(be), requeue: o.ResyncInterval}
	case broker.ClassUnauthorized:
		return &waitError{reason: mqttv1.ReasonUnauthorized, msg: "broker refused the API credentials: " + brokerErrorMessage(be), after: o.WaitInterval}
	default:
		return err
	}
}

// summarize writes Ready, Reconciling and Stalled from the reconcile's
// outcome and says how to requeue: a stall is terminal (or looked at again
// after a while when its cause is outside Kubernetes), a wait is looked at
// again after its interval, and any other error is retried with backoff.
// okMsg describes success. A successful object is not requeued: the drift
// scanner looks at the broker for it.
func summarize(st *mqttv1.CommonStatus, generation int64, err error, okMsg string) (ctrl.Result, error) {
	st.ObservedGeneration = generation
	set := func(t string, s metav1.ConditionStatus, reason, msg string) {
		apimeta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg, ObservedGeneration: generation})
	}
	var se *stallError
	var we *waitError
	var de *doneError
	switch {
	case err == nil || errors.As(err, &de):
		reason, msg := mqttv1.ReasonSucceeded, okMsg
		if de != nil {
			reason, msg = de.reason, de.msg
		}
		set(mqttv1.ConditionReady, metav1.ConditionTrue, reason, msg)
		apimeta.RemoveStatusCondition(&st.Conditions, mqttv1.ConditionReconciling)
		apimeta.RemoveStatusCondition(&st.Conditions, mqttv1.ConditionStalled)
		return ctrl.Result{}, nil
	case errors.As(err, &se):
		set(mqttv1.ConditionReady, metav1.ConditionFalse, se.reason, se.msg)
		set(mqttv1.ConditionStalled, metav1.ConditionTrue, se.reason, se.msg)
		apimeta.RemoveStatusCondition(&st.Conditions, mqttv1.ConditionReconciling)
		if se.requeue > 0 {
			return ctrl.Result{RequeueAfter: jitter(se.requeue)}, nil
		}
		return ctrl.Result{}, reconcile.TerminalError(err)
	case errors.As(err, &we):
		set(mqttv1.ConditionReady, metav1.ConditionFalse, we.reason, we.msg)
		set(mqttv1.ConditionReconciling, metav1.ConditionTrue, we.reason, we.msg)
		apimeta.RemoveStatusCondition(&st.Conditions, mqttv1.ConditionStalled)
		return ctrl.Result{RequeueAfter: jitter(we.after)}, nil
	default:
		reason, msg := mqttv1.ReasonProgressing, err.Error()
		be, isBroker := broker.AsError(err)
		if isBroker {
			reason, msg = mqttv1.ReasonUnreachable, brokerErrorMessage(be)
			if be.Code != "" {
				reason = be.Reason()
			}
		}
		set(mqttv1.ConditionReady, metav1.ConditionFalse, reason, msg)
		set(mqttv1.ConditionReconciling, metav1.ConditionTrue, reason, msg)
		apimeta.RemoveStatusCondition(&st.Conditions, mqttv1.ConditionStalled)
		if isBroker && be.RetryAfter > 0 {
			// The broker said when to come back: that, not backoff.
			return ctrl.Result{RequeueAfter: jitter(be.RetryAfter)}, nil
		}
		return ctrl.Result{}, err
	}
}

// jitter spreads resyncs over [d, 1.2d) so that many objects do not hit a
// broker at the same moment.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}
