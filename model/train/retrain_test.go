package train_test

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/discret-io/discret/features/synth"
	"github.com/discret-io/discret/model/budget"
	"github.com/discret-io/discret/model/train"
	"github.com/discret-io/discret/privacy/dp"
)

// TestDefaultCapFitsRetraining: the default cap leaves room for a year of
// retraining without a catalogue, each release spending its selection's
// δ_τ (train.SelectionDeltaShare of its δ), as train records the releases.
// Weekly runs at the default ε, each checked by Run against the ledger of
// the previous ones, are all accepted. The other cadences and the δ
// regimes of the default δ rule compose a year of recorded entries: the
// release entry of a run at that (ε, δ), repeated, and the pending charge
// of the next run (at the upper bound δ = 10⁻⁶ of the rule).
func TestDefaultCapFitsRetraining(t *testing.T) {
	t.Parallel()
	const (
		day  = 24 * time.Hour
		week = 7 * day
	)
	// data on which a run at ε ≥ 0.35 selects some items and stores.
	data := synth.Config{Customers: 2000, Items: 12, Stores: 3, Events: 24_000, Seed: 5}
	t.Run("weekly runs", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, data)
		var rep *train.Report
		for i := range 52 {
			c := testConfig(f, uint64(i+1))
			c.ALS.Iterations = 1
			var err error
			if rep, err = train.Run(t.Context(), f.db, c); err != nil {
				t.Fatalf("run %d of 52, a week apart: %v", i+1, err)
			}
			f.clock.Advance(week)
		}
		s := rep.Spend
		if tau := 52 * selectionDeltaTau(t, 1, 1e-6); s.Releases != 52 || s.Delta != 1e-6 || math.Abs(s.DeltaThreshold-tau) > 1e-9*tau || !s.Fits() {
			t.Errorf("after 52 weekly runs, spend = %+v; want 52 releases, δ = 1e-6, δ_τ = %g, within the cap", s, tau)
		}
	})

	// released returns the ledger entry of a release at (ε, δ).
	released := func(t *testing.T, eps, delta float64) budget.Entry {
		t.Helper()
		f := newFixture(t, data)
		c := testConfig(f, 1)
		c.Epsilon, c.Delta = eps, delta
		c.ALS.Iterations = 1
		if _, err := train.Run(t.Context(), f.db, c); err != nil {
			t.Fatalf("run at (ε, δ) = (%v, %v): %v", eps, delta, err)
		}
		e := ledger(t, f.db)
		if len(e) != 1 || e[0].Pending || !(e[0].DeltaThreshold > 0) {
			t.Fatalf("ledger after a run at (ε, δ) = (%v, %v) = %+v; want one release with a δ_τ", eps, delta, e)
		}
		return e[0]
	}
	// pending returns the pending charge of a run at ε with the default δ
	// rule (a run that dies once it has written it).
	pending := func(t *testing.T, eps float64) budget.Entry {
		t.Helper()
		f := newFixture(t, data)
		c := testConfig(f, 1)
		c.Epsilon = eps
		if _, err := train.Run(t.Context(), dying{f.db}, c); err == nil {
			t.Fatal("run on a dying store = nil error")
		}
		e := ledger(t, f.db)
		if len(e) != 1 || !e[0].Pending || e[0].Delta != train.DefaultDelta || !(e[0].DeltaThreshold > 0) || len(e[0].Selected) != 2 {
			t.Fatalf("ledger of a killed run = %+v; want its pending charge at δ = %g with a δ_τ, choosing items and stores", e, train.DefaultDelta)
		}
		return e[0]
	}
	for _, tt := range []struct {
		name   string
		eps    float64
		deltas []float64 // of successive releases, cycled
		n      int
		every  time.Duration
		fits   bool
	}{
		{"weekly, up to 100 000 customers", 1, []float64{1e-6}, 52, week, true},
		{"weekly, over 100 000 customers", 1, []float64{1e-7}, 52, week, true},
		{"weekly, over 1 000 000 customers", 1, []float64{1e-8}, 52, week, true},
		{"weekly, about 100 000 customers", 1, []float64{1e-6, 1e-7}, 52, week, true},
		{"daily, up to 100 000 customers", 0.35, []float64{1e-6}, 365, day, true},
		{"daily, over 100 000 customers", 0.35, []float64{1e-7}, 365, day, true},
		{"daily, about 100 000 customers", 0.35, []float64{1e-6, 1e-7}, 365, day, true},
		// Over the cap by its ε (ρ), but a statement still: the δ_τ leave
		// δ to convert at.
		{"daily at the default ε", 1, []float64{1e-6}, 365, day, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rel := make([]budget.Entry, len(tt.deltas))
			for i, d := range tt.deltas {
				rel[i] = released(t, tt.eps, d)
			}
			now := rel[0].Time
			var year []budget.Entry // the releases before now, newest first
			for i := 1; i < tt.n; i++ {
				e := rel[i%len(rel)]
				e.Version, e.Time = fmt.Sprintf("r%d", i), now.Add(-time.Duration(i)*tt.every)
				year = append(year, e)
			}
			next := pending(t, tt.eps)
			next.Time = now
			if _, err := (budget.Cap{}).Check(year, next, now); tt.fits && err != nil {
				t.Errorf("a run after %d releases, every %v: %v", tt.n-1, tt.every, err)
			}
			r := rel[0]
			r.Time = now
			s, err := budget.Cap{}.Spent(append(year, r), now)
			var tau float64
			for i := range tt.n {
				tau += rel[i%len(rel)].DeltaThreshold
			}
			if err != nil || s.Releases != tt.n || math.Abs(s.DeltaThreshold-tau) > 1e-9*tau || math.IsInf(s.Epsilon, 1) || s.Fits() != tt.fits {
				t.Errorf("%d releases at ε = %v, every %v: Spent = %+v, %v; want δ_τ = %g, a finite ε, within the cap %v", tt.n, tt.eps, tt.every, s, err, tau, tt.fits)
			}
			// Within the cap, the thresholds spend at most about
			// SelectionDeltaShare of the largest δ, whatever the cadence.
			if most := 1.01 * train.SelectionDeltaShare * slices.Max(tt.deltas); tt.fits && s.DeltaThreshold > most {
				t.Errorf("%d releases at ε = %v within the cap spend δ_τ = %g, want at most %g", tt.n, tt.eps, s.DeltaThreshold, most)
			}
			t.Logf("%d releases at ε = %v every %v: cumulative ε = %.4f at δ = %g, δ_τ = %.3g", tt.n, tt.eps, tt.every, s.Epsilon, s.Delta, s.DeltaThreshold)
		})
	}
}

