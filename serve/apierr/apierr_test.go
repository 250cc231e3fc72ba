package apierr_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/discret-io/discret/serve/apierr"
)

// TestCode is the error mapping table of the API: every kind, its gRPC code
// and the HTTP status REST clients get (grpc-gateway's mapping).
func TestCode(t *testing.T) {
	want := map[apierr.Kind]struct {
		code codes.Code
		http int
	}{
		apierr.Internal:           {codes.Internal, http.StatusInternalServerError},
		apierr.InvalidArgument:    {codes.InvalidArgument, http.StatusBadRequest},
		apierr.NotFound:           {codes.NotFound, http.StatusNotFound},
		apierr.PermissionDenied:   {codes.PermissionDenied, http.StatusForbidden},
		apierr.Unauthenticated:    {codes.Unauthenticated, http.StatusUnauthorized},
		apierr.ResourceExhausted:  {codes.ResourceExhausted, http.StatusTooManyRequests},
		apierr.FailedPrecondition: {codes.FailedPrecondition, http.StatusBadRequest},
		apierr.Unavailable:        {codes.Unavailable, http.StatusServiceUnavailable},
		apierr.DeadlineExceeded:   {codes.DeadlineExceeded, http.StatusGatewayTimeout},
		apierr.Canceled:           {codes.Canceled, 499},
		apierr.Unimplemented:      {codes.Unimplemented, http.StatusNotImplemented},
		apierr.Aborted:            {codes.Aborted, http.StatusConflict},
		apierr.AlreadyExists:      {codes.AlreadyExists, http.StatusConflict},
	}
	if len(want) != len(apierr.Kinds) {
		t.Fatalf("table covers %d kinds, apierr.Kinds has %d", len(want), len(apierr.Kinds))
	}
	for _, k := range apierr.Kinds {
		w, ok := want[k]
		if !ok {
			t.Errorf("kind %v missing from the table", k)
			continue
		}
		if got := apierr.Code(k); got != w.code {
			t.Errorf("Code(%v) = %v, want %v", k, got, w.code)
		}
		if got := runtime.HTTPStatusFromCode(apierr.Code(k)); got != w.http {
			t.Errorf("HTTP status of %v = %d, want %d", k, got, w.http)
		}
		if strings.HasPrefix(k.String(), "kind(") {
			t.Errorf("Kind(%d).String() = %q, want a name", k, k.String())
		}
	}
	if got := apierr.Code(apierr.Kind(200)); got != codes.Internal {
		t.Errorf("Code(unknown kind) = %v, want Internal", got)
	}
}

