package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/notice"
)

// Data-subject commands: export (GDPR access and portability) and forget
// (erasure), plus compact, which makes erasures physical.

func exportCommand() *command {
	return &command{
		name:    "export",
		args:    "CUSTOMER",
		summary: "print everything held about a customer, as JSON (GDPR access)",
		help: `Export prints, as JSON, everything Discret holds about CUSTOMER (the raw id,
pseudonymized at once; the export names it by its "pseudonym", as the API's
does): the consent history, every stored event with the date it expires, the
coupons offered in stores ("coupon_pushes"), and the data derived from them
("derived": Discret stores nothing derived per customer; it lists the model
releases whose training window covered the customer's events), the time of
an earlier erasure ("erased_at"), the audit entries about the customer
("audit": when their data was exported or erased before, and through which
channel: cli, api or schedule, not who; 'discret audit' shows who), and
what is done with the data
("processing": purposes, categories, recipients, the retention periods in
force, source, rights; GDPR art. 15(1)). It is the answer to a GDPR access or
portability request. The export itself is recorded in the audit trail, with
the numbers of records exported; if that fails, nothing is printed.`,
		run: func(ctx context.Context, e *env, args []string) error {
			d, p, err := openCustomer(ctx, e, args)
			if err != nil {
				return err
			}
			defer d.Close()
			return exportCustomer(ctx, e.stdout, d.db, p, d.settings)
		},
	}
}

// exportCustomer writes the export of customer p to w, as JSON, once it
// is recorded in the audit trail (release.ExportCustomer): if the entry
// cannot be written, nothing is written to w.
func exportCustomer(ctx context.Context, w io.Writer, db release.Exporter, p privacy.PseudoID, set settings) error {
	data, derived, err := release.ExportCustomer(ctx, db, p)
	if err != nil {
		return err
	}
	return writeJSON(w, customerExport{CustomerData: data, Derived: derived, Processing: notice.For(set.retention, set.consent, set.auditRetention)})
}

// customerWords names customer p in output by their audit subject, the
// SUBJECT of discret audit: "customer c4be8b59b2977ce3 (audit subject)". Not
// by their pseudonym, which an erasure removes from the store but not from
// a log of the output.
func customerWords(p privacy.PseudoID) string {
	return fmt.Sprintf("customer %s (audit subject)", store.SubjectOf(p).Short())
}

// openCustomer parses the single CUSTOMER argument of a data-subject command,
// opens the data directory and returns the customer's pseudonym. The caller
// closes the data environment.
func openCustomer(ctx context.Context, e *env, args []string) (*dataEnv, privacy.PseudoID, error) {
	if len(args) != 1 {
		return nil, privacy.PseudoID{}, usagef("want exactly one CUSTOMER")
	}
	c, err := features.ParseCustomer(args[0])
	if err != nil {
		return nil, privacy.PseudoID{}, usagef("CUSTOMER: %v", err)
	}
	d, err := openData(ctx, e, false)
	if err != nil {
		return nil, privacy.PseudoID{}, err
	}
	return d, d.pseudonyms.Pseudonymize(c), nil
}

// customerExport is the answer to an access request: what the store holds
// about the customer and what is derived from it (release.Derived: nothing
// stored, the releases their data may have entered).
type customerExport struct {
	store.CustomerData
	Derived release.Derived `json:"derived"`
	// Processing is what the retailer does with the data (GDPR art.
	// 15(1)), under the configuration in force.
	Processing notice.Notice `json:"processing"`
}

