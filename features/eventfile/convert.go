package eventfile

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/privacy"
)

// The conversions below are features.ParseCustomer, ParseKind, ParseTime and
// ParseQuantity on byte slices, with fast paths that avoid allocating for the
// common forms and fall back to the features functions for everything else,
// so that results and errors are exactly theirs (checked by FuzzFastPaths).

// maxInterned bounds the number of distinct item and store identifiers a
// decoder keeps for reuse.
const maxInterned = 1 << 16

// builder converts field bytes into event fields, reusing the strings of
// recurring identifiers.
type builder struct {
	lastCust []byte // raw bytes of cust
	cust     privacy.CustomerID
	interned map[string]string
}

// customer parses a customer identifier. Rows of the same customer often
// follow each other: the last one is reused.
func (b *builder) customer(v []byte) (privacy.CustomerID, error) {
	if !b.cust.IsZero() && bytes.Equal(v, b.lastCust) {
		return b.cust, nil
	}
	c, err := features.ParseCustomer(string(v))
	if err != nil {
		return c, err
	}
	b.cust, b.lastCust = c, append(b.lastCust[:0], v...)
	return c, nil
}

// jsonCustomer parses a customer field: a string (absent is refused as
// empty). A value of another type is not echoed: it may be the identifier.
func (b *builder) jsonCustomer(v jsonValue) (privacy.CustomerID, error) {
	if v.kind != jsonString && v.kind != jsonAbsent {
		return privacy.CustomerID{}, &features.FieldError{Field: features.FieldCustomer, Err: fmt.Errorf("%w: want a string", ErrJSONType)}
	}
	return b.customer(v.b)
}

// jsonTime parses a time field: a string as parseTime reads it, or a JSON
// integer of Unix seconds or milliseconds.
func jsonTime(v jsonValue) (time.Time, error) {
	switch v.kind {
	case jsonString, jsonAbsent:
		return parseTime(v.b)
	case jsonNumber:
		if bytes.ContainsAny(v.b, ".eE") {
			return time.Time{}, &features.FieldError{Field: features.FieldTime, Value: clip(v.b), Err: features.ErrTime}
		}
		return parseTime(v.b)
	}
	return time.Time{}, typeErr(features.FieldTime, "a string or an integer", v)
}

// id returns v as a string, shared with earlier equal identifiers.
func (b *builder) id(v []byte) string {
	if len(v) == 0 {
		return ""
	}
	if s, ok := b.interned[string(v)]; ok {
		return s
	}
	s := string(v)
	if len(v) <= privacy.MaxIDLen && len(b.interned) < maxInterned {
		if b.interned == nil {
			b.interned = make(map[string]string)
		}
		b.interned[s] = s
	}
	return s
}

// kind parses an event type.
func kind(v []byte) (privacy.EventKind, error) {
	switch string(v) {
	case "view":
		return privacy.View, nil
	case "add_to_cart":
		return privacy.AddToCart, nil
	case "purchase":
		return privacy.Purchase, nil
	case "store_visit":
		return privacy.StoreVisit, nil
	}
	return features.ParseKind(string(v))
}

// quantity parses a quantity; empty means 1.
func quantity(v []byte) (uint32, error) {
	if n, ok := smallUint(v, 7); ok && n >= 1 && n <= features.MaxQuantity {
		return uint32(n), nil
	}
	return features.ParseQuantity(string(v))
}

// parseTime parses an event time as features.ParseTime does.
func parseTime(v []byte) (time.Time, error) {
	if n, ok := smallUint(v, 18); ok {
		if n < 1e11 {
			return time.Unix(int64(n), 0).UTC(), nil
		}
		if n <= math.MaxInt64/uint64(time.Millisecond) {
			return time.UnixMilli(int64(n)).UTC(), nil
		}
	}
	if t, ok := rfc3339(v); ok {
		return t, nil
	}
	return features.ParseTime(string(v))
}

