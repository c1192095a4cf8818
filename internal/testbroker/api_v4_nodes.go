package testbroker

// /nodes (EMQX 4.4): the running members of the answering node's cluster
// only. emqx_mgmt:list_nodes/0 appends the stopped members as bare maps,
// and the {Node, Info} generator of emqx_mgmt_api_nodes:list/2 drops them
// without a word.

func init() {
	v4handle("GET", "nodes", "List nodes", (*Broker).v4Nodes)
	v4handle("GET", "nodes/:node", "Lookup a node", (*Broker).v4Node)
}

func (b *Broker) v4NodeInfoAs(name string) map[string]any {
	m := b.v4NodeInfo()
	m["node"] = name
	return m
}

func (b *Broker) v4Nodes(*v4call) response {
	out := []map[string]any{}
	for _, n := range b.cluster.view() {
		if n.Running {
			out = append(out, b.v4NodeInfoAs(n.Name))
		}
	}
	return v4Data(out)
}

func (b *Broker) v4Node(c *v4call) response {
	for _, n := range b.cluster.view() {
		if n.Running && n.Name == c.vars["node"] {
			return v4Data(b.v4NodeInfoAs(n.Name))
		}
	}
	return v4NotFound()
}
