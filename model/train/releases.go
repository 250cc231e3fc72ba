package train

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/discret-io/discret/model/budget"
	"github.com/discret-io/discret/model/interact"
	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/privacy/dp"
)

// The releases of a training run besides the ALS statistics: the number of
// customers, the key selection and the popularity lists. Each is one
// Gaussian release (exact discrete Gaussian on a lattice, DP-ALS.md D3)
// whose cost is a Component of the card and the ledger.

// component describes a Counts release for the card.
func component(name string, c *dp.Counts, releases int) budget.Component {
	lat := c.Lattice()
	return budget.Component{
		Name: name, Multiplier: lat.Multiplier(), Sensitivity: lat.Sensitivity(), Sigma: lat.Sigma(),
		Releases: releases, RhoEach: lat.Rho(), Rho: float64(releases) * lat.Rho(),
	}
}

// releaseCustomers releases Ñ = n + N_ℤ(0, σ²), the number of training
// customers, with multiplier z: every customer adds 1 to one coordinate, so
// the L2 sensitivity is 1 (see release.Customers for why it is noisy).
func releaseCustomers(n int, z float64, src dp.Source) (float64, budget.Component, error) {
	c, err := dp.NewCounts(1, 1, 1, z)
	if err != nil {
		return 0, budget.Component{}, fmt.Errorf("train: customers: %w", err)
	}
	one := []dp.Contribution[int]{{Key: 0, Value: 1}}
	for range n {
		if err := c.Add(one); err != nil {
			return 0, budget.Component{}, fmt.Errorf("train: customers: %w", err)
		}
	}
	out, err := c.Release(src)
	if err != nil {
		return 0, budget.Component{}, fmt.Errorf("train: customers: %w", err)
	}
	return out[0], component("customers", c, 1), nil
}

// roundSignificant rounds x ≥ 0 to two significant digits.
func roundSignificant(x float64) int64 {
	if !(x > 0) {
		return 0
	}
	p := math.Pow(10, math.Max(0, math.Floor(math.Log10(x))-1))
	return int64(math.Round(x/p) * p)
}

// strengths computes, per customer, the capped strength of each item
// overall and in each store, with the weights and cap of the interactions
// (DP-ALS.md B2), for the events whose item and store are in the given
// universes (item index → universe position, or -1; the same for stores).
// fn receives the customer's overall strengths (universe item, w̄) and
// per-store strengths (universe store, universe item, w̄); the slices are
// reused between calls.
type strength struct {
	store, item int32 // store = -1 for the overall strength
	w           float64
}

func (s *snapshot) strengths(ctx context.Context, ic interact.Config, itemPos, storePos []int32, fn func(c int, st []strength) error) error {
	var acc []strength
	for c := range s.customers {
		if c%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		acc = acc[:0]
		lo, hi := s.events(c)
		for e := lo; e < hi; e++ {
			if s.item[e] < 0 {
				continue
			}
			j := itemPos[s.item[e]]
			w := ic.Weights[s.kind[e]] * float64(s.qty[e])
			if j < 0 || !(w > 0) {
				continue
			}
			acc = append(acc, strength{-1, j, w})
			if st := s.store[e]; st >= 0 && storePos[st] >= 0 {
				acc = append(acc, strength{storePos[st], j, w})
			}
		}
		slices.SortFunc(acc, func(a, b strength) int {
			if c := cmp.Compare(a.store, b.store); c != 0 {
				return c
			}
			return cmp.Compare(a.item, b.item)
		})
		out := acc[:0]
		for i := 0; i < len(acc); {
			k := acc[i]
			for i++; i < len(acc) && acc[i].store == k.store && acc[i].item == k.item; i++ {
				k.w += acc[i].w
			}
			k.w = min(k.w, ic.Cap)
			out = append(out, k)
		}
		if err := fn(c, out); err != nil {
			return err
		}
	}
	return nil
}

// selection is the outcome of a key selection.
type selection struct {
	items, stores []string // released, sorted
	component     budget.Component
	threshold     float64
}

