package controllers

import (
	"context"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// MQTTUserReconciler makes a broker's built-in database hold the user an
// MQTTUser describes, with the password from its Secret.
type MQTTUserReconciler struct {
	base
}

// +kubebuilder:rbac:groups=mqtt.mqttoperator.io,resources=mqttusers,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=mqtt.mqttoperator.io,resources=mqttusers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=mqtt.mqttoperator.io,resources=mqttusers/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile observes the broker user, creates or updates it, and reports.
func (r *MQTTUserReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	u := &mqttv1.MQTTUser{}
	return r.reconcileObject(ctx, req, u,
		func(ctx context.Context) error { return r.finalize(ctx, u) },
		func(ctx context.Context) (ctrl.Result, error) {
			return summarize(&u.Status.CommonStatus, u.Generation, r.reconcileUser(ctx, u), "user is on the broker", &r.Options)
		})
}

func (r *MQTTUserReconciler) reconcileUser(ctx context.Context, u *mqttv1.MQTTUser) error {
	u.Status.Username = u.EffectiveUsername()
	what := fmt.Sprintf("%s %q", u.EffectiveIdentifier(), u.EffectiveUsername())
	cl, err := r.holderClient(ctx, u, u.Spec.BrokerRef, &mqttv1.MQTTUserList{}, userClaim(u), mqttv1.ReasonUsernameConflict, what)
	if err != nil {
		return err
	}
	b, err := r.conns.resolve(ctx, u.Namespace, u.Spec.BrokerRef)
	if err != nil {
		return err
	}
	password, secretName, err := r.password(ctx, u, b)
	if err != nil {
		return err
	}
	u.Status.CredentialsSecretName = secretName
	ctx, cancel := context.WithTimeout(ctx, r.conns.callTimeout())
	defer cancel()

	spec := broker.UserSpec{Kind: broker.IdentityKind(u.EffectiveIdentifier()), ID: u.EffectiveUsername(), Password: password, Superuser: u.Spec.Superuser}
	hash := passwordHash(u.UID, password)
	current, err := cl.GetUser(ctx, spec.Kind, spec.ID)
	switch {
	case broker.IsNotFound(err):
		op, err := "CreateUser", cl.CreateUser(ctx, spec)
		if broker.IsAlreadyExists(err) {
			op, err = "UpdateUser", cl.UpdateUser(ctx, spec)
		}
		if err != nil {
			return r.failed(u, &u.Status.BrokerResult, err)
		}
		if u.Status.PasswordHash != "" {
			driftCorrections.WithLabelValues("MQTTUser").Inc()
			r.recorder.Eventf(u, nil, corev1.EventTypeWarning, "Recreated", op, "user %q was missing on the broker and was created again", spec.ID)
		} else {
			r.recorder.Eventf(u, nil, corev1.EventTypeNormal, "Created", op, "created user %q on the broker", spec.ID)
		}
		u.Status.BrokerResult = successResult(op, timeNow())
	case err != nil:
		return r.failed(u, &u.Status.BrokerResult, err)
	case u.Status.PasswordHash == "":
		if err := cl.UpdateUser(ctx, spec); err != nil {
			return r.failed(u, &u.Status.BrokerResult, err)
		}
		r.recorder.Eventf(u, nil, corev1.EventTypeNormal, "Adopted", "UpdateUser", "adopted existing user %q on the broker and set its password", spec.ID)
		u.Status.BrokerResult = successResult("UpdateUser", timeNow())
	case u.Status.PasswordHash != hash || current.Superuser != spec.Superuser:
		if err := cl.UpdateUser(ctx, spec); err != nil {
			return r.failed(u, &u.Status.BrokerResult, err)
		}
		what := "superuser flag"
		if u.Status.PasswordHash != hash {
			what = "password"
		}
		r.recorder.Eventf(u, nil, corev1.EventTypeNormal, "Updated", "UpdateUser", "updated the %s of user %q", what, spec.ID)
		u.Status.BrokerResult = successResult("UpdateUser", timeNow())
	}
	u.Status.PasswordHash = hash
	return nil
}

// password reads the user's password from its Secret, generating the
// Secret first when the spec names none.
func (r *MQTTUserReconciler) password(ctx context.Context, u *mqttv1.MQTTUser, b *mqttv1.MQTTBroker) (string, string, error) {
	if ref := u.Spec.PasswordSecretRef; ref != nil {
		v, err := r.conns.secretKey(ctx, u.Namespace, ref.Name, ref.Key)
		if err != nil {
			return "", "", err
		}
		return string(v), ref.Name, nil
	}
	name := u.GeneratedSecretName()
	var s corev1.Secret
	err := r.Get(ctx, types.NamespacedName{Namespace: u.Namespace, Name: name}, &s)
	switch {
	case apierrors.IsNotFound(err):
		pw, err := generatePassword()
		if err != nil {
			return "", "", err
		}
		s = corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: u.Namespace, Labels: map[string]string{
			"app.kubernetes.io/managed-by": "mqtt-operator", "mqtt.mqttoperator.io/user": u.Name,
		}}, Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"password": []byte(pw)}}
		setCredentialData(&s, u, b)
		if err := controllerutil.SetControllerReference(u, &s, r.Scheme()); err != nil {
			return "", "", fmt.Errorf("own Secret %s: %w", name, err)
		}
		if err := r.Create(ctx, &s); err != nil {
			return "", "", fmt.Errorf("create Secret %s: %w", name, err)
		}
		r.recorder.Eventf(u, nil, corev1.EventTypeNormal, "SecretCreated", "CreateSecret", "generated a password into Secret %s", name)
		return pw, name, nil
	case err != nil:
		return "", "", fmt.Errorf("get Secret %s: %w", name, err)
	}
	if !metav1.IsControlledBy(&s, u) {
		return "", "", stalled(mqttv1.ReasonSecretInvalid, "Secret %s exists and is not owned by this MQTTUser; set spec.passwordSecretRef to use it", name)
	}
	patch := client.MergeFrom(s.DeepCopy())
	changed := setCredentialData(&s, u, b)
	pw := string(s.Data["password"])
	if pw == "" {
		if pw, err = generatePassword(); err != nil {
			return "", "", err
		}
		s.Data["password"] = []byte(pw)
		changed = true
	}
	if changed {
		if err := r.Patch(ctx, &s, patch); err != nil {
			return "", "", fmt.Errorf("update Secret %s: %w", name, err)
		}
	}
	return pw, name, nil
}

