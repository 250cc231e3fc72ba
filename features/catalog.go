package features

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/discret-io/discret/privacy"
)

// Item is a catalogue item: what may be recommended, where, and whether it
// is on sale. Unknown and inactive items are never recommended.
type Item struct {
	ID       string   `json:"item"`
	Category string   `json:"category,omitempty"`
	Stores   []string `json:"stores,omitempty"` // where available; empty means online only
	Active   bool     `json:"active"`
}

// Coupon is an offer on an item in some stores during a validity window.
type Coupon struct {
	ID         string    `json:"coupon"`
	Item       string    `json:"item"`
	Stores     []string  `json:"stores"`
	Value      string    `json:"value"` // display value, e.g. "-20%"
	ValidFrom  time.Time `json:"valid_from"`
	ValidUntil time.Time `json:"valid_until"`
	Active     bool      `json:"active"`
}

// UnmarshalJSON decodes an item strictly (see decodeObject); an absent
// "active" field means true, so that a catalogue file need not repeat it for
// every item on sale.
func (it *Item) UnmarshalJSON(b []byte) error {
	v := Item{Active: true}
	err := decodeObject(b, []jsonField{
		{"item", &v.ID, wantString},
		{"category", &v.Category, wantString},
		{"stores", &v.Stores, wantStrings},
		{"active", &v.Active, wantBool},
	})
	if err != nil {
		return err
	}
	*it = v
	return nil
}

// UnmarshalJSON decodes a coupon strictly (see decodeObject); an absent
// "active" field means true.
func (c *Coupon) UnmarshalJSON(b []byte) error {
	v := Coupon{Active: true}
	err := decodeObject(b, []jsonField{
		{"coupon", &v.ID, wantString},
		{"item", &v.Item, wantString},
		{"stores", &v.Stores, wantStrings},
		{"value", &v.Value, wantString},
		{"valid_from", &v.ValidFrom, wantTime},
		{"valid_until", &v.ValidUntil, wantTime},
		{"active", &v.Active, wantBool},
	})
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// What a member of a catalogue object must be, for error messages.
const (
	wantString  = "want a string"
	wantStrings = `want an array of strings, such as ["store-01"]`
	wantBool    = "want true or false"
	wantTime    = "want an RFC 3339 time, such as 2035-01-31T23:59:59Z"
)

// jsonField is a member of a JSON object that decodeObject accepts.
type jsonField struct {
	name string
	dst  any    // where to decode it: a pointer
	want string // what it must be, for the error
}

// Errors of decodeObject, wrapped in *FieldError.
var (
	ErrUnknownField = errors.New("unknown field")
	ErrRepeated     = errors.New("given more than once")
)

// decodeObject decodes the JSON object b member by member into fields. An
// unknown member, a repeated one (which one would win is not ours to guess)
// and a member of the wrong type are each a *FieldError; it returns them all,
// as FieldErrors, in the order of the input. A null member leaves its field
// as it is. b must be one well-formed JSON value (json.Unmarshal checks it
// before calling an UnmarshalJSON method); anything but an object is a
// FieldRecord error.
func decodeObject(b []byte, fields []jsonField) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return &FieldError{Field: FieldRecord, Err: errors.New("want a JSON object")}
	}
	var errs FieldErrors
	seen := make(map[string]bool, len(fields))
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return &FieldError{Field: FieldRecord, Err: fmt.Errorf("malformed JSON: %w", err)}
		}
		name, _ := t.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return &FieldError{Field: FieldRecord, Err: fmt.Errorf("malformed JSON: %w", err)}
		}
		i := slices.IndexFunc(fields, func(f jsonField) bool { return f.name == name })
		switch {
		case i < 0:
			errs = append(errs, UnknownField(name, fieldNames(fields)))
		case seen[name]:
			errs = append(errs, &FieldError{Field: name, Err: ErrRepeated})
		default:
			seen[name] = true
			if err := json.Unmarshal(raw, fields[i].dst); err != nil {
				errs = append(errs, &FieldError{Field: name, Err: errors.New(fields[i].want)})
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func fieldNames(fields []jsonField) []string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	return names
}

// WithheldName is FieldLabel's label of a name that looks like an e-mail
// address.
const WithheldName = "(a name withheld: it looks like an e-mail address)"

// FieldLabel returns a field or column name that is not one of the known
// ones, fit for an error message: as is if it is a short token, else quoted
// (in ASCII) and clipped to 32 bytes; WithheldName if it looks like an
// e-mail address (a customer id given as a name), as FieldError.Message
// withholds such a value.
func FieldLabel(key string) string {
	if LooksLikeEmail(key) {
		return WithheldName
	}
	if len(key) > 0 && len(key) <= 32 {
		token := true
		for _, c := range []byte(key) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
				token = false
				break
			}
		}
		if token {
			return key
		}
	}
	if head, cut := ClipAt(key, 32); cut {
		return strconv.QuoteToASCII(head) + "…"
	}
	return strconv.QuoteToASCII(key)
}

// UnknownField is the error of a member or column named key that is none
// of known, which it lists.
func UnknownField(key string, known []string) *FieldError {
	return &FieldError{Field: FieldLabel(key), Err: fmt.Errorf("%w (the fields are %s)", ErrUnknownField, strings.Join(known, ", "))}
}

