package budget_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/store/storetest"
	"github.com/discret-io/discret/model/budget"
	"github.com/discret-io/discret/privacy/dp"
	"github.com/discret-io/discret/privacy/retention"
)

// Reference values: the optimal RDP conversion (DP-ALS.md C2.2), computed
// independently with Python 3's standard library — golden-section search
// of α·ρ + ln(1 − 1/α) − (ln δ + ln α)/(α − 1) over ln(α − 1), 300 steps:
//
//	ε(0.1, 1e-6) = 2.1419389283854744   ε(0.2, 1e-6) = 3.131055680764347
//	ε(0.3, 1e-6) = 3.9200575369412025   ε(0.4, 1e-6) = 4.604440049436572
//	ε(0.3, 9e-7) = 3.9367995782677507   ε(0.3, 1e-7) = 4.2709359651723
//	ρ(4, 1e-6) = 0.311064954940835      ε(ρ(4, 1e-6) − 0.1, 1e-6) = 3.2255090502482284
//	ρ(1, 1e-6) = 0.024355970359538376   ε(52·ρ(1, 1e-6), 1e-6) = 8.914220448659336

var now = time.Date(2035, 6, 1, 12, 0, 0, 0, time.UTC)

func private(version string, at time.Time, rho, delta float64) budget.Entry {
	return budget.Entry{Time: at, Version: version, Private: true, Rho: rho, Delta: delta, Epsilon: 1}
}

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

func near(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*math.Abs(want)
}

func TestSpent(t *testing.T) {
	c := budget.Cap{Epsilon: 4, Delta: 1e-6, Window: retention.Period{Days: 10}}
	start := now.Add(-days(10))
	tests := []struct {
		name     string
		entries  []budget.Entry
		releases int
		nonpriv  int
		rho      float64
		delta    float64
		epsilon  float64
		deltaTau float64
	}{
		{"empty", nil, 0, 0, 0, 1e-6, 0, 0},
		{
			"window boundary is exclusive",
			[]budget.Entry{
				private("a", start, 0.1, 1e-6),                       // exactly at the start: out
				private("b", start.Add(time.Millisecond), 0.1, 1e-6), // just after: in
				private("c", start.Add(-days(1)), 0.5, 1e-6),         // older: out
				{Time: now.Add(-days(1)), Version: "np"},             // non-private: counted apart
			},
			1, 1, 0.1, 1e-6, 2.1419389283854744, 0,
		},
		{
			"composition",
			[]budget.Entry{private("a", now.Add(-days(2)), 0.1, 1e-6), private("b", now.Add(-days(1)), 0.2, 1e-6)},
			2, 0, 0.3, 1e-6, 3.9200575369412025, 0,
		},
		{
			"threshold δ is taken from δ",
			[]budget.Entry{
				private("a", now.Add(-days(2)), 0.1, 1e-6),
				func() budget.Entry { e := private("b", now, 0.2, 1e-6); e.DeltaThreshold = 1e-7; return e }(),
			},
			2, 0, 0.3, 1e-6, 3.9367995782677507, 1e-7,
		},
		{
			"smallest δ states the spend",
			[]budget.Entry{private("a", now.Add(-days(2)), 0.1, 1e-6), private("b", now, 0.2, 1e-7)},
			2, 0, 0.3, 1e-7, 4.2709359651723, 0,
		},
	}
	for _, tt := range tests {
		s, err := c.Spent(tt.entries, now)
		if err != nil {
			t.Fatalf("Spent(%s) error: %v", tt.name, err)
		}
		if s.Releases != tt.releases || s.NonPrivate != tt.nonpriv || !near(s.Rho, tt.rho, 1e-12) || s.Delta != tt.delta ||
			!near(s.Epsilon, tt.epsilon, 1e-6) || !near(s.DeltaThreshold, tt.deltaTau, 1e-12) {
			t.Errorf("Spent(%s) = %+v, want releases %d, non-private %d, ρ %v, δ %v, ε %v, δ_τ %v",
				tt.name, s, tt.releases, tt.nonpriv, tt.rho, tt.delta, tt.epsilon, tt.deltaTau)
		}
		if !s.From.Equal(start) || !s.To.Equal(now) {
			t.Errorf("Spent(%s) window = %v – %v, want %v – %v", tt.name, s.From, s.To, start, now)
		}
	}
}

