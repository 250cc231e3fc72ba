package dp

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
)

// MaxSigma2 is the largest variance parameter NewDiscreteGaussian accepts
// (σ ≤ 2⁵⁶). It keeps samples within int64 except with probability below
// e^(−8000).
const MaxSigma2 = 1 << 112

// Errors returned by NewDiscreteGaussian.
var (
	ErrSigma2 = errors.New("dp: discrete Gaussian variance parameter must be positive, finite and at most 2^112")
)

// DiscreteGaussian draws exact samples from the discrete Gaussian N_ℤ(0, σ²),
// P(y) ∝ exp(−y²/(2σ²)) for integers y, with σ² an exact rational (Canonne,
// Kamath and Steinke 2020, Algorithm 3; DP-ALS.md D3.2):
//
//	t ← ⌊σ⌋ + 1
//	repeat: Y ← discrete Laplace(t)
//	until Bernoulli(exp(−(|Y| − σ²/t)² / (2σ²)))
//	return Y
//
// Every random decision is an exact comparison with a rational number (see
// the Sampler primitives); the acceptance exponent is bracketed with 128-bit
// integer arithmetic and computed exactly with math/big only in the rare
// cases the bracket cannot decide. Sample does not allocate in the common
// case.
//
// Adding N_ℤ(0, σ²) to an integer-valued query of L2 sensitivity Δ is
// ρ-zCDP with ρ = Δ²/(2σ²) (CKS 2020, Theorem 14), the same as for
// continuous Gaussian noise, so the accountant of this package applies.
//
// A DiscreteGaussian is not safe for concurrent use. Give each goroutine its
// own, each with its own Source (see Streams): the state is small and
// construction is cheap.
type DiscreteGaussian struct {
	s      sampler
	sigma2 big.Rat // σ² = p/q in lowest terms
	t      uint64  // ⌊σ⌋ + 1

	// Fast path (fast == true): q·t < 2⁶⁴ and p < 2¹²⁸.
	fast       bool
	qt         uint64
	ph, pl     uint64 // p
	m2small    uint64 // M2 = 2·p·q·t² when it fits in 64 bits, else 0
	inlo, inhi dyad   // bracket of 1/M2

	// Exact path. γ(x) = (x·q·t − p)² / M2 for |Y| = x.
	pB, qtB, m2B big.Int
	a, n, r, tmp big.Int // scratch

	forceExact bool // test hook: compute every exponent with math/big
}

// NewDiscreteGaussian returns a sampler of N_ℤ(0, σ²) drawing from src.
// σ² must be positive and at most MaxSigma2.
func NewDiscreteGaussian(src Source, sigma2 *big.Rat) (*DiscreteGaussian, error) {
	if src == nil {
		panic("dp: NewDiscreteGaussian with a nil Source")
	}
	if sigma2 == nil || sigma2.Sign() <= 0 || sigma2.Cmp(new(big.Rat).SetInt(new(big.Int).Lsh(big.NewInt(1), 112))) > 0 {
		return nil, fmt.Errorf("%w: got %v", ErrSigma2, sigma2)
	}
	g := &DiscreteGaussian{}
	g.s = sampler{src: src, owner: g}
	g.sigma2.Set(sigma2)
	p, q := g.sigma2.Num(), g.sigma2.Denom()

	// t = ⌊σ⌋ + 1 = ⌊√⌊p/q⌋⌋ + 1, exactly.
	fl := new(big.Int).Quo(p, q)
	t := new(big.Int).Sqrt(fl)
	t.Add(t, big.NewInt(1))
	g.t = t.Uint64() // ≤ 2⁵⁶ + 1

	g.pB.Set(p)
	g.qtB.Mul(q, t)
	g.m2B.Mul(p, &g.qtB)
	g.m2B.Mul(&g.m2B, t)
	g.m2B.Lsh(&g.m2B, 1)
	if g.m2B.IsUint64() {
		g.m2small = g.m2B.Uint64()
	}
	// 1/M2 = (2^k/M2)·2^(−k) with k chosen so that 2^k/M2 has 64+ bits.
	k := uint(g.m2B.BitLen() + 64)
	num := new(big.Int).Lsh(big.NewInt(1), k)
	quo, rem := new(big.Int).QuoRem(num, &g.m2B, new(big.Int))
	g.inlo = dyadFromBig(quo, false)
	if rem.Sign() != 0 {
		quo.Add(quo, big.NewInt(1))
	}
	g.inhi = dyadFromBig(quo, true)
	g.inlo.e -= int(k)
	g.inhi.e -= int(k)

	if g.qtB.BitLen() <= 64 && p.BitLen() <= 128 {
		g.fast = true
		g.qt = g.qtB.Uint64()
		g.pl = new(big.Int).And(p, new(big.Int).SetUint64(math.MaxUint64)).Uint64()
		g.ph = new(big.Int).Rsh(p, 64).Uint64()
	}
	return g, nil
}

