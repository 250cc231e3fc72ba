package train_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/eventfile"
	"github.com/discret-io/discret/features/ingest"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/store/storetest"
	"github.com/discret-io/discret/features/synth"
	"github.com/discret-io/discret/model/als"
	"github.com/discret-io/discret/model/budget"
	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/model/train"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
	"github.com/discret-io/discret/privacy/dp"
	"github.com/discret-io/discret/privacy/dp/dptest"
	"github.com/discret-io/discret/privacy/pseudonym"
	"github.com/discret-io/discret/privacy/retention"
)

var optOut = consent.Defaults{Personalization: true, InStore: true}

// fixture is a store filled with a small synthetic dataset.
type fixture struct {
	db    *store.DB
	clock *storetest.Clock
	ps    *pseudonym.Keyed
	sum   synth.Summary
}

// newFixture generates a synthetic dataset ending at the fake clock's time
// and ingests it with opt-out defaults (every customer consents unless they
// said otherwise; the synthetic consent file is not imported).
func newFixture(t *testing.T, cfg synth.Config) *fixture {
	t.Helper()
	clock := storetest.NewClock(storetest.Epoch)
	f := &fixture{db: storetest.OpenMemory(t, clock.Now), clock: clock}
	var err error
	if f.ps, err = pseudonym.New(bytes.Repeat([]byte{9}, 32)); err != nil {
		t.Fatal(err)
	}
	cfg.End = clock.Now()
	var events bytes.Buffer
	if f.sum, err = synth.Generate(t.Context(), cfg, synth.Output{Events: &events}, nil); err != nil {
		t.Fatal(err)
	}
	in, err := ingest.New(ingest.Config{Pseudonyms: f.ps, Consent: optOut, Now: clock.Now}, f.db)
	if err != nil {
		t.Fatal(err)
	}
	var batch []features.RawEvent
	write := func() {
		if _, err := in.Write(t.Context(), batch); err != nil {
			t.Fatal(err)
		}
		batch = batch[:0]
	}
	for rec, err := range eventfile.Read(t.Context(), &events, eventfile.Options{Format: eventfile.Discret}) {
		if err != nil || rec.Err != nil {
			t.Fatalf("reading synthetic events: %v %v", err, rec.Err)
		}
		if batch = append(batch, rec.Event); len(batch) == in.BatchSize() {
			write()
		}
	}
	write()
	return f
}

func small() synth.Config {
	return synth.Config{Customers: 400, Items: 60, Stores: 3, Events: 12_000, Seed: 7}
}

// testConfig is a private configuration with a seeded source.
// testConfig is a run on the fixture's small data: its releases become
// current whatever their privacy and number of items (TestNotCurrent
// checks the rules).
func testConfig(f *fixture, seed uint64) train.Config {
	return train.Config{
		Consent: optOut, Now: f.clock.Now, Source: dptest.New(seed), AllowTestSource: true,
		ALS:                    als.Config{Factors: 8, Workers: 2},
		AllowNonPrivateCurrent: true, MinSelectedItems: -1,
	}
}

// TestNotCurrent: a release that servers would refuse (non-private, without
// AllowNonPrivateCurrent) or that selected too few items is stored and
// charged, and the current release stays.
func TestNotCurrent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, small())
	ctx := t.Context()
	first, err := train.Run(ctx, f.db, testConfig(f, 1))
	if err != nil || !first.Current || first.NotCurrent != "" {
		t.Fatalf("first run: %+v, %v; want current", first, err)
	}
	for _, tc := range []struct {
		name   string
		modify func(*train.Config)
		reason string
	}{
		{"non-private", func(c *train.Config) { c.Epsilon, c.AllowNonPrivateCurrent = math.Inf(1), false }, "non-private"},
		{"too few items selected", func(c *train.Config) { c.MinSelectedItems = 1000 }, "passed the DP selection (fewer than 1000)"},
	} {
		f.clock.Advance(time.Hour)
		c := testConfig(f, 2)
		tc.modify(&c)
		rep, err := train.Run(ctx, f.db, c)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if rep.Current || !strings.Contains(rep.NotCurrent, tc.reason) {
			t.Errorf("%s: Current %v, NotCurrent %q; want not current, saying %q", tc.name, rep.Current, rep.NotCurrent, tc.reason)
		}
		cur, err := release.LoadCurrent(ctx, f.db)
		if err != nil || cur.Card.Version != first.Version {
			t.Errorf("%s: current release %v, %v; want still %s", tc.name, cur.Card.Version, err, first.Version)
		}
		if _, err := release.Load(ctx, f.db, rep.Version); err != nil {
			t.Errorf("%s: release %s not stored: %v", tc.name, rep.Version, err)
		}
	}
}

// TestTooFewItems: a release whose items were selected from the data is too
// poor to serve below the minimum (0: DefaultMinSelectedItems, negative:
// none); one with a catalogue or the data's own items never is.
func TestTooFewItems(t *testing.T) {
	for _, tt := range []struct {
		universe       string
		trained, limit int
		want           string // "" for none, else the start of the reason
	}{
		{release.UniverseSelection, 3, 0, "only 3 items passed the DP selection (fewer than 10): "},
		{release.UniverseSelection, 1, 0, "only 1 item passed the DP selection (fewer than 10): "},
		{release.UniverseSelection, 9, 0, "only 9 items passed"},
		{release.UniverseSelection, 10, 0, ""},
		{release.UniverseSelection, 3, 3, ""},
		{release.UniverseSelection, 3, 4, "only 3 items passed the DP selection (fewer than 4): "},
		{release.UniverseSelection, 1, -1, ""},
		{release.UniverseCatalogue, 3, 0, ""},
		{release.UniverseData, 3, 0, ""},
	} {
		got := train.TooFewItems(&release.Card{Universe: tt.universe, Trained: tt.trained}, tt.limit)
		if tt.want == "" && got != "" || !strings.HasPrefix(got, tt.want) {
			t.Errorf("TooFewItems(%s, %d trained, min %d) = %q, want %q…", tt.universe, tt.trained, tt.limit, got, tt.want)
		}
	}
}

