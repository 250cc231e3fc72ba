package store_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
	"github.com/discret-io/discret/privacy/retention"
	"github.com/discret-io/discret/privacy/secret"
)

func Example() {
	ctx := context.Background()
	m, err := secret.FromBytes(make([]byte, secret.Size)) // secret.Load(keyFile) in real life
	if err != nil {
		log.Fatal(err)
	}
	now := time.Date(2035, 3, 1, 12, 0, 0, 0, time.UTC)
	db, err := store.Open(store.Options{
		InMemory:      true, // Dir: "/var/lib/discret" on a server
		EncryptionKey: m.StorageKey(),
		KeyCheck:      m.CheckValue(),
		Now:           func() time.Time { return now },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	alice := privacy.PseudoID{0xa1} // from pseudonym.Keyed.Pseudonymize
	grant := consent.Change{Purpose: privacy.Personalization, Granted: true, Time: now, Source: "web-form"}
	if _, err := db.UpdateConsent(ctx, alice, []consent.Change{grant}, consent.Defaults{}); err != nil {
		log.Fatal(err)
	}

	var policy retention.Policy
	e := features.Event{Customer: alice, Kind: privacy.Purchase, Item: "sku-42", Time: now.Add(-time.Hour), Quantity: 2}
	batch := store.Batch{Events: []store.Entry{{Event: e, ExpiresAt: policy.ExpiresAt(e.Kind, e.Time)}}}
	if err := db.AppendEvents(ctx, batch); err != nil {
		log.Fatal(err)
	}
	events, err := db.CustomerEvents(ctx, alice)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(events), events[0].Kind, events[0].Item, events[0].Quantity)

	withdraw := consent.Change{Purpose: privacy.Personalization, Granted: false, Time: now, Source: "web-form"}
	res, err := db.UpdateConsent(ctx, alice, []consent.Change{withdraw}, consent.Defaults{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("withdrawn:", res.Withdrawn, "removed:", res.Removed)
	// Output:
	// 1 purchase sku-42 2
	// withdrawn: [personalization] removed: map[events:1]
}
