// Package eventfile decodes files of customer events, in Discret's own
// formats and in the formats of public retail and rating datasets, into
// validated features.RawEvent values, one row at a time and in constant
// memory.
//
// # Formats
//
//   - Discret ("discret"): JSON Lines, one object per line with the fields
//     customer, item, type, store, time and quantity (store and quantity
//     optional; time an RFC 3339 string or a JSON integer of Unix seconds or
//     milliseconds; quantity a JSON integer). Unknown and duplicate fields are
//     rejected: there is no free-text field.
//   - CSV ("csv"): the same fields as columns, named by a header row, in any
//     order; the store and quantity columns are optional, unknown columns are
//     rejected. Quoting follows RFC 4180.
//   - MovieLens ("movielens"): u.data (user, item, rating and timestamp
//     separated by tabs), ratings.dat (UserID::MovieID::Rating::Timestamp),
//     ratings.csv (header userId,movieId,rating,timestamp) and pair files
//     without time (header UserID,MovieID; Options.DefaultTime gives the
//     time). Every rating is an online purchase of quantity 1.
//   - UCI Online Retail ("online-retail"): one purchase per invoice line;
//     cancellations, rows without a customer, non-positive quantities and
//     non-product stock codes are skipped with a reason.
//   - Retailrocket ("retailrocket"): events.csv (timestamp in Unix
//     milliseconds, visitorid, event, itemid, transactionid).
//
// Read detects the format from the first line when Options.Format is empty
// (see Detect), and yields one Record per row: a valid event, a row error
// naming the line and the field, or a skip with its reason. Errors never
// contain a raw customer identifier. Open transparently decompresses gzip
// files.
//
// ReadConsent decodes consent files (JSON Lines or CSV with the fields
// customer, purpose, granted, time and source) the same way.
//
// Encoder and ConsentEncoder write the Discret formats from plain strings,
// for generators such as features/synth and for tests: whatever they accept,
// Read and ReadConsent decode to the same values.
package eventfile

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"strings"
	"time"

	"github.com/discret-io/discret/features"
)

// Format names a file format.
type Format string

// Supported formats.
const (
	Discret      Format = "discret"       // Discret JSON Lines
	CSV          Format = "csv"           // Discret CSV with a header row
	MovieLens    Format = "movielens"     // MovieLens u.data, ratings.dat, ratings.csv or pairs
	OnlineRetail Format = "online-retail" // UCI Online Retail (I and II) CSV
	RetailRocket Format = "retailrocket"  // Retailrocket events.csv
)

// Formats lists the supported formats.
func Formats() []Format {
	return []Format{Discret, CSV, MovieLens, OnlineRetail, RetailRocket}
}

func formatList() string {
	var names []string
	for _, f := range Formats() {
		names = append(names, string(f))
	}
	return strings.Join(names, ", ")
}

// ParseFormat parses a format name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats() {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("%w %q (want one of %s)", ErrUnknownFormat, s, formatList())
}

// MaxLineLen is the longest row accepted, in bytes (a CSV row with quoted
// line breaks counts as one row). Longer rows are row errors; reading goes
// on with the next line.
const MaxLineLen = 64 << 10

// FieldRecord is the field named by errors about a whole row rather than one
// of its fields: malformed JSON or CSV, a wrong number of columns, a line too
// long.
const FieldRecord = features.FieldRecord

// Reasons for skipping a row by design (Record.Skip).
const (
	SkipCancellation = "cancellation"          // online-retail: invoice number starting with C
	SkipNoCustomer   = "no customer id"        // online-retail: empty CustomerID
	SkipNonPositive  = "non-positive quantity" // online-retail: returns and adjustments
	SkipNonProduct   = "non-product code"      // online-retail: POST, BANK CHARGES, gift vouchers…
	// SkipMerged: online-retail: another line of the same invoice for the
	// same product (same customer, time and country); its quantity is
	// added to the event of the first such line. Stored separately, the
	// two would be one event (same identity) and one quantity would be
	// lost.
	SkipMerged = "merged into an earlier line of the invoice"
)

