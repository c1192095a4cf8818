package testbroker

import (
	"net/http"
	"runtime"
)

// /metrics, /stats and /status (EMQX 5.8); /nodes is in api_v5_nodes.go.

func init() {
	v5handle("GET", "metrics", false, (*Broker).v5Metrics)
	v5handle("GET", "stats", false, (*Broker).v5Stats)
	v5routes = append(v5routes, v5route{method: "GET", pattern: splitPattern("status"), public: true,
		handle: func(b *Broker, c *v5call) response { return b.statusReply(c.r) }})
}

// flatPerNode renders v5's metrics/stats shape: one flat object per node
// with "node" beside the counters, or a single summed object with
// aggregate=true. aggregate is a boolean query parameter: any other value
// fails the schema check (400). Only /metrics takes a node parameter (an
// unknown node yields []); /stats does not declare one, so it is ignored.
func flatPerNode(c *v5call, values map[string]int64, withNode bool) response {
	agg, _, ok := queryBool(c.query, "aggregate")
	if !ok {
		return v5SchemaErr("aggregate", "not a boolean")
	}
	if agg {
		return v5JSON(http.StatusOK, values)
	}
	if node, has := firstQuery(c.query, "node"); withNode && has && node != nodeName {
		return v5JSON(http.StatusOK, []any{})
	}
	m := make(map[string]any, len(values)+1)
	for k, v := range values {
		m[k] = v
	}
	m["node"] = nodeName
	return v5JSON(http.StatusOK, []any{m})
}

func (b *Broker) v5Metrics(c *v5call) response { return flatPerNode(c, b.metrics.v5(), true) }
func (b *Broker) v5Stats(c *v5call) response   { return flatPerNode(c, b.stats(), false) }

func (b *Broker) v5NodeInfo() map[string]any {
	st := b.stats()
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	return map[string]any{
		"node": nodeName, "node_status": "running", "otp_release": "26.2.5-3", "version": b.opts.Version5,
		"uptime": b.now().Sub(b.started).Milliseconds(), "connections": st["connections.count"],
		"live_connections": st["live_connections.count"], "memory_total": mem.Sys, "memory_used": mem.HeapAlloc,
		"process_available": 2097152, "process_used": runtime.NumGoroutine(), "max_fds": 1048576,
		"load1": 0.0, "load5": 0.0, "load15": 0.0, "role": "core", "edition": "Opensource",
		"sys_path": "/opt/emqx", "log_path": "/opt/emqx/log",
	}
}

// statusReply is the unauthenticated health text (or JSON with
// ?format=json), always with Retry-After as EMQX 5 sends it.
func (b *Broker) statusReply(r *http.Request) response {
	var resp response
	if r.URL.Query().Get("format") == "json" {
		resp = jsonResp(http.StatusOK, map[string]any{"node_name": nodeName, "rel_vsn": b.opts.Version5,
			"broker_status": "started", "app_status": "running"})
	} else {
		resp = textResp(http.StatusOK, "Node "+nodeName+" is started\nemqx is running")
	}
	return resp.with("Retry-After", "15")
}

// serveStatus is GET /status outside /api. Other methods get EMQX 4's
// management-listener reply, 400 "Not found.".
func (b *Broker) serveStatus(r *http.Request) response {
	if r.Method != http.MethodGet {
		return textResp(http.StatusBadRequest, "Not found.")
	}
	return b.statusReply(r)
}
