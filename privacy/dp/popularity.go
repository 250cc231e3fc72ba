package dp

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
)

// ErrContribution is returned when a user's contribution violates the bounds
// a release was calibrated for.
var ErrContribution = errors.New("dp: contribution out of bounds")

// Contribution is one key's value in a user's bounded contribution.
type Contribution[K comparable] struct {
	Key   K
	Value float64
}

// BoundContributions bounds one user's contribution to a popularity release
// (DP-ALS.md F2): keep the kp keys with the largest weights (ties broken
// uniformly at random with src), then scale the kept values by
// min(1, c/‖w‖₂) so that ‖x‖₂ ≤ c, re-checking the norm in float64 and
// shrinking by (1 − 1e-12) until it holds (as B6 step 4). For "number of
// buyers" counts pass weight 1 for every key. Weights must be finite and
// positive; kp ≥ 1 and c > 0. The result is sorted by decreasing value.
//
// The result depends only on weights and the draws of src: the same
// weights and a source in the same state give the same contribution, so
// a seeded source makes it reproducible (Go's map order does not leak in).
func BoundContributions[K cmp.Ordered](weights map[K]float64, kp int, c float64, src Source) ([]Contribution[K], error) {
	if kp < 1 || !(c > 0) || math.IsInf(c, 0) {
		return nil, fmt.Errorf("%w: bound contributions: k_p = %d, C = %v", ErrParam, kp, c)
	}
	out := make([]Contribution[K], 0, len(weights))
	for k, w := range weights {
		if !(w > 0) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("%w: weight %v (want finite, > 0)", ErrContribution, w)
		}
		out = append(out, Contribution[K]{k, w})
	}
	// A canonical order first, so that the shuffle below permutes the same
	// list whatever the map's iteration order. Then a uniform random order
	// (Fisher–Yates with exact uniform integers) and a stable sort by
	// weight: ties end up in uniformly random order.
	slices.SortFunc(out, func(a, b Contribution[K]) int { return cmp.Compare(a.Key, b.Key) })
	s := sampler{src: src}
	for i := len(out) - 1; i > 0; i-- {
		j := int(s.uniform(uint64(i + 1)))
		out[i], out[j] = out[j], out[i]
	}
	slices.SortStableFunc(out, func(a, b Contribution[K]) int { return cmp.Compare(b.Value, a.Value) })
	if len(out) > kp {
		out = out[:kp]
	}
	if n := norm2(out); n > c {
		f := c / n
		for i := range out {
			out[i].Value *= f
		}
	}
	for norm2(out) > c {
		for i := range out {
			out[i].Value *= 1 - 1e-12
		}
	}
	return out, nil
}

func norm2[K comparable](x []Contribution[K]) float64 {
	var s float64
	for _, v := range x {
		s += v.Value * v.Value
	}
	return math.Sqrt(s)
}

// Counts accumulates bounded per-user contributions over a public key set
// {0, …, n−1} (e.g. the product catalogue) and releases a noisy total for
// every key, zeros included, so no thresholding is needed (DP-ALS.md F3,
// F4). Each user contributes at most kp keys with ‖x‖₂ ≤ C; the noise is the
// discrete Gaussian on the lattice of Lattice (D3.3) with σ = z·C', costing
// ρ = 1/(2z²) per release for every included user.
//
// Add is not safe for concurrent use: accumulate per worker and Merge.
type Counts struct {
	lat   *Lattice
	kp    int
	bound float64
	sums  []int64
	seen  []uint32 // per-key stamp of the last user, for the duplicate check
	user  uint32
	users int
}

// NewCounts returns an empty accumulator over n keys for contributions of
// at most kp keys with L2 norm at most bound, released with noise
// multiplier z.
//
// The lattice is sized for kp coordinates per user even when n < kp: its
// sensitivity and σ, which a release publishes, then depend on the public
// key limit only, not on n, which may be the number of distinct keys in
// the data (a key selection's candidates).
func NewCounts(n, kp int, bound, z float64) (*Counts, error) {
	if n < 1 || kp < 1 {
		return nil, fmt.Errorf("%w: counts over %d keys, k_p = %d", ErrParam, n, kp)
	}
	lat, err := NewLattice(z, bound, VectorCoords(1, kp))
	if err != nil {
		return nil, err
	}
	return &Counts{lat: lat, kp: kp, bound: bound, sums: make([]int64, n), seen: make([]uint32, n)}, nil
}

// Lattice returns the release's lattice (granularity, σ, ρ).
func (c *Counts) Lattice() *Lattice { return c.lat }

// Rho returns the zCDP cost of one Release for every included user.
func (c *Counts) Rho() float64 { return c.lat.Rho() }

// Users returns the number of contributions added (including merged ones).
func (c *Counts) Users() int { return c.users }

