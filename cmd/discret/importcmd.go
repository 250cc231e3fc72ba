package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/eventfile"
	"github.com/discret-io/discret/features/ingest"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/retention"
)

func importCommand() *command {
	var (
		format      string
		maxErrors   int
		maxReported int
		maxStdin    int
		at          string
	)
	return &command{
		name:    "import",
		args:    "FILE...",
		summary: "import events from files (Discret JSONL/CSV, MovieLens, Online Retail, Retailrocket)",
		help: `Import reads event files and stores the events of consenting customers.

Customer identifiers are pseudonymized with the key's HMAC key as they are
read; raw identifiers are never stored or printed. Events of customers without
personalization consent (and, for store visits, in-store consent) are not
stored, only counted. Events past their retention period are rejected as
expired (views and store visits 13 months, carts and purchases 3 years by
default, counted from the event's time; the configuration file's
"retention" section sets them), so an old dataset may store nothing.

Each file is all-or-nothing by default: a first pass validates every row,
and a file with bad rows is rejected whole, listing every bad row (row
number, and each bad field with what it must be). --max-errors N imports a
file with at most N bad rows, without them.
Events are acknowledged (counted as stored) only once durably committed, in
units of a few thousand events; re-importing a file is idempotent: its
events are counted as stored again (the count does not tell new events from
those already held) and no copy is added. An import that stops early
(interrupted, or an error such as a full disk) reports the rows processed
and the line through which they were committed: importing the file again
completes it.

FILE "-" is standard input. It is copied to a temporary file first (in
$TMPDIR, as large as the input, encrypted under a key held only in memory
and removed afterwards) so that it can be read twice, and can be given once
per command. The copy is at most --max-stdin-bytes, by default the free
space of $TMPDIR's file system less 10 % of its size; a larger input is
refused before anything is imported. A copy that a killed import left
(discret-stdin-*.enc) is removed by the first 'import -' that starts once
it has been untouched for a minute: the copy of a running import is
locked, so only those of dead processes go (where files cannot be locked:
those untouched for 24 hours).

Rows without a time (MovieLens pairs files) are dated --time, by default at
the file's modification time to the second: re-importing the same file stores
the same events again, not new ones, and their retention counts from that
time. Standard input has no modification time: give --time for such rows.

Formats (detected from the first line when --format is omitted; .gz files
are read directly):
  discret        Discret JSON Lines: {"customer","item","type","store","time","quantity"}
  csv            Discret CSV with a header row of the same field names
  movielens      MovieLens u.data, ratings.dat, or a UserID,MovieID pairs CSV
                 (every rating is a purchase; pair files have no time: see above)
  online-retail  UCI Online Retail CSV (invoice lines → purchases at the store
                 of the country; cancellations, rows without CustomerID,
                 non-positive quantities and non-product codes are skipped)
  retailrocket   Retailrocket events.csv (view, addtocart, transaction)`,
		flags: func(fs *flag.FlagSet, _ *env) {
			fs.StringVar(&format, "format", "", "input `FORMAT`: "+formatNames()+" (default: detect)")
			fs.IntVar(&maxErrors, "max-errors", 0, "import a file with at most `N` bad rows, skipping them (-1: any number; 0: reject a file with any bad row)")
			fs.IntVar(&maxReported, "max-reported", ingest.DefaultMaxReported, "list at most `N` ≥ 1 bad rows per file")
			fs.IntVar(&maxStdin, "max-stdin-bytes", 0, "refuse a standard input larger than `N` bytes (default: the free space of $TMPDIR less 10 % of its file system)")
			fs.StringVar(&at, "time", "", "event `TIME` for rows without a time, RFC 3339 or Unix seconds (default: the file's modification time; required for such rows on standard input)")
		},
		run: func(ctx context.Context, e *env, args []string) error {
			if len(args) == 0 {
				return usagef("no FILE given")
			}
			var f eventfile.Format
			if format != "" {
				var err error
				if f, err = eventfile.ParseFormat(format); err != nil {
					return usagef("--format: %v", err)
				}
			}
			if err := e.checkRanges(flagRange{"max-errors", maxErrorsRange}, flagRange{"max-reported", atLeast(1)}, flagRange{"max-stdin-bytes", atLeast(1)}); err != nil {
				return err
			}
			var atTime time.Time // zero: each file's modification time
			if at != "" {
				t, err := features.ParseTime(at)
				if err != nil {
					return usagef("--time: %v", err)
				}
				atTime = t
			}
			if i := slices.Index(args, "-"); i >= 0 && slices.Contains(args[i+1:], "-") {
				return usagef("standard input (-) can be given once")
			}
			d, err := openData(ctx, e, true)
			if err != nil {
				return err
			}
			defer d.Close()
			in, err := ingest.New(ingest.Config{Pseudonyms: d.pseudonyms, Consent: d.settings.consent, Retention: d.settings.retention}, d.db)
			if err != nil {
				return err
			}
			return importFiles(e, "import", args, func(path string) error {
				var rep *ingest.Report
				src, err := openImportSource(path, int64(maxStdin))
				if err == nil {
					defaultTime := cmp.Or(atTime, src.modTime)
					rep, err = in.Import(ctx, src.open, ingest.ImportOptions{
						Format: f, Name: path, DefaultTime: defaultTime,
						MaxErrors: maxErrors, MaxReported: maxReported,
						Progress: progressPrinter(e, path),
					})
					src.close()
				}
				if errors.Is(err, eventfile.ErrNoDefaultTime) && path == "-" {
					err = errors.New("standard input has rows without a time (MovieLens pairs) and no modification time to date them: give --time")
				}
				// Import's report says how far it got, also when it
				// stopped early; a file that could not be opened has none.
				if rep != nil {
					printImportReport(e.stdout, path, rep)
				}
				if err != nil {
					err = withoutPath(err, path)
					if errors.Is(err, ingest.ErrTooManyBadRows) {
						err = tooManyBadRows(rep.RejectedRows, maxErrors)
					}
					return err
				}
				printExpiredHint(e.stdout, rep, d.settings.retention)
				printNoConsentHint(e.stdout, rep)
				if at == "" && path != "-" && rep != nil && 2*rep.Expired > rep.Total() {
					fmt.Fprintf(e.stdout, "        If the file has rows without a time (MovieLens pairs), they are dated at its\n        modification time, %s; --time gives them another.\n", src.modTime.Format(time.RFC3339))
				}
				return nil
			})
		},
	}
}