// smallUint parses 1 to maxDigits decimal digits.
func smallUint(v []byte, maxDigits int) (uint64, bool) {
	if len(v) == 0 || len(v) > maxDigits {
		return 0, false
	}
	var n uint64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// rfc3339 parses the forms of RFC 3339 that time.Parse reads in its fast path
// ("2006-01-02T15:04:05", optional fraction, then "Z" or "±07:00") and
// returns the time in UTC truncated to the millisecond, as
// features.ParseTime does. It reports false for anything else, which the
// caller hands to features.ParseTime.
func rfc3339(v []byte) (time.Time, bool) {
	if len(v) < len("2006-01-02T15:04:05Z") ||
		v[4] != '-' || v[7] != '-' || v[10] != 'T' || v[13] != ':' || v[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := smallUint(v[0:4], 4)
	month, ok2 := smallUint(v[5:7], 2)
	day, ok3 := smallUint(v[8:10], 2)
	hour, ok4 := smallUint(v[11:13], 2)
	minute, ok5 := smallUint(v[14:16], 2)
	sec, ok6 := smallUint(v[17:19], 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 ||
		day < 1 || day > uint64(daysIn(int(month), int(year))) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	rest := v[19:]
	var nsec int
	if len(rest) >= 2 && rest[0] == '.' && rest[1] >= '0' && rest[1] <= '9' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		// Nanoseconds from the first nine digits, as time.Parse does.
		scale := 100_000_000
		for k := 1; k < n && k <= 9; k++ {
			nsec += int(rest[k]-'0') * scale
			scale /= 10
		}
		rest = rest[n:]
	}
	var offset int
	switch {
	case len(rest) == 1 && rest[0] == 'Z':
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := smallUint(rest[1:3], 2)
		om, ok2 := smallUint(rest[4:6], 2)
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		offset = int(oh*3600 + om*60)
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	t := time.Date(int(year), time.Month(month), int(day), int(hour), int(minute), int(sec), nsec, time.UTC)
	return t.Add(-time.Duration(offset) * time.Second).Truncate(time.Millisecond), true
}

// daysIn returns the number of days in a month of the proleptic Gregorian
// calendar.
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// Errors of the dataset formats' own fields.
var (
	errUnixSeconds = errors.New("want Unix seconds")
	errUnixMillis  = errors.New("want Unix milliseconds")
	errInteger     = errors.New("want an integer")
)

// unixTime parses a non-negative integer number of seconds (scale
// time.Second) or milliseconds (time.Millisecond).
func unixTime(v []byte, scale time.Duration) (time.Time, error) {
	v = bytes.TrimSpace(v)
	if n, ok := smallUint(v, 15); ok {
		if scale == time.Millisecond {
			return time.UnixMilli(int64(n)).UTC(), nil
		}
		return time.Unix(int64(n), 0).UTC(), nil
	}
	err := errUnixSeconds
	if scale == time.Millisecond {
		err = errUnixMillis
	}
	if len(v) == 0 {
		err = features.ErrMissing
	}
	return time.Time{}, &features.FieldError{Field: features.FieldTime, Value: clip(v), Err: err}
}

// clip returns a value fit for an error message: at most 64 bytes, cut at a
// rune boundary.
func clip(v []byte) string { return features.Clip(string(v), 64) }

// recordErr is an error about a whole row.
func recordErr(err error) error {
	return &features.FieldError{Field: FieldRecord, Err: err}
}

// fieldCountErr reports a row with got columns where the header has want.
func fieldCountErr(got, want int) error {
	return recordErr(fmt.Errorf("%w: %d, want %d", ErrFieldCount, got, want))
}

// signedInt parses an optionally negative decimal integer.
func signedInt(v []byte) (int64, bool) {
	neg := len(v) > 0 && v[0] == '-'
	if neg {
		v = v[1:]
	}
	n, ok := smallUint(v, 15)
	if !ok {
		return 0, false
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}
