package resources

import (
	"errors"
	"fmt"
)

// SpecError reports a spec.managed that cannot be turned into a working
// broker. Retrying cannot help until the spec changes, so the controller
// should set Stalled (reason InvalidSpec) and not requeue.
type SpecError struct {
	// Field is the path of the offending field, e.g. spec.managed.env[2].
	Field string
	// Message says what is wrong, naming the variable or value.
	Message string
}

// Error implements error.
func (e *SpecError) Error() string {
	return fmt.Sprintf("%s: %s", e.Field, e.Message)
}

// IsSpecError reports whether err is or wraps a *SpecError.
func IsSpecError(err error) bool {
	var se *SpecError
	return errors.As(err, &se)
}

func specErrorf(field, format string, args ...any) *SpecError {
	return &SpecError{Field: field, Message: fmt.Sprintf(format, args...)}
}
