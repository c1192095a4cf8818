package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/plugin"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func readyStatus(reason, msg string) mqttv1.CommonStatus {
	return mqttv1.CommonStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{{Type: mqttv1.ConditionReady,
		Status: metav1.ConditionTrue, Reason: reason, Message: msg, ObservedGeneration: 1, LastTransitionTime: metav1.NewTime(now)}}}
}

func objects() []client.Object {
	om := func(ns, name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: ns, Name: name, Generation: 1, CreationTimestamp: metav1.NewTime(now.Add(-time.Hour))}
	}
	return []client.Object{
		&mqttv1.MQTTBroker{ObjectMeta: om("team-a", "emqx"), Status: mqttv1.MQTTBrokerStatus{CommonStatus: readyStatus("Succeeded", "ok")}},
		&mqttv1.MQTTUser{ObjectMeta: om("team-a", "sensor-1"), Spec: mqttv1.MQTTUserSpec{BrokerRef: mqttv1.BrokerReference{Name: "emqx"}},
			Status: mqttv1.MQTTUserStatus{CommonStatus: readyStatus("Succeeded", "ok"), CredentialsSecretName: "sensor-1-mqtt-credentials"}},
		&mqttv1.MQTTUser{ObjectMeta: om("team-b", "pending"), Spec: mqttv1.MQTTUserSpec{BrokerRef: mqttv1.BrokerReference{Name: "emqx"}}},
		&mqttv1.MQTTACL{ObjectMeta: om("team-b", "sensor-2"), Spec: mqttv1.MQTTACLSpec{BrokerRef: mqttv1.BrokerReference{Name: "emqx"}}},
		&corev1.Secret{ObjectMeta: om("team-a", "sensor-1-mqtt-credentials"), Data: map[string][]byte{
			"username": []byte("sensor-1"), "password": []byte("pa ss"), "host": []byte("emqx"), "port": []byte("1883")}},
	}
}

// harness is a cli whose client factory hands out one fake client and
// records the kubeconfig flags it was called with.
type harness struct {
	cli
	client client.Client
	calls  []kubeFlags
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	s, err := plugin.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{client: fake.NewClientBuilder().WithScheme(s).WithObjects(objects()...).Build()}
	h.cli = cli{
		ctx:   context.Background(),
		clock: clocktesting.NewFakePassiveClock(now),
		newClient: func(k kubeFlags) (kubeConn, error) {
			h.calls = append(h.calls, k)
			if k.Context == "broken" {
				return kubeConn{}, errors.New(`load kubeconfig: context "broken" does not exist`)
			}
			return kubeConn{client: h.client, namespace: "team-a"}, nil // team-a is the context's namespace
		},
		version: "v0.0.0-test",
	}
	return h
}