// importFiles imports each of paths with importOne. Each file is
// all-or-nothing, and a file that fails does not stop the others: its
// error goes to stderr, prefixed with the command's name and the path, and
// the command fails at the end naming every file not imported. With a
// single file, its error is the command's; an interruption stops at once.
func importFiles(e *env, name string, paths []string, importOne func(path string) error) error {
	var failed []string
	for _, path := range paths {
		err := importOne(path)
		switch {
		case err == nil:
			continue
		case errors.Is(err, context.Canceled):
			return err
		case len(paths) == 1:
			return fmt.Errorf("%s: %w", path, err)
		}
		fmt.Fprintf(e.stderr, "%s %s: %v\n", name, path, err)
		failed = append(failed, path)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d files not imported: %s", len(failed), len(paths), strings.Join(failed, ", "))
	}
	return nil
}

// importSource is one FILE of import: how to open it (once per pass) and
// its modification time, which dates rows without a time.
type importSource struct {
	open    func() (io.ReadCloser, error)
	modTime time.Time // to the second; zero for standard input
	close   func()
}

// openImportSource prepares path for import. Standard input ("-") is
// copied to an encrypted temporary file (spool), of at most maxStdin bytes
// (0: see spoolLimit), since an import reads its input twice (a validation
// pass, then the import pass) and must see the same rows both times.
func openImportSource(path string, maxStdin int64) (*importSource, error) {
	if path != "-" {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, err // an *fs.PathError naming path
		}
		return &importSource{
			open:    func() (io.ReadCloser, error) { return eventfile.Open(path) },
			modTime: fi.ModTime().UTC().Truncate(time.Second),
			close:   func() {},
		}, nil
	}
	limit, why, ok := spoolLimit(os.TempDir(), maxStdin)
	if !ok {
		return nil, fmt.Errorf("no room for the temporary copy of standard input: %s; nothing was imported: set TMPDIR to a larger file system, or import a file", why)
	}
	sp, err := newSpool(os.Stdin, limit)
	if errors.Is(err, errSpoolFull) {
		return nil, fmt.Errorf("%w: %s; nothing was imported: pass a larger --max-stdin-bytes, set TMPDIR to a larger file system, or import a file", err, why)
	}
	if err != nil {
		return nil, err
	}
	return &importSource{open: sp.open, close: sp.remove}, nil
}

// maxErrorsRange is the range of the --max-errors flags of the import
// commands.
var maxErrorsRange = numRange{func(x float64) bool { return x >= -1 }, "-1 (any number) or an integer ≥ 0"}

func formatNames() string {
	var names []string
	for _, f := range eventfile.Formats() {
		names = append(names, string(f))
	}
	return strings.Join(names, ", ")
}

// progressPrinter prints import progress to stderr at most every 2 seconds.
func progressPrinter(e *env, path string) func(ingest.Progress) {
	last := time.Now()
	start := last
	return func(p ingest.Progress) {
		if time.Since(last) < 2*time.Second {
			return
		}
		last = time.Now()
		switch p.Phase {
		case "validate":
			fmt.Fprintf(e.stderr, "%s: validating: %d rows read\n", path, p.Rows)
		default:
			rate := float64(p.Total()) / time.Since(start).Seconds()
			fmt.Fprintf(e.stderr, "%s: importing: %d rows read, %d events stored (%.0f events/s)\n", path, p.Rows, p.Stored, rate)
		}
	}
}

// tooManyBadRows is the error of an import refused whole: it says how to
// import the rest.
func tooManyBadRows(bad, maxErrors int) error {
	return fmt.Errorf("nothing was imported: %s, more than --max-errors %d allows; fix the rows listed above, or pass --max-errors N to store the good rows and skip up to N bad ones", features.Plural(bad, "bad row"), maxErrors)
}

