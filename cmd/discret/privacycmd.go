package main

import (
	"cmp"
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
to the ledger with its zCDP cost ρ, its (ε, δ), its components, the days of
the oldest and newest event it used, and the cap in force; releases compose
by adding ρ. The cap bounds the cumulative ε over a rolling window
(configuration: privacy.cap_epsilon, cap_delta, cap_window; default ε = 10
over 365 days at δ = 1e-6; cap_epsilon "inf": no cap), and 'discret train'
refuses a release that would exceed it. The cumulative ε is stated, and
checked, at the smallest of the cap's δ and the releases' own. privacy.non_private = "refuse" makes it refuse
non-private runs (--epsilon inf) too.`,
		sub: []*command{privacyReportCommand()},
	}
}

func privacyReportCommand() *command {
	var asJSON, verbose bool
	return &command{
		name:    "report",
		args:    "",
		summary: "print the ledger and the cumulative spend against the cap",
		help: `Report prints every ledger entry, oldest first, what each release is made
of, then the cumulative ε of the private releases in the cap's rolling
window against the cap, and a legend of its terms. Releases add up by
their ρ, not their ε: the cumulative ε is less than the sum of the
releases' own ε.

The CAP column is the cap recorded with each entry when it was charged: the
one a private release was checked against (entries written before Discret
recorded it say "not recorded"). The cumulative spend is computed with the
cap of the configuration the report is given (--config, or the defaults);
when it differs from the cap recorded with the latest release, the report
says so and gives the spend against the recorded cap too. EVENTS USED are
the days of the oldest and newest event each run trained on, from the data
("not recorded" for entries written before Discret recorded them).
--verbose adds the exact figures of each entry: per component its noise
multiplier z = σ/Δ, σ, sensitivity Δ, releases and ρ, the data window the
run queried (from the oldest time retention keeps to the training time)
and the mechanism's parameters.

The STATUS column says what became of each charged run: current, stored
(kept, not current), deleted (pruned, or erased with a customer's data:
the charge stays, the spend happened), failed (stopped before its release
was stored; what it had computed with noise is charged), or interrupted (the
process ended before the run could record its release or its failure:
the charge it wrote before drawing any noise, its whole planned cost,
stands).

--json prints one object: "ledger", the entries with their "status" (and,
when recorded, "cap", "events" and "selected": "items", "stores", what
the run chose from the data by a DP threshold, which spent its
delta_threshold), "spend", and "recorded_cap": the cap
recorded with the latest entry that records one, with "differs" (from the
spend's cap) and the spend's "epsilon" against it; null if none does. ε is
exact in JSON (e.g. 0.9999999999997085 for a target of 1 at the default δ:
the calibration rounds towards privacy), and rounded to 4 significant
digits in the text. A value with no finite bound is null, not 0: the rho,
epsilon and delta of a non-private release (private false; it has no
"mechanism" or "neighbouring" either, as it claims no differential privacy),
and the spend's epsilon or cap_epsilon when unbounded. A component's epsilon
is that of its own rho at its entry's delta less delta_threshold:
informational, only the entry's epsilon (all its components composed) is a
guarantee.`,
		flags: func(fs *flag.FlagSet, _ *env) {
			fs.BoolVar(&asJSON, "json", false, "print the ledger and the spend as JSON")
			fs.BoolVar(&verbose, "verbose", false, "print every figure of each entry (noise multipliers, σ, sensitivities, data window queried, parameters)")
		},
		noArgs: true,
		run: func(ctx context.Context, e *env, _ []string) error {
			d, err := openData(ctx, e, false)
			if err != nil {
				return err
			}
			defer d.Close()
			entries, err := budget.Read(ctx, d.db)
			if err != nil {
				return err
			}
			st, err := storedReleases(ctx, d)
			if err != nil {
				return err
			}
			r, err := newLedgerReport(entries, st, d.settings.cap, e.global.config, time.Now().UTC())
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(e.stdout, privacyJSON(r))
			}
			printLedger(e.stdout, r, verbose)
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
		rows[i] = ledgerRow{Entry: en, Status: entryStatus(en, st)}
	}
	return rows
}

// entryStatus is the status of a ledger entry, given the stored releases:
// a pending entry is an interrupted run, even if it records a failure.
func entryStatus(en budget.Entry, st releases) string {
	current, ok := st[en.Version]
	switch {
	case en.Pending:
		return statusInterrupted
	case en.Failed != "":
		return statusFailed
	case ok && current:
		return statusCurrent
	case ok:
		return statusStored
	}
	return statusDeleted
}

// entryJSON is a ledger row in the --json report: the fields of its
// budget.Entry and its status, with two corrections. A non-private release
// has null rho, epsilon and delta (its loss is unbounded: the entry stores
// zeros) and no mechanism or neighbouring relation, which would claim DP.
// Each component's epsilon is computed from its ρ (Entry.ComponentEpsilon):
// the components of a failed run are stored with 0.
type entryJSON struct {
	Format         int                `json:"format,omitempty"`
	Time           time.Time          `json:"time"`
	Version        string             `json:"version"`
	Private        bool               `json:"private"`
	Mechanism      string             `json:"mechanism,omitempty"`
	Neighbouring   string             `json:"neighbouring,omitempty"`
	Rho            *float64           `json:"rho"`     // null if non-private
	Epsilon        *float64           `json:"epsilon"` // null if non-private
	Delta          *float64           `json:"delta"`   // null if non-private
	DeltaThreshold float64            `json:"delta_threshold,omitempty"`
	Selected       []string           `json:"selected,omitempty"`
	RNG            string             `json:"rng"`
	Window         budget.Window      `json:"window"`
	Events         *budget.Days       `json:"events,omitempty"`
	Cap            *budget.Cap        `json:"cap,omitempty"`
	Components     []budget.Component `json:"components,omitempty"`
	Parameters     map[string]float64 `json:"parameters,omitempty"`
	Failed         string             `json:"failed,omitempty"`
	Pending        bool               `json:"pending,omitempty"`
	Status         string             `json:"status"`
}

func newEntryJSON(row ledgerRow) entryJSON {
	en := row.Entry
	j := entryJSON{
		Format: en.Format, Time: en.Time, Version: en.Version, Private: en.Private, DeltaThreshold: en.DeltaThreshold, Selected: en.Selected, RNG: en.RNG,
		Window: en.Window, Events: en.Events, Cap: en.Cap,
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
func privacyJSON(r *ledgerReport) any {
	rows, s := r.rows, r.spend
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
	type recordedCap struct {
		Version string     `json:"version"`
		Cap     budget.Cap `json:"cap"`
		Differs bool       `json:"differs"`
		Epsilon *float64   `json:"epsilon"` // the spend against it; null if unbounded
	}
	ledger := make([]entryJSON, len(rows))
	for i, row := range rows {
		ledger[i] = newEntryJSON(row)
	}
	var rec *recordedCap
	if r.recorded != nil {
		rec = &recordedCap{Version: r.recorded.Version, Cap: *r.recorded.Cap, Differs: r.capDiffers(), Epsilon: finite(r.recordedSpend.Epsilon)}
	}
	return struct {
		Ledger      []entryJSON  `json:"ledger"`
		Spend       spend        `json:"spend"`
		RecordedCap *recordedCap `json:"recorded_cap"`
	}{ledger, spend{
		From: s.From, To: s.To, Window: s.Cap.Window.String(), Releases: s.Releases, NonPrivate: s.NonPrivate,
		Rho: s.Rho, DeltaThreshold: s.DeltaThreshold, Delta: s.Delta, Epsilon: finite(s.Epsilon),
		CapEpsilon: finite(s.Cap.Epsilon), CapDelta: s.Cap.Delta,
	}, rec}
}

// componentWords says in words what each component of a release released
// (budget.Component.Name).
var componentWords = map[string]string{
	"customers":  "number of training customers",
	"selection":  "items and stores chosen from the data",
	"popularity": "popularity lists",
	"counts":     "number of customers per item",
	"G":          "overall spread of the customers' taste vectors",
	"S":          "spread of the taste vectors of each item's customers",
	"t":          "sum of the taste vectors of each item's customers",
	"als":        "model training, every planned step",
	"other":      "other statistics",
}

// componentWordsOf is what c released, in words, or its name.
func componentWordsOf(c budget.Component) string {
	if w, ok := componentWords[c.Name]; ok {
		return w
	}
	return c.Name
}

// componentName names c in words, with the symbol of an ALS statistic
// (as the model card names it) and its number of training steps.
func componentName(c budget.Component) string {
	var notes []string
	if len(c.Name) == 1 {
		notes = append(notes, c.Name)
	}
	if c.Releases > 1 {
		notes = append(notes, fmt.Sprintf("%d training steps", c.Releases))
	}
	if len(notes) == 0 {
		return componentWordsOf(c)
	}
	return fmt.Sprintf("%s (%s)", componentWordsOf(c), strings.Join(notes, ", "))
}

// ledgerReport is what 'privacy report' prints.
type ledgerReport struct {
	rows  []ledgerRow
	spend budget.Spend // with the cap the report is computed with
	// capFrom says where that cap comes from: the configuration file's
	// name, or "" for the defaults.
	capFrom string
	// recorded is the latest entry that records its cap, if any, and
	// recordedSpend the spend against that cap.
	recorded      *budget.Entry
	recordedSpend budget.Spend
}

// newLedgerReport computes the report of entries (the whole ledger) at now
// with the cap c, from capFrom.
func newLedgerReport(entries []budget.Entry, st releases, c budget.Cap, capFrom string, now time.Time) (*ledgerReport, error) {
	spend, err := c.Spent(entries, now)
	if err != nil {
		return nil, err
	}
	eff := budget.Effective(entries)
	r := &ledgerReport{rows: ledgerRows(eff, st), spend: spend, capFrom: capFrom, recorded: budget.LatestCap(eff)}
	if r.recorded != nil {
		if r.recordedSpend, err = r.recorded.Cap.Spent(entries, now); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// capDiffers reports whether the report's cap differs from the one
// recorded with the latest release.
func (r *ledgerReport) capDiffers() bool {
	return r.recorded != nil && !r.recorded.Cap.Equal(r.spend.Cap)
}

// capCell is the cap recorded with an entry, for the table.
func capCell(c *budget.Cap) string {
	if c == nil {
		return "not recorded"
	}
	d := c.WithDefaults()
	eps := "none"
	if !math.IsInf(d.Epsilon, 1) {
		eps = fmt.Sprintf("%g", d.Epsilon)
	}
	return fmt.Sprintf("%s / %g / %v", eps, d.Delta, d.Window)
}

// used is the share of a cap that a spend uses, in words.
func used(s budget.Spend) string {
	if math.IsInf(s.Cap.Epsilon, 1) {
		return "no cap"
	}
	return fmt.Sprintf("%.1f %% used", 100*s.Epsilon/s.Cap.Epsilon)
}

// printLedger prints r as text; verbose adds every figure of each entry.
func printLedger(w io.Writer, r *ledgerReport, verbose bool) {
	s := r.spend
	rows := r.rows
	if len(rows) == 0 {
		fmt.Fprintln(w, "the privacy ledger is empty: no release has been made")
	} else {
		entries := "entries"
		if len(rows) == 1 {
			entries = "entry"
		}
		fmt.Fprintf(w, "Privacy ledger (%d %s, oldest first):\n", len(rows), entries)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tVERSION\tSTATUS\tε\tδ\tρ\tRNG\tCAP (ε / δ / WINDOW)\tEVENTS USED\tIN WINDOW")
		for _, row := range rows {
			en := row.Entry
			eps, delta, rho := "∞ NON-PRIVATE", "-", "-"
			if en.Private {
				eps, delta, rho = fmt.Sprintf("%.4g", en.Epsilon), fmt.Sprintf("%g", en.Delta), fmt.Sprintf("%.4g", en.Rho)
			}
			in := ""
			if s.InWindow(en.Time) {
				in = "yes"
			}
			events := "not recorded"
			if d := en.Events; d != nil {
				events = d.First.Format(time.DateOnly) + " – " + d.Last.Format(time.DateOnly)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", en.Time.Format(time.RFC3339), en.Version, row.Status, eps, delta, rho, en.RNG,
				capCell(en.Cap), events, in)
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
		}
		printComponents(w, rows, verbose)
	}
	printSpend(w, r)
	printLegend(w)
}

// printComponents says what each release is made of: in words with each
// part's share of the release's ρ, or with every figure when verbose.
func printComponents(w io.Writer, rows []ledgerRow, verbose bool) {
	if verbose {
		fmt.Fprintln(w, "\nEach entry in detail:")
	} else {
		fmt.Fprintln(w, "\nWhat each release is made of (share of its privacy loss ρ; --verbose for the noise figures):")
	}
	for _, row := range rows {
		en := row.Entry
		if !verbose {
			if len(en.Components) == 0 || !(en.Rho > 0) {
				continue
			}
			var parts []string
			for _, c := range en.Components {
				parts = append(parts, fmt.Sprintf("%.1f %% %s", 100*c.Rho/en.Rho, componentName(c)))
			}
			fmt.Fprintf(w, "  %s: %s\n", en.Version, strings.Join(parts, "; "))
			continue
		}
		fmt.Fprintf(w, "  %s, charged %s", en.Version, en.Time.Format(time.RFC3339))
		if en.Private {
			// A non-private entry records them, but claims no DP.
			fmt.Fprintf(w, ", mechanism %s, neighbouring datasets: %s", cmp.Or(en.Mechanism, "-"), cmp.Or(en.Neighbouring, "-"))
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "    data window queried (from the oldest time retention keeps to the training time): %s – %s\n",
			en.Window.From.Format(time.RFC3339), en.Window.To.Format(time.RFC3339))
		if en.Cap != nil {
			fmt.Fprintf(w, "    cap in force: %v\n", *en.Cap)
		}
		if !en.Private {
			fmt.Fprintln(w, "    not differentially private: no noise, no bound on the privacy loss")
		}
		for _, c := range en.Components {
			fmt.Fprintf(w, "    %s [%s]:", componentWordsOf(c), c.Name)
			switch {
			case c.Multiplier > 0:
				fmt.Fprintf(w, " noise multiplier z = %.4g", c.Multiplier)
				if c.Sigma > 0 {
					fmt.Fprintf(w, " (σ = %.4g for sensitivity Δ = %.4g)", c.Sigma, c.Sensitivity)
				}
				if c.Releases > 1 {
					fmt.Fprintf(w, ", %d releases of ρ = %.4g each", c.Releases, c.RhoEach)
				}
			case en.Failed != "":
				fmt.Fprint(w, " charged whole, its steps not recorded one by one")
			}
			fmt.Fprintf(w, ", ρ = %.4g", c.Rho)
			if c.Releases > 1 {
				fmt.Fprint(w, " in all")
			}
			if eps, err := en.ComponentEpsilon(c); err == nil {
				fmt.Fprintf(w, " (ε = %.4g alone)", eps)
			}
			if c.DeltaThreshold > 0 {
				fmt.Fprintf(w, ", δ spent on the choice from the data δ_τ = %g", c.DeltaThreshold)
			}
			fmt.Fprintln(w)
		}
		if len(en.Parameters) > 0 {
			fmt.Fprintf(w, "    parameters: %s\n", formatKV(en.Parameters))
		}
	}
}

// printSpend prints the cumulative spend, against the cap the report is
// computed with and, when it differs, against the one recorded with the
// latest release.
func printSpend(w io.Writer, r *ledgerReport) {
	s := r.spend
	fmt.Fprintf(w, "\nCumulative spend over the last %v (since %s):\n", s.Cap.Window, s.From.Format(time.RFC3339))
	fmt.Fprintf(w, "  ε = %.4g at δ = %g, private releases: %d (ρ = %.4g", s.Epsilon, s.Delta, s.Releases, s.Rho)
	if s.DeltaThreshold > 0 {
		fmt.Fprintf(w, "; of δ, %.3g was spent choosing identifiers from the data, by %s", s.DeltaThreshold, s.SelectionsText())
	}
	fmt.Fprintln(w, ")")
	if s.Releases > 1 {
		fmt.Fprintf(w, "  their own ε add up to %.4g; the cumulative ε is less: it is the ε of their total ρ (ρ adds up, ε does not)\n", s.EpsilonSum)
	}
	from := "the built-in default"
	if r.capFrom != "" {
		from = "configuration " + r.capFrom
	}
	if math.IsInf(s.Cap.Epsilon, 1) {
		fmt.Fprintf(w, "  cap: NONE: no cap is in force (privacy.cap_epsilon is \"inf\" in %s): training refuses no private release, however large the cumulative ε\n", from)
	} else {
		fmt.Fprintf(w, "  cap: %v (%s): %s\n", s.Cap, from, used(s))
	}
	switch {
	case r.recorded == nil && len(r.rows) > 0:
		fmt.Fprintln(w, "  no entry records the cap it was checked against (entries written before Discret recorded it)")
	case r.capDiffers():
		rs := r.recordedSpend
		fmt.Fprintf(w, "  WARNING: this cap differs from the one recorded with the latest release, %s: %v; against that cap, ε = %.4g at δ = %g over the last %v: %s\n",
			r.recorded.Version, rs.Cap, rs.Epsilon, rs.Delta, rs.Cap.Window, used(rs))
	}
	if s.NonPrivate > 0 {
		fmt.Fprintf(w, "  non-private releases in the window: %d (not differentially private, not counted; servers refuse them unless allowed)\n", s.NonPrivate)
	}
}

// printLegend explains the report's terms in plain words.
func printLegend(w io.Writer) {
	fmt.Fprint(w, `
How to read this report:
  ε (epsilon)  the privacy loss of a release: with ε = 1, nothing anyone does with it
               becomes more than e¹ ≈ 2.7 times likelier because one customer's data
               was used. Smaller is more private.
  δ (delta)    the small probability that this bound does not hold (1e-06: one in a million).
  ρ (rho)      the same loss in the unit in which releases add up (zero-concentrated DP).
               The cumulative ε is the ε of the releases' total ρ, computed once: less
               than the sum of their own ε.
  CAP          the cap in force when the entry was charged, the one a private release was
               checked against: at most ε cumulative at δ over a rolling WINDOW.
  EVENTS USED  the days of the oldest and newest event the run trained on.
  IN WINDOW    charged within the cap's window, so counted in the cumulative spend.
`)
}
