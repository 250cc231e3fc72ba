package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os/user"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/retention"
)

// cliActor is the actor of the command line in the audit trail: "cli" and
// the OS user running it, if os/user knows them.
func cliActor() store.AuditActor {
	a := store.AuditActor{Via: store.ViaCLI}
	if u, err := user.Current(); err == nil && store.ValidAuditActorName(u.Username) {
		a.Name = u.Username
	}
	return a
}

// defaultAuditLimit is the default of `discret audit --limit`.
const defaultAuditLimit = 100

func auditCommand() *command {
	var since, until, actions, customer string
	var asJSON bool
	limit := defaultAuditLimit
	return &command{
		name:    "audit",
		args:    "",
		summary: "list the audit trail of exports, erasures and administrative actions",
		help: `Audit lists the audit trail of the data directory, newest first: one entry
per customer export ('discret export', the API's ExportCustomer) and erasure
('discret forget', ForgetCustomer), API key created or revoked, model
release made current by hand ('discret models use') or by a training run
('discret train', TrainModel, serve --train-interval), non-private release
deleted with a customer's data (by an erasure or a withdrawal of
personalization), file of consent choices imported ('discret consent
import'), backup copy made or deleted ('discret backup', serve
--backup-dir), restore of a copy ('discret restore'), and privacy settings
of --config recorded or changed (the first command on a data directory, then
each that runs under other settings: retention periods, consent defaults,
privacy.non_private, audit.retention; see --accept-config-change). A refused
or failed action has no entry; individual consent changes have none either
(the consent history records each, with its time and source: 'discret
consent get').

Columns:
  TIME     when the action took effect (UTC, to the second)
  ACTION   export, forget, apikey.create, apikey.revoke, model.use,
           model.train, consent.import, model.retire, backup,
           backup.delete, restore or config
  ACTOR    who: "cli (USER)" for the command line and the OS user who ran
           it, "api key ID (NAME)" for the API key of an API request,
           "schedule" for the server's periodic training
  SUBJECT  for export, forget and model.retire, an opaque reference to the
           customer (16 hex digits of a one-way hash of their
           pseudonym): the same customer has the same reference, and
           nothing in the trail names them; --customer compares the whole
           hash
  OBJECT   the API key's id, the model release's version (model.retire:
           "V (current → W)" if V was current and W is current now), the
           consent file's base name, or the backup copy's directory name
  COUNTS   the outcome: records exported or erased per table (consent,
           events, coupon_pushes; an export's consent counts choices,
           an erasure's the one consent record, its whole history), a
           consent file's rows and customers
           (an import that stopped partway: customers_applied and
           incomplete=1), a backup's records and bytes, what a restore
           carried forward (customers_erased, consent_records, removed_*,
           and the entries updated per table taken from the replaced
           store)

--since and --until take a time (RFC 3339, or a day: 2026-03-01, UTC) or
how long ago (a Go duration such as 36h, or a period: 30d, 2w, 6mo, 1y):
entries at or after --since, before --until. --customer ID lists the entries
about one customer (the raw id, pseudonymized and hashed as the trail does;
it never leaves this machine). --json prints one JSON object per line with
the same fields (subject only for customer actions). --limit 0 lists every
entry.

Entries expire after audit.retention in the configuration (default 5y, the
limitation period in many EU countries; set it to your legal hold). An
erasure does not remove the entries about its customer. While 'discret
serve' runs, read the trail through its API: GET /v1/audit, or POST
/v1/audit:search to filter by customer.`,
		flags: func(fs *flag.FlagSet, _ *env) {
			fs.StringVar(&since, "since", "", "list entries at or after `WHEN` (RFC 3339, a day such as 2026-03-01, or how long ago: 36h, 30d, 1y)")
			fs.StringVar(&until, "until", "", "list entries before `WHEN` (as --since)")
			fs.StringVar(&actions, "action", "", "list only the comma-separated `ACTIONS`: "+store.AuditActionNames())
			fs.StringVar(&customer, "customer", "", "list only the entries about customer `ID` (the raw id)")
			fs.BoolVar(&asJSON, "json", false, "print JSON Lines instead of a table")
			fs.IntVar(&limit, "limit", defaultAuditLimit, "print at most `N` entries (0: all)")
		},
		noArgs: true,
		run: func(ctx context.Context, e *env, _ []string) error {
			if err := e.checkRanges(flagRange{"limit", atLeast(0)}); err != nil {
				return err
			}
			now := time.Now()
			var q store.AuditQuery
			var err error
			if q.Since, err = parseWhen("since", since, now); err != nil {
				return err
			}
			if q.Until, err = parseWhen("until", until, now); err != nil {
				return err
			}
			if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
				return usagef("--since %s is not before --until %s", q.Since.Format(time.RFC3339), q.Until.Format(time.RFC3339))
			}
			if e.isSet("action") {
				if q.Actions, err = parseList("action", actions, store.AuditActionNames(), store.ParseAuditAction); err != nil {
					return err
				}
			}
			var c privacy.CustomerID
			if e.isSet("customer") {
				if c, err = features.ParseCustomer(customer); err != nil {
					return usagef("--customer: %v", err)
				}
			}
			q.Limit = limit
			d, err := openData(ctx, e, false)
			if err != nil {
				return err
			}
			defer d.Close()
			if e.isSet("customer") {
				q.Subject = store.SubjectOf(d.pseudonyms.Pseudonymize(c))
			}
			entries, more, err := d.db.Audit(ctx, q)
			if err != nil {
				return err
			}
			if asJSON {
				err = printAuditJSON(e, entries)
			} else {
				err = printAuditTable(e, entries)
			}
			if err == nil && more {
				fmt.Fprintf(e.stderr, "more entries follow: raise --limit (0: all) or narrow with --since, --until, --action\n")
			}
			return err
		},
	}
}

