package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/eventfile"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

func consentCommand() *command {
	return &command{
		name:    "consent",
		summary: "record, read and import customers' consent",
		help: `Consent records, per customer and per purpose, whether the customer granted
or withdrew consent, when, and through which channel (the source).

Purposes:
  personalization  use my purchase/visit history to train models and
                   personalize my recommendations
  in_store         recognize my store visits and offer me coupons

Customers who never expressed a choice have no consent (opt-in) unless the
configuration says otherwise (consent_defaults). Withdrawing personalization
erases the customer's stored events at once.`,
		sub: []*command{consentSetCommand(), consentGetCommand(), consentImportCommand()},
	}
}

func consentSetCommand() *command {
	var source, at string
	return &command{
		name:    "set",
		args:    "CUSTOMER PURPOSE=granted|withdrawn...",
		summary: "grant or withdraw purposes for one customer",
		help: `Set records consent choices for CUSTOMER (the raw id, pseudonymized at once),
for example:

  discret consent set alice@example.com personalization=granted in_store=withdrawn

Withdrawing personalization erases the customer's events in the same step;
withdrawing in_store erases their store visits and coupon pushes.

For each purpose the choice with the latest time decides, to the second;
of a grant and a withdrawal in the same second, the withdrawal. Without
--time, choices are dated now, or, in the second of the customer's latest
choice for one of the purposes or of their erasure, the next second (Set
waits for it), so that they decide. A --time in the past records an
earlier choice (one made at a till, say); a grant dated in the second of a
withdrawal is recorded but does not decide, and Set says so. A time after
now is recorded as now (a choice takes effect when it is recorded at the
latest), and one more than 5 minutes ahead is refused.

Set prints the decision per purpose and names the customer by their audit
subject (the SUBJECT of 'discret audit', which the trail keeps after an
erasure), never by the raw id or the pseudonym (which an erasure removes
from the store, and would not remove from a log of this output).`,
		flags: func(fs *flag.FlagSet, _ *env) {
			fs.StringVar(&source, "source", "cli", "channel `SOURCE` that collected the choice, a token such as web-form or pos:store-12")
			fs.StringVar(&at, "time", "", "`TIME` the choice was made, RFC 3339 or Unix seconds (default: now)")
		},
		run: func(ctx context.Context, e *env, args []string) error {
			if len(args) < 2 {
				return usagef("want CUSTOMER and at least one PURPOSE=granted|withdrawn")
			}
			c, err := features.ParseCustomer(args[0])
			if err != nil {
				return usagef("CUSTOMER: %v", err)
			}
			now := time.Now().UTC()
			when := now
			if at != "" {
				if when, err = features.ParseTime(at); err != nil {
					return usagef("--time: %v", err)
				}
				if err := (consent.Change{Time: when}).CheckTime(now); err != nil {
					return usagef("--time: %s is in the future (at most %v ahead of the clock)", at, privacy.MaxClockSkew)
				}
			}
			if err := consent.ValidateSource(source); err != nil {
				return usagef("--source: %v", err)
			}
			var changes []consent.Change
			for i, a := range args[1:] {
				name, value, ok := strings.Cut(a, "=")
				p, err := privacy.ParsePurpose(name)
				if !ok || err != nil || (value != "granted" && value != "withdrawn") {
					if features.LooksLikeEmail(a) {
						// A customer id, not to be echoed to a log.
						return usagef("argument %d (withheld: it looks like an e-mail address) is not a choice: the customer comes first, then PURPOSE=granted or PURPOSE=withdrawn", i+2)
					}
					return usagef("%q: want PURPOSE=granted or PURPOSE=withdrawn with PURPOSE personalization or in_store", a)
				}
				// Every choice here has the same time, at which a
				// withdrawal would win: say so rather than record both.
				if slices.ContainsFunc(changes, func(c consent.Change) bool { return c.Purpose == p }) {
					return usagef("%s is given more than once: one choice per purpose", p)
				}
				changes = append(changes, consent.Change{Purpose: p, Granted: value == "granted", Time: when, Source: source})
			}
			d, err := openData(ctx, e, true)
			if err != nil {
				return err
			}
			defer d.Close()
			p := d.pseudonyms.Pseudonymize(c)
			// Dated now, in the second of an erasure or a choice just
			// recorded, the choices would be dropped, or a grant
			// outranked by a withdrawal: date them the next second.
			undated := func(int) bool { return at == "" }
			if err := release.DateUndated(ctx, d.db, p, changes, undated, time.Now, nil); err != nil {
				return err
			}
			res, got, err := release.UpdateConsent(ctx, d.db, p, changes, d.settings.consent)
			printRetired(e.stdout, got, "this customer's events") // even on a later error: they are gone
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, customerWords(p))
			if n := res.PredatingErasure; n > 0 {
				fmt.Fprintf(e.stdout, "%s not recorded: dated at or before this customer's erasure (%s), which holds for everything dated before it\n",
					features.Plural(n, "choice"), res.Record.ErasedAt.Format(time.RFC3339))
			}
			for _, pp := range res.Outranked {
				fmt.Fprintf(e.stdout, "%s=granted recorded but does not decide: a withdrawal dated the same second does (of a grant and a withdrawal in the same second, the withdrawal); give a later --time, or none\n", pp)
			}
			printConsentState(e.stdout, res.Record, d.settings.consent)
			if n := res.Removed.Total(); n > 0 {
				fmt.Fprintf(e.stdout, "withdrawal erased %s%s\n", features.Plural(n, "stored record"), byReason(res.Removed))
			}
			return nil
		},
	}
}

