package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/brokerconn"
)

// connector resolves MQTTBroker references and hands out broker clients,
// one per broker and configuration, so connections are reused.
type connector struct {
	c       client.Client
	o       Options
	secrets *secretReader

	mu      sync.Mutex
	clients map[types.NamespacedName]cachedClient
	gates   map[types.UID]chan struct{}
	// pausedUntil holds, per broker, the end of a wait the broker asked for
	// (Retry-After): until then no reconcile calls it.
	pausedUntil map[types.UID]time.Time
	// forgetters drop what others keep per broker (the kinds' snapshots)
	// when the broker is deleted.
	forgetters []func(types.UID)
}

type cachedClient struct {
	key    string
	uid    types.UID
	client broker.Client
}

func newConnector(c client.Client, direct client.Reader, o Options) *connector {
	o.defaults()
	return &connector{c: c, o: o, secrets: &secretReader{cached: c, direct: direct},
		clients: map[types.NamespacedName]cachedClient{}, gates: map[types.UID]chan struct{}{}, pausedUntil: map[types.UID]time.Time{}}
}

// brokerKey is how an object's broker reference is indexed: "ns/name".
func brokerKey(objNamespace string, ref mqttv1.BrokerReference) string {
	ns := ref.Namespace
	if ns == "" {
		ns = objNamespace
	}
	return ns + "/" + ref.Name
}

// resolve finds the MQTTBroker an object refers to and checks that the
// object may use it and that it is ready.
func (k *connector) resolve(ctx context.Context, objNamespace string, ref mqttv1.BrokerReference) (*mqttv1.MQTTBroker, error) {
	ns := ref.Namespace
	if ns == "" {
		ns = objNamespace
	}
	var b mqttv1.MQTTBroker
	if err := k.c.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref.Name}, &b); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, waiting(mqttv1.ReasonBrokerNotFound, k.o.WaitInterval, "MQTTBroker %s/%s not found", ns, ref.Name)
		}
		return nil, fmt.Errorf("get MQTTBroker %s/%s: %w", ns, ref.Name, err)
	}
	if !b.AllowsNamespace(objNamespace) {
		return nil, stalled(mqttv1.ReasonRefNotAllowed, "MQTTBroker %s/%s does not list namespace %q in spec.allowedNamespaces", ns, ref.Name, objNamespace)
	}
	if !b.DeletionTimestamp.IsZero() {
		return nil, waiting(mqttv1.ReasonBrokerNotReady, k.o.WaitInterval, "MQTTBroker %s/%s is being deleted", ns, ref.Name)
	}
	if !b.UsableByDependents() {
		msg := "not ready yet"
		if c := b.Status.ReadyCondition(); c != nil && c.Message != "" {
			msg = c.Message
		}
		return nil, waiting(mqttv1.ReasonBrokerNotReady, k.o.WaitInterval, "MQTTBroker %s/%s is not ready: %s", ns, ref.Name, msg)
	}
	return &b, nil
}

// clientFor returns a client for the broker, building it when the
// broker's connection settings changed.
func (k *connector) clientFor(ctx context.Context, b *mqttv1.MQTTBroker) (broker.Client, error) {
	cfg, err := k.configFor(ctx, b)
	if err != nil {
		return nil, err
	}
	key := configKey(cfg)
	nn := types.NamespacedName{Namespace: b.Namespace, Name: b.Name}
	k.mu.Lock()
	cc, ok := k.clients[nn]
	if ok && cc.uid != b.UID {
		// The broker was deleted and created again under its name before
		// its deletion was seen: what was kept is the old one's.
		k.mu.Unlock()
		k.forgetByName(nn)
		k.mu.Lock()
		ok = false
	}
	defer k.mu.Unlock()
	if ok && cc.key == key {
		return cc.client, nil
	}
	label := b.Namespace + "/" + b.Name
	cfg.Observe = func(ev broker.RequestEvent) { observeRequest(label, ev) }
	cl, err := k.o.Factory.New(cfg)
	if err != nil {
		return nil, stalled(mqttv1.ReasonInvalidSpec, "cannot build a client for MQTTBroker %s: %v", label, err)
	}
	k.clients[nn] = cachedClient{key: key, uid: b.UID, client: cl}
	return cl, nil
}

// onForget registers f to be told the UID of every broker forgotten.
func (k *connector) onForget(f func(types.UID)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.forgetters = append(k.forgetters, f)
}

// forgetByName drops everything kept for a deleted broker: its client, its
// slots and pause, and through the forgetters the kinds' snapshots, so
// that a manager whose brokers come and go does not grow. Nothing is kept
// for a broker before its client is built.
func (k *connector) forgetByName(nn types.NamespacedName) {
	k.mu.Lock()
	cc, ok := k.clients[nn]
	delete(k.clients, nn)
	if ok {
		delete(k.gates, cc.uid)
		delete(k.pausedUntil, cc.uid)
	}
	forgetters := k.forgetters
	k.mu.Unlock()
	if ok {
		for _, f := range forgetters {
			f(cc.uid)
		}
	}
}

