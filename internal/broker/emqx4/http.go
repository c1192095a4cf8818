package emqx4

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/internal/emqxapi"
)

// envelope is every v4 handler reply. Code is a pointer because a missing
// code means failure, not success.
type envelope struct {
	Code    *int64          `json:"code"`
	Message json.RawMessage `json:"message"`
	Data    json.RawMessage `json:"data"`
	Meta    emqxapi.Meta    `json:"meta"`
}

// call sends one request and returns the decoded envelope of a success
// (HTTP 2xx and code 0).
func (c *Client) call(ctx context.Context, op, method, path string, query url.Values, body any, secrets ...string) (*envelope, error) {
	var env *envelope
	_, err := c.t.Do(ctx, emqxapi.Request{Op: op, Method: method, Path: path, Query: query, Body: body, Secrets: secrets},
		func(r *emqxapi.Response) (string, *broker.Error) {
			e, result, berr := decodeReply(r.Status, r.Body)
			env = e
			return result, berr
		})
	if err != nil {
		return nil, err
	}
	return env, nil
}

// decodeReply classifies a v4 reply. It returns the envelope of a success,
// the RequestEvent result label, and the error of a failure.
func decodeReply(status int, body []byte) (*envelope, string, *broker.Error) {
	if status < 200 || status > 299 {
		return nil, strconv.Itoa(status), statusError(status, body)
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, strconv.Itoa(status), &broker.Error{
			Class: emqxapi.UndecodableClass(body, err), HTTPStatus: status,
			Message: "reply is not a v4 JSON envelope: " + emqxapi.Text(body), Err: err,
		}
	}
	msg := emqxapi.MessageText(env.Message)
	if env.Code == nil {
		if len(env.Message) == 0 {
			return nil, strconv.Itoa(status), &broker.Error{
				Class: broker.ClassMisconfigured, HTTPStatus: status, Message: "reply carries no result code",
			}
		}
		reason, _, class := broker.V4Uncoded(msg)
		return nil, reason, &broker.Error{Class: class, HTTPStatus: status, Message: msg, ReasonOverride: reason}
	}
	code := strconv.FormatInt(*env.Code, 10)
	if *env.Code != broker.V4Success {
		return nil, code, &broker.Error{Class: broker.CodeClass(code), Code: code, HTTPStatus: status, Message: msg}
	}
	return &env, code, nil
}

// statusError classifies framework-level replies, which are plain text:
// 401 UNAUTHORIZED, 404 "Not found.", 400 "Bad Request", 500 "Internal Error".
func statusError(status int, body []byte) *broker.Error {
	msg := emqxapi.Text(body)
	var v5 struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &v5) == nil && v5.Message != "" {
		msg = v5.Message // a JSON body here most likely means a v5 broker
	}
	class := emqxapi.StatusClass(status)
	switch {
	case class != "":
	case status == http.StatusNotFound:
		// minirest answers 404 for unknown routes and for routes of plugins
		// that are not running (emqx_auth_mnesia for users and ACL).
		class = broker.ClassMisconfigured
		msg = "route not found (is emqx_auth_mnesia loaded and is this a v4 API?): " + msg
	default:
		// 400 "Bad Request" is invalid JSON, a thrown term otherwise.
		class = broker.ClassRejected
	}
	be := &broker.Error{Class: class, HTTPStatus: status, Message: msg}
	if status == http.StatusNotFound && class == broker.ClassMisconfigured {
		be.ReasonOverride = "RouteNotFound"
	}
	return be
}

// decodeData unmarshals an envelope's data into out, reporting a reply the
// driver cannot read as Misconfigured (wrong API flavour or version).
func decodeData(op string, env *envelope, out any) error {
	if len(env.Data) == 0 || bytes.Equal(bytes.TrimSpace(env.Data), []byte("null")) {
		return nil
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return &broker.Error{Op: op, Class: broker.ClassMisconfigured, HTTPStatus: http.StatusOK, Message: "unexpected data in reply", Err: err}
	}
	return nil
}

// hasCode reports whether err is a broker reply with the given v4 code.
func hasCode(err error, code int) bool {
	be, ok := broker.AsError(err)
	return ok && be.Code == strconv.Itoa(code)
}

func itoa(n int) string { return strconv.Itoa(n) }

func invalid(op, msg string) error {
	return &broker.Error{Op: op, Class: broker.ClassRejected, Message: msg}
}

func unsupported(op, msg string) error {
	return &broker.Error{Op: op, Class: broker.ClassUnsupported, Message: msg}
}