func printImportReport(w io.Writer, path string, r *ingest.Report) {
	if r == nil {
		return
	}
	fmt.Fprintf(w, "%s:\n", path)
	switch {
	case r.Stopped && r.Rows == 0:
		fmt.Fprintf(w, "  STOPPED before any row was imported: nothing was stored\n")
		return
	case r.Stopped:
		of := ""
		if r.FileRows > 0 {
			of = fmt.Sprintf(" of %d", r.FileRows)
		}
		fmt.Fprintf(w, "  rows processed           %d%s, through line %d; STOPPED there: the rest was not imported (importing the file again completes it)\n", r.Rows, of, r.Through)
	default:
		fmt.Fprintf(w, "  rows read                %d\n", r.Rows)
	}
	if r.Aborted {
		fmt.Fprintf(w, "  NOT IMPORTED: %s (see --max-errors); nothing was stored\n", features.Plural(r.RejectedRows, "bad row"))
	} else {
		// The store overwrites an event it holds (re-importing is
		// idempotent) without telling whether it held it: say so.
		fmt.Fprintf(w, "  stored                   %d (new or already held: importing again adds no copy)\n", r.Stored)
		fmt.Fprintf(w, "  skipped for no consent   %d\n", r.NoConsent)
		fmt.Fprintf(w, "  expired                  %d\n", r.Expired)
		if r.Duplicates > 0 {
			fmt.Fprintf(w, "  duplicates               %d (same customer, time, type, item and store as a later row of the batch, which replaced them)\n", r.Duplicates)
		}
	}
	fmt.Fprintf(w, "  rejected                 %d%s\n", r.RejectedRows, rejectedReasons(r))
	if len(r.Skipped) > 0 {
		n := 0
		for _, v := range r.Skipped {
			n += v
		}
		fmt.Fprintf(w, "  skipped by the format    %d%s\n", n, byReason(r.Skipped))
	}
	if s := r.Elapsed.Seconds(); s > 0 && !r.Aborted {
		fmt.Fprintf(w, "  elapsed                  %.2f s (%.0f rows/s)\n", s, float64(r.Rows)/s)
	}
	if len(r.BadRows) > 0 {
		fmt.Fprintf(w, "  bad rows:\n")
		for _, err := range r.BadRows {
			fmt.Fprintf(w, "    %v\n", err)
		}
		if r.BadRowsOmitted > 0 {
			fmt.Fprintf(w, "    … and %d more (--max-reported)\n", r.BadRowsOmitted)
		}
	}
}

// printNoConsentHint explains a file whose valid rows are mostly of
// customers without consent to personalization, which are not stored.
func printNoConsentHint(w io.Writer, r *ingest.Report) {
	if r == nil || r.NoConsent == 0 || 2*r.NoConsent <= r.Total() {
		return
	}
	fmt.Fprintf(w, "  note: %d of %d events were of customers without consent to personalization and were not\n", r.NoConsent, r.Total())
	fmt.Fprintln(w, `        stored. Import their consent first ('discret consent import FILE'), or, where the`)
	fmt.Fprintln(w, `        law allows opt-out, set "consent_defaults" in the configuration (README "Configuration").`)
}

// printExpiredHint explains a file whose valid rows are mostly past their
// retention period, as an old public dataset's are: it is not an error,
// but the user probably expected them stored.
func printExpiredHint(w io.Writer, r *ingest.Report, p retention.Policy) {
	if r == nil || r.Expired == 0 || 2*r.Expired <= r.Total() {
		return
	}
	var periods []string
	for _, k := range privacy.EventKinds {
		periods = append(periods, fmt.Sprintf("%s %s", k, p.Period(k)))
	}
	fmt.Fprintf(w, "  note: %d of %d events were past their retention period and were not stored\n", r.Expired, r.Total())
	fmt.Fprintf(w, "        (in force: %s, counted from each event's time).\n", strings.Join(periods, ", "))
	fmt.Fprintln(w, `        To keep older events, set longer periods in the "retention" section of the configuration`)
	fmt.Fprintln(w, `        file (--config FILE or DISCRET_CONFIG; README "Configuration"), e.g. {"retention": {"purchase": "30y"}},`)
	fmt.Fprintln(w, `        and pass --accept-config-change once: the data directory recorded the periods above.`)
	fmt.Fprintln(w, `        'discret eval FILE' evaluates a dataset file without storing it.`)
}

// rejectedReasons formats the bad fields of r's rejected rows by reason,
// " (invalid time: 2, invalid type: 1)", saying when a row counts under
// several.
func rejectedReasons(r *ingest.Report) string {
	s := byReason(r.Rejected)
	n := 0
	for _, v := range r.Rejected {
		n += v
	}
	if n > r.RejectedRows {
		s = strings.TrimSuffix(s, ")") + "; a row with several bad fields counts under each)"
	}
	return s
}

// byReason formats counts by reason as " (a: 1, b: 2)".
func byReason(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
