package controllers

import (
	"context"
	"time"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// brokerObject is a Kubernetes object that stands for something on a
// broker: an MQTTUser, MQTTACL or MQTTBan.
type brokerObject interface {
	statusObject
	mqttv1.BrokerObject
}

// brokerKind is one kind of broker-facing object, implemented once per kind
// (mqttuser_controller.go, mqttacl_controller.go, mqttban_controller.go) and
// driven by reconciler, which does what every kind shares: the finalizer,
// the claim, finding the broker, status, Events and metrics. T is the
// Kubernetes object; S is the broker-side state the kind compares.
//
// Every method that calls the broker is idempotent and runs under the
// reconciler's time bound.
type brokerKind[T brokerObject, S any] interface {
	// claim is what two objects of the kind may not both hold on one broker.
	claim(obj T) claim
	// specState is the state obj asks for, from its spec and status alone.
	// The drift scanner compares it with what it lists; it cannot see
	// passwords, so a user's stands in with the one last applied.
	specState(obj T) S
	// desired is the state obj asks for, completed with what it needs from
	// Kubernetes: a user's password, generating its Secret when the operator
	// owns it. It fails with a stall or a wait when an input is missing.
	desired(ctx context.Context, obj T, b *mqttv1.MQTTBroker) (S, error)
	// observe reads obj's entry on the broker; found is false when there is none.
	observe(ctx context.Context, cl broker.Client, obj T) (have S, found bool, err error)
	// list reads the entries of objs with one paginated list per scope
	// of theirs, keyed by claim(obj).entry.
	list(ctx context.Context, cl broker.Client, objs []T) (map[string]S, error)
	// inSync is the one definition of "the broker holds what obj asks for";
	// the reconciler and the drift scanner both decide with it.
	inSync(want, have S) bool
	// apply makes the broker hold want. found says whether the broker had
	// an entry, have is that entry. It returns the operation for status.
	apply(ctx context.Context, cl broker.Client, obj T, want, have S, found bool) (op string, err error)
	// remove deletes obj's entry from the broker; a missing one is not an error.
	remove(ctx context.Context, cl broker.Client, obj T) error
}

// claim names what an object holds on its broker.
type claim struct {
	// key is indexed: two objects with one key compete, the oldest wins.
	key string
	// scope is the part of the broker list answers for the entry: the
	// identity kind of a user, the subject kind of rules.
	scope string
	// entry identifies the broker entry among the kind's entries on one
	// broker (key without the broker).
	entry string
	// what describes the entry in messages: `user "alice"`.
	what string
	// conflictReason is the condition reason of the losers.
	conflictReason string
}

// finalizerHook is implemented by kinds with Kubernetes-side state to clean
// up when an object goes, whether or not its broker entry is removed (a
// user's generated Secret).
type finalizerHook[T brokerObject] interface {
	finalizeKubernetes(ctx context.Context, obj T) error
}

// afterApplyHook is implemented by kinds that act on the broker's clients
// after a write: kicking the sessions a change revokes.
type afterApplyHook[T brokerObject, S any] interface {
	afterApply(ctx context.Context, cl broker.Client, obj T, want, have S, found bool)
}

// absenceChecker is implemented by kinds for which an entry missing from a
// list must be confirmed before acting on it, because acting is final: a
// user whose password is kept cannot be created.
type absenceChecker[S any] interface {
	confirmAbsence(want S) bool
}

// requeuer is implemented by kinds whose objects change with time alone (a
// ban that ends): the reconciler looks at a settled object again after
// requeueAfter, when it is positive.
type requeuer[T brokerObject] interface {
	requeueAfter(obj T, now time.Time) time.Duration
}