// TestSpentEpsilonSum: the releases' own ε are summed over the same
// releases as their ρ: private, effective, charged after the window's start.
func TestSpentEpsilonSum(t *testing.T) {
	c := budget.Cap{Epsilon: 4, Delta: 1e-6, Window: retention.Period{Days: 10}}
	withEps := func(e budget.Entry, eps float64) budget.Entry { e.Epsilon = eps; return e }
	pending := func(e budget.Entry) budget.Entry { e.Pending = true; return e }
	for _, tt := range []struct {
		name    string
		entries []budget.Entry
		want    float64
	}{
		{"empty", nil, 0},
		{"in window", []budget.Entry{withEps(private("a", now.Add(-days(2)), 0.1, 1e-6), 2.5), withEps(private("b", now, 0.2, 1e-6), 3)}, 5.5},
		{"window boundary is exclusive", []budget.Entry{withEps(private("a", now.Add(-days(10)), 0.1, 1e-6), 7), withEps(private("b", now, 0.1, 1e-6), 2)}, 2},
		{"non-private not summed", []budget.Entry{{Time: now, Version: "np", Epsilon: 9}, withEps(private("b", now, 0.1, 1e-6), 2)}, 2},
		{"pending charge replaced", []budget.Entry{pending(withEps(private("a", now.Add(-days(1)), 0.3, 1e-6), 4)), withEps(private("a", now, 0.1, 1e-6), 1.5)}, 1.5},
	} {
		s, err := c.Spent(tt.entries, now)
		if err != nil {
			t.Fatalf("Spent(%s) error: %v", tt.name, err)
		}
		if s.EpsilonSum != tt.want {
			t.Errorf("Spent(%s).EpsilonSum = %v, want %v", tt.name, s.EpsilonSum, tt.want)
		}
	}
}

// TestInWindow: the window is open at its start, closed at its end and
// beyond (entries dated after now count too).
func TestInWindow(t *testing.T) {
	s, err := budget.Cap{Window: retention.Period{Days: 10}}.Spent(nil, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		at   time.Time
		want bool
	}{
		{now.Add(-days(11)), false},
		{now.Add(-days(10)), false},
		{now.Add(-days(10)).Add(time.Millisecond), true},
		{now, true},
		{now.Add(days(1)), true},
	} {
		if got := s.InWindow(tt.at); got != tt.want {
			t.Errorf("InWindow(%v) = %v, want %v (window from %v)", tt.at, got, tt.want, s.From)
		}
	}
}

// TestExceededLeft: the ε a refusal suggests is rounded down to three
// significant digits, so that asking for it is never refused.
func TestExceededLeft(t *testing.T) {
	for _, tt := range []struct {
		left float64
		want string
	}{
		{2.2499, "at most ε = 2.24 now"},
		{2.25, "at most ε = 2.25 now"},
		{3.2255090502482284, "at most ε = 3.22 now"},
		{9.999, "at most ε = 9.99 now"},
		{0.5, "at most ε = 0.5 now"},
		{0.0012345, "at most ε = 0.00123 now"},
		{1234.5, "at most ε = 1.23e+03 now"},
		{0, "no budget is left now"},
	} {
		e := &budget.ExceededError{Left: tt.left}
		if got := e.Error(); !strings.Contains(got, tt.want) {
			t.Errorf("ExceededError{Left: %v}.Error() = %q, want %q", tt.left, got, tt.want)
		}
	}
	// A selection whose δ_τ reaches the cap's δ: no ε can be stated at
	// all, and the refusal says why instead of "no budget is left".
	c0 := budget.Cap{Epsilon: 10, Delta: 1e-6, Window: retention.Period{Days: 10}}
	sel := private("selection", now, 0.03, 1e-5)
	sel.DeltaThreshold = 1e-6
	_, err := c0.Check(nil, sel, now)
	if err == nil || !strings.Contains(err.Error(), "leaves nothing of the δ = 1e-06 at which the cap is stated") || strings.Contains(err.Error(), "no budget is left") {
		t.Errorf("Check(δ_τ = cap δ) = %v, want the δ_τ explanation", err)
	}

	// The reviewer's case and a sweep around it: after spending ρ, a
	// release of the suggested ε fits under the cap.
	c := budget.Cap{Epsilon: 10, Delta: 1e-6, Window: retention.Period{Days: 10}}
	for spent := 0.05; spent < 2.3; spent += 0.0137 {
		entries := []budget.Entry{private("spent", now.Add(-days(1)), spent, 1e-6)}
		_, err := c.Check(entries, private("big", now, 3, 1e-6), now)
		var ex *budget.ExceededError
		if !errors.As(err, &ex) {
			t.Fatalf("Check(ρ = 3 after %v) = %v, want *ExceededError", spent, err)
		}
		if ex.Left == 0 {
			continue
		}
		msg := err.Error()
		i := strings.Index(msg, "at most ε = ")
		var eps float64
		if _, err := fmt.Sscanf(msg[i+len("at most ε = "):], "%g", &eps); err != nil {
			t.Fatalf("suggestion in %q: %v", msg, err)
		}
		if eps > ex.Left || eps < ex.Left*(1-1e-2) {
			t.Errorf("after ρ = %v: suggested ε = %v for Left = %v, want it rounded down to 3 digits", spent, eps, ex.Left)
		}
		rho, err := dp.RhoForEpsilon(eps, 1e-6, dp.RDP)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Check(entries, private("suggested", now, rho, 1e-6), now); err != nil {
			t.Errorf("after ρ = %v, a release of the suggested ε = %v is refused: %v", spent, eps, err)
		}
	}
}

