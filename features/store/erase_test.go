package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

var testNow = time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC)

// smallStore opens a store whose transactions hold about 1600 entries
// (1 MiB memtables), so that erasures of a few thousand keys are chunked.
func smallStore(t *testing.T, dir string, mod func(*Options)) *DB {
	t.Helper()
	o := Options{InMemory: true, EncryptionKey: testKey}
	if dir != "" {
		o = diskOptions(dir)
	}
	o.memTableSize = 1 << 20
	o.Now = func() time.Time { return testNow }
	if mod != nil {
		mod(&o)
	}
	return mustOpen(t, o)
}

func grant(t *testing.T, db *DB, p privacy.PseudoID) {
	t.Helper()
	grantAt(t, db, p, testNow)
}

// grantAt records p's consent to personalization and in-store use, given at.
func grantAt(t *testing.T, db *DB, p privacy.PseudoID, at time.Time) {
	t.Helper()
	ch := []consent.Change{
		{Purpose: privacy.Personalization, Granted: true, Time: at, Source: "t"},
		{Purpose: privacy.InStore, Granted: true, Time: at, Source: "t"},
	}
	if _, err := db.UpdateConsent(t.Context(), p, ch, consent.Defaults{}); err != nil {
		t.Fatal(err)
	}
}

// fill appends n events for p, every third one a store visit, in batches.
func fill(t *testing.T, db *DB, p privacy.PseudoID, n int) {
	t.Helper()
	for start := 0; start < n; start += 1000 {
		var es []Entry
		for i := start; i < min(n, start+1000); i++ {
			e := features.Event{Customer: p, Kind: privacy.View, Item: fmt.Sprintf("item-%d", i%97), Time: testNow.Add(time.Duration(i) * time.Second), Quantity: 1}
			if i%3 == 0 {
				e.Kind, e.Item, e.Store = privacy.StoreVisit, "", "store-1"
			}
			es = append(es, Entry{Event: e, ExpiresAt: testNow.AddDate(1, 0, 0)})
		}
		if err := db.AppendEvents(t.Context(), Batch{Events: es}); err != nil {
			t.Fatal(err)
		}
	}
}

// rawKeys counts the keys under prefix, whatever their expiry or markers.
func rawKeys(t *testing.T, db *DB, prefix []byte) int {
	t.Helper()
	return countKeys(t, db.bdb, badger.IteratorOptions{Prefix: prefix})
}

// countKeys counts what an iterator with opts reads from bdb.
func countKeys(t *testing.T, bdb *badger.DB, opts badger.IteratorOptions) int {
	t.Helper()
	n := 0
	err := bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestForgetChunked(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		mod  func(*Options)
	}{
		{"transaction limit", nil},                              // chunks end at badger.ErrTxnTooBig
		{"chunk knob", func(o *Options) { o.eraseChunk = 700 }}, // and at eraseChunk
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := smallStore(t, "", tt.mod)
			defer db.Close()
			ctx := t.Context()
			a, b := privacy.PseudoID{1}, privacy.PseudoID{2}
			grant(t, db, a)
			grant(t, db, b)
			fill(t, db, a, 5000)
			fill(t, db, b, 10)
			if n := db.bdb.MaxBatchCount(); n >= 5000 {
				t.Fatalf("MaxBatchCount = %d, want fewer than the customer's 5000 keys", n)
			}
			removed, err := db.Forget(ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			if want := (Removed{TableConsent: 1, TableEvents: 5000}); !reflect.DeepEqual(removed, want) {
				t.Errorf("Forget = %v, want %v", removed, want)
			}
			for _, tag := range []byte{tagConsent, tagEvent, tagErasure} {
				if n := rawKeys(t, db, customerPrefix(tag, a)); n != 0 {
					t.Errorf("after Forget, %d keys under %c|a, want 0", n, tag)
				}
			}
			if n := rawKeys(t, db, customerPrefix(tagEvent, b)); n != 10 {
				t.Errorf("after Forget(a), %d events of b, want 10", n)
			}
		})
	}
}

