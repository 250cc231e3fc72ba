package bench

// Benchmarks of the serving hot path across packages, on synthetic data
// (features/synth, seeded) and random item vectors of realistic sizes.
// Steps that have a micro-benchmark beside their code are not repeated here
// (BENCHMARKS.md lists where each figure comes from): pseudonymization
// (privacy/pseudonym), the history scan and event writes (features/store),
// fold-in and one ALS iteration (model/als), the DP sampler (privacy/dp),
// the engine's Recommend, top-k and purchase filter (serve/recommend).
// BenchmarkScore sweeps catalogue sizes to compare scoring with the memory
// bandwidth; BenchmarkHotPath strings the steps together and reports each
// one's share.

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bits-and-blooms/bloom/v3"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/eventfile"
	"github.com/discret-io/discret/features/ingest"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/synth"
	"github.com/discret-io/discret/model/als"
	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
	"github.com/discret-io/discret/privacy/pseudonym"
)

// Sizes of the sub-benchmarks.
var (
	benchItems   = []int{1_000, 10_000, 100_000, 1_000_000}
	benchFactors = []int{32, 64, 128}
)

// randomVectors returns n×d float32 values, N(0, 0.1²/… ) shaped like
// trained item vectors; a cheap PCG keeps the setup of 1M×128 short.
func randomVectors(n, d int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 11))
	v := make([]float32, n*d)
	for i := range v {
		v[i] = float32(r.NormFloat64() * 0.1)
	}
	return v
}

// BenchmarkScore measures scoring every item for one user: s = V·u with
// gonum's blas32.Gemv on a float32 row-major items × factors matrix. The
// matrix is read once per call, so the bandwidth metric (GB/s of V) can be
// compared with BenchmarkMemoryBandwidth: up to a few MB the matrix sits in
// cache; from 100k × 64 on, every call streams it from memory.
func BenchmarkScore(b *testing.B) {
	for _, n := range benchItems {
		for _, d := range benchFactors {
			b.Run(fmt.Sprintf("items=%d/factors=%d", n, d), func(b *testing.B) {
				v := blas32.General{Rows: n, Cols: d, Stride: d, Data: randomVectors(n, d, 1)}
				u := blas32.Vector{N: d, Inc: 1, Data: randomVectors(1, d, 2)}
				s := blas32.Vector{N: n, Inc: 1, Data: make([]float32, n)}
				b.ReportAllocs()
				for b.Loop() {
					blas32.Gemv(blas.NoTrans, 1, v, u, 0, s)
				}
				bytes := float64(n * d * 4)
				b.ReportMetric(bytes*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/item")
			})
		}
	}
}

// topK is a bounded min-heap of the k best (score, item) pairs, the
// selection every recommendation ends with: a plain reference
// implementation for BenchmarkHotPath (the engine's own is benchmarked in
// serve/recommend).
type topK struct {
	items  []int32
	scores []float32
}

func (h *topK) Len() int { return len(h.items) }
func (h *topK) Less(i, j int) bool {
	// Ties: the higher index is "smaller", so the lower index survives.
	return h.scores[i] < h.scores[j] || (h.scores[i] == h.scores[j] && h.items[i] > h.items[j])
}
func (h *topK) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.scores[i], h.scores[j] = h.scores[j], h.scores[i]
}
func (h *topK) Push(any) { panic("topK: fixed size") }
func (h *topK) Pop() any { panic("topK: fixed size") }

// selectTop returns the k best items of scores (any order), skipping those
// for which excluded returns true; it tests only items that would enter
// the heap, so an exclusion filter costs O(k log n) tests, not n.
func selectTop(h *topK, scores []float32, k int, excluded func(int32) bool) []int32 {
	h.items, h.scores = h.items[:0], h.scores[:0]
	for j, s := range scores {
		if len(h.items) == k && s <= h.scores[0] {
			continue
		}
		if excluded != nil && excluded(int32(j)) {
			continue
		}
		if len(h.items) < k {
			h.items = append(h.items, int32(j))
			h.scores = append(h.scores, s)
			if len(h.items) == k {
				heap.Init(h)
			}
			continue
		}
		h.items[0], h.scores[0] = int32(j), s
		heap.Fix(h, 0)
	}
	return h.items
}

