package resources

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

func TestCheckMembership(t *testing.T) {
	b := testBroker(testVersion5, 3, true)
	node := func(i int32) string { return nodeName(b, "corp.example", i) }
	up := func(i int32) broker.Node { return broker.Node{Name: node(i), Running: true} }
	down := func(i int32) broker.Node { return broker.Node{Name: node(i)} }
	cases := []struct {
		name   string
		nodes  []broker.Node
		domain string // status.clusterDomain
		want   Membership
		ok     bool
	}{
		{"one cluster", []broker.Node{up(0), up(1), up(2)}, "", Membership{Running: []string{node(0), node(1), node(2)}}, true},
		{"order does not matter", []broker.Node{up(2), up(0), up(1)}, "", Membership{Running: []string{node(0), node(1), node(2)}}, true},
		{"split: the answering side sees the other as stopped", []broker.Node{up(0), up(1), down(2)}, "",
			Membership{Running: []string{node(0), node(1)}, Stopped: []string{node(2)}}, false},
		{"a node on its own sees the others as stopped", []broker.Node{up(2), down(0), down(1)}, "",
			Membership{Running: []string{node(2)}, Stopped: []string{node(0), node(1)}}, false},
		{"a node that never joined is missing, named with the domain", []broker.Node{up(0), up(1)}, "",
			Membership{Running: []string{node(0), node(1)}, Missing: []string{node(2)}}, false},
		{"a foreign node alone: missing pods named by pod name", []broker.Node{{Name: "emqx@10.0.0.9", Running: true}}, "",
			Membership{Missing: []string{"broker-0", "broker-1", "broker-2"}, Unexpected: []string{"emqx@10.0.0.9"}}, false},
		{"the domain from the status names missing nodes", nil, "corp.example",
			Membership{Missing: []string{node(0), node(1), node(2)}}, false},
		{"a leaving pod still running is unexpected", []broker.Node{up(0), up(1), up(2), up(3)}, "",
			Membership{Running: []string{node(0), node(1), node(2)}, Unexpected: []string{node(3)}}, false},
		{"a departed node stopped is not (force-leave handles it)", []broker.Node{up(0), up(1), up(2), down(4)}, "",
			Membership{Running: []string{node(0), node(1), node(2)}}, true},
		{"another broker's node", []broker.Node{up(0), up(1), up(2), {Name: "emqx@other-0.other-headless.mqtt.svc.corp.example", Running: true}}, "",
			Membership{Running: []string{node(0), node(1), node(2)}, Unexpected: []string{"emqx@other-0.other-headless.mqtt.svc.corp.example"}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bb := b.DeepCopy()
			bb.Status.ClusterDomain = tc.domain
			got := CheckMembership(bb, tc.nodes)
			if d := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("CheckMembership (-want +got):\n%s", d)
			}
			if got.InOneCluster() != tc.ok {
				t.Errorf("InOneCluster = %v, want %v", got.InOneCluster(), tc.ok)
			}
		})
	}
}

func TestPodsToMarkJoined(t *testing.T) {
	b := testBroker(testVersion5, 3, true)
	up := func(i int32) broker.Node { return broker.Node{Name: nodeName(b, "corp.example", i), Running: true} }
	down := func(i int32) broker.Node { return broker.Node{Name: nodeName(b, "corp.example", i)} }
	pod := func(i int32, ready, joined bool) PodState {
		return PodState{Name: podName(b, i), Ordinal: i, ContainersReady: ready, Joined: joined}
	}
	cases := []struct {
		name  string
		pods  []PodState
		nodes []broker.Node
		want  []string
	}{
		{"new cluster: the first node is accepted with whoever it runs with",
			[]PodState{pod(0, true, false), pod(1, false, false), pod(2, false, false)}, []broker.Node{up(0)}, []string{"broker-0"}},
		{"new cluster: all joined", []PodState{pod(0, true, false), pod(1, true, false), pod(2, true, false)},
			[]broker.Node{up(0), up(1), up(2)}, []string{"broker-0", "broker-1", "broker-2"}},
		{"rollout: the restarted node runs alone and proves nothing",
			[]PodState{pod(0, true, true), pod(1, true, true), pod(2, true, false)}, []broker.Node{up(2)}, nil},
		{"rollout: the others' view without the restarted node",
			[]PodState{pod(0, true, true), pod(1, true, true), pod(2, true, false)}, []broker.Node{up(0), up(1), down(2)}, nil},
		{"rollout: rejoined", []PodState{pod(0, true, true), pod(1, true, true), pod(2, true, false)},
			[]broker.Node{up(0), up(1), up(2)}, []string{"broker-2"}},
		{"a node that has not started is never marked", []PodState{pod(0, true, true), pod(1, false, false)},
			[]broker.Node{up(0), up(1)}, nil},
		{"a joined pod whose node is down is not required",
			[]PodState{pod(0, true, true), pod(1, false, true), pod(2, true, false)}, []broker.Node{up(0), down(1), up(2)}, []string{"broker-2"}},
		{"a terminating pod is neither required nor marked",
			[]PodState{pod(0, true, true), {Name: "broker-1", Ordinal: 1, ContainersReady: true, Joined: true, Terminating: true}, pod(2, true, false)},
			[]broker.Node{up(0), up(2)}, []string{"broker-2"}},
		{"another island: two restarted nodes joined each other only",
			[]PodState{pod(0, true, true), pod(1, true, false), pod(2, true, false)}, []broker.Node{up(1), up(2), down(0)}, nil},
		{"already marked: nothing to do", []PodState{pod(0, true, true)}, []broker.Node{up(0)}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, PodsToMarkJoined(b, tc.pods, tc.nodes), cmpopts.EquateEmpty()); d != "" {
				t.Errorf("PodsToMarkJoined (-want +got):\n%s", d)
			}
		})
	}
}

func TestPodOrdinal(t *testing.T) {
	b := testBroker(testVersion5, 3, true)
	for pod, want := range map[string]int32{"broker-0": 0, "broker-12": 12} {
		if got, ok := PodOrdinal(b, pod); !ok || got != want {
			t.Errorf("PodOrdinal(%s) = %d, %v", pod, got, ok)
		}
	}
	for _, pod := range []string{"broker", "broker-", "broker-01", "broker-x", "other-0", "broker-2-0"} {
		if _, ok := PodOrdinal(b, pod); ok {
			t.Errorf("PodOrdinal(%s) accepted", pod)
		}
	}
}
