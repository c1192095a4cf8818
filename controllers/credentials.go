package controllers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// passwordBytes is the entropy of a generated password: 192 bits.
const passwordBytes = 24

// generatePassword returns 32 URL-safe characters from crypto/rand.
func generatePassword() (string, error) {
	b := make([]byte, passwordBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// passwordHash is what status keeps to notice a rotation: salted with the
// object's UID so equal passwords of two users do not show as equal hashes.
func passwordHash(uid types.UID, password string) string {
	sum := sha256.Sum256([]byte(string(uid) + "\x00" + password))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// generatedPassword returns the password in the Secret the operator
// generates for u, creating the Secret with a new password when there is
// none, taking over one an earlier MQTTUser of the same name left behind,
// and keeping its connection details and template metadata current.
func (k userKind) generatedPassword(ctx context.Context, u *mqttv1.MQTTUser, b *mqttv1.MQTTBroker) (string, error) {
	name := u.GeneratedSecretName()
	s := &corev1.Secret{}
	err := k.Get(ctx, client.ObjectKey{Namespace: u.Namespace, Name: name}, s)
	if apierrors.IsNotFound(err) {
		// The cache holds every Secret the operator generated, so a new
		// user's Secret is created without asking the API server first.
		// One the cache does not hold (left behind without the watch
		// label, or created a moment ago) makes the create fail, and is
		// then read directly.
		pw, cerr := k.createGeneratedSecret(ctx, u, b)
		if !apierrors.IsAlreadyExists(cerr) {
			return pw, cerr
		}
		s, err = k.conns.secrets.get(ctx, u.Namespace, name)
	}
	if err != nil {
		return "", fmt.Errorf("get Secret %s: %w", name, err)
	}
	patch := client.MergeFrom(s.DeepCopy())
	changed := false
	if !metav1.IsControlledBy(s, u) {
		if !leftBehindFor(s, u) {
			return "", stalled(mqttv1.ReasonSecretInvalid, "Secret %s exists and is not owned by this MQTTUser; set spec.passwordSecretRef to use it", name)
		}
		// The MQTTUser that generated it is gone (kubectl replace, a
		// GitOps re-create, or a retained user): keep its password, so
		// that clients that have it keep working.
		s.OwnerReferences = slices.DeleteFunc(s.OwnerReferences, func(r metav1.OwnerReference) bool { return r.Controller != nil && *r.Controller })
		if err := controllerutil.SetControllerReference(u, s, k.Scheme()); err != nil {
			return "", fmt.Errorf("own Secret %s: %w", name, err)
		}
		k.recorder.Eventf(u, nil, corev1.EventTypeNormal, "SecretAdopted", "UpdateSecret", "took over Secret %s, left behind by an earlier MQTTUser of this name", name)
		changed = true
	}
	if setGeneratedSecretContent(s, u, b) {
		changed = true
	}
	pw := string(s.Data[generatedPasswordKey])
	if pw == "" {
		if pw, err = generatePassword(); err != nil {
			return "", err
		}
		s.Data[generatedPasswordKey] = []byte(pw)
		changed = true
	}
	if changed {
		if err := k.Patch(ctx, s, patch); err != nil {
			return "", fmt.Errorf("update Secret %s: %w", name, err)
		}
	}
	return pw, nil
}

func (k userKind) createGeneratedSecret(ctx context.Context, u *mqttv1.MQTTUser, b *mqttv1.MQTTBroker) (string, error) {
	pw, err := generatePassword()
	if err != nil {
		return "", err
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: u.GeneratedSecretName(), Namespace: u.Namespace},
		Type: corev1.SecretTypeOpaque, Data: map[string][]byte{generatedPasswordKey: []byte(pw)}}
	setGeneratedSecretContent(s, u, b)
	if err := controllerutil.SetControllerReference(u, s, k.Scheme()); err != nil {
		return "", fmt.Errorf("own Secret %s: %w", s.Name, err)
	}
	if err := k.Create(ctx, s); err != nil {
		return "", fmt.Errorf("create Secret %s: %w", s.Name, err)
	}
	return pw, nil
}

// leftBehindFor reports whether s is a credentials Secret the operator
// generated for an MQTTUser of u's name that no longer exists: names are
// unique, so a controller of that name with another UID is gone.
func leftBehindFor(s *corev1.Secret, u *mqttv1.MQTTUser) bool {
	if s.Labels[mqttv1.LabelManagedBy] != mqttv1.ManagedByValue || s.Labels[mqttv1.LabelUser] != u.Name {
		return false
	}
	ref := metav1.GetControllerOf(s)
	return ref == nil || (ref.Kind == "MQTTUser" && ref.Name == u.Name && ref.UID != u.UID)
}

// setGeneratedSecretContent writes the labels the operator relies on, the
// template's metadata and the connection details next to the password,
// and reports whether anything changed. Template keys dropped from the
// spec are removed: the Secret records which keys came from the template.
func setGeneratedSecretContent(s *corev1.Secret, u *mqttv1.MQTTUser, b *mqttv1.MQTTBroker) bool {
	before := s.DeepCopy()
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	var tmpl mqttv1.SecretTemplate
	if u.Spec.SecretTemplate != nil {
		tmpl = *u.Spec.SecretTemplate
	}
	for _, key := range strings.Split(s.Annotations[templateKeysAnnoation], ",") {
		kind, name, _ := strings.Cut(key, ":")
		if _, kept := tmpl.Labels[name]; kind == "l" && !kept {
			delete(s.Labels, name)
		}
		if _, kept := tmpl.Annotations[name]; kind == "a" && !kept {
			delete(s.Annotations, name)
		}
	}
	var keys []string
	s.Labels = withEntries(s.Labels, tmpl.Labels, "l", &keys)
	s.Annotations = withEntries(s.Annotations, tmpl.Annotations, "a", &keys)
	s.Labels = withEntries(s.Labels, map[string]string{mqttv1.LabelManagedBy: mqttv1.ManagedByValue, mqttv1.LabelUser: u.Name, mqttv1.LabelWatch: "true"}, "", nil)
	if len(keys) > 0 {
		slices.Sort(keys)
		s.Annotations = withEntries(s.Annotations, map[string]string{templateKeysAnnoation: strings.Join(keys, ",")}, "", nil)
	} else {
		delete(s.Annotations, templateKeysAnnoation)
	}
	want := map[string]string{generatedUsernameKey: u.EffectiveUsername(), generatedHostKey: b.Status.MQTTHost}
	if b.Status.MQTTPort != 0 {
		want[generatedPortKey] = strconv.Itoa(int(b.Status.MQTTPort))
	}
	for key, v := range want {
		s.Data[key] = []byte(v)
	}
	return !maps.EqualFunc(before.Data, s.Data, func(a, b []byte) bool { return string(a) == string(b) }) ||
		!maps.Equal(before.Labels, s.Labels) || !maps.Equal(before.Annotations, s.Annotations)
}

// withEntries adds add to m, creating it when needed, and records the
// added keys with the given prefix.
func withEntries(m, add map[string]string, prefix string, keys *[]string) map[string]string {
	if len(add) == 0 {
		return m
	}
	if m == nil {
		m = map[string]string{}
	}
	for k, v := range add {
		m[k] = v
		if keys != nil {
			*keys = append(*keys, prefix+":"+k)
		}
	}
	return m
}

// releaseGeneratedSecret deletes u's generated Secret, or with retain
// removes u as its owner so that it outlives u.
func (k userKind) releaseGeneratedSecret(ctx context.Context, u *mqttv1.MQTTUser, retain bool) error {
	s, err := k.conns.secrets.get(ctx, u.Namespace, u.GeneratedSecretName())
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get Secret %s: %w", u.GeneratedSecretName(), err)
	}
	if !metav1.IsControlledBy(s, u) {
		return nil
	}
	if !retain {
		if err := k.Delete(ctx, s, client.Preconditions{UID: &s.UID}); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("delete Secret %s: %w", s.Name, err)
		}
		return nil
	}
	patch := client.MergeFrom(s.DeepCopy())
	s.OwnerReferences = slices.DeleteFunc(s.OwnerReferences, func(r metav1.OwnerReference) bool { return r.UID == u.UID })
	if err := k.Patch(ctx, s, patch); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("release Secret %s: %w", s.Name, err)
	}
	return nil
}
