package train

import (
	"testing"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/store/storetest"
	"github.com/discret-io/discret/model/budget"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
	"github.com/discret-io/discret/privacy/retention"
)

// TestShortenedRetention: a retention period shortened after events were
// stored applies to training at once. A view stored under the default
// 13 months and now older than a 7-day view retention is left out,
// although its stored expiry is later and the data window (3 years, for
// purchases) covers it.
func TestShortenedRetention(t *testing.T) {
	now := storetest.Epoch
	db := storetest.OpenMemory(t, func() time.Time { return now })
	opt := consent.Defaults{Personalization: true}
	p := storetest.Pseudo(1)
	at := now.AddDate(0, 0, -10)
	var entries []store.Entry
	for _, k := range []privacy.EventKind{privacy.View, privacy.Purchase} {
		entries = append(entries, store.Entry{Event: features.Event{Customer: p, Kind: k, Item: "apple", Time: at, Quantity: 1}, ExpiresAt: now.AddDate(1, 0, 0)})
	}
	if err := db.AppendEvents(t.Context(), store.Batch{Events: entries, Defaults: opt}); err != nil {
		t.Fatal(err)
	}
	r := &run{now: now, cfg: resolved{Config: Config{Retention: retention.Policy{View: retention.Period{Days: 7}}}}}
	w := budget.Window{From: r.windowStart(), To: now}
	if !w.Contains(at) {
		t.Fatalf("window %v does not cover the events: the test checks nothing", w)
	}
	s, err := collect(t.Context(), db, opt, w, r.retention())
	if err != nil {
		t.Fatal(err)
	}
	if s.outsideWindow != 1 {
		t.Errorf("collect kept the view older than its 7-day retention: %d events left out, want 1", s.outsideWindow)
	}
	if s, err = collect(t.Context(), db, opt, w, nil); err != nil || s.outsideWindow != 0 {
		t.Errorf("collect without a retention check left out %d events, %v; want 0", s.outsideWindow, err)
	}
}