// selectKeys releases the identifiers of the items and stores that enough
// customers used, when they are not public (DP-ALS.md B5, F4): each
// customer contributes to at most kp of their items (the strongest, ties at
// random) and kp/4 (at least 1) of their stores (the most visited), with
// equal values and an L2 norm of 1/√2 for each part (1 when only one kind
// of key is selected); the noisy sums are released with multiplier z, and
// only keys whose noisy sum exceeds
//
//	τ = Δ∞ + σ·Φ⁻¹((1 − δ_τ)^(1/Δ₀))
//
// are kept (dp.GaussianThreshold): a key that only one customer holds is
// released with probability at most δ_τ/Δ₀ per key, δ_τ overall. Δ∞ is the
// largest single contribution plus the lattice granularity (rounding), Δ₀
// the number of keys a customer can touch. The lattice's σ (2³² lattice
// steps) makes the discrete Gaussian's tail that of the continuous one to
// within 2⁻³² relative. The candidate identifiers come from the data, which
// is what thresholding allows; the noisy sums themselves are not kept.
func (s *snapshot) selectKeys(ctx context.Context, ic interact.Config, needItems, needStores bool, kp int, z, deltaTau float64, src dp.Forker) (selection, error) {
	nI, nS := len(s.items), len(s.stores)
	ki, ks := 0, 0
	if needItems {
		ki = kp
	}
	if needStores {
		ks = max(1, kp/4)
	}
	part := 1.0
	if needItems && needStores {
		part = 1 / math.Sqrt2
	}
	c, err := dp.NewCounts(max(1, nI+nS), ki+ks, 1, z)
	if err != nil {
		return selection{}, fmt.Errorf("train: selection: %w", err)
	}
	pick := dp.NewSampler(src.Fork())
	type cand struct {
		key int
		w   float64
	}
	var items, stores []cand
	var contrib []dp.Contribution[int]
	for cu := range s.customers {
		if cu%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return selection{}, err
			}
		}
		items, stores = items[:0], stores[:0]
		lo, hi := s.events(cu)
		for e := lo; e < hi; e++ {
			if j := s.item[e]; needItems && j >= 0 {
				if w := ic.Weights[s.kind[e]] * float64(s.qty[e]); w > 0 {
					items = append(items, cand{int(j), w})
				}
			}
			if st := s.store[e]; needStores && st >= 0 {
				stores = append(stores, cand{nI + int(st), 1})
			}
		}
		contrib = contrib[:0]
		for _, g := range []struct {
			cs []cand
			k  int
		}{{items, ki}, {stores, ks}} {
			cs := g.cs
			if len(cs) == 0 {
				continue
			}
			// Aggregate per key, then strongest first, ties in random order.
			slices.SortFunc(cs, func(a, b cand) int { return cmp.Compare(a.key, b.key) })
			agg := cs[:0]
			for i := 0; i < len(cs); {
				k := cs[i]
				for i++; i < len(cs) && cs[i].key == k.key; i++ {
					k.w += cs[i].w
				}
				agg = append(agg, k)
			}
			for i := len(agg) - 1; i > 0; i-- {
				r := int(pick.Uniform(uint64(i + 1)))
				agg[i], agg[r] = agg[r], agg[i]
			}
			slices.SortStableFunc(agg, func(a, b cand) int { return cmp.Compare(min(b.w, ic.Cap), min(a.w, ic.Cap)) })
			agg = agg[:min(len(agg), g.k)]
			// Equal values, norm part·(1 − 1e-9): below the bound of 1
			// despite rounding.
			v := part * (1 - 1e-9) / math.Sqrt(float64(len(agg)))
			for _, k := range agg {
				contrib = append(contrib, dp.Contribution[int]{Key: k.key, Value: v})
			}
		}
		if len(contrib) == 0 {
			continue
		}
		if err := c.Add(contrib); err != nil {
			return selection{}, fmt.Errorf("train: selection: %w", err)
		}
	}
	noisy, err := c.Release(src.Fork())
	if err != nil {
		return selection{}, fmt.Errorf("train: selection: %w", err)
	}
	lat := c.Lattice()
	tau, err := dp.GaussianThreshold(lat.Sigma(), part+lat.Granularity(), ki+ks, deltaTau)
	if err != nil {
		return selection{}, fmt.Errorf("train: selection: %w", err)
	}
	sel := selection{component: component("selection", c, 1), threshold: tau}
	sel.component.DeltaThreshold = deltaTau
	for j := range nI {
		if noisy[j] > tau {
			sel.items = append(sel.items, s.items[j])
		}
	}
	for st := range nS {
		if noisy[nI+st] > tau {
			sel.stores = append(sel.stores, s.stores[st])
		}
	}
	slices.Sort(sel.items)
	slices.Sort(sel.stores)
	return sel, nil
}

