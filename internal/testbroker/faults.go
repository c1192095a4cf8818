package testbroker

import (
	"net/http"
	"strings"
	"sync"
	"time"
)

// Fault makes the next Count matching management API calls fail instead of
// reaching their handler.
//
// For a /api/v4 call: with V4Code set the reply is HTTP HTTPStatus (200 when
// zero) with the coded envelope {"code":V4Code,"message":Message}, the way
// EMQX 4 reports an RPC error (101) or similar; with only HTTPStatus set the
// reply is that status with a text/plain body, like a proxy or a crashed
// handler. For a /api/v5 call the reply is HTTPStatus (503 when zero) with
// {"code":V5Code,"message":Message}; V5Code defaults from the status.
//
// A fault that sets only V4Code applies to v4 calls only, and one that sets
// only V5Code applies to v5 calls only. PathPrefix, when set, restricts the
// fault to calls whose raw path starts with it (for example
// "/api/v4/auth_username"). Unauthenticated status endpoints are only
// affected when PathPrefix names them.
type Fault struct {
	Count      int    `json:"count,omitempty"`
	HTTPStatus int    `json:"httpStatus,omitempty"`
	V4Code     int    `json:"v4Code,omitempty"`
	V5Code     string `json:"v5Code,omitempty"`
	Message    string `json:"message,omitempty"`
	PathPrefix string `json:"pathPrefix,omitempty"`
}

func (f Fault) appliesTo(version, path string) bool {
	if f.PathPrefix != "" {
		return strings.HasPrefix(path, f.PathPrefix)
	}
	if isStatusPath(path) {
		return false
	}
	onlyV4 := f.V4Code != 0 && f.HTTPStatus == 0 && f.V5Code == ""
	onlyV5 := f.V5Code != "" && f.HTTPStatus == 0 && f.V4Code == 0
	switch version {
	case "v4":
		return !onlyV5
	case "v5":
		return !onlyV4
	}
	return false
}

func isStatusPath(path string) bool {
	return path == "/status" || path == "/api/v5/status" || path == "/api/v5/status/"
}

// faults is the pending fault queue and the injected latency.
type faults struct {
	mu      sync.Mutex
	pending []Fault
	latency time.Duration
}

func (q *faults) add(f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pending = append(q.pending, f)
}

func (q *faults) clear() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pending = nil
}

func (q *faults) list() []Fault {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]Fault(nil), q.pending...)
}

func (q *faults) setLatency(d time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.latency = d
}

func (q *faults) getLatency() time.Duration {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.latency
}

// take consumes one use of the first fault that matches the call.
func (q *faults) take(version, path string) (Fault, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, f := range q.pending {
		if !f.appliesTo(version, path) {
			continue
		}
		q.pending[i].Count--
		if q.pending[i].Count <= 0 {
			q.pending = append(q.pending[:i], q.pending[i+1:]...)
		}
		return f, true
	}
	return Fault{}, false
}

// faultResponse renders a fault in the envelope of the API it hits.
func faultResponse(version string, f Fault) response {
	msg := f.Message
	if version == "v4" {
		if f.V4Code != 0 {
			status := f.HTTPStatus
			if status == 0 {
				status = http.StatusOK
			}
			if msg == "" {
				msg = "injected fault"
			}
			return jsonResp(status, map[string]any{"code": f.V4Code, "message": msg})
		}
		status := f.HTTPStatus
		if status == 0 {
			status = http.StatusInternalServerError
		}
		if msg == "" {
			msg = http.StatusText(status)
			if status == http.StatusInternalServerError {
				msg = "Internal Error"
			}
		}
		return textResp(status, msg)
	}
	status := f.HTTPStatus
	if status == 0 {
		status = http.StatusServiceUnavailable
	}
	code := f.V5Code
	if code == "" {
		code = strings.ToUpper(strings.ReplaceAll(http.StatusText(status), " ", "_"))
	}
	if msg == "" {
		msg = "injected fault"
	}
	return jsonResp(status, map[string]any{"code": code, "message": msg})
}
