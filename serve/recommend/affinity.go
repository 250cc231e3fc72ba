package recommend

import (
	"context"

	"github.com/discret-io/discret/privacy"
)

// Affinity is how well an item suits a customer.
type Affinity struct {
	// Known is set when the item has a vector in the release: only then
	// are the other fields meaningful.
	Known bool
	// Score is the personalized score u·v of the item (as in Recommend).
	Score float64
	// Related is the largest cosine similarity between the item and one
	// of the customer's recent purchases (the item itself counts: buying
	// it again is related), Because that purchase.
	Related float64
	Because string
}

// Affinities is the answer of Engine.Affinities.
type Affinities struct {
	// Personalized is set when Items hold personalized values: the customer
	// consents to personalization and has usable history.
	Personalized bool
	Items        []Affinity // by requested item; zero when not personalized or unknown
	ModelVersion string
}

// Affinities returns customer p's affinity to each of items, from the same
// cached profile as Recommend (so the same consent and invalidation rules
// apply). Serve/coupons ranks coupons with it.
func (e *Engine) Affinities(ctx context.Context, p privacy.PseudoID, items []string) (Affinities, error) {
	out := Affinities{Items: make([]Affinity, len(items))}
	s := e.snap.Load()
	if s == nil {
		return out, nil
	}
	out.ModelVersion = s.rel.Card.Version
	pr, err := e.profile(ctx, s, p)
	if err != nil {
		return Affinities{}, err
	}
	if !pr.personalize || pr.vec == nil {
		return out, nil
	}
	out.Personalized = true
	d := s.mat.Cols
	for i, id := range items {
		j, ok := s.rel.Index(id)
		if !ok || !s.hasVector(int32(j)) {
			continue
		}
		a := &out.Items[i]
		a.Known = true
		v := s.mat.Data[j*d : j*d+d]
		var dot float32
		for k, x := range pr.vec {
			dot += x * v[k]
		}
		a.Score = float64(dot)
		for _, h := range pr.recent {
			sim := float32(1)
			if h != int32(j) {
				sim = s.cosine(int32(j), h)
			}
			if float64(sim) > a.Related {
				a.Related, a.Because = float64(sim), s.rel.Items[h]
			}
		}
	}
	return out, nil
}

// Popularity returns the DP popularity of each of items in store st (from
// the store's list if the release has one, else overall), 0 for items the
// release does not rank, and the release's version ("" without one).
func (e *Engine) Popularity(st string, items []string) ([]float64, string) {
	out := make([]float64, len(items))
	s := e.snap.Load()
	if s == nil {
		return out, ""
	}
	if i, ok := s.stores[st]; ok && st != "" {
		byRow := make(map[int32]float32, len(s.rel.StorePopular[i]))
		for _, e := range s.rel.StorePopular[i] {
			byRow[e.Item] = e.Score
		}
		for k, id := range items {
			if j, ok := s.rel.Index(id); ok {
				out[k] = float64(byRow[int32(j)])
			}
		}
		return out, s.rel.Card.Version
	}
	for k, id := range items {
		if j, ok := s.rel.Index(id); ok {
			out[k] = float64(s.rel.Popular[j])
		}
	}
	return out, s.rel.Card.Version
}