func TestTrainPrivate(t *testing.T) {
	t.Parallel()
	f := newFixture(t, small())
	ctx := t.Context()
	cfg := testConfig(f, 1)
	var stages []string
	var iterEps []float64
	cfg.Progress = func(p train.Progress) {
		stages = append(stages, p.Stage)
		if p.Stage == train.StageTraining {
			iterEps = append(iterEps, p.Epsilon)
		}
	}
	rep, err := train.Run(ctx, f.db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Card
	if !c.Private || c.RNG != "test-seeded" || c.Universe != release.UniverseSelection || c.Privacy == nil {
		t.Fatalf("card = %+v", c)
	}
	if got := c.Privacy.Epsilon; got > 1+1e-9 || got < 0.99 {
		t.Errorf("card ε = %v, want just below the target 1", got)
	}
	if tau := selectionDeltaTau(t, 1, 1e-6); c.Privacy.Delta != 1e-6 || math.Abs(c.Privacy.DeltaThreshold-tau) > 1e-9*tau {
		t.Errorf("card δ = %v, δ_τ = %v; want 1e-6 and %v", c.Privacy.Delta, c.Privacy.DeltaThreshold, tau)
	}
	want := []string{train.StageSnapshot, train.StageSelection, train.StagePopularity}
	if !slices.Equal(stages[:3], want) || stages[len(stages)-1] != train.StageStoring {
		t.Errorf("stages = %v", stages)
	}
	if len(iterEps) != als.DefaultPrivateIterations || !slices.IsSorted(iterEps) || math.Abs(iterEps[len(iterEps)-1]-c.Privacy.Epsilon) > 1e-6 {
		t.Errorf("ε after each iteration = %v, want increasing to the card's %v", iterEps, c.Privacy.Epsilon)
	}
	if c.Customers.Method != "noisy" || c.Customers.Value <= 0 || math.Abs(float64(c.Customers.Value)-float64(rep.Customers)) > 6*c.Customers.Sigma+float64(rep.Customers)/50 {
		t.Errorf("card customers = %+v for %d customers", c.Customers, rep.Customers)
	}
	rel, err := release.LoadCurrent(ctx, f.db)
	if err != nil {
		t.Fatal(err)
	}
	if rel.Card.Version != rep.Version || len(rel.Items) != rep.Items {
		t.Errorf("current release %s with %d items, report %s with %d items", rel.Card.Version, len(rel.Items), rep.Version, rep.Items)
	}
	// A few hundred customers at ε = 1 support only the minimum rank.
	if h := rel.Card.Hyper; rel.Factors() != als.MinPrivateRank || h.MaxFactors != 8 || !h.RankRule {
		t.Errorf("release has %d factors (max %d, rule %v), want %d of at most 8 by the rank rule", rel.Factors(), h.MaxFactors, h.RankRule, als.MinPrivateRank)
	}
	t.Logf("customers %d (card %d), users %d, items %d, stores %d, ε %.4f", rep.Customers, c.Customers.Value, rep.Users, rep.Items, rep.Stores, c.Privacy.Epsilon)
}

func TestRefusesTestSource(t *testing.T) {
	t.Parallel()
	f := newFixture(t, synth.Config{Customers: 20, Items: 10, Events: 200, Seed: 1})
	cfg := testConfig(f, 1)
	cfg.AllowTestSource = false
	if _, err := train.Run(t.Context(), f.db, cfg); !errors.Is(err, dp.ErrTestSource) {
		t.Errorf("Run with a seeded source in production = %v, want dp.ErrTestSource", err)
	}
}

// TestRefusesPrivacyOutOfRange: an ε below MinEpsilon (one that rounds to
// 0 in a step, too) or above MaxEpsilon (one whose noise the fixed-point
// sums cannot represent), and a δ below MinDelta, are refused before
// anything is charged.
func TestRefusesPrivacyOutOfRange(t *testing.T) {
	t.Parallel()
	f := newFixture(t, synth.Config{Customers: 20, Items: 10, Events: 200, Seed: 1})
	for _, tt := range []struct{ eps, delta float64 }{
		{train.MinEpsilon / 2, 0}, {1e-300, 0}, {train.MaxEpsilon * 1.01, 0}, {1e15, 0},
		{1, train.MinDelta / 2}, {1, 1e-300},
	} {
		cfg := testConfig(f, 1)
		cfg.Epsilon, cfg.Delta = tt.eps, tt.delta
		_, err := train.Run(t.Context(), f.db, cfg)
		want := "want a number in [0.001, 100]"
		if tt.delta != 0 {
			want = "want 1e-12 ≤ δ < 1"
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Run(ε = %g, δ = %g) = %v, want an error containing %q", tt.eps, tt.delta, err, want)
		}
	}
	if recs, err := f.db.Ledger(t.Context()); err != nil || len(recs) != 0 {
		t.Errorf("ledger after refused runs: %d entries, %v; want none", len(recs), err)
	}
}

// TestRefusesEmailLikeIDs: catalogue items and stores that look like an
// e-mail address (a customer id in the wrong field) are refused before
// anything is charged: they would be written into the release as they are.
func TestRefusesEmailLikeIDs(t *testing.T) {
	t.Parallel()
	f := newFixture(t, synth.Config{Customers: 20, Items: 10, Events: 200, Seed: 1})
	for _, tt := range []struct {
		name          string
		items, stores []string
		wantInMessage string
	}{
		{"catalogue item", []string{"SKU-1", "ann@example.com"}, nil, "catalogue item 1"},
		{"store", nil, []string{"store-01", "ann@example.com"}, "store 1"},
	} {
		cfg := testConfig(f, 1)
		cfg.Catalogue, cfg.Stores = tt.items, tt.stores
		_, err := train.Run(t.Context(), f.db, cfg)
		if !errors.Is(err, features.ErrEmailLike) || !strings.Contains(err.Error(), tt.wantInMessage) || strings.Contains(err.Error(), "ann@") {
			t.Errorf("%s: Run = %v, want ErrEmailLike naming %q, without the value", tt.name, err, tt.wantInMessage)
		}
	}
	if recs, err := f.db.Ledger(t.Context()); err != nil || len(recs) != 0 {
		t.Errorf("ledger after refused runs: %d entries, %v; want none", len(recs), err)
	}
}

// catalogue returns the synthetic catalogue's item and store identifiers.
func catalogue(t *testing.T, cfg synth.Config) (items, stores []string) {
	t.Helper()
	cat, err := synth.Catalogue(cfg)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, it := range cat {
		items = append(items, it.ID)
		for _, s := range it.Stores {
			if !seen[s] {
				seen[s] = true
				stores = append(stores, s)
			}
		}
	}
	return items, stores
}

// TestCardMatchesCalibrate recomputes the budget split of the package
// documentation and checks that the card's ALS components are exactly
// dp.Calibrate's, with and without a key selection.
func TestCardMatchesCalibrate(t *testing.T) {
	t.Parallel()
	cfg := small()
	f := newFixture(t, cfg)
	items, stores := catalogue(t, cfg)
	for _, tt := range []struct {
		name      string
		catalogue bool
		eps       float64
		gram      als.Gram
	}{{"selection", false, 1, als.GramNoisy}, {"catalogue", true, 2, als.GramNoisy}, {"proxy", true, 1, als.GramProxy}} {
		f.clock.Advance(time.Minute)
		c := testConfig(f, 3)
		c.Epsilon = tt.eps
		c.Privacy.Gram = tt.gram
		if tt.catalogue {
			c.Catalogue, c.Stores = items, stores
		}
		rep, err := train.Run(t.Context(), f.db, c)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		p := rep.Card.Privacy
		deltaConv := 1e-6
		if !tt.catalogue {
			deltaConv -= selectionDeltaTau(t, tt.eps, 1e-6)
		}
		rhoTot, _ := dp.RhoForEpsilon(tt.eps, deltaConv, dp.RDP)
		rhoN := train.DefaultCustomersShare * rhoTot
		rhoPop := train.DefaultPopularShare * rhoTot
		rhoSel := 0.0
		if !tt.catalogue {
			rhoSel = train.DefaultSelectionShare * rhoTot
		}
		epsALS, _ := dp.Epsilon(rhoTot-rhoN-rhoSel-rhoPop, deltaConv, dp.RDP)
		T, beta := als.DefaultPrivateIterations, als.DefaultBudget
		cal, err := dp.Calibrate(dp.CalibrationConfig{
			Epsilon: epsALS, Delta: deltaConv, Steps: T, Beta: beta,
			CountShare: als.DefaultCountShare, Gravity: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		if tt.gram == als.GramProxy {
			// The proxy releases only G and t each step, splitting the
			// step's ρ (1, β)/(1+β) (package als, calibrate).
			rhoALS, _ := dp.RhoForEpsilon(epsALS, deltaConv, dp.RDP)
			rhoC := als.DefaultCountShare * rhoALS
			step := (rhoALS - rhoC) / float64(T)
			cal.ZCounts, cal.ZG, cal.ZT = dp.MultiplierForRho(rhoC), dp.MultiplierForRho(step/(1+beta)), dp.MultiplierForRho(step*beta/(1+beta))
		}
		want := map[string]struct {
			z        float64
			releases int
		}{
			"customers": {dp.MultiplierForRho(rhoN), 1}, "popularity": {dp.MultiplierForRho(rhoPop), 1},
			"counts": {cal.ZCounts, 1}, "G": {cal.ZG, T}, "t": {cal.ZT, T},
		}
		if tt.gram == als.GramNoisy {
			want["S"] = struct {
				z        float64
				releases int
			}{cal.ZS, T}
		}
		if !tt.catalogue {
			want["selection"] = struct {
				z        float64
				releases int
			}{dp.MultiplierForRho(rhoSel), 1}
		}
		var rho float64
		for _, comp := range p.Components {
			w, ok := want[comp.Name]
			if !ok {
				t.Errorf("%s: unexpected component %q", tt.name, comp.Name)
				continue
			}
			delete(want, comp.Name)
			if math.Abs(comp.Multiplier-w.z) > 1e-12*w.z || comp.Releases != w.releases {
				t.Errorf("%s: component %s: z = %.15g ×%d, want %.15g ×%d", tt.name, comp.Name, comp.Multiplier, comp.Releases, w.z, w.releases)
			}
			if r := float64(comp.Releases) / (2 * comp.Multiplier * comp.Multiplier); math.Abs(comp.Rho-r) > 1e-12*r {
				t.Errorf("%s: component %s: ρ = %v, want %v", tt.name, comp.Name, comp.Rho, r)
			}
			rho += comp.Rho
		}
		if len(want) > 0 {
			t.Errorf("%s: missing components %v", tt.name, want)
		}
		eps, _ := dp.Epsilon(rho, deltaConv, dp.RDP)
		if math.Abs(p.Rho-rho) > 1e-12*rho || math.Abs(p.Epsilon-eps) > 1e-12 || p.Epsilon > tt.eps+1e-9 || p.Epsilon < tt.eps*(1-1e-6) {
			t.Errorf("%s: card ρ = %v, ε = %v; want ρ = Σ components = %v, ε = %v ≤ %v", tt.name, p.Rho, p.Epsilon, rho, eps, tt.eps)
		}
		simple := rho + 2*math.Sqrt(rho*math.Log(1/deltaConv))
		if math.Abs(p.EpsilonSimple-simple) > 1e-12 || !(p.EpsilonGaussian < p.Epsilon) {
			t.Errorf("%s: ε simple = %v (want %v), exact Gaussian %v (want below %v)", tt.name, p.EpsilonSimple, simple, p.EpsilonGaussian, p.Epsilon)
		}
		if tt.catalogue && (rep.Card.Universe != release.UniverseCatalogue || rep.Items != len(items) || rep.Stores != len(stores)) {
			t.Errorf("catalogue: universe %q, %d items, %d stores; want the catalogue's %d and %d", rep.Card.Universe, rep.Items, rep.Stores, len(items), len(stores))
		}
	}
}

// TestConsent checks that training never sees the events of customers
// without consent, nor of erased ones. Each customer's events are about an
// item and stores of their own, so a non-private release, whose items and
// stores are those of the data, shows exactly whose events it saw.
func TestConsent(t *testing.T) {
	t.Parallel()
	clock := storetest.NewClock(storetest.Epoch)
	db := storetest.OpenMemory(t, clock.Now)
	ctx := t.Context()
	now := clock.Now()
	both := []consent.Change{
		storetest.Grant(privacy.Personalization, true, now.Add(-time.Hour)),
		storetest.Grant(privacy.InStore, true, now.Add(-time.Hour)),
	}
	withdraw := func(p privacy.PseudoID) {
		if _, err := db.UpdateConsent(ctx, p, []consent.Change{storetest.Grant(privacy.Personalization, false, now)}, optOut); err != nil {
			t.Fatal(err)
		}
	}
	forget := func(p privacy.PseudoID) {
		if _, err := db.Forget(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	customers := []struct {
		name   string
		record []consent.Change       // before the events
		after  func(privacy.PseudoID) // after the events
	}{
		{"granted", both, nil},
		{"default", nil, nil}, // no record: events stored under opt-out defaults
		{"withdrawn", both, withdraw},
		{"forgotten", both, forget},
	}
	for i, c := range customers {
		p := storetest.Pseudo(i + 1)
		if c.record != nil {
			if _, err := db.UpdateConsent(ctx, p, c.record, optOut); err != nil {
				t.Fatal(err)
			}
		}
		var es []store.Entry
		for k := range 3 {
			at := now.Add(-time.Duration(k+1) * time.Hour)
			es = append(es,
				store.Entry{Event: features.Event{Customer: p, Item: c.name + "-item", Kind: privacy.Purchase, Store: c.name + "-shop", Time: at, Quantity: 1}, ExpiresAt: now.AddDate(1, 0, 0)},
				store.Entry{Event: features.Event{Customer: p, Kind: privacy.StoreVisit, Store: c.name + "-visit", Time: at, Quantity: 1}, ExpiresAt: now.AddDate(1, 0, 0)},
			)
		}
		if err := db.AppendEvents(ctx, store.Batch{Events: es, Defaults: optOut}); err != nil {
			t.Fatalf("appending %s's events: %v", c.name, err)
		}
		if c.after != nil {
			c.after(p)
		}
	}
	trainWith := func(d consent.Defaults) (*train.Report, *release.Release) {
		t.Helper()
		clock.Advance(time.Minute)
		rep, err := train.Run(ctx, db, train.Config{
			Epsilon: math.Inf(1), Consent: d, Now: clock.Now, AllowNonPrivateCurrent: true,
			Source: dptest.New(1), AllowTestSource: true, ALS: als.Config{Factors: 2, Iterations: 2},
		})
		if err != nil {
			t.Fatal(err)
		}
		rel, err := release.LoadCurrent(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if rel.Card.Private || rel.Card.Universe != release.UniverseData {
			t.Errorf("card private %v universe %q, want a non-private release over the data", rel.Card.Private, rel.Card.Universe)
		}
		return rep, rel
	}

	// Opt-in defaults now: only the customer who granted is used.
	rep, rel := trainWith(consent.Defaults{})
	if want := []string{"granted-item"}; !slices.Equal(rel.Items, want) {
		t.Errorf("opt-in: released items = %v, want %v", rel.Items, want)
	}
	if want := []string{"granted-shop", "granted-visit"}; !slices.Equal(rel.Stores, want) {
		t.Errorf("opt-in: released stores = %v, want %v", rel.Stores, want)
	}
	if rep.Customers != 1 || rep.ExcludedCustomers != 1 || rep.ExcludedEvents != 6 {
		t.Errorf("opt-in: %d customers, %d excluded with %d events; want 1, 1 (default), 6", rep.Customers, rep.ExcludedCustomers, rep.ExcludedEvents)
	}

	// Opt-out personalization, opt-in in-store: the customer without a
	// record is back, without their store visits.
	rep, rel = trainWith(consent.Defaults{Personalization: true})
	if want := []string{"default-item", "granted-item"}; !slices.Equal(rel.Items, want) {
		t.Errorf("opt-out: released items = %v, want %v", rel.Items, want)
	}
	if want := []string{"default-shop", "granted-shop", "granted-visit"}; !slices.Equal(rel.Stores, want) {
		t.Errorf("opt-out: released stores = %v, want %v", rel.Stores, want)
	}
	if rep.Customers != 2 || rep.ExcludedCustomers != 0 || rep.ExcludedEvents != 3 {
		t.Errorf("opt-out: %d customers, %d excluded with %d events; want 2, 0, 3 (default's visits)", rep.Customers, rep.ExcludedCustomers, rep.ExcludedEvents)
	}
}

// staleLedger hides the ledger from the check Run makes before training,
// as if another release were committed meanwhile: only the check in the
// store's commit transaction sees it.
// staleLedger is a store whose ledger changes under the run: the run reads
// it empty, and its pending charge is appended unchecked, as if the other
// releases had been charged after it.
type staleLedger struct{ *store.DB }

func (staleLedger) Ledger(context.Context) ([]store.LedgerRecord, error) { return nil, nil }

func (s staleLedger) AppendLedger(ctx context.Context, c store.LedgerCharge) (store.LedgerRecord, error) {
	if e, err := budget.Parse(c.Data); err == nil && e.Pending {
		c.Check = nil
	}
	return s.DB.AppendLedger(ctx, c)
}

// state is what must not change when a run fails.
type state struct {
	releases []string
	current  string
	ledger   int
}

func stateOf(t *testing.T, db *store.DB) state {
	t.Helper()
	ms, err := db.Releases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var s state
	for _, m := range ms {
		s.releases = append(s.releases, m.Version)
	}
	s.current, _ = db.CurrentRelease(t.Context())
	recs, err := db.Ledger(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	entries, err := budget.Decode(recs)
	if err != nil {
		t.Fatal(err)
	}
	s.ledger = len(budget.Effective(entries))
	return s
}

func (s state) equal(o state) bool {
	return slices.Equal(s.releases, o.releases) && s.current == o.current && s.ledger == o.ledger
}

// lastFailed returns the last ledger entry, which must record a failed
// run that spent ρ > 0.
func lastFailed(t *testing.T, db *store.DB) budget.Entry {
	t.Helper()
	recs, err := db.Ledger(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	entries, err := budget.Decode(recs)
	if err != nil || len(entries) == 0 {
		t.Fatalf("ledger = %d entries, %v", len(entries), err)
	}
	e := entries[len(entries)-1]
	if e.Failed == "" || !e.Private || !(e.Rho > 0) || len(e.Components) == 0 {
		t.Errorf("last ledger entry = %+v, want a failed private run with its ρ and components", e)
	}
	return e
}

// TestCapChange: a run under a looser cap than the one recorded with the
// latest release is refused before it spends anything, unless the change
// is accepted; an accepted or stricter cap is reported (Report.CapChange),
// naming that release and its cap; the next run under the same cap says
// nothing.
func TestCapChange(t *testing.T) {
	t.Parallel()
	cfg := small()
	f := newFixture(t, cfg)
	items, stores := catalogue(t, cfg)
	run := func(c budget.Cap, accept bool, seed uint64) (*train.Report, error) {
		t.Helper()
		tc := testConfig(f, seed)
		tc.Catalogue, tc.Stores = items, stores
		tc.Cap, tc.AcceptCapChange = c, accept
		tc.ALS.Iterations = 1
		f.clock.Advance(time.Second)
		return train.Run(t.Context(), f.db, tc)
	}
	mustRun := func(c budget.Cap, accept bool, seed uint64) *train.Report {
		t.Helper()
		rep, err := run(c, accept, seed)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	days := func(n int) retention.Period { return retention.Period{Days: n} }
	recorded := budget.Cap{Epsilon: 3, Window: days(10)}
	first := mustRun(recorded, false, 1)
	if first.CapChange != nil {
		t.Errorf("first release: CapChange = %+v, want none (nothing recorded before)", first.CapChange)
	}
	before := stateOf(t, f.db)
	for _, looser := range []budget.Cap{
		{Epsilon: 30, Window: days(10)},
		{Epsilon: 3, Delta: 1e-5, Window: days(10)},
		{Epsilon: 3, Window: days(9)},
		{Epsilon: 2, Window: days(5)}, // stricter ε, shorter window
	} {
		_, err := run(looser, false, 2)
		var lo *train.CapLoosenedError
		if !errors.As(err, &lo) || lo.Recorded.Version != first.Version || !lo.Recorded.Recorded.Equal(recorded) || !lo.Cap.Equal(looser) {
			t.Errorf("run under the looser cap %v = %v, want a *CapLoosenedError naming %s and %v", looser, err, first.Version, recorded)
		}
		var charged *train.ChargedError
		if errors.As(err, &charged) {
			t.Errorf("refused run under %v was charged: %v", looser, err)
		}
	}
	if after := stateOf(t, f.db); !after.equal(before) {
		t.Errorf("after refused runs: %+v, want %+v (nothing charged or stored)", after, before)
	}

	second := mustRun(budget.Cap{Epsilon: 30, Window: days(10)}, true, 2)
	want := train.CapChange{Version: first.Version, Recorded: recorded.WithDefaults()}
	if second.CapChange == nil || second.CapChange.Version != want.Version || !second.CapChange.Recorded.Equal(want.Recorded) {
		t.Errorf("accepted release under a looser cap: CapChange = %+v, want %+v", second.CapChange, want)
	}
	if third := mustRun(budget.Cap{Epsilon: 30, Window: days(10)}, false, 3); third.CapChange != nil {
		t.Errorf("release under the cap recorded last: CapChange = %+v, want none", third.CapChange)
	}
	// Back to a stricter cap: no acceptance needed, reported.
	fourth := mustRun(budget.Cap{Epsilon: 20, Window: days(20)}, false, 4)
	if fourth.CapChange == nil || !fourth.CapChange.Recorded.Equal(budget.Cap{Epsilon: 30, Window: days(10)}) {
		t.Errorf("release under a stricter cap: CapChange = %+v, want the 30 recorded", fourth.CapChange)
	}
}

// TestCap checks the budget cap exactly with the fake clock: a second
// release at ε = 1 would compose to ε = 1.451 > 1.3 within the 10-day
// window, and fits once the first release is exactly one window old.
func TestCap(t *testing.T) {
	t.Parallel()
	cfg := small()
	f := newFixture(t, cfg)
	items, stores := catalogue(t, cfg)
	run := func(st train.Store, seed uint64) (*train.Report, error) {
		c := testConfig(f, seed)
		c.Catalogue, c.Stores = items, stores
		c.Cap = budget.Cap{Epsilon: 1.3, Window: retention.Period{Days: 10}}
		c.ALS.Iterations = 1
		return train.Run(t.Context(), st, c)
	}
	first, err := run(f.db, 1)
	if err != nil {
		t.Fatal(err)
	}
	if first.Spend.Releases != 1 || math.Abs(first.Spend.Epsilon-first.Card.Privacy.Epsilon) > 1e-9 {
		t.Errorf("spend after the first release = %+v, want one release at its ε", first.Spend)
	}
	before := stateOf(t, f.db)

	// Refused before training.
	f.clock.Set(first.Card.Created.AddDate(0, 0, 10).Add(-time.Millisecond))
	_, err = run(f.db, 2)
	var ex *budget.ExceededError
	if !errors.As(err, &ex) {
		t.Fatalf("second release within the window = %v, want *budget.ExceededError", err)
	}
	if math.Abs(ex.After.Epsilon-1.4510373723063186) > 1e-3 || !ex.RetryAt.Equal(first.Card.Created.AddDate(0, 0, 10)) {
		t.Errorf("refusal: ε with it = %v (want ≈ 1.451), retry at %v (want %v)", ex.After.Epsilon, ex.RetryAt, first.Card.Created.AddDate(0, 0, 10))
	}
	if !strings.Contains(err.Error(), "exceed the privacy cap") {
		t.Errorf("refusal message %q does not say why", err)
	}
	if got := stateOf(t, f.db); !got.equal(before) {
		t.Errorf("after a refusal, state = %+v, want %+v", got, before)
	}

	// Exactly one window after the first release, it fits.
	f.clock.Set(first.Card.Created.AddDate(0, 0, 10))
	second, err := run(f.db, 4)
	if err != nil {
		t.Fatalf("release one window later = %v, want nil", err)
	}
	if got := stateOf(t, f.db); got.current != second.Version || got.ledger != 2 || len(got.releases) != 2 {
		t.Errorf("after the second release, state = %+v", got)
	}
	before = stateOf(t, f.db)

	// Refused in the commit transaction, after training (a ledger that
	// changed under the run): nothing is stored, but what the run computed
	// with noise is charged, whole, beyond the cap.
	_, err = run(staleLedger{f.db}, 3)
	if !errors.As(err, &ex) || !strings.Contains(err.Error(), "charged to the privacy ledger") {
		t.Fatalf("release refused at commit = %v, want *budget.ExceededError and the charge", err)
	}
	got := stateOf(t, f.db)
	if !slices.Equal(got.releases, before.releases) || got.current != before.current || got.ledger != before.ledger+1 {
		t.Errorf("after a refusal at commit, state = %+v, want %+v with one more ledger entry", got, before)
	}
	if e := lastFailed(t, f.db); math.Abs(e.Rho-second.Card.Privacy.Rho) > 1e-9*second.Card.Privacy.Rho {
		t.Errorf("failed run charged ρ = %v, want the whole planned ρ = %v", e.Rho, second.Card.Privacy.Rho)
	}
}

func TestCancelled(t *testing.T) {
	t.Parallel()
	cfg := small()
	f := newFixture(t, cfg)
	items, stores := catalogue(t, cfg)
	c := testConfig(f, 1)
	c.Catalogue, c.Stores = items, stores
	if _, err := train.Run(t.Context(), f.db, c); err != nil {
		t.Fatal(err)
	}
	before := stateOf(t, f.db)
	for _, stage := range []string{train.StageSnapshot, train.StagePopularity, train.StageTraining, train.StageStoring} {
		f.clock.Advance(time.Hour)
		ctx, cancel := context.WithCancel(t.Context())
		c := testConfig(f, 2)
		c.Catalogue, c.Stores = items, stores
		c.Progress = func(p train.Progress) {
			if p.Stage == stage {
				cancel()
			}
		}
		_, err := train.Run(ctx, f.db, c)
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run cancelled at %s = %v, want context.Canceled", stage, err)
		}
		// Cancelled before any noise: nothing changes. Later, what was
		// computed with noise is charged.
		want := before
		if stage != train.StageSnapshot {
			want.ledger++
		}
		if got := stateOf(t, f.db); !got.equal(want) {
			t.Errorf("after a run cancelled at %s, state = %+v, want %+v", stage, got, want)
		}
		if stage != train.StageSnapshot {
			if e := lastFailed(t, f.db); !strings.Contains(e.Failed, "context canceled") {
				t.Errorf("failed entry says %q, want the cancellation", e.Failed)
			}
		}
		before = stateOf(t, f.db)
	}
}

func TestKeep(t *testing.T) {
	t.Parallel()
	f := newFixture(t, synth.Config{Customers: 50, Items: 20, Events: 1000, Seed: 3})
	var versions []string
	for range 4 {
		f.clock.Advance(time.Hour)
		c := testConfig(f, 1)
		c.Epsilon, c.Keep = math.Inf(1), 2
		rep, err := train.Run(t.Context(), f.db, c)
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, rep.Version)
	}
	got := stateOf(t, f.db)
	if want := versions[2:]; !slices.Equal(got.releases, want) || got.current != versions[3] || got.ledger != 4 {
		t.Errorf("after 4 runs keeping 2, state = %+v, want releases %v, current %s, 4 ledger entries", got, want, versions[3])
	}
	// A non-private release is in the ledger, flagged, and costs nothing.
	recs, _ := f.db.Ledger(t.Context())
	entries, err := budget.Decode(recs)
	if err != nil || entries[0].Private || entries[0].Rho != 0 || entries[0].Version != versions[0] {
		t.Errorf("ledger = %+v, %v; want non-private entries", entries, err)
	}
}

func TestBadDelta(t *testing.T) {
	t.Parallel()
	f := newFixture(t, synth.Config{Customers: 50, Items: 20, Events: 1000, Seed: 3})
	c := testConfig(f, 1)
	c.Delta = 0.05
	// δ = 0.05 is refused against the noisy customer count, which has then
	// been computed: that count is charged. The same with a DP selection,
	// which has not run: its δ_τ would be a share of the cap's δ, not of
	// this one, and it is not charged.
	cfg := synth.Config{Customers: 50, Items: 20, Events: 1000, Seed: 3}
	items, stores := catalogue(t, cfg)
	for i, cat := range []bool{false, true} {
		c.Catalogue, c.Stores = nil, nil
		if cat {
			c.Catalogue, c.Stores = items, stores
		}
		f.clock.Advance(time.Minute)
		if _, err := train.Run(t.Context(), f.db, c); err == nil || !strings.Contains(err.Error(), "not below 1/n") {
			t.Errorf("Run with δ = 0.05 for 50 customers (catalogue %v) = %v, want a refusal", cat, err)
		}
		if got := stateOf(t, f.db); len(got.releases) != 0 || got.ledger != i+1 {
			t.Errorf("after a refused run (catalogue %v), state = %+v, want %d ledger entries", cat, got, i+1)
		}
		if e := lastFailed(t, f.db); len(e.Components) != 1 || e.Components[0].Name != "customers" || e.Selected != nil {
			t.Errorf("failed entry (catalogue %v) components = %+v, selected %v; want the customer count only, nothing selected", cat, e.Components, e.Selected)
		}
	}
	e := lastFailed(t, f.db)
	// Its cost is stated at the cap's δ, not at the refused δ, where it
	// would read ε ≈ 0.
	capDelta := budget.Cap{}.WithDefaults().Delta
	want, err := dp.Epsilon(e.Rho, capDelta, dp.RDP)
	if err != nil {
		t.Fatal(err)
	}
	if e.Delta != capDelta || e.DeltaThreshold != 0 || math.Abs(e.Epsilon-want) > 1e-9*want || !(want > 0.05) {
		t.Errorf("failed entry (ε, δ, δ_τ) = (%v, %v, %v), want (%v, %v, 0)", e.Epsilon, e.Delta, e.DeltaThreshold, want, capDelta)
	}
	c.Catalogue, c.Stores = nil, nil
	c.Delta = 0
	c.Epsilon = -1
	if _, err := train.Run(t.Context(), f.db, c); err == nil {
		t.Error("Run with ε = -1 = nil error")
	}
}

// TestNoCustomerData checks that training persists nothing per customer:
// every customer's export (all customer tables) is unchanged, and no byte
// training wrote — release parts, card, ledger — contains a pseudonym.
func TestNoCustomerData(t *testing.T) {
	t.Parallel()
	cfg := small()
	f := newFixture(t, cfg)
	ctx := t.Context()
	var ps []privacy.PseudoID
	for e, err := range f.db.Events(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) == 0 || ps[len(ps)-1] != e.Customer {
			ps = append(ps, e.Customer)
		}
	}
	exports := func() [][]byte {
		var out [][]byte
		for _, p := range ps {
			d, err := f.db.Export(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(d)
			out = append(out, b)
		}
		return out
	}
	before := exports()
	for i, eps := range []float64{1, math.Inf(1)} {
		f.clock.Advance(time.Hour)
		c := testConfig(f, uint64(i))
		c.Epsilon = eps
		if _, err := train.Run(ctx, f.db, c); err != nil {
			t.Fatal(err)
		}
	}
	after := exports()
	for i := range ps {
		if !bytes.Equal(before[i], after[i]) {
			t.Errorf("customer %d's export changed by training:\n%s\n%s", i, before[i], after[i])
		}
	}
	var written [][]byte
	ms, err := f.db.Releases(ctx)
	if err != nil || len(ms) != 2 {
		t.Fatalf("Releases = %d, %v", len(ms), err)
	}
	for _, m := range ms {
		written = append(written, m.Meta)
		for _, part := range m.Parts {
			b, err := f.db.ReleasePart(ctx, m.Version, part.Name)
			if err != nil {
				t.Fatal(err)
			}
			written = append(written, b)
		}
	}
	recs, _ := f.db.Ledger(ctx)
	for _, r := range recs {
		written = append(written, r.Data)
	}
	for _, p := range ps {
		for _, b := range written {
			if bytes.Contains(b, p[:]) || bytes.Contains(b, []byte(p.String())) || bytes.Contains(b, p[:8]) {
				t.Fatalf("pseudonym %s found in what training wrote", p)
			}
		}
	}
}

// TestCoarseNoiseRefusedFree checks that an ALS configuration the trainer
// would refuse for its noise alone (als.ErrCoarseNoise) is refused before
// any release draws noise: nothing is stored or charged.
func TestCoarseNoiseRefusedFree(t *testing.T) {
	t.Parallel()
	f := newFixture(t, synth.Config{Customers: 50, Items: 20, Events: 1000, Seed: 3})
	c := testConfig(f, 1)
	c.Epsilon = 0.001
	c.ALS.Factors, c.ALS.Iterations = 1024, 1000
	c.Privacy.Rank = 1024
	_, err := train.Run(t.Context(), f.db, c)
	if !errors.Is(err, als.ErrCoarseNoise) {
		t.Fatalf("Run(ε = 0.001, 1000 iterations, rank 1024) = %v, want als.ErrCoarseNoise", err)
	}
	if strings.Contains(err.Error(), "charged") {
		t.Errorf("refusal says it was charged: %v", err)
	}
	if got := stateOf(t, f.db); len(got.releases) != 0 || got.ledger != 0 {
		t.Errorf("after the refusal, state = %+v, want nothing stored or charged", got)
	}
}

// dying is a store on which the process dies once the run has drawn its
// noise: nothing after the pending charge reaches the disk.
type dying struct{ *store.DB }

var errKilled = errors.New("killed")

func (d dying) AppendLedger(ctx context.Context, c store.LedgerCharge) (store.LedgerRecord, error) {
	if e, err := budget.Parse(c.Data); err != nil || !e.Pending {
		return store.LedgerRecord{}, errKilled
	}
	return d.DB.AppendLedger(ctx, c)
}

func (dying) PutRelease(context.Context, store.ReleaseWrite) (store.ReleaseManifest, error) {
	return store.ReleaseManifest{}, errKilled
}

// TestKilledRunStaysCharged: a run that dies after drawing noise, before
// it can record its release or its failure, leaves its pending charge, at
// least the ρ a completed run spends, and the next run counts it.
func TestKilledRunStaysCharged(t *testing.T) {
	t.Parallel()
	cfg := small()
	f := newFixture(t, cfg)
	c := testConfig(f, 1)
	c.Catalogue, c.Stores = catalogue(t, cfg)
	if _, err := train.Run(t.Context(), dying{f.db}, c); !errors.Is(err, errKilled) {
		t.Fatalf("Run on a dying store = %v, want %v", err, errKilled)
	}
	recs, err := f.db.Ledger(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	entries, err := budget.Decode(recs)
	if err != nil || len(entries) != 1 || !entries[0].Pending {
		t.Fatalf("ledger after the killed run = %+v, %v; want its pending charge only", entries, err)
	}
	f.clock.Advance(time.Hour)
	rep, err := train.Run(t.Context(), f.db, c)
	if err != nil {
		t.Fatal(err)
	}
	killed := entries[0].Rho
	if own := rep.Card.Privacy.Rho; killed < own*(1-1e-12) {
		t.Errorf("pending charge ρ = %v, below the ρ = %v of a completed run", killed, own)
	}
	if rep.Spend.Releases != 2 || math.Abs(rep.Spend.Rho-(killed+rep.Card.Privacy.Rho)) > 1e-12 {
		t.Errorf("spend after the next run = %+v, want the killed run's ρ %v plus its own %v", rep.Spend, killed, rep.Card.Privacy.Rho)
	}
}

// TestLedgerRecordsCapAndDays: every ledger entry a run writes — its
// pending charge, its release (private or not), a failed run's charge —
// records the cap in force and the days of the oldest and newest event the
// run used, so that the ledger proves what each release was checked
// against whatever configuration a later report reads.
func TestLedgerRecordsCapAndDays(t *testing.T) {
	t.Parallel()
	cfg := synth.Config{Customers: 50, Items: 20, Events: 1000, Seed: 3}
	f := newFixture(t, cfg)
	ctx := t.Context()
	// The days of the events a run uses: every stored event within the
	// default retention (the fixture's customers all consent).
	now := f.clock.Now()
	var oldest, newest time.Time
	for e, err := range f.db.Events(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if (retention.Policy{}).Expired(e.Kind, e.Time, now) {
			continue
		}
		if oldest.IsZero() || e.Time.Before(oldest) {
			oldest = e.Time
		}
		if e.Time.After(newest) {
			newest = e.Time
		}
	}
	wantDays := budget.DaysOf(oldest, newest)
	if wantDays.First.Equal(wantDays.Last) {
		t.Fatalf("the fixture's events span one day (%v): the test would not tell oldest from newest", wantDays.First)
	}
	items, stores := catalogue(t, cfg)
	caps := []budget.Cap{
		{Epsilon: 7, Delta: 1e-7, Window: retention.Period{Days: 30}},
		{Epsilon: 8, Delta: 1e-6, Window: retention.Period{Months: 6}},
		{}, // the defaults, recorded as such
	}
	for i, mod := range []func(*train.Config){
		func(c *train.Config) {}, // private: a pending charge, then the release
		func(c *train.Config) { c.Epsilon = math.Inf(1) },
		func(c *train.Config) { c.Delta = 0.05 }, // fails after the customer count: charged
	} {
		f.clock.Advance(time.Hour)
		c := testConfig(f, uint64(i+1))
		c.Catalogue, c.Stores, c.ALS.Iterations, c.Cap = items, stores, 1, caps[i]
		c.AcceptCapChange = true // the caps loosen
		mod(&c)
		_, err := train.Run(ctx, f.db, c)
		if (err != nil) != (i == 2) {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	recs, err := f.db.Ledger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := budget.Decode(recs)
	if err != nil {
		t.Fatal(err)
	}
	// Pending + release, release, pending + failure.
	wantCap := []int{0, 0, 1, 2, 2}
	if len(entries) != len(wantCap) {
		t.Fatalf("ledger has %d entries, want %d: %+v", len(entries), len(wantCap), entries)
	}
	for i, e := range entries {
		want := caps[wantCap[i]].WithDefaults()
		if e.Format != budget.EntryFormat || e.Cap == nil || *e.Cap != want {
			t.Errorf("entry %d (%s, pending %v, failed %q): format %d, cap %v; want format %d, cap %+v", i, e.Version, e.Pending, e.Failed, e.Format, e.Cap, budget.EntryFormat, want)
		}
		if e.Events == nil || !e.Events.First.Equal(wantDays.First) || !e.Events.Last.Equal(wantDays.Last) {
			t.Errorf("entry %d (%s): event days %+v, want %v – %v", i, e.Version, e.Events, wantDays.First, wantDays.Last)
		}
	}
}

// TestRefuseNonPrivate: with RefuseNonPrivate, a non-private run is
// refused before it reads or writes anything; private runs go on.
func TestRefuseNonPrivate(t *testing.T) {
	t.Parallel()
	cfg := synth.Config{Customers: 50, Items: 20, Events: 1000, Seed: 3}
	f := newFixture(t, cfg)
	items, stores := catalogue(t, cfg)
	for _, tt := range []struct {
		name    string
		epsilon float64
		refuse  bool
		want    error
	}{
		{"non-private refused", math.Inf(1), true, train.ErrNonPrivateRefused},
		{"private with the policy", 1, true, nil},
		{"non-private allowed", math.Inf(1), false, nil},
	} {
		f.clock.Advance(time.Hour)
		before := stateOf(t, f.db)
		c := testConfig(f, 1)
		c.Catalogue, c.Stores, c.ALS.Iterations = items, stores, 1
		c.Epsilon, c.RefuseNonPrivate = tt.epsilon, tt.refuse
		_, err := train.Run(t.Context(), f.db, c)
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: Run = %v, want %v", tt.name, err, tt.want)
		}
		after := stateOf(t, f.db)
		if changed := !after.equal(before); changed != (tt.want == nil) {
			t.Errorf("%s: state %+v → %+v, want it changed: %v", tt.name, before, after, tt.want == nil)
		}
	}
}
