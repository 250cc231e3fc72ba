package recommend_test

import (
	"context"
	"fmt"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/store/storetest"
	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
	"github.com/discret-io/discret/privacy/pseudonym"
	"github.com/discret-io/discret/serve/recommend"
)

// An engine serves a release (here a tiny hand-made one; a server calls
// Refresh to load the current one from the store) to customers who consent
// to personalization, from their own history.
func Example() {
	ctx := context.Background()
	now := time.Date(2035, 1, 1, 12, 0, 0, 0, time.UTC)
	db, err := store.Open(store.Options{InMemory: true, EncryptionKey: storetest.TestKey, Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	ps, err := pseudonym.New(make([]byte, 32)) // from the master secret in production
	if err != nil {
		panic(err)
	}
	eng, err := recommend.New(recommend.Config{Pseudonyms: ps, Customers: db, Catalogue: db, Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}

	// The catalogue: only active catalogue items are recommended.
	for _, it := range []features.Item{
		{ID: "apple", Category: "fruit", Active: true}, {ID: "pear", Category: "fruit", Active: true},
		{ID: "drill", Category: "tools", Active: true}, {ID: "saw", Category: "tools", Active: true},
	} {
		if err := eng.UpsertItem(ctx, it); err != nil {
			panic(err)
		}
	}
	err = eng.Swap(&release.Release{
		Card: release.Card{
			Format: release.CardFormat, Version: "v1", Created: now, RNG: release.RNGCrypto, Items: 4, Trained: 4,
			Universe: release.UniverseCatalogue, Private: true,
			Privacy: &release.Privacy{Epsilon: 1, Delta: 1e-6},
			Hyper: release.Hyper{
				Factors: 2, Lambda: 0.1, RegExponent: 1, Unobserved: 0.1,
				Weights: map[string]float64{"view": 0.1, "purchase": 1}, StrengthCap: 10, Alpha: 1,
			},
		},
		Items:   []string{"apple", "pear", "drill", "saw"},
		Vectors: []float32{1, 0, 0.9, 0.1, 0, 1, 0.1, 0.9},
		Trained: []bool{true, true, true, true},
		Popular: []float32{5, 3, 2, 1},
	})
	if err != nil {
		panic(err)
	}

	// A customer who consents and bought a drill.
	ann, _ := privacy.ParseCustomerID("ann@example.com")
	p := ps.Pseudonymize(ann)
	if _, err := db.UpdateConsent(ctx, p, []consent.Change{{Purpose: privacy.Personalization, Granted: true, Time: now, Source: "web-form"}}, consent.Defaults{}); err != nil {
		panic(err)
	}
	err = db.AppendEvents(ctx, store.Batch{Events: []store.Entry{{
		Event:     features.Event{Customer: p, Item: "drill", Kind: privacy.Purchase, Time: now, Quantity: 1},
		ExpiresAt: now.AddDate(1, 0, 0),
	}}})
	if err != nil {
		panic(err)
	}
	eng.Invalidate(p) // serve/rpc does this after every write

	resp, err := eng.Recommend(ctx, recommend.Request{Customer: ann, Limit: 2, ExcludePurchased: true})
	if err != nil {
		panic(err)
	}
	fmt.Println("personalized:", resp.Reason == recommend.Personalized, "model:", resp.ModelVersion)
	for _, it := range resp.Items {
		fmt.Printf("%s (%s)", it.ID, it.Category)
		if it.Explanation != "" {
			fmt.Print(" ", it.Explanation)
		}
		fmt.Println()
	}

	// Someone who never consented gets the DP popular list.
	bob, _ := privacy.ParseCustomerID("bob@example.com")
	resp, _ = eng.Recommend(ctx, recommend.Request{Customer: bob, Limit: 2})
	fmt.Println("personalized:", resp.Reason == recommend.Personalized, "items:", resp.Items[0].ID, resp.Items[1].ID)
	// Output:
	// personalized: true model: v1
	// saw (tools) because you bought drill
	// pear (fruit)
	// personalized: false items: apple pear
}
