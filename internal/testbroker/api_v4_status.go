package testbroker

import (
	"runtime"
)

// /metrics, /stats and /brokers (EMQX 4.4); /nodes is in api_v4_nodes.go.

func init() {
	v4handle("GET", "metrics", "List metrics of all nodes", (*Broker).v4Metrics)
	v4handle("GET", "stats", "List stats of all nodes", (*Broker).v4Stats)
	v4handle("GET", "brokers", "List brokers", (*Broker).v4Brokers)
	v4handle("GET", "brokers/:node", "Lookup a broker", onNode((*Broker).v4Broker))
	v4handle("GET", "nodes/:node/metrics", "Metrics of a node", onNode((*Broker).v4NodeMetrics))
	v4handle("GET", "nodes/:node/stats", "Stats of a node", onNode((*Broker).v4NodeStats))
}

func (b *Broker) v4Metrics(*v4call) response {
	return v4Data([]map[string]any{{"node": nodeName, "metrics": b.metrics.v4()}})
}

func (b *Broker) v4NodeMetrics(*v4call) response { return v4Data(b.metrics.v4()) }

func (b *Broker) v4Stats(*v4call) response {
	return v4Data([]map[string]any{{"node": nodeName, "stats": b.stats()}})
}

func (b *Broker) v4NodeStats(*v4call) response { return v4Data(b.stats()) }

func (b *Broker) v4BrokerInfo() map[string]any {
	return map[string]any{
		"node": nodeName, "node_status": "Running", "version": b.opts.Version4,
		"uptime": emqxUptimeV4(b.now().Sub(b.started)), "otp_release": "24.3.4.2-2/12.3.2.2",
		"sysdescr": "EMQX Broker", "datetime": v4Time(b.now()),
	}
}

func (b *Broker) v4Brokers(*v4call) response { return v4Data([]map[string]any{b.v4BrokerInfo()}) }
func (b *Broker) v4Broker(*v4call) response  { return v4Data(b.v4BrokerInfo()) }

func (b *Broker) v4NodeInfo() map[string]any {
	st := b.stats()
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	m := b.v4BrokerInfo()
	delete(m, "datetime")
	for k, v := range map[string]any{
		"connections": st["connections.count"], "live_connections": st["live_connections.count"],
		"memory_total": mem.Sys, "memory_used": mem.HeapAlloc, "process_available": 2097152,
		"process_used": runtime.NumGoroutine(), "max_fds": 1048576, "load1": 0.0, "load5": 0.0, "load15": 0.0,
	} {
		m[k] = v
	}
	return m
}
