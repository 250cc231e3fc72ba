package release_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/privacy"
)

// large returns a valid release of n items × 64 factors with 8 stores.
func large(n int) *release.Release {
	r := sample("bench")
	rng := rand.New(rand.NewPCG(1, 2))
	d := 64
	r.Card.Hyper.Factors = d
	r.Items = make([]string, n)
	r.Vectors = make([]float32, n*d)
	r.Trained = make([]bool, n)
	r.Popular = make([]float32, n)
	for i := range n {
		r.Items[i] = fmt.Sprintf("SKU-%07d", i)
		r.Trained[i] = true
		r.Popular[i] = float32(n - i)
		for k := range d {
			r.Vectors[i*d+k] = float32(rng.NormFloat64())
		}
	}
	r.Card.Items, r.Card.Trained = n, n
	r.Stores = []string{"s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8"}
	r.Card.Stores = len(r.Stores)
	r.StorePopular = make([][]release.Scored, len(r.Stores))
	for s := range r.StorePopular {
		for j := range min(n, 1000) {
			r.StorePopular[s] = append(r.StorePopular[s], release.Scored{Item: int32(j), Score: float32(1000 - j)})
		}
	}
	return r
}

// BenchmarkDecode measures loading a release (decoding and validating every
// part), what a server does when the current release changes.
func BenchmarkDecode(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) {
			meta, parts, err := release.Encode(large(n))
			if err != nil {
				b.Fatal(err)
			}
			byName := map[string][]byte{}
			size := 0
			for _, p := range parts {
				byName[p.Name] = p.Data
				size += len(p.Data)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := release.Decode(meta, byName); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHistory measures turning a customer's events into a fold-in
// history, on every personalized request.
func BenchmarkHistory(b *testing.B) {
	r := large(100_000)
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			events := make([]features.Event, n)
			for i := range events {
				events[i] = features.Event{Item: fmt.Sprintf("SKU-%07d", (i*7919)%100_000), Kind: privacy.EventKinds[i%3], Quantity: 1}
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := r.History(events); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
