package argohealth

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// script is the health check shipped to users.
const script = "../../config/argocd/health.lua"

func load(t *testing.T) string {
	t.Helper()
	s, err := Load(script)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func cond(typ, status, reason, msg string, gen int64) map[string]any {
	return map[string]any{"type": typ, "status": status, "reason": reason, "message": msg, "observedGeneration": gen,
		"lastTransitionTime": "2026-01-01T00:00:00Z"}
}

// object is an MQTTACL as the API server serves it.
func object(gen int64, suspend bool, status map[string]any, conds ...map[string]any) map[string]any {
	o := map[string]any{
		"apiVersion": "mqtt.mqttoperator.io/v1alpha1", "kind": "MQTTACL",
		"metadata": map[string]any{"name": "acl", "namespace": "ns", "generation": gen},
		"spec":     map[string]any{"suspend": suspend},
	}
	if status != nil {
		if len(conds) > 0 {
			list := make([]any, len(conds))
			for i, c := range conds {
				list[i] = c
			}
			status["conditions"] = list
		}
		o["status"] = status
	}
	return o
}

func TestHealthScript(t *testing.T) {
	s := load(t)
	deleting := object(1, false, map[string]any{"observedGeneration": int64(1)}, cond("Ready", "False", "Deleting", "broker unreachable: connection refused", 1))
	deleting["metadata"].(map[string]any)["deletionTimestamp"] = "2026-01-01T00:00:00Z"
	cases := map[string]struct {
		obj  map[string]any
		want Result
	}{
		"no status (an object stored before the status default existed)": {
			object(1, false, nil),
			Result{Progressing, "Waiting for the operator to observe generation 1"}},
		"the API server's default status": {
			object(1, false, map[string]any{"observedGeneration": int64(0)}),
			Result{Progressing, "Waiting for the operator to observe generation 1"}},
		"status without observedGeneration": {
			object(2, false, map[string]any{}),
			Result{Progressing, "Waiting for the operator to observe generation 2"}},
		"older generation observed, even when it was Ready": {
			object(3, false, map[string]any{"observedGeneration": int64(2)}, cond("Ready", "True", "Succeeded", "2 rules applied", 2)),
			Result{Progressing, "Waiting for the operator to observe generation 3"}},
		"reconciling": {
			object(1, false, map[string]any{"observedGeneration": int64(1)},
				cond("Ready", "Unknown", "Progressing", "reconciling generation 1", 1), cond("Reconciling", "True", "Progressing", "reconciling generation 1", 1)),
			Result{Progressing, "Progressing: reconciling generation 1"}},
		"waiting for the broker": {
			object(1, false, map[string]any{"observedGeneration": int64(1)},
				cond("Ready", "False", "BrokerNotFound", "MQTTBroker ns/emqx not found", 1), cond("Reconciling", "True", "BrokerNotFound", "MQTTBroker ns/emqx not found", 1)),
			Result{Progressing, "BrokerNotFound: MQTTBroker ns/emqx not found"}},
		"stalled by the broker": {
			object(1, false, map[string]any{"observedGeneration": int64(1), "brokerResult": map[string]any{"code": "115"}},
				cond("Ready", "False", "IllegalTopic", "broker code 115 (illegal topic): bad_topic (AddACLRule)", 1),
				cond("Stalled", "True", "IllegalTopic", "broker code 115 (illegal topic): bad_topic (AddACLRule)", 1)),
			Result{Degraded, "IllegalTopic: broker code 115 (illegal topic): bad_topic (AddACLRule)"}},
		"stalled without a message": {
			object(1, false, map[string]any{"observedGeneration": int64(1)}, cond("Stalled", "True", "InvalidSpec", "", 1)),
			Result{Degraded, "InvalidSpec"}},
		"ready": {
			object(1, false, map[string]any{"observedGeneration": int64(1)}, cond("Ready", "True", "Succeeded", "2 rules applied", 1)),
			Result{Healthy, "2 rules applied"}},
		"ready with a false Stalled and Reconciling left over": {
			object(1, false, map[string]any{"observedGeneration": int64(1)},
				cond("Stalled", "False", "Succeeded", "", 1), cond("Reconciling", "False", "Succeeded", "", 1), cond("Ready", "True", "Succeeded", "ok", 1)),
			Result{Healthy, "ok"}},
		"expired ban": {
			object(1, false, map[string]any{"observedGeneration": int64(1)},
				cond("Ready", "True", "Expired", "ban expired at 2026-01-01T00:00:00Z", 1), cond("Expired", "True", "Expired", "ban ended at 2026-01-01T00:00:00Z", 1)),
			Result{Healthy, "ban expired at 2026-01-01T00:00:00Z"}},
		"ready false without reconciling or stalled": {
			object(1, false, map[string]any{"observedGeneration": int64(1)}, cond("Ready", "False", "BrokerNotReady", "not yet", 1)),
			Result{Progressing, "BrokerNotReady: not yet"}},
		"no conditions yet": {
			object(1, false, map[string]any{"observedGeneration": int64(1)}),
			Result{Progressing, "Waiting for the Ready condition"}},
		"suspended": {
			object(2, true, map[string]any{"observedGeneration": int64(2)},
				cond("Ready", "True", "Succeeded", "ok", 1), cond("Suspended", "True", "Suspended", "reconciliation is suspended", 2)),
			Result{Suspended, "Suspended: reconciliation is suspended"}},
		"suspended, even before the operator saw the latest generation": {
			object(3, true, map[string]any{"observedGeneration": int64(2)}, cond("Suspended", "True", "Suspended", "reconciliation is suspended", 2)),
			Result{Suspended, "Suspended: reconciliation is suspended"}},
		"suspend asked for but not yet acknowledged": {
			object(2, true, map[string]any{"observedGeneration": int64(1)}, cond("Ready", "True", "Succeeded", "ok", 1)),
			Result{Progressing, "Waiting for the operator to observe generation 2"}},
		"resumed: a stale Suspended condition does not hide new work": {
			object(3, false, map[string]any{"observedGeneration": int64(2)}, cond("Suspended", "True", "Suspended", "reconciliation is suspended", 2)),
			Result{Progressing, "Waiting for the operator to observe generation 3"}},
		"being deleted, with the cause": {
			deleting,
			Result{Progressing, "Deleting: broker unreachable: connection refused"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Evaluate(s, tc.obj)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("health (-want +got):\n%s", d)
			}
		})
	}
}

// Argo CD does not open the string, os, io or debug libraries; a script
// that needs them fails there, so it must fail here too.
func TestEvaluateHasArgoLibrariesOnly(t *testing.T) {
	for _, lib := range []string{"string", "io", "debug"} {
		_, err := Evaluate("return {status = "+lib+".x}", map[string]any{})
		if err == nil || !strings.Contains(err.Error(), "nil") {
			t.Errorf("%s library reachable: err = %v", lib, err)
		}
	}
	if _, err := Evaluate(`local t = {} table.insert(t, "a") return {status = "Healthy", message = t[1]}`, map[string]any{}); err != nil {
		t.Errorf("table library missing: %v", err)
	}
}

func TestEvaluateRejectsBadAnswers(t *testing.T) {
	for name, s := range map[string]string{
		"not a table":    `return "Healthy"`,
		"unknown status": `return {status = "Fine"}`,
		"syntax error":   `return {`,
		"runtime error":  `return obj.nothing.here`,
		"endless loop":   `while true do end`,
	} {
		if _, err := Evaluate(s, map[string]any{}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