func TestSelectTop(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, tc := range []struct{ n, k int }{{1, 10}, {5, 10}, {10, 10}, {1000, 10}, {1000, 100}} {
		scores := make([]float32, tc.n)
		for i := range scores {
			scores[i] = float32(r.IntN(50)) // many ties
		}
		excl := func(j int32) bool { return j%7 == 3 }
		var h topK
		got := selectTop(&h, scores, tc.k, excl)
		// Reference: a full sort of the allowed items by (score desc, index asc).
		best := map[int32]bool{}
		for len(best) < min(tc.k, allowed(tc.n, excl)) {
			bi := int32(-1)
			for j := range tc.n {
				jj := int32(j)
				if excl(jj) || best[jj] {
					continue
				}
				if bi < 0 || scores[j] > scores[bi] {
					bi = jj
				}
			}
			best[bi] = true
		}
		if len(got) != len(best) {
			t.Fatalf("selectTop(n=%d, k=%d) = %d items, want %d", tc.n, tc.k, len(got), len(best))
		}
		for _, j := range got {
			if !best[j] {
				t.Errorf("selectTop(n=%d, k=%d) returned item %d (score %v), not among the best", tc.n, tc.k, j, scores[j])
			}
		}
	}
}

func allowed(n int, excl func(int32) bool) int {
	c := 0
	for j := range n {
		if !excl(int32(j)) {
			c++
		}
	}
	return c
}

// purchaseFilter is the per-customer Bloom filter of purchased items
// (bits-and-blooms/bloom/v3, 1 % false positives): a false positive only
// drops a candidate, it never shows a purchased item.
func purchaseFilter(purchased []int32) *bloom.BloomFilter {
	f := bloom.NewWithEstimates(uint(max(len(purchased), 16)), 0.01)
	var key [4]byte
	for _, j := range purchased {
		binary.LittleEndian.PutUint32(key[:], uint32(j))
		f.Add(key[:])
	}
	return f
}

func inFilter(f *bloom.BloomFilter) func(int32) bool {
	var key [4]byte
	return func(j int32) bool {
		binary.LittleEndian.PutUint32(key[:], uint32(j))
		return f.Test(key[:])
	}
}

// hotFixture is a data directory holding a synthetic dataset, a release
// of random item vectors over its catalogue, and the raw ids of customers
// who consent to personalization and have a history in the release.
type hotFixture struct {
	db        *store.DB
	ps        *pseudonym.Keyed
	defaults  consent.Defaults
	rel       *release.Release
	folder    *als.Folder
	customers []privacy.CustomerID
}

