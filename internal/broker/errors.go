package broker

import (
	"errors"
	"fmt"
	"time"
)

// Class says how a caller should react to a failed broker call.
type Class string

const (
	// ClassNotFound means the addressed object does not exist.
	ClassNotFound Class = "NotFound"
	// ClassAlreadyExists means a create met an existing object.
	ClassAlreadyExists Class = "AlreadyExists"
	// ClassRejected means the broker refused the request's content; retrying the
	// same request cannot help (terminal).
	ClassRejected Class = "Rejected"
	// ClassUnauthorized means the API credentials were refused.
	ClassUnauthorized Class = "Unauthorized"
	// ClassTransient means the broker was unreachable, the call timed out, or it
	// answered 5xx or an RPC error: retry with backoff.
	ClassTransient Class = "Transient"
	// ClassMisconfigured means the broker lacks what the call needs (plugin not
	// loaded, no built-in authenticator or authorization source).
	ClassMisconfigured Class = "Misconfigured"
	// ClassUnsupported means the API version cannot express the request.
	ClassUnsupported Class = "Unsupported"
)

// Error is a failed broker call. Code is the broker's raw result code ("115"
// for v4, "BAD_REQUEST" for v5), empty when the broker sent none.
type Error struct {
	Op         string
	Class      Class
	Code       string
	HTTPStatus int
	Message    string
	// Err is the underlying cause, if any (a network error, for example).
	Err error
	// ReasonOverride, when set, is what Reason returns. Drivers set it for
	// replies that carry no code but still say what went wrong (v4's
	// {"message":"existed"} → "UserExists"), so Code can stay empty as the
	// broker sent it.
	ReasonOverride string
	// RetryAfter is how long the broker asked callers to wait before the
	// next attempt (Retry-After on a 429 or 503); zero when it did not say.
	RetryAfter time.Duration
}

// Error renders the failure without credentials or request bodies.
func (e *Error) Error() string {
	var s string
	switch {
	case e.Code != "":
		s = fmt.Sprintf("%s: broker code %s (%s)", e.Op, e.Code, CodeName(e.Code))
	case e.HTTPStatus != 0:
		s = fmt.Sprintf("%s: http %d", e.Op, e.HTTPStatus)
	default:
		s = e.Op
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap exposes the cause.
func (e *Error) Unwrap() error { return e.Err }

// Reason is the CamelCase name used as a condition reason.
func (e *Error) Reason() string {
	if e.ReasonOverride != "" {
		return e.ReasonOverride
	}
	if e.Code != "" {
		return CodeReason(e.Code)
	}
	return string(e.Class)
}

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var be *Error
	ok := errors.As(err, &be)
	return be, ok
}

// ClassOf classifies any error from a driver; errors that are not *Error
// are treated as transient.
func ClassOf(err error) Class {
	if err == nil {
		return ""
	}
	if be, ok := AsError(err); ok {
		return be.Class
	}
	return ClassTransient
}

// IsNotFound reports whether err means the object is absent.
func IsNotFound(err error) bool { return ClassOf(err) == ClassNotFound }

// IsAlreadyExists reports whether err means the object exists already.
func IsAlreadyExists(err error) bool { return ClassOf(err) == ClassAlreadyExists }
