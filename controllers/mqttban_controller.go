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

// MQTTBanReconciler keeps an MQTTBan's entry on a broker's banned list
// until it expires.
type MQTTBanReconciler struct {
	base
}

// +kubebuilder:rbac:groups=mqtt.mqttoperator.io,resources=mqttbans,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=mqtt.mqttoperator.io,resources=mqttbans/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=mqtt.mqttoperator.io,resources=mqttbans/finalizers,verbs=update

// Reconcile observes the banned list, adds or refreshes the entry, and
// reports; an expired ban stays as an object with Expired=True.
func (r *MQTTBanReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	b := &mqttv1.MQTTBan{}
	return r.reconcileObject(ctx, req, b,
		func(ctx context.Context) error { return r.finalize(ctx, b) },
		func(ctx context.Context) (ctrl.Result, error) { return r.reconcileBan(ctx, b) })
}

// reconcileBan applies an active ban and reports; an expired one is only
// reported, and a ban with an end is looked at again right after it.
func (r *MQTTBanReconciler) reconcileBan(ctx context.Context, b *mqttv1.MQTTBan) (ctrl.Result, error) {
	until := banUntil(b)
	now := timeNow()
	expired := !until.IsZero() && !until.After(now)
	var err error
	msg := "ban is on the broker"
	if expired {
		msg = "ban expired at " + until.UTC().Format(time.RFC3339)
	} else {
		err = r.applyBan(ctx, b, until)
		// An end that passed during the call is an expiry, not a failure
		// (v5 refuses to create a ban that has already ended).
		if err != nil && !until.IsZero() && !until.After(timeNow()) {
			expired, err = true, nil
			msg = "ban expired at " + until.UTC().Format(time.RFC3339)
		}
	}
	setExpired(b, expired, until)
	res, err := summarize(&b.Status.CommonStatus, b.Generation, err, msg, &r.Options)
	if err == nil && expired {
		apimeta.SetStatusCondition(&b.Status.Conditions, metav1.Condition{Type: mqttv1.ConditionReady, Status: metav1.ConditionTrue,
			Reason: mqttv1.ReasonExpired, Message: msg, ObservedGeneration: b.Generation})
	}
	if err == nil && !expired && !until.IsZero() {
		res.RequeueAfter = until.Sub(now) + time.Second
	}
	return res, err
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

func (r *MQTTBanReconciler) applyBan(ctx context.Context, b *mqttv1.MQTTBan, until time.Time) error {
	cl, err := r.holderClient(ctx, b, b.Spec.BrokerRef, &mqttv1.MQTTBanList{}, banClaim(b), mqttv1.ReasonBanConflict, fmt.Sprintf("the ban of %s %q", b.Spec.As, b.Spec.Who))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, r.conns.callTimeout())
	defer cancel()

	want := broker.Ban{As: broker.BanKind(b.Spec.As), Who: b.Spec.Who, Reason: b.Spec.Reason, By: "mqtt-operator", Until: until}
	bans, err := cl.ListBans(ctx)
	if err != nil {
		return r.failed(b, &b.Status.BrokerResult, err)
	}
	current, found := findBan(bans, want.As, want.Who)
	if found && banMatches(current, want) {
		if b.Status.BrokerResult == nil {
			// The broker held this ban already: it is ours from now on, and
			// deleting the MQTTBan lifts it.
			r.recorder.Eventf(b, nil, corev1.EventTypeNormal, "Adopted", "ListBans", "adopted the ban of %s %q already on the broker", want.As, want.Who)
			b.Status.BrokerResult = successResult("ListBans", timeNow())
		}
		return nil
	}
	if err := r.writeBan(ctx, cl, want, found); err != nil {
		return r.failed(b, &b.Status.BrokerResult, err)
	}
	b.Status.BrokerResult = successResult("CreateBan", timeNow())
	switch {
	case found:
		r.recorder.Eventf(b, nil, corev1.EventTypeNormal, "Updated", "CreateBan", "updated the ban of %s %q", want.As, want.Who)
	case b.Status.IsReady(b.Generation):
		driftCorrections.WithLabelValues("MQTTBan").Inc()
		r.recorder.Eventf(b, nil, corev1.EventTypeWarning, "Repaired", "CreateBan", "ban of %s %q was missing on the broker and was added again", want.As, want.Who)
	default:
		r.recorder.Eventf(b, nil, corev1.EventTypeNormal, "Created", "CreateBan", "banned %s %q", want.As, want.Who)
	}
	if b.Spec.Disconnect {
		r.disconnect(ctx, cl, want)
	}
	return nil
}

// writeBan adds the ban; where the API refuses to overwrite an active
// entry (v5), the old entry is deleted first.
func (r *MQTTBanReconciler) writeBan(ctx context.Context, cl broker.Client, want broker.Ban, found bool) error {
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

// disconnect kicks the live sessions the ban matches. A clientid ban kicks
// its session on the broker already; username and peerhost bans only stop
// new connections, which is why this exists.
func (r *MQTTBanReconciler) disconnect(ctx context.Context, cl broker.Client, ban broker.Ban) {
	logger := log.FromContext(ctx)
	var ids []string
	switch ban.As {
	case broker.BanClientID:
		ids = []string{ban.Who}
	case broker.BanUsername, broker.BanPeerHost:
		f := broker.ClientFilter{}
		if ban.As == broker.BanUsername {
			f.Username = ban.Who
		}
		clients, err := cl.ListClients(ctx, f)
		if err != nil {
			logger.Info("cannot list clients to disconnect", "error", err.Error())
			return
		}
		for _, c := range clients {
			if ban.As == broker.BanUsername || c.IPAddress == ban.Who {
				ids = append(ids, c.ClientID)
			}
		}
	}
	for _, id := range ids {
		if err := cl.KickClient(ctx, id); err != nil {
			logger.Info("cannot kick a banned client", "clientid", id, "error", err.Error())
		}
	}
}

// finalize lifts the ban unless it was never applied or another MQTTBan
// takes it over.
func (r *MQTTBanReconciler) finalize(ctx context.Context, b *mqttv1.MQTTBan) error {
	if b.Status.BrokerResult == nil {
		return nil
	}
	cl, err := r.cleanupClient(ctx, b, b.Spec.BrokerRef, &mqttv1.MQTTBanList{}, banClaim(b))
	if err != nil || cl == nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, r.conns.callTimeout())
	defer cancel()
	if err := cl.DeleteBan(ctx, broker.BanKind(b.Spec.As), b.Spec.Who); err != nil {
		return fmt.Errorf("delete ban from broker: %w", err)
	}
	r.recorder.Eventf(b, nil, corev1.EventTypeNormal, "Deleted", "DeleteBan", "lifted the ban of %s %q", b.Spec.As, b.Spec.Who)
	return nil
}

// SetupWithManager needs no watches beyond the common ones.
func (r *MQTTBanReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return r.setup(mgr, "mqttban", &mqttv1.MQTTBan{}, func() client.ObjectList { return &mqttv1.MQTTBanList{} },
		func(o client.Object) string { return banClaim(o.(*mqttv1.MQTTBan)) }, r, nil)
}