func printConsentState(w io.Writer, r consent.Record, d consent.Defaults) {
	for _, p := range privacy.Purposes {
		state := "no"
		if d.Allows(r, p) {
			state = "yes"
		}
		detail := "never expressed (default)"
		if !r.ErasedAt.IsZero() {
			detail = "none since this customer's erasure " + r.ErasedAt.Format(time.RFC3339) + ", which counts as withdrawn"
		}
		if c, ok := r.Latest(p); ok {
			verb := "withdrawn"
			if c.Granted {
				verb = "granted"
			}
			detail = fmt.Sprintf("%s %s via %s", verb, c.Time.Format(time.RFC3339), c.Source)
		}
		fmt.Fprintf(w, "  %-16s %-3s  %s\n", p, state, detail)
	}
}

func consentGetCommand() *command {
	var asJSON bool
	return &command{
		name:    "get",
		args:    "CUSTOMER",
		summary: "show a customer's consent and its history",
		help: `Get prints the current decision per purpose and the recorded history of
CUSTOMER, naming the customer by their audit subject, as Set does. --json
prints the same, and names the customer by their "pseudonym", as the
export does. After an erasure (discret forget), a purpose without a choice
since is withdrawn, whatever the default; both say when it was.`,
		flags: func(fs *flag.FlagSet, _ *env) {
			fs.BoolVar(&asJSON, "json", false, "print JSON")
		},
		run: func(ctx context.Context, e *env, args []string) error {
			d, p, err := openCustomer(ctx, e, args)
			if err != nil {
				return err
			}
			defer d.Close()
			r, err := d.db.Consent(ctx, p)
			if err != nil {
				return err
			}
			if asJSON {
				out := struct {
					Pseudonym string           `json:"pseudonym"`
					Allowed   map[string]bool  `json:"allowed"`
					History   []consent.Change `json:"history"`
					ErasedAt  time.Time        `json:"erased_at,omitzero"`
				}{p.String(), map[string]bool{}, r.Changes, r.ErasedAt}
				for _, pp := range privacy.Purposes {
					out.Allowed[pp.String()] = d.settings.consent.Allows(r, pp)
				}
				if out.History == nil {
					out.History = []consent.Change{}
				}
				return writeJSON(e.stdout, out)
			}
			fmt.Fprintln(e.stdout, customerWords(p))
			printConsentState(e.stdout, r, d.settings.consent)
			if len(r.Changes) > 0 {
				fmt.Fprintln(e.stdout, "history:")
				for _, c := range r.Changes {
					verb := "withdrawn"
					if c.Granted {
						verb = "granted"
					}
					fmt.Fprintf(e.stdout, "  %s  %-16s %-9s via %s\n", c.Time.Format(time.RFC3339), c.Purpose, verb, c.Source)
				}
			}
			return nil
		},
	}
}

