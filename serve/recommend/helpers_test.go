package recommend

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/store/storetest"
	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
	"github.com/discret-io/discret/privacy/pseudonym"
)

// tinyItems is the catalogue of tinyRelease: two taste groups in two
// factors, and an untrained item.
//
//	A (1, 0)    B (0.9, 0.1)   C (0.8, 0.2)   — group x, category "x"
//	D (0, 1)    E (0.1, 0.9)                  — group y, category "y"
//	F untrained
var tinyItems = []features.Item{
	{ID: "A", Category: "x", Stores: []string{"s1", "s2"}, Active: true},
	{ID: "B", Category: "x", Stores: []string{"s1"}, Active: true},
	{ID: "C", Category: "x", Stores: []string{"s2"}, Active: true},
	{ID: "D", Category: "y", Stores: []string{"s1", "s2"}, Active: true},
	{ID: "E", Category: "y", Stores: []string{"s2"}, Active: true},
	{ID: "F", Category: "y", Stores: []string{"s1"}, Active: true},
}

// tinyRelease returns the hand-made release of tinyItems.
func tinyRelease(version string) *release.Release {
	return newRelease(version,
		[]string{"A", "B", "C", "D", "E", "F"},
		[]float32{1, 0, 0.9, 0.1, 0.8, 0.2, 0, 1, 0.1, 0.9, 0, 0},
		2,
		[]float32{5, 4, 3, 2, 1, 6}, // F is the most popular
		map[string][]release.Scored{"s2": {{Item: 4, Score: 9}, {Item: 2, Score: 8}, {Item: 0, Score: 1}}},
	)
}

// newRelease builds a valid private release; items with an all-zero vector
// are untrained.
func newRelease(version string, ids []string, vectors []float32, d int, popular []float32, stores map[string][]release.Scored) *release.Release {
	n := len(ids)
	r := &release.Release{
		Card: release.Card{
			Format: release.CardFormat, Version: version, Created: storetest.Epoch, Private: true, RNG: release.RNGCrypto,
			Items: n, Stores: len(stores), Universe: release.UniverseCatalogue,
			Hyper: release.Hyper{
				Factors: d, Iterations: 1, Lambda: 0.1, RegExponent: 0.5, Unobserved: 0.1, InitScale: 0.1,
				Weights: map[string]float64{"view": 0.1, "add_to_cart": 0.5, "purchase": 1}, StrengthCap: 10, Alpha: 1,
			},
			Privacy: &release.Privacy{Neighbouring: "add/remove one customer", Epsilon: 1, Delta: 1e-6, TargetEpsilon: 1},
		},
		Items: ids, Vectors: vectors, Trained: make([]bool, n), Popular: popular,
	}
	for j := range n {
		for _, v := range vectors[j*d : j*d+d] {
			r.Trained[j] = r.Trained[j] || v != 0
		}
		if r.Trained[j] {
			r.Card.Trained++
		}
	}
	for st, list := range stores {
		r.Stores = append(r.Stores, st)
		r.StorePopular = append(r.StorePopular, list)
	}
	if err := r.Validate(); err != nil {
		panic(err)
	}
	return r
}

// randomRelease returns a release of n items with random vectors (seeded),
// all trained, with random popularity.
func randomRelease(version string, n, d int, seed uint64) *release.Release {
	rng := rand.New(rand.NewPCG(seed, 3))
	ids := make([]string, n)
	vec := make([]float32, n*d)
	pop := make([]float32, n)
	for j := range n {
		ids[j] = fmt.Sprintf("SKU-%07d", j)
		pop[j] = float32(rng.ExpFloat64())
		for k := range d {
			vec[j*d+k] = float32(rng.NormFloat64() * 0.3)
		}
	}
	return newRelease(version, ids, vec, d, pop, nil)
}

// fixture is an engine over an in-memory store with a fake clock.
type fixture struct {
	t     testing.TB
	db    *store.DB
	ps    *pseudonym.Keyed
	clock *storetest.Clock
	eng   *Engine
}

func newFixture(t testing.TB, edit func(*Config)) *fixture {
	t.Helper()
	clock := storetest.NewClock(storetest.Epoch)
	db := storetest.OpenMemory(t, clock.Now)
	ps, err := pseudonym.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Pseudonyms: ps, Customers: db, Catalogue: db, Releases: db, Now: clock.Now}
	if edit != nil {
		edit(&cfg)
	}
	eng, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, db: db, ps: ps, clock: clock, eng: eng}
}

// withCatalogue stores tinyItems and loads them into the engine.
func (f *fixture) withCatalogue() *fixture {
	f.t.Helper()
	if err := f.db.PutItems(context.Background(), tinyItems); err != nil {
		f.t.Fatal(err)
	}
	if err := f.eng.LoadCatalogue(context.Background()); err != nil {
		f.t.Fatal(err)
	}
	return f
}

// withTiny loads tinyItems and tinyRelease.
func (f *fixture) withTiny() *fixture {
	f.t.Helper()
	f.withCatalogue()
	if err := f.eng.Swap(tinyRelease("v1")); err != nil {
		f.t.Fatal(err)
	}
	return f
}

func customer(s string) privacy.CustomerID {
	c, err := privacy.ParseCustomerID(s)
	if err != nil {
		panic(err)
	}
	return c
}

func (f *fixture) pseudo(c string) privacy.PseudoID { return f.ps.Pseudonymize(customer(c)) }

// grant records consent to both purposes.
func (f *fixture) grant(c string) {
	f.t.Helper()
	ch := []consent.Change{
		{Purpose: privacy.Personalization, Granted: true, Time: f.clock.Now(), Source: "test"},
		{Purpose: privacy.InStore, Granted: true, Time: f.clock.Now(), Source: "test"},
	}
	if _, err := f.db.UpdateConsent(context.Background(), f.pseudo(c), ch, consent.Defaults{}); err != nil {
		f.t.Fatal(err)
	}
	f.eng.Invalidate(f.pseudo(c))
}

// events stores events of customer c, one minute apart from now on, and
// invalidates their profile as serve/rpc does.
func (f *fixture) events(c string, kind privacy.EventKind, items ...string) {
	f.t.Helper()
	f.appendEvents(c, kind, items...)
	f.eng.Invalidate(f.pseudo(c))
}

// appendEvents stores events without telling the engine.
func (f *fixture) appendEvents(c string, kind privacy.EventKind, items ...string) {
	f.t.Helper()
	var es []store.Entry
	for _, it := range items {
		f.clock.Advance(time.Minute)
		es = append(es, store.Entry{
			Event:     features.Event{Customer: f.pseudo(c), Item: it, Kind: kind, Time: f.clock.Now(), Quantity: 1},
			ExpiresAt: f.clock.Now().AddDate(1, 0, 0),
		})
	}
	if err := f.db.AppendEvents(context.Background(), store.Batch{Events: es}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) recommend(r Request) Response {
	f.t.Helper()
	resp, err := f.eng.Recommend(context.Background(), r)
	if err != nil {
		f.t.Fatalf("Recommend(%+v): %v", r, err)
	}
	return resp
}

func ids(items []Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}