func forgetCommand() *command {
	return &command{
		name:    "forget",
		args:    "CUSTOMER",
		summary: "erase everything held about a customer (GDPR erasure)",
		help: `Forget deletes everything held about CUSTOMER — consent history, events and
derived data — in one atomic step, and prints what was removed, naming the
customer by their audit subject (the SUBJECT of 'discret audit'), never by
their pseudonym, which the erasure removes from the store. Reads stop
returning it at once. The bytes leave the disk at the next compaction: run
'discret compact' to force it.

One fact stays, so that the erasure lasts: its time, under a one-way hash of
the pseudonym. Nothing dated at or before it is stored again (a consent file
or an event file from before the erasure, imported again); the customer
counts as having withdrawn every purpose until they choose again, later.
'discret export' shows it as "erased_at". The erasure is recorded in the
audit trail ('discret audit --customer CUSTOMER' finds it), which names the
customer only by another one-way hash and is not erased.

Private model releases stay: their (ε, δ) guarantee covers every customer,
erased or not. Non-private releases (trained with --epsilon inf) carry no
such guarantee, so Forget first deletes every one whose training window
covers an event of CUSTOMER; if the current release is one of them, the
newest remaining private release becomes current (none if there is none).`,
		run: func(ctx context.Context, e *env, args []string) error {
			d, p, err := openCustomer(ctx, e, args)
			if err != nil {
				return err
			}
			defer d.Close()
			got, err := release.ForgetCustomer(ctx, d.db, p)
			printRetired(e.stdout, got, "this customer's events") // even on a later error: they are gone
			if err != nil {
				return err
			}
			if removed := got.Removed; removed.Total() == 0 {
				fmt.Fprintf(e.stdout, "nothing held about %s\n", customerWords(p))
			} else {
				fmt.Fprintf(e.stdout, "erased %s: %s%s\n", customerWords(p), features.Plural(removed.Total(), "record"), byReason(removed))
			}
			for _, dir := range replacedDirs(e.global.data) {
				fmt.Fprintf(e.stdout, "not erased from %s, the data directory that 'discret restore' replaced: check the restore, then delete it\n", dir)
			}
			return nil
		},
	}
}

func compactCommand() *command {
	return &command{
		name:    "compact",
		args:    "",
		summary: "force compaction and value-log GC so erased and expired data leaves the disk",
		help: `Compact deletes the events that the retention periods in force no longer
keep (events stored before a period was shortened), then deletes anew
everything past its expiry or erased (events, coupon pushes, audit
entries: reads hide them at once, but Badger drops them only from the
files a compaction rewrites), flushes the store, compacts every level and
runs value-log garbage collection until nothing is left to rewrite, so
that the bytes of erased and expired data are physically removed from the
data directory now rather than at Badger's next background compaction.
Sizes are the disk space the directory's files occupy. A running server
holds the data directory and does the same every --compact-interval
(serve --help).`,
		noArgs: true,
		run: func(ctx context.Context, e *env, _ []string) error {
			d, err := openData(ctx, e, false)
			if err != nil {
				return err
			}
			defer d.Close()
			before, err := d.db.Usage()
			if err != nil {
				return err
			}
			start := time.Now()
			// Events a shortened retention period no longer keeps (reads
			// hide them already).
			n, err := d.db.DeleteExpired(ctx)
			if err != nil {
				return err
			}
			if n > 0 {
				fmt.Fprintf(e.stdout, "deleted %s older than the retention period in force (stored under a longer period)\n", features.Plural(n, "event"))
			}
			if err := d.db.Compact(ctx); err != nil {
				return err
			}
			after, err := d.db.Usage()
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "compacted %s in %.2f s: %s before, %s after\n", e.global.data, time.Since(start).Seconds(),
				humanBytes(before.Disk), humanBytes(after.Disk))
			return nil
		},
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// printRetired says which non-private releases an erasure or a withdrawal
// deleted (whose events: "this customer's events", …) and what is current
// now.
func printRetired(w io.Writer, got release.Forgotten, whose string) {
	for _, v := range got.Retired {
		fmt.Fprintf(w, "deleted non-private release %s: its data window covers %s, so it may have been trained on them\n", v, whose)
	}
	if got.CurrentRetired {
		if got.Current != "" {
			fmt.Fprintf(w, "current release is now %s (the newest private release)\n", got.Current)
		} else {
			fmt.Fprintln(w, "no release is current now: train one (discret train) or choose one (discret models use)")
		}
	}
}
