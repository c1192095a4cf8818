package plugin

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// Output formats of the credentials command.
const (
	// OutputKeyValue prints username=..., password=..., host=..., port=... lines.
	OutputKeyValue = ""
	// OutputEnv prints MQTT_USERNAME=... lines, quoted for a POSIX shell.
	OutputEnv = "env"
)

// CredentialsOptions names the MQTTUser whose credentials to print.
type CredentialsOptions struct {
	Namespace string
	Name      string
	// Output is OutputKeyValue or OutputEnv.
	Output string
}

// Credentials are an MQTTUser's connection details.
type Credentials struct {
	Username string
	Password string
	Host     string
	Port     string
}

// String redacts the password, so that printing the value with %v or %+v
// by mistake cannot leak it.
func (c Credentials) String() string {
	return fmt.Sprintf("{Username:%s Password:<redacted> Host:%s Port:%s}", c.Username, c.Host, c.Port)
}

// GoString redacts the password for %#v too.
func (c Credentials) GoString() string { return "plugin.Credentials" + c.String() }

// ReadCredentials reads an MQTTUser's connection details from the Secret
// named in its status. Username, host and port fall back to the user's
// status and its broker's status when the Secret lacks them (a Secret the
// user manages holds only the password). Errors never contain Secret data.
func ReadCredentials(ctx context.Context, c client.Reader, namespace, name string) (Credentials, error) {
	var u mqttv1.MQTTUser
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &u); err != nil {
		if apierrors.IsNotFound(err) {
			return Credentials{}, fmt.Errorf("mqttuser %q not found in namespace %q", name, namespace)
		}
		return Credentials{}, fmt.Errorf("get mqttuser %s/%s: %w", namespace, name, err)
	}
	secretName := u.Status.CredentialsSecretName
	if secretName == "" {
		return Credentials{}, fmt.Errorf("mqttuser %s/%s has no credentials Secret in its status yet (%s): wait until the operator has reconciled it",
			namespace, name, readySummary(&u.Status.CommonStatus))
	}
	var s corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: secretName}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return Credentials{}, fmt.Errorf("credentials Secret %q of mqttuser %s/%s not found", secretName, namespace, name)
		}
		return Credentials{}, fmt.Errorf("get credentials Secret %q of mqttuser %s/%s: %w", secretName, namespace, name, err)
	}
	passwordKey := "password"
	if ref := u.Spec.PasswordSecretRef; ref != nil && ref.Name == secretName {
		passwordKey = ref.Key
	}
	cr := Credentials{
		Username: string(s.Data["username"]),
		Password: string(s.Data[passwordKey]),
		Host:     string(s.Data["host"]),
		Port:     string(s.Data["port"]),
	}
	if cr.Password == "" {
		return Credentials{}, fmt.Errorf("credentials Secret %q of mqttuser %s/%s has no key %q (or it is empty)", secretName, namespace, name, passwordKey)
	}
	if cr.Username == "" {
		cr.Username = u.Status.Username
	}
	if cr.Username == "" {
		cr.Username = u.EffectiveUsername()
	}
	if cr.Host == "" || cr.Port == "" {
		addressFromBroker(ctx, c, &u, &cr)
	}
	return cr, nil
}

// addressFromBroker fills in the host and port cr lacks from the status of
// u's broker. It is best effort: the broker may be unreadable with the
// caller's rights.
func addressFromBroker(ctx context.Context, c client.Reader, u *mqttv1.MQTTUser, cr *Credentials) {
	brokerNS := u.Spec.BrokerRef.Namespace
	if brokerNS == "" {
		brokerNS = u.Namespace
	}
	var b mqttv1.MQTTBroker
	if err := c.Get(ctx, client.ObjectKey{Namespace: brokerNS, Name: u.Spec.BrokerRef.Name}, &b); err != nil {
		return
	}
	if cr.Host == "" {
		cr.Host = b.Status.MQTTHost
	}
	if cr.Port == "" && b.Status.MQTTPort != 0 {
		cr.Port = strconv.Itoa(int(b.Status.MQTTPort))
	}
}

// WriteCredentials prints an MQTTUser's connection details, password
// included. It is the only place the plugin prints a password, and only to w.
func WriteCredentials(ctx context.Context, c client.Reader, w io.Writer, opts CredentialsOptions) error {
	if opts.Output != OutputKeyValue && opts.Output != OutputEnv {
		return fmt.Errorf("unknown output format %q: want env", opts.Output)
	}
	cr, err := ReadCredentials(ctx, c, opts.Namespace, opts.Name)
	if err != nil {
		return err
	}
	_, err = w.Write(FormatCredentials(cr, opts.Output))
	return err
}

// FormatCredentials renders credentials as key=value lines or, for
// OutputEnv, as MQTT_* assignments a POSIX shell can eval.
func FormatCredentials(cr Credentials, output string) []byte {
	fields := []struct{ key, value string }{
		{"username", cr.Username},
		{"password", cr.Password},
		{"host", cr.Host},
		{"port", cr.Port},
	}
	var b bytes.Buffer
	for _, f := range fields {
		if output == OutputEnv {
			fmt.Fprintf(&b, "MQTT_%s=%s\n", strings.ToUpper(f.key), shellQuote(f.value))
		} else {
			fmt.Fprintf(&b, "%s=%s\n", f.key, f.value)
		}
	}
	return b.Bytes()
}

// shellQuote leaves words of safe characters alone and single-quotes the rest.
func shellQuote(s string) string {
	if strings.IndexFunc(s, needsQuoting) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// needsQuoting reports whether a POSIX shell could treat r specially.
func needsQuoting(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return false
	default:
		return !strings.ContainsRune("@%+=:,./_-", r)
	}
}

// readySummary describes the Ready condition for an error message.
func readySummary(st *mqttv1.CommonStatus) string {
	c := apimeta.FindStatusCondition(st.Conditions, mqttv1.ConditionReady)
	if c == nil {
		return "no Ready condition"
	}
	if c.Reason == "" {
		return "Ready=" + string(c.Status)
	}
	return fmt.Sprintf("Ready=%s, reason %s", c.Status, c.Reason)
}
