// Package budget keeps Discret's privacy ledger and enforces its cap on the
// cumulative privacy loss of the releases made from customers' data
// (DP-ALS.md B1, B12).
//
// Every release that touches customer data — a model with its popularity
// lists — appends one Entry to the ledger: its zCDP cost ρ, its (ε, δ), the
// mechanism's components and parameters, the randomness it used and the
// window of data it was trained on. Releases compose: a customer whose data
// enters k releases has lost Σρ (adaptive composition of zCDP, C1). A Cap
// bounds that sum over a rolling window: a new release is refused when the ρ
// of the ledger's releases in the window plus its own, converted to ε with
// the official conversion (C2.2), would exceed the cap's ε.
//
// # Why a rolling window
//
// Discret keeps events for a bounded time (package retention: 13 months for
// views, 3 years for purchases), so the data of a customer can enter every
// release made while it is kept. The cap bounds the loss per window (by
// default ε = 10 per 365 days at δ = 10⁻⁶): a customer whose events are
// kept R years enters the releases of at most ⌈R⌉ + 1 windows, and their
// lifetime loss is at most that many times the cap (composition of the
// windows' ρ). The default cap leaves room for weekly retraining at the
// default ε = 1 per release: 52 releases compose to ρ = 52 × 0.02436 = 1.267,
// ε = 8.91 at δ = 10⁻⁶ (TestDefaultCapFitsWeeklyTraining). The cap's δ is the
// default δ of a release; for a statement never weaker than that of any
// release it covers, Spent states ε at the smallest δ among the cap's and
// the releases' own.
//
// A release whose universe of keys was itself selected by thresholding
// (DP-ALS.md F4) carries an extra δ_τ (Entry.DeltaThreshold), which adds to
// δ: the cap converts ρ at δ − Σδ_τ. The δ_τ of all the window's releases
// add up against that one δ, so a fixed share of each release's δ would
// run out after a fixed number of releases. model/train gives a selection
// a share of its δ (of the cap's, if smaller) in proportion to the share
// of the cap's ρ that its release spends, at most 5 %: the releases of a
// window within the cap spend at most about 5 % of δ on thresholds,
// however many they are. 52 weekly releases at ε = 1 that each select
// their items compose to ε = 8.93 at δ = 10⁻⁶ (4.1 % of it spent on
// thresholds), 365 daily ones at ε = 0.35 to ε = 8.81 (model/train
// TestDefaultCapFitsRetraining).
//
// # Charged before the noise
//
// A private run appends a pending entry, checked against the cap, before
// it draws any noise: the most it can spend. Its own later entry (the
// release, or a failed run's actual spend) replaces it (Effective). So a
// run that dies without a word after drawing noise — killed, out of
// power — leaves its whole planned cost charged, never nothing.
//
// Non-private releases (ε = ∞) are recorded with Private false. They are not
// summed — they have no finite cost — and a server refuses them unless it is
// explicitly allowed to serve them; Spend counts them so that reports can
// flag them.
//
// # What an entry proves
//
// The cap comes from the configuration of the process that charges, so an
// entry records the cap in force when it was charged (Entry.Cap): the one
// its release was checked against, whatever configuration a later report
// is computed with. It also records the days of the oldest and newest event
// its run used (Entry.Events). Entries are versioned (Entry.Format):
// entries of format 1, written before these fields existed, still decode,
// without them.
package budget

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/privacy/dp"
	"github.com/discret-io/discret/privacy/retention"
)

// Defaults of Cap.
const (
	DefaultCapEpsilon = 10.0
	DefaultCapDelta   = 1e-6
)

// DefaultCapWindow is the rolling window of Cap when zero.
var DefaultCapWindow = retention.Period{Days: 365}

// Kinds of identifier a release can choose from the data (Entry.Selected).
const (
	SelectedItems  = "items"
	SelectedStores = "stores"
)

// Neighbouring names the neighbouring relation of every Discret release
// (DP-ALS.md B1).
const Neighbouring = "add or remove one customer (all their events)"

// EntryFormat is the format of the ledger entries that Marshal writes.
// Format 1 (no "format" field, Entry.Format 0) recorded neither the cap in
// force nor the days of the events used; format 2 records the cap, and the
// days when the run read its data.
const EntryFormat = 2

