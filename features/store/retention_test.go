package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

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
	views := 2
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
		if c.Events != len(want) || c.ByKind[privacy.View] != views {
			t.Errorf("%s: CountEvents = %d events, %d views; want %d and %d", when, c.Events, c.ByKind[privacy.View], len(want), views)
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

	// An event appended under the shortened policy is stored with the
	// policy's expiry, not the longer one given: Badger's TTL removes it,
	// and DeleteExpired has nothing to do for it.
	late := at(b, privacy.View, testNow.AddDate(0, -1, 0), "item-late")
	if err := db.AppendEvents(ctx, Batch{Events: []Entry{late}}); err != nil {
		t.Fatal(err)
	}
	if got, want := storedExpiry(t, db, late.Event), late.Time.AddDate(0, 6, 0); !got.Equal(want) {
		t.Errorf("appended view stored to expire at %s, want the policy's %s (not %s)", got, want, late.ExpiresAt)
	}
	if got := storedExpiry(t, db, kept[0].Event); !got.Equal(kept[0].ExpiresAt) {
		t.Errorf("purchase stored to expire at %s, want %s", got, kept[0].ExpiresAt)
	}
	want["item-late"] = true
	views++
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = mustOpen(t, opts(nil))
	defer db.Close()
	// The late view keeps the shortened period's expiry.
	db.now = func() time.Time { return late.Time.AddDate(0, 6, 1) }
	for e, err := range db.Events(ctx) {
		if err != nil || e.Item == "item-late" {
			t.Errorf("reopened without a policy, 6 months later: Events shows %s, %v", e.Item, err)
		}
	}
	db.now = func() time.Time { return testNow }
	check(db, "reopened without a policy")
	if n, err := db.DeleteExpired(ctx); err != nil || n != 0 {
		t.Errorf("DeleteExpired without a policy = %d, %v; want 0, nil", n, err)
	}
}

// storedExpiry returns the expiry Badger holds for event e.
func storedExpiry(t *testing.T, db *DB, e features.Event) time.Time {
	t.Helper()
	key, err := appendEventKey(nil, &e)
	if err != nil {
		t.Fatal(err)
	}
	var exp uint64
	err = db.bdb.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err == nil {
			exp = item.ExpiresAt()
		}
		return err
	})
	if err != nil {
		t.Fatalf("reading %s: %v", e.Item, err)
	}
	return time.Unix(int64(exp), 0).UTC()
}