// TestExceededThresholds: a refusal whose window's thresholds used up δ
// says which releases chose what from the data, and names only the
// remedies for what was chosen: an operator who has a catalogue is not
// told to give one.
func TestExceededThresholds(t *testing.T) {
	c := budget.Cap{Epsilon: 10, Delta: 1e-6, Window: retention.Period{Days: 30}}
	sel := func(v string, at time.Time, selected ...string) budget.Entry {
		e := private(v, at, 0.001, 1e-6)
		e.DeltaThreshold, e.Selected = 1e-7, selected
		return e
	}
	items, stores := budget.SelectedItems, budget.SelectedStores
	for _, tt := range []struct {
		name      string
		earlier   [][]string // what each earlier release chose
		next      []string   // what the refused one chooses; nil: none
		want, not []string
	}{
		{
			"stores, with a catalogue", [][]string{{stores}, {stores}, {stores}, {stores}, {stores}, {stores}, {stores}, {stores}, {stores}}, []string{stores},
			[]string{"10 releases (stores in 10) of the window chose identifiers from the data, this one's included, spent δ_τ = 1e-06 in all", "or train --stores, spares choosing stores", "larger δ"},
			[]string{"catalogue ('discret items import'", "choosing either"},
		},
		{
			"items and stores", [][]string{{items, stores}, {stores}, {items, stores}, {items, stores}, {items, stores}, {items, stores}, {items, stores}, {items, stores}, {items, stores}}, []string{items, stores},
			[]string{"10 releases (items in 9, stores in 10)", "spares choosing items", "spares choosing stores"},
			[]string{"choosing either"},
		},
		{
			"entries that do not say", [][]string{nil, nil, nil, nil, nil, nil, nil, nil, nil}, []string{stores},
			[]string{"10 releases (stores in 1, 9 that do not say)", "spares choosing stores", "spares choosing either"},
			[]string{"spares choosing items"},
		},
		{
			"the refused release chooses none", [][]string{{items}, {items}, {items}, {items}, {items}, {items}, {items}, {items}, {items}, {items}}, nil,
			[]string{"10 releases (items in 10) of the window chose identifiers from the data; this one chooses none, spent", "spares choosing items"},
			[]string{"this one's included", "spares choosing stores"},
		},
	} {
		var entries []budget.Entry
		for i, chose := range tt.earlier {
			entries = append(entries, sel(fmt.Sprint("e", i), now.Add(-days(i+1)), chose...))
		}
		next := private("next", now, 0.001, 1e-6)
		if tt.next != nil {
			next = sel("next", now, tt.next...)
		}
		_, err := c.Check(entries, next, now)
		var ex *budget.ExceededError
		if !errors.As(err, &ex) || !math.IsInf(ex.After.Epsilon, 1) {
			t.Fatalf("%s: Check = %v, want an *ExceededError at ε = +Inf", tt.name, err)
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: refusal %q does not say %q", tt.name, err, w)
			}
		}
		for _, w := range tt.not {
			if strings.Contains(err.Error(), w) {
				t.Errorf("%s: refusal %q says %q", tt.name, err, w)
			}
		}
	}
}