// Window is a time span of data: events with From ≤ time ≤ To.
type Window struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Contains reports whether t is in w.
func (w Window) Contains(t time.Time) bool { return !t.Before(w.From) && !t.After(w.To) }

// Days is a span of whole days, UTC: First and Last are midnights, First ≤
// Last.
type Days struct {
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

// DaysOf returns the days, UTC, of the oldest and newest of some times.
func DaysOf(oldest, newest time.Time) Days {
	day := func(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }
	return Days{First: day(oldest), Last: day(newest)}
}

func (d Days) valid() bool {
	midnight := func(t time.Time) bool { return !t.IsZero() && t.Equal(t.Truncate(24*time.Hour)) }
	return midnight(d.First) && midnight(d.Last) && !d.Last.Before(d.First)
}

// Component is one released statistic of a release and its share of the
// privacy cost: Releases Gaussian releases with noise multiplier z, each
// costing ρ = 1/(2z²) (DP-ALS.md C1).
type Component struct {
	// Name says what was released: "customers", "selection", "counts",
	// "G", "S", "t" (per ALS step), "popularity".
	Name string `json:"name"`
	// Multiplier is z = σ/Δ; 0 when not recorded: the ALS training of a
	// failed run is charged whole, as one component without its steps.
	Multiplier float64 `json:"multiplier"`
	// Sensitivity is the L2 sensitivity Δ' (after lattice rounding, D3.3)
	// and Sigma = z·Δ' the noise standard deviation, when known.
	Sensitivity float64 `json:"sensitivity,omitempty"`
	Sigma       float64 `json:"sigma,omitempty"`
	// Releases is the number of releases composed (T for per-step
	// statistics).
	Releases int `json:"releases"`
	// RhoEach = 1/(2z²) is the cost of one release, Rho = Releases·RhoEach.
	RhoEach float64 `json:"rho_each"`
	Rho     float64 `json:"rho"`
	// Epsilon is the ε of this component alone at the entry's δ (official
	// conversion): informational; only the composed total is a guarantee.
	// The entry of a failed run records 0 for the components it released
	// before failing; Entry.ComponentEpsilon computes it for any entry.
	Epsilon float64 `json:"epsilon"`
	// DeltaThreshold is the δ_τ of a thresholded key selection (F4), 0
	// otherwise.
	DeltaThreshold float64 `json:"delta_threshold,omitempty"`
}

// Entry is one line of the privacy ledger.
type Entry struct {
	// Format is the entry's format: EntryFormat for what Marshal writes, 0
	// for an entry of format 1.
	Format int `json:"format,omitempty"`
	// Time is when the release was charged (and made).
	Time    time.Time `json:"time"`
	Version string    `json:"version"`
	// Private is false for a non-private release (ε = ∞): Rho, Epsilon and
	// Delta are then stored as zero, which is no statement at all (its
	// privacy loss is unbounded), and Mechanism and Neighbouring, which
	// model/train records for every run, do not apply either. Reports show
	// its ε as ∞ (null in JSON).
	Private bool `json:"private"`
	// Mechanism names the algorithm ("dp-als", see model/train).
	Mechanism    string `json:"mechanism"`
	Neighbouring string `json:"neighbouring"`
	// Rho is the total zCDP cost; Epsilon the official ε (optimal RDP
	// conversion, C2.2) at Delta − DeltaThreshold; Delta the release's
	// total δ, DeltaThreshold the part of it spent by thresholding (F4).
	Rho            float64 `json:"rho"`
	Epsilon        float64 `json:"epsilon"`
	Delta          float64 `json:"delta"`
	DeltaThreshold float64 `json:"delta_threshold,omitempty"`
	// Selected names the identifiers that the release chose from the data
	// by thresholding, spending DeltaThreshold: SelectedItems,
	// SelectedStores or both. Nil if it chose none, and in entries written
	// before Discret recorded it.
	Selected []string `json:"selected,omitempty"`
	// RNG is the kind of randomness ("crypto" or "test-seeded").
	RNG string `json:"rng"`
	// Window is the data the release was trained on: the query's window,
	// from the oldest time retention keeps to the training time.
	Window Window `json:"window"`
	// Events is the span of days of the oldest and newest event the run
	// used, read from the data (not part of the release, whose card states
	// only Window); nil in format 1 and for a run that failed before
	// reading its data.
	Events *Days `json:"events,omitempty"`
	// Cap is the cap in force when the entry was charged, with its
	// defaults: the one a private release was checked against (Charge).
	// Nil in format 1; required from format 2.
	Cap        *Cap        `json:"cap,omitempty"`
	Components []Component `json:"components,omitempty"`
	// Parameters are the mechanism's parameters (steps, β, R, …).
	Parameters map[string]float64 `json:"parameters,omitempty"`
	// Failed, if set, says why the run stopped before storing its release:
	// what it had computed with noise is charged all the same (nothing
	// else was released; the failure itself may depend on the data).
	Failed string `json:"failed,omitempty"`
	// Pending marks the charge a private run writes before it draws any
	// noise: the most the run can spend. The run's own later entry (its
	// release, or its failure) replaces it; a pending entry that nothing
	// replaces is a run that ended without a word (killed, power lost), and
	// its charge stands. See Effective.
	Pending bool `json:"pending,omitempty"`
}

// ComponentEpsilon returns the ε of c, one of e's components, alone: the
// official conversion of c.Rho at e's δ less its δ_τ, the δ at which e's
// own ε is stated. It is what c.Epsilon says, computed from c.Rho because
// the ledger does not always record it (see Component.Epsilon); +Inf for a
// non-private e.
func (e *Entry) ComponentEpsilon(c Component) (float64, error) {
	if !e.Private {
		return math.Inf(1), nil
	}
	eps, err := dp.Epsilon(c.Rho, e.Delta-e.DeltaThreshold, dp.RDP)
	if err != nil {
		return 0, fmt.Errorf("budget: component %s of %s: %w", c.Name, e.Version, err)
	}
	return eps, nil
}

// LatestCap returns the latest of eff (Effective entries) that records the
// cap it was checked against, or nil if none does.
func LatestCap(eff []Entry) *Entry {
	for i := len(eff) - 1; i >= 0; i-- {
		if eff[i].Cap != nil {
			return &eff[i]
		}
	}
	return nil
}

// Effective returns the entries that count, in ledger order: all but the
// pending entries that a later entry of the same version replaces.
func Effective(entries []Entry) []Entry {
	last := make(map[string]int, len(entries))
	for i, e := range entries {
		last[e.Version] = i
	}
	out := make([]Entry, 0, len(entries))
	for i, e := range entries {
		if e.Pending && last[e.Version] != i {
			continue
		}
		out = append(out, e)
	}
	return out
}

// ErrEntry is returned for an invalid or undecodable ledger entry.
var ErrEntry = errors.New("budget: invalid ledger entry")

// Validate checks that e can be composed.
func (e *Entry) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrEntry}, args...)...))
	}
	if e.Time.IsZero() {
		bad("zero time")
	}
	if e.Version == "" {
		bad("no version")
	}
	if e.Pending && !e.Private {
		bad("a pending charge must be private")
	}
	switch {
	case e.Format < 0 || e.Format > EntryFormat:
		bad("format %d (this version of Discret reads formats 1 to %d)", e.Format, EntryFormat)
	case e.Format >= 2 && e.Cap == nil:
		bad("format %d: no cap recorded", e.Format)
	}
	if e.Cap != nil {
		if err := e.Cap.Validate(); err != nil {
			bad("cap: %v", err)
		}
	}
	if e.Events != nil && !e.Events.valid() {
		bad("event days %v – %v (want midnights UTC, first ≤ last)", e.Events.First, e.Events.Last)
	}
	if e.Private {
		if !(e.Rho >= 0) || math.IsInf(e.Rho, 0) {
			bad("ρ = %v (want finite, ≥ 0)", e.Rho)
		}
		if !(e.Delta > 0 && e.Delta < 1) {
			bad("δ = %v (want 0 < δ < 1)", e.Delta)
		}
		if !(e.DeltaThreshold >= 0 && e.DeltaThreshold < e.Delta) {
			bad("threshold δ_τ = %v (want 0 ≤ δ_τ < δ = %v)", e.DeltaThreshold, e.Delta)
		}
	}
	return errors.Join(errs...)
}

