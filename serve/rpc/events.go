package rpc

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/privacy"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/apierr"
)

// WriteEvents validates every event, then ingests the valid ones as one
// commit unit: all of them, or none if any is invalid and allow_partial is
// unset. Invalid events are reported by index and field. The response's
// stored counts the events stored, new or already held: re-sending an
// event is idempotent (the store keeps one copy per identity) and counts it
// as stored again; telling them apart would cost a read per event.
func (s eventServer) WriteEvents(ctx context.Context, req *discretv1.WriteEventsRequest) (*discretv1.WriteEventsResponse, error) {
	a := s.a
	n := len(req.GetEvents())
	if most := a.cfg.Events.BatchSize(); n > most {
		return nil, apierr.Invalidf("events", "%d events; at most %d per request (split the batch)", n, most)
	}
	valid, rowErrs := decodeEvents(req.GetEvents(), a.cfg.Now())
	resp := &discretv1.WriteEventsResponse{Received: int32(n), Errors: rowErrs}
	if len(rowErrs) > 0 && !req.GetAllowPartial() {
		return resp, nil
	}
	counts, err := a.cfg.Events.Write(ctx, valid)
	if err != nil {
		return nil, apiError(err)
	}
	if a.cfg.Cache != nil {
		seen := make(map[privacy.PseudoID]bool, len(valid))
		for i := range valid {
			p := a.cfg.Pseudonyms.Pseudonymize(valid[i].Customer)
			if !seen[p] {
				seen[p] = true
				a.invalidate(p)
			}
		}
	}
	resp.Stored = int32(counts.Stored)
	resp.NoConsent = int32(counts.NoConsent)
	resp.Expired = int32(counts.Expired)
	resp.Duplicates = int32(counts.Duplicates)
	return resp, nil
}

// decodeEvents converts and validates events, returning the valid ones and
// an error per invalid one; now is the server's clock.
func decodeEvents(in []*discretv1.Event, now time.Time) ([]features.RawEvent, []*discretv1.RowError) {
	valid := make([]features.RawEvent, 0, len(in))
	var bad []*discretv1.RowError
	for i, pe := range in {
		e, err := decodeEvent(pe, now)
		if err != nil {
			bad = append(bad, rowError(i, err))
			continue
		}
		valid = append(valid, e)
	}
	return valid, bad
}

// decodeEvent converts one event with the same rules as the event files of
// `discret import` (features.ParseTime, features.RawEvent.Validate), and
// refuses a time more than privacy.MaxClockSkew after now. A bad event's error
// names every bad field (features.Problems), as an import does for a row.
func decodeEvent(pe *discretv1.Event, now time.Time) (features.RawEvent, error) {
	var e features.RawEvent
	var errs features.FieldErrors
	add := func(field string, err error) {
		var fe *features.FieldError
		if !errors.As(err, &fe) {
			fe = &features.FieldError{Field: field, Err: err}
		}
		errs = append(errs, fe)
	}
	var err error
	if e.Customer, err = features.ParseCustomer(pe.GetCustomer()); err != nil {
		add(features.FieldCustomer, err)
	}
	if e.Kind, err = features.ParseKind(pe.GetType()); err != nil {
		add(features.FieldType, err)
	}
	if e.Time, err = features.ParseTime(pe.GetTime()); err != nil {
		add(features.FieldTime, err)
	} else if err := e.CheckNotFuture(now); err != nil {
		add(features.FieldTime, err)
	}
	switch q := pe.GetQuantity(); {
	case q == 0:
		e.Quantity = 1
	case q < 0 || q > features.MaxQuantity:
		add(features.FieldQuantity, &features.FieldError{Field: features.FieldQuantity, Value: strconv.Itoa(int(q)), Err: features.ErrQuantity})
	default:
		e.Quantity = uint32(q)
	}
	e.Item, e.Store = pe.GetItem(), pe.GetStore()
	return e, features.Problems(features.Fields, errs, e.Validate())
}

// rowError reports the invalid event at index i: field names the first bad
// field, and the message says what is wrong with it, then with every other
// bad field ("…; field time: required").
func rowError(i int, err error) *discretv1.RowError {
	re := &discretv1.RowError{Index: int32(i), Message: err.Error()}
	var fes features.FieldErrors
	var fe *features.FieldError
	switch {
	case errors.As(err, &fes) && len(fes) > 0:
		re.Field = fes[0].Field
		re.Message = fes[0].Message()
		if len(fes) > 1 {
			re.Message += "; " + fes[1:].Error()
		}
	case errors.As(err, &fe):
		re.Field = fe.Field
		re.Message = fe.Message()
	}
	return re
}
