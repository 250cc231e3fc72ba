package store

// This file is the key schema: every key the store writes is built and parsed
// here, and nowhere else.
//
// A key starts with a one-byte table tag. Customer tables put the 16-byte
// pseudonym right after the tag, so that everything held about a customer is
// found (for Export) and removed (for Forget) by prefix scans, one per table.
// Integers are fixed-width big-endian so that byte order is numeric order; in
// the notation below "|" is plain concatenation, not a separator byte.
//
//	Customer tables (listed in customerTables):
//	  c | pseudo(16)                                               consent record
//	  e | pseudo(16) | time(8) | kind(1) | item | 0x00 | store     event
//	  f | pseudo(16) | time(8) | store | 0x00 | coupon            coupon push (pushes.go)
//	Internal, keyed by customer but not customer data:
//	  x | pseudo(16)                                               erasure pending
//	  r | erased(16)                                               erasure record (erased.go)
//	  t | time(8) | seq(4)                                         audit entry (audit.go); names a
//	                                                               customer by a one-way hash only
//	Global tables (no customer data):
//	  a | name | 0x00 | day(4)                                     aggregate counter
//	  i | item                                                     catalogue item (catalog.go)
//	  k | id                                                       API key (apikeys.go)
//	  l | time(8) | seq(4)                                         privacy ledger entry (ledger.go)
//	  n | tag(16)                                                  revoked customer token (tokens.go);
//	                                                               expires with the token
//	  m | "c"                                                      current release version
//	  m | "v" | version                                            release manifest (releases.go)
//	  m | "d" | version | 0x00 | part | 0x00 | chunk(4)            chunk of a model part
//	  o | coupon                                                   coupon (catalog.go)
//	  p | "d" | version | 0x00 | part | 0x00 | chunk(4)            chunk of a popularity part
//	  g | "compacted"                                              time of the last Compact (compact.go)
//	  g | "settings"                                               settings in force (settings.go)
//	  z | "flush"                                                  scratch key (Compact)
//
// An event's identity is (customer, time, kind, item, store): re-appending the
// same event overwrites it, so importing a file twice stores it once. Its
// quantity is in the value (values.go), its expiry in Badger's ExpiresAt.
// time is Unix milliseconds with the sign bit flipped, so that keys sort by
// time; item and store cannot contain 0x00 (identifiers exclude control
// characters), so the first 0x00 ends the item.
//
// A ledger entry's time is encoded like an event's; seq orders entries of
// the same millisecond. Release versions and part names are tokens from
// [A-Za-z0-9._-], so the first 0x00 ends them. Ledger and release keys are
// built in ledger.go and releases.go, next to the protocols that use them.
//
// A coupon push records that a coupon was offered to a customer in a store
// (frequency caps, data-subject access); its expiry is the longest cap
// window. Catalogue items and coupons are keyed by their identifier alone.
//
// Reserved for tables to come (do not reuse): u (cached user vectors per
// customer). A new customer table is added to customerTables, which extends
// Forget, Export and erasure on withdrawal to it.

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/privacy"
)

// Table tags.
const (
	tagCounter byte = 'a'
	tagConsent byte = 'c'
	tagEvent   byte = 'e'
	tagPush    byte = 'f'
	tagItem    byte = 'i'
	tagCoupon  byte = 'o'
	tagAPIKey  byte = 'k'
	tagLedger  byte = 'l'
	tagModel   byte = 'm'
	tagPopular byte = 'p'
	tagErasure byte = 'x'
	tagErased  byte = 'r'
	tagScratch byte = 'z'
	tagAudit   byte = 't'
	tagMaint   byte = 'g'
	tagToken   byte = 'n'
)

// customerTable is a table whose keys start with tag | pseudo.
type customerTable struct {
	tag  byte
	name string // as reported in Removed and CustomerData
	// export adds one entry of the table to d.
	export func(d *CustomerData, key, value []byte, expiresAt uint64) error
	// erasedBy reports whether an erasure of scope s removes the entry with
	// this key. The consent table is never in a scope: Forget deletes it and
	// a withdrawal rewrites it.
	erasedBy func(s scope, key []byte) bool
}