// Marshal encodes e in format EntryFormat, as the JSON document stored in
// the ledger: e must record its cap.
func (e *Entry) Marshal() ([]byte, error) {
	v := *e
	v.Format = EntryFormat
	if err := v.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(&v)
	if err != nil {
		return nil, fmt.Errorf("budget: encode entry: %w", err)
	}
	return b, nil
}

// Parse decodes a ledger entry of any format.
func Parse(b []byte) (Entry, error) {
	var e Entry
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&e); err != nil {
		return Entry{}, fmt.Errorf("%w: %v", ErrEntry, err)
	}
	if err := e.Validate(); err != nil {
		return Entry{}, err
	}
	return e, nil
}

// LedgerReader reads a store's ledger records. *store.DB implements it.
type LedgerReader interface {
	Ledger(ctx context.Context) ([]store.LedgerRecord, error)
}

// Read returns the entries of src's ledger, in ledger order.
func Read(ctx context.Context, src LedgerReader) ([]Entry, error) {
	recs, err := src.Ledger(ctx)
	if err != nil {
		return nil, err
	}
	return Decode(recs)
}

// Decode decodes the records of a store's ledger, in ledger order.
func Decode(recs []store.LedgerRecord) ([]Entry, error) {
	out := make([]Entry, 0, len(recs))
	for i, r := range recs {
		e, err := Parse(r.Data)
		if err != nil {
			return nil, fmt.Errorf("budget: ledger entry %d (%s): %w", i, r.Time.Format(time.RFC3339), err)
		}
		out = append(out, e)
	}
	return out, nil
}