func TestWithdrawalChunked(t *testing.T) {
	t.Parallel()
	db := smallStore(t, "", nil)
	defer db.Close()
	ctx := t.Context()
	a := privacy.PseudoID{1}
	grant(t, db, a)
	fill(t, db, a, 6000)
	// In-store first: the 2000 visits go.
	res, err := db.UpdateConsent(ctx, a, []consent.Change{{Purpose: privacy.InStore, Time: testNow, Source: "t"}}, consent.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Removed{TableEvents: 2000}); !reflect.DeepEqual(res.Removed, want) {
		t.Errorf("in-store withdrawal removed %v, want %v", res.Removed, want)
	}
	// Then personalization: the other 4000, in several chunks.
	res, err = db.UpdateConsent(ctx, a, []consent.Change{{Purpose: privacy.Personalization, Time: testNow, Source: "t"}}, consent.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Removed{TableEvents: 4000}); !reflect.DeepEqual(res.Removed, want) {
		t.Errorf("personalization withdrawal removed %v, want %v", res.Removed, want)
	}
	if n := rawKeys(t, db, customerPrefix(tagEvent, a)); n != 0 {
		t.Errorf("after withdrawal, %d events left, want 0", n)
	}
	if n := rawKeys(t, db, customerPrefix(tagErasure, a)); n != 0 {
		t.Errorf("after withdrawal, %d markers left, want 0", n)
	}
	if r, err := db.Consent(ctx, a); err != nil || len(r.Changes) != 4 {
		t.Errorf("after withdrawals, Consent = %v, %v; want 4 changes", r, err)
	}
}

// cancelAfter is a context whose Err turns to Canceled after n calls.
type cancelAfter struct {
	context.Context
	n atomic.Int64
}

func (c *cancelAfter) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// TestErasureInterrupted stops an erasure after its marker is committed and
// checks that the customer already looks erased, that their events are
// refused, and that the erasure completes on the next Open.
func TestErasureInterrupted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// The erasure is a minute before testNow, so that a's new consent
	// (grant, at testNow) is dated after it and counts.
	var clock atomic.Int64
	clock.Store(testNow.Add(-time.Minute).UnixNano())
	withClock := func(o *Options) { o.Now = func() time.Time { return time.Unix(0, clock.Load()).UTC() } }
	db := smallStore(t, dir, func(o *Options) { o.eraseChunk = 100; withClock(o) })
	a, b := privacy.PseudoID{1}, privacy.PseudoID{2}
	grant(t, db, a)
	grant(t, db, b)
	fill(t, db, a, 1000)
	fill(t, db, b, 3)
	ctx := &cancelAfter{Context: t.Context()}
	ctx.n.Store(4) // Forget's first transaction, the marker's, one chunk
	_, err := db.Forget(ctx, a)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Forget(cancelled midway) = %v, want context.Canceled", err)
	}
	if n := rawKeys(t, db, customerPrefix(tagEvent, a)); n == 0 || n == 1000 {
		t.Fatalf("after an interrupted Forget, %d of 1000 events left, want some deleted and some left", n)
	}
	checkErased(t, db, a, b)
	if r, err := db.Consent(t.Context(), a); err != nil || len(r.Changes) != 0 {
		t.Errorf("Consent(a) = %v, %v; want zero record", r, err)
	}
	if d, err := db.Export(t.Context(), a); err != nil || !d.ErasurePending {
		t.Errorf("Export(a).ErasurePending = %v, %v; want true", d.ErasurePending, err)
	}
	// a consents again: their events are refused until the erasure is done.
	clock.Store(testNow.UnixNano())
	grant(t, db, a)
	if err := appendOne(t, db, a); !errors.Is(err, ErrNoConsent) {
		t.Errorf("AppendEvents(a) with erasure pending = %v, want ErrNoConsent", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = smallStore(t, dir, withClock) // resumes the erasure
	defer db.Close()
	if n := rawKeys(t, db, customerPrefix(tagEvent, a)) + rawKeys(t, db, customerPrefix(tagErasure, a)); n != 0 {
		t.Errorf("after reopening, %d keys of a left, want 0", n)
	}
	checkErased(t, db, a, b)
	if err := appendOne(t, db, a); err != nil {
		t.Errorf("AppendEvents(a) after the erasure = %v, want nil (a consented again)", err)
	}
}

// checkErased checks that every read shows a as erased and b intact.
func checkErased(t *testing.T, db *DB, a, b privacy.PseudoID) {
	t.Helper()
	ctx := t.Context()
	if es, err := db.CustomerEvents(ctx, a); err != nil || len(es) != 0 {
		t.Errorf("CustomerEvents(a) = %d events, %v; want none", len(es), err)
	}
	var got []privacy.PseudoID
	for e, err := range db.Events(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Customer)
	}
	if len(got) != 3 || got[0] != b {
		t.Errorf("Events() = customers %v, want b's 3 events", got)
	}
	if c, err := db.CountEvents(ctx); err != nil || c.Events != 3 || c.Customers != 1 {
		t.Errorf("CountEvents() = %+v, %v; want b's 3 events", c, err)
	}
	if d, err := db.Export(ctx, a); err != nil || len(d.Events) != 0 {
		t.Errorf("Export(a) = %+v, %v; want no event", d, err)
	}
}

// appendOne appends one view of p.
func appendOne(t *testing.T, db *DB, p privacy.PseudoID) error {
	t.Helper()
	e := Entry{Event: features.Event{Customer: p, Kind: privacy.View, Item: "new", Time: testNow, Quantity: 1}, ExpiresAt: testNow.Add(time.Hour)}
	return db.AppendEvents(t.Context(), Batch{Events: []Entry{e}})
}

