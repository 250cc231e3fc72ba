// Package rawid holds the raw customer identifier type. It lives in an
// internal package so that only code under privacy/ can read the raw value:
// everything else sees privacy.CustomerID, whose only way out is the keyed
// pseudonymization in privacy/pseudonym.
package rawid

import (
	"fmt"
	"io"
	"log/slog"
)

// Redacted is what a CustomerID prints as, whatever the verb or encoder.
const Redacted = "[redacted customer id]"

// CustomerID is a raw customer identifier as the retailer knows it (an e-mail
// address, a loyalty card number). It redacts itself in fmt, slog, JSON and
// text encodings.
type CustomerID struct{ s string }

// Make wraps s without validation; privacy.ParseCustomerID validates.
func Make(s string) CustomerID { return CustomerID{s: s} }

// Reveal returns the raw value. Only the privacy packages can call it.
func Reveal(c CustomerID) string { return c.s }

// IsZero reports whether c holds no identifier.
func (c CustomerID) IsZero() bool { return c.s == "" }

// String implements fmt.Stringer and always returns Redacted.
func (CustomerID) String() string { return Redacted }

// GoString implements fmt.GoStringer and always returns Redacted.
func (CustomerID) GoString() string { return Redacted }

// Format implements fmt.Formatter so that every verb (%v, %+v, %#v, %s, %q,
// %x, ...) prints Redacted.
func (CustomerID) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, Redacted) }

// LogValue implements slog.LogValuer.
func (CustomerID) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalText implements encoding.TextMarshaler (and so JSON) with Redacted.
func (CustomerID) MarshalText() ([]byte, error) { return []byte(Redacted), nil }
