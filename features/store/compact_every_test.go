package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
	"github.com/discret-io/discret/privacy/retention"
)

// TestCompactOnTicks: the scheduled compaction of a running server takes an
// erased customer's bytes off the disk at its next tick, with the store
// open throughout, and not before.
func TestCompactOnTicks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := Options{Dir: dir, Unencrypted: true, Now: func() time.Time { return testNow }}
	o.memTableSize = 1 << 20
	db := mustOpen(t, o)
	ctx := t.Context()

	erased, kept := pseudoOf("ERASED-BY-TICK-1"), pseudoOf("KEPT-ACROSS-TICK")
	for _, p := range []privacy.PseudoID{erased, kept} {
		ch := []consent.Change{{Purpose: privacy.Personalization, Granted: true, Time: testNow, Source: "t"}}
		if _, err := db.UpdateConsent(ctx, p, ch, consent.Defaults{}); err != nil {
			t.Fatal(err)
		}
		var es []Entry
		for i := range 50 {
			es = append(es, Entry{
				Event:     features.Event{Customer: p, Kind: privacy.Purchase, Item: fmt.Sprintf("sku-%d", i), Time: testNow.Add(time.Duration(i) * time.Second), Quantity: 1},
				ExpiresAt: testNow.AddDate(1, 0, 0),
			})
		}
		if err := db.AppendEvents(ctx, Batch{Events: es}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Forget(ctx, erased); err != nil {
		t.Fatal(err)
	}
	if !found(t, dir, erased[:]) {
		t.Fatal("after Forget and before any compaction, the erased pseudonym is not in the files: the test cannot see a compaction")
	}

	if last, err := db.LastCompaction(ctx); err != nil || !last.IsZero() {
		t.Fatalf("LastCompaction before any = %v, %v; want zero", last, err)
	}
	waits := compactOnce(ctx, db)
	if len(waits) < 2 || waits[0] != 0 || waits[1] != time.Hour {
		t.Errorf("the loop waited %v, want 0 (first) then 1h (the interval)", waits)
	}
	if last, err := db.LastCompaction(ctx); err != nil || !last.Equal(testNow) {
		t.Errorf("LastCompaction after a compaction = %v, %v; want %v", last, err, testNow)
	}

	if found(t, dir, erased[:]) {
		t.Error("after a scheduled compaction, the erased pseudonym is still in the files")
	}
	if !found(t, dir, kept[:]) {
		t.Error("after a scheduled compaction, a kept customer's pseudonym is gone: the scan is broken")
	}
	// The store is still open and serving.
	if evs, err := db.CustomerEvents(ctx, kept); err != nil || len(evs) != 50 {
		t.Errorf("CustomerEvents(kept) after the compaction = %d events, %v; want 50", len(evs), err)
	}
}

// TestCompactAfterSweep: the scheduled compaction of a server that starts
// with a shortened retention period comes after the deletion of the
// events the period no longer keeps, so that their bytes leave the disk
// with it, even when it starts before RunGC's sweep (the server starts
// both at once); the deletion then runs once: RunGC's sweep at its start
// has nothing left to do.
func TestCompactAfterSweep(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	var logs bytes.Buffer // written by the loop, read once it has stopped
	opts := func(p *retention.Policy) Options {
		o := Options{Dir: dir, Unencrypted: true, Now: func() time.Time { return testNow }, Retention: p}
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		return o
	}
	db := mustOpen(t, opts(nil))
	p := pseudoOf("SWEPT-THEN-COMPA")
	grant(t, db, p)
	old := testNow.AddDate(0, -12, 0) // kept 13 months by default, not 6
	var def retention.Policy
	var es []Entry
	for i := range 200 {
		e := features.Event{Customer: p, Kind: privacy.View, Item: fmt.Sprintf("OLD-VIEW-%03d", i), Time: old.Add(time.Duration(i) * time.Second), Quantity: 1}
		es = append(es, Entry{Event: e, ExpiresAt: def.ExpiresAt(e.Kind, e.Time)})
	}
	if err := db.AppendEvents(ctx, Batch{Events: es}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = mustOpen(t, opts(&retention.Policy{View: retention.Period{Months: 6}}))
	defer db.Close()
	if !found(t, dir, []byte("OLD-VIEW-")) {
		t.Fatal("before any compaction, the old views are not in the files: the test cannot see a compaction")
	}

	compactOnce(ctx, db)
	db.sweep(ctx) // as RunGC starts

	out := logs.String()
	swept, compacted := strings.Index(out, "deleted events past the retention period in force"), strings.Index(out, "store: compacted")
	if swept < 0 || compacted < 0 || swept > compacted {
		t.Errorf("log:\n%s\nwant the deletion of events past the retention period, then the compaction", out)
	}
	if n := strings.Count(out, "deleted events past the retention period in force"); n != 1 {
		t.Errorf("log:\n%s\nwant the deletion once, got %d times", out, n)
	}
	if found(t, dir, []byte("OLD-VIEW-")) {
		t.Error("after the first scheduled compaction, views past the shortened retention period are still in the files")
	}
}

func TestCompactEveryRefusesNonPositive(t *testing.T) {
	db := mustOpen(t, Options{InMemory: true, Unencrypted: true})
	for _, d := range []time.Duration{0, -time.Second} {
		if err := db.CompactEvery(t.Context(), d); err == nil {
			t.Errorf("CompactEvery(%v) = nil, want an error", d)
		}
	}
}

// TestCompactEveryUnreadableLast: a last compaction time that cannot be
// read (the raw 8 bytes an earlier build wrote) does not switch the
// schedule off: it compacts at once and records the time anew.
func TestCompactEveryUnreadableLast(t *testing.T) {
	db := mustOpen(t, Options{Dir: t.TempDir(), Unencrypted: true, Now: func() time.Time { return testNow }})
	if err := db.bdb.Update(func(txn *badger.Txn) error {
		return txn.Set(compactedKey, binary.BigEndian.AppendUint64(nil, uint64(testNow.Unix())))
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.LastCompaction(t.Context()); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("LastCompaction of the old form = %v, want ErrCorrupt", err)
	}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- db.CompactEvery(ctx, time.Hour) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if last, err := db.LastCompaction(t.Context()); err == nil && !last.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("no compaction recorded after an unreadable last time; CompactEvery = %v", <-done)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("CompactEvery = %v, want nil once stopped", err)
	}
}

// compactOnce runs the compaction schedule (first run at once, interval
// 1h) until its first run has finished, and returns what it waited for.
func compactOnce(ctx context.Context, db *DB) []time.Duration {
	ticks := make(chan time.Time) // unbuffered: a send returns once the loop waits again
	var waits []time.Duration
	after := func(d time.Duration) <-chan time.Time { waits = append(waits, d); return ticks }
	loopCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); db.compactOnTimer(loopCtx, 0, time.Hour, after) }()
	ticks <- testNow
	ticks <- testNow // taken once the first compaction has finished
	stop()
	<-done
	return waits
}

