package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/retention"
)

// TestShortenedRetention stores events under the default periods, reopens
// the store with a shorter period for views, and checks that every read
// hides the views the new period no longer keeps at once, that
// DeleteExpired deletes them (in more than one transaction) and only them,
// and that they are gone for good: a store reopened without a policy does
// not show them either.
func TestShortenedRetention(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	opts := func(p *retention.Policy) Options {
		o := diskOptions(dir)
		o.Now = func() time.Time { return testNow }
		o.Retention = p
		return o
	}
	var def retention.Policy
	a, b := privacy.PseudoID{1}, privacy.PseudoID{2}
	old := testNow.AddDate(0, -12, 0) // kept 13 months, not 6
	recent := testNow.AddDate(0, 0, -10)
	const oldViews = deleteChunk + 904

	db := mustOpen(t, opts(nil))
	grant(t, db, a)
	grant(t, db, b)
	at := func(p privacy.PseudoID, k privacy.EventKind, tm time.Time, item string) Entry {
		e := features.Event{Customer: p, Kind: k, Item: item, Time: tm, Quantity: 1}
		return Entry{Event: e, ExpiresAt: def.ExpiresAt(k, tm)}
	}
	for start := 0; start < oldViews; start += 1000 {
		var es []Entry
		for i := start; i < min(oldViews, start+1000); i++ {
			es = append(es, at(a, privacy.View, old.Add(time.Duration(i)*time.Second), fmt.Sprintf("item-%d", i)))
		}
		if err := db.AppendEvents(ctx, Batch{Events: es}); err != nil {
			t.Fatal(err)
		}
	}
	kept := []Entry{
		at(a, privacy.Purchase, old, "item-p"),     // 3 years: kept
		at(a, privacy.View, recent, "item-r"),      // 10 days old: kept
		at(b, privacy.View, recent, "item-b"),      // another customer
		at(b, privacy.AddToCart, old, "item-cart"), // 3 years: kept
	}
	if err := db.AppendEvents(ctx, Batch{Events: kept}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	short := retention.Policy{View: retention.Period{Months: 6}}
	db = mustOpen(t, opts(&short))
	short.View = retention.Period{Days: 1} // Open copied the policy
	want := map[string]bool{"item-p": true, "item-r": true, "item-b": true, "item-cart": true}
	check := func(db *DB, when string) {
		t.Helper()
		got := map[string]bool{}
		for e, err := range db.Events(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			got[e.Item] = true
		}
		if len(got) != len(want) {
			t.Errorf("%s: Events shows %d items, want %d (%v)", when, len(got), len(want), want)
		}
		for item := range want {
			if !got[item] {
				t.Errorf("%s: Events lacks %s", when, item)
			}
		}
		es, err := db.CustomerEvents(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != 2 {
			t.Errorf("%s: CustomerEvents(a) = %d events, want 2 (the purchase and the recent view)", when, len(es))
		}
		c, err := db.CountEvents(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c.Events != 4 || c.ByKind[privacy.View] != 2 {
			t.Errorf("%s: CountEvents = %d events, %d views; want 4 and 2", when, c.Events, c.ByKind[privacy.View])
		}
	}
	check(db, "shortened")
	d, err := db.Export(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Events) != 2 {
		t.Fatalf("Export(a) = %d events, want 2", len(d.Events))
	}
	for _, e := range d.Events {
		var want time.Time
		switch e.Type {
		case "view": // the shortened period, not the stored expiry
			want = recent.AddDate(0, 6, 0)
		case "purchase":
			want = old.AddDate(3, 0, 0)
		}
		if !e.ExpiresAt.Equal(want) {
			t.Errorf("Export(a): %s expires at %s, want %s", e.Type, e.ExpiresAt, want)
		}
	}
	if n := rawKeys(t, db, []byte{tagEvent}); n != oldViews+len(kept) {
		t.Fatalf("%d event keys before DeleteExpired, want %d", n, oldViews+len(kept))
	}
	n, err := db.DeleteExpired(ctx)
	if err != nil || n != oldViews {
		t.Fatalf("DeleteExpired = %d, %v; want %d, nil", n, err, oldViews)
	}
	if n, err := db.DeleteExpired(ctx); err != nil || n != 0 {
		t.Errorf("second DeleteExpired = %d, %v; want 0, nil", n, err)
	}
	if n := rawKeys(t, db, []byte{tagEvent}); n != len(kept) {
		t.Errorf("%d event keys after DeleteExpired, want %d", n, len(kept))
	}
	check(db, "after DeleteExpired")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = mustOpen(t, opts(nil))
	defer db.Close()
	check(db, "reopened without a policy")
	if n, err := db.DeleteExpired(ctx); err != nil || n != 0 {
		t.Errorf("DeleteExpired without a policy = %d, %v; want 0, nil", n, err)
	}
}