func TestCheck(t *testing.T) {
	c := budget.Cap{Epsilon: 4, Delta: 1e-6, Window: retention.Period{Days: 10}}
	old := private("old", now.Add(-days(9)), 0.1, 1e-6)
	entries := []budget.Entry{private("gone", now.Add(-days(10)), 5, 1e-6), old}

	// 0.1 + 0.2: ε = 3.92 ≤ 4.
	s, err := c.Check(entries, private("fits", now, 0.2, 1e-6), now)
	if err != nil || !near(s.Epsilon, 3.9200575369412025, 1e-6) || s.Releases != 2 {
		t.Errorf("Check(ρ = 0.2) = %+v, %v; want ε = 3.92006 with 2 releases", s, err)
	}
	// 0.1 + 0.3: ε = 4.60 > 4, refused; it fits when "old" leaves the
	// window, one day later; what is left now is ρ(4) − 0.1.
	_, err = c.Check(entries, private("big", now, 0.3, 1e-6), now)
	var ex *budget.ExceededError
	if !errors.As(err, &ex) {
		t.Fatalf("Check(ρ = 0.3) = %v, want *ExceededError", err)
	}
	if !near(ex.After.Epsilon, 4.604440049436572, 1e-6) || !near(ex.Before.Epsilon, 2.1419389283854744, 1e-6) {
		t.Errorf("ExceededError spends = %v before, %v after; want 2.14194, 4.60444", ex.Before.Epsilon, ex.After.Epsilon)
	}
	if !near(ex.Left, 3.2255090502482284, 1e-6) {
		t.Errorf("ExceededError.Left = %v, want 3.22551", ex.Left)
	}
	if want := old.Time.Add(days(10)); !ex.RetryAt.Equal(want) {
		t.Errorf("ExceededError.RetryAt = %v, want %v", ex.RetryAt, want)
	}
	for _, part := range []string{"refusing release big", "cumulative ε = 4.604", "cap ε = 4", "at most ε = 3.22", "would fit from 2035-06-02T12:00:00Z"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not mention %q", err, part)
		}
	}
	// A release too large for any window never fits.
	_, err = c.Check(nil, private("huge", now, 0.4, 1e-6), now)
	if !errors.As(err, &ex) || !ex.RetryAt.IsZero() {
		t.Errorf("Check(ρ = 0.4 alone) = %v, want an ExceededError without a retry time", err)
	}
	// Exactly at the cap: ρ(4, 1e-6) fits (ε ≤ cap), a hair more does not.
	rhoCap := 0.311064954940835
	if _, err := c.Check(nil, private("edge", now, rhoCap*(1-1e-9), 1e-6), now); err != nil {
		t.Errorf("Check(ρ just below ρ_cap) = %v, want nil", err)
	}
	if _, err := c.Check(nil, private("edge", now, rhoCap*(1+1e-6), 1e-6), now); err == nil {
		t.Error("Check(ρ just above ρ_cap) = nil, want an error")
	}
	// Non-private releases are not summed.
	if _, err := c.Check(entries, budget.Entry{Time: now, Version: "np"}, now); err != nil {
		t.Errorf("Check(non-private) = %v, want nil", err)
	}
	// ... and fit even when failed runs, charged beyond the cap, have
	// filled the window.
	over := append(slices.Clone(entries), private("failed", now.Add(-days(1)), 1, 1e-6))
	if s, err := c.Spent(over, now); err != nil || s.Fits() {
		t.Fatalf("Spent(over the cap) = %+v, %v; want a spend beyond the cap", s, err)
	}
	if _, err := c.Check(over, budget.Entry{Time: now, Version: "np"}, now); err != nil {
		t.Errorf("Check(non-private) with the window over the cap = %v, want nil", err)
	}
	// An infinite cap never refuses.
	if _, err := (budget.Cap{Epsilon: math.Inf(1)}).Check(nil, private("any", now, 100, 1e-6), now); err != nil {
		t.Errorf("infinite cap: Check = %v, want nil", err)
	}
}

// TestCheckRetryAtMonthEnd: a window in months ends on a month's last day
// for a release whose date that month lacks (31 October plus 4 months: 28
// February), and the release stays in it until that day is over; the
// retry time is then, not never.
func TestCheckRetryAtMonthEnd(t *testing.T) {
	c := budget.Cap{Epsilon: 4, Delta: 1e-6, Window: retention.Period{Months: 4}}
	at := time.Date(2034, 10, 31, 12, 0, 0, 0, time.UTC)
	now := time.Date(2035, 2, 27, 12, 0, 0, 0, time.UTC)
	entries := []budget.Entry{private("old", at, 0.1, 1e-6)}
	_, err := c.Check(entries, private("big", now, 0.3, 1e-6), now)
	var ex *budget.ExceededError
	if !errors.As(err, &ex) {
		t.Fatalf("Check(ρ = 0.3) = %v, want *ExceededError", err)
	}
	if want := time.Date(2035, 3, 1, 0, 0, 0, 0, time.UTC); !ex.RetryAt.Equal(want) {
		t.Errorf("ExceededError.RetryAt = %v, want %v", ex.RetryAt, want)
	}
	if _, err := c.Check(entries, private("big", ex.RetryAt, 0.3, 1e-6), ex.RetryAt); err != nil {
		t.Errorf("Check at the retry time = %v, want nil", err)
	}
}

