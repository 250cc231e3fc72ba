package features

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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

// UnmarshalJSON decodes an item strictly (unknown fields are errors); an
// absent "active" field means true, so that a catalogue file need not repeat
// it for every item on sale.
func (it *Item) UnmarshalJSON(b []byte) error {
	type plain Item
	p := plain{Active: true}
	if err := strictJSON(b, &p); err != nil {
		return err
	}
	*it = Item(p)
	return nil
}

// UnmarshalJSON decodes a coupon strictly; an absent "active" field means
// true.
func (c *Coupon) UnmarshalJSON(b []byte) error {
	type plain Coupon
	p := plain{Active: true}
	if err := strictJSON(b, &p); err != nil {
		return err
	}
	*c = Coupon(p)
	return nil
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
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
	if err := privacy.ValidateID(it.ID); err != nil {
		return &FieldError{Field: "item", Value: clip(it.ID), Err: err}
	}
	if it.Category != "" {
		if err := privacy.ValidateID(it.Category); err != nil || len(it.Category) > MaxCategoryLen {
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
		if err := privacy.ValidateID(s); err != nil {
			return &FieldError{Field: fmt.Sprintf("stores[%d]", i), Value: clip(s), Err: err}
		}
	}
	return nil
}

// Validate checks every field of c and returns a *FieldError for the first
// bad one.
func (c *Coupon) Validate() error {
	if err := privacy.ValidateID(c.ID); err != nil {
		return &FieldError{Field: "coupon", Value: clip(c.ID), Err: err}
	}
	if err := privacy.ValidateID(c.Item); err != nil {
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