// parseWhen parses the time of the flag --name: RFC 3339, a day (UTC), or
// how long before now (a Go duration or a retention period). "" is zero.
func parseWhen(name, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	if p, err := retention.ParsePeriod(s); err == nil {
		return p.Before(now), nil
	}
	return time.Time{}, usagef("--%s %q: want a time (RFC 3339, or a day such as 2026-03-01) or how long ago (a duration > 0 such as 36h, or a period such as 30d, 2w, 6mo, 1y)", name, s)
}

// auditJSON is an entry as `discret audit --json` prints it.
type auditJSON struct {
	ID      string           `json:"id"`
	Time    time.Time        `json:"time"`
	Action  string           `json:"action"`
	Actor   auditActorJSON   `json:"actor"`
	Subject string           `json:"subject,omitempty"`
	Object  string           `json:"object,omitempty"`
	Counts  map[string]int64 `json:"counts"`
}

type auditActorJSON struct {
	Via   string `json:"via"`
	KeyID string `json:"key_id,omitempty"`
	Name  string `json:"name,omitempty"`
}

func printAuditJSON(e *env, entries []store.AuditEntry) error {
	enc := json.NewEncoder(e.stdout)
	for _, a := range entries {
		counts := a.Counts
		if counts == nil {
			counts = map[string]int64{}
		}
		err := enc.Encode(auditJSON{
			ID: a.ID, Time: a.Time, Action: a.Action.String(),
			Actor:   auditActorJSON{Via: a.Actor.Via.String(), KeyID: a.Actor.KeyID, Name: a.Actor.Name},
			Subject: a.Subject.Short(), Object: a.Object, Counts: counts,
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func printAuditTable(e *env, entries []store.AuditEntry) error {
	if len(entries) == 0 {
		fmt.Fprintln(e.stdout, "no audit entries")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tACTION\tACTOR\tSUBJECT\tOBJECT\tCOUNTS")
	for _, a := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Time.Format(time.RFC3339), a.Action, a.Actor,
			cmp.Or(a.Subject.Short(), "-"), cmp.Or(a.Object, "-"), cmp.Or(formatKV(a.Counts), "-"))
	}
	return tw.Flush()
}

// formatKV writes m as "consent=1 events=12", in name order; a float64 is
// written as %g writes it.
func formatKV[V int64 | float64](m map[string]V) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%v", k, m[k])
	}
	return b.String()
}
