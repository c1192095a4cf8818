package testbroker

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestControlAPIMetrics(t *testing.T) {
	b := startBroker(t, Options{})
	addUser(t, b, "alice", "p")
	addUser(t, b, "bob", "p")
	mustCode4(t, v4(t, b, "GET", "/auth_username/alice", ""))
	mustCode4(t, v4(t, b, "POST", "/acl", `{"username":"alice","topic":"t/1","action":"pubsub","access":"allow"}`))
	mustCode4(t, v4(t, b, "POST", "/banned", `{"who":"c1","as":"clientid","reason":"r"}`))
	mustStatus(t, v5(t, b, "POST", "/authentication/password_based:built_in_database/users", `{"user_id":"carol","password":"p"}`), http.StatusCreated)
	// Requests that match no route are not counted.
	mustStatus(t, v4(t, b, "GET", "/no_such_route", ""), http.StatusNotFound)

	r := control(t, b, "GET", "/metrics", "")
	mustStatus(t, r, http.StatusOK)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("parse metrics: %v\n%s", err, r.body)
	}
	got := map[string]float64{}
	for _, m := range fams["testbroker_api_requests_total"].GetMetric() {
		key := ""
		for _, l := range m.GetLabel() {
			key += l.GetName() + "=" + l.GetValue() + " "
		}
		got[key] = m.GetCounter().GetValue()
	}
	for _, name := range []string{"users", "rules", "bans"} {
		got["stored "+name] = fams["testbroker_stored_"+name].GetMetric()[0].GetGauge().GetValue()
	}
	want := map[string]float64{
		"api=v4 method=POST route=/auth_username ":            2,
		"api=v4 method=GET route=/auth_username/:name ":       1,
		"api=v4 method=POST route=/acl ":                      1,
		"api=v4 method=POST route=/banned ":                   1,
		"api=v5 method=POST route=/authentication/:id/users ": 1,
		"stored users": 3,
		// pubsub is stored as one publish and one subscribe rule.
		"stored rules": 2,
		"stored bans":  1,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("metrics (-want +got):\n%s", d)
	}
}
