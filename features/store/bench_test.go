package store

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

// benchStore opens an encrypted store on disk with default tuning and the
// given consenting customers (records written directly, in big
// transactions).
func benchStore(b *testing.B, customers int) *DB {
	b.Helper()
	db := mustOpenB(b, Options{Dir: b.TempDir(), EncryptionKey: testKey, KeyCheck: testCheck, Now: func() time.Time { return testNow }})
	rec := encodeConsent(consent.Record{Changes: []consent.Change{
		{Purpose: privacy.Personalization, Granted: true, Time: testNow, Source: "web-form"},
		{Purpose: privacy.InStore, Granted: true, Time: testNow, Source: "web-form"},
	}})
	wb := db.bdb.NewWriteBatch()
	for c := range customers {
		if err := wb.Set(consentKey(benchPseudo(c)), rec); err != nil {
			b.Fatal(err)
		}
	}
	if err := wb.Flush(); err != nil {
		b.Fatal(err)
	}
	return db
}

func mustOpenB(b *testing.B, o Options) *DB {
	db, err := Open(o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

func benchPseudo(c int) privacy.PseudoID {
	var p privacy.PseudoID
	// Spread like HMAC output, deterministic.
	r := rand.New(rand.NewPCG(uint64(c), 7))
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

// benchEvents returns n events of random customers among customers, at
// increasing times from start (seeded).
func benchEvents(seed uint64, n, customers int, start time.Time) []Entry {
	r := rand.New(rand.NewPCG(seed, 1))
	es := make([]Entry, n)
	for i := range es {
		e := features.Event{
			Customer: benchPseudo(r.IntN(customers)),
			Kind:     privacy.EventKinds[r.IntN(3)],
			Item:     fmt.Sprintf("sku-%06d", r.IntN(20000)),
			Time:     start.Add(time.Duration(i) * time.Millisecond),
			Quantity: 1,
		}
		es[i] = Entry{Event: e, ExpiresAt: e.Time.AddDate(1, 1, 0)}
	}
	return es
}

// BenchmarkAppendEvents measures durable, encrypted appends on disk, with
// the in-transaction consent check, into a store of 50,000 customers.
func BenchmarkAppendEvents(b *testing.B) {
	for _, size := range []int{1000, MaxBatchEvents} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			const customers = 50000
			db := benchStore(b, customers)
			// Pre-build batches outside the timer.
			batches := make([][]Entry, 64)
			for i := range batches {
				batches[i] = benchEvents(uint64(i), size, customers, testNow.Add(time.Duration(i)*time.Hour))
			}
			b.ReportAllocs()
			b.ResetTimer()
			n := 0
			for b.Loop() {
				if err := db.AppendEvents(b.Context(), Batch{Events: batches[n%len(batches)]}); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(n*size)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// seeded opens an encrypted store on disk holding perCustomer events for
// each of customers, flushed and compacted as after a long run.
func seeded(b *testing.B, customers, perCustomer int) *DB {
	b.Helper()
	db := benchStore(b, customers)
	total := customers * perCustomer
	for start := 0; start < total; start += MaxBatchEvents {
		es := make([]Entry, 0, MaxBatchEvents)
		for i := start; i < min(total, start+MaxBatchEvents); i++ {
			c := i % customers
			e := features.Event{
				Customer: benchPseudo(c), Kind: privacy.View, Item: fmt.Sprintf("sku-%06d", (i*7919)%20000),
				Time: testNow.Add(time.Duration(i) * time.Millisecond), Quantity: 1,
			}
			es = append(es, Entry{Event: e, ExpiresAt: e.Time.AddDate(1, 1, 0)})
		}
		if err := db.AppendEvents(b.Context(), Batch{Events: es}); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Compact(b.Context()); err != nil {
		b.Fatal(err)
	}
	return db
}

// BenchmarkEvents measures the training scan over 1M events.
func BenchmarkEvents(b *testing.B) {
	const customers, per = 20000, 50
	db := seeded(b, customers, per)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		n := 0
		for _, err := range db.Events(b.Context()) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != customers*per {
			b.Fatalf("Events yielded %d, want %d", n, customers*per)
		}
	}
	b.ReportMetric(float64(b.N*customers*per)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkCustomerEvents measures the serving path: the 50 events of one
// customer among 1M.
func BenchmarkCustomerEvents(b *testing.B) {
	const customers, per = 20000, 50
	db := seeded(b, customers, per)
	r := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		es, err := db.CustomerEvents(b.Context(), benchPseudo(r.IntN(customers)))
		if err != nil || len(es) != per {
			b.Fatalf("CustomerEvents = %d events, %v; want %d", len(es), err, per)
		}
	}
}

// BenchmarkConsents measures the batch consent lookup of ingest.
func BenchmarkConsents(b *testing.B) {
	const customers = 50000
	db := benchStore(b, customers)
	ps := make([]privacy.PseudoID, 1000)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range ps {
		ps[i] = benchPseudo(r.IntN(customers))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := db.Consents(b.Context(), ps); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(ps))/b.Elapsed().Seconds(), "lookups/s")
}

// BenchmarkAppendEventsParallel measures appends from two concurrent
// callers, as a pipelined ingest would make them.
func BenchmarkAppendEventsParallel(b *testing.B) {
	const customers, size = 50000, MaxBatchEvents
	db := benchStore(b, customers)
	batches := make([][]Entry, 64)
	for i := range batches {
		batches[i] = benchEvents(uint64(i), size, customers, testNow.Add(time.Duration(i)*time.Hour))
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := next.Add(1)
			if err := db.AppendEvents(b.Context(), Batch{Events: batches[n%int64(len(batches))]}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(next.Load()*size)/b.Elapsed().Seconds(), "events/s")
}