// Cap bounds the cumulative ε of the releases charged within a rolling
// window. The zero value of each field means its default; Epsilon = +Inf
// disables the cap.
type Cap struct {
	Epsilon float64          // ε_cap; 0 means DefaultCapEpsilon
	Delta   float64          // δ_cap; 0 means DefaultCapDelta
	Window  retention.Period // zero means DefaultCapWindow
}

// capJSON is the JSON form of a Cap, with its defaults: epsilon is null
// for no cap, window a period as retention.ParsePeriod reads it.
type capJSON struct {
	Epsilon *float64 `json:"epsilon"`
	Delta   float64  `json:"delta"`
	Window  string   `json:"window"`
}

// MarshalJSON encodes c with its defaults: {"epsilon": 10, "delta": 1e-06,
// "window": "365d"}, epsilon null for no cap.
func (c Cap) MarshalJSON() ([]byte, error) {
	c = c.WithDefaults()
	j := capJSON{Delta: c.Delta, Window: c.Window.String()}
	if !math.IsInf(c.Epsilon, 1) {
		j.Epsilon = &c.Epsilon
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes what MarshalJSON encodes; every field is required.
func (c *Cap) UnmarshalJSON(b []byte) error {
	var j capJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("budget: cap: %w", err)
	}
	d := Cap{Epsilon: math.Inf(1), Delta: j.Delta}
	if j.Epsilon != nil {
		d.Epsilon = *j.Epsilon
	}
	var err error
	if d.Window, err = retention.ParsePeriod(j.Window); err != nil {
		return fmt.Errorf("budget: cap window: %w", err)
	}
	// Zero would mean the default: a recorded cap states its values.
	if !(d.Epsilon > 0) || !(d.Delta > 0 && d.Delta < 1) {
		return fmt.Errorf("budget: cap ε = %v, δ = %v: want ε > 0 (null for no cap) and 0 < δ < 1", d.Epsilon, d.Delta)
	}
	*c = d
	return nil
}

// String describes c with its defaults: "ε = 10 at δ = 1e-06 over 365d",
// or "none (ε = ∞) over 365d".
func (c Cap) String() string {
	c = c.WithDefaults()
	if math.IsInf(c.Epsilon, 1) {
		return fmt.Sprintf("none (ε = ∞) over %v", c.Window)
	}
	return fmt.Sprintf("ε = %g at δ = %g over %v", c.Epsilon, c.Delta, c.Window)
}

// Equal reports whether c and d are the same cap, with their defaults.
func (c Cap) Equal(d Cap) bool { return c.WithDefaults() == d.WithDefaults() }

// WithDefaults returns c with its zero fields set to the defaults.
func (c Cap) WithDefaults() Cap {
	c.Epsilon = cmp.Or(c.Epsilon, DefaultCapEpsilon)
	c.Delta = cmp.Or(c.Delta, DefaultCapDelta)
	if c.Window.IsZero() {
		c.Window = DefaultCapWindow
	}
	return c
}

// Validate reports every problem of c (after defaults).
func (c Cap) Validate() error {
	c = c.WithDefaults()
	var errs []error
	if !(c.Epsilon > 0) {
		errs = append(errs, fmt.Errorf("budget: cap ε = %v, want > 0 (or +Inf for no cap)", c.Epsilon))
	}
	if !(c.Delta > 0 && c.Delta < 1) {
		errs = append(errs, fmt.Errorf("budget: cap δ = %v, want 0 < δ < 1", c.Delta))
	}
	if c.Window.Negative() {
		errs = append(errs, fmt.Errorf("budget: cap window %v is negative", c.Window))
	}
	return errors.Join(errs...)
}

// Looser reports whether c (with defaults) lets through a release that
// d would refuse, at now: a larger ε or δ, or a shorter window (fewer
// releases counted). A cap looser in one respect and stricter in another
// is looser.
func (c Cap) Looser(d Cap, now time.Time) bool {
	c, d = c.WithDefaults(), d.WithDefaults()
	return c.Epsilon > d.Epsilon || c.Delta > d.Delta || c.Start(now).After(d.Start(now))
}

// Start returns the start of the window ending at now: entries charged
// after it count.
func (c Cap) Start(now time.Time) time.Time {
	return c.WithDefaults().Window.Before(now)
}

// Spend is the cumulative privacy loss of the releases in a window.
type Spend struct {
	Cap      Cap       // with defaults
	From, To time.Time // the window: entries charged after From count
	// Releases counts the private releases in the window; NonPrivate the
	// non-private ones, which have no finite cost and are not summed.
	Releases, NonPrivate int
	// Rho is their total ρ, DeltaThreshold their total δ_τ.
	Rho, DeltaThreshold float64
	// Selections counts the private releases that spent a δ_τ, choosing
	// identifiers from the data; ItemSelections and StoreSelections those
	// whose entry says that they chose items, and stores (Entry.Selected).
	Selections, ItemSelections, StoreSelections int
	// unsaid counts the selections whose entry does not say what they
	// chose (written before Discret recorded it).
	unsaid int
	// Delta is the δ of the statement: the smallest of the cap's and the
	// releases' own δ. Epsilon is the official ε of Rho at
	// Delta − DeltaThreshold, +Inf if that is not positive.
	Delta, Epsilon float64
	// EpsilonSum is the sum of the releases' own ε, which is more than
	// Epsilon: ρ adds up, ε does not.
	EpsilonSum float64
}

// SelectionsText says how many of the releases spent a δ_τ, and on what
// as far as their entries say: "10 releases (stores in 10)", "3 releases
// (items in 1, stores in 3)", "11 releases (stores in 1, 10 that do not
// say)"; "" if none did.
func (s Spend) SelectionsText() string {
	if s.Selections == 0 {
		return ""
	}
	t := "1 release"
	if s.Selections > 1 {
		t = fmt.Sprintf("%d releases", s.Selections)
	}
	var kinds []string
	if s.ItemSelections > 0 {
		kinds = append(kinds, fmt.Sprintf("items in %d", s.ItemSelections))
	}
	if s.StoreSelections > 0 {
		kinds = append(kinds, fmt.Sprintf("stores in %d", s.StoreSelections))
	}
	if len(kinds) > 0 && s.unsaid > 0 {
		kinds = append(kinds, fmt.Sprintf("%d that do not say", s.unsaid))
	}
	if len(kinds) > 0 {
		t += " (" + strings.Join(kinds, ", ") + ")"
	}
	return t
}

// InWindow reports whether an entry charged at t counts in the window:
// charged after From.
func (s Spend) InWindow(t time.Time) bool { return t.After(s.From) }

// Fits reports whether the spend is within the cap.
func (s Spend) Fits() bool { return s.Epsilon <= s.Cap.Epsilon }

// Spent returns the spend of the entries charged in the window ending at
// now (after Start(now); entries dated after now count too).
func (c Cap) Spent(entries []Entry, now time.Time) (Spend, error) {
	return c.spent(Effective(entries), nil, now)
}

// counted returns the entries that count against next: the effective ones
// without a pending charge of next's own run, which next replaces.
func counted(entries []Entry, next Entry) []Entry {
	return slices.DeleteFunc(Effective(entries), func(e Entry) bool { return e.Pending && e.Version == next.Version })
}

// spent is the spend of entries (already reduced by counted) and next.
func (c Cap) spent(entries []Entry, next *Entry, now time.Time) (Spend, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return Spend{}, err
	}
	s := Spend{Cap: c, From: c.Start(now), To: now, Delta: c.Delta}
	add := func(e *Entry) {
		if !e.Private {
			s.NonPrivate++
			return
		}
		s.Releases++
		s.Rho += e.Rho
		s.EpsilonSum += e.Epsilon
		s.DeltaThreshold += e.DeltaThreshold
		s.Delta = min(s.Delta, e.Delta)
		if e.DeltaThreshold > 0 {
			s.Selections++
			if slices.Contains(e.Selected, SelectedItems) {
				s.ItemSelections++
			}
			if slices.Contains(e.Selected, SelectedStores) {
				s.StoreSelections++
			}
			if len(e.Selected) == 0 {
				s.unsaid++
			}
		}
	}
	for i := range entries {
		if s.InWindow(entries[i].Time) {
			add(&entries[i])
		}
	}
	if next != nil {
		add(next)
	}
	conv := s.Delta - s.DeltaThreshold
	if !(conv > 0) {
		s.Epsilon = math.Inf(1)
		return s, nil
	}
	eps, err := dp.Epsilon(s.Rho, conv, dp.RDP)
	if err != nil {
		return Spend{}, fmt.Errorf("budget: %w", err)
	}
	s.Epsilon = eps
	return s, nil
}