func consentImportCommand() *command {
	var maxErrors int
	return &command{
		name:    "import",
		args:    "FILE...",
		summary: "import consent choices from JSON Lines or CSV",
		help: `Import records consent choices from files, one choice per row:

  JSON Lines: {"customer":"...","purpose":"personalization","granted":true,"time":"2026-01-02T15:04:05Z","source":"web-form"}
  CSV:        customer,purpose,granted,time,source (header row required;
              granted is true or false, in any case)

A first pass validates every row; a file with bad rows is rejected whole
unless --max-errors allows them, and the files after it are still imported
(the exit status is 1 if any file was not). Withdrawals of personalization
erase the customer's events.

The rows may come in any order: a customer's latest choice per purpose
decides, times compared to the second, and of a grant and a withdrawal in
the same second the withdrawal. A choice already recorded (same purpose,
decision, second and source) is not recorded again, so importing a file
twice changes nothing; the summary counts those customers as unchanged.
Each file imported is recorded in the audit trail with its base name and
counts (rows, customers, erasures), never with a customer ('discret
audit'): once before anything is applied ("started", which is all a
killed import leaves), then with the outcome; one that stops partway
(interrupted, or a store error) too, with the customers applied so far.`,
		flags: func(fs *flag.FlagSet, _ *env) {
			fs.IntVar(&maxErrors, "max-errors", 0, "import a file with at most `N` bad rows, skipping them (-1: any number)")
		},
		run: func(ctx context.Context, e *env, args []string) error {
			if len(args) == 0 {
				return usagef("no FILE given")
			}
			if err := e.checkRanges(flagRange{"max-errors", maxErrorsRange}); err != nil {
				return err
			}
			d, err := openData(ctx, e, true)
			if err != nil {
				return err
			}
			defer d.Close()
			return importFiles(e, "consent import", args, func(path string) error {
				return importConsentFile(ctx, e, d, path, maxErrors)
			})
		},
	}
}

// importConsentFile validates the whole file, then applies the changes
// grouped by customer.
func importConsentFile(ctx context.Context, e *env, d *dataEnv, path string, maxErrors int) error {
	now := time.Now()
	read := func(fn func(eventfile.ConsentRecord)) error {
		f, err := eventfile.Open(path)
		if err != nil {
			return withoutPath(err, path)
		}
		defer f.Close()
		for rec, err := range eventfile.ReadConsent(ctx, f) {
			if err != nil {
				return err
			}
			if rec.Err == nil && rec.Change.CheckTime(now) != nil {
				// A bad row, as for events: the store would refuse the file.
				rec.Err = &features.RowError{Row: rec.Line, Err: &features.FieldError{
					Field: features.FieldTime, Value: rec.Change.Time.UTC().Format(time.RFC3339), Err: features.ErrFuture}}
			}
			fn(rec)
		}
		return nil
	}
	var bad []error
	rows := 0
	err := read(func(rec eventfile.ConsentRecord) {
		rows++
		if rec.Err != nil {
			bad = append(bad, rec.Err)
		}
	})
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		fmt.Fprintf(e.stdout, "%s: %s:\n", path, features.Plural(len(bad), "bad row"))
		writeBadRows(e.stdout, bad)
	}
	if maxErrors >= 0 && len(bad) > maxErrors {
		return tooManyBadRows(len(bad), maxErrors)
	}
	// Group by pseudonym, keeping the file order of each customer's changes.
	byCustomer := map[privacy.PseudoID][]consent.Change{}
	var order []privacy.PseudoID
	err = read(func(rec eventfile.ConsentRecord) {
		if rec.Err != nil {
			return
		}
		p := d.pseudonyms.Pseudonymize(rec.Customer)
		if _, ok := byCustomer[p]; !ok {
			order = append(order, p)
		}
		byCustomer[p] = append(byCustomer[p], rec.Change)
	})
	if err != nil {
		return err
	}
	ups := make([]store.ConsentUpdate, len(order))
	for i, p := range order {
		ups[i] = store.ConsentUpdate{Customer: p, Changes: byCustomer[p]}
	}
	return applyConsentImport(ctx, e.stdout, d.db, path, ups, d.settings.consent, rows, len(bad))
}

