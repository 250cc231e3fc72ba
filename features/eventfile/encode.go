package eventfile

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

// Row is an event as a writer knows it, with the customer as a plain string:
// privacy.CustomerID cannot be read back outside privacy/, so encoders take
// strings.
type Row struct {
	Customer string
	Item     string // empty for store visits
	Kind     privacy.EventKind
	Store    string // empty means online
	Time     time.Time
	Quantity uint32
}

// ConsentRow is a consent change as a writer knows it.
type ConsentRow struct {
	Customer string
	Purpose  privacy.Purpose
	Granted  bool
	Time     time.Time
	Source   string
}

// Encoder writes events in the discret (JSON Lines) or csv format. It
// buffers: call Flush at the end. Not safe for concurrent use.
type Encoder struct {
	w   *bufio.Writer
	csv bool
	buf []byte
}

// NewEncoder returns an Encoder writing format f (Discret or CSV) to w. For
// CSV it writes the header row first.
func NewEncoder(w io.Writer, f Format) (*Encoder, error) {
	if f != Discret && f != CSV {
		return nil, fmt.Errorf("eventfile: cannot encode %q (want %s or %s)", f, Discret, CSV)
	}
	e := &Encoder{w: bufio.NewWriterSize(w, 64<<10), csv: f == CSV}
	if e.csv {
		e.w.WriteString(strings.Join(features.Fields, ",") + "\n")
	}
	return e, nil
}

// Encode validates r as Read would and writes it. Times are written in UTC
// with millisecond precision; an empty store and a quantity of 1 are left
// out of JSON lines. The error never contains r.Customer.
func (e *Encoder) Encode(r Row) error {
	c, err := features.ParseCustomer(r.Customer)
	if err != nil {
		return fmt.Errorf("eventfile: encode: %w", err)
	}
	ev := features.RawEvent{Customer: c, Item: r.Item, Kind: r.Kind, Store: r.Store, Time: r.Time, Quantity: r.Quantity}
	if err := ev.Validate(); err != nil {
		return fmt.Errorf("eventfile: encode: %w", err)
	}
	t := r.Time.UTC()
	b := e.buf[:0]
	if e.csv {
		b = appendCSV(b, r.Customer)
		b = append(b, ',')
		b = appendCSV(b, r.Item)
		b = append(b, ',')
		b = append(b, r.Kind.String()...)
		b = append(b, ',')
		b = appendCSV(b, r.Store)
		b = append(b, ',')
		b = appendTime(b, t)
		b = append(b, ',')
		b = strconv.AppendUint(b, uint64(r.Quantity), 10)
	} else {
		b = append(b, `{"customer":`...)
		b = appendJSON(b, r.Customer)
		if r.Item != "" {
			b = append(b, `,"item":`...)
			b = appendJSON(b, r.Item)
		}
		b = append(b, `,"type":"`...)
		b = append(b, r.Kind.String()...)
		b = append(b, '"')
		if r.Store != "" {
			b = append(b, `,"store":`...)
			b = appendJSON(b, r.Store)
		}
		b = append(b, `,"time":"`...)
		b = appendTime(b, t)
		b = append(b, '"')
		if r.Quantity != 1 {
			b = append(b, `,"quantity":`...)
			b = strconv.AppendUint(b, uint64(r.Quantity), 10)
		}
		b = append(b, '}')
	}
	b = append(b, '\n')
	e.buf = b
	if _, err := e.w.Write(b); err != nil {
		return fmt.Errorf("eventfile: encode: %w", err)
	}
	return nil
}

// Flush writes buffered lines to the underlying writer.
func (e *Encoder) Flush() error {
	if err := e.w.Flush(); err != nil {
		return fmt.Errorf("eventfile: flush: %w", err)
	}
	return nil
}

// ConsentEncoder writes consent changes in JSON Lines (format Discret) or
// CSV, as read by ReadConsent. It buffers: call Flush at the end.
type ConsentEncoder struct {
	w   *bufio.Writer
	csv bool
	buf []byte
}

