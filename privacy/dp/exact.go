package dp

import (
	"fmt"
	"math/big"
	"math/bits"
)

// This file holds the exact primitives of DP-ALS.md D3.2 (Canonne, Kamath and
// Steinke 2020, "The Discrete Gaussian for Differential Privacy", Algorithms
// 1 and 2): uniform integers, Bernoulli(p) for rational p, Bernoulli(exp(−γ))
// and the discrete Laplace distribution. Every decision is an exact
// comparison between random bits and a rational number (or e⁻¹, whose
// binary expansion is computed exactly as far as needed).
//
// # Comparing random bits with a rational number
//
// Bernoulli(p) is decided as V < p for a uniform real V ∈ [0, 1) whose
// binary digits are drawn lazily, chunkBits at a time. After n bits with
// value R, V lies in [R/2ⁿ, (R+1)/2ⁿ): the answer is yes when
// (R+1)/2ⁿ ≤ p, no when R/2ⁿ ≥ p, and otherwise more bits are drawn (the
// "interval rule"). This is exact and uses about chunkBits bits per trial.
//
// The fast path knows p through a 64-bit fixed-point bracket
// lo ≤ p·2⁶⁴ ≤ hi (see fixMode) computed with integer arithmetic. It
// decides by the interval rule whenever the bracket determines the answer,
// which fails only when the drawn bits fall in the bracket's width (about
// 2⁻⁵⁰ of the time) or after 64 equal bits; then the slow path recomputes p
// exactly with math/big and continues the same rule from the bits already
// drawn. Both paths therefore consume the same bits and return the same
// answer: the fast path is an exact implementation, not an approximation.

// chunkBits is the number of random bits compared at a time.
const chunkBits = 8

// fixMode says how much a 64-bit fixed-point bracket (lo, hi) knows about
// F = p·2⁶⁴ for a parameter p ∈ [0, 1).
type fixMode uint8

const (
	fixExact  fixMode = iota // F == lo (hi == lo)
	fixAbove                 // lo < F < lo+1 (hi == lo)
	fixBounds                // lo ≤ F ≤ hi
)

// ctxKind names the exact description of the parameter being compared, which
// the slow path turns into a big.Rat.
type ctxKind uint8

const (
	ctxNone  ctxKind = iota
	ctxUT            // p = (u/t)/k
	ctxGauss         // p = frac(γ(x))/k, γ from the owning DiscreteGaussian
	ctxRat           // p = rat/k
	ctxExp1          // p = e⁻¹ (irrational: compared through refined brackets)
)

// sampler is the state shared by the exact samplers: the random stream and
// the exact description of the comparison in progress. Not safe for
// concurrent use.
type sampler struct {
	src  Source
	buf  uint64 // unread random bits, low bits first
	nbuf uint   // number of unread bits in buf

	ctx   ctxKind
	k     uint64 // divisor of the von Neumann step in progress
	u, t  uint64
	gx    uint64
	owner *DiscreteGaussian
	rat   *big.Rat
}

// word returns 64 fresh random bits.
func (s *sampler) word() uint64 { return s.src.Uint64() }

// take returns the next n ≤ 64 random bits from the bit buffer.
func (s *sampler) take(n uint) uint64 {
	if s.nbuf < n {
		s.refill()
	}
	r := s.buf & (1<<n - 1)
	s.buf >>= n
	s.nbuf -= n
	return r
}

// refill replaces the bit buffer with 64 fresh bits (unread bits are
// discarded).
func (s *sampler) refill() {
	s.buf = s.src.Uint64()
	s.nbuf = 64
}

// uniform returns a uniform integer in [0, n), n ≥ 1, by Lemire's
// multiply-and-reject method ("Fast Random Integer Generation in an
// Interval", 2019), which is exact.
func (s *sampler) uniform(n uint64) uint64 {
	hi, lo := bits.Mul64(s.word(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(s.word(), n)
		}
	}
	return hi
}

// lessFixed decides V < p for a fresh uniform V by the interval rule, where
// (lo, hi, mode) brackets p·2⁶⁴ and p < 1. The context must describe p
// exactly for the slow path. The first chunk, which decides all but about
// 1/256 of the comparisons with p ≥ 2⁻⁸, is handled here; lessFrom does
// the rest.
func (s *sampler) lessFixed(lo, hi uint64, mode fixMode) bool {
	if lo < 1<<56 {
		return s.lessFrom(lo, hi, mode, 0, 0)
	}
	if s.nbuf < chunkBits {
		s.refill()
	}
	r := s.buf & (1<<chunkBits - 1)
	s.buf >>= chunkBits
	s.nbuf -= chunkBits
	l := lo >> (64 - chunkBits)
	if r < l {
		return true
	}
	if r > l && (mode != fixBounds || r > hi>>(64-chunkBits)) {
		return false
	}
	return s.lessFrom(lo, hi, mode, r, chunkBits)
}