// FieldErrors is every field error of one row, in input order.
type FieldErrors []*FieldError

func (es FieldErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// Add appends fe to es unless es already names its field: one problem per
// field, the first found (a field that could not be read would otherwise
// collect problems that only repeat it).
func (es *FieldErrors) Add(fe *FieldError) {
	if !slices.ContainsFunc(*es, func(e *FieldError) bool { return e.Field == fe.Field }) {
		*es = append(*es, fe)
	}
}

// Unwrap returns the errors, for errors.Is and errors.As.
func (es FieldErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Problems merges the problems found while reading a row's fields (errs)
// with those a validation found in what was read (verr: nil, a *FieldError
// or FieldErrors), leaving out verr's for a field errs already names (a
// field that could not be read is empty, and "required" would only repeat
// the first problem). The result is nil, a single *FieldError or
// FieldErrors, ordered as fields (unknown fields last, problems of one
// field in the order found). Event files, consent files and the events API
// report a bad row with it, so that every problem is listed at once.
func Problems(fields []string, errs FieldErrors, verr error) error {
	var more FieldErrors
	var fe *FieldError
	switch {
	case errors.As(verr, &more):
	case errors.As(verr, &fe):
		more = FieldErrors{fe}
	}
	for _, fe := range more {
		errs.Add(fe)
	}
	order := func(e *FieldError) int {
		if i := slices.Index(fields, e.Field); i >= 0 {
			return i
		}
		return len(fields)
	}
	slices.SortStableFunc(errs, func(a, b *FieldError) int { return order(a) - order(b) })
	return errs.asError()
}

// asError returns nil for no error, the *FieldError for one, else es.
func (es FieldErrors) asError() error {
	switch len(es) {
	case 0:
		return nil
	case 1:
		return es[0]
	}
	return es
}

// Catalogue limits.
const (
	MaxItemStores  = 1000
	MaxCouponValue = 64
	MaxCategoryLen = 128
)

// ErrInvalid marks catalogue validation errors.
var ErrInvalid = errors.New("invalid")

// Validate checks every field of it and returns a *FieldError for the first
// bad one.
func (it *Item) Validate() error {
	if err := ValidateKey(it.ID); err != nil {
		return &FieldError{Field: "item", Value: clip(it.ID), Err: err}
	}
	if it.Category != "" {
		if err := ValidateKey(it.Category); errors.Is(err, ErrEmailLike) {
			return &FieldError{Field: "category", Value: clip(it.Category), Err: err}
		} else if err != nil || len(it.Category) > MaxCategoryLen {
			return &FieldError{Field: "category", Value: clip(it.Category), Err: fmt.Errorf("%w: 1-%d bytes of UTF-8 without control characters", ErrInvalid, MaxCategoryLen)}
		}
	}
	return validateStores(it.Stores)
}

func validateStores(stores []string) error {
	if len(stores) > MaxItemStores {
		return &FieldError{Field: "stores", Err: fmt.Errorf("%w: more than %d stores", ErrInvalid, MaxItemStores)}
	}
	for i, s := range stores {
		if err := ValidateKey(s); err != nil {
			return &FieldError{Field: fmt.Sprintf("stores[%d]", i), Value: clip(s), Err: err}
		}
	}
	return nil
}

// Validate checks every field of c and returns a *FieldError for the first
// bad one.
func (c *Coupon) Validate() error {
	if err := ValidateKey(c.ID); err != nil {
		return &FieldError{Field: "coupon", Value: clip(c.ID), Err: err}
	}
	if err := ValidateKey(c.Item); err != nil {
		return &FieldError{Field: "item", Value: clip(c.Item), Err: err}
	}
	if len(c.Stores) == 0 {
		return &FieldError{Field: "stores", Err: ErrMissing}
	}
	if err := validateStores(c.Stores); err != nil {
		return err
	}
	if c.Value == "" || len(c.Value) > MaxCouponValue {
		return &FieldError{Field: "value", Value: clip(c.Value), Err: fmt.Errorf("%w: 1-%d bytes", ErrInvalid, MaxCouponValue)}
	}
	if err := privacy.ValidateID(c.Value); err != nil {
		return &FieldError{Field: "value", Value: clip(c.Value), Err: err}
	}
	if c.ValidFrom.IsZero() || c.ValidUntil.IsZero() {
		return &FieldError{Field: "valid_until", Err: fmt.Errorf("%w: valid_from and valid_until are required", ErrMissing)}
	}
	if !c.ValidUntil.After(c.ValidFrom) {
		return &FieldError{Field: "valid_until", Value: c.ValidUntil.Format(time.RFC3339), Err: fmt.Errorf("%w: must be after valid_from", ErrInvalid)}
	}
	return nil
}

// ValidAt reports whether c can be offered at t in store s.
func (c *Coupon) ValidAt(t time.Time, s string) bool {
	if !c.Active || t.Before(c.ValidFrom) || !t.Before(c.ValidUntil) {
		return false
	}
	for _, cs := range c.Stores {
		if cs == s {
			return true
		}
	}
	return false
}