// NewConsentEncoder returns a ConsentEncoder writing format f (Discret or
// CSV) to w. For CSV it writes the header row first.
func NewConsentEncoder(w io.Writer, f Format) (*ConsentEncoder, error) {
	if f != Discret && f != CSV {
		return nil, fmt.Errorf("eventfile: cannot encode consent as %q (want %s or %s)", f, Discret, CSV)
	}
	e := &ConsentEncoder{w: bufio.NewWriterSize(w, 64<<10), csv: f == CSV}
	if e.csv {
		e.w.WriteString(strings.Join(ConsentFields, ",") + "\n")
	}
	return e, nil
}

// Encode validates r as ReadConsent would and writes it. The error never
// contains r.Customer.
func (e *ConsentEncoder) Encode(r ConsentRow) error {
	if _, err := features.ParseCustomer(r.Customer); err != nil {
		return fmt.Errorf("eventfile: encode consent: %w", err)
	}
	if r.Time.Before(minTime) || r.Time.After(maxTime) {
		return fmt.Errorf("eventfile: encode consent: %w", &features.FieldError{Field: features.FieldTime, Value: r.Time.Format(time.RFC3339), Err: features.ErrTimeRange})
	}
	ch := consent.Change{Purpose: r.Purpose, Granted: r.Granted, Time: r.Time, Source: r.Source}
	if err := ch.Validate(); err != nil {
		return fmt.Errorf("eventfile: encode consent: %w", err)
	}
	t := r.Time.UTC()
	b := e.buf[:0]
	if e.csv {
		b = appendCSV(b, r.Customer)
		b = append(b, ',')
		b = append(b, r.Purpose.String()...)
		b = append(b, ',')
		b = strconv.AppendBool(b, r.Granted)
		b = append(b, ',')
		b = appendTime(b, t)
		b = append(b, ',')
		b = append(b, r.Source...) // a token: never needs quotes
	} else {
		b = append(b, `{"customer":`...)
		b = appendJSON(b, r.Customer)
		b = append(b, `,"purpose":"`...)
		b = append(b, r.Purpose.String()...)
		b = append(b, `","granted":`...)
		b = strconv.AppendBool(b, r.Granted)
		b = append(b, `,"time":"`...)
		b = appendTime(b, t)
		b = append(b, `","source":`...)
		b = appendJSON(b, r.Source)
		b = append(b, '}')
	}
	b = append(b, '\n')
	e.buf = b
	if _, err := e.w.Write(b); err != nil {
		return fmt.Errorf("eventfile: encode consent: %w", err)
	}
	return nil
}

// Flush writes buffered lines to the underlying writer.
func (e *ConsentEncoder) Flush() error {
	if err := e.w.Flush(); err != nil {
		return fmt.Errorf("eventfile: flush: %w", err)
	}
	return nil
}

// appendTime appends t, in UTC, as "2006-01-02T15:04:05.000Z". The year is
// within 1970–2200 (validated).
func appendTime(b []byte, t time.Time) []byte {
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	ms := t.Nanosecond() / int(time.Millisecond)
	b = append(b, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-')
	b = append(b, byte('0'+int(month)/10), byte('0'+int(month)%10), '-', byte('0'+day/10), byte('0'+day%10), 'T')
	b = append(b, byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+min/10), byte('0'+min%10), ':')
	b = append(b, byte('0'+sec/10), byte('0'+sec%10), '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
	return b
}

// appendJSON appends s as a JSON string. s is valid UTF-8 (the identifiers
// have been validated).
func appendJSON(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		default:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendCSV appends s as a CSV field, quoted if it must be (RFC 4180).
func appendCSV(b []byte, s string) []byte {
	if !strings.ContainsAny(s, ",\"\r\n") && (s == "" || s[0] != ' ' && s[0] != '\t') {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}
