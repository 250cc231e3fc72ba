package coupons_test

import (
	"context"
	"fmt"
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

// A customer who consents to in-store offers walks into a store: the visit
// is recorded, coupons are chosen for them, and a second entry the same day
// is capped.
func Example() {
	ctx := context.Background()
	now := time.Date(2035, 3, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	db, err := store.Open(store.Options{InMemory: true, EncryptionKey: storetest.TestKey, Now: clock})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	ps, _ := pseudonym.New(make([]byte, 32))
	visits, _ := ingest.New(ingest.Config{Pseudonyms: ps, Now: clock}, db)

	// The recommendation engine scores items for the customer.
	rec, _ := recommend.New(recommend.Config{Pseudonyms: ps, Customers: db, Catalogue: db, Now: clock})
	for _, id := range []string{"tea", "coffee", "drill"} {
		if err := rec.UpsertItem(ctx, features.Item{ID: id, Stores: []string{"paris-1"}, Active: true}); err != nil {
			panic(err)
		}
	}
	err = rec.Swap(&release.Release{
		Card: release.Card{
			Format: release.CardFormat, Version: "v1", Created: now, RNG: release.RNGCrypto, Private: true,
			Privacy: &release.Privacy{Epsilon: 1, Delta: 1e-6}, Items: 3, Trained: 3, Universe: release.UniverseCatalogue,
			Hyper: release.Hyper{Factors: 2, Lambda: 0.1, RegExponent: 1, Unobserved: 0.1, Weights: map[string]float64{"purchase": 1}, StrengthCap: 10, Alpha: 1},
		},
		Items:   []string{"tea", "coffee", "drill"},
		Vectors: []float32{1, 0, 0.9, 0.2, 0, 1},
		Trained: []bool{true, true, true},
		Popular: []float32{1, 2, 3},
	})
	if err != nil {
		panic(err)
	}

	eng, err := coupons.New(coupons.Config{Pseudonyms: ps, Customers: db, Visits: visits, Pushes: db, Coupons: db, Model: rec, Now: clock})
	if err != nil {
		panic(err)
	}
	for _, c := range []features.Coupon{
		{ID: "COFFEE-20", Item: "coffee", Value: "-20%"},
		{ID: "DRILL-5", Item: "drill", Value: "5 EUR off"},
	} {
		c.Stores, c.ValidFrom, c.ValidUntil, c.Active = []string{"paris-1"}, now.Add(-time.Hour), now.AddDate(0, 1, 0), true
		if err := eng.UpsertCoupon(ctx, c); err != nil {
			panic(err)
		}
	}

	// Ann consents to personalization and in-store offers, and bought tea.
	ann, _ := privacy.ParseCustomerID("ann@example.com")
	p := ps.Pseudonymize(ann)
	_, err = db.UpdateConsent(ctx, p, []consent.Change{
		{Purpose: privacy.Personalization, Granted: true, Time: now, Source: "app"},
		{Purpose: privacy.InStore, Granted: true, Time: now, Source: "app"},
	}, consent.Defaults{})
	if err != nil {
		panic(err)
	}
	if _, err := visits.Write(ctx, []features.RawEvent{{Customer: ann, Item: "tea", Kind: privacy.Purchase, Time: now.Add(-time.Hour), Quantity: 1}}); err != nil {
		panic(err)
	}
	rec.Invalidate(p)

	res, err := eng.Enter(ctx, coupons.Entry{Customer: ann, Store: "paris-1"})
	if err != nil {
		panic(err)
	}
	fmt.Println("personalized:", res.Personalized, "visit recorded:", res.VisitRecorded)
	for _, o := range res.Offers {
		fmt.Printf("%s %s: %s\n", o.Coupon, o.Value, o.Explanation)
	}
	now = now.Add(2 * time.Hour)
	res, _ = eng.Enter(ctx, coupons.Entry{Customer: ann, Store: "paris-1"})
	fmt.Println("capped:", res.Capped, "-", res.CapReason)
	// Output:
	// personalized: true visit recorded: true
	// COFFEE-20 -20%: because you bought tea
	// DRILL-5 5 EUR off: picked for you
	// capped: true - at most 1 coupon push per customer per store per day
}
