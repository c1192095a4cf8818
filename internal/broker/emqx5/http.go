package emqx5

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/internal/emqxapi"
)

// apiError is a v5 error body; publish errors use reason_code instead of code.
type apiError struct {
	Code       string          `json:"code"`
	Message    json.RawMessage `json:"message"`
	ReasonCode *int64          `json:"reason_code"`
}

// call is one request. A 2xx reply is decoded into out when out is non-nil
// and the body is not empty; the status is returned for the few calls
// whose meaning depends on it (publish 202).
func (c *Client) call(ctx context.Context, op, method, path string, query url.Values, body, out any, secrets ...string) (int, error) {
	return c.callAccept(ctx, op, method, path, query, body, out, nil, secrets...)
}

// callAccept is call with accept deciding that a non-2xx reply is still to
// be decoded into out (publish/bulk's 503 carries per-message results).
func (c *Client) callAccept(ctx context.Context, op, method, path string, query url.Values, body, out any, accept func(status int, body []byte) bool, secrets ...string) (int, error) {
	resp, err := c.t.Do(ctx, emqxapi.Request{Op: op, Method: method, Path: path, Query: query, Body: body, Secrets: secrets},
		func(r *emqxapi.Response) (string, *broker.Error) {
			if accept != nil && accept(r.Status, r.Body) {
				return strconv.Itoa(r.Status), nil
			}
			return classify(r.Status, r.Body)
		})
	if err != nil {
		return 0, err
	}
	if out != nil && len(bytes.TrimSpace(resp.Body)) > 0 {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			return resp.Status, &broker.Error{Op: op, Class: emqxapi.UndecodableClass(resp.Body, err), HTTPStatus: resp.Status, Message: "unexpected reply body", Err: err}
		}
	}
	return resp.Status, nil
}

// classify turns a reply into the RequestEvent result label and, unless it
// is a 2xx, an error.
func classify(status int, body []byte) (string, *broker.Error) {
	if status >= 200 && status <= 299 {
		return strconv.Itoa(status), nil
	}
	var e apiError
	msg := emqxapi.Text(body)
	if json.Unmarshal(body, &e) == nil {
		if m := emqxapi.MessageText(e.Message); m != "" {
			msg = m
		}
	}
	code := e.Code
	if code == "" && e.ReasonCode != nil {
		code = broker.ReasonCode(int(*e.ReasonCode))
	}
	result := code
	if result == "" {
		result = strconv.Itoa(status)
	}
	berr := &broker.Error{Class: errorClass(status, code, msg), Code: code, HTTPStatus: status, Message: msg}
	if berr.Class == broker.ClassMisconfigured {
		// NOT_FOUND as a reason would suggest the object is missing.
		berr.ReasonOverride = missingReason(status, msg)
	}
	return result, berr
}

// errorClass decides a failure's class: the HTTP status first where it is
// unambiguous, then the places where one code means two things (a missing
// authenticator or authz source also answers NOT_FOUND), then the code.
func errorClass(status int, code, msg string) broker.Class {
	if c := emqxapi.StatusClass(status); c != "" {
		return c
	}
	if missingPrerequisite(msg) {
		return broker.ClassMisconfigured
	}
	switch {
	case status == http.StatusNotFound && code == "":
		return broker.ClassMisconfigured // no such route: wrong URL or not a v5 API
	case status == http.StatusMethodNotAllowed:
		return broker.ClassMisconfigured
	case code != "":
		return broker.CodeClass(code)
	}
	return broker.ClassRejected
}

// missingReason names what a Misconfigured reply says is missing.
func missingReason(status int, msg string) string {
	switch {
	case strings.Contains(msg, "Authenticator not found"), strings.Contains(msg, "{not_found,{authenticator"):
		return "AuthenticatorNotFound"
	case strings.Contains(msg, "Not found: built_in_database"):
		return "AuthzSourceNotFound"
	case status == http.StatusNotFound || status == http.StatusMethodNotAllowed:
		return "RouteNotFound"
	}
	return ""
}

// missingPrerequisite recognises the messages of calls that failed because
// the broker lacks the built-in authenticator or authorization source, or
// the route itself.
func missingPrerequisite(msg string) bool {
	for _, s := range []string{
		"Authenticator not found",
		"Not found: built_in_database",
		"{not_found,{authenticator",
		"Request Path Not Found",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// page is a paginated list reply.
type page[T any] struct {
	Data []T          `json:"data"`
	Meta emqxapi.Meta `json:"meta"`
}

// list reads every page of a paginated route into items.
func list[T any](ctx context.Context, c *Client, op, path string, query url.Values) ([]T, error) {
	items := []T{}
	err := emqxapi.Paginate(ctx, op, c.pageSize, func(p, limit int) (int, emqxapi.Meta, error) {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("page", strconv.Itoa(p))
		q.Set("limit", strconv.Itoa(limit))
		var pg page[T]
		if _, err := c.call(ctx, op, http.MethodGet, path, q, nil, &pg); err != nil {
			return 0, emqxapi.Meta{}, err
		}
		items = append(items, pg.Data...)
		return len(pg.Data), pg.Meta, nil
	})
	return items, err
}

func invalid(op, msg string) error {
	return &broker.Error{Op: op, Class: broker.ClassRejected, Message: msg}
}

func unsupported(op, msg string) error {
	return &broker.Error{Op: op, Class: broker.ClassUnsupported, Message: msg}
}
