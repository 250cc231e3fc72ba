package store

// Value codecs. Every value starts with a version byte, so that a later
// release can change an encoding and still read what this one wrote.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

const (
	valueV1 byte = 1
	valueV2 byte = 2
)

// ErrCorrupt is returned when a stored value cannot be decoded.
var ErrCorrupt = errors.New("store: corrupt value")

// Event value: v1 | uvarint quantity.

func appendEventValue(dst []byte, quantity uint32) []byte {
	dst = append(dst, valueV1)
	return binary.AppendUvarint(dst, uint64(quantity))
}

func decodeEventValue(v []byte) (uint32, error) {
	if len(v) < 2 || v[0] != valueV1 {
		return 0, fmt.Errorf("%w: event", ErrCorrupt)
	}
	q, n := binary.Uvarint(v[1:])
	if n <= 0 || 1+n != len(v) || q < 1 || q > features.MaxQuantity {
		return 0, fmt.Errorf("%w: event", ErrCorrupt)
	}
	return uint32(q), nil
}

// Consent record value:
//
//	v1 | uvarint n | n × (purpose(1) | granted(1) | varint unix seconds |
//	                      uvarint nanoseconds | uvarint len | source)
//	v2 | varint erased-at unix seconds | the same as v1 after its version
//
// v2 is the record of a customer erased before (consent.Record.ErasedAt);
// v1, of one never erased. Times decode in UTC.

func encodeConsent(r consent.Record) []byte {
	b := make([]byte, 0, 12+len(r.Changes)*24)
	if r.ErasedAt.IsZero() {
		b = append(b, valueV1)
	} else {
		b = append(b, valueV2)
		b = binary.AppendVarint(b, r.ErasedAt.Unix())
	}
	b = binary.AppendUvarint(b, uint64(len(r.Changes)))
	for _, c := range r.Changes {
		g := byte(0)
		if c.Granted {
			g = 1
		}
		b = append(b, byte(c.Purpose), g)
		b = binary.AppendVarint(b, c.Time.Unix())
		b = binary.AppendUvarint(b, uint64(c.Time.Nanosecond()))
		b = binary.AppendUvarint(b, uint64(len(c.Source)))
		b = append(b, c.Source...)
	}
	return b
}

var errBadConsent = fmt.Errorf("%w: consent record", ErrCorrupt)

// consentHeader decodes what precedes the changes of consent record v: the
// erasure time (zero if never erased) and the number of changes; rest is
// the changes.
func consentHeader(v []byte) (erasedAt time.Time, n uint64, rest []byte, err error) {
	if len(v) < 2 || v[0] != valueV1 && v[0] != valueV2 {
		return time.Time{}, 0, nil, errBadConsent
	}
	version := v[0]
	v = v[1:]
	if version == valueV2 {
		sec, k := binary.Varint(v)
		if k <= 0 || sec <= 0 || sec > maxUnixSecond {
			return time.Time{}, 0, nil, errBadConsent
		}
		erasedAt, v = time.Unix(sec, 0).UTC(), v[k:]
	}
	n, k := binary.Uvarint(v)
	// Each change takes at least 5 bytes, which bounds n before allocating.
	if k <= 0 || n > uint64(len(v)-k)/5 {
		return time.Time{}, 0, nil, errBadConsent
	}
	return erasedAt, n, v[k:], nil
}

// maxUnixSecond is the last second of year 9999, the latest time the store
// keeps.
var maxUnixSecond = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()

// Time value: v1 | varint unix seconds, after 1970 and at most maxUnixSecond.
// It holds an erasure record (erased.go) and the time of the last Compact.
// Times decode in UTC.

func encodeSeconds(t time.Time) []byte {
	return binary.AppendVarint([]byte{valueV1}, t.Unix())
}

// decodeSeconds decodes time value v, or returns bad.
func decodeSeconds(v []byte, bad error) (time.Time, error) {
	t, rest, err := splitSeconds(v, bad)
	if err == nil && len(rest) > 0 {
		return time.Time{}, bad
	}
	return t, err
}

// splitSeconds decodes the time value that starts v, and returns what
// follows it; or returns bad.
func splitSeconds(v []byte, bad error) (time.Time, []byte, error) {
	if len(v) < 2 || v[0] != valueV1 {
		return time.Time{}, nil, bad
	}
	sec, k := binary.Varint(v[1:])
	if k <= 0 || sec <= 0 || sec > maxUnixSecond {
		return time.Time{}, nil, bad
	}
	return time.Unix(sec, 0).UTC(), v[1+k:], nil
}

// Settings value: a time value (when they were recorded) followed by the
// caller's bytes (settings.go).

func encodeSettings(t time.Time, raw []byte) []byte { return append(encodeSeconds(t), raw...) }

// getSeconds returns the time value under key, zero if there is none, or
// bad if it cannot be decoded.
func getSeconds(txn *badger.Txn, key []byte, bad error) (time.Time, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	var t time.Time
	err = item.Value(func(v []byte) error {
		t, err = decodeSeconds(v, bad)
		return err
	})
	return t, err
}