// TestFirstCompaction: the first scheduled compaction comes an interval
// after the last one recorded, at once when that is past or there was
// none, so that a server restarted more often than the interval still
// compacts.
func TestFirstCompaction(t *testing.T) {
	now := testNow
	for _, tt := range []struct {
		last time.Time
		want time.Duration
	}{
		{time.Time{}, 0},
		{now.Add(-time.Hour), 23 * time.Hour},
		{now.Add(-24 * time.Hour), 0},
		{now.Add(-72 * time.Hour), 0},
		{now.Add(time.Hour), 24 * time.Hour}, // a clock set back: one interval, not until last comes round
		{now.Add(48 * time.Hour), 24 * time.Hour},
	} {
		if got := firstRun(tt.last, now, 24*time.Hour); got != tt.want {
			t.Errorf("firstRun(last %v, now %v, 24h) = %v, want %v", tt.last, now, got, tt.want)
		}
	}
}

// TestOnTimerFixedRate: runs start every interval from the start of the
// run before, whatever they last, and at once after a run longer than
// the interval.
func TestOnTimerFixedRate(t *testing.T) {
	clock := testNow
	now := func() time.Time { return clock }
	ticks := make(chan time.Time, 1)
	var waits []time.Duration
	ctx, stop := context.WithCancel(t.Context())
	after := func(d time.Duration) <-chan time.Time {
		waits = append(waits, d)
		if ctx.Err() != nil {
			return nil // never fires: the loop ends on ctx
		}
		ticks <- clock
		return ticks
	}
	runs := []time.Duration{10 * time.Minute, 2 * time.Hour, 0}
	n := 0
	onTimer(ctx, 5*time.Minute, time.Hour, now, after, func() {
		clock = clock.Add(runs[n])
		if n++; n == len(runs) {
			stop()
		}
	})
	if want := []time.Duration{5 * time.Minute, 50 * time.Minute, 0, time.Hour}; !slices.Equal(waits, want) {
		t.Errorf("onTimer waited %v, want %v", waits, want)
	}
}
