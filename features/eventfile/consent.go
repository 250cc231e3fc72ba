package eventfile

import (
	"bytes"
	"context"
	"errors"
	"io"
	"iter"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

// Fields of a consent line, as they appear in JSON Lines and CSV headers.
const (
	FieldPurpose = "purpose"
	FieldGranted = "granted"
	FieldSource  = "source"
)

// ConsentFields lists the fields of a consent line, in canonical order.
var ConsentFields = []string{features.FieldCustomer, FieldPurpose, FieldGranted, features.FieldTime, FieldSource}

// ErrGranted is the error, in a *features.FieldError, for a granted field
// that is not a boolean.
var ErrGranted = errors.New("want true or false (in any case)")

// ConsentRecord is one row of a consent file: a valid Change for Customer,
// or Err.
type ConsentRecord struct {
	// Line is the 1-based line number of the row.
	Line     int
	Customer privacy.CustomerID
	// Change is valid (Change.Validate returned nil) when Err is nil.
	Change consent.Change
	// Err is a *features.RowError wrapping a *features.FieldError that
	// names the field; it never contains the raw customer identifier.
	Err error
}

// ReadConsent decodes consent changes from r: JSON Lines when the first
// non-blank line starts with "{", else CSV with a header row. Each row has
// the fields customer, purpose ("personalization" or "in_store"), granted
// (a JSON boolean; in CSV true or false, in any case), time (as for
// events, within 1970–2200) and source (a channel token, see
// consent.ValidateSource); unknown fields and columns are rejected.
//
// Like Read, it yields a record per row and one final error on a fatal
// problem (I/O, bad header, ctx done).
func ReadConsent(ctx context.Context, r io.Reader) iter.Seq2[ConsentRecord, error] {
	return func(yield func(ConsentRecord, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(ConsentRecord{}, err)
			return
		}
		cd := consentDecoder{}
		cd.ctx, cd.lr = ctx, newLineReader(r)
		cd.yield = func(rec Record, err error) bool {
			// Fatal errors of the shared driver: I/O, header, ctx.
			return yield(ConsentRecord{Line: rec.Line, Err: rec.Err}, err)
		}
		cd.yieldConsent = yield
		cd.run()
	}
}

type consentDecoder struct {
	decoder
	yieldConsent func(ConsentRecord, error) bool
}

var consentColumns = []column{
	{field: features.FieldCustomer, names: []string{features.FieldCustomer}, required: true},
	{field: FieldPurpose, names: []string{FieldPurpose}, required: true},
	{field: FieldGranted, names: []string{FieldGranted}, required: true},
	{field: features.FieldTime, names: []string{features.FieldTime}, required: true},
	{field: FieldSource, names: []string{FieldSource}, required: true},
}

// Indexes in ConsentFields and consentColumns.
const (
	cCustomer = iota
	cPurpose
	cGranted
	cTime
	cSource
)

func (d *consentDecoder) run() {
	head, err := d.lr.head()
	if err != nil {
		d.fail(d.ioErr(err))
		return
	}
	line := firstLine(head)
	if line == nil {
		return
	}
	if bytes.TrimSpace(line)[0] == '{' {
		d.jsonl()
		return
	}
	d.records("consent csv", consentColumns, true, func(idx []int, fields [][]byte, n int) bool {
		var v [5]jsonValue
		for i := range v {
			v[i] = jsonValue{kind: jsonString, b: fields[idx[i]]}
		}
		return d.convert(v[:], n, false, nil)
	})
}

func (d *consentDecoder) jsonl() {
	o := newJSONObject(ConsentFields)
	d.lines(func(line []byte, n int) bool {
		bad, err := o.scan(line)
		if err != nil {
			return d.rowErr(n, err)
		}
		return d.convert(o.vals, n, true, bad)
	})
}

// convert builds a change from the fields, in ConsentFields order, and
// yields it, or a row error with every problem of the row: those the JSON
// scan found (bad) and those of each field. In JSON, granted must be a
// boolean and every other field but time a string.
func (d *consentDecoder) convert(v []jsonValue, n int, json bool, bad features.FieldErrors) bool {
	var rec ConsentRecord
	rec.Line = n
	d.change(v, json, &rec, &bad)
	if len(bad) > 0 {
		rec.Err = &features.RowError{Row: n, Err: features.Problems(ConsentFields, bad, nil)}
		rec.Change = consent.Change{}
		rec.Customer = privacy.CustomerID{}
	}
	d.rows++
	if d.rows%ctxEvery == 0 {
		if err := d.ctx.Err(); err != nil {
			d.yieldConsent(ConsentRecord{}, err)
			return false
		}
	}
	return d.yieldConsent(rec, nil)
}

// change fills rec from the fields, appending each field's problem to errs
// and going on with the next field.
func (d *consentDecoder) change(v []jsonValue, json bool, rec *ConsentRecord, errs *features.FieldErrors) {
	var err error
	if rec.Customer, err = d.b.jsonCustomer(v[cCustomer]); err != nil {
		addErr(errs, err)
	}
	switch p := v[cPurpose]; p.kind {
	case jsonAbsent:
		addErr(errs, &features.FieldError{Field: FieldPurpose, Err: features.ErrMissing})
	case jsonString:
		switch string(p.b) {
		case "personalization":
			rec.Change.Purpose = privacy.Personalization
		case "in_store":
			rec.Change.Purpose = privacy.InStore
		default:
			addErr(errs, &features.FieldError{Field: FieldPurpose, Value: clip(p.b), Err: errPurpose})
		}
	default:
		addErr(errs, typeErr(FieldPurpose, "a string", p))
	}
	switch g := v[cGranted]; {
	case g.kind == jsonAbsent || g.kind == jsonString && len(g.b) == 0:
		addErr(errs, &features.FieldError{Field: FieldGranted, Err: features.ErrMissing})
	case json && g.kind == jsonBool, !json && g.kind == jsonString:
		// Only the spellings documented, not strconv.ParseBool's 1, 0, t
		// or f: a column of 1s may well be a count, not a choice.
		switch v := bytes.TrimSpace(g.b); {
		case bytes.EqualFold(v, []byte("true")):
			rec.Change.Granted = true
		case !bytes.EqualFold(v, []byte("false")):
			addErr(errs, &features.FieldError{Field: FieldGranted, Value: clip(g.b), Err: ErrGranted})
		}
	default:
		addErr(errs, typeErr(FieldGranted, "true or false", g))
	}
	rec.Change.Time, err = jsonTime(v[cTime])
	if t := rec.Change.Time; err == nil && (t.Before(minTime) || t.After(maxTime)) {
		err = &features.FieldError{Field: features.FieldTime, Value: t.Format(time.RFC3339), Err: features.ErrTimeRange}
	}
	if err != nil {
		addErr(errs, err)
	}
	switch s := v[cSource]; s.kind {
	case jsonString, jsonAbsent:
		if err := consent.ValidateSource(string(s.b)); err != nil {
			addErr(errs, &features.FieldError{Field: FieldSource, Value: clip(s.b), Err: errSource{err}})
		}
		rec.Change.Source = string(s.b)
	default:
		addErr(errs, typeErr(FieldSource, "a string", s))
	}
	if len(*errs) == 0 {
		// The whole change, once every field is good.
		if err := rec.Change.Validate(); err != nil {
			addErr(errs, &features.FieldError{Field: FieldRecord, Err: err})
		}
	}
}

var errPurpose = errors.New("want personalization or in_store")

// errSource is consent's source error in a row's words: the field error
// names the field, the text says what it must be.
type errSource struct{ err error }

func (e errSource) Error() string { return "want " + consent.SourceWant + ", never free text" }
func (e errSource) Unwrap() error { return e.err }

// The range of times features.RawEvent.Validate accepts.
var (
	minTime = time.Unix(0, 0)
	maxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)
