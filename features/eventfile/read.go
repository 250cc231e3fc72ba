package eventfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/discret-io/discret/features"
)

// decoder runs one Read.
type decoder struct {
	ctx   context.Context
	lr    *lineReader
	yield func(Record, error) bool
	opts  Options
	b     builder
	rows  int
	// While holding, emit collects records in held instead of yielding
	// them, and release yields them in order: the online-retail reader
	// holds one invoice so that its lines for one product can add up.
	holding bool
	held    []Record
	done    bool // yield returned false (or a fatal error was yielded)
}

// maxHeld bounds the records held at once (a giant invoice is released in
// parts; lines of it beyond a part do not merge with lines before).
const maxHeld = 4096

// ctxEvery is how many rows pass between checks of the context.
const ctxEvery = 1024

func (d *decoder) run() {
	f := d.opts.Format
	if f == "" {
		head, err := d.lr.head()
		if err != nil {
			d.fail(d.ioErr(err))
			return
		}
		if len(bytes.TrimSpace(head)) == 0 {
			return // an empty input holds no rows in any format
		}
		if f, err = Detect(head, d.opts.Name); err != nil {
			d.fail(err)
			return
		}
	}
	switch f {
	case Discret:
		d.jsonl()
	case CSV:
		d.csv()
	case MovieLens:
		d.movieLens()
	case OnlineRetail:
		d.onlineRetail()
	case RetailRocket:
		d.retailRocket()
	default:
		_, err := ParseFormat(string(f))
		d.fail(err)
	}
}

// emit yields a record, or holds it (see decoder.holding); it reports
// whether to go on.
func (d *decoder) emit(r Record) bool {
	if d.done {
		return false
	}
	if d.holding {
		d.held = append(d.held, r)
		return len(d.held) < maxHeld || d.release()
	}
	d.rows++
	if d.rows%ctxEvery == 0 {
		if err := d.ctx.Err(); err != nil {
			d.done = true
			d.yield(Record{}, err)
			return false
		}
	}
	if !d.yield(r, nil) {
		d.done = true
		return false
	}
	return true
}

// release yields the held records in order; it reports whether to go on.
func (d *decoder) release() bool {
	held, holding := d.held, d.holding
	d.holding = false
	ok := true
	for _, r := range held {
		if ok = d.emit(r); !ok {
			break
		}
	}
	d.held, d.holding = held[:0], holding
	return ok
}

// rowErr yields a row error.
func (d *decoder) rowErr(line int, err error) bool {
	return d.emit(Record{Line: line, Err: &features.RowError{Row: line, Err: err}})
}

// event validates e and yields it. If the row's fields had problems while
// it was read (errs) or e is invalid, it yields one row error with every
// problem instead (see features.Problems).
func (d *decoder) event(line int, e *features.RawEvent, errs features.FieldErrors) bool {
	if err := e.Validate(); err != nil || len(errs) > 0 {
		return d.rowErr(line, features.Problems(features.Fields, errs, err))
	}
	return d.emit(Record{Line: line, Event: *e})
}

// addErr adds err, a field error from a conversion, to errs, unless errs
// already has a problem of that field (a member of the wrong JSON type is
// then absent too): one problem per field (features.FieldErrors.Add).
func addErr(errs *features.FieldErrors, err error) {
	var fe *features.FieldError
	if !errors.As(err, &fe) {
		fe = &features.FieldError{Field: FieldRecord, Err: err}
	}
	errs.Add(fe)
}

// fail yields the held records, then a fatal error.
func (d *decoder) fail(err error) {
	if !d.release() {
		return
	}
	d.done = true
	d.yield(Record{}, err)
}

func (d *decoder) ioErr(err error) error {
	return fmt.Errorf("eventfile: reading line %d: %w", d.lr.n+1, err)
}