// ExceededError is returned by Check for a release that would exceed the
// cap.
type ExceededError struct {
	Next   Entry // the refused release
	Before Spend // the window without it
	After  Spend // the window with it
	// Left is the largest ε (official conversion, at the release's δ) that
	// a release could spend now; 0 if none.
	Left float64
	// RetryAt is the earliest time at which the same release would fit, as
	// older releases leave the window; zero if it never would.
	RetryAt time.Time
}

func (e *ExceededError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "budget: refusing release %s: it would exceed the privacy cap: cumulative ε = %.4g over the last %v (δ = %.3g) with it, cap ε = %g",
		e.Next.Version, e.After.Epsilon, e.After.Cap.Window, e.After.Delta, e.After.Cap.Epsilon)
	fmt.Fprintf(&b, "; the %d releases already in the window spent ε = %.4g (ρ = %.4g), this one would add ρ = %.4g (ε = %.4g alone)",
		e.Before.Releases, e.Before.Epsilon, e.Before.Rho, e.Next.Rho, e.Next.Epsilon)
	if e.After.DeltaThreshold > 0 && e.After.DeltaThreshold >= e.After.Delta {
		// ε is infinite whatever ρ: the thresholds used up the δ.
		b.WriteString(e.thresholdsText())
	} else if e.Left > 0 {
		fmt.Fprintf(&b, "; a release can spend at most ε = %.3g now", floorDigits(e.Left, 3))
	} else {
		b.WriteString("; no budget is left now")
	}
	if !e.RetryAt.IsZero() {
		fmt.Fprintf(&b, "; this release would fit from %s, when older releases leave the window", e.RetryAt.UTC().Format(time.RFC3339))
	}
	return b.String()
}

