package eval

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/discret-io/discret/features/eventfile"
)

// ReportedBadRows is how many bad rows BadRows keeps: enough to show what
// is wrong with a file, few enough for a terminal.
const ReportedBadRows = 5

// BadRows counts the bad rows of a file, which are left out, and keeps the
// errors of the first ReportedBadRows of them.
type BadRows struct {
	Count int
	// First holds the errors of the first bad rows, each a
	// *features.RowError that names the row and the field, as 'discret
	// import' lists them ("row 1001: wrong number of columns: 1, want 4").
	First []error
}

// Add counts a bad row whose error is err.
func (b *BadRows) Add(err error) {
	b.Count++
	if len(b.First) < ReportedBadRows {
		b.First = append(b.First, err)
	}
}

// Lines describes the bad rows of the file called name: a line with their
// count, then one indented line per row kept; none without bad rows.
//
//	u.data: 7 bad rows skipped, the first 5:
//	  row 1001: wrong number of columns: 1, want 4
func (b BadRows) Lines(name string) []string {
	if b.Count == 0 {
		return nil
	}
	head := fmt.Sprintf("%s: %d bad rows skipped:", name, b.Count)
	switch {
	case b.Count == 1:
		head = fmt.Sprintf("%s: 1 bad row skipped:", name)
	case b.Count > len(b.First):
		head = fmt.Sprintf("%s: %d bad rows skipped, the first %d:", name, b.Count, len(b.First))
	}
	lines := []string{head}
	for _, err := range b.First {
		lines = append(lines, "  "+err.Error())
	}
	return lines
}

// ReadFile reads the (user, item) pairs of a public research dataset file in
// any eventfile format (format "" detects it; gzip is decompressed), as
// Read does.
func ReadFile(ctx context.Context, path string, format eventfile.Format) (d *Dataset, bad BadRows, err error) {
	f, err := eventfile.Open(path)
	if err != nil {
		return nil, bad, err
	}
	defer f.Close()
	return Read(ctx, f, path, format)
}

// Read reads, once, the (user, item) pairs of a public research dataset in
// any eventfile format (format "" detects it; eventfile.NewReader
// decompresses gzip) through eventfile.ReadPairs, which keeps the public
// identifiers in clear: the split orders users by them (EVAL.md). name
// names r in errors and hints at its format (".jsonl"). Bad rows are
// left out, counted and the first ones kept in bad, as are rows without an
// item (store visits). Files without timestamps get a fixed time, which
// evaluation ignores.
func Read(ctx context.Context, r io.Reader, name string, format eventfile.Format) (d *Dataset, bad BadRows, err error) {
	opts := eventfile.Options{Format: format, Name: name, DefaultTime: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}
	var readErr error
	rows, noItem := 0, 0
	d, err = NewDataset(func(yield func(string, string) bool) {
		for p, err := range eventfile.ReadPairs(ctx, r, opts) {
			if err != nil {
				readErr = err
				return
			}
			rows++
			switch {
			case p.Err != nil:
				bad.Add(p.Err)
			case p.Item == "":
				noItem++
			case !yield(p.User, p.Item):
				return
			}
		}
	})
	switch {
	case readErr != nil:
		return nil, bad, fmt.Errorf("%s: %w", name, readErr)
	case errors.Is(err, ErrNoPairs):
		// The file's own terms, not the package's: its name says where.
		return nil, bad, fmt.Errorf("%s: %s", name, noPairs(rows, bad, noItem))
	case err != nil:
		return nil, bad, fmt.Errorf("%s: %w", name, err)
	}
	return d, bad, nil
}

// noPairs says why a file of rows rows, with the bad rows bad and noItem
// rows without an item, has no (user, item) pair: with the first bad row's
// error, which says what is wrong (a wrong --format, say).
func noPairs(rows int, bad BadRows, noItem int) string {
	if rows == 0 {
		return "no (user, item) pairs: the file has no event rows"
	}
	var why []string
	if bad.Count > 0 {
		why = append(why, fmt.Sprintf("%d bad", bad.Count))
	}
	if noItem > 0 {
		why = append(why, fmt.Sprintf("%d without an item (store visits)", noItem))
	}
	msg := fmt.Sprintf("no usable (user, item) pairs: of %d rows, %s", rows, strings.Join(why, ", "))
	if len(bad.First) > 0 {
		msg += fmt.Sprintf(" (the first: %v)", bad.First[0])
	}
	return msg
}