func decodeConsent(v []byte) (consent.Record, error) {
	bad := errBadConsent
	erasedAt, n, v, err := consentHeader(v)
	if err != nil {
		return consent.Record{}, err
	}
	r := consent.Record{Changes: make([]consent.Change, 0, n), ErasedAt: erasedAt}
	for range n {
		if len(v) < 2 {
			return consent.Record{}, bad
		}
		p, g := privacy.Purpose(v[0]), v[1]
		if p != privacy.Personalization && p != privacy.InStore || g > 1 {
			return consent.Record{}, bad
		}
		v = v[2:]
		sec, k := binary.Varint(v)
		if k <= 0 {
			return consent.Record{}, bad
		}
		v = v[k:]
		ns, k := binary.Uvarint(v)
		if k <= 0 || ns >= 1e9 {
			return consent.Record{}, bad
		}
		v = v[k:]
		sl, k := binary.Uvarint(v)
		if k <= 0 || sl > uint64(len(v)-k) {
			return consent.Record{}, bad
		}
		v = v[k:]
		r.Changes = append(r.Changes, consent.Change{
			Purpose: p,
			Granted: g == 1,
			Time:    time.Unix(sec, int64(ns)).UTC(),
			Source:  string(v[:sl]),
		})
		v = v[sl:]
	}
	if len(v) != 0 {
		return consent.Record{}, bad
	}
	return r, nil
}

// consentDecision returns the decision of the encoded consent record v
// without decoding it into a consent.Record: for each purpose, the decision
// of the change that consent.Record.Latest would pick (the latest time, to
// the second; of equal seconds, a withdrawal; none dated at or before the
// erasure), and the erasure. FuzzConsentValue checks that it agrees with
// consent.Defaults.Allows on the decoded record.
func consentDecision(v []byte) (decision, error) {
	erasedAt, n, v, err := consentHeader(v)
	if err != nil {
		return decision{}, err
	}
	dc := erasedDecision(erasedAt)
	type change struct {
		found, granted bool
		sec            int64
	}
	var latest [3]change
	for range n {
		if len(v) < 2 {
			return decision{}, errBadConsent
		}
		p, g := privacy.Purpose(v[0]), v[1]
		if p != privacy.Personalization && p != privacy.InStore || g > 1 {
			return decision{}, errBadConsent
		}
		v = v[2:]
		sec, k := binary.Varint(v)
		if k <= 0 {
			return decision{}, errBadConsent
		}
		v = v[k:]
		ns, k := binary.Uvarint(v)
		if k <= 0 || ns >= 1e9 {
			return decision{}, errBadConsent
		}
		v = v[k:]
		sl, k := binary.Uvarint(v)
		if k <= 0 || sl > uint64(len(v)-k) {
			return decision{}, errBadConsent
		}
		v = v[k+int(sl):]
		if dc.predatesSecond(sec) {
			continue
		}
		if b := latest[p]; !b.found || sec > b.sec || sec == b.sec && (g == 0 || b.granted) {
			latest[p] = change{found: true, granted: g == 1, sec: sec}
		}
	}
	if len(v) != 0 {
		return decision{}, errBadConsent
	}
	for _, p := range privacy.Purposes {
		if c := latest[p]; c.found {
			dc.set(p, c.granted)
		}
	}
	return dc, nil
}

// kindSet is a set of event kinds: bit k for privacy.EventKind k.
type kindSet uint8

func (s kindSet) has(k privacy.EventKind) bool { return k < 8 && s&(1<<k) != 0 }

func (s *kindSet) add(k privacy.EventKind) { *s |= 1 << k }

// allKinds holds every valid kind.
var allKinds = func() kindSet {
	var s kindSet
	for _, k := range privacy.EventKinds {
		s.add(k)
	}
	return s
}()

// scope is what an erasure removes of one customer: the events of some kinds
// and, if others is set, every customer table other than consent and events.
type scope struct {
	kinds  kindSet
	others bool
}

// scopeAll is the scope of Forget and of a withdrawal of personalization
// consent: everything but the consent record.
var scopeAll = scope{kinds: allKinds, others: true}

func (s scope) empty() bool { return s.kinds == 0 && !s.others }

func (s scope) union(o scope) scope {
	return scope{kinds: s.kinds | o.kinds, others: s.others || o.others}
}

// Erasure marker value: v1 | flags (bit 0: others) | kinds, never empty.

func encodeMarker(s scope) []byte {
	f := byte(0)
	if s.others {
		f = 1
	}
	return []byte{valueV1, f, byte(s.kinds)}
}

func decodeMarker(v []byte) (scope, error) {
	if len(v) != 3 || v[0] != valueV1 || v[1] > 1 || kindSet(v[2])&^allKinds != 0 {
		return scope{}, fmt.Errorf("%w: erasure marker", ErrCorrupt)
	}
	s := scope{others: v[1] == 1, kinds: kindSet(v[2])}
	if s.empty() { // never written: a marker always has something to erase
		return scope{}, fmt.Errorf("%w: erasure marker", ErrCorrupt)
	}
	return s, nil
}

// Counter value: 8 bytes big-endian (no version byte: it is a plain number).

func decodeCounter(v []byte) (uint64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: counter", ErrCorrupt)
	}
	return binary.BigEndian.Uint64(v), nil
}