// thresholdsText explains a refusal whose window's thresholds used up its
// δ: which releases chose what from the data, and what would spare it.
func (e *ExceededError) thresholdsText() string {
	s := e.After
	this := ", this one's included"
	if e.Next.DeltaThreshold == 0 {
		this = "; this one chooses none"
	}
	t := fmt.Sprintf("; the thresholds with which %s of the window chose identifiers from the data%s, spent δ_τ = %.3g in all, which leaves nothing of the δ = %.3g at which the cap is stated, so no ε can be stated: ",
		s.SelectionsText(), this, s.DeltaThreshold, s.Delta)
	var spare []string
	if s.ItemSelections > 0 {
		spare = append(spare, "a public item catalogue ('discret items import', or train --catalogue) spares choosing items")
	}
	if s.StoreSelections > 0 {
		spare = append(spare, "listing each item's stores in the catalogue, or train --stores, spares choosing stores")
	}
	if s.unsaid > 0 {
		spare = append(spare, "a public item catalogue that lists each item's stores spares choosing either")
	}
	return t + strings.Join(spare, "; ") + "; or give the cap a larger δ"
}

// floorDigits rounds x > 0 down to n significant digits, so that the
// figure %.{n}g prints is never above x: a suggested maximum rounded up
// would itself be refused.
func floorDigits(x float64, n int) float64 {
	if !(x > 0) || math.IsInf(x, 1) {
		return x
	}
	k := n - 1 - int(math.Floor(math.Log10(x)))
	p := math.Pow10(max(k, -k)) // exact: scaling by it rounds once
	up := func(v float64) float64 { return v * p }
	down := func(v float64) float64 { return v / p }
	if k < 0 {
		up, down = down, up
	}
	m := math.Floor(up(x))
	if down(m) > x { // up(x) was rounded up to the integer m
		m--
	}
	return down(m)
}

