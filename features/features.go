// Package features holds Discret's data model for customer behaviour: the
// events retailers send (views, carts, purchases, store visits), how they are
// validated, and — in sub-packages — how they are decoded from files
// (eventfile), ingested under consent and retention rules (ingest), stored in
// Badger (store), handled for data-subject requests (customer) and generated
// synthetically (synth).
//
// An event arrives as a RawEvent carrying the raw privacy.CustomerID. It is
// validated, pseudonymized and stored as an Event, which carries only the
// privacy.PseudoID. There is deliberately no free-text field anywhere.
package features

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/discret-io/discret/privacy"
)

// Field names, as they appear in Discret's JSON Lines and CSV formats and in
// error messages.
const (
	FieldCustomer = "customer"
	FieldItem     = "item"
	FieldType     = "type"
	FieldStore    = "store"
	FieldTime     = "time"
	FieldQuantity = "quantity"
)

// Fields lists the fields of an event, in canonical column order.
var Fields = []string{FieldCustomer, FieldItem, FieldType, FieldStore, FieldTime, FieldQuantity}

// MaxQuantity bounds Event.Quantity.
const MaxQuantity = 1_000_000

// RawEvent is an event as it arrives from a file or a request, before
// pseudonymization.
type RawEvent struct {
	Customer privacy.CustomerID
	Item     string // required except for store visits
	Kind     privacy.EventKind
	Store    string // empty means online
	Time     time.Time
	Quantity uint32 // ≥ 1
}

// Event is a stored event: RawEvent with the customer pseudonymized.
type Event struct {
	Customer privacy.PseudoID
	Item     string
	Kind     privacy.EventKind
	Store    string
	Time     time.Time // UTC, millisecond precision
	Quantity uint32
}

// FieldError is a validation error about one field of one event. Value is the
// offending value when it is safe to show: never for the customer field.
type FieldError struct {
	Field string
	Value string
	Err   error
}

// FieldRecord is the field named by errors about a whole row rather than
// one of its fields: malformed JSON or CSV, a wrong number of columns, a line
// too long. Its errors read "row 3: malformed JSON: …", without a field.
const FieldRecord = "record"

// Error returns "field F: " and Message, or Message alone for FieldRecord.
func (e *FieldError) Error() string {
	if e.Field == FieldRecord {
		return e.Message()
	}
	return "field " + e.Field + ": " + e.Message()
}

// Message is the error without the field name, worded for the people who
// wrote the input: the value quoted (the caller sets Value only for fields
// that never hold a customer id), except one that looks like an e-mail
// address, the usual form of a customer id, which a file with shifted
// columns puts in another field; and an identifier error of
// privacy.ValidateID ("privacy: empty identifier") with the accepted range
// instead of its package prefix.
func (e *FieldError) Message() string {
	msg := e.Err.Error()
	switch {
	case errors.Is(e.Err, privacy.ErrEmptyID):
		msg = "required (" + IDRange + ")"
	case errors.Is(e.Err, privacy.ErrLongID), errors.Is(e.Err, privacy.ErrNotUTF8), errors.Is(e.Err, privacy.ErrControlChar):
		msg = IDRange + " (" + strings.TrimPrefix(msg, "privacy: ") + ")"
	}
	switch {
	case LooksLikeEmail(e.Value):
		msg = "value withheld (an e-mail address: a customer id in the wrong column?): " + msg
	case e.Value != "":
		msg = fmt.Sprintf("%q: %s", e.Value, msg)
	}
	return msg
}

// LooksLikeEmail reports whether s, a value or a name from the input,
// looks like an e-mail address (it holds an '@'), the usual form of a
// customer id: error messages withhold such text.
func LooksLikeEmail(s string) bool { return strings.Contains(s, "@") }

// IDRange describes valid identifiers (privacy.ValidateID), for error
// messages.
var IDRange = fmt.Sprintf("want 1-%d bytes of UTF-8 without control characters", privacy.MaxIDLen)

func (e *FieldError) Unwrap() error { return e.Err }

// RowError locates an error at a row (1-based line number) of an input.
type RowError struct {
	Row int
	Err error
}

func (e *RowError) Error() string { return fmt.Sprintf("row %d: %v", e.Row, e.Err) }

func (e *RowError) Unwrap() error { return e.Err }

// Reason returns a short, stable classification of err for reports
// ("customer: empty identifier" → "invalid customer"), so that rejected rows
// can be counted by reason.
func Reason(err error) string {
	var fe *FieldError
	if errors.As(err, &fe) {
		return "invalid " + fe.Field
	}
	return "malformed row"
}

// Validation errors.
var (
	ErrMissing      = errors.New("required")
	ErrKind         = errors.New("want view, add_to_cart, purchase or store_visit")
	ErrItemOnVisit  = errors.New("must be empty for store_visit")
	ErrStoreOnVisit = errors.New("required for store_visit")
	ErrQuantity     = fmt.Errorf("must be an integer from 1 to %d", MaxQuantity)
	ErrTime         = errors.New("want RFC 3339 (2026-01-02T15:04:05Z) or Unix seconds or milliseconds")
	ErrTimeRange    = errors.New("out of range (before 1970 or after 2200)")
	ErrFuture       = fmt.Errorf("in the future (at most %v ahead of the clock)", privacy.MaxClockSkew)
	// ErrEmailLike refuses an item, store, category or coupon id that
	// looks like an e-mail address (LooksLikeEmail): such ids are stored
	// as they are, and this one is most likely a customer id in the wrong
	// field, which would then reach the disk unpseudonymized.
	ErrEmailLike = errors.New("not accepted: ids of items, stores, categories and coupons are stored as they are, and must not hold an '@'")
)