// customerTables lists every table holding data about a customer. Forget
// removes all of them, Export reads all of them, and a withdrawal of
// personalization consent removes all but the consent record.
var customerTables = []customerTable{
	{
		tag:      tagConsent,
		name:     TableConsent,
		export:   exportConsent,
		erasedBy: func(scope, []byte) bool { return false },
	},
	{
		tag:    tagEvent,
		name:   TableEvents,
		export: exportEvent,
		erasedBy: func(s scope, key []byte) bool {
			k, ok := eventKeyKind(key)
			return !ok || s.kinds.has(k) // an undecodable key is removed too
		},
	},
	{
		tag:    tagPush,
		name:   TablePushes,
		export: exportPush,
		// Pushes exist under the consent store visits need: they go
		// whenever store visits go (withdrawal of in_store or of
		// personalization, Forget).
		erasedBy: func(s scope, _ []byte) bool { return s.others || s.kinds.has(privacy.StoreVisit) },
	},
}

// Table names, as used in Removed.
const (
	TableConsent = "consent"
	TableEvents  = "events"
	TablePushes  = "coupon_pushes"
)

const (
	pseudoEnd     = 1 + privacy.PseudoIDSize // end of tag | pseudo
	eventFixedLen = pseudoEnd + 8 + 1        // tag | pseudo | time | kind
	// maxEventKeyLen is the longest event key: both identifiers at
	// privacy.MaxIDLen.
	maxEventKeyLen = eventFixedLen + privacy.MaxIDLen + 1 + privacy.MaxIDLen
)

var errBadKey = errors.New("store: malformed key")

// customerPrefix returns tag | p.
func customerPrefix(tag byte, p privacy.PseudoID) []byte {
	k := make([]byte, pseudoEnd)
	k[0] = tag
	copy(k[1:], p[:])
	return k
}

func consentKey(p privacy.PseudoID) []byte { return customerPrefix(tagConsent, p) }
func erasureKey(p privacy.PseudoID) []byte { return customerPrefix(tagErasure, p) }

// erasedKey is the key of p's erasure record: a one-way hash of the
// pseudonym, so that the pseudonym itself leaves the disk with the rest of
// the customer's data (TestForgetLeavesNoTrace) while a later write about
// the same customer still finds the record.
func erasedKey(p privacy.PseudoID) []byte {
	sum := labelledHash(erasedLabel, p)
	key := make([]byte, 1+privacy.PseudoIDSize)
	key[0] = tagErased
	copy(key[1:], sum[:])
	return key
}

// labelledHash is SHA-256 over label and p: a one-way hash of p that no
// other label gives. Labels are at most 64 bytes; the input stays on the
// stack.
func labelledHash(label string, p privacy.PseudoID) [sha256.Size]byte {
	var in [64 + privacy.PseudoIDSize]byte
	n := copy(in[:64], label)
	n += copy(in[n:], p[:])
	return sha256.Sum256(in[:n])
}

// erasedLabel separates the hash of erasedKey from any other use of SHA-256
// over a pseudonym.
const erasedLabel = "discret/store/erased/v1\x00"

// keyPseudo returns the pseudonym of a key of a customer table (or of the
// erasure table).
func keyPseudo(key []byte) (privacy.PseudoID, bool) {
	var p privacy.PseudoID
	if len(key) < pseudoEnd {
		return p, false
	}
	copy(p[:], key[1:pseudoEnd])
	return p, true
}

// encodeTime maps a time to 8 bytes whose order is the order of times, at
// millisecond precision.
func encodeTime(b []byte, t time.Time) {
	binary.BigEndian.PutUint64(b, uint64(t.UnixMilli())^(1<<63))
}

func decodeTime(b []byte) time.Time {
	return time.UnixMilli(int64(binary.BigEndian.Uint64(b) ^ (1 << 63))).UTC()
}

// validIdent reports whether s can be part of a key: at most
// privacy.MaxIDLen bytes and no 0x00.
func validIdent(s string) bool {
	return len(s) <= privacy.MaxIDLen && !containsNUL(s)
}

func containsNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}

