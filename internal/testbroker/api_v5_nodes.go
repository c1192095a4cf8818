package testbroker

import "net/http"

// /nodes and /cluster/{node}/force_leave (EMQX 5.8). /nodes lists the
// answering node's running members, then the core members it cannot
// reach as {"node", "node_status": "stopped", "role": "core"}
// (emqx_mgmt:list_nodes/0). A force-leave answers 204, or 400 BAD_REQUEST
// with "Can't leave self" or ekka's reason, e.g. node_not_in_cluster
// (emqx_mgmt_api_cluster:force_leave/2).

func init() {
	v5handle("GET", "nodes", false, (*Broker).v5Nodes)
	v5handle("GET", "nodes/:node", false, (*Broker).v5Node)
	v5handle("DELETE", "cluster/:node/force_leave", false, (*Broker).v5ForceLeave)
}

func (b *Broker) v5NodeEntry(n ClusterNode) map[string]any {
	if !n.Running {
		return map[string]any{"node": n.Name, "node_status": "stopped", "role": "core"}
	}
	m := b.v5NodeInfo()
	m["node"] = n.Name
	return m
}

func (b *Broker) v5Nodes(*v5call) response {
	out := []any{}
	for _, n := range b.cluster.view() {
		out = append(out, b.v5NodeEntry(n))
	}
	return v5JSON(http.StatusOK, out)
}

func (b *Broker) v5Node(c *v5call) response {
	for _, n := range b.cluster.view() {
		if n.Running && n.Name == c.vars["node"] {
			return v5JSON(http.StatusOK, b.v5NodeEntry(n))
		}
	}
	return v5Err(http.StatusNotFound, "NOT_FOUND", "node_not_found")
}

func (b *Broker) v5ForceLeave(c *v5call) response {
	status, msg := b.cluster.forceLeave(c.vars["node"])
	if status == http.StatusNoContent {
		return v5NoContent()
	}
	return v5BadRequest(msg)
}
