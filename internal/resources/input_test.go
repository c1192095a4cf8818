package resources

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// countingReader yields 0, 1, 2, ... so every byte value appears.
type countingReader struct{ n byte }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

func TestNewCredentials(t *testing.T) {
	c, err := NewCredentials(&countingReader{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("generated credentials invalid: %v", err)
	}
	if c.APIKey != DefaultAPIKey {
		t.Errorf("api key = %q", c.APIKey)
	}
	again, _ := NewCredentials(&countingReader{})
	if again != c {
		t.Error("the same random stream must give the same credentials")
	}
	if c.APISecret == c.DashboardPassword {
		t.Error("every secret must be drawn separately")
	}
	cookie, err := NewCookie(&countingReader{})
	if err != nil || validateCookie(cookie) != nil {
		t.Fatalf("NewCookie = %q, %v", cookie, err)
	}
	for _, s := range []string{c.APISecret, c.DashboardPassword, cookie} {
		if len(s) != generatedLength {
			t.Errorf("len(%q) = %d", s, len(s))
		}
	}
	real1, err := NewCredentials(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	real2, _ := NewCredentials(rand.Reader)
	if real1.APISecret == real2.APISecret {
		t.Error("crypto/rand gave equal secrets")
	}
	// Bytes >= 248 are rejected for the alphanumeric set: an all-0xff stream
	// never yields a character and must end in an error, not a biased secret.
	if _, err := NewCredentials(io.LimitReader(bytes.NewReader(bytes.Repeat([]byte{0xff}, 1024)), 1024)); err == nil {
		t.Error("want an error when the random stream runs dry")
	}
}

func TestCredentialsValidate(t *testing.T) {
	good := testCredentials
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*Credentials){
		"colon in key":       func(c *Credentials) { c.APIKey = "a:b" },
		"empty key":          func(c *Credentials) { c.APIKey = "" },
		"colon in secret":    func(c *Credentials) { c.APISecret = "Abcdefghijklmnop:q" },
		"newline in secret":  func(c *Credentials) { c.APISecret = "Abcdefghijklmnopq\n" },
		"short secret":       func(c *Credentials) { c.APISecret = "Abc" },
		"numeric secret":     func(c *Credentials) { c.APISecret = "1234567890123456789" },
		"empty dashboard pw": func(c *Credentials) { c.DashboardPassword = "" },
	} {
		t.Run(name, func(t *testing.T) {
			c := good
			mutate(&c)
			if err := c.Validate(); err == nil {
				t.Error("Validate accepted it")
			}
			if _, err := Build(Input{Broker: testBroker(testVersion5, 1, false), Credentials: c, Cookie: testCookie}); err == nil || IsSpecError(err) {
				t.Errorf("Build = %v, want a credentials error that is not a SpecError", err)
			}
		})
	}
}

func TestCredentialsFromSecret(t *testing.T) {
	objs := mustBuild(t, testBroker(testVersion5, 1, false))
	got, err := CredentialsFromSecret(objs.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if got != testCredentials {
		t.Errorf("round trip = %+v", got)
	}
	broken := objs.Secret.DeepCopy()
	delete(broken.Data, SecretKeyDashboardPassword)
	_, err = CredentialsFromSecret(broken)
	if err == nil || !strings.Contains(err.Error(), "dashboard password") {
		t.Errorf("CredentialsFromSecret = %v, want an error about the dashboard password", err)
	}
	if strings.Contains(err.Error(), testCredentials.APISecret) {
		t.Error("the error leaks a secret")
	}
	var se *SpecError
	if errors.As(err, &se) {
		t.Error("a broken Secret is not a spec error")
	}
}

func TestCookieSecret(t *testing.T) {
	objs := mustBuild(t, testBroker(testVersion5, 3, true))
	s := objs.CookieSecret
	if got, err := CookieFromSecret(s); err != nil || got != testCookie {
		t.Fatalf("CookieFromSecret = %q, %v", got, err)
	}
	if s.Immutable == nil || !*s.Immutable {
		t.Error("the cookie Secret must be immutable")
	}
	if s.Name == objs.Secret.Name {
		t.Error("the cookie must not share the credentials Secret")
	}
	if _, ok := objs.Secret.Data[legacySecretKeyCookie]; ok {
		t.Error("the credentials Secret must not carry a cookie any more")
	}
	for _, sec := range []*corev1.Secret{objs.Secret, objs.CookieSecret} {
		if sec.Labels[v1alpha1.LabelManagedBy] != v1alpha1.ManagedByValue || sec.Labels[v1alpha1.LabelWatch] != "true" {
			t.Errorf("Secret %s labels = %v, want managed-by and the watch label", sec.Name, sec.Labels)
		}
	}
	broken := s.DeepCopy()
	broken.Data[SecretKeyCookie] = []byte("short")
	if _, err := CookieFromSecret(broken); err == nil || strings.Contains(err.Error(), "short") {
		t.Errorf("CookieFromSecret of a bad cookie = %v, want an error without the value", err)
	}

	// A credentials Secret of an earlier operator version held the cookie;
	// it is taken over so the running nodes keep theirs.
	old := objs.Secret.DeepCopy()
	old.Data[legacySecretKeyCookie] = []byte(testCookie)
	if c, ok := LegacyCookie(old); !ok || c != testCookie {
		t.Errorf("LegacyCookie = %q, %v", c, ok)
	}
	if _, ok := LegacyCookie(objs.Secret); ok {
		t.Error("LegacyCookie found a cookie in a Secret without one")
	}
}
