package testbroker

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type wireNode struct {
	Node       string `json:"node"`
	NodeStatus string `json:"node_status"`
	Version    string `json:"version,omitempty"`
	Role       string `json:"role,omitempty"`
}

func decodeNodes(t *testing.T, raw []byte, v4 bool) []wireNode {
	t.Helper()
	var out []wireNode
	if v4 {
		var env struct {
			Code int        `json:"code"`
			Data []wireNode `json:"data"`
		}
		if err := json.Unmarshal(raw, &env); err != nil || env.Code != 0 {
			t.Fatalf("v4 /nodes = %s (%v)", raw, err)
		}
		out = env.Data
	} else if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("v5 /nodes = %s: %v", raw, err)
	}
	for i := range out {
		out[i].Version = "" // checked separately
	}
	return out
}

func TestClusterViews(t *testing.T) {
	b := startBroker(t, Options{})
	nodes := func(v4api bool) []wireNode {
		t.Helper()
		if v4api {
			return decodeNodes(t, v4(t, b, "GET", "/nodes", "").body, true)
		}
		return decodeNodes(t, v5(t, b, "GET", "/nodes", "").body, false)
	}

	// The default is one running node, the double itself.
	if d := cmp.Diff([]wireNode{{Node: nodeName, NodeStatus: "running", Role: "core"}}, nodes(false)); d != "" {
		t.Errorf("default v5 view (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]wireNode{{Node: nodeName, NodeStatus: "Running"}}, nodes(true)); d != "" {
		t.Errorf("default v4 view (-want +got):\n%s", d)
	}

	// A split: each side answers in turn and sees the other as stopped.
	// Running members come first whatever the configured order.
	b.SetClusterViews(
		[]ClusterNode{{Name: "emqx@c"}, {Name: "emqx@a", Running: true}, {Name: "emqx@b", Running: true}},
		[]ClusterNode{{Name: "emqx@a"}, {Name: "emqx@b"}, {Name: "emqx@c", Running: true}},
	)
	wantA := []wireNode{{Node: "emqx@a", NodeStatus: "running", Role: "core"}, {Node: "emqx@b", NodeStatus: "running", Role: "core"}, {Node: "emqx@c", NodeStatus: "stopped", Role: "core"}}
	wantC := []wireNode{{Node: "emqx@c", NodeStatus: "running", Role: "core"}, {Node: "emqx@a", NodeStatus: "stopped", Role: "core"}, {Node: "emqx@b", NodeStatus: "stopped", Role: "core"}}
	if d := cmp.Diff(wantA, nodes(false)); d != "" {
		t.Errorf("first view (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantC, nodes(false)); d != "" {
		t.Errorf("second view (-want +got):\n%s", d)
	}
	// 4.4 leaves the stopped members out.
	if d := cmp.Diff([]wireNode{{Node: "emqx@a", NodeStatus: "Running"}, {Node: "emqx@b", NodeStatus: "Running"}}, nodes(true)); d != "" {
		t.Errorf("v4 first view (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]wireNode{{Node: "emqx@c", NodeStatus: "Running"}}, nodes(true)); d != "" {
		t.Errorf("v4 second view (-want +got):\n%s", d)
	}
	// Running members carry the node details, including the version.
	r := v5(t, b, "GET", "/nodes/emqx@a", "")
	mustStatus(t, r, http.StatusOK)
	if v, _ := jsonAt(r.json(t), "version"); v != "5.8.9" {
		t.Errorf("v5 node details = %s", r.body)
	}
	mustStatus(t, v5(t, b, "GET", "/nodes/emqx@zzz", ""), http.StatusNotFound)
	mustStatus(t, doAPI(t, b, req{method: "GET", path: "/api/v4/nodes/emqx@zzz"}), http.StatusNotFound)
}

func TestForceLeave(t *testing.T) {
	b := startBroker(t, Options{})
	b.SetClusterViews([]ClusterNode{{Name: "emqx@a", Running: true}, {Name: "emqx@b"}})
	leave := func(node string) apiReply {
		t.Helper()
		return v5(t, b, "DELETE", "/cluster/"+node+"/force_leave", "")
	}
	mustStatus(t, leave("emqx@b"), http.StatusNoContent)
	// Gone already: EMQX answers 400 with ekka's reason.
	r := leave("emqx@b")
	mustStatus(t, r, http.StatusBadRequest)
	if d := cmp.Diff(map[string]any{"code": "BAD_REQUEST", "message": "node_not_in_cluster"}, normJSON(r.json(t))); d != "" {
		t.Errorf("force-leave of a non-member (-want +got):\n%s", d)
	}
	r = leave("emqx@a")
	mustStatus(t, r, http.StatusBadRequest)
	if v, _ := jsonAt(r.json(t), "message"); v != "Can't leave self" {
		t.Errorf("force-leave of the answering node = %s", r.body)
	}
	if d := cmp.Diff([]string{"emqx@b"}, b.ForcedLeaves()); d != "" {
		t.Errorf("ForcedLeaves (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]wireNode{{Node: "emqx@a", NodeStatus: "running", Role: "core"}}, decodeNodes(t, v5(t, b, "GET", "/nodes", "").body, false)); d != "" {
		t.Errorf("view after force-leave (-want +got):\n%s", d)
	}
}
