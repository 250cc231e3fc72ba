package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
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

	ticks := make(chan time.Time) // unbuffered: a send returns once the loop has taken it
	loopCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); db.compactOnTicks(loopCtx, ticks) }()
	ticks <- testNow
	ticks <- testNow // taken once the first compaction has finished
	stop()
	<-done

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

func TestCompactEveryRefusesNonPositive(t *testing.T) {
	db := mustOpen(t, Options{InMemory: true, Unencrypted: true})
	for _, d := range []time.Duration{0, -time.Second} {
		if err := db.CompactEvery(t.Context(), d); err == nil {
			t.Errorf("CompactEvery(%v) = nil, want an error", d)
		}
	}
}
