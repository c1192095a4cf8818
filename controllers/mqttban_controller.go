package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// An MQTTBan is one entry of a broker's banned list: a client id, username
// or peer address, permanent or until a time. Once its end has passed it
// stays as an object with Expired=True; the broker drops the entry itself.
// With spec.disconnect, sessions the ban matches are kicked at once (EMQX
// kicks a banned client id itself, but not the sessions of a banned
// username or address).

// +kubebuilder:rbac:groups=mqtt.mqttoperator.io,resources=mqttbans,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=mqtt.mqttoperator.io,resources=mqttbans/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=mqtt.mqttoperator.io,resources=mqttbans/finalizers,verbs=update

// banState is a ban as the broker holds it.
type banState struct {
	present bool
	ban     broker.Ban
}

// banKind is the MQTTBan side of reconciler.
type banKind struct{ deps }

func (k banKind) claim(b *mqttv1.MQTTBan) claim {
	entry := string(b.Spec.As) + ":" + b.Spec.Who
	return claim{key: brokerKey(b.Namespace, b.Spec.BrokerRef) + "|" + entry, entry: entry,
		what: fmt.Sprintf("the ban of %s %q", b.Spec.As, b.Spec.Who), conflictReason: mqttv1.ReasonBanConflict}
}

func (k banKind) specState(b *mqttv1.MQTTBan) banState {
	return banState{present: true, ban: broker.Ban{As: broker.BanKind(b.Spec.As), Who: b.Spec.Who, Reason: b.Spec.Reason, By: "mqtt-operator", Until: banUntil(b)}}
}

// desired is the ban while it is in force; an ended ban needs nothing on
// the broker and reports Expired.
func (k banKind) desired(_ context.Context, b *mqttv1.MQTTBan, _ *mqttv1.MQTTBroker) (banState, error) {
	want := k.specState(b)
	expired := banExpired(want.ban.Until, k.Clock.Now())
	setExpired(b, expired, want.ban.Until)
	if expired {
		return want, expiredError(want.ban.Until)
	}
	return want, nil
}

func (k banKind) observe(ctx context.Context, cl broker.Client, b *mqttv1.MQTTBan) (banState, bool, error) {
	bans, err := cl.ListBans(ctx)
	if err != nil {
		return banState{}, false, err
	}
	have, found := findBan(bans, broker.BanKind(b.Spec.As), b.Spec.Who)
	return banState{present: found, ban: have}, found, nil
}

func (k banKind) list(ctx context.Context, cl broker.Client, _ []*mqttv1.MQTTBan) (map[string]banState, error) {
	bans, err := cl.ListBans(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]banState, len(bans))
	for _, b := range bans {
		out[string(b.As)+":"+b.Who] = banState{present: true, ban: b}
	}
	return out, nil
}

func (k banKind) inSync(want, have banState) bool {
	return have.present && banMatches(have.ban, want.ban)
}

// apply adds the ban; where the API refuses to overwrite an active entry
// (v5), the old entry is deleted first. An end that passes during the call
// is an expiry, not a failure (v5 refuses a ban that has already ended).
func (k banKind) apply(ctx context.Context, cl broker.Client, b *mqttv1.MQTTBan, want, _ banState, found bool) (string, error) {
	err := writeBan(ctx, cl, want.ban, found)
	if err != nil && banExpired(want.ban.Until, k.Clock.Now()) {
		setExpired(b, true, want.ban.Until)
		return "CreateBan", expiredError(want.ban.Until)
	}
	return "CreateBan", err
}

func writeBan(ctx context.Context, cl broker.Client, want broker.Ban, found bool) error {
	if found && cl.APIVersion() == broker.APIv5 {
		if err := cl.DeleteBan(ctx, want.As, want.Who); err != nil {
			return err
		}
	}
	err := cl.CreateBan(ctx, want)
	if broker.IsAlreadyExists(err) {
		if err := cl.DeleteBan(ctx, want.As, want.Who); err != nil {
			return err
		}
		err = cl.CreateBan(ctx, want)
	}
	return err
}

