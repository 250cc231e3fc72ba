package rpc

import (
	"errors"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/ingest"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/model/budget"
	"github.com/discret-io/discret/model/train"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/serve/apierr"
	"github.com/discret-io/discret/serve/recommend"
)

// apiError classifies an error from an engine for the API edge. Errors it
// does not recognize stay Internal: their text is logged, not returned.
func apiError(err error) error {
	var ae *apierr.Error
	var fe *features.FieldError
	var exceeded *budget.ExceededError
	var loosened *train.CapLoosenedError
	var notCurrent *recommend.NotCurrentError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ae):
		return err
	case errors.As(err, &fe):
		return fieldError(fe.Field, fe)
	case errors.Is(err, recommend.ErrUnknownItem):
		return &apierr.Error{Kind: apierr.NotFound, Msg: strings.TrimPrefix(err.Error(), "recommend: "), Err: err}
	case errors.Is(err, recommend.ErrTraining):
		// A conflict that ends by itself: retry, unlike a precondition.
		return &apierr.Error{Kind: apierr.Aborted, Msg: strings.TrimPrefix(err.Error(), "recommend: "), Err: err}
	case errors.Is(err, recommend.ErrNonPrivate), errors.Is(err, recommend.ErrRefused), errors.Is(err, train.ErrNonPrivateRefused),
		errors.As(err, &notCurrent):
		return &apierr.Error{Kind: apierr.FailedPrecondition, Msg: strings.TrimPrefix(err.Error(), "recommend: "), Err: err}
	case errors.As(err, &loosened):
		return &apierr.Error{Kind: apierr.FailedPrecondition, Msg: "privacy budget: " + strings.TrimPrefix(loosened.Error(), "train: ") + "; to accept the looser cap, restart the server with --accept-cap-change", Err: err}
	case errors.As(err, &exceeded):
		return &apierr.Error{Kind: apierr.FailedPrecondition, Msg: "privacy budget: " + strings.TrimPrefix(exceeded.Error(), "budget: "), Err: err}
	case errors.Is(err, recommend.ErrNoCatalogue):
		return &apierr.Error{Kind: apierr.Unimplemented, Msg: "this server runs without a catalogue", Err: err}
	case errors.Is(err, recommend.ErrNoModel):
		return &apierr.Error{Kind: apierr.FailedPrecondition, Msg: "no model is loaded: no release is current, or the serving policy refused the current one (see the server log); train one (AdminService.TrainModel, or discret train with the server stopped) or choose one (discret models use)", Err: err}
	case errors.Is(err, store.ErrClosed), errors.Is(err, recommend.ErrClosed):
		return &apierr.Error{Kind: apierr.Unavailable, Msg: "the server is shutting down", Err: err}
	case errors.Is(err, store.ErrBusy):
		return &apierr.Error{Kind: apierr.Unavailable, Msg: "too many concurrent writes to the same records; nothing of this request was written, retry it", Err: err}
	case errors.Is(err, store.ErrNoSpace):
		// The operator's problem, in the log; the client may retry later.
		return &apierr.Error{Kind: apierr.Unavailable, Msg: "the server's disk is too full to write; nothing of this request was written, retry later", Err: err}
	case errors.Is(err, ingest.ErrTooMany):
		return &apierr.Error{Kind: apierr.InvalidArgument, Field: "events", Msg: "events: " + err.Error(), Err: err}
	}
	return err
}

// fieldError is an InvalidArgument error about the request field path,
// whose message is fe's without its own field name (path already says
// where) — it echoes the value only when features allows it (never a
// customer id).
func fieldError(path string, fe *features.FieldError) *apierr.Error {
	return &apierr.Error{Kind: apierr.InvalidArgument, Field: path, Msg: path + ": " + fe.Message(), Err: fe}
}

// idRange describes valid identifiers, for error messages.
var idRange = features.IDRange

// parseCustomer validates a raw customer id. The error never contains it.
func parseCustomer(field, s string) (privacy.CustomerID, error) {
	c, err := privacy.ParseCustomerID(s)
	if err != nil {
		if s == "" {
			return c, apierr.Invalidf(field, "required (%s)", idRange)
		}
		return c, apierr.Invalidf(field, "%s", idRange)
	}
	return c, nil
}

// checkID validates an item, store, category or coupon id; empty is
// allowed unless required.
func checkID(field, s string, required bool) error {
	if s == "" && !required {
		return nil
	}
	if err := privacy.ValidateID(s); err != nil {
		if s == "" {
			return apierr.Invalidf(field, "required (%s)", idRange)
		}
		return apierr.Invalidf(field, "%s", idRange)
	}
	return nil
}

// limit converts a requested number of items: 0 means the default.
func limit(n int32) (int, error) {
	switch {
	case n == 0:
		return recommend.DefaultLimit, nil
	case n < 0 || n > recommend.MaxLimit:
		return 0, apierr.Invalidf("limit", "must be 1-%d (0 means %d), got %d", recommend.MaxLimit, recommend.DefaultLimit, n)
	}
	return int(n), nil
}

// timestamp converts a required protobuf timestamp.
func timestamp(field string, ts *timestamppb.Timestamp) (time.Time, error) {
	if ts == nil {
		return time.Time{}, apierr.Invalidf(field, "required (RFC 3339 in JSON)")
	}
	if err := ts.CheckValid(); err != nil {
		return time.Time{}, apierr.Invalidf(field, "invalid timestamp (want years 1-9999)")
	}
	return ts.AsTime(), nil
}

// optTimestamp converts a time for a response: nil for the zero time.
func optTimestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
