package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/discret-io/discret/model/budget"
	"github.com/discret-io/discret/model/release"
)

func privacyCommand() *command {
	return &command{
		name:    "privacy",
		summary: "report the privacy ledger and the budget spent",
		help: `Privacy reports how much privacy budget the releases made from customers'
data have spent. Every release (a model with its popularity lists) is charged
to the ledger with its zCDP cost ρ, its (ε, δ), its components and the data
window it used; releases compose by adding ρ. The cap bounds the cumulative
ε over a rolling window (configuration: privacy.cap_epsilon, cap_delta,
cap_window; default ε = 10 over 365 days at δ = 1e-6), and 'discret train'
refuses a release that would exceed it.`,
		sub: []*command{privacyReportCommand()},
	}
}

func privacyReportCommand() *command {
	var asJSON bool
	return &command{
		name:    "report",
		args:    "",
		summary: "print the ledger and the cumulative spend against the cap",
		help: `Report prints every ledger entry, oldest first, then the cumulative ε of the
private releases in the cap's rolling window, against the cap.

The STATUS column says what became of each charged run: current, stored
(kept, not current), deleted (pruned, or erased with a customer's data:
the charge stays, the spend happened), failed (stopped before its release
was stored; what it had computed with noise is charged), or interrupted (the
process ended before the run could record its release or its failure:
the charge it wrote before drawing any noise, its whole planned cost,
stands).

--json prints one object: "ledger", the entries with their "status", and
"spend". A value with no finite bound is null, not 0: the rho, epsilon and
delta of a non-private release (private false; it has no "mechanism" or
"neighbouring" either, as it claims no differential privacy), and the
spend's epsilon or cap_epsilon when unbounded. A component's epsilon is that
of its own rho at its entry's delta less delta_threshold: informational,
only the entry's epsilon (all its components composed) is a guarantee.`,
		flags: func(fs *flag.FlagSet, _ *env) {
			fs.BoolVar(&asJSON, "json", false, "print the ledger and the spend as JSON")
		},
		noArgs: true,
		run: func(ctx context.Context, e *env, _ []string) error {
			d, err := openData(e, false)
			if err != nil {
				return err
			}
			defer d.Close()
			recs, err := d.db.Ledger(ctx)
			if err != nil {
				return err
			}
			entries, err := budget.Decode(recs)
			if err != nil {
				return err
			}
			now := time.Now().UTC()
			spend, err := d.settings.cap.Spent(entries, now)
			if err != nil {
				return err
			}
			st, err := storedReleases(ctx, d)
			if err != nil {
				return err
			}
			rows := ledgerRows(budget.Effective(entries), st)
			if asJSON {
				return writeJSON(e.stdout, privacyJSON(rows, spend))
			}
			printLedger(e.stdout, rows, spend)
			return nil
		},
	}
}

// Statuses of a ledger entry's run in the report.
const (
	statusCurrent     = "current"
	statusStored      = "stored"
	statusDeleted     = "deleted"
	statusFailed      = "failed"
	statusInterrupted = "interrupted"
)

// releases is which releases the store holds: version → current.
type releases map[string]bool

// storedReleases lists the stored releases of d.
func storedReleases(ctx context.Context, d *dataEnv) (releases, error) {
	sums, err := release.List(ctx, d.db)
	if err != nil {
		return nil, err
	}
	out := make(releases, len(sums))
	for _, s := range sums {
		out[s.Card.Version] = s.Current
	}
	return out, nil
}

// ledgerRow is a ledger entry and what became of its run.
type ledgerRow struct {
	budget.Entry
	Status string
}

// ledgerRows gives each of entries (budget.Effective) its status.
func ledgerRows(entries []budget.Entry, st releases) []ledgerRow {
	rows := make([]ledgerRow, len(entries))
	for i, en := range entries {
		status := statusDeleted
		switch current, ok := st[en.Version]; {
		case en.Pending:
			status = statusInterrupted
		case en.Failed != "":
			status = statusFailed
		case ok && current:
			status = statusCurrent
		case ok:
			status = statusStored
		}
		rows[i] = ledgerRow{Entry: en, Status: status}
	}
	return rows
}

// entryJSON is a ledger row in the --json report: the fields of its
// budget.Entry and its status, with two corrections. A non-private release
// has null rho, epsilon and delta (its loss is unbounded: the entry stores
// zeros) and no mechanism or neighbouring relation, which would claim DP.
// Each component's epsilon is computed from its ρ (Entry.ComponentEpsilon):
// the components of a failed run are stored with 0.
type entryJSON struct {
	Time           time.Time          `json:"time"`
	Version        string             `json:"version"`
	Private        bool               `json:"private"`
	Mechanism      string             `json:"mechanism,omitempty"`
	Neighbouring   string             `json:"neighbouring,omitempty"`
	Rho            *float64           `json:"rho"`     // null if non-private
	Epsilon        *float64           `json:"epsilon"` // null if non-private
	Delta          *float64           `json:"delta"`   // null if non-private
	DeltaThreshold float64            `json:"delta_threshold,omitempty"`
	RNG            string             `json:"rng"`
	Window         budget.Window      `json:"window"`
	Components     []budget.Component `json:"components,omitempty"`
	Parameters     map[string]float64 `json:"parameters,omitempty"`
	Failed         string             `json:"failed,omitempty"`
	Pending        bool               `json:"pending,omitempty"`
	Status         string             `json:"status"`
}

