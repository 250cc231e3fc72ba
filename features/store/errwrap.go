package store

import (
	"fmt"
	"strings"
)

// wrapf adds the operation (a fmt format and its arguments) to an error
// returned by the store, with the "store: " prefix once: the package's
// sentinel errors already begin with it, so fmt.Errorf("store: op: %w")
// around one would print "store: op: store: …". errors.Is and errors.As see
// through the wrapper.
func wrapf(err error, format string, args ...any) error {
	return &opError{op: fmt.Sprintf(format, args...), err: err}
}

type opError struct {
	op  string
	err error
}

func (e *opError) Error() string {
	inner := strings.TrimPrefix(e.err.Error(), "store: ")
	if e.op == "" {
		return "store: " + inner
	}
	return "store: " + e.op + ": " + inner
}

func (e *opError) Unwrap() error { return e.err }
