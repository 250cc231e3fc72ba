package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/eventfile"
)

// DefaultMaxReported is how many bad rows a Report lists by default.
const DefaultMaxReported = 100

// ImportOptions configures Import.
type ImportOptions struct {
	// Format of the file; empty means detect it.
	Format eventfile.Format
	// Name is the file name, for format detection and messages.
	Name string
	// DefaultTime is the time of events in formats without timestamps.
	DefaultTime time.Time
	// MaxErrors is how many bad rows are tolerated: with more, the whole
	// file is rejected and nothing is stored. 0 (the default) rejects a file
	// with any bad row; a negative value tolerates any number. Bad rows are
	// never stored, and always reported.
	MaxErrors int
	// MaxReported caps Report.BadRows; 0 means DefaultMaxReported.
	MaxReported int
	// Progress, if set, is called after each committed batch and every
	// 100,000 rows of the validation pass.
	Progress func(Progress)

	now time.Time // the clock at the start of Import
}

// Progress reports an import under way.
type Progress struct {
	Phase string // "validate" or "import"
	Rows  int    // rows read so far in this phase
	Counts
}

// Report is the outcome of an import.
type Report struct {
	Rows    int            // rows read (blank lines excluded)
	Valid   int            // rows carrying a valid event
	Skipped map[string]int // rows the format skips by design, by reason
	// RejectedRows is the number of bad rows, Rejected their bad fields by
	// reason ("invalid time"): a row with several bad fields counts once
	// under each, so the counts may add up to more than RejectedRows.
	RejectedRows int
	Rejected     map[string]int
	// BadRows lists the first MaxReported bad rows (*features.RowError,
	// naming the row and the field); BadRowsOmitted counts the others.
	BadRows        []error
	BadRowsOmitted int
	// Counts says what became of the valid rows.
	Counts
	// Aborted is set when the file was rejected whole (too many bad rows).
	Aborted bool
	// Stopped is set when the import stopped before the end of the file (a
	// cancelled context, a failed commit or read): Rows, Valid, Skipped,
	// RejectedRows, Rejected and BadRows then count only the rows
	// processed, those through line Through (0: none), all of whose events
	// Counts says were committed; nothing after it was stored. FileRows is
	// then the file's number of rows, as the validation pass counted it (0
	// if it did not run or did not finish).
	Stopped  bool
	Through  int
	FileRows int
	Elapsed  time.Duration
}

// ErrTooManyBadRows is returned by Import, with its Report, when a file has
// more bad rows than ImportOptions.MaxErrors: nothing was stored.
var ErrTooManyBadRows = errors.New("ingest: too many bad rows; nothing was imported")

// ErrChanged is returned when the file changes between the validation pass
// and the import pass.
var ErrChanged = errors.New("ingest: file changed while it was being imported")

// Import ingests a file that open opens (and may open twice). Unless any
// number of bad rows is tolerated, a first pass validates every row, so that
// a file with too many bad rows is rejected before anything is stored. The
// second pass stores the valid rows in commit units of BatchSize events:
// each is durable before Progress reports it. On error, the Report says what
// was committed before the failure, and through which line (Stopped).
func (in *Ingester) Import(ctx context.Context, open func() (io.ReadCloser, error), opts ImportOptions) (*Report, error) {
	start := time.Now()
	opts.MaxReported = cmp.Or(opts.MaxReported, DefaultMaxReported)
	opts.now = in.cfg.Now() // one clock for both passes
	rep := &Report{Skipped: map[string]int{}, Rejected: map[string]int{}}
	if opts.MaxErrors >= 0 {
		if err := in.scan(ctx, open, opts, rep); err != nil {
			rep.stop(0, 0, Report{})
			rep.Elapsed = time.Since(start)
			return rep, err
		}
		if bad := rep.RejectedRows; bad > opts.MaxErrors {
			rep.Aborted = true
			rep.Elapsed = time.Since(start)
			return rep, fmt.Errorf("%w (%d bad rows, at most %d allowed)", ErrTooManyBadRows, bad, opts.MaxErrors)
		}
	}
	err := in.load(ctx, open, opts, rep)
	rep.Elapsed = time.Since(start)
	return rep, err
}