func newEntryJSON(row ledgerRow) entryJSON {
	en := row.Entry
	j := entryJSON{
		Time: en.Time, Version: en.Version, Private: en.Private, DeltaThreshold: en.DeltaThreshold, RNG: en.RNG, Window: en.Window,
		Parameters: en.Parameters, Failed: en.Failed, Pending: en.Pending, Status: row.Status,
	}
	if !en.Private {
		return j
	}
	j.Mechanism, j.Neighbouring = en.Mechanism, en.Neighbouring
	j.Rho, j.Epsilon, j.Delta = &en.Rho, &en.Epsilon, &en.Delta
	j.Components = slices.Clone(en.Components)
	for i, c := range j.Components {
		// A component ρ the conversion refuses (never written by
		// model/train) keeps its stored ε.
		if eps, err := en.ComponentEpsilon(c); err == nil {
			j.Components[i].Epsilon = eps
		}
	}
	return j
}

// privacyJSON is the --json form of the report.
func privacyJSON(rows []ledgerRow, s budget.Spend) any {
	type spend struct {
		From           time.Time `json:"from"`
		To             time.Time `json:"to"`
		Window         string    `json:"window"`
		Releases       int       `json:"releases"`
		NonPrivate     int       `json:"non_private"`
		Rho            float64   `json:"rho"`
		DeltaThreshold float64   `json:"delta_threshold"`
		Delta          float64   `json:"delta"`
		Epsilon        *float64  `json:"epsilon"` // null if unbounded
		CapEpsilon     *float64  `json:"cap_epsilon"`
		CapDelta       float64   `json:"cap_delta"`
	}
	finite := func(x float64) *float64 {
		if math.IsInf(x, 0) {
			return nil
		}
		return &x
	}
	ledger := make([]entryJSON, len(rows))
	for i, row := range rows {
		ledger[i] = newEntryJSON(row)
	}
	return struct {
		Ledger []entryJSON `json:"ledger"`
		Spend  spend       `json:"spend"`
	}{ledger, spend{
		From: s.From, To: s.To, Window: s.Cap.Window.String(), Releases: s.Releases, NonPrivate: s.NonPrivate,
		Rho: s.Rho, DeltaThreshold: s.DeltaThreshold, Delta: s.Delta, Epsilon: finite(s.Epsilon),
		CapEpsilon: finite(s.Cap.Epsilon), CapDelta: s.Cap.Delta,
	}}
}

func printLedger(w io.Writer, rows []ledgerRow, s budget.Spend) {
	if len(rows) == 0 {
		fmt.Fprintln(w, "the privacy ledger is empty: no release has been made")
	} else {
		fmt.Fprintf(w, "Privacy ledger (%d entries, oldest first):\n", len(rows))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tVERSION\tSTATUS\tε\tδ\tρ\tRNG\tDATA WINDOW\tIN WINDOW")
		for _, row := range rows {
			en := row.Entry
			eps, delta, rho := "∞ NON-PRIVATE", "-", "-"
			if en.Private {
				eps, delta, rho = fmt.Sprintf("%.4g", en.Epsilon), fmt.Sprintf("%g", en.Delta), fmt.Sprintf("%.4g", en.Rho)
			}
			in := ""
			if en.Time.After(s.From) {
				in = "yes"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s – %s\t%s\n", en.Time.Format(time.RFC3339), en.Version, row.Status, eps, delta, rho, en.RNG,
				en.Window.From.Format(time.DateOnly), en.Window.To.Format(time.DateOnly), in)
		}
		tw.Flush()
		for _, row := range rows {
			en := row.Entry
			switch row.Status {
			case statusFailed:
				fmt.Fprintf(w, "  %s stopped before its release was stored, and what it had computed with noise is charged: %s\n", en.Version, en.Failed)
			case statusInterrupted:
				fmt.Fprintf(w, "  %s ended before it could record its release or its failure (the process stopped); the charge it wrote before drawing any noise, its whole planned cost, stands\n", en.Version)
			}
			if len(en.Components) == 0 {
				continue
			}
			var parts []string
			for _, c := range en.Components {
				p := c.Name
				switch {
				case c.Multiplier > 0:
					p += fmt.Sprintf(" z=%.4g", c.Multiplier)
					if c.Releases > 1 {
						p += fmt.Sprintf("×%d", c.Releases)
					}
				case en.Failed != "":
					// A failed run's ALS training, charged whole: its
					// steps are not recorded one by one.
					p += " (every planned step)"
				}
				p += fmt.Sprintf(" ρ=%.3g", c.Rho)
				if c.DeltaThreshold > 0 {
					p += fmt.Sprintf(" δτ=%g", c.DeltaThreshold)
				}
				parts = append(parts, p)
			}
			fmt.Fprintf(w, "  %s: %s\n", en.Version, strings.Join(parts, ", "))
		}
	}
	fmt.Fprintf(w, "\nCumulative spend over the last %v (since %s):\n", s.Cap.Window, s.From.Format(time.RFC3339))
	fmt.Fprintf(w, "  ε = %.4g at δ = %g, private releases: %d (ρ = %.4g", s.Epsilon, s.Delta, s.Releases, s.Rho)
	if s.DeltaThreshold > 0 {
		fmt.Fprintf(w, ", of which δ_τ = %g for key selections", s.DeltaThreshold)
	}
	fmt.Fprintln(w, ")")
	if math.IsInf(s.Cap.Epsilon, 1) {
		fmt.Fprintln(w, "  cap: none (privacy.cap_epsilon = inf)")
	} else {
		fmt.Fprintf(w, "  cap: ε = %g at δ = %g: %.1f %% used\n", s.Cap.Epsilon, s.Cap.Delta, 100*s.Epsilon/s.Cap.Epsilon)
	}
	if s.NonPrivate > 0 {
		fmt.Fprintf(w, "  non-private releases in the window: %d (not differentially private, not counted; servers refuse them unless allowed)\n", s.NonPrivate)
	}
}
