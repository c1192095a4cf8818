package controllers

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

func readyBroker(uid string, readySince time.Time) *mqttv1.MQTTBroker {
	b := &mqttv1.MQTTBroker{ObjectMeta: metav1.ObjectMeta{UID: types.UID("b-" + uid)}}
	b.Status.Conditions = []metav1.Condition{{Type: mqttv1.ConditionReady, Status: metav1.ConditionTrue, LastTransitionTime: metav1.NewTime(readySince)}}
	return b
}

func TestSnapshots(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start)
	s := newSnapshots[int](clk, time.Minute)
	b := readyBroker("1", start.Add(-time.Hour))

	if _, _, ok := s.get(b, "username", "u:a"); ok {
		t.Fatal("answered without a snapshot")
	}
	calls := atomic.Int32{}
	fill := func() error {
		return s.fill(t.Context(), b, func(_ context.Context) (map[string]bool, map[string]int, error) {
			calls.Add(1)
			return map[string]bool{"username": true}, map[string]int{"u:a": 1}, nil
		})
	}
	if err := fill(); err != nil {
		t.Fatal(err)
	}
	if err := fill(); err != nil || calls.Load() != 1 {
		t.Fatalf("a fresh snapshot was listed again: %d lists, %v", calls.Load(), err)
	}
	check := func(what, scope, entry string, want int, wantFound, wantOK bool) {
		t.Helper()
		v, found, ok := s.get(b, scope, entry)
		if v != want || found != wantFound || ok != wantOK {
			t.Fatalf("%s: get = (%d, %v, %v), want (%d, %v, %v)", what, v, found, ok, want, wantFound, wantOK)
		}
	}
	check("listed entry", "username", "u:a", 1, true, true)
	check("absent entry", "username", "u:b", 0, false, true)
	check("scope not listed", "clientid", "c:a", 0, false, false)

	s.put(b, "u:b", 2)
	check("written entry", "username", "u:b", 2, true, true)
	s.forget(b, "u:b")
	check("entry whose write failed", "username", "u:b", 0, false, false)
	s.put(b, "u:b", 3)
	check("entry written again", "username", "u:b", 3, true, true)
	s.absent(b, "u:a")
	check("removed entry", "username", "u:a", 0, false, true)

	// A broker that became ready after the list may have lost everything.
	back := readyBroker("1", start.Add(time.Second))
	clk.Step(2 * time.Second)
	if _, _, ok := s.get(back, "username", "u:b"); ok {
		t.Fatal("a snapshot older than the broker's readiness answered")
	}
	// Age ends a snapshot.
	clk.Step(time.Minute)
	if _, _, ok := s.get(b, "username", "u:b"); ok {
		t.Fatal("a stale snapshot answered")
	}
	// A failed list leaves no snapshot.
	err := s.fill(t.Context(), b, func(_ context.Context) (map[string]bool, map[string]int, error) { return nil, nil, errors.New("down") })
	if err == nil || s.has(b) {
		t.Fatalf("failed list: err %v, has %v", err, s.has(b))
	}
	s.store(b, clk.Now(), map[string]bool{"": true}, map[string]int{})
	s.drop(b.UID)
	if s.has(b) {
		t.Fatal("dropped snapshot still there")
	}
}

