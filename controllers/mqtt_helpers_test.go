package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/mqttoperator/mqtt-operator/internal/mqtttest"
)

// connect tries an MQTT connection to the env's test broker.
func (e *env) connect(clientID, username, password string) (*mqtttest.Conn, error) {
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	return mqtttest.Connect(ctx, e.tb.MQTTAddr(), clientID, username, password)
}

// canConnect reports whether a connection is accepted; a refusal is false,
// any other failure fails the test.
func (e *env) canConnect(clientID, username, password string) bool {
	e.t.Helper()
	c, err := e.connect(clientID, username, password)
	if err == nil {
		c.Close()
		return true
	}
	var ce *mqtttest.ConnectError
	if !errors.As(err, &ce) {
		e.t.Fatalf("connect %s: %v", clientID, err)
	}
	return false
}

// eventuallyConnects waits until connecting gives the wanted answer.
func (e *env) eventuallyConnects(clientID, username, password string, want bool) {
	e.t.Helper()
	e.g.Eventually(func() bool { return e.canConnect(clientID, username, password) }, waitFor, 200*time.Millisecond).
		Should(gomega.Equal(want), "connect as %q (client %q) should be accepted=%v", username, clientID, want)
}

// mustConnect connects or fails the test.
func (e *env) mustConnect(clientID, username, password string) *mqtttest.Conn {
	e.t.Helper()
	c, err := e.connect(clientID, username, password)
	if err != nil {
		e.t.Fatalf("connect %s: %v", clientID, err)
	}
	e.t.Cleanup(c.Close)
	return c
}

// kstatus judges an object the way Flux and Argo CD do.
func (e *env) kstatus(obj runtime.Object) status.Status {
	e.t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		e.t.Fatalf("to unstructured: %v", err)
	}
	res, err := status.Compute(&unstructured.Unstructured{Object: m})
	if err != nil {
		e.t.Fatalf("kstatus: %v", err)
	}
	return res.Status
}

// eventuallyKStatus waits until the named object's kstatus is want.
func (e *env) eventuallyKStatus(obj statusObject, name string, want status.Status) {
	e.t.Helper()
	e.g.Eventually(func() status.Status {
		if err := e.get(obj, name); err != nil {
			return status.UnknownStatus
		}
		return e.kstatus(obj)
	}, waitFor, 100*time.Millisecond).Should(gomega.Equal(want))
}

var payloadSeq atomic.Int64

// published sends a fresh message from pub and reports whether sub gets
// it. Absence can only be shown by waiting, so the wait is short and bounded.
func (e *env) published(pub, sub *mqtttest.Conn, topic string) bool {
	e.t.Helper()
	payload := fmt.Sprintf("m-%d", payloadSeq.Add(1))
	if err := pub.Publish(e.ctx, topic, []byte(payload)); err != nil {
		e.t.Fatalf("publish: %v", err)
	}
	deadline := time.Now().Add(700 * time.Millisecond)
	for {
		m, ok := sub.Receive(time.Until(deadline))
		if !ok {
			return false
		}
		if string(m.Payload) == payload {
			return true
		}
	}
}
