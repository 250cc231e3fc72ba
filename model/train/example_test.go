package train_test

import (
	"context"
	"fmt"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/store/storetest"
	"github.com/discret-io/discret/model/als"
	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/model/train"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
	"github.com/discret-io/discret/privacy/dp/dptest"
)

// Run trains a private release on the stored events and makes it current.
// A test-seeded source is used here; production code leaves Source nil
// (crypto randomness) and AllowTestSource false.
func ExampleRun() {
	ctx := context.Background()
	now := time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC)
	db, err := store.Open(store.Options{InMemory: true, EncryptionKey: storetest.TestKey, Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	optOut := consent.Defaults{Personalization: true}
	var events []store.Entry
	for c := range 200 {
		for k := range 5 {
			item := fmt.Sprintf("sku-%d", (c%2)*5+(c+k)%5)
			events = append(events, store.Entry{
				Event:     features.Event{Customer: storetest.Pseudo(c), Item: item, Kind: privacy.Purchase, Time: now.Add(-time.Hour), Quantity: 1},
				ExpiresAt: now.AddDate(1, 0, 0),
			})
		}
	}
	if err := db.AppendEvents(ctx, store.Batch{Events: events, Defaults: optOut}); err != nil {
		panic(err)
	}
	catalogue := []string{"sku-0", "sku-1", "sku-2", "sku-3", "sku-4", "sku-5", "sku-6", "sku-7", "sku-8", "sku-9"}
	rep, err := train.Run(ctx, db, train.Config{
		Epsilon: 2, Catalogue: catalogue, Stores: []string{}, Consent: optOut,
		ALS:             als.Config{Factors: 4},
		Privacy:         als.Privacy{ItemFraction: 1},
		Now:             func() time.Time { return now },
		Source:          dptest.New(1),
		AllowTestSource: true,
	})
	if err != nil {
		panic(err)
	}
	r, err := release.LoadCurrent(ctx, db)
	if err != nil {
		panic(err)
	}
	fmt.Printf("current: %v, items: %d, trained: %d\n", r.Card.Version == rep.Version, len(r.Items), r.Card.Trained)
	fmt.Printf("private: %v, ε ≤ 2: %v, δ = %g, randomness: %s\n", r.Card.Private, r.Card.Privacy.Epsilon <= 2, r.Card.Privacy.Delta, r.Card.RNG)
	// Output:
	// current: true, items: 10, trained: 10
	// private: true, ε ≤ 2: true, δ = 1e-06, randomness: test-seeded
}
