package resources

import (
	"errors"
	"fmt"
	"io"
	"regexp"

	corev1 "k8s.io/api/core/v1"

	"github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// Input is everything the builders need: the broker, the API credentials
// and the Erlang cookie the controller generated once (NewCredentials,
// NewCookie) or read back from the existing Secrets (CredentialsFromSecret,
// CookieFromSecret).
type Input struct {
	// Broker must have spec.managed set.
	Broker *v1alpha1.MQTTBroker
	// Credentials go into the credentials Secret.
	Credentials Credentials
	// Cookie is the Erlang cookie, identical on every node. It lives in a
	// Secret of its own and never changes with the API credentials: a node
	// started with another cookie cannot reach its peers.
	Cookie string
}

// Credentials are the generated API secrets of a managed broker.
//
// Keep them stable: regenerate only when the Secret is gone or damaged.
// EMQX reads the bootstrap file only when a node starts, so new
// credentials take effect once a node restarts; the pod template carries a
// hash of the bootstrap file, and the StatefulSet rolls the nodes one at a
// time (docs/internals/managed.md, "API credentials").
type Credentials struct {
	// APIKey is the 4.x AppID or the 5.x API key the operator's driver uses.
	APIKey string
	// APISecret is the AppSecret or API secret.
	APISecret string
	// DashboardPassword replaces the well-known admin/public dashboard login
	// on first boot. On 4.x the dashboard port also serves /api/v4 with it.
	DashboardPassword string
}

// DefaultAPIKey is the AppID / API key NewCredentials uses. It is valid for
// both the 4.x AppID rules and the 5.x API key rules.
const DefaultAPIKey = "mqtt_operator"

// Keys of the credentials Secret. The Secret has type kubernetes.io/basic-auth
// so that the controller reads username/password exactly as it reads the
// credentials Secret of an external broker.
const (
	SecretKeyUsername          = corev1.BasicAuthUsernameKey // the API key / AppID
	SecretKeyPassword          = corev1.BasicAuthPasswordKey // the API secret / AppSecret
	SecretKeyBootstrap         = "bootstrap"                 // the EMQX bootstrap file, key:secret
	SecretKeyDashboardPassword = "dashboard-password"
	// SecretKeyCookie is the key of the cookie Secret.
	SecretKeyCookie = "cookie"
	// legacySecretKeyCookie is where the credentials Secret kept the cookie
	// before it had a Secret of its own; LegacyCookie reads it once.
	legacySecretKeyCookie = "node-cookie"
)

// generatedLength is the length of every generated secret. 4.4 operators
// limited AppSecrets to 32 characters; 32 alphanumerics are ~190 bits.
const generatedLength = 32

var (
	apiKeyPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_]{0,127}$`)
	// Secrets are written raw into the key:secret bootstrap line and into env
	// values that cuttlefish (4.x) and HOCON (5.x) parse, so they start with a
	// letter (HOCON would read 1234 as a number) and hold only alphanumerics.
	secretPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{15,127}$`)
)

// NewCredentials generates credentials from random, normally crypto/rand.Reader.
func NewCredentials(random io.Reader) (Credentials, error) {
	var c Credentials
	c.APIKey = DefaultAPIKey
	for _, dst := range []*string{&c.APISecret, &c.DashboardPassword} {
		s, err := randomToken(random, generatedLength)
		if err != nil {
			return Credentials{}, fmt.Errorf("generate credentials: %w", err)
		}
		*dst = s
	}
	return c, nil
}

// NewCookie generates an Erlang cookie from random.
func NewCookie(random io.Reader) (string, error) {
	s, err := randomToken(random, generatedLength)
	if err != nil {
		return "", fmt.Errorf("generate cookie: %w", err)
	}
	return s, nil
}

const (
	letters      = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	alphanumeric = letters + "0123456789"
)

// randomToken draws n characters without modulo bias, the first a letter.
func randomToken(random io.Reader, n int) (string, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, 64)
	for len(out) < n {
		if _, err := io.ReadFull(random, buf); err != nil {
			return "", err
		}
		for _, x := range buf {
			set := alphanumeric
			if len(out) == 0 {
				set = letters
			}
			// Reject bytes past the largest multiple of len(set).
			if int(x) >= 256-256%len(set) {
				continue
			}
			out = append(out, set[int(x)%len(set)])
			if len(out) == n {
				break
			}
		}
	}
	return string(out), nil
}

// Validate checks that every value is safe to write into the bootstrap file
// and the env of the EMQX container.
func (c Credentials) Validate() error {
	if !apiKeyPattern.MatchString(c.APIKey) {
		return errors.New("api key must be 1-128 letters, digits or underscores, starting with a letter or digit")
	}
	for _, f := range []struct{ name, value string }{
		{"api secret", c.APISecret},
		{"dashboard password", c.DashboardPassword},
	} {
		if err := validateSecret(f.name, f.value); err != nil {
			return err
		}
	}
	return nil
}

// validateCookie checks a cookie as it is written into the env.
func validateCookie(cookie string) error { return validateSecret("cookie", cookie) }

func validateSecret(name, value string) error {
	if !secretPattern.MatchString(value) {
		return fmt.Errorf("%s must be 16-128 letters or digits, starting with a letter", name)
	}
	return nil
}

// CredentialsFromSecret reads back the credentials of an existing
// credentials Secret, so the controller reuses them instead of generating new
// ones. The values are validated; never log them.
func CredentialsFromSecret(s *corev1.Secret) (Credentials, error) {
	get := func(key string) string { return string(s.Data[key]) }
	c := Credentials{
		APIKey:            get(SecretKeyUsername),
		APISecret:         get(SecretKeyPassword),
		DashboardPassword: get(SecretKeyDashboardPassword),
	}
	if err := c.Validate(); err != nil {
		return Credentials{}, fmt.Errorf("secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return c, nil
}

// CookieFromSecret reads the cookie back from the cookie Secret.
func CookieFromSecret(s *corev1.Secret) (string, error) {
	c := string(s.Data[SecretKeyCookie])
	if err := validateCookie(c); err != nil {
		return "", fmt.Errorf("secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return c, nil
}

// LegacyCookie reads the cookie that a credentials Secret written by an
// earlier version of the operator holds, so that the running nodes keep
// their cookie when it moves to a Secret of its own.
func LegacyCookie(s *corev1.Secret) (string, bool) {
	c := string(s.Data[legacySecretKeyCookie])
	return c, validateCookie(c) == nil
}

// bootstrapFile is the content of the EMQX bootstrap file: one key:secret
// line (4.4 bootstrap_apps_file and 5.x api_key.bootstrap_file share the
// format; docs/internals/managed.md, "API credentials"). Exactly one
// trailing newline: 4.4 rejects an empty line and then refuses to start
// emqx_management.
func (c Credentials) bootstrapFile() string {
	return c.APIKey + ":" + c.APISecret + "\n"
}
