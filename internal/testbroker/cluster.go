package testbroker

import (
	"net/http"
	"slices"
	"sync"
)

// The cluster membership the double reports. A real EMQX cluster behind a
// load-balanced Service answers /nodes from whichever node gets the
// request, and each node reports its own view: the members it runs with
// and, on 5.x, the core members it has lost contact with. The double plays
// that with a list of views answered in turn, so tests can show a healthy
// cluster, a split (two views that each see the other side as stopped or
// not at all), missing nodes and unexpected ones.
//
// The other per-node endpoints (metrics, clients) keep reporting the
// double's own node name; only membership follows the views.

// ClusterNode is one member of a view.
type ClusterNode struct {
	Name    string
	Running bool
}

type clusterState struct {
	mu     sync.Mutex
	views  [][]ClusterNode // nil: the default, one running node (the double itself)
	next   int
	forced []string
}

// SetClusterViews sets the views that the membership endpoints answer from,
// one request after the other, round robin. Calling it without views
// restores the default: a cluster of one running node, the double itself.
func (b *Broker) SetClusterViews(views ...[]ClusterNode) {
	c := &b.cluster
	c.mu.Lock()
	defer c.mu.Unlock()
	c.views = nil
	for _, v := range views {
		c.views = append(c.views, slices.Clone(v))
	}
	c.next = 0
}

// ForcedLeaves lists the nodes removed through the v5 force-leave endpoint,
// in call order.
func (b *Broker) ForcedLeaves() []string {
	c := &b.cluster
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.forced)
}

// view returns the view that answers this request, running members first
// as EMQX lists them (emqx_mgmt:list_nodes/0).
func (c *clusterState) view() []ClusterNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.viewLocked()
}

func (c *clusterState) viewLocked() []ClusterNode {
	if len(c.views) == 0 {
		return []ClusterNode{{Name: nodeName, Running: true}}
	}
	v := c.views[c.next%len(c.views)]
	c.next++
	out := make([]ClusterNode, 0, len(v))
	for _, n := range v {
		if n.Running {
			out = append(out, n)
		}
	}
	for _, n := range v {
		if !n.Running {
			out = append(out, n)
		}
	}
	return out
}

// forceLeave removes node from every view, as ekka:force_leave/1 does from
// the cluster. The answering node cannot remove itself, and a node that is
// not a member of its cluster is refused with node_not_in_cluster.
func (c *clusterState) forceLeave(node string) (status int, msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.viewLocked()
	if len(v) > 0 && v[0].Running && v[0].Name == node {
		return http.StatusBadRequest, "Can't leave self"
	}
	if !slices.ContainsFunc(v, func(n ClusterNode) bool { return n.Name == node }) {
		return http.StatusBadRequest, "node_not_in_cluster"
	}
	for i, view := range c.views {
		c.views[i] = slices.DeleteFunc(view, func(n ClusterNode) bool { return n.Name == node })
	}
	c.forced = append(c.forced, node)
	return http.StatusNoContent, ""
}