// readFile runs fn on every record of the file. An event dated in the
// future (features.ErrFuture, against opts.now) becomes a row error.
func readFile(ctx context.Context, open func() (io.ReadCloser, error), opts ImportOptions, fn func(eventfile.Record) error) error {
	f, err := open()
	if err != nil {
		return err // the caller names the file
	}
	defer f.Close()
	for rec, err := range eventfile.Read(ctx, f, eventfile.Options{Format: opts.Format, Name: opts.Name, DefaultTime: opts.DefaultTime}) {
		if err != nil {
			return err // eventfile's own error; the caller names the file
		}
		if rec.Err == nil && rec.Skip == "" {
			if err := rec.Event.CheckNotFuture(opts.now); err != nil {
				rec.Err = &features.RowError{Row: rec.Line, Err: err}
			}
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return nil
}

// tally counts rec into rep.
func (rep *Report) tally(rec eventfile.Record, maxReported int) {
	rep.Rows++
	switch {
	case rec.Err != nil:
		rep.RejectedRows++
		for _, r := range reasons(rec.Err) {
			rep.Rejected[r]++
		}
		if len(rep.BadRows) < maxReported {
			rep.BadRows = append(rep.BadRows, rec.Err)
		} else {
			rep.BadRowsOmitted++
		}
	case rec.Skip != "":
		rep.Skipped[rec.Skip]++
	default:
		rep.Valid++
	}
}

// reasons classifies a bad row's error by field (features.Reason): one
// reason per bad field, each once, for a row with several.
func reasons(err error) []string {
	var fes features.FieldErrors
	if !errors.As(err, &fes) {
		return []string{features.Reason(err)}
	}
	var out []string
	for _, fe := range fes {
		if r := features.Reason(fe); !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// rowTallies returns a copy of rep's row counts (Rows to BadRowsOmitted)
// that later tallies into rep do not change.
func (rep *Report) rowTallies() Report {
	return Report{
		Rows: rep.Rows, Valid: rep.Valid, Skipped: maps.Clone(rep.Skipped),
		RejectedRows: rep.RejectedRows, Rejected: maps.Clone(rep.Rejected),
		BadRows: slices.Clip(rep.BadRows), BadRowsOmitted: rep.BadRowsOmitted,
	}
}

// setRowTallies sets rep's row counts (Rows to BadRowsOmitted) to t's.
func (rep *Report) setRowTallies(t Report) {
	rep.Rows, rep.Valid, rep.Skipped = t.Rows, t.Valid, t.Skipped
	rep.RejectedRows, rep.Rejected = t.RejectedRows, t.Rejected
	rep.BadRows, rep.BadRowsOmitted = t.BadRows, t.BadRowsOmitted
}

// stop marks rep Stopped after the rows through line through, whose
// tallies are done, in a file of fileRows rows (0: unknown).
func (rep *Report) stop(fileRows, through int, done Report) {
	rep.Stopped, rep.FileRows, rep.Through = true, fileRows, through
	rep.setRowTallies(done)
	if rep.Skipped == nil {
		rep.Skipped, rep.Rejected = map[string]int{}, map[string]int{}
	}
}

// scan is the validation pass: it fills rep's row counts.
func (in *Ingester) scan(ctx context.Context, open func() (io.ReadCloser, error), opts ImportOptions, rep *Report) error {
	return readFile(ctx, open, opts, func(rec eventfile.Record) error {
		rep.tally(rec, opts.MaxReported)
		if opts.Progress != nil && rep.Rows%100_000 == 0 {
			opts.Progress(Progress{Phase: "validate", Rows: rep.Rows})
		}
		return nil
	})
}

// load is the import pass. One goroutine decodes and pseudonymizes, the
// caller's goroutine commits, so that both cores work.
func (in *Ingester) load(ctx context.Context, open func() (io.ReadCloser, error), opts ImportOptions, rep *Report) error {
	validated := opts.MaxErrors >= 0
	// The reader recounts the rows in its own report, which the committing
	// goroutine does not touch until the reader is done.
	read := &Report{Skipped: map[string]int{}, Rejected: map[string]int{}}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type batch struct {
		events []features.Event
		seen   Report // the reader's row tallies when the batch was cut
		line   int    // the line of the last row read then
	}
	batches := make(chan batch, 2)
	var readErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(batches)
		raw := make([]features.RawEvent, 0, in.cfg.BatchSize)
		line := 0
		flush := func() bool {
			if len(raw) == 0 {
				return true
			}
			b := batch{events: in.pseudonymize(raw, make([]features.Event, 0, len(raw))), seen: read.rowTallies(), line: line}
			raw = raw[:0]
			select {
			case batches <- b:
				return true
			case <-ctx.Done():
				return false
			}
		}
		readErr = readFile(ctx, open, opts, func(rec eventfile.Record) error {
			read.tally(rec, opts.MaxReported)
			line = rec.Line
			if rec.Err != nil || rec.Skip != "" {
				return nil
			}
			raw = append(raw, rec.Event)
			if len(raw) == in.cfg.BatchSize && !flush() {
				return ctx.Err()
			}
			return nil
		})
		if readErr == nil && !flush() {
			readErr = ctx.Err()
		}
	})
	var commitErr error
	var done batch // the last batch committed
	for b := range batches {
		c, err := in.commit(ctx, b.events)
		if err != nil {
			commitErr = err
			cancel()
			break
		}
		rep.Counts.add(c)
		done = b
		if opts.Progress != nil {
			opts.Progress(Progress{Phase: "import", Rows: b.seen.Rows, Counts: rep.Counts})
		}
	}
	for range batches { // drain so that the reader can exit
	}
	wg.Wait()
	if commitErr != nil || readErr != nil {
		// The reader was ahead of the commits: count only the rows
		// through the last batch committed.
		fileRows := 0
		if validated {
			fileRows = rep.Rows
		}
		rep.stop(fileRows, done.line, done.seen)
		return cmp.Or(commitErr, readErr)
	}
	if validated &&
		(read.Rows != rep.Rows || read.Valid != rep.Valid || read.RejectedRows != rep.RejectedRows) {
		return fmt.Errorf("%w (validation saw %d rows, import %d)", ErrChanged, rep.Rows, read.Rows)
	}
	if !validated {
		rep.setRowTallies(*read)
	}
	return nil
}