func TestRun(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    []string // substrings of stdout
		wantNotOut []string
		wantErr    string // stderr's first line, exactly
		wantCalls  []kubeFlags
	}{
		{
			name: "status uses the context's namespace", args: []string{"status"},
			wantOut:    []string{"KIND ", "MQTTBroker   emqx ", "MQTTUser     sensor-1 "},
			wantNotOut: []string{"NAMESPACE", "sensor-2"},
			wantCalls:  []kubeFlags{{}},
		},
		{
			name: "flags before the command", args: []string{"-n", "team-b", "--context=prod", "status"},
			wantOut: []string{"sensor-2", "pending"}, wantNotOut: []string{"sensor-1"},
			wantCalls: []kubeFlags{{Context: "prod"}},
		},
		{
			name: "status -A", args: []string{"status", "-A", "--kubeconfig", "/tmp/kc"},
			wantOut:   []string{"NAMESPACE", "team-a", "team-b"},
			wantCalls: []kubeFlags{{Kubeconfig: "/tmp/kc"}},
		},
		{
			name: "status of some kinds", args: []string{"status", "mqu", "--all-namespaces"},
			wantOut: []string{"sensor-1", "pending"}, wantNotOut: []string{"MQTTBroker", "sensor-2"},
			wantCalls: []kubeFlags{{}},
		},
		{
			name: "credentials, flags after the name", args: []string{"credentials", "sensor-1", "-o", "env", "--context", "prod"},
			wantOut:   []string{"MQTT_USERNAME=sensor-1\nMQTT_PASSWORD='pa ss'\nMQTT_HOST=emqx\nMQTT_PORT=1883\n"},
			wantCalls: []kubeFlags{{Context: "prod"}},
		},
		{
			name: "credentials key=value", args: []string{"credentials", "--namespace=team-a", "sensor-1"},
			wantOut:   []string{"username=sensor-1\npassword=pa ss\nhost=emqx\nport=1883\n"},
			wantCalls: []kubeFlags{{}},
		},
		{
			name: "reconcile", args: []string{"reconcile", "mqu/sensor-1", "mqb/emqx"},
			wantOut: []string{"mqttuser/sensor-1 reconcile requested at 2026-03-01T12:00:00Z\n",
				"mqttbroker/emqx reconcile requested at 2026-03-01T12:00:00Z\n"},
			wantCalls: []kubeFlags{{}},
		},
		{name: "version", args: []string{"version"}, wantOut: []string{"kubectl-mqtt v0.0.0-test"}},
		{name: "help", args: []string{"--help"}, wantOut: []string{"Usage:\n  kubectl mqtt <command>", "credentials <mqttuser>"}},
		{name: "help command", args: []string{"help", "reconcile"}, wantOut: []string{"mqttuser|mqttusers|mqu", plugin.ReconcileRequestedAtAnnotation}},
		{name: "command help", args: []string{"credentials", "-h"}, wantOut: []string{"kubectl mqtt credentials <mqttuser>"}},

		// Usage errors: exit 2, no cluster contact.
		{name: "no command", args: nil, wantCode: 2, wantErr: "error: no command given: want one of status, credentials, reconcile, version, clients, kick, subscriptions, subscribe, unsubscribe, publish, metrics, stats, can-i, import"},
		{name: "unknown command", args: []string{"explain-ban", "x"}, wantCode: 2,
			wantErr: `error: unknown command "explain-ban": want one of status, credentials, reconcile, version, clients, kick, subscriptions, subscribe, unsubscribe, publish, metrics, stats, can-i, import`},
		{name: "unknown flag", args: []string{"status", "--selector=x"}, wantCode: 2,
			wantErr: "error: status: flag provided but not defined: -selector"},
		{name: "missing flag value", args: []string{"status", "-n"}, wantCode: 2,
			wantErr: "error: status: flag needs an argument: -n"},
		{name: "bad output", args: []string{"status", "-o", "yaml"}, wantCode: 2,
			wantErr: `error: status: unknown output format "yaml": want json or wide`},
		{name: "-A with -n", args: []string{"status", "-A", "-n", "x"}, wantCode: 2,
			wantErr: "error: status: --namespace and --all-namespaces cannot be used together"},
		{name: "-A where it makes no sense", args: []string{"credentials", "x", "-A"}, wantCode: 2,
			wantErr: "error: credentials: flag provided but not defined: -A"},
		{name: "bad namespace", args: []string{"status", "-n", "Team_A"}, wantCode: 2,
			wantErr: `error: invalid namespace "Team_A": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`},
		{name: "status of an unknown kind", args: []string{"status", "pods"}, wantCode: 2,
			wantErr: `error: unknown kind "pods": want one of mqttbroker (mqb), mqttuser (mqu), mqttacl (mqacl), mqttban (mqban)`},
		{name: "credentials without a name", args: []string{"credentials"}, wantCode: 2,
			wantErr: "error: credentials takes exactly one MQTTUser name, got 0 arguments"},
		{name: "credentials of two users", args: []string{"credentials", "a", "b"}, wantCode: 2,
			wantErr: "error: credentials takes exactly one MQTTUser name, got 2 arguments"},
		{name: "credentials -o json", args: []string{"credentials", "a", "-o", "json"}, wantCode: 2,
			wantErr: `error: credentials: unknown output format "json": want env`},
		{name: "reconcile of nothing", args: []string{"reconcile"}, wantCode: 2,
			wantErr: "error: reconcile needs at least one <kind>/<name>, e.g. mqttuser/sensor-1"},
		{name: "reconcile of an unknown kind", args: []string{"reconcile", "mqu/sensor-1", "deployment/x"}, wantCode: 2,
			wantErr: `error: unknown kind "deployment": want one of mqttbroker (mqb), mqttuser (mqu), mqttacl (mqacl), mqttban (mqban)`},
		{name: "reconcile without a kind", args: []string{"reconcile", "sensor-1"}, wantCode: 2,
			wantErr: `error: invalid reference "sensor-1": want <kind>/<name>, e.g. mqttuser/sensor-1`},
		{name: "version with arguments", args: []string{"version", "x"}, wantCode: 2, wantErr: "error: version takes no arguments"},
		{name: "broker command without --broker", args: []string{"clients"}, wantCode: 2,
			wantErr: "error: clients needs --broker NAME (the MQTTBroker to call)"},
		{name: "bad client state", args: []string{"clients", "--broker", "b", "--state", "online"}, wantCode: 2,
			wantErr: `error: clients: unknown --state "online": want connected, idle or disconnected`},
		{name: "publish without a payload", args: []string{"publish", "t", "--broker", "b"}, wantCode: 2,
			wantErr: "error: publish needs a PAYLOAD argument or --file PATH (- for standard input)"},
		{name: "publish with a bad qos", args: []string{"publish", "t", "x", "--qos", "3", "--broker", "b"}, wantCode: 2,
			wantErr: "error: publish: qos 3: want 0, 1 or 2"},
		{name: "publish with an unknown encoding", args: []string{"publish", "t", "x", "--encoding", "hex", "--broker", "b"}, wantCode: 2,
			wantErr: `error: publish: unknown --encoding "hex": want plain or base64`},
		{name: "subscribe without a client", args: []string{"subscribe", "t", "--broker", "b"}, wantCode: 2,
			wantErr: "error: subscribe needs --client ID and a TOPIC (or --file)"},
		{name: "can-i with an unknown action", args: []string{"can-i", "u", "read", "t", "--broker", "b"}, wantCode: 2,
			wantErr: `error: unknown action "read": want publish or subscribe`},
		{name: "can-i without a subject", args: []string{"can-i", "publish", "t", "--broker", "b"}, wantCode: 2,
			wantErr: "error: can-i takes USER ACTION TOPIC, or ACTION TOPIC with --client ID"},
		{name: "import -o wide", args: []string{"import", "--broker", "b", "-o", "wide"}, wantCode: 2,
			wantErr: `error: import: unknown output format "wide": want json or yaml`},
		{name: "broker command of a missing broker", args: []string{"stats", "--broker", "ghost"}, wantCode: 1,
			wantErr: `error: mqttbroker "ghost" not found in namespace "team-a"`, wantCalls: []kubeFlags{{}}},

		// Failures: exit 1, one line.
		{name: "no kubeconfig", args: []string{"status", "--context", "broken"}, wantCode: 1,
			wantErr: `error: load kubeconfig: context "broken" does not exist`, wantCalls: []kubeFlags{{Context: "broken"}}},
		{name: "credentials of a missing user", args: []string{"credentials", "ghost"}, wantCode: 1,
			wantErr: `error: mqttuser "ghost" not found in namespace "team-a"`, wantCalls: []kubeFlags{{}}},
		{name: "reconcile of a missing object", args: []string{"reconcile", "mqban/ghost", "-n", "team-b"}, wantCode: 1,
			wantErr: `error: mqttban "ghost" not found in namespace "team-b"`, wantCalls: []kubeFlags{{}}},
		{name: "credentials of a user without status", args: []string{"-n", "team-b", "credentials", "pending"}, wantCode: 1,
			wantErr:   "error: mqttuser team-b/pending has no credentials Secret in its status yet (no Ready condition): wait until the operator has reconciled it",
			wantCalls: []kubeFlags{{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			var stdout, stderr bytes.Buffer
			code := h.run(tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d; stderr:\n%s", code, tt.wantCode, stderr.String())
			}
			for _, s := range tt.wantOut {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout.String())
				}
			}
			for _, s := range tt.wantNotOut {
				if strings.Contains(stdout.String(), s) {
					t.Errorf("stdout has %q:\n%s", s, stdout.String())
				}
			}
			if tt.wantErr != "" {
				lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
				errLine := ""
				for _, l := range lines {
					if strings.HasPrefix(l, "error: ") {
						errLine = l
					}
				}
				if errLine != tt.wantErr {
					t.Errorf("stderr error line = %q, want %q\nstderr:\n%s", errLine, tt.wantErr, stderr.String())
				}
				if tt.wantCode == 1 && len(lines) != 1 {
					t.Errorf("stderr has %d lines, want 1:\n%s", len(lines), stderr.String())
				}
			} else if stderr.Len() != 0 {
				t.Errorf("stderr = %q, want nothing", stderr.String())
			}
			if len(h.calls) != len(tt.wantCalls) {
				t.Fatalf("client factory called %d times (%+v), want %d", len(h.calls), h.calls, len(tt.wantCalls))
			}
			for i := range h.calls {
				if h.calls[i] != tt.wantCalls[i] {
					t.Errorf("client factory got %+v, want %+v", h.calls[i], tt.wantCalls[i])
				}
			}
		})
	}
}