// lessFrom continues lessFixed after the first n bits of V (value r) have
// been drawn and found equal to the bracket's leading bits (n == 0: none
// drawn yet).
func (s *sampler) lessFrom(lo, hi uint64, mode fixMode, r uint64, n uint) bool {
	if n == 0 {
		// Zero bits drawn: V ∈ [0, 1). The answer is no iff p == 0.
		if lo == 0 {
			switch mode {
			case fixExact:
				return false
			case fixBounds:
				if hi == 0 {
					return false
				}
				return s.lessSlow(0, 0)
			}
		}
	} else if done, ok := s.checkLevel(lo, hi, mode, r, n); done {
		return ok
	}
	for n += chunkBits; n <= 64; n += chunkBits {
		r = r<<chunkBits | s.take(chunkBits)
		if done, ok := s.checkLevel(lo, hi, mode, r, n); done {
			return ok
		}
	}
	return s.lessSlow(r, 64)
}

// checkLevel applies the interval rule to the first n bits r of V: done
// reports whether the comparison is decided (with result ok).
func (s *sampler) checkLevel(lo, hi uint64, mode fixMode, r uint64, n uint) (done, ok bool) {
	sh := 64 - n
	l := lo >> sh // ⌊p·2ⁿ⌋ if the bracket determines it
	if r < l {
		return true, true // r+1 ≤ ⌊lo/2^sh⌋ ≤ p·2ⁿ
	}
	h := l
	if mode == fixBounds {
		h = hi >> sh
	}
	if r > h {
		return true, false // r ≥ ⌊hi/2^sh⌋+1 > p·2ⁿ
	}
	if l != h {
		return true, s.lessSlow(r, n)
	}
	// r == ⌊p·2ⁿ⌋, so p·2ⁿ ∈ [r, r+1). Undecided unless p·2ⁿ == r.
	if lo<<n == 0 { // lo<<64 == 0
		switch mode {
		case fixExact:
			return true, false
		case fixBounds:
			return true, s.lessSlow(r, n)
		}
		// fixAbove: p·2⁶⁴ > lo, so p·2ⁿ > r: undecided.
	}
	return false, false
}

// lessSlow continues the interval rule for p = exactP() given the first n
// bits r of V.
func (s *sampler) lessSlow(r uint64, n uint) bool {
	if s.ctx == ctxExp1 {
		return s.lessExpNeg1(r, n)
	}
	return s.lessRat(s.exactP(), r, n)
}

// lessRat decides V < p by the interval rule in exact arithmetic, given
// that the first n bits of V have value r.
func (s *sampler) lessRat(p *big.Rat, r uint64, n uint) bool {
	// P = p·2ⁿ − r; V < p iff W < P for the uniform remainder W ∈ [0, 1).
	P := new(big.Rat).SetInt(new(big.Int).Lsh(big.NewInt(1), n))
	P.Mul(P, p)
	P.Sub(P, new(big.Rat).SetInt(new(big.Int).SetUint64(r)))
	one := big.NewRat(1, 1)
	scale := big.NewRat(1<<chunkBits, 1)
	c := new(big.Rat)
	for {
		if P.Cmp(one) >= 0 {
			return true
		}
		if P.Sign() <= 0 {
			return false
		}
		P.Mul(P, scale)
		P.Sub(P, c.SetUint64(s.take(chunkBits)))
	}
}

// exactP returns the parameter of the comparison in progress as a rational.
func (s *sampler) exactP() *big.Rat {
	var f *big.Rat
	switch s.ctx {
	case ctxUT:
		f = new(big.Rat).SetFrac(new(big.Int).SetUint64(s.u), new(big.Int).SetUint64(s.t))
	case ctxGauss:
		f = s.owner.exactFrac(s.gx)
	case ctxRat:
		f = new(big.Rat).Set(s.rat)
	default:
		panic("dp: internal error: exact comparison without a context")
	}
	return f.Quo(f, new(big.Rat).SetInt(new(big.Int).SetUint64(s.k)))
}

// expFrac returns Bernoulli(exp(−f)) for f ∈ [0, 1) with f·2⁶⁴ bracketed by
// (lo, hi, mode), by von Neumann's method as in CKS 2020 Algorithm 1:
// K ← 1; while Bernoulli(f/K) succeeds, K ← K+1; succeed iff K is odd.
// The context must describe f exactly.
func (s *sampler) expFrac(lo, hi uint64, mode fixMode) bool {
	s.k = 1
	if !s.lessFixed(lo, hi, mode) {
		return true
	}
	for k := uint64(2); ; k++ {
		s.k = k
		plo := lo / k
		phi, pm := plo, mode
		switch mode {
		case fixExact:
			if lo%k != 0 {
				pm = fixAbove // f·2⁶⁴/k ∈ (plo, plo+1)
			}
		case fixBounds:
			phi = hi / k
			if hi%k != 0 {
				phi++
			}
		}
		if !s.lessFixed(plo, phi, pm) {
			return k&1 == 1
		}
	}
}

