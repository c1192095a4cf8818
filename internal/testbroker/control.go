package testbroker

import (
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// The /testbroker/ control API lets make-dev users and e2e scripts drive
// fault injection without Go. It needs no credentials but answers loopback
// peers only; see the package documentation for the endpoints.

func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// controlDuration accepts "250ms"-style strings or a number of milliseconds.
func controlDuration(v any) (time.Duration, bool) {
	switch t := v.(type) {
	case string:
		d, err := time.ParseDuration(t)
		return d, err == nil && d >= 0
	case json.Number:
		ms, err := t.Int64()
		return time.Duration(ms) * time.Millisecond, err == nil && ms >= 0
	}
	return 0, false
}

func (b *Broker) serveControl(w http.ResponseWriter, r *http.Request) {
	if !fromLoopback(r) {
		textResp(http.StatusForbidden, "testbroker control API is loopback-only").write(w)
		return
	}
	if r.Method == http.MethodGet && strings.TrimSuffix(r.URL.Path, "/") == "/testbroker/metrics" {
		b.prom.handler.ServeHTTP(w, r)
		return
	}
	if resp := b.control(w, r); resp.status > 0 {
		resp.write(w)
	}
}

func controlErr(status int, msg string) response {
	return jsonResp(status, map[string]any{"error": msg})
}

func (b *Broker) control(w http.ResponseWriter, r *http.Request) response {
	path := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/testbroker"), "/")
	var body map[string]any
	if r.Method == http.MethodPost {
		raw, err := readBody(r)
		if err != nil {
			return controlErr(http.StatusBadRequest, err.Error())
		}
		if len(raw) > 0 {
			v, err := decodeJSON(raw)
			obj, ok := v.(map[string]any)
			if err != nil || !ok {
				return controlErr(http.StatusBadRequest, "body must be a JSON object")
			}
			body = obj
		}
	}
	switch r.Method + " " + path {
	case "GET ":
		return jsonResp(http.StatusOK, map[string]any{
			"mqtt": b.MQTTAddr(), "api": b.APIURL(),
			"endpoints": []string{
				"GET,POST,DELETE /testbroker/faults", "GET,POST /testbroker/latency",
				"POST /testbroker/wipe", "POST /testbroker/api-outage", "POST /testbroker/sweep",
				"GET /testbroker/metrics",
			},
		})
	case "GET /faults":
		return jsonResp(http.StatusOK, map[string]any{"faults": orEmpty(b.faults.list())})
	case "POST /faults":
		raw, _ := json.Marshal(body)
		var f Fault
		if err := json.Unmarshal(raw, &f); err != nil {
			return controlErr(http.StatusBadRequest, "bad fault: "+err.Error())
		}
		if f.HTTPStatus == 0 && f.V4Code == 0 && f.V5Code == "" {
			return controlErr(http.StatusBadRequest, "a fault needs httpStatus, v4Code or v5Code")
		}
		b.InjectFault(f)
		return emptyResp(http.StatusNoContent)
	case "DELETE /faults":
		b.ClearFaults()
		return emptyResp(http.StatusNoContent)
	case "GET /latency":
		return jsonResp(http.StatusOK, map[string]any{"latency": b.faults.getLatency().String()})
	case "POST /latency":
		d, ok := controlDuration(body["latency"])
		if !ok {
			return controlErr(http.StatusBadRequest, `want {"latency":"250ms"} or {"latency":250}`)
		}
		b.SetLatency(d)
		return emptyResp(http.StatusNoContent)
	case "POST /wipe":
		b.Wipe()
		return emptyResp(http.StatusNoContent)
	case "POST /sweep":
		b.sweep()
		return emptyResp(http.StatusNoContent)
	case "POST /api-outage":
		d, ok := controlDuration(body["duration"])
		if !ok || d == 0 {
			return controlErr(http.StatusBadRequest, `want {"duration":"2s"}`)
		}
		// Answer first; the listener (and this connection) goes away after.
		resp := emptyResp(http.StatusAccepted).with("Connection", "close")
		resp.write(w)
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		go b.outage(d)
		return response{} // already written
	}
	return controlErr(http.StatusNotFound, "unknown control endpoint "+r.Method+" "+r.URL.Path)
}

// outage stops the API, waits d, and starts it again on the same address.
func (b *Broker) outage(d time.Duration) {
	if err := b.StopAPI(); err != nil {
		b.log.Warn("api outage: stop", "error", err)
	}
	time.Sleep(d)
	if err := b.StartAPI(); err != nil {
		b.log.Warn("api outage: restart", "error", err)
	}
}

func orEmpty(f []Fault) []Fault {
	if f == nil {
		return []Fault{}
	}
	return f
}