// ValidateKey checks an item, store, category or coupon id: a valid
// identifier (privacy.ValidateID) that does not look like an e-mail address
// (ErrEmailLike).
func ValidateKey(s string) error {
	if err := privacy.ValidateID(s); err != nil {
		return err
	}
	if LooksLikeEmail(s) {
		return ErrEmailLike
	}
	return nil
}

// CheckNotFuture returns a *FieldError on time wrapping ErrFuture when e is
// dated more than privacy.MaxClockSkew after now: its retention counts
// from its own time, so a later date would keep it past its retention
// period.
func (e *RawEvent) CheckNotFuture(now time.Time) error {
	if e.Time.After(now.Add(privacy.MaxClockSkew)) {
		return &FieldError{Field: FieldTime, Value: e.Time.UTC().Format(time.RFC3339), Err: ErrFuture}
	}
	return nil
}

var (
	minTime = time.Unix(0, 0)
	maxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Validate checks every field of e. It returns nil, a *FieldError when one
// field is bad, or FieldErrors (in field order) when several are, so that
// whoever fixes the input sees every problem at once. The customer must
// have been built with privacy.ParseCustomerID. A store visit has a store
// and no item; every other kind has an item.
func (e *RawEvent) Validate() error {
	var errs FieldErrors
	bad := func(field, value string, err error) {
		errs = append(errs, &FieldError{Field: field, Value: value, Err: err})
	}
	if e.Customer.IsZero() {
		bad(FieldCustomer, "", ErrMissing)
	}
	switch {
	case e.Kind == 0:
		bad(FieldType, "", ErrMissing)
	case !e.Kind.Valid():
		bad(FieldType, e.Kind.String(), ErrKind)
	case e.Kind == privacy.StoreVisit:
		if e.Item != "" {
			bad(FieldItem, clip(e.Item), ErrItemOnVisit)
		}
		if e.Store == "" {
			bad(FieldStore, "", ErrStoreOnVisit)
		}
	default:
		if err := ValidateKey(e.Item); err != nil {
			bad(FieldItem, clip(e.Item), err)
		}
	}
	if e.Store != "" {
		if err := ValidateKey(e.Store); err != nil {
			bad(FieldStore, clip(e.Store), err)
		}
	}
	switch {
	case e.Time.IsZero():
		bad(FieldTime, "", ErrMissing)
	case e.Time.Before(minTime) || e.Time.After(maxTime):
		bad(FieldTime, e.Time.Format(time.RFC3339), ErrTimeRange)
	}
	if e.Quantity < 1 || e.Quantity > MaxQuantity {
		bad(FieldQuantity, strconv.FormatUint(uint64(e.Quantity), 10), ErrQuantity)
	}
	return errs.asError()
}

// clipLen is the longest value, in bytes, echoed by a FieldError.
const clipLen = 64

// clip shortens a value echoed in an error message to at most clipLen bytes
// plus an ellipsis, cutting at a rune boundary so that a valid UTF-8 value
// stays valid.
func clip(s string) string { return Clip(s, clipLen) }

// Plural returns "1 thing" or "n things", for messages that count.
func Plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// Clip returns s, or its first n bytes at most (ClipAt) and an ellipsis
// if it is longer: a value fit for a message.
func Clip(s string, n int) string {
	if head, cut := ClipAt(s, n); cut {
		return head + "…"
	}
	return s
}

// ClipAt returns the first n bytes of s at most, cut at a rune boundary so
// that valid UTF-8 stays valid, and whether it cut anything: for texts
// echoed in messages, which add an ellipsis when cut.
func ClipAt(s string, n int) (head string, cut bool) {
	if len(s) <= n {
		return s, false
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], true
}

// ParseTime parses an event time: RFC 3339 (with or without fractional
// seconds), or an integer number of Unix seconds, or of Unix milliseconds when
// its absolute value is at least 10¹¹ (which as seconds would be after the
// year 5000). The result is in UTC, truncated to the millisecond.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, &FieldError{Field: FieldTime, Err: ErrMissing}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n >= 1e11 || n <= -1e11 {
			if n > math.MaxInt64/int64(time.Millisecond) || n < math.MinInt64/int64(time.Millisecond) {
				return time.Time{}, &FieldError{Field: FieldTime, Value: clip(s), Err: ErrTimeRange}
			}
			return time.UnixMilli(n).UTC(), nil
		}
		return time.Unix(n, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &FieldError{Field: FieldTime, Value: clip(s), Err: ErrTime}
	}
	return t.UTC().Truncate(time.Millisecond), nil
}

// ParseQuantity parses a quantity; empty means 1.
func ParseQuantity(s string) (uint32, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 1, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || n > MaxQuantity {
		return 0, &FieldError{Field: FieldQuantity, Value: clip(s), Err: ErrQuantity}
	}
	return uint32(n), nil
}

// ParseCustomer parses a raw customer identifier into a field error that
// never echoes the value.
func ParseCustomer(s string) (privacy.CustomerID, error) {
	c, err := privacy.ParseCustomerID(s)
	if err != nil {
		return c, &FieldError{Field: FieldCustomer, Err: err}
	}
	return c, nil
}

// ParseKind parses an event type. The error echoes at most a clipped copy of
// s.
func ParseKind(s string) (privacy.EventKind, error) {
	if s == "" {
		return 0, &FieldError{Field: FieldType, Err: ErrMissing}
	}
	k, err := privacy.ParseEventKind(s)
	if err != nil {
		// privacy's error quotes s in full; ErrKind does not repeat it.
		return 0, &FieldError{Field: FieldType, Value: clip(s), Err: ErrKind}
	}
	return k, nil
}