// A broker's slots bound the reconciles calling it; one that waits too
// long gives up with errBrokerBusy instead of holding a worker.
func TestBrokerGate(t *testing.T) {
	k := newConnector(nil, nil, Options{BrokerConcurrency: 2})
	b := readyBroker("gate", time.Now())
	r1, err1 := k.acquire(t.Context(), b)
	r2, err2 := k.acquire(t.Context(), b)
	if err1 != nil || err2 != nil {
		t.Fatalf("acquire: %v %v", err1, err2)
	}
	start := time.Now()
	_, err := k.acquire(t.Context(), b)
	if !errors.Is(err, errBrokerBusy) {
		t.Fatalf("third acquire = %v, want errBrokerBusy", err)
	}
	if d, _ := retryAfterBusy(err); d != time.Second {
		t.Fatalf("wait with every slot taken = %v, want 1s", d)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 5*time.Second {
		t.Fatalf("gave up after %v, want about a second", d)
	}
	other := readyBroker("other", time.Now())
	if r, err := k.acquire(t.Context(), other); err != nil {
		t.Fatalf("another broker is not limited by this one: %v", err)
	} else {
		r()
	}
	r1()
	r3, err := k.acquire(t.Context(), b)
	if err != nil {
		t.Fatalf("acquire after a release: %v", err)
	}
	r2()
	r3()
}

// A broker that asked to be left alone (Retry-After) is not called by any
// reconcile until then.
func TestBrokerBackOff(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	k := newConnector(nil, nil, Options{BrokerConcurrency: 2, Clock: clk})
	b := readyBroker("busy", clk.Now())
	k.backOff(b, errors.New("not a broker error"))
	k.backOff(b, &broker.Error{Class: broker.ClassTransient, HTTPStatus: 503})
	if r, err := k.acquire(t.Context(), b); err != nil {
		t.Fatalf("acquire without a pause: %v", err)
	} else {
		r()
	}
	k.backOff(b, &broker.Error{Class: broker.ClassTransient, HTTPStatus: 429, RetryAfter: 8 * time.Second})
	_, err := k.acquire(t.Context(), b)
	if !errors.Is(err, errBrokerBusy) {
		t.Fatalf("acquire during a pause = %v, want errBrokerBusy", err)
	}
	if d, _ := retryAfterBusy(err); d != 8*time.Second {
		t.Fatalf("wait during a pause = %v, want 8s", d)
	}
	clk.Step(8 * time.Second)
	if r, err := k.acquire(t.Context(), b); err != nil {
		t.Fatalf("acquire after the pause: %v", err)
	} else {
		r()
	}
}

// A deleted broker leaves nothing behind: its client, slots, pause and the
// kinds' snapshots go, also when it was created again under its name
// before its deletion was seen.
func TestConnectorForgetsDeletedBroker(t *testing.T) {
	creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "creds"},
		Data: map[string][]byte{"username": []byte("app"), "password": []byte("secret")}}
	c := fake.NewClientBuilder().WithScheme(testScheme).WithObjects(creds).Build()
	built := 0
	k := newConnector(c, c, Options{BrokerConcurrency: 1, Factory: broker.FactoryFunc(func(broker.Config) (broker.Client, error) {
		built++
		return nil, nil
	})})
	var forgotten []types.UID
	k.onForget(func(uid types.UID) { forgotten = append(forgotten, uid) })
	mk := func(uid string) *mqttv1.MQTTBroker {
		b := readyBroker(uid, time.Now())
		b.Namespace, b.Name = "ns", "emqx"
		b.Spec.External = &mqttv1.ExternalBroker{URL: "http://emqx:18083", APIVersion: mqttv1.BrokerAPIv5,
			CredentialsSecretRef: mqttv1.LocalObjectReference{Name: "creds"}}
		return b
	}
	use := func(b *mqttv1.MQTTBroker) {
		t.Helper()
		if _, err := k.clientFor(t.Context(), b); err != nil {
			t.Fatal(err)
		}
		release, err := k.acquire(t.Context(), b)
		if err != nil {
			t.Fatal(err)
		}
		release()
		k.backOff(b, &broker.Error{Class: broker.ClassTransient, HTTPStatus: 429, RetryAfter: time.Minute})
	}
	kept := func() []int { return []int{len(k.clients), len(k.gates), len(k.pausedUntil)} }

	first := mk("first")
	use(first)
	if _, err := k.clientFor(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	if built != 1 {
		t.Fatalf("built %d clients for one broker, want 1", built)
	}
	k.forgetByName(types.NamespacedName{Namespace: "ns", Name: "emqx"})
	if d := cmp.Diff([]int{0, 0, 0}, kept()); d != "" {
		t.Errorf("kept after deletion (clients, gates, pauses) (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]types.UID{first.UID}, forgotten); d != "" {
		t.Errorf("forgotten (-want +got):\n%s", d)
	}

	// Created again under the same name, the deletion never seen.
	second := mk("second")
	use(second)
	third := mk("third")
	if _, err := k.clientFor(t.Context(), third); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]types.UID{first.UID, second.UID}, forgotten); d != "" {
		t.Errorf("forgotten after a re-creation (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]int{1, 0, 0}, kept()); d != "" {
		t.Errorf("kept after a re-creation (clients, gates, pauses) (-want +got):\n%s", d)
	}
	if built != 3 {
		t.Errorf("built %d clients for three brokers, want 3", built)
	}
	// Nothing kept for a broker never used.
	k.forgetByName(types.NamespacedName{Namespace: "ns", Name: "unused"})
	if len(forgotten) != 2 {
		t.Errorf("forgetting an unused broker told the forgetters: %v", forgotten)
	}
}