// NewDiscreteGaussianFloat64 is NewDiscreteGaussian with σ² converted
// exactly from a float64 (big.Rat.SetFloat64), as the lattice mechanism
// does (DP-ALS.md D3.3).
func NewDiscreteGaussianFloat64(src Source, sigma2 float64) (*DiscreteGaussian, error) {
	if math.IsNaN(sigma2) || math.IsInf(sigma2, 0) || sigma2 <= 0 {
		return nil, fmt.Errorf("%w: got %v", ErrSigma2, sigma2)
	}
	return NewDiscreteGaussian(src, new(big.Rat).SetFloat64(sigma2))
}

// Sigma2 returns a copy of σ².
func (g *DiscreteGaussian) Sigma2() *big.Rat { return new(big.Rat).Set(&g.sigma2) }

// Sample returns one draw from N_ℤ(0, σ²). It panics in the event, of
// probability below e^(−8000), that the accepted value does not fit in an
// int64.
func (g *DiscreteGaussian) Sample() int64 {
	for {
		hi, x, neg := g.s.laplace(g.t)
		if hi != 0 || x >= 1<<63 {
			g.rejectHuge(hi, x)
			continue
		}
		if g.accept(x) {
			if neg {
				return -int64(x)
			}
			return int64(x)
		}
	}
}

// accept returns Bernoulli(exp(−γ(x))) for the candidate magnitude x.
func (g *DiscreteGaussian) accept(x uint64) bool {
	var (
		n, lo, hi uint64
		mode      = fixBounds
		ok        bool
	)
	if g.fast && !g.forceExact {
		n, lo, hi, mode, ok = g.gammaFast(x)
	}
	if !ok {
		var nBig *big.Int
		n, nBig, lo, mode = g.gammaExact(new(big.Int).SetUint64(x))
		hi = lo
		if nBig != nil {
			return g.expBig(nBig, x)
		}
	}
	for ; n > 0; n-- {
		if !g.s.expOne() {
			return false
		}
	}
	g.s.ctx, g.s.gx = ctxGauss, x
	return g.s.expFrac(lo, hi, mode)
}

// gammaFast returns n = ⌊γ(x)⌋ and the 64-bit fixed-point value of the
// fraction γ(x) − n, where γ(x) = (x·q·t − p)²/M2, using 128-bit integer
// arithmetic. When A = |x·q·t − p| and M2 fit in 64 bits the result is exact
// (mode fixExact or fixAbove); otherwise it is a bracket (lo, hi) from
// dyadic interval arithmetic (fixBounds). ok is false when the bracket
// straddles an integer or γ ≥ 2⁶⁴; the caller then computes exactly.
func (g *DiscreteGaussian) gammaFast(x uint64) (n, lo, hi uint64, mode fixMode, ok bool) {
	xh, xl := bits.Mul64(x, g.qt)
	var ah, al uint64
	if xh > g.ph || (xh == g.ph && xl >= g.pl) {
		var b uint64
		al, b = bits.Sub64(xl, g.pl, 0)
		ah, _ = bits.Sub64(xh, g.ph, b)
	} else {
		var b uint64
		al, b = bits.Sub64(g.pl, xl, 0)
		ah, _ = bits.Sub64(g.ph, xh, b)
	}
	if ah == 0 {
		if al == 0 {
			return 0, 0, 0, fixExact, true // γ = 0
		}
		if m := g.m2small; m != 0 {
			sh, sl := bits.Mul64(al, al)
			if sh >= m {
				return 0, 0, 0, 0, false // γ ≥ 2⁶⁴
			}
			n, r := bits.Div64(sh, sl, m)
			f, rr := bits.Div64(r, 0, m)
			if rr == 0 {
				return n, f, f, fixExact, true
			}
			return n, f, f, fixAbove, true
		}
	}
	alo := dyadFrom128(ah, al, false)
	ahi := dyadFrom128(ah, al, true)
	glo := mulDyad(mulDyad(alo, alo, false), g.inlo, false)
	ghi := mulDyad(mulDyad(ahi, ahi, true), g.inhi, true)
	nlo, flo, ok1 := glo.fixed(64, false)
	nhi, fhi, ok2 := ghi.fixed(64, true)
	if !ok1 || !ok2 || nlo != nhi {
		return 0, 0, 0, 0, false
	}
	return nlo, flo, fhi, fixBounds, true
}

