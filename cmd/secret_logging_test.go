package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/testbroker"
)

// logSink receives everything every manager in this package logs, at every
// verbosity, so that a test can prove what never appears in it.
var logSink = &lockedBuffer{}

// The logger is built as main builds it, at the highest verbosity a user
// can ask for.
func init() {
	ctrl.SetLogger(newLogger(&zap.Options{DestWriter: logSink, Level: zapcore.Level(-127)}))
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func randomSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "pw-" + base64.RawURLEncoding.EncodeToString(b)
}

// No password, generated or referenced, old or rotated, and no broker API
// secret appears in any log line (at the highest verbosity), Event or
// metric, while users are created through broker failures, rotated and
// deleted.
func TestPasswordsNeverLogged(t *testing.T) {
	ctx := context.Background()
	c, err := client.New(testCfg, client.Options{Scheme: newScheme()})
	if err != nil {
		t.Fatal(err)
	}
	apiSecret := randomSecret(t)
	tb, err := testbroker.New(testbroker.Options{AppSecret: apiSecret})
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tb.Close() })
	metrics := freeAddr(t)
	startManager(t, testCfg, "--health-probe-bind-address", "0", "--metrics-bind-address", metrics, "--metrics-secure=false",
		"--resync-interval", "2s", "--broker-timeout", "2s", "--max-retry-delay", "1s")

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "secret-log-"}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	refPW, rotatedPW := randomSecret(t), randomSecret(t)
	ref := mqttv1.BrokerReference{Name: "emqx"}
	// Failed user calls first (the driver retries reads), so error paths
	// are logged too.
	tb.InjectFault(testbroker.Fault{Count: 6, HTTPStatus: 500, V5Code: "INTERNAL_ERROR", Message: "boom", PathPrefix: "/api/v5/authentication"})
	for _, o := range []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns.Name}, Type: corev1.SecretTypeBasicAuth,
			StringData: map[string]string{"username": "admin", "password": apiSecret}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pw", Namespace: ns.Name}, StringData: map[string]string{"password": refPW}},
		&mqttv1.MQTTBroker{ObjectMeta: metav1.ObjectMeta{Name: "emqx", Namespace: ns.Name}, Spec: mqttv1.MQTTBrokerSpec{External: &mqttv1.ExternalBroker{
			URL: tb.APIURL(), APIVersion: mqttv1.BrokerAPIv5, CredentialsSecretRef: mqttv1.LocalObjectReference{Name: "api"}}}},
		&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "gen", Namespace: ns.Name}, Spec: mqttv1.MQTTUserSpec{BrokerRef: ref}},
		&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "ref", Namespace: ns.Name}, Spec: mqttv1.MQTTUserSpec{BrokerRef: ref,
			PasswordSecretRef: &mqttv1.SecretKeySelector{Name: "pw", Key: "password"}}},
	} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	ready := func(name string) *mqttv1.MQTTUser {
		var u mqttv1.MQTTUser
		waitUntil(t, 60*time.Second, "MQTTUser "+name+" Ready", func() bool {
			return c.Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: name}, &u) == nil &&
				apimeta.IsStatusConditionTrue(u.Status.Conditions, mqttv1.ConditionReady) && u.Status.ObservedGeneration == u.Generation
		})
		return &u
	}
	ready("gen")
	before := ready("ref").Status.PasswordHash
	var gen corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: "gen-mqtt-credentials"}, &gen); err != nil {
		t.Fatal(err)
	}
	genPW := string(gen.Data["password"])
	if genPW == "" {
		t.Fatal("generated Secret has no password")
	}

	var pw corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: "pw"}, &pw); err != nil {
		t.Fatal(err)
	}
	pw.Data["password"] = []byte(rotatedPW)
	if err := c.Update(ctx, &pw); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, "the rotated password applied", func() bool {
		u := ready("ref")
		return u.Status.PasswordHash != before
	})
	if err := c.Delete(ctx, &mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "gen", Namespace: ns.Name}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, "MQTTUser gen deleted", func() bool {
		return apierrors.IsNotFound(c.Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: "gen"}, &mqttv1.MQTTUser{}))
	})

	var events eventsv1.EventList
	if err := c.List(ctx, &events, client.InNamespace(ns.Name)); err != nil {
		t.Fatal(err)
	}
	var evText strings.Builder
	for _, e := range events.Items {
		fmt.Fprintf(&evText, "%s %s %s %s\n", e.Reason, e.Action, e.Note, e.Regarding.Name)
	}
	logs := logSink.String()
	// The sink saw this test's manager at work, so its silence means something.
	for _, want := range []string{ns.Name, `"gen"`, "Reconciler error", "Reconcile successful"} {
		if !strings.Contains(logs, want) {
			t.Fatalf("the log sink captured no line with %q; it is not receiving the manager's logs", want)
		}
	}
	// client-go prints request and reply bodies (Secrets included, in a
	// hex dump that no substring search would catch) from V(8) on.
	for _, never := range []string{`"msg":"Request Body"`, `"msg":"Response Body"`} {
		if strings.Contains(logs, never) {
			t.Errorf("the logs contain %s lines: the verbosity cap is not applied", never)
		}
	}
	if len(events.Items) == 0 {
		t.Fatal("no Events recorded")
	}
	scraped := poll(t, "http://"+metrics+"/metrics")
	for name, secret := range map[string]string{"generated password": genPW, "referenced password": refPW,
		"rotated password": rotatedPW, "broker API secret": apiSecret} {
		for _, form := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret)), base64.RawStdEncoding.EncodeToString([]byte(secret))} {
			for where, text := range map[string]string{"logs": logs, "Events": evText.String(), "metrics": scraped} {
				if strings.Contains(text, form) {
					t.Errorf("the %s appears in the %s", name, where)
				}
			}
		}
	}
	t.Logf("checked %d bytes of logs, %d Events and %d bytes of metrics", len(logs), len(events.Items), len(scraped))
}

func waitUntil(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