// Add adds one user's contribution. It rejects (ErrContribution) keys out of
// range, repeated keys, more than kp keys, non-finite values and
// ‖x‖₂ > C, leaving the sums unchanged; it fails with ErrOverflow if a sum
// would leave ±2⁶² (the accumulator must then be discarded).
func (c *Counts) Add(x []Contribution[int]) error {
	if len(x) > c.kp {
		return fmt.Errorf("%w: %d keys (k_p = %d)", ErrContribution, len(x), c.kp)
	}
	c.user++
	if c.user == 0 { // stamp wrapped: reset
		clear(c.seen)
		c.user = 1
	}
	var ss float64
	for _, v := range x {
		if v.Key < 0 || v.Key >= len(c.sums) {
			return fmt.Errorf("%w: key %d outside [0, %d)", ErrContribution, v.Key, len(c.sums))
		}
		if c.seen[v.Key] == c.user {
			return fmt.Errorf("%w: key %d repeated", ErrContribution, v.Key)
		}
		c.seen[v.Key] = c.user
		if math.IsNaN(v.Value) || math.IsInf(v.Value, 0) {
			return fmt.Errorf("%w: key %d: value %v", ErrContribution, v.Key, v.Value)
		}
		ss += v.Value * v.Value
	}
	if n := math.Sqrt(ss); n > c.bound {
		return fmt.Errorf("%w: L2 norm %v exceeds C = %v", ErrContribution, n, c.bound)
	}
	for _, v := range x {
		q, err := c.lat.Quantize(v.Value)
		if err != nil {
			return fmt.Errorf("key %d: %w", v.Key, err)
		}
		if !addFixed(&c.sums[v.Key], q) {
			return fmt.Errorf("key %d: %w: sum leaves ±2^62", v.Key, ErrOverflow)
		}
	}
	c.users++
	return nil
}

// Merge adds the sums of o, which must have been created with the same
// parameters.
func (c *Counts) Merge(o *Counts) error {
	if len(o.sums) != len(c.sums) || o.kp != c.kp || o.bound != c.bound || o.lat.z != c.lat.z {
		return fmt.Errorf("%w: merging counts with different parameters", ErrParam)
	}
	if err := MergeSums(c.sums, o.sums); err != nil {
		return err
	}
	c.users += o.users
	return nil
}

// Release returns the noisy totals g·(sum_j + N_ℤ(0, σ_int²)) for every key,
// clamped at 0 (post-processing, F5). Production callers check
// CheckProduction(src) first and record KindOf(src).
func (c *Counts) Release(src Source) ([]float64, error) {
	nz, err := c.lat.NewNoiser(src)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(c.sums))
	nz.Vector(out, c.sums)
	for i, v := range out {
		out[i] = math.Max(0, v)
	}
	return out, nil
}

// GaussianThreshold returns the release threshold for keys that are not
// public (DP-ALS.md F4, as Google's Go noise package computes it): a key is
// released only if its noisy total exceeds
//
//	τ = Δ∞ + σ·Φ⁻¹((1 − δ_τ)^(1/Δ₀)),
//
// where σ is the noise standard deviation, Δ∞ the largest contribution of
// one user to one key, Δ₀ the number of keys one user can touch (k_p) and
// δ_τ the probability budget for releasing a key that only one user
// supports. The total δ of such a release is δ_noise + δ_τ.
func GaussianThreshold(sigma, linf float64, l0 int, deltaTau float64) (float64, error) {
	if !(sigma > 0) || !(linf > 0) || l0 < 1 || !(deltaTau > 0 && deltaTau < 1) || math.IsInf(sigma, 0) || math.IsInf(linf, 0) {
		return 0, fmt.Errorf("%w: threshold: σ = %v, Δ∞ = %v, Δ₀ = %d, δ_τ = %v", ErrParam, sigma, linf, l0, deltaTau)
	}
	return linf + sigma*normQuantileUpper(perKeyDelta(deltaTau, l0)), nil
}

// LaplaceThreshold is GaussianThreshold for discrete Laplace noise of scale
// λ: τ = Δ∞ − λ ln(2δ_p) with δ_p = 1 − (1 − δ_τ)^(1/Δ₀) (for δ_p ≤ ½;
// Δ∞ + λ ln(2(1 − δ_p)) beyond).
func LaplaceThreshold(lambda, linf float64, l0 int, deltaTau float64) (float64, error) {
	if !(lambda > 0) || !(linf > 0) || l0 < 1 || !(deltaTau > 0 && deltaTau < 1) || math.IsInf(lambda, 0) || math.IsInf(linf, 0) {
		return 0, fmt.Errorf("%w: threshold: λ = %v, Δ∞ = %v, Δ₀ = %d, δ_τ = %v", ErrParam, lambda, linf, l0, deltaTau)
	}
	dp := perKeyDelta(deltaTau, l0)
	if dp <= 0.5 {
		return linf - lambda*math.Log(2*dp), nil
	}
	return linf + lambda*math.Log(2*(1-dp)), nil
}

// perKeyDelta returns 1 − (1 − δ_τ)^(1/Δ₀), computed without cancellation.
func perKeyDelta(deltaTau float64, l0 int) float64 {
	return -math.Expm1(math.Log1p(-deltaTau) / float64(l0))
}