// Check returns the spend of the window ending at now with next added, and
// an *ExceededError if it exceeds the cap. A non-private next always fits
// (see the package documentation).
func (c Cap) Check(entries []Entry, next Entry, now time.Time) (Spend, error) {
	if err := next.Validate(); err != nil {
		return Spend{}, err
	}
	entries = counted(entries, next)
	after, err := c.spent(entries, &next, now)
	if err != nil {
		return Spend{}, err
	}
	// A non-private release adds nothing to the sum, so it fits even when
	// failed runs (charged beyond the cap) have already filled the window.
	if after.Fits() || !next.Private {
		return after, nil
	}
	before, err := c.spent(entries, nil, now)
	if err != nil {
		return Spend{}, err
	}
	e := &ExceededError{Next: next, Before: before, After: after}
	// What is left: the ρ that keeps ε within the cap at the statement's δ.
	if conv := min(before.Delta, next.Delta) - before.DeltaThreshold - next.DeltaThreshold; conv > 0 {
		if rhoCap, err := dp.RhoForEpsilon(after.Cap.Epsilon, conv, dp.RDP); err == nil && rhoCap > before.Rho {
			e.Left, _ = dp.Epsilon(rhoCap-before.Rho, next.Delta-next.DeltaThreshold, dp.RDP)
		}
	}
	// When it fits: at the moment each release in the window leaves it,
	// which is when its own window ends, or, if that end was moved back to
	// a month's last day (31 October plus 4 months: 28 February), once that
	// day is over.
	var leave []time.Time
	for _, en := range entries {
		if after.InWindow(en.Time) && en.Private {
			end := after.Cap.Window.AddTo(en.Time)
			y, m, d := end.Date()
			leave = append(leave, end, time.Date(y, m, d+1, 0, 0, 0, 0, end.Location()))
		}
	}
	slices.SortFunc(leave, time.Time.Compare)
	for _, t := range leave {
		if s, err := c.spent(entries, &next, t); err == nil && s.Fits() {
			e.RetryAt = t
			break
		}
	}
	return after, e
}

// Charge returns the store ledger charge of next: its JSON document, which
// records c as the cap in force (Entry.Cap), and a check, run in the
// store's appending transaction against the ledger as it is then, that
// refuses next with an *ExceededError if it would exceed c at now.
func (c Cap) Charge(next Entry, now time.Time) (*store.LedgerCharge, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	inForce := c.WithDefaults()
	next.Cap = &inForce // Marshal sets the Format
	data, err := next.Marshal()
	if err != nil {
		return nil, err
	}
	return &store.LedgerCharge{
		Time: next.Time,
		Data: data,
		Check: func(prev []store.LedgerRecord) error {
			entries, err := Decode(prev)
			if err != nil {
				return err
			}
			_, err = c.Check(entries, next, now)
			return err
		},
	}, nil
}