func TestDefaultCapFitsWeeklyTraining(t *testing.T) {
	// The package documentation's figures. Releases that select their keys
	// from the data also spend a δ_τ each: model/train composes them as it
	// records them (TestDefaultCapFitsRetraining).
	const rho1 = 0.024355970359538376 // ρ(ε = 1, δ = 1e-6)
	var entries []budget.Entry
	for i := range 52 {
		entries = append(entries, private("w", now.Add(-time.Duration(i)*7*24*time.Hour), rho1, 1e-6))
	}
	s, err := budget.Cap{}.Spent(entries, now)
	if err != nil || s.Releases != 52 || !near(s.Epsilon, 8.914220448659336, 1e-6) || !s.Fits() {
		t.Errorf("52 weekly releases at ε = 1: Spent = %+v, %v; want ε = 8.91422 within the default cap", s, err)
	}
}

func TestCapValidate(t *testing.T) {
	for _, c := range []budget.Cap{{Epsilon: -1}, {Delta: 1}, {Delta: -1e-6}, {Window: retention.Period{Days: -1}}} {
		if err := c.Validate(); err == nil {
			t.Errorf("Cap%+v.Validate() = nil, want an error", c)
		}
	}
	if err := (budget.Cap{}).Validate(); err != nil {
		t.Errorf("Cap{}.Validate() = %v, want nil (defaults)", err)
	}
}

func TestEntryValidate(t *testing.T) {
	for _, e := range []budget.Entry{
		{Version: "v", Private: true, Rho: 1, Delta: 1e-6},                                  // no time
		{Time: now, Private: true, Rho: 1, Delta: 1e-6},                                     // no version
		{Time: now, Version: "v", Private: true, Rho: math.Inf(1), Delta: 1e-6},             // infinite ρ
		{Time: now, Version: "v", Private: true, Rho: 1, Delta: 0},                          // δ = 0
		{Time: now, Version: "v", Private: true, Rho: 1, Delta: 1e-6, DeltaThreshold: 1e-6}, // δ_τ = δ
		{Time: now, Version: "v", Private: true, Rho: math.NaN(), Delta: 1e-6},              // NaN
	} {
		if _, err := e.Marshal(); !errors.Is(err, budget.ErrEntry) {
			t.Errorf("Entry%+v.Marshal() = %v, want ErrEntry", e, err)
		}
	}
}

// TestComponentEpsilon: a component's ε is that of its own ρ at the
// entry's δ less δ_τ, also where the entry records 0 (a failed run's
// components), checked against the reference values above.
func TestComponentEpsilon(t *testing.T) {
	failed := budget.Entry{Time: now, Version: "f", Private: true, Rho: 0.4, Epsilon: 4.604440049436572, Delta: 1e-6, Failed: "train: no usable data",
		Components: []budget.Component{{Name: "customers", Releases: 1, RhoEach: 0.1, Rho: 0.1}, {Name: "als", Releases: 1, RhoEach: 0.3, Rho: 0.3}}}
	selected := budget.Entry{Time: now, Version: "s", Private: true, Rho: 0.3, Delta: 1e-6, DeltaThreshold: 1e-7}
	for _, tt := range []struct {
		e    budget.Entry
		c    budget.Component
		want float64
	}{
		{failed, failed.Components[0], 2.1419389283854744},
		{failed, failed.Components[1], 3.9200575369412025},
		{selected, budget.Component{Name: "selection", Rho: 0.3, DeltaThreshold: 1e-7}, 3.9367995782677507},
		{failed, budget.Component{Name: "nothing"}, 0},
		{budget.Entry{Time: now, Version: "np"}, budget.Component{Name: "als"}, math.Inf(1)},
	} {
		got, err := tt.e.ComponentEpsilon(tt.c)
		if err != nil || !(got == tt.want || near(got, tt.want, 1e-6)) {
			t.Errorf("Entry{%s, δ = %g, δ_τ = %g}.ComponentEpsilon(ρ = %g) = %v, %v; want %v", tt.e.Version, tt.e.Delta, tt.e.DeltaThreshold, tt.c.Rho, got, err, tt.want)
		}
	}
	if got, err := failed.ComponentEpsilon(budget.Component{Name: "bad", Rho: -1}); err == nil {
		t.Errorf("ComponentEpsilon(ρ = -1) = %v, nil; want an error", got)
	}
}

