package store

import (
	"context"
	"testing"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

func TestUpdateConsents(t *testing.T) {
	ctx := context.Background()
	clock := time.Now().UTC().Truncate(time.Second)
	db, err := Open(Options{InMemory: true, EncryptionKey: make([]byte, 32), Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pseudo := func(n byte) privacy.PseudoID { return privacy.PseudoID{n, 1} }
	change := func(p privacy.Purpose, granted bool, at time.Time) consent.Change {
		return consent.Change{Purpose: p, Granted: granted, Time: at, Source: "batch"}
	}
	d := consent.Defaults{}
	// Customer 1 consents and has an event; customer 2 is new.
	if _, err := db.UpdateConsent(ctx, pseudo(1), []consent.Change{change(privacy.Personalization, true, clock.Add(-time.Hour))}, d); err != nil {
		t.Fatal(err)
	}
	ev := Entry{Event: features.Event{Customer: pseudo(1), Item: "i", Kind: privacy.Purchase, Time: clock.Add(-time.Minute), Quantity: 1}, ExpiresAt: clock.Add(24 * time.Hour)}
	if err := db.AppendEvents(ctx, Batch{Events: []Entry{ev}}); err != nil {
		t.Fatal(err)
	}
	var ups []ConsentUpdate
	for n := byte(2); n < 200; n++ {
		ups = append(ups, ConsentUpdate{Customer: pseudo(n), Changes: []consent.Change{change(privacy.Personalization, true, clock)}})
	}
	// Customer 1 withdraws in the middle of the batch: the erasure path.
	ups = append(ups[:50], append([]ConsentUpdate{{Customer: pseudo(1), Changes: []consent.Change{change(privacy.Personalization, false, clock)}}}, ups[50:]...)...)
	res, n, err := db.UpdateConsents(ctx, ups, d)
	if err != nil || n != len(ups) || len(res) != len(ups) {
		t.Fatalf("UpdateConsents = %d results, %d done, %v; want %d", len(res), n, err, len(ups))
	}
	if got := res[50].Removed.Total(); got != 1 {
		t.Errorf("withdrawal removed %d records, want 1", got)
	}
	if events, _ := db.CustomerEvents(ctx, pseudo(1)); len(events) != 0 {
		t.Errorf("withdrawn customer still has %d events", len(events))
	}
	for i, u := range ups {
		r, err := db.Consent(ctx, u.Customer)
		want := u.Changes[0].Granted
		if err != nil || d.Allows(r, privacy.Personalization) != want {
			t.Fatalf("update %d: stored record allows personalization = %v, %v; want %v", i, d.Allows(r, privacy.Personalization), err, want)
		}
	}
	// The consent cache sees the batch: an append for a new grantee works.
	ev.Customer = pseudo(7)
	if err := db.AppendEvents(ctx, Batch{Events: []Entry{ev}}); err != nil {
		t.Errorf("append after batch grant: %v", err)
	}
	if _, _, err := db.UpdateConsents(ctx, []ConsentUpdate{ups[0], ups[0]}, d); err == nil {
		t.Error("UpdateConsents with a duplicate customer = nil error")
	}
	bad := []ConsentUpdate{{Customer: pseudo(3), Changes: []consent.Change{{Purpose: privacy.InStore, Granted: true, Time: clock, Source: "free text!"}}}}
	if _, _, err := db.UpdateConsents(ctx, bad, d); err == nil {
		t.Error("UpdateConsents with an invalid change = nil error")
	}
}
