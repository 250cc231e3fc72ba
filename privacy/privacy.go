// Package privacy is Discret's privacy vocabulary: raw customer identifiers
// that cannot leak, their pseudonyms, the purposes a customer consents to and
// the kinds of events whose retention is bounded.
//
// # Threat model
//
// Discret holds behavioural data about identifiable people. The rules that the
// packages under privacy/ enforce, and that the rest of the tree relies on:
//
//   - A raw customer identifier (CustomerID) exists only in memory, between the
//     request or file that carries it and privacy/pseudonym, which turns it into
//     a PseudoID with a keyed HMAC. CustomerID prints, logs and encodes as
//     "[redacted customer id]"; only packages under privacy/ can read it.
//   - Only PseudoIDs are stored. The HMAC key is derived from a master secret
//     (privacy/secret) that is never stored beside the data.
//   - Nothing is stored about a customer without the consent the purpose needs
//     (privacy/consent); withdrawal of personalization consent erases.
//   - Every stored event expires (privacy/retention).
//   - Released models are differentially private at the user level
//     (privacy/dp): item embeddings and popularity counts carry calibrated
//     noise and an (ε, δ) statement.
package privacy

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/discret-io/discret/privacy/internal/rawid"
)

// MaxIDLen is the longest customer, item or store identifier accepted, in bytes.
const MaxIDLen = 256

// MaxClockSkew is how far ahead of the recording clock an event or a
// consent change may be dated. Clocks of the channels that send them
// differ by seconds or minutes, not more; and a later date would give an
// event a retention period counted from the future, and a consent change
// precedence over a withdrawal recorded after it.
const MaxClockSkew = 5 * time.Minute

// CustomerID is a raw customer identifier. See rawid.CustomerID: it redacts
// itself wherever it is printed, logged or encoded.
type CustomerID = rawid.CustomerID

// Errors returned when parsing identifiers.
var (
	ErrEmptyID     = errors.New("privacy: empty identifier")
	ErrLongID      = fmt.Errorf("privacy: identifier longer than %d bytes", MaxIDLen)
	ErrNotUTF8     = errors.New("privacy: identifier is not valid UTF-8")
	ErrControlChar = errors.New("privacy: identifier contains a control character")
	ErrBadPseudo   = errors.New("privacy: malformed pseudonym")
)

// ParseCustomerID validates a raw customer identifier: 1 to MaxIDLen bytes of
// valid UTF-8. The error never contains the identifier.
func ParseCustomerID(s string) (CustomerID, error) {
	if err := ValidateID(s); err != nil {
		return CustomerID{}, err
	}
	return rawid.Make(s), nil
}

// ValidateID checks an identifier (customer, item or store): 1 to MaxIDLen
// bytes of valid UTF-8 without control characters.
func ValidateID(s string) error {
	switch {
	case s == "":
		return ErrEmptyID
	case len(s) > MaxIDLen:
		return ErrLongID
	case !utf8.ValidString(s):
		return ErrNotUTF8
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return ErrControlChar
		}
	}
	return nil
}

// PseudoIDSize is the length of a pseudonym in bytes (a truncated HMAC-SHA256).
const PseudoIDSize = 16

// PseudoID is the pseudonym of a customer: the first 16 bytes of
// HMAC-SHA256(key, raw id). It is what Discret stores and indexes.
type PseudoID [PseudoIDSize]byte

// String returns the pseudonym in lower-case hex.
func (p PseudoID) String() string { return hex.EncodeToString(p[:]) }

// IsZero reports whether p is the zero pseudonym.
func (p PseudoID) IsZero() bool { return p == PseudoID{} }

// ParsePseudoID parses the hex form returned by String.
func ParsePseudoID(s string) (PseudoID, error) {
	var p PseudoID
	if len(s) != 2*PseudoIDSize {
		return p, ErrBadPseudo
	}
	if _, err := hex.Decode(p[:], []byte(s)); err != nil {
		return p, ErrBadPseudo
	}
	return p, nil
}

// Purpose is a use of a customer's data that needs their consent.
type Purpose uint8

// Purposes a customer can consent to.
const (
	// Personalization: use my purchase and visit history to train models and
	// personalize my recommendations.
	Personalization Purpose = iota + 1
	// InStore: recognize my store visits and offer me coupons.
	InStore
)

// Purposes lists every purpose, in a stable order.
var Purposes = []Purpose{Personalization, InStore}

// String returns the purpose's wire name ("personalization", "in_store").
func (p Purpose) String() string {
	switch p {
	case Personalization:
		return "personalization"
	case InStore:
		return "in_store"
	}
	return fmt.Sprintf("purpose(%d)", uint8(p))
}

// MarshalText encodes p as its wire name, so that JSON says
// "personalization", not 1.
func (p Purpose) MarshalText() ([]byte, error) {
	if p != Personalization && p != InStore {
		return nil, fmt.Errorf("privacy: unknown purpose %d", uint8(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText decodes a wire name (ParsePurpose).
func (p *Purpose) UnmarshalText(b []byte) error {
	v, err := ParsePurpose(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// ParsePurpose parses a wire name.
func ParsePurpose(s string) (Purpose, error) {
	for _, p := range Purposes {
		if p.String() == s {
			return p, nil
		}
	}
	return 0, fmt.Errorf("privacy: unknown purpose %q (want personalization or in_store)", s)
}

// EventKind is the type of a customer event. Retention periods and the consent
// an event needs depend on it.
type EventKind uint8

// Event kinds.
const (
	View EventKind = iota + 1
	AddToCart
	Purchase
	StoreVisit
)

// EventKinds lists every kind, in a stable order.
var EventKinds = []EventKind{View, AddToCart, Purchase, StoreVisit}

// String returns the wire name ("view", "add_to_cart", "purchase", "store_visit").
func (k EventKind) String() string {
	switch k {
	case View:
		return "view"
	case AddToCart:
		return "add_to_cart"
	case Purchase:
		return "purchase"
	case StoreVisit:
		return "store_visit"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseEventKind parses a wire name.
func ParseEventKind(s string) (EventKind, error) {
	for _, k := range EventKinds {
		if k.String() == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("privacy: unknown event type %q (want view, add_to_cart, purchase or store_visit)", s)
}

// Valid reports whether k is one of EventKinds.
func (k EventKind) Valid() bool { return k >= View && k <= StoreVisit }

// Needs returns the purposes a customer must consent to before an event of
// kind k about them may be stored: personalization always, and in_store too
// for store visits.
func (k EventKind) Needs() []Purpose {
	if k == StoreVisit {
		return []Purpose{Personalization, InStore}
	}
	return []Purpose{Personalization}
}
