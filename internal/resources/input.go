package resources

import (
	"errors"
	"fmt"
	"io"
	"regexp"

	corev1 "k8s.io/api/core/v1"

	"github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// Input is everything the builders need: the broker and the credentials the
// controller generated once (NewCredentials) or read back from the existing
// Secret (CredentialsFromSecret).
type Input struct {
	// Broker must have spec.managed set.
	Broker *v1alpha1.MQTTBroker
	// Credentials go into the credentials Secret.
	Credentials Credentials
}

// Credentials are the generated secrets of a managed broker.
//
// Keep them stable: regenerate only when the Secret is gone. The config hash
// makes pods restart when they change, and the bootstrap file is re-applied
// at every start, so a rotation is picked up, but the operator gets 401s
// until the restarted nodes serve the API.
type Credentials struct {
	// APIKey is the 4.x AppID or the 5.x API key the operator's driver uses.
	APIKey string
	// APISecret is the AppSecret or API secret.
	APISecret string
	// NodeCookie is the Erlang cookie, identical on every node.
	NodeCookie string
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
	SecretKeyNodeCookie        = "node-cookie"
	SecretKeyDashboardPassword = "dashboard-password"
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
	for _, dst := range []*string{&c.APISecret, &c.NodeCookie, &c.DashboardPassword} {
		s, err := randomToken(random, generatedLength)
		if err != nil {
			return Credentials{}, fmt.Errorf("generate credentials: %w", err)
		}
		*dst = s
	}
	return c, nil
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
		{"node cookie", c.NodeCookie},
		{"dashboard password", c.DashboardPassword},
	} {
		if !secretPattern.MatchString(f.value) {
			return fmt.Errorf("%s must be 16-128 letters or digits, starting with a letter", f.name)
		}
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
		NodeCookie:        get(SecretKeyNodeCookie),
		DashboardPassword: get(SecretKeyDashboardPassword),
	}
	if err := c.Validate(); err != nil {
		return Credentials{}, fmt.Errorf("secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return c, nil
}

// bootstrapFile is the content of the EMQX bootstrap file: one key:secret
// line (4.4 bootstrap_apps_file and 5.x api_key.bootstrap_file share the
// format; pitfall 1). Exactly one trailing newline: 4.4 rejects an empty line
// and then refuses to start emqx_management.
func (c Credentials) bootstrapFile() string {
	return c.APIKey + ":" + c.APISecret + "\n"
}