// expNeg1Fixed is ⌊e⁻¹·2⁶⁴⌋. e⁻¹ is irrational, so e⁻¹·2⁶⁴ lies strictly
// between it and the next integer (fixAbove). TestExpNeg1Fixed checks it
// against the alternating series.
const expNeg1Fixed = 0x5e2d58d8b3bcdf1a

// expOne returns Bernoulli(exp(−1)) by comparing random bits with the binary
// expansion of e⁻¹ (the interval rule; bits beyond the 64th come from
// expNeg1Bracket). It is exact, like von Neumann's method that CKS 2020
// Algorithm 1 uses for γ = 1, and needs about 8 random bits instead of
// about e trials.
func (s *sampler) expOne() bool {
	s.ctx = ctxExp1
	return s.lessFixed(expNeg1Fixed, expNeg1Fixed, fixAbove)
}

// lessExpNeg1 continues the interval rule for p = e⁻¹ given the first n bits
// r of V, with brackets of e⁻¹ refined until each step is decided. Since e⁻¹
// is irrational it never equals a bracket end point, so this terminates.
func (s *sampler) lessExpNeg1(r uint64, n uint) bool {
	R := new(big.Int).SetUint64(r)
	prec := n + 64
	lo, hi := new(big.Rat), new(big.Rat)
	one := big.NewRat(1, 1)
	for {
		expNeg1Bracket(prec, lo, hi)
		for {
			// P = p·2ⁿ − R lies in [pl, ph].
			sc := new(big.Rat).SetInt(new(big.Int).Lsh(big.NewInt(1), n))
			rr := new(big.Rat).SetInt(R)
			pl := new(big.Rat).Sub(new(big.Rat).Mul(lo, sc), rr)
			ph := new(big.Rat).Sub(new(big.Rat).Mul(hi, sc), rr)
			if pl.Cmp(one) >= 0 {
				return true
			}
			if ph.Sign() <= 0 {
				return false
			}
			if pl.Sign() <= 0 || ph.Cmp(one) >= 0 {
				break // the bracket is too wide to tell: refine it
			}
			R.Lsh(R, chunkBits)
			R.Or(R, new(big.Int).SetUint64(s.take(chunkBits)))
			n += chunkBits
		}
		prec = 2*prec + n
	}
}

// expNeg1Bracket sets lo < e⁻¹ < hi with hi − lo < 2^(−prec), from two
// consecutive partial sums of the alternating series Σ (−1)ᵏ/k!.
func expNeg1Bracket(prec uint, lo, hi *big.Rat) {
	limit := new(big.Int).Lsh(big.NewInt(1), prec)
	sum := big.NewRat(1, 1) // S_0
	fact := big.NewInt(1)
	term := new(big.Rat)
	for k := int64(1); ; k++ {
		fact.Mul(fact, big.NewInt(k))
		term.SetFrac(big.NewInt(1), fact)
		next := new(big.Rat)
		if k%2 == 1 {
			next.Sub(sum, term)
		} else {
			next.Add(sum, term)
		}
		if fact.Cmp(limit) > 0 { // |S_k − S_{k−1}| = 1/k! < 2^(−prec)
			if k%2 == 1 {
				lo.Set(next)
				hi.Set(sum)
			} else {
				lo.Set(sum)
				hi.Set(next)
			}
			return
		}
		sum = next
	}
}

// expUT returns Bernoulli(exp(−u/t)) for 0 ≤ u < t.
func (s *sampler) expUT(u, t uint64) bool {
	if u == 0 {
		return true
	}
	q, r := bits.Div64(u, 0, t)
	mode := fixExact
	if r != 0 {
		mode = fixAbove
	}
	s.ctx, s.u, s.t = ctxUT, u, t
	return s.expFrac(q, q, mode)
}

// geometric returns the number of successes of Bernoulli(exp(−1)) before the
// first failure: P(V ≥ v) = e^(−v).
func (s *sampler) geometric() uint64 {
	var v uint64
	for s.expOne() {
		v++
	}
	return v
}