// setCredentialData writes the connection details next to the password and
// reports whether anything changed.
func setCredentialData(s *corev1.Secret, u *mqttv1.MQTTUser, b *mqttv1.MQTTBroker) bool {
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	want := map[string]string{"username": u.EffectiveUsername(), "host": b.Status.MQTTHost}
	if b.Status.MQTTPort != 0 {
		want["port"] = strconv.Itoa(int(b.Status.MQTTPort))
	}
	changed := false
	for k, v := range want {
		if string(s.Data[k]) != v {
			s.Data[k] = []byte(v)
			changed = true
		}
	}
	return changed
}

// finalize removes the broker user, unless it is retained, was never
// applied, or another MQTTUser takes it over.
func (r *MQTTUserReconciler) finalize(ctx context.Context, u *mqttv1.MQTTUser) error {
	if u.Spec.DeletionPolicy == mqttv1.DeletionPolicyRetain || u.Status.PasswordHash == "" {
		return nil
	}
	cl, err := r.cleanupClient(ctx, u, u.Spec.BrokerRef, &mqttv1.MQTTUserList{}, userClaim(u))
	if err != nil || cl == nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, r.conns.callTimeout())
	defer cancel()
	if err := cl.DeleteUser(ctx, broker.IdentityKind(u.EffectiveIdentifier()), u.EffectiveUsername()); err != nil {
		return fmt.Errorf("delete user from broker: %w", err)
	}
	r.recorder.Eventf(u, nil, corev1.EventTypeNormal, "Deleted", "DeleteUser", "deleted user %q from the broker", u.EffectiveUsername())
	return nil
}

// SetupWithManager adds the watches of the generated and referenced
// Secrets to the common ones.
func (r *MQTTUserReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return r.setup(mgr, "mqttuser", &mqttv1.MQTTUser{}, func() client.ObjectList { return &mqttv1.MQTTUserList{} },
		func(o client.Object) string { return userClaim(o.(*mqttv1.MQTTUser)) }, r,
		func(b *builder.Builder) *builder.Builder {
			return b.Owns(&corev1.Secret{}).Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.usersOfSecret))
		})
}

func (r *MQTTUserReconciler) usersOfSecret(ctx context.Context, o client.Object) []reconcile.Request {
	var list mqttv1.MQTTUserList
	if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{indexSecretName: o.GetName()}); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, u := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: u.Namespace, Name: u.Name}})
	}
	return reqs
}
