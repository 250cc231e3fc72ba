package release_test

import (
	"fmt"
	"slices"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/model/als"
	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/privacy"
)

// A server folds a customer's vector in from their own history and scores
// every released item with one matrix–vector product.
func Example() {
	// A tiny release: two taste groups of two items (in practice, Load or
	// LoadCurrent reads one from the store).
	r := &release.Release{
		Card: release.Card{
			Format: release.CardFormat, Version: "v1", Created: time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC), RNG: release.RNGCrypto,
			Items: 4, Trained: 4, Universe: release.UniverseData,
			Hyper: release.Hyper{
				Factors: 2, Lambda: 0.1, RegExponent: 1, Unobserved: 0.1,
				Weights: map[string]float64{"view": 0.1, "purchase": 1}, StrengthCap: 10, Alpha: 1,
			},
		},
		Items:   []string{"apple", "pear", "drill", "saw"},
		Vectors: []float32{1, 0, 0.9, 0.1, 0, 1, 0.1, 0.9},
		Trained: []bool{true, true, true, true},
		Popular: []float32{5, 3, 2, 1},
	}
	if err := r.Validate(); err != nil {
		panic(err)
	}
	// Once per release.
	folder := als.NewFolder(r.Model())
	// Per request: the customer's consented events.
	events := []features.Event{
		{Item: "drill", Kind: privacy.Purchase, Quantity: 1},
		{Item: "apple", Kind: privacy.View, Quantity: 1},
	}
	items, conf, err := r.History(events)
	if err != nil {
		panic(err)
	}
	u64, err := folder.UserVector(make([]float64, r.Factors()), items, conf, folder.NewScratch())
	if err != nil {
		panic(err)
	}
	u := blas32.Vector{N: r.Factors(), Inc: 1, Data: make([]float32, r.Factors())}
	for i, v := range u64 {
		u.Data[i] = float32(v)
	}
	scores := blas32.Vector{N: len(r.Items), Inc: 1, Data: make([]float32, len(r.Items))}
	blas32.Gemv(blas.NoTrans, 1, r.Matrix(), u, 0, scores)

	// Rank the items the customer has not interacted with.
	var ranked []int
	for j := range r.Items {
		if !slices.Contains(items, int32(j)) {
			ranked = append(ranked, j)
		}
	}
	slices.SortFunc(ranked, func(a, b int) int {
		if scores.Data[a] > scores.Data[b] {
			return -1
		}
		return 1
	})
	for _, j := range ranked {
		fmt.Println(r.Items[j])
	}
	// Output:
	// saw
	// pear
}