// Fatal errors, returned by the iterators wrapped with context.
var (
	ErrUnknownFormat = errors.New("eventfile: unknown format")
	ErrHeader        = errors.New("eventfile: bad header")
	ErrNoDefaultTime = errors.New("eventfile: the file has no timestamps and Options.DefaultTime is not set")
)

// Row errors, wrapped in a *features.FieldError inside a
// *features.RowError. Their texts have no package prefix: they are read by
// whoever wrote the row ("row 3: malformed JSON: …").
var (
	ErrLineTooLong    = fmt.Errorf("row longer than %d bytes", MaxLineLen)
	ErrSyntax         = errors.New("malformed")
	ErrFieldCount     = errors.New("wrong number of columns")
	ErrUnknownField   = features.ErrUnknownField // the same as the catalogue's
	ErrDuplicateField = features.ErrRepeated
	ErrJSONType       = errors.New("wrong JSON type")
)

// Options configures Read. The zero value detects the format.
type Options struct {
	// Format of the input; empty means detect it from the first line.
	Format Format
	// Name is the file name, a hint for detection when the first line is
	// not conclusive (".jsonl" means discret). Optional.
	Name string
	// DefaultTime is the time of events in formats without timestamps
	// (MovieLens pair files). Reading such a file without it is an error.
	DefaultTime time.Time
}

// Record is one row of an input: exactly one of a valid Event, an Err or a
// Skip reason.
type Record struct {
	// Line is the 1-based line number where the row starts.
	Line int
	// Event is valid (RawEvent.Validate returned nil) when Err is nil and
	// Skip is empty.
	Event features.RawEvent
	// Err is a *features.RowError wrapping a *features.FieldError that
	// names the field; it never contains the raw customer identifier.
	Err error
	// Skip is the reason (one of the Skip… constants) why a well-formed row
	// carries no event by design.
	Skip string
}

// Read decodes events from r. It yields a Record per row and, on a fatal
// problem (an I/O error, an unknown format or a bad header, ctx done), one
// final non-nil error. Rows are decoded lazily: stopping the loop stops
// reading. Blank lines are ignored.
func Read(ctx context.Context, r io.Reader, opts Options) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(Record{}, err)
			return
		}
		d := decoder{ctx: ctx, lr: newLineReader(r), yield: yield, opts: opts}
		d.run()
	}
}

// Open opens a file for Read, decompressing it if it is gzip (detected from
// its first bytes, whatever its name). Closing the result closes the file.
func Open(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // an *fs.PathError: "open PATH: reason"
	}
	return NewReader(f, path)
}

// NewReader is Open for an input already open: it decompresses r if it is
// gzip (detected from its first bytes). name names r in errors. Closing the
// result closes r; on error, NewReader closes r.
func NewReader(r io.ReadCloser, name string) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(2)
	if err != nil && err != io.EOF {
		r.Close()
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) && pe.Path == name {
			return nil, err // already "read NAME: reason"
		}
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("eventfile: %s: %w", name, err)
		}
		return &file{Reader: zr, closers: []io.Closer{zr, r}}, nil
	}
	return &file{Reader: br, closers: []io.Closer{r}}, nil
}

// file is an opened, possibly decompressed, file.
type file struct {
	io.Reader
	closers []io.Closer
}

func (f *file) Close() error {
	var errs []error
	for _, c := range f.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// Counts tallies the records of a read, for reports. The zero value is ready
// to use.
type Counts struct {
	Rows    int            // Valid + skipped + rejected rows
	Valid   int            // rows that carry a valid event
	Skipped map[string]int // by Record.Skip
	Errors  map[string]int // by features.Reason(Record.Err)
}

// Add counts r.
func (c *Counts) Add(r Record) {
	c.Rows++
	switch {
	case r.Err != nil:
		if c.Errors == nil {
			c.Errors = make(map[string]int)
		}
		c.Errors[features.Reason(r.Err)]++
	case r.Skip != "":
		if c.Skipped == nil {
			c.Skipped = make(map[string]int)
		}
		c.Skipped[r.Skip]++
	default:
		c.Valid++
	}
}