// TestLedgerCharge appends charges to a real store with a fake clock: the
// cap is enforced inside the store's append transaction.
func TestLedgerCharge(t *testing.T) {
	clock := storetest.NewClock(now)
	db := storetest.OpenMemory(t, clock.Now)
	c := budget.Cap{Epsilon: 4, Delta: 1e-6, Window: retention.Period{Days: 10}}
	charge := func(version string, rho float64) error {
		ch, err := c.Charge(private(version, clock.Now(), rho, 1e-6), clock.Now())
		if err != nil {
			return err
		}
		_, err = db.AppendLedger(t.Context(), *ch)
		return err
	}
	if err := charge("a", 0.2); err != nil {
		t.Fatalf("first charge: %v", err)
	}
	clock.Advance(days(5))
	var ex *budget.ExceededError
	if err := charge("b", 0.2); !errors.As(err, &ex) {
		t.Fatalf("second charge (ε = 4.60 > 4) = %v, want *ExceededError", err)
	}
	clock.Advance(days(5)) // "a" was charged exactly one window ago: out
	if err := charge("c", 0.2); err != nil {
		t.Fatalf("charge after the window = %v, want nil", err)
	}
	recs, err := db.Ledger(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	entries, err := budget.Decode(recs)
	if err != nil || len(entries) != 2 || entries[0].Version != "a" || entries[1].Version != "c" {
		t.Errorf("ledger = %+v, %v; want a and c", entries, err)
	}
	if _, err := budget.Decode([]store.LedgerRecord{{Time: now, Data: []byte(`{"version":""}`)}}); !errors.Is(err, budget.ErrEntry) {
		t.Errorf("Decode(invalid entry) = %v, want ErrEntry", err)
	}
}

// TestPending checks the charges written before the noise: a pending entry
// counts until its run's own entry replaces it, never twice, and not
// against that run's own final charge.
func TestPending(t *testing.T) {
	pending := func(version string, at time.Time, rho float64) budget.Entry {
		e := private(version, at, rho, 1e-6)
		e.Pending = true
		return e
	}
	c := budget.Cap{Epsilon: 4, Delta: 1e-6, Window: retention.Period{Days: 10}}
	replaced := []budget.Entry{pending("a", now.Add(-days(2)), 0.3), private("a", now.Add(-days(2)), 0.2, 1e-6)}
	killed := pending("b", now.Add(-days(1)), 0.05)
	entries := append(slices.Clone(replaced), killed)

	eff := budget.Effective(entries)
	if len(eff) != 2 || eff[0].Version != "a" || eff[0].Pending || eff[1].Version != "b" || !eff[1].Pending {
		t.Fatalf("Effective = %+v, want a's release, then b's pending charge", eff)
	}
	s, err := c.Spent(entries, now)
	if err != nil || !near(s.Rho, 0.25, 1e-12) || s.Releases != 2 {
		t.Errorf("Spent = %+v, %v; want ρ = 0.2 + 0.05 (the killed run's pending charge stands)", s, err)
	}
	// A run's final charge replaces its own pending one: ρ 0.05 + 0.25
	// fits (ε = 3.92 at ρ = 0.3 in TestCheck), which 0.05 + 0.3 + 0.25 would not.
	own := []budget.Entry{killed, pending("c", now, 0.3)}
	if s, err := c.Check(own, private("c", now, 0.25, 1e-6), now); err != nil || !near(s.Rho, 0.3, 1e-12) {
		t.Errorf("Check(c's release over c's pending charge) = %+v, %v; want ρ = 0.3 and no refusal", s, err)
	}
	// Another run's pending charge counts against it.
	if _, err := c.Check(own, private("d", now, 0.25, 1e-6), now); err == nil {
		t.Error("Check(d's release) ignores c's pending charge")
	}
	e := budget.Entry{Time: now, Version: "np", Pending: true}
	if err := e.Validate(); err == nil {
		t.Error("a non-private pending charge validates")
	}
}

// TestChargeRecordsCap: a charge records the cap in force, with its
// defaults, so that a later report computed with another configuration
// can show what each release was checked against.
func TestChargeRecordsCap(t *testing.T) {
	for _, tt := range []struct {
		name string
		cap  budget.Cap
		want budget.Cap
	}{
		{"defaults", budget.Cap{}, budget.Cap{Epsilon: 10, Delta: 1e-6, Window: retention.Period{Days: 365}}},
		{"set", budget.Cap{Epsilon: 4, Delta: 1e-7, Window: retention.Period{Months: 6}}, budget.Cap{Epsilon: 4, Delta: 1e-7, Window: retention.Period{Months: 6}}},
		{"none", budget.Cap{Epsilon: math.Inf(1)}, budget.Cap{Epsilon: math.Inf(1), Delta: 1e-6, Window: retention.Period{Days: 365}}},
	} {
		ch, err := tt.cap.Charge(private("v", now, 0.02, 1e-6), now)
		if err != nil {
			t.Fatalf("%s: Charge: %v", tt.name, err)
		}
		e, err := budget.Parse(ch.Data)
		if err != nil {
			t.Fatalf("%s: Parse(%s): %v", tt.name, ch.Data, err)
		}
		if e.Format != budget.EntryFormat || e.Cap == nil || *e.Cap != tt.want {
			t.Errorf("%s: Charge(...) entry = format %d, cap %v; want format %d, cap %+v\n%s", tt.name, e.Format, e.Cap, budget.EntryFormat, tt.want, ch.Data)
		}
	}
}

// TestEntryFormats: entries of format 1, written before the cap and the
// event days were recorded, still decode; a format-2 entry must record its
// cap; a later format is refused, not misread.
func TestEntryFormats(t *testing.T) {
	const v1 = `{"time":"2035-06-01T12:00:00Z","version":"v1","private":true,"mechanism":"dp-als","neighbouring":"add or remove one customer (all their events)",` +
		`"rho":0.024,"epsilon":0.99,"delta":1e-06,"rng":"crypto","window":{"from":"2032-06-01T12:00:00Z","to":"2035-06-01T12:00:00Z"}}`
	const v2 = `{"format":2,"time":"2035-06-01T12:00:00Z","version":"v2","private":true,"rho":0.024,"epsilon":0.99,"delta":1e-06,"rng":"crypto",` +
		`"window":{"from":"2032-06-01T12:00:00Z","to":"2035-06-01T12:00:00Z"},"events":{"first":"2034-01-02T00:00:00Z","last":"2035-05-31T00:00:00Z"},` +
		`"cap":{"epsilon":10,"delta":1e-06,"window":"365d"}}`
	e, err := budget.Parse([]byte(v1))
	if err != nil || e.Format != 0 || e.Cap != nil || e.Events != nil || e.Version != "v1" || e.Rho != 0.024 {
		t.Errorf("Parse(format 1) = %+v, %v; want the entry without cap or event days", e, err)
	}
	e, err = budget.Parse([]byte(v2))
	wantDays := budget.Days{First: time.Date(2034, 1, 2, 0, 0, 0, 0, time.UTC), Last: time.Date(2035, 5, 31, 0, 0, 0, 0, time.UTC)}
	if err != nil || e.Cap == nil || *e.Cap != (budget.Cap{Epsilon: 10, Delta: 1e-6, Window: retention.Period{Days: 365}}) ||
		e.Events == nil || !e.Events.First.Equal(wantDays.First) || !e.Events.Last.Equal(wantDays.Last) {
		t.Errorf("Parse(format 2) = %+v, %v", e, err)
	}
	for _, bad := range []struct{ name, doc string }{
		{"format 2 without cap", strings.Replace(v2, `,"cap":{"epsilon":10,"delta":1e-06,"window":"365d"}`, "", 1)},
		{"a later format", strings.Replace(v2, `"format":2`, `"format":3`, 1)},
		{"cap ε 0", strings.Replace(v2, `"epsilon":10,`, `"epsilon":0,`, 1)},
		{"cap without δ", strings.Replace(v2, `"delta":1e-06,"window"`, `"window"`, 1)},
		{"cap window", strings.Replace(v2, `"365d"`, `"a year"`, 1)},
		{"event days reversed", strings.Replace(v2, `"first":"2034-01-02T00:00:00Z"`, `"first":"2035-06-01T00:00:00Z"`, 1)},
		{"event day not a day", strings.Replace(v2, `"2034-01-02T00:00:00Z"`, `"2034-01-02T10:00:00Z"`, 1)},
	} {
		if _, err := budget.Parse([]byte(bad.doc)); !errors.Is(err, budget.ErrEntry) {
			t.Errorf("Parse(%s) = %v, want ErrEntry", bad.name, err)
		}
	}
	// Marshal writes the current format, and refuses an entry without cap.
	e = private("v", now, 0.02, 1e-6)
	if _, err := e.Marshal(); !errors.Is(err, budget.ErrEntry) {
		t.Errorf("Marshal(entry without cap) = %v, want ErrEntry", err)
	}
	e.Cap = &budget.Cap{Epsilon: math.Inf(1), Delta: 1e-6, Window: retention.Period{Years: 1}}
	b, err := e.Marshal()
	if err != nil || !strings.Contains(string(b), `"format":2`) || !strings.Contains(string(b), `"cap":{"epsilon":null,"delta":0.000001,"window":"1y"}`) {
		t.Errorf("Marshal = %s, %v; want format 2 and the cap, ε null for none", b, err)
	}
}

// TestCapString: the cap as reports and messages name it.
func TestCapString(t *testing.T) {
	for _, tt := range []struct {
		c    budget.Cap
		want string
	}{
		{budget.Cap{}, "ε = 10 at δ = 1e-06 over 365d"},
		{budget.Cap{Epsilon: 100, Window: retention.Period{Years: 1}}, "ε = 100 at δ = 1e-06 over 1y"},
		{budget.Cap{Epsilon: math.Inf(1)}, "none (ε = ∞) over 365d"},
	} {
		if got := tt.c.String(); got != tt.want {
			t.Errorf("Cap%+v.String() = %q, want %q", tt.c, got, tt.want)
		}
	}
	if !(budget.Cap{}).Equal(budget.Cap{Epsilon: 10, Delta: 1e-6, Window: retention.Period{Days: 365}}) || (budget.Cap{}).Equal(budget.Cap{Epsilon: 100}) {
		t.Error("Cap.Equal does not compare the caps with their defaults")
	}
}

// FuzzParse checks the ledger entry decoder: what it accepts encodes and
// decodes again to the same document.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"time":"2035-06-01T12:00:00Z","version":"v1","private":true,"rho":0.024,"epsilon":0.99,"delta":1e-06,"rng":"crypto","window":{"from":"2032-06-01T12:00:00Z","to":"2035-06-01T12:00:00Z"}}`))
	f.Add([]byte(`{"format":2,"time":"2035-06-01T12:00:00Z","version":"v2","private":true,"rho":0.024,"epsilon":0.99,"delta":1e-06,"rng":"crypto","events":{"first":"2034-01-02T00:00:00Z","last":"2035-05-31T00:00:00Z"},"cap":{"epsilon":null,"delta":1e-06,"window":"1y6mo"},"components":[{"name":"G","multiplier":39.86,"releases":2,"rho_each":0.0003,"rho":0.0006,"epsilon":0.1}]}`))
	f.Add([]byte(`{"format":2,"time":"2035-06-01T12:00:00Z","version":"np","private":false,"cap":{"epsilon":10,"delta":1e-06,"window":"365d"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := budget.Parse(b)
		if err != nil {
			return
		}
		b1, err := json.Marshal(&e)
		if err != nil {
			t.Fatalf("Parse(%q) = %+v, which does not encode: %v", b, e, err)
		}
		e2, err := budget.Parse(b1)
		if err != nil {
			t.Fatalf("Parse(%s), encoded from Parse(%q): %v", b1, b, err)
		}
		if b2, err := json.Marshal(&e2); err != nil || string(b2) != string(b1) {
			t.Errorf("entry %s decodes and encodes to %s (%v)", b1, b2, err)
		}
	})
}

func TestCapLooser(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	base := budget.Cap{Epsilon: 3, Delta: 1e-6, Window: retention.Period{Days: 30}}
	tests := []struct {
		name string
		c    budget.Cap
		want bool
	}{
		{"same", base, false},
		{"same with defaults", budget.Cap{Epsilon: 3, Window: retention.Period{Days: 30}}, false},
		{"larger ε", budget.Cap{Epsilon: 3.5, Delta: 1e-6, Window: retention.Period{Days: 30}}, true},
		{"no cap", budget.Cap{Epsilon: math.Inf(1), Delta: 1e-6, Window: retention.Period{Days: 30}}, true},
		{"larger δ", budget.Cap{Epsilon: 3, Delta: 1e-5, Window: retention.Period{Days: 30}}, true},
		{"shorter window", budget.Cap{Epsilon: 3, Delta: 1e-6, Window: retention.Period{Days: 29}}, true},
		// February 2026 has 28 days: a month ending on March 1 is shorter than 30 days.
		{"a month, shorter here", budget.Cap{Epsilon: 3, Delta: 1e-6, Window: retention.Period{Months: 1}}, true},
		{"longer window", budget.Cap{Epsilon: 3, Delta: 1e-6, Window: retention.Period{Years: 1}}, false},
		{"stricter everywhere", budget.Cap{Epsilon: 1, Delta: 1e-7, Window: retention.Period{Days: 60}}, false},
		{"stricter ε, shorter window", budget.Cap{Epsilon: 1, Delta: 1e-6, Window: retention.Period{Days: 10}}, true},
	}
	for _, tt := range tests {
		if got := tt.c.Looser(base, now); got != tt.want {
			t.Errorf("%s: %v.Looser(%v) = %v, want %v", tt.name, tt.c, base, got, tt.want)
		}
	}
}
