// Package brokerconn reads how to reach an MQTTBroker's management API from
// the cluster: the URL, API flavour and credentials of an external broker
// from its spec and the Secrets it references, or those of a managed broker
// from what the operator generated. The kubectl plugin reads them with the
// user's own permissions; the operator's connector follows the same rules.
package brokerconn

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/resources"
)

// Error is a connection setting that cannot be read until the spec or a
// referenced Secret changes. Reason is a condition reason of the API package.
type Error struct {
	Reason  string
	Message string
}

func (e *Error) Error() string { return e.Message }

func errorf(reason, format string, a ...any) *Error {
	return &Error{Reason: reason, Message: fmt.Sprintf(format, a...)}
}

// Config returns the connection settings of b: URL, API version, API
// credentials and, for an external broker, its TLS settings. Timeout,
// Observe and Transport are left for the caller.
func Config(ctx context.Context, c client.Reader, b *mqttv1.MQTTBroker) (broker.Config, error) {
	var cfg broker.Config
	switch {
	case b.Spec.External != nil:
		ext := b.Spec.External
		cfg.URL = ext.URL
		cfg.APIVersion = broker.APIVersion(ext.APIVersion)
		cfg.InsecureSkipVerify = ext.InsecureSkipVerify
		user, pass, err := basicAuth(ctx, c, b.Namespace, ext.CredentialsSecretRef.Name)
		if err != nil {
			return cfg, err
		}
		cfg.Username, cfg.Password = user, pass
		if ext.CASecretRef != nil {
			ca, err := SecretKey(ctx, c, b.Namespace, ext.CASecretRef.Name, ext.CASecretRef.Key)
			if err != nil {
				return cfg, err
			}
			cfg.CABundle = ca
		}
	case b.Spec.Managed != nil:
		cfg.URL = resources.APIURL(b)
		cfg.APIVersion = broker.APIVersion(b.Spec.Managed.APIVersion())
		user, pass, err := basicAuth(ctx, c, b.Namespace, resources.CredentialsSecretName(b))
		if err != nil {
			return cfg, err
		}
		cfg.Username, cfg.Password = user, pass
	default:
		return cfg, errorf(mqttv1.ReasonInvalidSpec, "spec must set managed or external")
	}
	return cfg, nil
}

// getSecret reads a Secret; a missing one is an *Error.
func getSecret(ctx context.Context, c client.Reader, ns, name string) (*corev1.Secret, error) {
	var s corev1.Secret
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, errorf(mqttv1.ReasonSecretNotFound, "Secret %s/%s not found", ns, name)
		}
		return nil, fmt.Errorf("get Secret %s/%s: %w", ns, name, err)
	}
	return &s, nil
}

func basicAuth(ctx context.Context, c client.Reader, ns, name string) (string, string, error) {
	s, err := getSecret(ctx, c, ns, name)
	if err != nil {
		return "", "", err
	}
	user, pass := string(s.Data[corev1.BasicAuthUsernameKey]), string(s.Data[corev1.BasicAuthPasswordKey])
	if user == "" || pass == "" {
		return "", "", errorf(mqttv1.ReasonSecretInvalid, "credentials Secret %s/%s must have non-empty %q and %q keys",
			ns, name, corev1.BasicAuthUsernameKey, corev1.BasicAuthPasswordKey)
	}
	return user, pass, nil
}

// SecretKey reads one non-empty key of a Secret; a missing Secret or key
// is an *Error.
func SecretKey(ctx context.Context, c client.Reader, ns, name, key string) ([]byte, error) {
	s, err := getSecret(ctx, c, ns, name)
	if err != nil {
		return nil, err
	}
	v, ok := s.Data[key]
	if !ok || len(v) == 0 {
		return nil, errorf(mqttv1.ReasonSecretInvalid, "Secret %s/%s has no key %q", ns, name, key)
	}
	return v, nil
}