// The annotation really lands on the object, in the namespace -n names.
func TestRunReconcileAnnotates(t *testing.T) {
	h := newHarness(t)
	var stdout, stderr bytes.Buffer
	if code := h.run([]string{"reconcile", "mqttacl/sensor-2", "--namespace", "team-b"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d: %s", code, stderr.String())
	}
	var acl mqttv1.MQTTACL
	if err := h.client.Get(context.Background(), client.ObjectKey{Namespace: "team-b", Name: "sensor-2"}, &acl); err != nil {
		t.Fatal(err)
	}
	if got := acl.Annotations[plugin.ReconcileRequestedAtAnnotation]; got != "2026-03-01T12:00:00Z" {
		t.Errorf("annotation = %q", got)
	}
}

func TestRunStatusJSON(t *testing.T) {
	h := newHarness(t)
	var stdout, stderr bytes.Buffer
	if code := h.run([]string{"status", "-A", "-o", "json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d: %s", code, stderr.String())
	}
	var got plugin.StatusList
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout.String())
	}
	var names []string
	for _, r := range got.Items {
		names = append(names, r.Namespace+"/"+r.Kind+"/"+r.Name+"="+r.Ready)
	}
	want := "team-a/MQTTBroker/emqx=True team-a/MQTTUser/sensor-1=True team-b/MQTTUser/pending=Unknown team-b/MQTTACL/sensor-2=Unknown"
	if strings.Join(names, " ") != want {
		t.Errorf("items = %v, want %s", names, want)
	}
}

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		args     []string
		wantCmd  string
		wantRest string
	}{
		{[]string{"status"}, "status", ""},
		{[]string{"-n", "status", "reconcile", "x"}, "reconcile", "-n status x"},
		{[]string{"--namespace=a", "status", "-A"}, "status", "--namespace=a -A"},
		{[]string{"-A", "--context", "c", "credentials", "u"}, "credentials", "-A --context c u"},
		{[]string{"-h"}, "", "-h"},
		{[]string{"--", "status"}, "", "-- status"},
	}
	for _, tt := range tests {
		cmd, rest := splitCommand(tt.args)
		if cmd != tt.wantCmd || strings.Join(rest, " ") != tt.wantRest {
			t.Errorf("splitCommand(%q) = %q, %q, want %q, %q", tt.args, cmd, rest, tt.wantCmd, tt.wantRest)
		}
	}
}
