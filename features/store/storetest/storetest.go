// Package storetest is the behaviour suite of features/store, run against
// every configuration of the store (in memory, on disk encrypted), plus the
// helpers other packages' tests need to open a store (a fake clock and test
// keys) and to read all a closed store holds (Walk, for leak tests). It is
// imported only by tests and benchmarks.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

// Key material for tests: never use it for real data.
var (
	TestKey      = bytes.Repeat([]byte{0x42}, 32)
	TestKeyCheck = bytes.Repeat([]byte{0x24}, 16)
)

// Epoch is the fake clock's default start, in the future of the machines
// running the tests so that Badger's own expiry (by the real clock) does not
// hide what the fake clock still shows.
var Epoch = time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC)

// Clock is a fake clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

// NewClock returns a clock showing t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set sets the clock's time.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// OpenMemory opens an encrypted in-memory store with clock now, closed when
// the test ends.
func OpenMemory(t testing.TB, now func() time.Time) *store.DB {
	t.Helper()
	return open(t, store.Options{InMemory: true, EncryptionKey: TestKey, Now: now})
}

// OpenDisk opens an encrypted store in a new temporary directory with clock
// now, closed when the test ends.
func OpenDisk(t testing.TB, now func() time.Time) *store.DB {
	t.Helper()
	return open(t, store.Options{Dir: t.TempDir(), EncryptionKey: TestKey, KeyCheck: TestKeyCheck, Now: now})
}

func open(t testing.TB, o store.Options) *store.DB {
	t.Helper()
	db, err := store.Open(o)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

// Pseudo returns a distinctive pseudonym for test customer n.
func Pseudo(n int) privacy.PseudoID {
	var p privacy.PseudoID
	copy(p[:], fmt.Sprintf("cust%06d-%06d", n, n*7919%1000000))
	return p
}

// Grant returns a change granting (or, with granted false, withdrawing)
// purpose at time t.
func Grant(purpose privacy.Purpose, granted bool, t time.Time) consent.Change {
	return consent.Change{Purpose: purpose, Granted: granted, Time: t, Source: "test"}
}

// Opener opens a fresh, empty store whose expiry follows now. The store must
// be closed when the test ends.
type Opener func(t *testing.T, now func() time.Time) *store.DB

// Run runs the behaviour suite against stores from open.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"AppendAndRead", testAppendAndRead},
		{"Idempotent", testIdempotent},
		{"AtomicBatch", testAtomicBatch},
		{"Refused", testRefused},
		{"Expiry", testExpiry},
		{"Consent", testConsent},
		{"Withdrawal", testWithdrawal},
		{"ConsentClock", testConsentClock},
		{"InStoreWithdrawal", testInStoreWithdrawal},
		{"Forget", testForget},
		{"Export", testExport},
		{"Counters", testCounters},
		{"BatchTooLarge", testBatchTooLarge},
		{"Concurrent", testConcurrent},
		{"Compact", testCompact},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

// fixture is a store with a fake clock at Epoch.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	clock *Clock
	db    *store.DB
}

func newFixture(t *testing.T, open Opener) *fixture {
	c := NewClock(Epoch)
	return &fixture{t: t, ctx: t.Context(), clock: c, db: open(t, c.Now)}
}

// consent grants personalization (and in-store if inStore) to p.
func (f *fixture) consent(p privacy.PseudoID, inStore bool) {
	f.t.Helper()
	ch := []consent.Change{Grant(privacy.Personalization, true, f.clock.Now())}
	if inStore {
		ch = append(ch, Grant(privacy.InStore, true, f.clock.Now()))
	}
	if _, err := f.db.UpdateConsent(f.ctx, p, ch, consent.Defaults{}); err != nil {
		f.t.Fatalf("UpdateConsent: %v", err)
	}
}

func (f *fixture) append(es ...store.Entry) {
	f.t.Helper()
	if err := f.db.AppendEvents(f.ctx, store.Batch{Events: es}); err != nil {
		f.t.Fatalf("AppendEvents(%d events) = %v", len(es), err)
	}
}