func TestStatus(t *testing.T) {
	secret := errors.New("badger: table 000042.sst checksum mismatch at /var/lib/discret")
	for _, tt := range []struct {
		name      string
		err       error
		wantCode  codes.Code
		wantMsg   string
		wantField string
	}{
		{"invalid field", apierr.Invalidf("limit", "must be 1-100, got 500"), codes.InvalidArgument, "limit: must be 1-100, got 500", "limit"},
		{"wrapped invalid", fmt.Errorf("decode: %w", apierr.Invalidf("events[3].time", "want RFC 3339")), codes.InvalidArgument, "events[3].time: want RFC 3339", "events[3].time"},
		{"not found", apierr.New(apierr.NotFound, "item %q not found", "SKU-1"), codes.NotFound, `item "SKU-1" not found`, ""},
		{"plain error is internal", secret, codes.Internal, "internal error; the server logged the details", ""},
		{"internal with message", &apierr.Error{Kind: apierr.Internal, Msg: "boom", Err: secret}, codes.Internal, "internal error; the server logged the details", ""},
		{"canceled", fmt.Errorf("store: consent: %w", context.Canceled), codes.Canceled, "canceled", ""},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), codes.DeadlineExceeded, "deadline exceeded", ""},
		{"kind without message", &apierr.Error{Kind: apierr.Unavailable}, codes.Unavailable, "unavailable", ""},
		{"grpc status passes", status.Error(codes.ResourceExhausted, "grpc: received message larger than max"), codes.ResourceExhausted, "grpc: received message larger than max", ""},
	} {
		st := apierr.Status(tt.err)
		if st.Code() != tt.wantCode || st.Message() != tt.wantMsg {
			t.Errorf("Status(%s) = %v %q, want %v %q", tt.name, st.Code(), st.Message(), tt.wantCode, tt.wantMsg)
		}
		if strings.Contains(st.Message(), "badger") {
			t.Errorf("Status(%s) leaks the internal cause: %q", tt.name, st.Message())
		}
		var field string
		for _, d := range st.Details() {
			if br, ok := d.(*errdetails.BadRequest); ok && len(br.FieldViolations) == 1 {
				field = br.FieldViolations[0].Field
			}
		}
		if field != tt.wantField {
			t.Errorf("Status(%s) BadRequest field = %q, want %q", tt.name, field, tt.wantField)
		}
	}
	if st := apierr.Status(nil); st != nil {
		t.Errorf("Status(nil) = %v, want nil", st)
	}
	// A delay goes in a RetryInfo detail.
	st := apierr.Status(fmt.Errorf("x: %w", &apierr.Error{Kind: apierr.ResourceExhausted, Msg: "slow down", RetryAfter: 264 * time.Millisecond}))
	if d, ok := apierr.RetryDelay(st); !ok || d != 264*time.Millisecond || st.Code() != codes.ResourceExhausted {
		t.Errorf("Status(RetryAfter 264ms) = %v, RetryDelay %v, %v; want ResourceExhausted with 264ms", st, d, ok)
	}
	if d, ok := apierr.RetryDelay(apierr.Status(apierr.New(apierr.ResourceExhausted, "x"))); ok {
		t.Errorf("Status without RetryAfter has RetryDelay %v, want none", d)
	}
}

func TestQuote(t *testing.T) {
	tests := []struct{ what, in, want string }{
		{"a value", "abc", `"abc"`},
		{"a value", "", `""`},
		{"a value", "a\nb", `"a\nb"`},
		{"a value", strings.Repeat("x", 70), `"` + strings.Repeat("x", 64) + `"…`},
		{"a value", strings.Repeat("x", 63) + "é", `"` + strings.Repeat("x", 63) + `"…`}, // not inside a character
		{"a value", "alice@example.com", "(a value withheld: it looks like an e-mail address)"},
		{"a name", strings.Repeat("x", 70) + "@example.com", "(a name withheld: it looks like an e-mail address)"},
	}
	for _, tt := range tests {
		if got := apierr.Quote(tt.what, tt.in); got != tt.want {
			t.Errorf("Quote(%q, %q) = %s, want %s", tt.what, tt.in, got, tt.want)
		}
	}
}

func TestKindOf(t *testing.T) {
	inner := apierr.New(apierr.NotFound, "x")
	for _, tt := range []struct {
		err  error
		want apierr.Kind
	}{
		{nil, apierr.Internal},
		{errors.New("x"), apierr.Internal},
		{inner, apierr.NotFound},
		{fmt.Errorf("a: %w", inner), apierr.NotFound},
		// The outermost *Error decides, even around a context error.
		{&apierr.Error{Kind: apierr.Unavailable, Err: context.Canceled}, apierr.Unavailable},
		{context.Canceled, apierr.Canceled},
		{context.DeadlineExceeded, apierr.DeadlineExceeded},
	} {
		if got := apierr.KindOf(tt.err); got != tt.want {
			t.Errorf("KindOf(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	if !errors.Is(apierr.Wrap(apierr.NotFound, context.Canceled), context.Canceled) {
		t.Error("errors.Is(Wrap(k, err), err) = false, want true")
	}
}

func ExampleStatus() {
	err := apierr.Invalidf("limit", "must be 1-100 (0 means 10), got %d", 500)
	st := apierr.Status(err)
	fmt.Println(st.Code(), st.Message())
	// Output: InvalidArgument limit: must be 1-100 (0 means 10), got 500
}
