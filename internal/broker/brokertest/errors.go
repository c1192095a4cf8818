package brokertest

import (
	"sync"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// ErrorFields is the comparable part of a driver error.
type ErrorFields struct {
	Op         string
	Class      broker.Class
	Code       string
	HTTPStatus int
	Reason     string
}

// Fields extracts ErrorFields from err; a nil error gives the zero value
// and an error that is not a *broker.Error gives Class "not-a-broker-error".
func Fields(err error) ErrorFields {
	if err == nil {
		return ErrorFields{}
	}
	be, ok := broker.AsError(err)
	if !ok {
		return ErrorFields{Class: "not-a-broker-error"}
	}
	return ErrorFields{Op: be.Op, Class: be.Class, Code: be.Code, HTTPStatus: be.HTTPStatus, Reason: be.Reason()}
}

// Recorder collects RequestEvents from Config.Observe; use it by pointer.
type Recorder struct {
	mu     sync.Mutex
	events []broker.RequestEvent
}

// Observe is a Config.Observe function.
func (r *Recorder) Observe(e broker.RequestEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// Results returns "Operation=Result" of every event, in order.
func (r *Recorder) Results() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.events))
	for _, e := range r.events {
		out = append(out, e.Operation+"="+e.Result)
	}
	return out
}