// afterApply kicks the sessions the ban matches when asked to.
func (k banKind) afterApply(ctx context.Context, cl broker.Client, b *mqttv1.MQTTBan, want, _ banState, _ bool) {
	if !b.Spec.Disconnect {
		return
	}
	m := sessionMatch{}
	switch want.ban.As {
	case broker.BanClientID:
		m.clientID = want.ban.Who
	case broker.BanUsername:
		m.username = want.ban.Who
	case broker.BanPeerHost:
		m.peerHost = want.ban.Who
	}
	n, err := kickSessions(ctx, cl, m)
	if err != nil {
		log.FromContext(ctx).Info("cannot kick banned clients", "error", err.Error())
		k.recorder.Eventf(b, nil, corev1.EventTypeWarning, "DisconnectFailed", "KickClient", "cannot disconnect the banned sessions: %v", err)
	} else if n > 0 {
		k.recorder.Eventf(b, nil, corev1.EventTypeNormal, "Disconnected", "KickClient", "disconnected %d banned session(s)", n)
	}
}

func (k banKind) remove(ctx context.Context, cl broker.Client, b *mqttv1.MQTTBan) error {
	return cl.DeleteBan(ctx, broker.BanKind(b.Spec.As), b.Spec.Who)
}

// requeueAfter looks at a ban again right after it ends.
func (k banKind) requeueAfter(b *mqttv1.MQTTBan, now time.Time) time.Duration {
	until := banUntil(b)
	if until.IsZero() || !until.After(now) {
		return 0
	}
	return until.Sub(now) + time.Second
}

// banUntil is when the ban ends; zero means permanent.
func banUntil(b *mqttv1.MQTTBan) time.Time {
	switch {
	case b.Spec.Until != nil:
		return b.Spec.Until.Truncate(time.Second)
	case b.Spec.Duration != nil:
		return b.CreationTimestamp.Add(b.Spec.Duration.Duration).Truncate(time.Second)
	}
	return time.Time{}
}

func banExpired(until, now time.Time) bool { return !until.IsZero() && !until.After(now) }

func expiredError(until time.Time) error {
	return &doneError{reason: mqttv1.ReasonExpired, msg: "ban expired at " + until.UTC().Format(time.RFC3339)}
}

func setExpired(b *mqttv1.MQTTBan, expired bool, until time.Time) {
	if until.IsZero() {
		b.Status.Until = nil
	} else {
		t := metav1.NewTime(until)
		b.Status.Until = &t
	}
	c := metav1.Condition{Type: mqttv1.ConditionExpired, Status: metav1.ConditionFalse, Reason: mqttv1.ReasonActive, Message: "ban is in force", ObservedGeneration: b.Generation}
	if until.IsZero() {
		c.Message = "ban is permanent"
	}
	if expired {
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, mqttv1.ReasonExpired, "ban ended at "+until.UTC().Format(time.RFC3339)
	}
	apimeta.SetStatusCondition(&b.Status.Conditions, c)
}

func findBan(bans []broker.Ban, as broker.BanKind, who string) (broker.Ban, bool) {
	for _, b := range bans {
		if b.As == as && b.Who == who {
			return b, true
		}
	}
	return broker.Ban{}, false
}

// farFuture is where an end time stops meaning anything: the v4 driver
// stores a permanent ban as 2100-01-01 and reads any end from then on back
// as permanent, so both sides of a comparison are normalised the same way.
var farFuture = time.Unix(4102444800, 0)

// banMatches compares what matters of a ban at the broker's one-second
// resolution.
func banMatches(have, want broker.Ban) bool {
	if have.Reason != want.Reason {
		return false
	}
	norm := func(t time.Time) time.Time {
		if !t.IsZero() && !t.Before(farFuture) {
			return time.Time{}
		}
		return t
	}
	hu, wu := norm(have.Until), norm(want.Until)
	if hu.IsZero() || wu.IsZero() {
		return hu.IsZero() == wu.IsZero()
	}
	d := hu.Sub(wu)
	return d < time.Second && d > -time.Second
}

// MQTTBanReconciler reconciles MQTTBans.
type MQTTBanReconciler struct {
	*reconciler[*mqttv1.MQTTBan, banState]
}

func newBanReconciler(d deps) *MQTTBanReconciler {
	return &MQTTBanReconciler{newReconciler(d, "MQTTBan", brokerKind[*mqttv1.MQTTBan, banState](banKind{d}),
		func() *mqttv1.MQTTBan { return &mqttv1.MQTTBan{} },
		func() client.ObjectList { return &mqttv1.MQTTBanList{} },
		func(l client.ObjectList) []*mqttv1.MQTTBan { return itemPointers(l.(*mqttv1.MQTTBanList).Items) })}
}

// SetupWithManager needs no watches beyond the common ones.
func (r *MQTTBanReconciler) SetupWithManager(mgr ctrl.Manager) error { return r.setup(mgr, nil) }