// lines calls f with each non-blank line until f returns false or the input
// ends, reporting over-long lines and read errors itself.
func (d *decoder) lines(f func(line []byte, n int) bool) {
	for {
		line, tooLong, err := d.lr.next()
		if err != nil {
			if err != io.EOF {
				d.fail(d.ioErr(err))
			}
			return
		}
		if tooLong {
			if !d.rowErr(d.lr.n, recordErr(ErrLineTooLong)) {
				return
			}
			continue
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if !f(line, d.lr.n) {
			return
		}
	}
}

// records calls f with each CSV record after the header, whose columns it
// maps to cols first (see mapHeader). It reports malformed records, records
// with the wrong number of columns and read errors itself.
func (d *decoder) records(format Format, cols []column, strict bool, f func(idx []int, fields [][]byte, n int) bool) {
	cr := &csvReader{lr: d.lr}
	var idx []int
	width := 0
	for {
		fields, n, rowErr, err := cr.next()
		if err != nil {
			if err != io.EOF {
				d.fail(d.ioErr(err))
			}
			return
		}
		if idx == nil {
			if rowErr != nil {
				d.fail(headerErr(format, n, rowErr))
				return
			}
			if idx, err = mapHeader(format, n, fields, cols, strict); err != nil {
				d.fail(err)
				return
			}
			width = len(fields)
			continue
		}
		switch {
		case rowErr != nil:
			if !d.rowErr(n, rowErr) {
				return
			}
		case len(fields) != width:
			if !d.rowErr(n, fieldCountErr(len(fields), width)) {
				return
			}
		default:
			if !f(idx, fields, n) {
				return
			}
		}
	}
}

// column describes a column of a CSV format.
type column struct {
	field    string   // the event field it fills, for errors
	names    []string // accepted header names, normalized (see normalize)
	required bool
}

// normalize folds a header name: ASCII lower case, without spaces,
// underscores and hyphens ("Customer ID" → "customerid").
func normalize(b []byte) string {
	var sb strings.Builder
	for _, c := range bytes.TrimSpace(b) {
		switch {
		case c == ' ' || c == '_' || c == '-':
		case c >= 'A' && c <= 'Z':
			sb.WriteByte(c + 'a' - 'A')
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

// mapHeader returns, for each of cols, the index of its column in header or
// -1. With strict, a column that is none of cols is an error; otherwise it
// is ignored.
func mapHeader(format Format, line int, header [][]byte, cols []column, strict bool) ([]int, error) {
	idx := make([]int, len(cols))
	for i := range idx {
		idx[i] = -1
	}
	for h, name := range header {
		norm := normalize(name)
		found := false
		for i, c := range cols {
			for _, n := range c.names {
				if n != norm {
					continue
				}
				if idx[i] >= 0 {
					return nil, headerErr(format, line, &features.FieldError{Field: features.FieldLabel(string(name)), Err: errors.New("duplicate column")})
				}
				idx[i], found = h, true
			}
		}
		if !found && strict {
			return nil, headerErr(format, line, &features.FieldError{Field: features.FieldLabel(string(name)), Err: fmt.Errorf("unknown column (want %s)", columnList(cols))})
		}
	}
	for i, c := range cols {
		if c.required && idx[i] < 0 {
			return nil, headerErr(format, line, &features.FieldError{Field: c.names[0], Err: fmt.Errorf("missing column (want %s)", columnList(cols))})
		}
	}
	return idx, nil
}

func columnList(cols []column) string {
	var names []string
	for _, c := range cols {
		names = append(names, c.names[0])
	}
	return strings.Join(names, ", ")
}

// headerErr is a fatal error of the header of a format's file, at line:
// "eventfile: bad header (csv): row 1: field x: unknown column (want …)",
// each context once (ErrHeader holds the package prefix).
func headerErr(format Format, line int, err error) error {
	return fmt.Errorf("%w (%s): %w", ErrHeader, format, &features.RowError{Row: line, Err: err})
}

// get returns field i of a record, or nil for an absent column.
func get(fields [][]byte, i int) []byte {
	if i < 0 {
		return nil
	}
	return fields[i]
}

// The Discret formats.

var discretColumns = []column{
	{field: features.FieldCustomer, names: []string{features.FieldCustomer}, required: true},
	{field: features.FieldItem, names: []string{features.FieldItem}, required: true},
	{field: features.FieldType, names: []string{features.FieldType}, required: true},
	{field: features.FieldStore, names: []string{features.FieldStore}},
	{field: features.FieldTime, names: []string{features.FieldTime}, required: true},
	{field: features.FieldQuantity, names: []string{features.FieldQuantity}},
}

// Indexes of the fields in features.Fields and discretColumns.
const (
	iCustomer = iota
	iItem
	iType
	iStore
	iTime
	iQuantity
)

func (d *decoder) jsonl() {
	o := newJSONObject(features.Fields)
	d.lines(func(line []byte, n int) bool {
		bad, err := o.scan(line)
		if err != nil {
			return d.rowErr(n, err)
		}
		var e features.RawEvent
		d.fromJSON(o.vals, &e, &bad)
		return d.event(n, &e, bad)
	})
}

func (d *decoder) csv() {
	d.records(CSV, discretColumns, true, func(idx []int, fields [][]byte, n int) bool {
		var e features.RawEvent
		var errs features.FieldErrors
		var err error
		if e.Customer, err = d.b.customer(get(fields, idx[iCustomer])); err != nil {
			addErr(&errs, err)
		}
		e.Item = d.b.id(get(fields, idx[iItem]))
		if e.Kind, err = kind(get(fields, idx[iType])); err != nil {
			addErr(&errs, err)
		}
		e.Store = d.b.id(get(fields, idx[iStore]))
		if e.Time, err = parseTime(get(fields, idx[iTime])); err != nil {
			addErr(&errs, err)
		}
		if e.Quantity, err = quantity(get(fields, idx[iQuantity])); err != nil {
			addErr(&errs, err)
		}
		return d.event(n, &e, errs)
	})
}

// fromJSON converts the fields of a Discret JSON line, in features.Fields
// order, into e, appending each field's problem to errs and going on.
func (d *decoder) fromJSON(v []jsonValue, e *features.RawEvent, errs *features.FieldErrors) {
	var err error
	if e.Customer, err = d.b.jsonCustomer(v[iCustomer]); err != nil {
		addErr(errs, err)
	}
	if e.Item, err = d.jsonID(features.FieldItem, v[iItem]); err != nil {
		addErr(errs, err)
	}
	switch t := v[iType]; t.kind {
	case jsonString, jsonAbsent:
		if e.Kind, err = kind(t.b); err != nil {
			addErr(errs, err)
		}
	default:
		addErr(errs, typeErr(features.FieldType, "a string", t))
	}
	if e.Store, err = d.jsonID(features.FieldStore, v[iStore]); err != nil {
		addErr(errs, err)
	}
	if e.Time, err = jsonTime(v[iTime]); err != nil {
		addErr(errs, err)
	}
	switch q := v[iQuantity]; q.kind {
	case jsonAbsent:
		e.Quantity = 1
	case jsonNumber:
		if e.Quantity, err = quantity(q.b); err != nil {
			addErr(errs, err)
		}
	default:
		addErr(errs, typeErr(features.FieldQuantity, "an integer", q))
	}
}

func (d *decoder) jsonID(field string, v jsonValue) (string, error) {
	switch v.kind {
	case jsonAbsent:
		return "", nil
	case jsonString:
		return d.b.id(v.b), nil
	}
	return "", typeErr(field, "a string", v)
}

func typeErr(field, want string, v jsonValue) error {
	value := clip(v.b)
	if v.kind == jsonString {
		value = ""
	}
	return &features.FieldError{Field: field, Value: value, Err: fmt.Errorf("%w: want %s", ErrJSONType, want)}
}