// MaxPopularKeys bounds the popularity release: items × (1 + stores)
// noisy values (about 12 bytes each while accumulating).
const MaxPopularKeys = 1 << 25

// popularity is the popularity release.
type popularity struct {
	overall   []float32          // per universe item
	stores    [][]release.Scored // per universe store, top items
	component budget.Component   // zero for a non-private run
}

// releasePopularity computes the DP popularity overall and per store
// (DP-ALS.md F) as one Gaussian release over the concatenated vector
// (overall item j, then store s item j): every customer contributes their
// capped strengths w̄ (overall and per store), of which at most kp keys
// (the strongest, ties at random) scaled to an L2 norm of at most C
// (dp.BoundContributions). A private run adds noise with multiplier z
// (z = 0 means non-private: the exact sums of the same bounded
// contributions). Values are clamped at 0 (F5) and each store keeps its top
// items with a positive value.
func (s *snapshot) releasePopularity(ctx context.Context, ic interact.Config, itemPos, storePos []int32, nItems, nStores, kp int, bound, z float64, top int, src dp.Forker) (popularity, error) {
	keys := nItems * (1 + nStores)
	if keys > MaxPopularKeys {
		return popularity{}, fmt.Errorf("train: popularity over %d items × (1 + %d stores) = %d values exceeds %d; give fewer stores", nItems, nStores, keys, MaxPopularKeys)
	}
	var counts *dp.Counts
	var exact []float64
	if z > 0 {
		var err error
		if counts, err = dp.NewCounts(keys, kp, bound, z); err != nil {
			return popularity{}, fmt.Errorf("train: popularity: %w", err)
		}
	} else {
		exact = make([]float64, keys)
	}
	tie := src.Fork()
	weights := map[int]float64{}
	err := s.strengths(ctx, ic, itemPos, storePos, func(_ int, st []strength) error {
		if len(st) == 0 {
			return nil
		}
		clear(weights)
		for _, k := range st {
			weights[int(k.store+1)*nItems+int(k.item)] = k.w
		}
		x, err := dp.BoundContributions(weights, kp, bound, tie)
		if err != nil {
			return err
		}
		if counts != nil {
			return counts.Add(x)
		}
		for _, v := range x {
			exact[v.Key] += v.Value
		}
		return nil
	})
	if err != nil {
		return popularity{}, fmt.Errorf("train: popularity: %w", err)
	}
	var values []float64
	var p popularity
	if counts != nil {
		if values, err = counts.Release(src.Fork()); err != nil {
			return popularity{}, fmt.Errorf("train: popularity: %w", err)
		}
		p.component = component("popularity", counts, 1)
	} else {
		values = exact
	}
	p.overall = make([]float32, nItems)
	for j := range nItems {
		p.overall[j] = float32(values[j])
	}
	p.stores = make([][]release.Scored, nStores)
	for st := range nStores {
		row := values[(st+1)*nItems : (st+2)*nItems]
		var list []release.Scored
		for j, v := range row {
			if v > 0 {
				list = append(list, release.Scored{Item: int32(j), Score: float32(v)})
			}
		}
		slices.SortStableFunc(list, func(a, b release.Scored) int { return cmp.Compare(b.Score, a.Score) })
		if len(list) > top {
			list = list[:top]
		}
		p.stores[st] = slices.Clip(list)
	}
	return p, nil
}