// consentImporter is what applyConsentImport needs of the store
// (*store.DB).
type consentImporter interface {
	release.BulkWithdrawer
	RecordAudit(ctx context.Context, e store.AuditEntry) error
}

var _ consentImporter = (*store.DB)(nil)

// applyConsentImport applies the updates of the consent file path (rows
// rows, of which badRows were skipped), records the import in the audit
// trail and prints its summary. The store offers no transaction that
// spans an import, so it has two entries: one before anything is applied
// (counts "started"), so that an import killed outright is in the trail,
// and one after, with the outcome. An import that stops partway (an
// interruption, a store error) is recorded too, with what it applied, and
// the entry is written even if ctx was cancelled meanwhile: the changes
// are in the store either way.
func applyConsentImport(ctx context.Context, w io.Writer, db consentImporter, path string, ups []store.ConsentUpdate, d consent.Defaults, rows, badRows int) error {
	start := time.Now()
	counts := func() map[string]int64 {
		return map[string]int64{"rows": int64(rows), "bad_rows": int64(badRows), "customers": int64(len(ups))}
	}
	entry := store.AuditEntry{Action: store.AuditConsentImport, Object: store.AuditObject(filepath.Base(path)), Counts: counts()}
	entry.Counts["started"] = 1
	if err := db.RecordAudit(ctx, entry); err != nil {
		return fmt.Errorf("nothing imported: recording its start in the audit trail: %w", err)
	}
	entry.Counts = counts()
	results, done, got, err := release.UpdateConsents(ctx, db, ups, d)
	printRetired(w, got, "events of customers who withdrew personalization") // even on a later error: they are gone
	// The command fails if the outcome cannot be recorded.
	record := func() error {
		if err := db.RecordAudit(context.WithoutCancel(ctx), entry); err != nil {
			return fmt.Errorf("not recorded in the audit trail: %w", err)
		}
		return nil
	}
	if err != nil {
		err = fmt.Errorf("after %d of %d customers: %w", done, len(ups), err)
		entry.Counts["customers_applied"], entry.Counts["incomplete"] = int64(done), 1
		return errors.Join(err, record())
	}
	erased, removed, updated, predating := 0, 0, 0, 0
	for _, res := range results {
		if n := res.Removed.Total(); n > 0 {
			erased++
			removed += n
		}
		if res.Recorded > 0 {
			updated++
		}
		predating += res.PredatingErasure
	}
	c := entry.Counts
	c["customers_updated"], c["erasures"], c["records_removed"], c["choices_predating_erasure"] = int64(updated), int64(erased), int64(removed), int64(predating)
	if err := record(); err != nil {
		return fmt.Errorf("imported, but %w", err)
	}
	unchanged := ""
	if n := len(ups) - updated; n > 0 && predating > 0 {
		unchanged = fmt.Sprintf(" (%s unchanged: every choice already recorded or dated before the customer's erasure)", features.Plural(n, "customer"))
	} else if n > 0 {
		unchanged = fmt.Sprintf(" (%s unchanged: every choice already recorded)", features.Plural(n, "customer"))
	}
	if predating > 0 {
		fmt.Fprintf(w, "%s not recorded: dated at or before the erasure of their customer, which holds for everything dated before it\n", features.Plural(predating, "choice"))
	}
	fmt.Fprintf(w, "%s: %s, %d bad, %s updated%s, %s (%s removed) in %.2f s\n",
		path, features.Plural(rows, "row"), badRows, features.Plural(updated, "customer"), unchanged, features.Plural(erased, "erasure"), features.Plural(removed, "record"), time.Since(start).Seconds())
	return nil
}

// ingestMaxListed caps the bad rows that consent import and the catalogue
// imports list.
const ingestMaxListed = 100

// writeBadRows writes one indented line per error of bad, the first
// ingestMaxListed, then a line counting the others.
func writeBadRows(w io.Writer, bad []error) {
	for i, err := range bad {
		if i == ingestMaxListed {
			fmt.Fprintf(w, "  … and %d more bad rows\n", len(bad)-i)
			return
		}
		fmt.Fprintf(w, "  %v\n", err)
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