// selectionDeltaTau is the δ_τ of a selection in a release at (ε, δ)
// under the default cap, as the package documentation states it:
// SelectionDeltaShare·min(δ, δ_cap)·ρ(ε, δ)/ρ(ε_cap, δ_cap).
func selectionDeltaTau(t *testing.T, eps, delta float64) float64 {
	t.Helper()
	c := budget.Cap{}.WithDefaults()
	rho, err := dp.RhoForEpsilon(eps, delta, dp.RDP)
	if err != nil {
		t.Fatal(err)
	}
	rhoCap, err := dp.RhoForEpsilon(c.Epsilon, c.Delta, dp.RDP)
	if err != nil {
		t.Fatal(err)
	}
	return train.SelectionDeltaShare * min(delta, c.Delta) * min(1, rho/rhoCap)
}

// ledger returns the effective entries of db's ledger.
func ledger(t *testing.T, db budget.LedgerReader) []budget.Entry {
	t.Helper()
	entries, err := budget.Read(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	return budget.Effective(entries)
}

// TestSelectionDeltaTau: a selection's δ_τ is SelectionDeltaShare of δ
// (of the cap's, if smaller) in proportion to the share of the cap's ρ
// that its release spends, and the whole share without a cap; the ledger
// entry says what was chosen from the data.
func TestSelectionDeltaTau(t *testing.T) {
	t.Parallel()
	cfg := small()
	f := newFixture(t, cfg)
	items, stores := catalogue(t, cfg)
	both := []string{budget.SelectedItems, budget.SelectedStores}
	for _, tt := range []struct {
		cap                 budget.Cap
		eps, delta          float64
		catalogue, storeIDs bool
		want                float64
		selected            []string
	}{
		{budget.Cap{}, 1, 0, false, false, selectionDeltaTau(t, 1, 1e-6), both},
		{budget.Cap{}, 2, 0, false, false, selectionDeltaTau(t, 2, 1e-6), both},
		// Above the cap's δ: a share of the cap's δ, against which the
		// window's δ_τ add up.
		{budget.Cap{}, 1, 1e-4, false, false, selectionDeltaTau(t, 1, 1e-4), both},
		{budget.Cap{Epsilon: math.Inf(1)}, 1, 0, false, false, train.SelectionDeltaShare * 1e-6, both},
		{budget.Cap{}, 1, 0, true, false, selectionDeltaTau(t, 1, 1e-6), []string{budget.SelectedStores}},
		{budget.Cap{}, 1, 0, true, true, 0, nil},
	} {
		f.clock.Advance(time.Hour)
		c := testConfig(f, 1)
		c.Epsilon, c.Delta, c.Cap, c.AcceptCapChange = tt.eps, tt.delta, tt.cap, true
		if tt.catalogue {
			c.Catalogue = items
		}
		if tt.storeIDs {
			c.Stores = stores
		}
		c.ALS.Iterations = 1
		rep, err := train.Run(t.Context(), f.db, c)
		if err != nil {
			t.Fatalf("Run at (ε, δ) = (%v, %v) under the cap %v: %v", tt.eps, tt.delta, tt.cap, err)
		}
		if got := rep.Card.Privacy.DeltaThreshold; math.Abs(got-tt.want) > 1e-9*tt.want {
			t.Errorf("Run at (ε, δ) = (%v, %v) under the cap %v, catalogue %v, stores %v: δ_τ = %v, want %v", tt.eps, tt.delta, tt.cap, tt.catalogue, tt.storeIDs, got, tt.want)
		}
		e := ledger(t, f.db)
		if last := e[len(e)-1]; !slices.Equal(last.Selected, tt.selected) || last.DeltaThreshold != rep.Card.Privacy.DeltaThreshold {
			t.Errorf("catalogue %v, stores %v: ledger entry chose %q (δ_τ = %v), want %q (the card's δ_τ %v)", tt.catalogue, tt.storeIDs, last.Selected, last.DeltaThreshold, tt.selected, rep.Card.Privacy.DeltaThreshold)
		}
	}
}

// TestCardIndependentOfKeyCount: the noise figures of a release's card do
// not depend on how many distinct item and store identifiers the data
// holds, also below the number of keys a customer contributes to the
// selection (a lattice sized from that count would leak it).
func TestCardIndependentOfKeyCount(t *testing.T) {
	t.Parallel()
	var cards [][]budget.Component
	for _, cfg := range []synth.Config{
		{Customers: 400, Items: 8, Stores: 2, Events: 8000, Seed: 7},
		{Customers: 400, Items: 20, Stores: 4, Events: 8000, Seed: 7},
	} {
		f := newFixture(t, cfg)
		c := testConfig(f, 1)
		c.ALS.Iterations = 1
		rep, err := train.Run(t.Context(), f.db, c)
		if err != nil {
			t.Fatalf("%d items, %d stores: %v", cfg.Items, cfg.Stores, err)
		}
		cards = append(cards, rep.Card.Privacy.Components)
	}
	if !slices.Equal(cards[0], cards[1]) {
		t.Errorf("card components with 10 identifiers in the data:\n%+v\nwith 24:\n%+v\nwant the same", cards[0], cards[1])
	}
}
