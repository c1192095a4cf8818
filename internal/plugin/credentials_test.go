package plugin

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

func secret(ns, name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func user(name string, spec mqttv1.MQTTUserSpec, status mqttv1.MQTTUserStatus) *mqttv1.MQTTUser {
	if spec.BrokerRef.Name == "" {
		spec.BrokerRef = ref("emqx")
	}
	return &mqttv1.MQTTUser{ObjectMeta: meta("team-a", name, time.Hour, 1), Spec: spec, Status: status}
}

func TestCredentialsOutput(t *testing.T) {
	broker := &mqttv1.MQTTBroker{ObjectMeta: meta("team-a", "emqx", time.Hour, 1),
		Status: mqttv1.MQTTBrokerStatus{MQTTHost: "emqx.team-a.svc", MQTTPort: 8883}}
	generated := secret("team-a", "sensor-1-mqtt-credentials",
		map[string]string{"username": "sensor-1", "password": "s3cret-Pw", "host": "mqtt.example.com", "port": "1883"})
	tests := []struct {
		name   string
		objs   []client.Object
		user   string
		output string
		want   string
	}{
		{
			name: "generated Secret, key=value",
			objs: []client.Object{broker, generated, user("sensor-1", mqttv1.MQTTUserSpec{},
				mqttv1.MQTTUserStatus{Username: "sensor-1", CredentialsSecretName: "sensor-1-mqtt-credentials"})},
			user: "sensor-1",
			want: "username=sensor-1\npassword=s3cret-Pw\nhost=mqtt.example.com\nport=1883\n",
		},
		{
			name: "generated Secret, env",
			objs: []client.Object{broker, generated, user("sensor-1", mqttv1.MQTTUserSpec{},
				mqttv1.MQTTUserStatus{Username: "sensor-1", CredentialsSecretName: "sensor-1-mqtt-credentials"})},
			user: "sensor-1", output: OutputEnv,
			want: "MQTT_USERNAME=sensor-1\nMQTT_PASSWORD=s3cret-Pw\nMQTT_HOST=mqtt.example.com\nMQTT_PORT=1883\n",
		},
		{
			name: "env quotes what a shell would split or expand",
			objs: []client.Object{broker,
				secret("team-a", "odd-mqtt-credentials", map[string]string{"username": "odd user", "password": "it's $HOME;`x`\nline2", "host": "h", "port": "1"}),
				user("odd", mqttv1.MQTTUserSpec{}, mqttv1.MQTTUserStatus{CredentialsSecretName: "odd-mqtt-credentials"})},
			user: "odd", output: OutputEnv,
			want: "MQTT_USERNAME='odd user'\nMQTT_PASSWORD='it'\\''s $HOME;`x`\nline2'\nMQTT_HOST=h\nMQTT_PORT=1\n",
		},
		{
			// A Secret the user manages holds only the password, under its own
			// key; the rest comes from the user's and the broker's status.
			name: "passwordSecretRef Secret, details from status",
			objs: []client.Object{broker,
				secret("team-a", "dashboard-pw", map[string]string{"secret": "dash-Pw"}),
				user("dashboard", mqttv1.MQTTUserSpec{Username: "dash", PasswordSecretRef: &mqttv1.SecretKeySelector{Name: "dashboard-pw", Key: "secret"}},
					mqttv1.MQTTUserStatus{Username: "dash", CredentialsSecretName: "dashboard-pw"})},
			user: "dashboard",
			want: "username=dash\npassword=dash-Pw\nhost=emqx.team-a.svc\nport=8883\n",
		},
		{
			name: "broker unknown: host and port stay empty",
			objs: []client.Object{
				secret("team-a", "dashboard-pw", map[string]string{"password": "dash-Pw"}),
				user("dashboard", mqttv1.MQTTUserSpec{}, mqttv1.MQTTUserStatus{CredentialsSecretName: "dashboard-pw"})},
			user: "dashboard", output: OutputEnv,
			want: "MQTT_USERNAME=dashboard\nMQTT_PASSWORD=dash-Pw\nMQTT_HOST=\nMQTT_PORT=\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := WriteCredentials(context.Background(), newFakeClient(t, tt.objs...), &out,
				CredentialsOptions{Namespace: "team-a", Name: tt.user, Output: tt.output})
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("output:\n%s\nwant:\n%s", out.String(), tt.want)
			}
		})
	}
}

func TestCredentialsErrors(t *testing.T) {
	pending := user("pending", mqttv1.MQTTUserSpec{}, mqttv1.MQTTUserStatus{CommonStatus: reconciling(1, mqttv1.ReasonBrokerNotReady, "waiting")})
	fresh := user("fresh", mqttv1.MQTTUserSpec{}, mqttv1.MQTTUserStatus{})
	lost := user("lost", mqttv1.MQTTUserSpec{}, mqttv1.MQTTUserStatus{CredentialsSecretName: "lost-mqtt-credentials"})
	nopw := user("nopw", mqttv1.MQTTUserSpec{}, mqttv1.MQTTUserStatus{CredentialsSecretName: "nopw-mqtt-credentials"})
	nopwSecret := secret("team-a", "nopw-mqtt-credentials", map[string]string{"username": "nopw", "host": "do-not-print-me"})
	tests := []struct {
		name   string
		user   string
		output string
		want   string
	}{
		{name: "user missing", user: "ghost", want: `mqttuser "ghost" not found in namespace "team-a"`},
		{name: "user without status", user: "fresh",
			want: "mqttuser team-a/fresh has no credentials Secret in its status yet (no Ready condition): wait until the operator has reconciled it"},
		{name: "user waiting for its broker", user: "pending",
			want: "mqttuser team-a/pending has no credentials Secret in its status yet (Ready=False, reason BrokerNotReady): wait until the operator has reconciled it"},
		{name: "Secret missing", user: "lost", want: `credentials Secret "lost-mqtt-credentials" of mqttuser team-a/lost not found`},
		{name: "Secret without password", user: "nopw",
			want: `credentials Secret "nopw-mqtt-credentials" of mqttuser team-a/nopw has no key "password" (or it is empty)`},
		{name: "bad output", user: "lost", output: "json", want: `unknown output format "json": want env`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := WriteCredentials(context.Background(), newFakeClient(t, pending, fresh, lost, nopw, nopwSecret), &out,
				CredentialsOptions{Namespace: "team-a", Name: tt.user, Output: tt.output})
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if out.Len() != 0 {
				t.Errorf("wrote output on error: %q", out.String())
			}
		})
	}
}

func TestCredentialsNeverFormattedWithPassword(t *testing.T) {
	cr := Credentials{Username: "u", Password: "hunter2", Host: "h", Port: "1"}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(verb, cr); strings.Contains(got, "hunter2") {
			t.Errorf("%s prints the password: %s", verb, got)
		}
	}
}