func (f *fixture) events(p privacy.PseudoID) []features.Event {
	f.t.Helper()
	es, err := f.db.CustomerEvents(f.ctx, p)
	if err != nil {
		f.t.Fatalf("CustomerEvents: %v", err)
	}
	return es
}

func (f *fixture) all() []features.Event {
	f.t.Helper()
	var out []features.Event
	for e, err := range f.db.Events(f.ctx) {
		if err != nil {
			f.t.Fatalf("Events: %v", err)
		}
		out = append(out, e)
	}
	return out
}

// entry returns an event of p, minutes after Epoch, expiring a year later.
func entry(p privacy.PseudoID, minutes int, kind privacy.EventKind, item string) store.Entry {
	e := features.Event{Customer: p, Kind: kind, Item: item, Time: Epoch.Add(time.Duration(minutes) * time.Minute), Quantity: 1}
	if kind == privacy.StoreVisit {
		e.Item, e.Store = "", item
	}
	return store.Entry{Event: e, ExpiresAt: e.Time.AddDate(1, 0, 0)}
}

func events(es ...store.Entry) []features.Event {
	out := make([]features.Event, len(es))
	for i, e := range es {
		out[i] = e.Event
	}
	return out
}

func testAppendAndRead(t *testing.T, open Opener) {
	f := newFixture(t, open)
	a, b := Pseudo(1), Pseudo(2)
	f.consent(a, true)
	f.consent(b, false)
	// Out of time order and interleaved on purpose.
	a2 := entry(a, 20, privacy.Purchase, "sku-2")
	a1 := entry(a, 10, privacy.View, "sku-1")
	a3 := entry(a, 30, privacy.StoreVisit, "store-9")
	b1 := entry(b, 5, privacy.AddToCart, "sku-1")
	a2.Quantity = 3
	f.append(a2, b1, a1, a3)

	if got, want := f.events(a), events(a1, a2, a3); !reflect.DeepEqual(got, want) {
		t.Errorf("CustomerEvents(a) = %v, want %v", got, want)
	}
	if got := f.events(Pseudo(99)); len(got) != 0 {
		t.Errorf("CustomerEvents(unknown) = %v, want none", got)
	}
	// Events: grouped by customer in pseudonym order, time order within.
	want := events(a1, a2, a3, b1)
	if bytes.Compare(b[:], a[:]) < 0 {
		want = events(b1, a1, a2, a3)
	}
	if got := f.all(); !reflect.DeepEqual(got, want) {
		t.Errorf("Events() = %v, want %v", got, want)
	}
	c, err := f.db.CountEvents(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantC := store.EventCounts{
		Events: 4, Customers: 2,
		ByKind: map[privacy.EventKind]int{privacy.View: 1, privacy.AddToCart: 1, privacy.Purchase: 1, privacy.StoreVisit: 1},
		Oldest: b1.Time, Newest: a3.Time,
	}
	if !reflect.DeepEqual(c, wantC) {
		t.Errorf("CountEvents() = %+v, want %+v", c, wantC)
	}
}

func testIdempotent(t *testing.T, open Opener) {
	f := newFixture(t, open)
	a := Pseudo(1)
	f.consent(a, false)
	e1, e2 := entry(a, 1, privacy.View, "x"), entry(a, 2, privacy.View, "x")
	f.append(e1, e2, e1) // a duplicate within a batch too
	e2.Quantity = 5
	f.append(e1, e2)                           // the same file imported again, one quantity corrected
	same := entry(a, 1, privacy.Purchase, "x") // same time and item, other kind: another event
	f.append(same)
	want := events(e1, same, e2) // at equal times, by kind
	if got := f.events(a); !reflect.DeepEqual(got, want) {
		t.Errorf("after re-append, CustomerEvents = %v, want %v", got, want)
	}
}

func testAtomicBatch(t *testing.T, open Opener) {
	f := newFixture(t, open)
	a := Pseudo(1)
	f.consent(a, false)
	counter := store.CounterKey{Name: "test.dropped", Day: store.DayOf(Epoch)}
	bad := []struct {
		name string
		mod  func(*store.Entry)
	}{
		{"zero customer", func(e *store.Entry) { e.Customer = privacy.PseudoID{} }},
		{"bad kind", func(e *store.Entry) { e.Kind = 9 }},
		{"zero time", func(e *store.Entry) { e.Time = time.Time{} }},
		{"year 10000", func(e *store.Entry) { e.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"zero quantity", func(e *store.Entry) { e.Quantity = 0 }},
		{"NUL in item", func(e *store.Entry) { e.Item = "a\x00b" }},
		{"long store", func(e *store.Entry) { e.Store = string(bytes.Repeat([]byte("s"), privacy.MaxIDLen+1)) }},
		{"expires now", func(e *store.Entry) { e.ExpiresAt = Epoch }},
		{"expired", func(e *store.Entry) { e.ExpiresAt = Epoch.Add(-time.Hour) }},
	}
	for _, tt := range bad {
		es := []store.Entry{entry(a, 1, privacy.View, "x"), entry(a, 2, privacy.View, "y"), entry(a, 3, privacy.View, "z")}
		tt.mod(&es[1])
		err := f.db.AppendEvents(f.ctx, store.Batch{Events: es, Counters: map[store.CounterKey]uint64{counter: 1}})
		if !errors.Is(err, store.ErrInvalidEvent) {
			t.Errorf("AppendEvents(%s) = %v, want ErrInvalidEvent", tt.name, err)
		}
	}
	if got := f.events(a); len(got) != 0 {
		t.Errorf("after failed batches, CustomerEvents = %v, want none", got)
	}
	if n, err := f.db.Counter(f.ctx, counter); err != nil || n != 0 {
		t.Errorf("after failed batches, Counter = %d, %v; want 0", n, err)
	}
}

func testRefused(t *testing.T, open Opener) {
	f := newFixture(t, open)
	a, b, c := Pseudo(1), Pseudo(2), Pseudo(3)
	f.consent(a, false) // personalization only
	f.consent(c, true)
	counter := store.CounterKey{Name: "test.stored", Day: store.DayOf(Epoch)}
	batch := store.Batch{
		Events: []store.Entry{
			entry(a, 1, privacy.View, "x"),
			entry(b, 1, privacy.View, "x"),         // no consent
			entry(a, 2, privacy.StoreVisit, "s-1"), // no in-store consent
			entry(c, 2, privacy.StoreVisit, "s-1"), // fine
			entry(b, 3, privacy.Purchase, "x"),     // no consent
		},
		Counters: map[store.CounterKey]uint64{counter: 5},
	}
	err := f.db.AppendEvents(f.ctx, batch)
	var re *store.RefusedError
	if !errors.As(err, &re) || !errors.Is(err, store.ErrNoConsent) {
		t.Fatalf("AppendEvents = %v, want a *RefusedError matching ErrNoConsent", err)
	}
	if want := []int{1, 2, 4}; !slices.Equal(re.Indices, want) {
		t.Errorf("RefusedError.Indices = %v, want %v", re.Indices, want)
	}
	if got := f.all(); len(got) != 0 {
		t.Errorf("after a refused batch, Events = %v, want none", got)
	}
	// Opt-out defaults allow customers without a record.
	batch.Defaults = consent.Defaults{Personalization: true, InStore: true}
	if err := f.db.AppendEvents(f.ctx, batch); err != nil {
		t.Fatalf("AppendEvents(opt-out defaults) = %v", err)
	}
	if got := len(f.all()); got != 5 {
		t.Errorf("after the batch with opt-out defaults, %d events, want 5", got)
	}
}

func testExpiry(t *testing.T, open Opener) {
	f := newFixture(t, open)
	a := Pseudo(1)
	f.consent(a, false)
	short := entry(a, 1, privacy.View, "short")
	short.ExpiresAt = Epoch.Add(time.Hour + 500*time.Millisecond) // truncated to Epoch+1h
	long := entry(a, 2, privacy.View, "long")
	long.ExpiresAt = Epoch.Add(2 * time.Hour)
	f.append(short, long)
	for _, tt := range []struct {
		at   time.Duration
		want []features.Event
	}{
		{0, events(short, long)},
		{time.Hour - time.Nanosecond, events(short, long)},
		{time.Hour, events(long)},
		{2*time.Hour - time.Nanosecond, events(long)},
		{2 * time.Hour, nil},
	} {
		f.clock.Set(Epoch.Add(tt.at))
		if got := f.events(a); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("at Epoch+%v, CustomerEvents = %v, want %v", tt.at, got, tt.want)
		}
		if got := f.all(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("at Epoch+%v, Events = %v, want %v", tt.at, got, tt.want)
		}
		c, err := f.db.CountEvents(f.ctx)
		if err != nil || c.Events != len(tt.want) {
			t.Errorf("at Epoch+%v, CountEvents().Events = %d, %v; want %d", tt.at, c.Events, err, len(tt.want))
		}
	}
	// Appending what is already expired by the clock is refused.
	err := f.db.AppendEvents(f.ctx, store.Batch{Events: []store.Entry{long}})
	if !errors.Is(err, store.ErrInvalidEvent) {
		t.Errorf("AppendEvents(expired at Now) = %v, want ErrInvalidEvent", err)
	}
}

func testConsent(t *testing.T, open Opener) {
	f := newFixture(t, open)
	a, b := Pseudo(1), Pseudo(2)
	if r, err := f.db.Consent(f.ctx, a); err != nil || len(r.Changes) != 0 {
		t.Errorf("Consent(unknown) = %v, %v; want zero record", r, err)
	}
	ch := []consent.Change{
		Grant(privacy.Personalization, true, Epoch.Add(-time.Minute+123456789*time.Nanosecond)),
		Grant(privacy.InStore, false, Epoch.Add(-time.Minute+time.Second)),
	}
	res, err := f.db.UpdateConsent(f.ctx, a, ch, consent.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Withdrawn) != 0 || res.Removed.Total() != 0 || !reflect.DeepEqual(res.Record.Changes, ch) {
		t.Errorf("UpdateConsent = %+v, want the record %v and no withdrawal", res, ch)
	}
	r, err := f.db.Consent(f.ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Changes) != 2 || !r.Changes[0].Time.Equal(ch[0].Time) || r.Changes[1] != (consent.Change{Purpose: privacy.InStore, Time: ch[1].Time, Source: "test"}) {
		t.Errorf("Consent(a) = %v, want %v", r, ch)
	}
	rs, err := f.db.Consents(f.ctx, []privacy.PseudoID{b, a, b})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 || len(rs[0].Changes) != 0 || len(rs[1].Changes) != 2 || len(rs[2].Changes) != 0 {
		t.Errorf("Consents(b, a, b) = %v, want (zero, a's record, zero)", rs)
	}
	bad := []consent.Change{{Purpose: privacy.Personalization, Granted: true, Time: Epoch, Source: "free text!"}}
	if _, err := f.db.UpdateConsent(f.ctx, b, bad, consent.Defaults{}); !errors.Is(err, consent.ErrBadSource) {
		t.Errorf("UpdateConsent(bad source) = %v, want consent.ErrBadSource", err)
	}
}

// testConsentClock: a consent change is dated when it is recorded at the
// latest, so a grant dated ahead of the store's clock cannot outrank a
// withdrawal recorded after it; one dated beyond privacy.MaxClockSkew is
// refused, in UpdateConsent and UpdateConsents alike, and nothing changes.
func testConsentClock(t *testing.T, open Opener) {
	f := newFixture(t, open)
	a, b := Pseudo(1), Pseudo(2)
	ahead := Grant(privacy.Personalization, true, Epoch.Add(4*time.Minute))
	if _, err := f.db.UpdateConsent(f.ctx, a, []consent.Change{ahead}, consent.Defaults{}); err != nil {
		t.Fatal(err)
	}
	f.append(entry(a, 0, privacy.View, "x"))
	f.clock.Set(Epoch.Add(time.Second))
	res, err := f.db.UpdateConsent(f.ctx, a, []consent.Change{Grant(privacy.Personalization, false, f.clock.Now())}, consent.Defaults{})
	if err != nil || len(res.Withdrawn) != 1 || res.Removed.Total() != 1 || (consent.Defaults{}).Allows(res.Record, privacy.Personalization) {
		t.Errorf("withdrawal after a grant dated 4 minutes ahead = %+v, %v; want personalization withdrawn and 1 event erased", res, err)
	}
	far := Grant(privacy.Personalization, true, f.clock.Now().Add(privacy.MaxClockSkew+time.Second))
	if _, err := f.db.UpdateConsent(f.ctx, b, []consent.Change{far}, consent.Defaults{}); !errors.Is(err, consent.ErrFuture) {
		t.Errorf("UpdateConsent(beyond the skew) = %v, want consent.ErrFuture", err)
	}
	ups := []store.ConsentUpdate{{Customer: b, Changes: []consent.Change{Grant(privacy.InStore, true, f.clock.Now())}}, {Customer: a, Changes: []consent.Change{far}}}
	if _, _, err := f.db.UpdateConsents(f.ctx, ups, consent.Defaults{}); !errors.Is(err, consent.ErrFuture) {
		t.Errorf("UpdateConsents(beyond the skew) = %v, want consent.ErrFuture", err)
	}
	if r, err := f.db.Consent(f.ctx, b); err != nil || len(r.Changes) != 0 {
		t.Errorf("after refused updates, Consent(b) = %v, %v; want no change", r, err)
	}
}

func testWithdrawal(t *testing.T, open Opener) {
	f := newFixture(t, open)
	a, b := Pseudo(1), Pseudo(2)
	f.consent(a, true)
	f.consent(b, true)
	f.append(entry(a, 1, privacy.View, "x"), entry(a, 2, privacy.StoreVisit, "s"), entry(b, 1, privacy.View, "x"))
	at := Epoch.Add(time.Minute)
	res, err := f.db.UpdateConsent(f.ctx, a, []consent.Change{Grant(privacy.Personalization, false, at)}, consent.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []privacy.Purpose{privacy.Personalization}; !slices.Equal(res.Withdrawn, want) {
		t.Errorf("UpdateConsent(withdraw).Withdrawn = %v, want %v", res.Withdrawn, want)
	}
	if want := (store.Removed{store.TableEvents: 2}); !reflect.DeepEqual(res.Removed, want) {
		t.Errorf("UpdateConsent(withdraw).Removed = %v, want %v", res.Removed, want)
	}
	if got := f.events(a); len(got) != 0 {
		t.Errorf("after withdrawal, CustomerEvents(a) = %v, want none", got)
	}
	if got := f.events(b); len(got) != 1 {
		t.Errorf("after a's withdrawal, CustomerEvents(b) = %v, want b's event", got)
	}
	r, err := f.db.Consent(f.ctx, a)
	if err != nil || len(r.Changes) != 3 || (consent.Defaults{}).Allows(r, privacy.Personalization) {
		t.Errorf("after withdrawal, Consent(a) = %v, %v; want 3 changes, personalization withdrawn", r, err)
	}
	// Events of a are refused from now on.
	err = f.db.AppendEvents(f.ctx, store.Batch{Events: []store.Entry{entry(a, 3, privacy.View, "y")}})
	if !errors.Is(err, store.ErrNoConsent) {
		t.Errorf("AppendEvents after withdrawal = %v, want ErrNoConsent", err)
	}
	// Withdrawing again withdraws nothing.
	res, err = f.db.UpdateConsent(f.ctx, a, []consent.Change{Grant(privacy.Personalization, false, at)}, consent.Defaults{})
	if err != nil || len(res.Withdrawn) != 0 || res.Removed.Total() != 0 {
		t.Errorf("second withdrawal = %+v, %v; want nothing withdrawn or removed", res, err)
	}
}

func testInStoreWithdrawal(t *testing.T, open Opener) {
	f := newFixture(t, open)
	a := Pseudo(1)
	f.consent(a, true)
	v, s := entry(a, 1, privacy.View, "x"), entry(a, 2, privacy.StoreVisit, "s")
	f.append(v, s)
	res, err := f.db.UpdateConsent(f.ctx, a, []consent.Change{Grant(privacy.InStore, false, Epoch.Add(time.Minute))}, consent.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []privacy.Purpose{privacy.InStore}; !slices.Equal(res.Withdrawn, want) {
		t.Errorf("Withdrawn = %v, want %v", res.Withdrawn, want)
	}
	if want := (store.Removed{store.TableEvents: 1}); !reflect.DeepEqual(res.Removed, want) {
		t.Errorf("Removed = %v, want %v", res.Removed, want)
	}
	if got, want := f.events(a), events(v); !reflect.DeepEqual(got, want) {
		t.Errorf("after in-store withdrawal, CustomerEvents = %v, want %v", got, want)
	}
}

func testForget(t *testing.T, open Opener) {
	f := newFixture(t, open)
	a, b := Pseudo(1), Pseudo(2)
	f.consent(a, true)
	f.consent(b, true)
	f.append(entry(a, 1, privacy.View, "x"), entry(a, 2, privacy.Purchase, "x"), entry(a, 3, privacy.StoreVisit, "s"), entry(b, 1, privacy.View, "x"))
	removed, err := f.db.Forget(f.ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.Removed{store.TableConsent: 1, store.TableEvents: 3}); !reflect.DeepEqual(removed, want) {
		t.Errorf("Forget(a) = %v, want %v", removed, want)
	}
	if r, err := f.db.Consent(f.ctx, a); err != nil || len(r.Changes) != 0 {
		t.Errorf("after Forget, Consent(a) = %v, %v; want zero record", r, err)
	}
	if got := f.events(a); len(got) != 0 {
		t.Errorf("after Forget, CustomerEvents(a) = %v, want none", got)
	}
	d, err := f.db.Export(f.ctx, a)
	if err != nil || len(d.Consent) != 0 || len(d.Events) != 0 {
		t.Errorf("after Forget, Export(a) = %+v, %v; want empty", d, err)
	}
	if got := f.all(); len(got) != 1 || got[0].Customer != b {
		t.Errorf("after Forget(a), Events = %v, want b's event only", got)
	}
	removed, err = f.db.Forget(f.ctx, a)
	if err != nil || removed.Total() != 0 {
		t.Errorf("second Forget(a) = %v, %v; want nothing removed", removed, err)
	}
}

func testExport(t *testing.T, open Opener) {
	f := newFixture(t, open)
	a := Pseudo(1)
	f.consent(a, true)
	e1, e2 := entry(a, 1, privacy.Purchase, "sku-1"), entry(a, 2, privacy.StoreVisit, "store-1")
	e1.Quantity = 2
	f.append(e1, e2)
	push := store.Push{Time: Epoch.Add(3 * time.Minute), Store: "store-1", Coupon: "coupon-1", ExpiresAt: Epoch.Add(7 * 24 * time.Hour)}
	if err := f.db.AddPushes(f.ctx, a, []store.Push{push}, consent.Defaults{}); err != nil {
		t.Fatal(err)
	}
	d, err := f.db.Export(f.ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	want := store.CustomerData{
		Customer: a.String(),
		Consent: []store.ConsentChange{
			{Purpose: "personalization", Granted: true, Time: Epoch, Source: "test"},
			{Purpose: "in_store", Granted: true, Time: Epoch, Source: "test"},
		},
		Events: []store.EventData{
			{Type: "purchase", Item: "sku-1", Time: e1.Time, Quantity: 2, ExpiresAt: e1.ExpiresAt},
			{Type: "store_visit", Store: "store-1", Time: e2.Time, Quantity: 1, ExpiresAt: e2.ExpiresAt},
		},
		Pushes: []store.PushData{{Coupon: "coupon-1", Store: "store-1", Time: push.Time, ExpiresAt: push.ExpiresAt}},
		Audit:  []store.AuditData{},
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("Export = %+v, want %+v", d, want)
	}
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back store.CustomerData
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, d) {
		t.Errorf("Export JSON round trip = %+v, want %+v", back, d)
	}
	if !bytes.Contains(raw, []byte(`"type":"store_visit"`)) || !bytes.Contains(raw, []byte(`"purpose":"in_store"`)) {
		t.Errorf("Export JSON = %s, want wire names for types and purposes", raw)
	}
}

func testCounters(t *testing.T, open Opener) {
	f := newFixture(t, open)
	a := Pseudo(1)
	f.consent(a, false)
	d1, d2 := store.DayOf(Epoch), store.DayOf(Epoch)+1
	k1 := store.CounterKey{Name: "ingest.dropped.no_consent", Day: d1}
	k2 := store.CounterKey{Name: "ingest.dropped.no_consent", Day: d2}
	k3 := store.CounterKey{Name: "ingest.rows", Day: d1}
	err := f.db.AppendEvents(f.ctx, store.Batch{Events: []store.Entry{entry(a, 1, privacy.View, "x")}, Counters: map[store.CounterKey]uint64{k1: 3, k3: 10}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.AddCounters(f.ctx, map[store.CounterKey]uint64{k1: 2, k2: 7}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		k    store.CounterKey
		want uint64
	}{{k1, 5}, {k2, 7}, {k3, 10}, {store.CounterKey{Name: "never", Day: d1}, 0}} {
		if got, err := f.db.Counter(f.ctx, tt.k); err != nil || got != tt.want {
			t.Errorf("Counter(%v) = %d, %v; want %d", tt.k, got, err, tt.want)
		}
	}
	got, err := f.db.Counters(f.ctx, "ingest.dropped")
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Counter{{CounterKey: k1, Value: 5}, {CounterKey: k2, Value: 7}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Counters(ingest.dropped) = %v, want %v", got, want)
	}
	if all, err := f.db.Counters(f.ctx, ""); err != nil || len(all) != 3 {
		t.Errorf("Counters(\"\") = %v, %v; want 3 counters", all, err)
	}
	for _, name := range []string{"", "Upper", "has space", "customer@example.com", string(bytes.Repeat([]byte("a"), 65))} {
		if err := f.db.AddCounters(f.ctx, map[store.CounterKey]uint64{{Name: name, Day: d1}: 1}); !errors.Is(err, store.ErrCounterName) {
			t.Errorf("AddCounters(name %q) = %v, want ErrCounterName", name, err)
		}
	}
}

func testBatchTooLarge(t *testing.T, open Opener) {
	f := newFixture(t, open)
	es := make([]store.Entry, store.MaxBatchEvents+1)
	err := f.db.AppendEvents(f.ctx, store.Batch{Events: es})
	if !errors.Is(err, store.ErrBatchTooLarge) {
		t.Errorf("AppendEvents(MaxBatchEvents+1) = %v, want ErrBatchTooLarge", err)
	}
}

func testConcurrent(t *testing.T, open Opener) {
	f := newFixture(t, open)
	const workers, batches, per = 4, 5, 50
	for w := range workers {
		f.consent(Pseudo(w), false)
	}
	k := store.CounterKey{Name: "test.rows", Day: store.DayOf(Epoch)}
	var wg sync.WaitGroup
	errs := make(chan error, workers*batches)
	for w := range workers {
		wg.Go(func() {
			for b := range batches {
				es := make([]store.Entry, per)
				for i := range es {
					es[i] = entry(Pseudo(w), b*per+i, privacy.View, "x")
				}
				errs <- f.db.AppendEvents(f.ctx, store.Batch{Events: es, Counters: map[store.CounterKey]uint64{k: per}})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent AppendEvents: %v", err)
		}
	}
	if n, err := f.db.Counter(f.ctx, k); err != nil || n != workers*batches*per {
		t.Errorf("Counter after concurrent appends = %d, %v; want %d", n, err, workers*batches*per)
	}
	if c, err := f.db.CountEvents(f.ctx); err != nil || c.Events != workers*batches*per || c.Customers != workers {
		t.Errorf("CountEvents after concurrent appends = %+v, %v; want %d events of %d customers", c, err, workers*batches*per, workers)
	}
}

func testCompact(t *testing.T, open Opener) {
	f := newFixture(t, open)
	a, b := Pseudo(1), Pseudo(2)
	f.consent(a, false)
	f.consent(b, false)
	f.append(entry(a, 1, privacy.View, "x"), entry(b, 1, privacy.View, "x"))
	if _, err := f.db.Forget(f.ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := f.db.Compact(f.ctx); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	if got := f.all(); len(got) != 1 || got[0].Customer != b {
		t.Errorf("after Compact, Events = %v, want b's event only", got)
	}
	f.append(entry(b, 2, privacy.View, "y")) // writes work after the flush
	if got := f.events(b); len(got) != 2 {
		t.Errorf("after Compact and an append, CustomerEvents(b) = %v, want 2 events", got)
	}
}