// appendEventKey appends the key of e to dst. It fails if e's kind is invalid
// or an identifier is too long or contains 0x00. The time is truncated to the
// millisecond.
func appendEventKey(dst []byte, e *features.Event) ([]byte, error) {
	switch {
	case !e.Kind.Valid():
		return dst, fmt.Errorf("%w: kind %d", errBadKey, e.Kind)
	case !validIdent(e.Item):
		return dst, fmt.Errorf("%w: item longer than %d bytes or containing 0x00", errBadKey, privacy.MaxIDLen)
	case !validIdent(e.Store):
		return dst, fmt.Errorf("%w: store longer than %d bytes or containing 0x00", errBadKey, privacy.MaxIDLen)
	}
	dst = append(dst, tagEvent)
	dst = append(dst, e.Customer[:]...)
	var t [8]byte
	encodeTime(t[:], e.Time)
	dst = append(dst, t[:]...)
	dst = append(dst, byte(e.Kind))
	dst = append(dst, e.Item...)
	dst = append(dst, 0)
	return append(dst, e.Store...), nil
}

// decodeEventKey parses an event key into e's Customer, Time, Kind, Item and
// Store. It accepts exactly the keys appendEventKey produces.
func decodeEventKey(key []byte, e *features.Event) error {
	if len(key) < eventFixedLen+1 || key[0] != tagEvent {
		return errBadKey
	}
	k := privacy.EventKind(key[eventFixedLen-1])
	if !k.Valid() {
		return errBadKey
	}
	rest := key[eventFixedLen:]
	i := bytes.IndexByte(rest, 0)
	if i < 0 || i > privacy.MaxIDLen {
		return errBadKey
	}
	store := rest[i+1:]
	if len(store) > privacy.MaxIDLen || bytes.IndexByte(store, 0) >= 0 {
		return errBadKey
	}
	copy(e.Customer[:], key[1:pseudoEnd])
	e.Time = decodeTime(key[pseudoEnd:])
	e.Kind = k
	e.Item = string(rest[:i])
	e.Store = string(store)
	return nil
}

// eventKeyKind returns the kind of an event key without decoding the rest.
func eventKeyKind(key []byte) (privacy.EventKind, bool) {
	if len(key) < eventFixedLen+1 || key[0] != tagEvent {
		return 0, false
	}
	k := privacy.EventKind(key[eventFixedLen-1])
	return k, k.Valid()
}

// eventKeyTime returns the time of an event key without decoding the rest.
func eventKeyTime(key []byte) (time.Time, bool) {
	if len(key) < eventFixedLen+1 || key[0] != tagEvent {
		return time.Time{}, false
	}
	return decodeTime(key[pseudoEnd:]), true
}

// Counter names.
const maxCounterNameLen = 64

// validCounterName reports whether s is a counter name: 1 to 64 bytes from
// [a-z0-9._:-]. Names are tokens, never free text, so that no personal data
// can end up in a counter.
func validCounterName(s string) bool {
	if s == "" || len(s) > maxCounterNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == ':' || b == '-') {
			return false
		}
	}
	return true
}

// counterKey returns a | name | 0x00 | day. The name must be valid.
func counterKey(c CounterKey) []byte {
	k := make([]byte, 0, 1+len(c.Name)+1+4)
	k = append(k, tagCounter)
	k = append(k, c.Name...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint32(k, uint32(c.Day)^(1<<31))
}

// decodeCounterKey parses a counter key. It accepts exactly the keys
// counterKey produces for valid names.
func decodeCounterKey(key []byte) (CounterKey, error) {
	if len(key) < 1+1+1+4 || key[0] != tagCounter {
		return CounterKey{}, errBadKey
	}
	name := key[1 : len(key)-5]
	if key[len(key)-5] != 0 || !validCounterName(string(name)) {
		return CounterKey{}, errBadKey
	}
	day := Day(int32(binary.BigEndian.Uint32(key[len(key)-4:]) ^ (1 << 31)))
	return CounterKey{Name: string(name), Day: day}, nil
}

// scratchKey is written and dropped by Compact to flush the memtables.
var scratchKey = []byte{tagScratch, 'f', 'l', 'u', 's', 'h'}

// compactedKey holds the time of the last successful Compact, a time value
// (values.go).
var compactedKey = []byte{tagMaint, 'c', 'o', 'm', 'p', 'a', 'c', 't', 'e', 'd'}