// TestPartialMarker checks that a marker for store visits only hides and
// refuses store visits only.
func TestPartialMarker(t *testing.T) {
	t.Parallel()
	db := smallStore(t, "", nil)
	defer db.Close()
	ctx := t.Context()
	a := privacy.PseudoID{1}
	grant(t, db, a)
	fill(t, db, a, 6)
	err := db.bdb.Update(func(txn *badger.Txn) error {
		return txn.Set(erasureKey(a), encodeMarker(scope{kinds: 1 << privacy.StoreVisit}))
	})
	if err != nil {
		t.Fatal(err)
	}
	es, err := db.CustomerEvents(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 4 || es[0].Kind != privacy.View {
		t.Errorf("CustomerEvents with visits pending erasure = %v, want the 4 views", es)
	}
	visit := Entry{Event: features.Event{Customer: a, Kind: privacy.StoreVisit, Store: "s", Time: testNow, Quantity: 1}, ExpiresAt: testNow.Add(time.Hour)}
	view := Entry{Event: features.Event{Customer: a, Kind: privacy.View, Item: "i", Time: testNow, Quantity: 1}, ExpiresAt: testNow.Add(time.Hour)}
	var re *RefusedError
	if err := db.AppendEvents(ctx, Batch{Events: []Entry{view, visit}}); !errors.As(err, &re) || !reflect.DeepEqual(re.Indices, []int{1}) {
		t.Errorf("AppendEvents(view, visit) = %v, want the visit refused", err)
	}
	if err := db.resumeErasures(ctx); err != nil {
		t.Fatal(err)
	}
	if n := rawKeys(t, db, customerPrefix(tagEvent, a)); n != 4 {
		t.Errorf("after the erasure of visits, %d events, want the 4 views", n)
	}
}

// TestWithdrawalRace runs appends and a withdrawal concurrently: whatever
// the interleaving, no event of the customer may survive the withdrawal.
func TestWithdrawalRace(t *testing.T) {
	t.Parallel()
	for round := range 20 {
		db := smallStore(t, "", nil)
		ctx := t.Context()
		a := privacy.PseudoID{byte(round), 1}
		grant(t, db, a)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; ; i++ {
				e := Entry{Event: features.Event{Customer: a, Kind: privacy.View, Item: "i", Time: testNow.Add(time.Duration(i) * time.Millisecond), Quantity: 1}, ExpiresAt: testNow.Add(time.Hour)}
				if err := db.AppendEvents(ctx, Batch{Events: []Entry{e}}); err != nil {
					if !errors.Is(err, ErrNoConsent) {
						t.Errorf("AppendEvents = %v, want nil or ErrNoConsent", err)
					}
					return
				}
			}
		}()
		time.Sleep(time.Duration(round%5) * time.Millisecond)
		if _, err := db.UpdateConsent(ctx, a, []consent.Change{{Purpose: privacy.Personalization, Time: testNow, Source: "t"}}, consent.Defaults{}); err != nil {
			t.Fatal(err)
		}
		<-done
		if n := rawKeys(t, db, customerPrefix(tagEvent, a)); n != 0 {
			t.Errorf("round %d: %d events survived the withdrawal", round, n)
		}
		db.Close()
	}
}

