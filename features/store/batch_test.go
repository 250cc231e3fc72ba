package store

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

// TestMaxBatchFits appends the largest batch the limits allow, with every
// identifier and counter name at its maximal length, to a store with the
// smallest memtables Validate accepts: it must fit in one transaction.
func TestMaxBatchFits(t *testing.T) {
	t.Parallel()
	db := mustOpen(t, Options{InMemory: true, EncryptionKey: testKey, MemTableSize: MinMemTableSize, Now: func() time.Time { return testNow }})
	defer db.Close()
	id := func(prefix string, i int) string {
		s := fmt.Sprintf("%s-%d-", prefix, i)
		return s + strings.Repeat("x", privacy.MaxIDLen-len(s))
	}
	b := Batch{Counters: make(map[CounterKey]uint64), Defaults: consent.Defaults{Personalization: true}}
	for i := range MaxBatchEvents {
		b.Events = append(b.Events, Entry{
			Event:     features.Event{Customer: privacy.PseudoID{byte(i), byte(i >> 8), 1}, Kind: privacy.Purchase, Item: id("item", i), Store: id("store", i), Time: testNow, Quantity: features.MaxQuantity},
			ExpiresAt: testNow.AddDate(3, 0, 0),
		})
	}
	for i := range MaxBatchCounters {
		name := fmt.Sprintf("counter.%d.", i)
		b.Counters[CounterKey{Name: name + strings.Repeat("n", maxCounterNameLen-len(name)), Day: Day(i)}] = 1
	}
	if k, _ := appendEventKey(nil, &b.Events[0].Event); len(k) != maxEventKeyLen {
		t.Fatalf("event key of %d bytes, want the maximum %d", len(k), maxEventKeyLen)
	}
	if err := db.AppendEvents(t.Context(), b); err != nil {
		t.Fatalf("AppendEvents(maximal batch) = %v", err)
	}
	c, err := db.CountEvents(t.Context())
	if err != nil || c.Events != MaxBatchEvents {
		t.Errorf("CountEvents = %+v, %v; want %d events", c, err, MaxBatchEvents)
	}
}