// gammaExact computes γ = (X·q·t − p)²/M2 exactly for the magnitude X. It
// returns ⌊γ⌋ (as n, or as nBig when it does not fit in 64 bits) and the
// fraction's fixed-point value lo with its mode. It leaves the fraction's
// numerator in g.r.
func (g *DiscreteGaussian) gammaExact(x *big.Int) (n uint64, nBig *big.Int, lo uint64, mode fixMode) {
	g.a.Mul(x, &g.qtB)
	g.a.Sub(&g.a, &g.pB)
	g.a.Mul(&g.a, &g.a)
	g.n.QuoRem(&g.a, &g.m2B, &g.r)
	g.tmp.Lsh(&g.r, 64)
	var rem big.Int
	g.tmp.QuoRem(&g.tmp, &g.m2B, &rem)
	lo = g.tmp.Uint64()
	mode = fixExact
	if rem.Sign() != 0 {
		mode = fixAbove
	}
	if g.n.IsUint64() {
		return g.n.Uint64(), nil, lo, mode
	}
	return 0, new(big.Int).Set(&g.n), lo, mode
}

// exactFrac returns frac(γ(x)) as a rational (slow path of the comparison).
func (g *DiscreteGaussian) exactFrac(x uint64) *big.Rat {
	g.gammaExact(new(big.Int).SetUint64(x))
	return new(big.Rat).SetFrac(new(big.Int).Set(&g.r), &g.m2B)
}

// expBig runs the ⌊γ⌋ Bernoulli(e⁻¹) trials when ⌊γ⌋ ≥ 2⁶⁴. They all
// succeed with probability below e^(−2⁶⁴); the candidate is then beyond
// int64 and the sampler panics rather than return a wrong value.
func (g *DiscreteGaussian) expBig(n *big.Int, x uint64) bool {
	one := big.NewInt(1)
	for ; n.Sign() > 0; n.Sub(n, one) {
		if !g.s.expOne() {
			return false
		}
	}
	panic(fmt.Sprintf("dp: discrete Gaussian candidate %d survived ⌊γ⌋ ≥ 2^64 acceptance trials", x))
}

// rejectHuge handles a Laplace candidate |Y| = hi·2⁶⁴+lo ≥ 2⁶³, which
// cannot be returned as an int64. Such a candidate has γ ≥ 8000 (σ ≤ 2⁵⁶),
// and the exact acceptance test starts with ⌊γ⌋ Bernoulli(e⁻¹) trials: they
// are run, and if one fails the candidate is rejected exactly as the
// algorithm prescribes. If all succeed (probability below e^(−8000)) the
// sampler panics instead of returning a wrong value.
func (g *DiscreteGaussian) rejectHuge(hi, lo uint64) {
	x := new(big.Int).SetUint64(hi)
	x.Lsh(x, 64)
	x.Or(x, new(big.Int).SetUint64(lo))
	n, nBig, _, _ := g.gammaExact(x)
	if nBig != nil {
		g.expBig(nBig, lo) // rejects (returns false) or panics
		return
	}
	for ; n > 0; n-- {
		if !g.s.expOne() {
			return
		}
	}
	panic("dp: discrete Gaussian candidate beyond int64 survived its acceptance trials")
}