// TestConcurrentAppendsSucceed: concurrent batches that add to the same
// counters and write events of consenting customers all succeed (the
// server's event API answered some of them INTERNAL after the conflict
// retries ran out), and every counter addition is kept exactly once.
func TestConcurrentAppendsSucceed(t *testing.T) {
	t.Parallel()
	db := smallStore(t, "", nil)
	ctx := t.Context()
	const writers, batches = 8, 40
	for w := range writers {
		grant(t, db, privacy.PseudoID{byte(w), 7})
	}
	day := DayOf(testNow)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				e := Entry{Event: features.Event{Customer: privacy.PseudoID{byte(w), 7}, Kind: privacy.View, Item: "i",
					Time: testNow.Add(-time.Duration(b) * time.Second), Quantity: 1}, ExpiresAt: testNow.Add(time.Hour)}
				batch := Batch{Events: []Entry{e}, Counters: map[CounterKey]uint64{
					{Name: "ingest.dropped.no_consent", Day: day}: 1,
					{Name: "ingest.received", Day: day}:           2,
				}}
				if err := db.AppendEvents(ctx, batch); err != nil {
					t.Errorf("writer %d batch %d: AppendEvents = %v", w, b, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for name, want := range map[string]uint64{"ingest.dropped.no_consent": writers * batches, "ingest.received": 2 * writers * batches} {
		if got, err := db.Counter(ctx, CounterKey{Name: name, Day: day}); err != nil || got != want {
			t.Errorf("counter %s = %d, %v; want %d", name, got, err, want)
		}
	}
}

// TestForgetIsFinal: what an erasure removed cannot come back by being sent
// again. A consent choice or an event dated at or before the erasure (an old
// CRM export, an event file replayed) is not stored, whatever the defaults,
// through every write path; a customer who comes back consents, and is
// stored, from a time after the erasure.
func TestForgetIsFinal(t *testing.T) {
	t.Parallel()
	var clock atomic.Int64
	set := func(t time.Time) { clock.Store(t.UnixNano()) }
	set(testNow)
	db := smallStore(t, "", func(o *Options) { o.Now = func() time.Time { return time.Unix(0, clock.Load()).UTC() } })
	defer db.Close()
	ctx := t.Context()
	optOut := consent.Defaults{Personalization: true, InStore: true}
	a := privacy.PseudoID{7}
	before := testNow.Add(-time.Hour)
	oldGrant := []consent.Change{{Purpose: privacy.Personalization, Granted: true, Time: before, Source: "crm"}}
	event := func(at time.Time) Batch {
		return Batch{Defaults: optOut, Events: []Entry{{
			Event:     features.Event{Customer: a, Kind: privacy.Purchase, Item: "sku-1", Time: at, Quantity: 1},
			ExpiresAt: testNow.AddDate(1, 0, 0),
		}}}
	}
	if _, err := db.UpdateConsent(ctx, a, oldGrant, optOut); err != nil {
		t.Fatal(err)
	}
	if err := db.AppendEvents(ctx, event(before)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Forget(ctx, a); err != nil {
		t.Fatal(err)
	}

	// Sent again: refused, through the single and the bulk consent path, and
	// the append path, even under opt-out defaults.
	res, err := db.UpdateConsent(ctx, a, oldGrant, optOut)
	if err != nil || res.Recorded != 0 || res.PredatingErasure != 1 || optOut.Allows(res.Record, privacy.Personalization) {
		t.Errorf("UpdateConsent(grant before the erasure) = %+v, %v; want nothing recorded, 1 predating, not allowed", res, err)
	}
	ress, _, err := db.UpdateConsents(ctx, []ConsentUpdate{{Customer: a, Changes: oldGrant}}, optOut)
	if err != nil || ress[0].Recorded != 0 || ress[0].PredatingErasure != 1 {
		t.Errorf("UpdateConsents(grant before the erasure) = %+v, %v; want nothing recorded, 1 predating", ress, err)
	}
	if n := rawKeys(t, db, consentKey(a)); n != 0 {
		t.Errorf("a consent record under the pseudonym after a refused choice: %d keys, want 0", n)
	}
	for _, at := range []time.Time{before, testNow} {
		if err := db.AppendEvents(ctx, event(at)); !errors.Is(err, ErrNoConsent) {
			t.Errorf("AppendEvents(event at %v, erased at %v, no choice since) = %v, want ErrNoConsent", at, testNow, err)
		}
	}
	d, err := db.Export(ctx, a)
	if err != nil || !d.ErasedAt.Equal(testNow) || len(d.Consent)+len(d.Events) != 0 {
		t.Errorf("Export after the erasure = %+v, %v; want erased at %v and nothing else", d, err, testNow)
	}

	// The customer comes back: a choice dated after the erasure counts; an
	// event dated before it still does not.
	later := testNow.Add(time.Minute)
	set(later)
	newGrant := []consent.Change{{Purpose: privacy.Personalization, Granted: true, Time: later, Source: "app"}}
	if res, err := db.UpdateConsent(ctx, a, newGrant, optOut); err != nil || res.Recorded != 1 || res.PredatingErasure != 0 {
		t.Fatalf("UpdateConsent(grant after the erasure) = %+v, %v; want it recorded", res, err)
	}
	if err := db.AppendEvents(ctx, event(before)); !errors.Is(err, ErrNoConsent) {
		t.Errorf("AppendEvents(event before the erasure, consent given since) = %v, want ErrNoConsent", err)
	}
	if err := db.AppendEvents(ctx, event(later)); err != nil {
		t.Errorf("AppendEvents(event after the new consent) = %v, want nil", err)
	}
	r, err := db.Consent(ctx, a)
	if err != nil || !r.ErasedAt.Equal(testNow) || len(r.Changes) != 1 {
		t.Errorf("Consent after coming back = %+v, %v; want the new grant and the erasure time", r, err)
	}

	// A second erasure moves the time on.
	set(later.Add(time.Minute))
	if _, err := db.Forget(ctx, a); err != nil {
		t.Fatal(err)
	}
	if d, err := db.Export(ctx, a); err != nil || !d.ErasedAt.Equal(later.Add(time.Minute)) || len(d.Events) != 0 {
		t.Errorf("Export after a second erasure = %+v, %v", d, err)
	}
}