// laplace draws from the discrete Laplace distribution with integer scale t
// ≥ 1, P(y) ∝ exp(−|y|/t) (CKS 2020 Algorithm 2): a random sign, then
// X = U + t·V with U uniform in {0..t−1} accepted with probability
// exp(−U/t) and V geometric; (−, 0) is rejected. It returns |y| as the
// pair hi·2⁶⁴ + lo (hi ≠ 0 only with probability below e^(−2⁶⁴/t)) and
// the sign.
func (s *sampler) laplace(t uint64) (hi, lo uint64, neg bool) {
	for {
		neg = s.take(1) == 1
		var u uint64
		for {
			u = s.uniform(t)
			if s.expUT(u, t) {
				break
			}
		}
		v := s.geometric()
		hi, lo = bits.Mul64(v, t)
		var c uint64
		lo, c = bits.Add64(lo, u, 0)
		hi += c
		if neg && hi == 0 && lo == 0 {
			continue
		}
		return hi, lo, neg
	}
}

// setRat sets the slow-path context to p = f/k with f = rat.
func (s *sampler) setRat(f *big.Rat) {
	s.ctx = ctxRat
	s.rat = f
}

// fracFixed returns ⌊f·2⁶⁴⌋ and its mode for a rational f ∈ [0, 1).
func fracFixed(f *big.Rat) (uint64, fixMode) {
	num := new(big.Int).Lsh(f.Num(), 64)
	q, r := num.QuoRem(num, f.Denom(), new(big.Int))
	if r.Sign() == 0 {
		return q.Uint64(), fixExact
	}
	return q.Uint64(), fixAbove
}

// Sampler draws exact samples from the primitive distributions of the
// discrete Gaussian sampler (DP-ALS.md D3.2): uniform integers, Bernoulli
// with a rational parameter, Bernoulli(exp(−γ)) and discrete Laplace. It is
// not safe for concurrent use; use one per goroutine.
type Sampler struct {
	s sampler
}

// NewSampler returns a Sampler drawing from src.
func NewSampler(src Source) *Sampler {
	if src == nil {
		panic("dp: NewSampler with a nil Source")
	}
	return &Sampler{s: sampler{src: src}}
}

// Uniform returns a uniform integer in [0, n). It panics if n == 0.
func (s *Sampler) Uniform(n uint64) uint64 {
	if n == 0 {
		panic("dp: Uniform(0)")
	}
	return s.s.uniform(n)
}

// Bernoulli returns true with probability p, exactly. It panics unless
// 0 ≤ p ≤ 1.
func (s *Sampler) Bernoulli(p *big.Rat) bool {
	if p.Sign() < 0 || p.Cmp(big.NewRat(1, 1)) > 0 {
		panic(fmt.Sprintf("dp: Bernoulli(%v): parameter outside [0, 1]", p))
	}
	if p.Cmp(big.NewRat(1, 1)) == 0 {
		return true
	}
	f := new(big.Rat).Set(p)
	lo, mode := fracFixed(f)
	s.s.setRat(f)
	s.s.k = 1
	return s.s.lessFixed(lo, lo, mode)
}

// BernoulliExp returns true with probability exp(−γ), exactly, for a
// rational γ ≥ 0 (CKS 2020 Algorithm 1: ⌊γ⌋ Bernoulli(e⁻¹) trials must all
// succeed, then one Bernoulli(exp(−(γ−⌊γ⌋)))). It panics if γ < 0.
func (s *Sampler) BernoulliExp(gamma *big.Rat) bool {
	if gamma.Sign() < 0 {
		panic(fmt.Sprintf("dp: BernoulliExp(%v): negative exponent", gamma))
	}
	n, r := new(big.Int).QuoRem(gamma.Num(), gamma.Denom(), new(big.Int))
	one := big.NewInt(1)
	for ; n.Sign() > 0; n.Sub(n, one) {
		if !s.s.expOne() {
			return false
		}
	}
	f := new(big.Rat).SetFrac(r, gamma.Denom())
	lo, mode := fracFixed(f)
	s.s.setRat(f)
	return s.s.expFrac(lo, lo, mode)
}

// MaxLaplaceScale is the largest scale DiscreteLaplace accepts; it keeps
// samples within int64 except with probability below e^(−127).
const MaxLaplaceScale = 1 << 56

// DiscreteLaplace returns a sample y with P(y) ∝ exp(−|y|/t) (CKS 2020
// Algorithm 2). It panics unless 1 ≤ t ≤ MaxLaplaceScale, and in the event
// (probability below e^(−127)) that the sample does not fit in an int64.
func (s *Sampler) DiscreteLaplace(t uint64) int64 {
	if t == 0 || t > MaxLaplaceScale {
		panic(fmt.Sprintf("dp: DiscreteLaplace(%d): scale outside [1, 2^56]", t))
	}
	hi, lo, neg := s.s.laplace(t)
	if hi != 0 || lo >= 1<<63 {
		panic("dp: discrete Laplace sample does not fit in int64")
	}
	if neg {
		return -int64(lo)
	}
	return int64(lo)
}
