package controllers

import (
	"context"
	"fmt"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// An MQTTUser is a user of a broker's built-in database. Its password comes
// from a Secret the user names, from a Secret the operator generates and
// owns (<name>-mqtt-credentials), or, with keepExistingPassword, is left as
// the broker has it. Deleting the object deletes the broker user and its
// generated Secret, and disconnects the user's live sessions (EMQX keeps
// them otherwise), unless deletionPolicy is Retain.

// +kubebuilder:rbac:groups=mqtt.mqttoperator.io,resources=mqttusers,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=mqtt.mqttoperator.io,resources=mqttusers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=mqtt.mqttoperator.io,resources=mqttusers/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Where a user's password comes from (status.passwordSource).
const (
	passwordFromSecret    = "Secret"
	passwordGenerated     = "Generated"
	passwordKeptOnBroker  = "Broker"
	generatedPasswordKey  = "password"
	generatedUsernameKey  = "username"
	generatedHostKey      = "host"
	generatedPortKey      = "port"
	templateKeysAnnoation = "mqtt.mqttoperator.io/secret-template-keys"
)

// userState is a user as the broker holds it. Brokers never return
// passwords: appliedHash is the hash of the password the operator last
// applied (status.passwordHash), the best anyone can know of the broker's,
// and passwordHash that of the password wanted now.
type userState struct {
	present      bool
	superuser    bool
	passwordHash string
	appliedHash  string
	// password is the wanted password. It is never compared, logged or
	// kept anywhere but here and in its Secret.
	password string
	// keep is set when the broker's password is left as it is.
	keep bool
}

// userKind is the MQTTUser side of reconciler.
type userKind struct{ deps }

func (k userKind) claim(u *mqttv1.MQTTUser) claim {
	id := string(u.EffectiveIdentifier()) + ":" + u.EffectiveUsername()
	what := fmt.Sprintf("user %q", u.EffectiveUsername())
	if u.EffectiveIdentifier() == mqttv1.IdentifierClientID {
		what = fmt.Sprintf("user with client id %q", u.EffectiveUsername())
	}
	return claim{key: brokerKey(u.Namespace, u.Spec.BrokerRef) + "|" + id, scope: string(u.EffectiveIdentifier()), entry: id, what: what,
		conflictReason: mqttv1.ReasonUsernameConflict}
}

func (k userKind) specState(u *mqttv1.MQTTUser) userState {
	return userState{present: true, superuser: u.Spec.Superuser, passwordHash: u.Status.PasswordHash, appliedHash: u.Status.PasswordHash,
		keep: u.Spec.PasswordSecretRef == nil && u.Spec.KeepExistingPassword}
}

func (k userKind) desired(ctx context.Context, u *mqttv1.MQTTUser, b *mqttv1.MQTTBroker) (userState, error) {
	u.Status.Username = u.EffectiveUsername()
	want := k.specState(u)
	switch {
	case u.Spec.PasswordSecretRef != nil:
		ref := u.Spec.PasswordSecretRef
		v, err := k.conns.secretKey(ctx, u.Namespace, ref.Name, ref.Key)
		if err != nil {
			return want, err
		}
		if err := usablePassword(v); err != nil {
			return want, stalled(mqttv1.ReasonSecretInvalid, "Secret %s/%s key %q %v", u.Namespace, ref.Name, ref.Key, err)
		}
		want.password = string(v)
		u.Status.PasswordSource, u.Status.CredentialsSecretName = passwordFromSecret, ref.Name
	case u.Spec.KeepExistingPassword:
		u.Status.PasswordSource, u.Status.CredentialsSecretName = passwordKeptOnBroker, ""
		// Nothing is known of the password, so none is wanted: any the
		// broker has will do.
		want.passwordHash = u.Status.PasswordHash
		return want, nil
	default:
		pw, err := k.generatedPassword(ctx, u, b)
		if err != nil {
			return want, err
		}
		want.password = pw
		u.Status.PasswordSource, u.Status.CredentialsSecretName = passwordGenerated, u.GeneratedSecretName()
	}
	want.passwordHash = passwordHash(u.UID, want.password)
	return want, nil
}

func (k userKind) observe(ctx context.Context, cl broker.Client, u *mqttv1.MQTTUser) (userState, bool, error) {
	bu, err := cl.GetUser(ctx, broker.IdentityKind(u.EffectiveIdentifier()), u.EffectiveUsername())
	if broker.IsNotFound(err) {
		return userState{}, false, nil
	}
	if err != nil {
		return userState{}, false, err
	}
	return userState{present: true, superuser: bu.Superuser}, true, nil
}

func (k userKind) list(ctx context.Context, cl broker.Client, users []*mqttv1.MQTTUser) (map[string]userState, error) {
	out := map[string]userState{}
	listed := map[broker.IdentityKind]bool{}
	for _, u := range users {
		kind := broker.IdentityKind(u.EffectiveIdentifier())
		if listed[kind] {
			continue
		}
		listed[kind] = true
		bus, err := cl.ListUsers(ctx, kind)
		if err != nil {
			return nil, err
		}
		for _, bu := range bus {
			out[string(kind)+":"+bu.ID] = userState{present: true, superuser: bu.Superuser}
		}
	}
	return out, nil
}

// inSync: the user exists with the wanted superuser flag, and the password
// wanted is the one last applied.
func (k userKind) inSync(want, have userState) bool {
	return have.present && have.superuser == want.superuser && want.passwordHash == want.appliedHash
}

func (k userKind) apply(ctx context.Context, cl broker.Client, u *mqttv1.MQTTUser, want, _ userState, found bool) (string, error) {
	spec := broker.UserSpec{Kind: broker.IdentityKind(u.EffectiveIdentifier()), ID: u.EffectiveUsername(), Password: want.password, Superuser: want.superuser}
	op := "UpdateUser"
	var err error
	switch {
	case !found && want.keep:
		return "", stalled(mqttv1.ReasonPasswordUnknown, "user %q is not on the broker, and spec.keepExistingPassword only adopts a user that exists there: "+
			"set spec.passwordSecretRef, or unset keepExistingPassword to have a password generated", spec.ID)
	case want.keep:
		// Only the superuser flag can differ, and EMQX's update needs the
		// password along with it.
		return "", stalled(mqttv1.ReasonPasswordUnknown, "the superuser flag of user %q cannot be changed without its password, which the broker "+
			"never returns and spec.keepExistingPassword leaves unknown: set spec.passwordSecretRef", spec.ID)
	case !found:
		op, err = "CreateUser", cl.CreateUser(ctx, spec)
		if broker.IsAlreadyExists(err) {
			op, err = "UpdateUser", cl.UpdateUser(ctx, spec)
		}
	default:
		err = cl.UpdateUser(ctx, spec)
	}
	if err != nil {
		return op, err
	}
	u.Status.PasswordHash = want.passwordHash
	return op, nil
}

// afterApply disconnects the user's sessions after a rotation when asked
// to: EMQX keeps sessions that authenticated with the old password.
func (k userKind) afterApply(ctx context.Context, cl broker.Client, u *mqttv1.MQTTUser, want, _ userState, found bool) {
	rotated := found && want.appliedHash != "" && want.passwordHash != want.appliedHash
	if !rotated || !u.Spec.DisconnectOnPasswordChange {
		return
	}
	n, err := kickSessions(ctx, cl, userSessions(u))
	if err != nil {
		log.FromContext(ctx).Info("cannot disconnect sessions after a password change", "error", err.Error())
		k.recorder.Eventf(u, nil, corev1.EventTypeWarning, "DisconnectFailed", "KickClient", "cannot disconnect the sessions of user %q after its password changed: %v", u.EffectiveUsername(), err)
		return
	}
	if n > 0 {
		k.recorder.Eventf(u, nil, corev1.EventTypeNormal, "Disconnected", "KickClient", "disconnected %d session(s) of user %q after its password changed", n, u.EffectiveUsername())
	}
}

// remove deletes the user and disconnects its sessions: deleting a user
// revokes it.
func (k userKind) remove(ctx context.Context, cl broker.Client, u *mqttv1.MQTTUser) error {
	if err := cl.DeleteUser(ctx, broker.IdentityKind(u.EffectiveIdentifier()), u.EffectiveUsername()); err != nil {
		return err
	}
	if _, err := kickSessions(ctx, cl, userSessions(u)); err != nil {
		return fmt.Errorf("disconnect the deleted user's sessions: %w", err)
	}
	return nil
}

// userSessions selects the live sessions that authenticated as u.
func userSessions(u *mqttv1.MQTTUser) sessionMatch {
	if u.EffectiveIdentifier() == mqttv1.IdentifierClientID {
		return sessionMatch{clientID: u.EffectiveUsername()}
	}
	return sessionMatch{username: u.EffectiveUsername()}
}

// finalizeKubernetes deletes the generated Secret with the user, or, when
// the broker user is retained, leaves it behind without an owner so its
// password stays known and an MQTTUser of the same name takes it over.
func (k userKind) finalizeKubernetes(ctx context.Context, u *mqttv1.MQTTUser) error {
	return k.releaseGeneratedSecret(ctx, u, u.GetDeletionPolicy() == mqttv1.DeletionPolicyRetain)
}

// SetupWithManager adds the watches of the generated and referenced
// Secrets to the common ones.
func (r *MQTTUserReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := indexFields(mgr, &mqttv1.MQTTUser{}, map[string]client.IndexerFunc{indexSecretName: secretNameIndex}); err != nil {
		return err
	}
	return r.setup(mgr, func(b *builder.Builder) *builder.Builder {
		return b.Owns(&corev1.Secret{}, builder.WithPredicates(notCreated())).Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.usersOfSecret))
	})
}

