package resources

import (
	"slices"

	"github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// The rules below read the cluster the way one node sees it: the API
// Service sends each request to any pod, and EMQX answers /nodes with the
// answering node's own cluster. A node that is in the view and running is
// connected to the node that answered; a node the view lists as stopped is
// a member the answering node has lost (a partition, or a node down); a
// node absent from the view has never joined this cluster, or formed one of
// its own (docs/internals/managed.md, "Cluster membership").

// Membership is how the broker's replicas appear in one node's view.
type Membership struct {
	// Running are the replica nodes running in the view, by ordinal.
	Running []string
	// Stopped are replica nodes the view lists as stopped.
	Stopped []string
	// Missing are replica nodes the view does not list at all. They are
	// named by node name when the cluster domain is known, else by pod name.
	Missing []string
	// Unexpected are running members that are not the broker's current
	// replicas: pods past the desired count on their way out, or nodes of
	// something else that joined with the same cookie.
	Unexpected []string
}

// InOneCluster reports whether every replica runs in the view and nothing
// else does.
func (m Membership) InOneCluster() bool {
	return len(m.Stopped) == 0 && len(m.Missing) == 0 && len(m.Unexpected) == 0
}

// CheckMembership compares the view nodes to b's replicas 0..replicas-1.
func CheckMembership(b *v1alpha1.MQTTBroker, nodes []broker.Node) Membership {
	n := replicas(b.Spec.Managed)
	domain := b.Status.ClusterDomain
	byOrdinal := make(map[int32]broker.Node, len(nodes))
	var m Membership
	for _, node := range nodes {
		ord, d, ok := nodeOrdinal(b, node.Name)
		switch {
		case ok && ord < n:
			byOrdinal[ord] = node
			if domain == "" {
				domain = d
			}
		case node.Running:
			m.Unexpected = append(m.Unexpected, node.Name)
		}
	}
	for ord := range n {
		node, listed := byOrdinal[ord]
		switch {
		case !listed && domain != "":
			m.Missing = append(m.Missing, nodeName(b, domain, ord))
		case !listed:
			m.Missing = append(m.Missing, podName(b, ord))
		case node.Running:
			m.Running = append(m.Running, node.Name)
		default:
			m.Stopped = append(m.Stopped, node.Name)
		}
	}
	slices.Sort(m.Unexpected)
	return m
}

// PodState is what the controller knows of one of the broker's pods.
type PodState struct {
	Name    string
	Ordinal int32
	// ContainersReady: EMQX answers /status, so the node has started.
	ContainersReady bool
	// Joined: JoinedCondition is True.
	Joined bool
	// Terminating: the pod is being deleted.
	Terminating bool
}

// PodsToMarkJoined picks the pods whose JoinedCondition may be set True
// given one node's view: pods whose node has started and runs in the view,
// provided that the view also holds every other pod already marked joined
// (and still running). A view that lacks one of those is another island, or
// a node that has not joined yet answering alone, and proves nothing. When
// no pod is marked yet (a new cluster, or a full restart), the first nodes
// to start are accepted with whoever they run with; the broker is Ready
// only once every replica is in one cluster (CheckMembership).
func PodsToMarkJoined(b *v1alpha1.MQTTBroker, pods []PodState, nodes []broker.Node) []string {
	running := map[int32]bool{}
	for _, node := range nodes {
		if ord, _, ok := nodeOrdinal(b, node.Name); ok && node.Running {
			running[ord] = true
		}
	}
	for _, p := range pods {
		if p.Joined && p.ContainersReady && !p.Terminating && !running[p.Ordinal] {
			return nil
		}
	}
	var out []string
	for _, p := range pods {
		if !p.Joined && p.ContainersReady && !p.Terminating && running[p.Ordinal] {
			out = append(out, p.Name)
		}
	}
	return out
}
