// Package apierr is the error vocabulary of Discret's API edge: a Kind for
// each way a request can fail, an Error that carries the kind, the request
// field at fault and a message fit for the client, and Code, the one function
// that maps kinds to gRPC status codes. REST clients get the matching HTTP
// status from grpc-gateway (400, 401, 403, 404, 409, 429, 500, 503, ...).
//
// Handlers return domain errors wrapped in an *Error (or plain errors, which
// are Internal); the server's interceptor turns them into a gRPC status with
// Status. Messages of Internal errors never reach the client: their cause
// may describe the server's internals. No message may contain a raw customer
// id or an API key.
package apierr

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/discret-io/discret/features"
)

// Kind classifies an API error. The zero Kind is Internal, so that an error
// nobody classified is never blamed on the client.
type Kind uint8

// Kinds.
const (
	Internal           Kind = iota // a bug or a failure of the server; details are logged, not returned
	InvalidArgument                // the request is malformed: the message names the field and the valid range
	NotFound                       // a named item, coupon or model does not exist
	PermissionDenied               // the API key lacks the scope the method needs
	Unauthenticated                // no API key, or an invalid or revoked one
	ResourceExhausted              // rate limit or request size exceeded
	FailedPrecondition             // the server is not in a state to do it (e.g. no model is loaded)
	Unavailable                    // the server is shutting down or its store is closed; retry elsewhere or later
	DeadlineExceeded               // the request's deadline passed
	Canceled                       // the client went away
	Unimplemented                  // this server was started without the engine the method needs
	Aborted                        // a conflicting operation is in progress (e.g. a training run); retry later
	AlreadyExists                  // what the request would create exists already (e.g. an API key's name); retrying will not help
)

var kindNames = [...]string{
	Internal:           "internal",
	InvalidArgument:    "invalid argument",
	NotFound:           "not found",
	PermissionDenied:   "permission denied",
	Unauthenticated:    "unauthenticated",
	ResourceExhausted:  "resource exhausted",
	FailedPrecondition: "failed precondition",
	Unavailable:        "unavailable",
	DeadlineExceeded:   "deadline exceeded",
	Canceled:           "canceled",
	Unimplemented:      "unimplemented",
	Aborted:            "aborted",
	AlreadyExists:      "already exists",
}

// Kinds lists every Kind.
var Kinds = []Kind{Internal, InvalidArgument, NotFound, PermissionDenied, Unauthenticated,
	ResourceExhausted, FailedPrecondition, Unavailable, DeadlineExceeded, Canceled, Unimplemented, Aborted, AlreadyExists}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Code maps a Kind to its gRPC status code. It is the only place where that
// mapping is made (STYLE.md B11).
func Code(k Kind) codes.Code {
	switch k {
	case InvalidArgument:
		return codes.InvalidArgument
	case NotFound:
		return codes.NotFound
	case PermissionDenied:
		return codes.PermissionDenied
	case Unauthenticated:
		return codes.Unauthenticated
	case ResourceExhausted:
		return codes.ResourceExhausted
	case FailedPrecondition:
		return codes.FailedPrecondition
	case Unavailable:
		return codes.Unavailable
	case DeadlineExceeded:
		return codes.DeadlineExceeded
	case Canceled:
		return codes.Canceled
	case Unimplemented:
		return codes.Unimplemented
	case Aborted:
		return codes.Aborted
	case AlreadyExists:
		return codes.AlreadyExists
	}
	return codes.Internal
}

// Error is an error at the API edge.
type Error struct {
	Kind Kind
	// Field is the request field at fault, as a path into the request
	// ("limit", "events[3].time"); empty if the error is not about one field.
	Field string
	// Msg is what the client is told. For Internal errors it is not sent.
	Msg string
	// Err is the cause, for the server's logs; it may be nil.
	Err error
	// RetryAfter, if positive, is how long the client should wait before
	// retrying; Status sends it as a google.rpc.RetryInfo detail.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	switch {
	case e.Msg == "" && e.Err != nil:
		return e.Kind.String() + ": " + e.Err.Error()
	case e.Msg == "":
		return e.Kind.String()
	case e.Err != nil && e.Kind == Internal:
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error of kind k whose client message is the formatted text.
func New(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of kind k around err, with err's text as the client
// message. Use it only when err's text is fit for the client.
func Wrap(k Kind, err error) *Error {
	return &Error{Kind: k, Msg: err.Error(), Err: err}
}

// Invalid returns an InvalidArgument error about field: the message is
// "field: " followed by the cause, which must say what values are accepted.
func Invalid(field string, cause error) *Error {
	return &Error{Kind: InvalidArgument, Field: field, Msg: field + ": " + cause.Error(), Err: cause}
}

// Invalidf is Invalid with a formatted cause.
func Invalidf(field, format string, args ...any) *Error {
	return Invalid(field, fmt.Errorf(format, args...))
}

// Quote returns text from a request for a client message: quoted (Go
// syntax) and clipped to 64 bytes, or withheld if it looks like an e-mail
// address, the usual form of a customer id (one in the wrong place):
// "(WHAT withheld: it looks like an e-mail address)", where what is "a
// value", "a name", .... features.FieldError.Message and features.FieldLabel
// withhold such values and names the same way.
func Quote(what, s string) string {
	switch {
	case features.LooksLikeEmail(s):
		return "(" + what + " withheld: it looks like an e-mail address)"
	}
	if head, cut := features.ClipAt(s, 64); cut {
		return strconv.Quote(head) + "…"
	}
	return strconv.Quote(s)
}

// KindOf returns the kind of err: the Kind of the first *Error in its chain,
// Canceled or DeadlineExceeded for the context errors, and Internal for
// anything else.
func KindOf(err error) Kind {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e.Kind
	case errors.Is(err, context.Canceled):
		return Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return DeadlineExceeded
	}
	return Internal
}

// internalMessage is what clients see of an Internal error.
const internalMessage = "internal error; the server logged the details"

// Status returns the gRPC status that the client receives for err, nil for
// nil. An error that already is a gRPC status (from the gRPC runtime) passes
// unchanged. An InvalidArgument error about a field carries a
// google.rpc.BadRequest detail naming it, which REST clients see in the
// "details" of the JSON error body. An error with a RetryAfter carries a
// google.rpc.RetryInfo detail with that delay.
func Status(err error) *status.Status {
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		if s, ok := status.FromError(err); ok {
			return s
		}
	}
	k := KindOf(err)
	msg := internalMessage
	switch {
	case k == Internal:
	case e != nil && e.Msg != "":
		msg = e.Msg
	default:
		msg = k.String()
	}
	s := status.New(Code(k), msg)
	if e != nil && e.Field != "" && k == InvalidArgument {
		d, derr := s.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{
			Field: e.Field, Description: msg,
		}}})
		if derr == nil {
			s = d
		}
	}
	if e != nil && e.RetryAfter > 0 {
		d, derr := s.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(e.RetryAfter)})
		if derr == nil {
			s = d
		}
	}
	return s
}

// RetryDelay returns the delay of the google.rpc.RetryInfo detail of st, if
// it has one.
func RetryDelay(st *status.Status) (time.Duration, bool) {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay().IsValid() {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}
