package coupons_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/ingest"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/store/storetest"
	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
	"github.com/discret-io/discret/privacy/pseudonym"
	"github.com/discret-io/discret/serve/coupons"
	"github.com/discret-io/discret/serve/recommend"
)

// fixture wires the coupon engine to an in-memory store, the ingester and
// a recommendation engine serving a tiny hand-made release:
//
//	A (1, 0)  B (0.9, 0.1)  C (0.8, 0.2)  — group x
//	D (0, 1)  E (0.1, 0.9)                — group y
//
// with DP popularity A 5, B 4, C 3, D 2, E 1 (and E 9, D 1 in store s2).
type fixture struct {
	t     *testing.T
	db    *store.DB
	ps    *pseudonym.Keyed
	clock *storetest.Clock
	in    *ingest.Ingester
	rec   *recommend.Engine
	eng   *coupons.Engine
}

func newFixture(t *testing.T, edit func(*coupons.Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	clock := storetest.NewClock(storetest.Epoch.Add(10 * time.Hour))
	db := storetest.OpenMemory(t, clock.Now)
	ps, err := pseudonym.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	in, err := ingest.New(ingest.Config{Pseudonyms: ps, Now: clock.Now}, db)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := recommend.New(recommend.Config{Pseudonyms: ps, Customers: db, Catalogue: db, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	items := []features.Item{
		{ID: "A", Stores: []string{"s1", "s2"}, Active: true},
		{ID: "B", Stores: []string{"s1"}, Active: true},
		{ID: "C", Stores: []string{"s1"}, Active: false},
		{ID: "D", Stores: []string{"s1", "s2"}, Active: true},
		{ID: "E", Stores: []string{"s1", "s2"}, Active: true},
	}
	for _, it := range items {
		if err := rec.UpsertItem(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	r := &release.Release{
		Card: release.Card{
			Format: release.CardFormat, Version: "v1", Created: storetest.Epoch, RNG: release.RNGCrypto, Private: true,
			Privacy: &release.Privacy{Epsilon: 1, Delta: 1e-6}, Items: 5, Trained: 5, Stores: 1, Universe: release.UniverseCatalogue,
			Hyper: release.Hyper{Factors: 2, Lambda: 0.1, RegExponent: 0.5, Unobserved: 0.1, Weights: map[string]float64{"purchase": 1}, StrengthCap: 10, Alpha: 1},
		},
		Items:        []string{"A", "B", "C", "D", "E"},
		Vectors:      []float32{1, 0, 0.9, 0.1, 0.8, 0.2, 0, 1, 0.1, 0.9},
		Trained:      []bool{true, true, true, true, true},
		Popular:      []float32{5, 4, 3, 2, 1},
		Stores:       []string{"s2"},
		StorePopular: [][]release.Scored{{{Item: 4, Score: 9}, {Item: 3, Score: 1}}},
	}
	if err := rec.Swap(r); err != nil {
		t.Fatal(err)
	}
	cfg := coupons.Config{Pseudonyms: ps, Customers: db, Visits: in, Pushes: db, Coupons: db, Model: rec, Now: clock.Now}
	if edit != nil {
		edit(&cfg)
	}
	eng, err := coupons.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := clock.Now()
	for _, c := range []features.Coupon{
		{ID: "cA", Item: "A", Stores: []string{"s1", "s2"}, Value: "-10%", Active: true},
		{ID: "cB", Item: "B", Stores: []string{"s1"}, Value: "-20%", Active: true},
		{ID: "cC", Item: "C", Stores: []string{"s1"}, Value: "-30%", Active: true}, // item inactive
		{ID: "cD", Item: "D", Stores: []string{"s1", "s2"}, Value: "2 EUR off", Active: true},
		{ID: "cE", Item: "E", Stores: []string{"s1", "s2"}, Value: "-5%", Active: true},
		{ID: "cOff", Item: "A", Stores: []string{"s1"}, Value: "-50%", Active: false},
		{ID: "cLate", Item: "B", Stores: []string{"s1"}, Value: "-50%", Active: true, ValidFrom: now.Add(30 * 24 * time.Hour)},
	} {
		if c.ValidFrom.IsZero() {
			c.ValidFrom = now.Add(-time.Hour)
		}
		c.ValidUntil = c.ValidFrom.Add(60 * 24 * time.Hour)
		if err := eng.UpsertCoupon(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{t: t, db: db, ps: ps, clock: clock, in: in, rec: rec, eng: eng}
}

func cust(s string) privacy.CustomerID {
	c, err := privacy.ParseCustomerID(s)
	if err != nil {
		panic(err)
	}
	return c
}

// consent records choices for both purposes.
func (f *fixture) consent(c string, personalization, inStore bool) {
	f.t.Helper()
	p := f.ps.Pseudonymize(cust(c))
	ch := []consent.Change{
		{Purpose: privacy.Personalization, Granted: personalization, Time: f.clock.Now(), Source: "test"},
		{Purpose: privacy.InStore, Granted: inStore, Time: f.clock.Now(), Source: "test"},
	}
	if _, err := f.db.UpdateConsent(context.Background(), p, ch, consent.Defaults{}); err != nil {
		f.t.Fatal(err)
	}
	f.rec.Invalidate(p)
}

func (f *fixture) buy(c string, items ...string) {
	f.t.Helper()
	var es []features.RawEvent
	for _, it := range items {
		es = append(es, features.RawEvent{Customer: cust(c), Item: it, Kind: privacy.Purchase, Time: f.clock.Now().Add(-time.Minute), Quantity: 1})
	}
	if _, err := f.in.Write(context.Background(), es); err != nil {
		f.t.Fatal(err)
	}
	f.rec.Invalidate(f.ps.Pseudonymize(cust(c)))
}

func (f *fixture) enter(c, st string) coupons.Result {
	f.t.Helper()
	res, err := f.eng.Enter(context.Background(), coupons.Entry{Customer: cust(c), Store: st})
	if err != nil {
		f.t.Fatalf("Enter(%s, %s): %v", c, st, err)
	}
	return res
}

func offered(res coupons.Result) []string {
	var out []string
	for _, o := range res.Offers {
		out = append(out, o.Coupon)
	}
	return out
}

func TestEnterPersonalized(t *testing.T) {
	f := newFixture(t, nil)
	f.consent("ann", true, true)
	f.buy("ann", "A")
	res := f.enter("ann", "s1")
	// Affinity (u along x) plus relatedness to the purchase of A: A and B
	// lead; C's item is inactive, cOff inactive, cLate not yet valid.
	if !res.Personalized || !res.VisitRecorded || res.Capped || res.ModelVersion != "v1" {
		t.Fatalf("Enter = %+v; want personalized offers and the visit recorded", res)
	}
	if got := offered(res); !slices.Equal(got, []string{"cA", "cB", "cE"}) {
		t.Errorf("offers = %v, want [cA cB cE]", got)
	}
	want := []string{"because you bought A before", "because you bought A", "picked for you"}
	for i, o := range res.Offers {
		if o.Explanation != want[i] {
			t.Errorf("offer %s explanation = %q, want %q", o.Coupon, o.Explanation, want[i])
		}
		if i > 0 && o.Score > res.Offers[i-1].Score {
			t.Errorf("offers not by decreasing score: %+v", res.Offers)
		}
	}
	if o := res.Offers[1]; o.Item != "B" || o.Value != "-20%" || o.ValidUntil.IsZero() {
		t.Errorf("offer cB = %+v", o)
	}
	p := f.ps.Pseudonymize(cust("ann"))
	events, _ := f.db.CustomerEvents(context.Background(), p)
	if i := slices.IndexFunc(events, func(e features.Event) bool { return e.Kind == privacy.StoreVisit }); i < 0 || events[i].Store != "s1" {
		t.Errorf("stored events = %+v, want the store visit in s1", events)
	}
	pushes, _ := f.db.Pushes(context.Background(), p)
	if len(pushes) != 3 || !pushes[0].Time.Equal(f.clock.Now()) || !pushes[0].ExpiresAt.Equal(f.clock.Now().Add(7*24*time.Hour)) {
		t.Errorf("pushes = %+v, want the 3 offers, kept a week", pushes)
	}

	// A retry (the answer was lost) gets the same offers, as a repeat: no
	// new push.
	f.clock.Advance(time.Minute)
	again := f.enter("ann", "s1")
	if !again.Repeated || !again.Capped || !slices.Equal(offered(again), offered(res)) {
		t.Errorf("Enter again = %v, repeated %v, capped %v; want the same offers %v, repeated and capped", offered(again), again.Repeated, again.Capped, offered(res))
	}
	if pushes, _ := f.db.Pushes(context.Background(), p); len(pushes) != 3 {
		t.Errorf("after the repeat, pushes = %+v, want the first 3 only", pushes)
	}
}

func TestEnterCaps(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.consent("ann", true, true)
	f.buy("ann", "A")
	t0 := f.clock.Now()
	// Enough coupons that every entry has some not offered yet.
	for i := range 12 {
		c := features.Coupon{ID: fmt.Sprintf("k%02d", i), Item: "D", Stores: []string{"s1", "s2"}, Value: "-1%", ValidFrom: t0.Add(-time.Hour), ValidUntil: t0.Add(30 * 24 * time.Hour), Active: true}
		if err := f.eng.UpsertCoupon(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	const (
		day  = "at most 1 coupon push per customer per store per day"
		week = "at most 3 coupon pushes per customer per store per week"
	)
	// A capped entry offers again the last push in its store if it is less
	// than RepeatWindow (a day) old: repeat names the step it repeats.
	steps := []struct {
		at     time.Duration
		store  string
		cap    string
		repeat time.Duration
	}{
		{0, "s1", "", -1},
		{time.Hour, "s1", day, 0},
		{2 * time.Hour, "s2", "", -1}, // caps are per store
		{24*time.Hour - time.Millisecond, "s1", day, 0},
		{24 * time.Hour, "s1", "", -1}, // rolling windows: the first push is a day old
		{48 * time.Hour, "s1", "", -1},
		{72 * time.Hour, "s1", week, -1},   // t0, +24h, +48h; the last is a day old
		{7 * 24 * time.Hour, "s1", "", -1}, // t0 left the week
		{7*24*time.Hour + time.Hour, "s1", day, 7 * 24 * time.Hour},
	}
	seen := map[string]time.Duration{}
	offers := map[time.Duration][]string{}
	for _, st := range steps {
		f.clock.Set(t0.Add(st.at))
		res := f.enter("ann", st.store)
		offers[st.at] = offered(res)
		if res.CapReason != st.cap || res.Capped != (st.cap != "") || res.Repeated != (st.repeat >= 0) || !res.VisitRecorded {
			t.Errorf("Enter at +%v in %s = %v, capped %v %q, repeated %v; want cap %q, repeated %v, visit recorded", st.at, st.store, offered(res), res.Capped, res.CapReason, res.Repeated, st.cap, st.repeat >= 0)
		}
		switch {
		case st.repeat >= 0:
			if !slices.Equal(offered(res), offers[st.repeat]) {
				t.Errorf("Enter at +%v repeats %v, want the offers of +%v: %v", st.at, offered(res), st.repeat, offers[st.repeat])
			}
			continue // not a new push
		case (len(res.Offers) == 0) != res.Capped:
			t.Errorf("Enter at +%v in %s = %v, capped %v; want offers iff not capped", st.at, st.store, offered(res), res.Capped)
		}
		for _, c := range offered(res) {
			if at, ok := seen[c]; ok && st.at-at < 7*24*time.Hour {
				t.Errorf("coupon %s offered at +%v and again at +%v", c, at, st.at)
			}
			seen[c] = st.at
		}
		if st.at == 0 && !slices.Equal(offered(res), []string{"cA", "cB", "cE"}) {
			t.Errorf("first offers = %v, want [cA cB cE]", offered(res))
		}
	}
}

// TestUnscoredItems checks that coupons on items without a vector come
// after the scored ones, with a generic explanation.
func TestUnscoredItems(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	now := f.clock.Now()
	if err := f.rec.UpsertItem(ctx, features.Item{ID: "Z", Stores: []string{"s3"}, Active: true}); err != nil {
		t.Fatal(err)
	}
	if err := f.rec.UpsertItem(ctx, features.Item{ID: "D", Stores: []string{"s1", "s2", "s3"}, Active: true}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []features.Coupon{
		{ID: "a-z", Item: "Z", Stores: []string{"s3"}, Value: "-1%", ValidFrom: now.Add(-time.Hour), ValidUntil: now.Add(time.Hour), Active: true},
		{ID: "b-d", Item: "D", Stores: []string{"s3"}, Value: "-1%", ValidFrom: now.Add(-time.Hour), ValidUntil: now.Add(time.Hour), Active: true},
	} {
		if err := f.eng.UpsertCoupon(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	f.consent("ann", true, true)
	f.buy("ann", "A")
	res := f.enter("ann", "s3")
	if got := offered(res); !res.Personalized || !slices.Equal(got, []string{"b-d", "a-z"}) {
		t.Fatalf("Enter(s3) = %v (personalized %v), want [b-d a-z]: the scored item first", got, res.Personalized)
	}
	if e := res.Offers[1].Explanation; e != "an offer in this store" {
		t.Errorf("explanation of an item without a vector = %q", e)
	}
}

func TestEnterWithoutConsent(t *testing.T) {
	tests := []struct {
		name                     string
		personalization, inStore bool
		expressed                bool
	}{
		{"never asked", false, false, false},
		{"personalization only", true, false, true},
		{"in_store only", false, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			if tt.expressed {
				f.consent("bob", tt.personalization, tt.inStore)
			}
			if tt.personalization {
				f.buy("bob", "D")
			}
			for _, st := range []struct {
				store string
				want  []string
			}{{"s1", []string{"cA", "cB", "cD"}}, {"s2", []string{"cE", "cD", "cA"}}} {
				res := f.enter("bob", st.store)
				if res.Personalized || res.VisitRecorded || res.Capped || !slices.Equal(offered(res), st.want) {
					t.Errorf("Enter(%s) = %+v; want the generic offers %v, nothing recorded", st.store, res, st.want)
				}
				if res.Offers[0].Explanation != "popular in this store" {
					t.Errorf("generic explanation = %q", res.Offers[0].Explanation)
				}
			}
			// Again: generic offers are never capped.
			if res := f.enter("bob", "s1"); res.Capped || len(res.Offers) != 3 {
				t.Errorf("second entry = %+v, want generic offers again", res)
			}
			d, err := f.db.Export(context.Background(), f.ps.Pseudonymize(cust("bob")))
			if err != nil || len(d.Pushes) != 0 || slices.ContainsFunc(d.Events, func(e store.EventData) bool { return e.Type == "store_visit" }) {
				t.Errorf("stored about bob: %+v, %v; want no push and no visit", d, err)
			}
		})
	}
}

func TestPushesExportedAndForgotten(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.consent("ann", true, true)
	f.buy("ann", "A")
	f.enter("ann", "s1")
	p := f.ps.Pseudonymize(cust("ann"))
	d, err := f.db.Export(ctx, p)
	if err != nil || len(d.Pushes) != 3 || d.Pushes[0].Store != "s1" {
		t.Fatalf("Export().Pushes = %+v, %v; want the 3 pushes", d.Pushes, err)
	}
	removed, err := f.db.Forget(ctx, p)
	if err != nil || removed[store.TablePushes] != 3 {
		t.Errorf("Forget removed %v, %v; want 3 pushes", removed, err)
	}
	f.rec.Invalidate(p)
	if d, _ := f.db.Export(ctx, p); len(d.Pushes) != 0 || len(d.Events) != 0 {
		t.Errorf("after Forget: %+v", d)
	}
	if res := f.enter("ann", "s1"); res.Personalized || res.VisitRecorded || len(res.Offers) != 3 {
		t.Errorf("Enter after Forget = %+v, want generic offers", res)
	}
}

func TestEnterConcurrent(t *testing.T) {
	f := newFixture(t, nil)
	f.consent("ann", true, true)
	var wg sync.WaitGroup
	results := make([]coupons.Result, 8)
	for i := range results {
		wg.Go(func() {
			res, err := f.eng.Enter(context.Background(), coupons.Entry{Customer: cust("ann"), Store: "s1"})
			if err != nil {
				t.Error(err)
			}
			results[i] = res
		})
	}
	wg.Wait()
	// One entry gets the offers; the day cap stops the others, which get
	// them again (Repeated), so that any of them may be the one answered.
	var fresh []coupons.Result
	for _, r := range results {
		if !r.Repeated {
			fresh = append(fresh, r)
		}
	}
	if len(fresh) != 1 || len(fresh[0].Offers) == 0 {
		t.Fatalf("%d of 8 concurrent entries got new offers, want 1 (day cap)", len(fresh))
	}
	for _, r := range results {
		if !slices.Equal(offered(r), offered(fresh[0])) {
			t.Errorf("a concurrent entry got %v, want the offers of the one the cap let through: %v", offered(r), offered(fresh[0]))
		}
	}
}

func TestNoCaps(t *testing.T) {
	f := newFixture(t, func(c *coupons.Config) { c.Caps = []coupons.Cap{} })
	f.consent("ann", true, true)
	for range 3 {
		if res := f.enter("ann", "s1"); res.Capped || len(res.Offers) != 3 {
			t.Errorf("Enter without caps = %+v", res)
		}
	}
	if ps, _ := f.db.Pushes(context.Background(), f.ps.Pseudonymize(cust("ann"))); len(ps) != 0 {
		t.Errorf("pushes recorded without caps: %v", ps)
	}
}

func TestConfig(t *testing.T) {
	if _, err := coupons.New(coupons.Config{}); err == nil || !strings.Contains(err.Error(), "Pseudonyms") || !strings.Contains(err.Error(), "Model") {
		t.Errorf("New(zero Config) = %v, want every missing field named", err)
	}
	f := newFixture(t, nil)
	_, err := coupons.New(coupons.Config{Pseudonyms: f.ps, Customers: f.db, Visits: f.in, Pushes: f.db, Coupons: f.db, Model: f.rec, Caps: []coupons.Cap{{Max: 0, Window: time.Hour}}})
	if err == nil {
		t.Error("New with a cap of 0 pushes = nil error")
	}
	for _, tt := range []struct {
		c    coupons.Cap
		want string
	}{
		{coupons.Cap{Max: 1, Window: 24 * time.Hour, PerStore: true}, "at most 1 coupon push per customer per store per day"},
		{coupons.Cap{Max: 3, Window: 7 * 24 * time.Hour}, "at most 3 coupon pushes per customer per week"},
		{coupons.Cap{Max: 2, Window: 90 * time.Minute}, "at most 2 coupon pushes per customer per 1h30m0s"},
	} {
		if got := tt.c.String(); got != tt.want {
			t.Errorf("Cap%+v.String() = %q, want %q", tt.c, got, tt.want)
		}
	}
	if err := f.eng.LoadCoupons(context.Background()); err != nil {
		t.Fatal(err)
	}
	if res := f.enter("nobody", "s1"); len(res.Offers) != 3 {
		t.Errorf("after LoadCoupons: %+v", res)
	}
}

// racingVisits records visits through Visits, calling before and after
// around each write, as a consent change made concurrently would.
type racingVisits struct {
	coupons.Visits
	before, after func()
}

func (v *racingVisits) Write(ctx context.Context, events []features.RawEvent) (ingest.Counts, error) {
	if v.before != nil {
		v.before()
	}
	c, err := v.Visits.Write(ctx, events)
	if v.after != nil {
		v.after()
	}
	return c, err
}

// withdraw records the withdrawal of purpose p by customer c.
func (f *fixture) withdraw(c string, p privacy.Purpose) {
	f.t.Helper()
	ch := []consent.Change{{Purpose: p, Granted: false, Time: f.clock.Now(), Source: "test"}}
	if _, err := f.db.UpdateConsent(context.Background(), f.ps.Pseudonymize(cust(c)), ch, consent.Defaults{}); err != nil {
		f.t.Fatal(err)
	}
}

// TestVisitNotRecorded checks that an entry whose visit is not recorded
// says why, for every cause, and that a recorded visit has no reason.
func TestVisitNotRecorded(t *testing.T) {
	tests := []struct {
		name     string
		defaults consent.Defaults
		// setup records consent; it may set the hooks around the visit's
		// write.
		setup func(f *fixture, v *racingVisits)
		want  coupons.NotRecorded
	}{
		{"consents", consent.Defaults{}, func(f *fixture, _ *racingVisits) { f.consent("bob", true, true) }, coupons.Recorded},
		{"never chose", consent.Defaults{}, func(*fixture, *racingVisits) {}, coupons.NoInStoreConsent},
		{"refused both", consent.Defaults{}, func(f *fixture, _ *racingVisits) { f.consent("bob", false, false) }, coupons.NoInStoreConsent},
		{"personalization only", consent.Defaults{}, func(f *fixture, _ *racingVisits) { f.consent("bob", true, false) }, coupons.NoInStoreConsent},
		{"in_store only", consent.Defaults{}, func(f *fixture, _ *racingVisits) { f.consent("bob", false, true) }, coupons.NoPersonalizationConsent},
		{"in_store withdrawn", consent.Defaults{}, func(f *fixture, _ *racingVisits) {
			f.consent("bob", true, true)
			f.withdraw("bob", privacy.InStore)
		}, coupons.NoInStoreConsent},
		{"personalization withdrawn", consent.Defaults{}, func(f *fixture, _ *racingVisits) {
			f.consent("bob", true, true)
			f.withdraw("bob", privacy.Personalization)
		}, coupons.NoPersonalizationConsent},
		{"never chose, defaults grant both", consent.Defaults{Personalization: true, InStore: true}, func(*fixture, *racingVisits) {}, coupons.Recorded},
		{"never chose, default grants in_store only", consent.Defaults{InStore: true}, func(*fixture, *racingVisits) {}, coupons.NoPersonalizationConsent},
		{"never chose, default grants personalization only", consent.Defaults{Personalization: true}, func(*fixture, *racingVisits) {}, coupons.NoInStoreConsent},
		{"in_store withdrawn before the write", consent.Defaults{}, func(f *fixture, v *racingVisits) {
			f.consent("bob", true, true)
			v.before = func() { f.withdraw("bob", privacy.InStore) }
		}, coupons.ConsentWithdrawn},
		{"forgotten before the write", consent.Defaults{}, func(f *fixture, v *racingVisits) {
			f.consent("bob", true, true)
			v.before = func() {
				if _, err := f.db.Forget(context.Background(), f.ps.Pseudonymize(cust("bob"))); err != nil {
					t.Error(err)
				}
			}
		}, coupons.ConsentWithdrawn},
		{"personalization withdrawn after the write", consent.Defaults{}, func(f *fixture, v *racingVisits) {
			f.consent("bob", true, true)
			v.after = func() { f.withdraw("bob", privacy.Personalization) }
		}, coupons.ConsentWithdrawn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &racingVisits{}
			f := newFixture(t, func(c *coupons.Config) {
				c.ConsentDefaults = tt.defaults
				in, err := ingest.New(ingest.Config{Pseudonyms: c.Pseudonyms, Consent: tt.defaults, Now: c.Now}, c.Pushes.(*store.DB))
				if err != nil {
					t.Fatal(err)
				}
				v.Visits, c.Visits = in, v
			})
			tt.setup(f, v)
			res := f.enter("bob", "s1")
			recorded := tt.want == coupons.Recorded
			if res.NotRecorded != tt.want || res.VisitRecorded != recorded {
				t.Errorf("Enter = visit recorded %v, reason %v; want %v, reason %v", res.VisitRecorded, res.NotRecorded, recorded, tt.want)
			}
			if !recorded && (res.Personalized || res.Capped || len(res.Offers) != 3) {
				t.Errorf("Enter = %+v; want the generic offers", res)
			}
			d, err := f.db.Export(context.Background(), f.ps.Pseudonymize(cust("bob")))
			visits, want := 0, 0
			for _, e := range d.Events {
				if e.Type == "store_visit" {
					visits++
				}
			}
			if recorded {
				want = 1
			}
			if err != nil || visits != want {
				t.Errorf("stored store visits = %d, %v; want %d", visits, err, want)
			}
		})
	}
}

// countsVisits answers every write with fixed counts.
type countsVisits ingest.Counts

func (v countsVisits) Write(context.Context, []features.RawEvent) (ingest.Counts, error) {
	return ingest.Counts(v), nil
}

// TestVisitNotStored checks that a visit neither stored nor refused for
// consent is an error, not a visit without a reason.
func TestVisitNotStored(t *testing.T) {
	f := newFixture(t, func(c *coupons.Config) { c.Visits = countsVisits{Expired: 1} })
	f.consent("bob", true, true)
	res, err := f.eng.Enter(context.Background(), coupons.Entry{Customer: cust("bob"), Store: "s1"})
	if err == nil || !strings.Contains(err.Error(), "1 expired") {
		t.Errorf("Enter = %+v, %v; want an error saying the visit expired", res, err)
	}
}