// newHotFixture generates consent choices and events of customers over a
// catalogue of items, imports them into an encrypted on-disk store (consent
// first, opt-in: events of customers without a grant are not stored), and
// builds a release of factors dimensions.
func newHotFixture(b *testing.B, items, customers, events, factors int) *hotFixture {
	b.Helper()
	ctx := context.Background()
	cfg := synth.Config{Customers: customers, Items: items, Events: events, Stores: 8, Seed: 42, End: time.Now().UTC().Truncate(time.Second)}
	var buf, consents bytes.Buffer
	if _, err := synth.Generate(ctx, cfg, synth.Output{Events: &buf, Consent: &consents}, nil); err != nil {
		b.Fatal(err)
	}
	db, ps := openStore(b)
	var defaults consent.Defaults // opt-in
	importConsent(b, db, ps, consents.Bytes(), defaults)
	in, err := ingest.New(ingest.Config{Pseudonyms: ps, Consent: defaults}, db)
	if err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	if _, err := in.Import(ctx, func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		ingest.ImportOptions{Format: eventfile.Discret}); err != nil {
		b.Fatal(err)
	}
	if err := db.Compact(ctx); err != nil {
		b.Fatal(err)
	}
	cat, err := synth.Catalogue(cfg)
	if err != nil {
		b.Fatal(err)
	}
	rel := &release.Release{
		Card: release.Card{Hyper: release.Hyper{
			Factors: factors, Lambda: als.DefaultLambda, RegExponent: als.DefaultRegExponent, Unobserved: als.DefaultUnobserved,
			Weights: map[string]float64{"purchase": 1, "add_to_cart": 0.5, "view": 0.1}, StrengthCap: 10, Alpha: 1,
		}},
		Vectors: randomVectors(len(cat), factors, 7),
		Popular: make([]float32, len(cat)),
	}
	for _, it := range cat {
		rel.Items = append(rel.Items, it.ID)
		rel.Trained = append(rel.Trained, true)
	}
	rel.Card.Trained = len(rel.Items)
	f := &hotFixture{db: db, ps: ps, defaults: defaults, rel: rel, folder: als.NewFolder(rel.Model())}
	ids, err := SynthCustomers(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	for _, id := range ids {
		c, err := privacy.ParseCustomerID(id)
		if err != nil {
			b.Fatal(err)
		}
		p := ps.Pseudonymize(c)
		rec, err := db.Consent(ctx, p)
		if err != nil {
			b.Fatal(err)
		}
		if !defaults.Allows(rec, privacy.Personalization) {
			continue
		}
		evs, err := db.CustomerEvents(ctx, p)
		if err != nil {
			b.Fatal(err)
		}
		if hist, _, _ := rel.History(evs); len(hist) > 0 {
			f.customers = append(f.customers, c)
		}
	}
	if len(f.customers) < customers/2 {
		b.Fatalf("only %d of %d customers have a personalized history", len(f.customers), customers)
	}
	return f
}

// BenchmarkHotPath strings together the steps of a personalized
// recommendation without any cache, for catalogues of the size of
// MovieLens 1M (3,706 items) and of 100,000 items, 64 factors: parse and
// pseudonymize the raw id, read consent, read the customer's unexpired
// history, turn it into confidences and fold in the user vector, score
// every item (float32 Gemv), build the purchase filter and select the top
// 10 excluding purchases. Each step's mean is reported as µs/op of its
// own metric. Customers are drawn at random among those with a history
// (about 50 events each on average, heavy-tailed).
func BenchmarkHotPath(b *testing.B) {
	for _, items := range []int{3706, 100_000} {
		b.Run(fmt.Sprintf("items=%d/factors=64", items), func(b *testing.B) {
			const d = 64
			f := newHotFixture(b, items, 6040, 300_000, d)
			ctx := context.Background()
			sc := f.folder.NewScratch()
			u64 := make([]float64, d)
			u32 := make([]float32, d)
			scores := make([]float32, len(f.rel.Items))
			vm := f.rel.Matrix()
			var h topK
			var steps [7]time.Duration
			names := [7]string{"pseudonym", "consent", "history", "fold-in", "score", "bloom", "top-k"}
			r := rand.New(rand.NewPCG(9, 9))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				raw := f.customers[r.IntN(len(f.customers))]
				t0 := time.Now()
				p := f.ps.Pseudonymize(raw)
				t1 := time.Now()
				rec, err := f.db.Consent(ctx, p)
				if err != nil || !f.defaults.Allows(rec, privacy.Personalization) {
					b.Fatalf("consent: %v", err)
				}
				t2 := time.Now()
				evs, err := f.db.CustomerEvents(ctx, p)
				if err != nil {
					b.Fatal(err)
				}
				t3 := time.Now()
				hist, conf, err := f.rel.History(evs)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := f.folder.UserVector(u64, hist, conf, sc); err != nil {
					b.Fatal(err)
				}
				for i, x := range u64 {
					u32[i] = float32(x)
				}
				t4 := time.Now()
				blas32.Gemv(blas.NoTrans, 1, vm, blas32.Vector{N: d, Inc: 1, Data: u32}, 0, blas32.Vector{N: len(scores), Inc: 1, Data: scores})
				t5 := time.Now()
				filter := purchaseFilter(purchases(f.rel, evs))
				t6 := time.Now()
				top := selectTop(&h, scores, 10, inFilter(filter))
				t7 := time.Now()
				if len(top) != 10 {
					b.Fatalf("top-k = %d items, want 10", len(top))
				}
				for i, dt := range []time.Duration{t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), t4.Sub(t3), t5.Sub(t4), t6.Sub(t5), t7.Sub(t6)} {
					steps[i] += dt
				}
			}
			for i, s := range steps {
				b.ReportMetric(float64(s.Microseconds())/float64(b.N), names[i]+"-µs/op")
			}
		})
	}
}

// importConsent records the consent changes of a consent file, each
// customer's in file order, eight customers at a time.
func importConsent(b *testing.B, db *store.DB, ps *pseudonym.Keyed, data []byte, d consent.Defaults) {
	b.Helper()
	ctx := context.Background()
	byCustomer := map[privacy.PseudoID][]consent.Change{}
	for rec, err := range eventfile.ReadConsent(ctx, bytes.NewReader(data)) {
		if err != nil || rec.Err != nil {
			b.Fatalf("consent file: %v %v", err, rec.Err)
		}
		p := ps.Pseudonymize(rec.Customer)
		byCustomer[p] = append(byCustomer[p], rec.Change)
	}
	work := make(chan privacy.PseudoID)
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	for range 8 {
		wg.Go(func() {
			for p := range work {
				if _, err := db.UpdateConsent(ctx, p, byCustomer[p], d); err != nil {
					failed.Store(&err)
				}
			}
		})
	}
	for p := range byCustomer {
		work <- p
	}
	close(work)
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
}

// purchases returns the release indices of the items purchased in evs.
func purchases(rel *release.Release, evs []features.Event) []int32 {
	var js []int32
	for _, e := range evs {
		if e.Kind != privacy.Purchase {
			continue
		}
		if j, ok := rel.Index(e.Item); ok {
			js = append(js, int32(j))
		}
	}
	return js
}