// configFor reads the connection settings of a broker, by the rules the
// kubectl plugin follows too (brokerconn), through the operator's Secret
// reader.
func (k *connector) configFor(ctx context.Context, b *mqttv1.MQTTBroker) (broker.Config, error) {
	cfg, err := brokerconn.Config(ctx, k.secrets, b)
	cfg.Timeout = k.o.BrokerTimeout
	return cfg, k.asStall(err)
}

// secretKey reads one key of a Secret a spec references.
func (k *connector) secretKey(ctx context.Context, ns, name, key string) ([]byte, error) {
	v, err := brokerconn.SecretKey(ctx, k.secrets, ns, name, key)
	return v, k.asStall(err)
}

// asStall turns a connection setting that cannot be read until something
// changes into a stall with its reason. A missing Secret is looked for
// again every WaitInterval even so: one that does not exist yet cannot be
// watched (the cache holds only labelled Secrets), and it is often created
// after the object (GitOps applies in any order; external-secrets later).
func (k *connector) asStall(err error) error {
	var ce *brokerconn.Error
	if !errors.As(err, &ce) {
		return err
	}
	se := &stallError{reason: ce.Reason, msg: ce.Message}
	if ce.Reason == mqttv1.ReasonSecretNotFound {
		se.requeue = k.o.WaitInterval
	}
	return se
}

// configKey identifies a configuration without keeping the secret in the
// clear in memory longer than needed.
func configKey(c broker.Config) string {
	h := sha256.New()
	for _, s := range []string{c.URL, string(c.APIVersion), c.Username, c.Password, string(c.CABundle), fmt.Sprint(c.InsecureSkipVerify), c.Timeout.String()} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// callTimeout bounds a whole reconcile's worth of broker calls.
func (k *connector) callTimeout() time.Duration { return 3 * k.o.BrokerTimeout }

// errBrokerBusy means the broker cannot be called now: every slot was
// taken for longer than a reconcile waits, or it asked to be left alone
// (Retry-After). The object is looked at again after busyError.after.
var errBrokerBusy = errors.New("broker busy")

// busyError is errBrokerBusy with how long to wait before calling again.
type busyError struct{ after time.Duration }

func (e *busyError) Error() string { return fmt.Sprintf("broker busy, try again in %s", e.after) }

func (e *busyError) Is(target error) bool { return target == errBrokerBusy }

// retryAfterBusy is how long to wait after err, when it is errBrokerBusy.
func retryAfterBusy(err error) (time.Duration, bool) {
	var be *busyError
	if !errors.As(err, &be) {
		return 0, false
	}
	return be.after, true
}

// pausedFor is what is left of a wait b asked for (Retry-After), zero when
// it may be called. Every caller of the broker asks: the objects' reconciles
// (through acquire), the MQTTBroker's own check, the drift scan and the
// metrics gatherer.
func (k *connector) pausedFor(b *mqttv1.MQTTBroker) time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	return max(0, k.pausedUntil[b.UID].Sub(k.o.Clock.Now()))
}

// acquire takes one of b's slots for broker calls, waiting a little while
// for one. Bounding the calls in flight per broker keeps one slow broker
// from holding every worker while objects of other brokers wait.
func (k *connector) acquire(ctx context.Context, b *mqttv1.MQTTBroker) (release func(), err error) {
	if pause := k.pausedFor(b); pause > 0 {
		return nil, &busyError{after: max(pause, time.Second)}
	}
	k.mu.Lock()
	gate, ok := k.gates[b.UID]
	if !ok {
		gate = make(chan struct{}, k.o.BrokerConcurrency)
		k.gates[b.UID] = gate
	}
	k.mu.Unlock()
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case gate <- struct{}{}:
		return func() { <-gate }, nil
	case <-t.C:
		return nil, &busyError{after: time.Second}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// brokerCalls prepares a reconcile's calls to b: one of b's slots, and the
// time bound of callTimeout. done releases both.
func (k *connector) brokerCalls(ctx context.Context, b *mqttv1.MQTTBroker) (context.Context, func(), error) {
	release, err := k.acquire(ctx, b)
	if err != nil {
		return ctx, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, k.callTimeout())
	return ctx, func() { cancel(); release() }, nil
}

// backOff pauses calls to b when a failure carries the broker's request to
// wait (Retry-After on a 429 or 503), so that every object of the broker
// waits, not only the one that was told.
func (k *connector) backOff(b *mqttv1.MQTTBroker, err error) {
	be, ok := broker.AsError(err)
	if !ok || be.RetryAfter <= 0 {
		return
	}
	until := k.o.Clock.Now().Add(be.RetryAfter)
	k.mu.Lock()
	defer k.mu.Unlock()
	if until.After(k.pausedUntil[b.UID]) {
		k.pausedUntil[b.UID] = until
	}
}
