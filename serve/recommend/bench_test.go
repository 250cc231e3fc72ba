package recommend

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/bits-and-blooms/bloom/v3"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/privacy"
)

// Benchmark sizes: MovieLens 1M's catalogue (3,706 items) and a 100,000-item
// catalogue, with 64 factors.
var benchSizes = []struct{ items, factors int }{{3706, 64}, {100_000, 64}}

// benchHistory is the number of purchases of the benchmark customer.
const benchHistory = 50

// benchEngine returns an engine serving a random release of n items × d
// factors, every item in the catalogue and active in two of eight stores,
// and a consenting customer with benchHistory purchases.
func benchEngine(b *testing.B, n, d int, edit func(*Config)) (*fixture, Request) {
	b.Helper()
	f := newFixture(b, edit)
	ctx := context.Background()
	r := randomRelease("bench", n, d, 7)
	items := make([]features.Item, n)
	for j, id := range r.Items {
		items[j] = features.Item{ID: id, Category: fmt.Sprintf("c%02d", j%24), Stores: []string{fmt.Sprintf("s%d", j%8), fmt.Sprintf("s%d", (j+3)%8)}, Active: true}
	}
	if err := f.db.PutItems(ctx, items); err != nil {
		b.Fatal(err)
	}
	if err := f.eng.LoadCatalogue(ctx); err != nil {
		b.Fatal(err)
	}
	if err := f.eng.Swap(r); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	bought := make([]string, benchHistory)
	for i := range bought {
		bought[i] = r.Items[rng.IntN(n)]
	}
	f.grant("bench-customer")
	f.events("bench-customer", privacy.Purchase, bought...)
	return f, Request{Customer: customer("bench-customer"), Limit: 10, ExcludePurchased: true}
}

// reportLatency adds the median and 99th percentile of the loop's
// iterations as metrics.
func reportLatency(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(d[len(d)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkRecommend measures Engine.Recommend in process for a consenting
// customer with 50 purchases: top 10, purchases excluded. "cached" is the
// hot path (the profile — folded-in vector, purchase filter — comes from
// the cache); "uncached" builds it every time (consent and history read
// from the in-memory store, fold-in).
func BenchmarkRecommend(b *testing.B) {
	for _, sz := range benchSizes {
		for _, mode := range []string{"cached", "uncached"} {
			b.Run(fmt.Sprintf("items=%d/factors=%d/%s", sz.items, sz.factors, mode), func(b *testing.B) {
				f, r := benchEngine(b, sz.items, sz.factors, func(c *Config) {
					if mode == "uncached" {
						c.CacheEntries = -1
					}
				})
				ctx := context.Background()
				if resp := f.recommend(r); resp.Reason != Personalized || len(resp.Items) != 10 {
					b.Fatalf("Recommend = %v reason %v", ids(resp.Items), resp.Reason)
				}
				lat := make([]time.Duration, 0, 1<<16)
				b.ReportAllocs()
				for b.Loop() {
					t0 := time.Now()
					if _, err := f.eng.Recommend(ctx, r); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(t0))
				}
				reportLatency(b, lat)
			})
		}
	}
}

// BenchmarkScore measures scoring every item: s = V·u with blas32.Gemv.
func BenchmarkScore(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(fmt.Sprintf("items=%d/factors=%d", sz.items, sz.factors), func(b *testing.B) {
			r := randomRelease("bench", sz.items, sz.factors, 1)
			u := blas32.Vector{N: sz.factors, Inc: 1, Data: r.Vectors[:sz.factors]}
			s := blas32.Vector{N: sz.items, Inc: 1, Data: make([]float32, sz.items)}
			b.ReportAllocs()
			for b.Loop() {
				blas32.Gemv(blas.NoTrans, 1, r.Matrix(), u, 0, s)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(sz.items), "ns/item")
		})
	}
}

// BenchmarkTopK measures the bounded-heap selection of the top 10 over
// every item's score, with the catalogue filter (active, store) and the
// purchase filter.
func BenchmarkTopK(b *testing.B) {
	for _, sz := range benchSizes {
		for _, st := range []string{"", "s3"} {
			b.Run(fmt.Sprintf("items=%d/store=%q", sz.items, st), func(b *testing.B) {
				f, _ := benchEngine(b, sz.items, 8, nil)
				s := f.eng.snap.Load()
				pr := f.eng.cache.get(f.pseudo("bench-customer"))
				if pr == nil {
					pr, _ = f.eng.profile(context.Background(), s, f.pseudo("bench-customer"))
				}
				rng := rand.New(rand.NewPCG(2, 2))
				scores := make([]float32, sz.items)
				for j := range scores {
					scores[j] = float32(rng.NormFloat64())
				}
				fl := filter{s: s, store: st, purchased: pr.purchased}
				h := make([]cand, 0, MaxLimit)
				b.ReportAllocs()
				for b.Loop() {
					h = topK(h, scores, 10, &fl)
				}
			})
		}
	}
}

// BenchmarkPurchasedFilter measures one test of the purchase Bloom filter
// (50 purchases, 1% false positives).
func BenchmarkPurchasedFilter(b *testing.B) {
	bf := bloom.NewWithEstimates(benchHistory, bloomFalsePositives)
	for i := range benchHistory {
		bf.AddString(fmt.Sprintf("SKU-%07d", i*13))
	}
	ids := make([]string, 1024)
	for i := range ids {
		ids[i] = fmt.Sprintf("SKU-%07d", i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		bf.TestString(ids[i&1023])
		i++
	}
}

// BenchmarkFoldIn measures building a profile from 50 purchases: the
// history's confidences, the fold-in solve (DP-ALS.md B11), the purchase
// filter and the explanation candidates.
func BenchmarkFoldIn(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(fmt.Sprintf("items=%d/factors=%d/history=%d", sz.items, sz.factors, benchHistory), func(b *testing.B) {
			f, _ := benchEngine(b, sz.items, sz.factors, nil)
			events, err := f.db.CustomerEvents(context.Background(), f.pseudo("bench-customer"))
			if err != nil || len(events) != benchHistory {
				b.Fatalf("%d events, %v", len(events), err)
			}
			s := f.eng.snap.Load()
			b.ReportAllocs()
			for b.Loop() {
				if err := s.foldIn(&profile{}, events); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
