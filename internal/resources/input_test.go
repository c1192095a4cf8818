package resources

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"
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
	if c.APISecret == c.NodeCookie || c.NodeCookie == c.DashboardPassword {
		t.Error("every secret must be drawn separately")
	}
	for _, s := range []string{c.APISecret, c.NodeCookie, c.DashboardPassword} {
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
		"numeric cookie":     func(c *Credentials) { c.NodeCookie = "1234567890123456789" },
		"empty dashboard pw": func(c *Credentials) { c.DashboardPassword = "" },
	} {
		t.Run(name, func(t *testing.T) {
			c := good
			mutate(&c)
			if err := c.Validate(); err == nil {
				t.Error("Validate accepted it")
			}
			if _, err := Build(Input{Broker: testBroker(testVersion5, 1, false), Credentials: c}); err == nil || IsSpecError(err) {
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
	delete(broken.Data, SecretKeyNodeCookie)
	_, err = CredentialsFromSecret(broken)
	if err == nil || !strings.Contains(err.Error(), "node cookie") {
		t.Errorf("CredentialsFromSecret = %v, want an error about the cookie", err)
	}
	if strings.Contains(err.Error(), testCredentials.APISecret) {
		t.Error("the error leaks a secret")
	}
	var se *SpecError
	if errors.As(err, &se) {
		t.Error("a broken Secret is not a spec error")
	}
}