// MQTTUserReconciler reconciles MQTTUsers.
type MQTTUserReconciler struct {
	*reconciler[*mqttv1.MQTTUser, userState]
}

func newUserReconciler(d deps) *MQTTUserReconciler {
	return &MQTTUserReconciler{newReconciler(d, "MQTTUser", brokerKind[*mqttv1.MQTTUser, userState](userKind{d}),
		func() *mqttv1.MQTTUser { return &mqttv1.MQTTUser{} },
		func() client.ObjectList { return &mqttv1.MQTTUserList{} },
		func(l client.ObjectList) []*mqttv1.MQTTUser { return itemPointers(l.(*mqttv1.MQTTUserList).Items) })}
}

func (r *MQTTUserReconciler) usersOfSecret(ctx context.Context, o client.Object) []reconcile.Request {
	var list mqttv1.MQTTUserList
	if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{indexSecretName: o.GetName()}); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, u := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&u)})
	}
	return reqs
}

// maxPasswordBytes is the most an MQTT CONNECT can carry in its password
// field (a two-byte length prefix).
const maxPasswordBytes = 65535

// usablePassword checks what would otherwise be lost on the way: the
// management APIs take the password as a JSON string, which cannot carry
// bytes that are not UTF-8 (encoding would replace them silently), and a
// client could never send a longer one.
func usablePassword(pw []byte) error {
	switch {
	case !utf8.Valid(pw):
		return fmt.Errorf("is not valid UTF-8, which the broker's API cannot carry")
	case len(pw) > maxPasswordBytes:
		return fmt.Errorf("is %d bytes long; an MQTT CONNECT carries at most %d", len(pw), maxPasswordBytes)
	}
	return nil
}
