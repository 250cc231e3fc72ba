package dp

import (
	"math/big"
	"math/bits"
	mathrand "math/rand/v2" // ChaCha8 with fixed seeds: test randomness only
	"testing"
)

// seeded returns a deterministic ChaCha8 stream for internal tests (package
// dptest imports dp, so these tests cannot use it).
func seeded(seed uint64) *mathrand.ChaCha8 {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return mathrand.NewChaCha8(s)
}

// counting wraps a Source and counts the words drawn.
type counting struct {
	src Source
	n   int
}

func (c *counting) Uint64() uint64 { c.n++; return c.src.Uint64() }

// words replays fixed words, then panics.
type words struct {
	w []uint64
	i int
}

func (w *words) Uint64() uint64 {
	if w.i >= len(w.w) {
		panic("words exhausted")
	}
	v := w.w[w.i]
	w.i++
	return v
}

func ratPow2(n int) *big.Rat {
	p := new(big.Int).Lsh(big.NewInt(1), uint(abs(n)))
	if n >= 0 {
		return new(big.Rat).SetInt(p)
	}
	return new(big.Rat).SetFrac(big.NewInt(1), p)
}

// TestLessFixedMatchesExact checks the fast comparison against the exact
// interval rule: for random rationals p and brackets of every mode and
// width, both must return the same answer after drawing the same bits.
func TestLessFixedMatchesExact(t *testing.T) {
	rng := seeded(7)
	var dyadicHits int
	for i := range 20000 {
		// Random p = a/b in [0, 1); a quarter of them dyadic with few bits so
		// that ties at chunk boundaries are frequent.
		var p *big.Rat
		switch i % 4 {
		case 0:
			b := uint(1 + rng.Uint64()%20)
			p = new(big.Rat).SetFrac(new(big.Int).SetUint64(rng.Uint64()%(1<<b)), new(big.Int).Lsh(big.NewInt(1), b))
			dyadicHits++
		case 1:
			d := 1 + rng.Uint64()%1000
			p = new(big.Rat).SetFrac(new(big.Int).SetUint64(rng.Uint64()%d), new(big.Int).SetUint64(d))
		default:
			d := new(big.Int).SetUint64(rng.Uint64() | 1)
			d.Mul(d, new(big.Int).SetUint64(rng.Uint64()|1))
			n := new(big.Int).SetUint64(rng.Uint64())
			n.Mul(n, new(big.Int).SetUint64(rng.Uint64()))
			n.Mod(n, d)
			p = new(big.Rat).SetFrac(n, d)
		}
		lo, mode := fracFixed(p)
		hi := lo
		// Widen into a bracket now and then (the fast path must then either
		// decide correctly or fall back).
		if i%3 == 0 {
			w := rng.Uint64() % 4
			if lo >= w {
				lo -= w
			}
			hi += rng.Uint64() % 4
			if hi < lo {
				hi = ^uint64(0)
			}
			mode = fixBounds
		}
		seed := rng.Uint64()
		fastSrc := &counting{src: seeded(seed)}
		fast := &sampler{src: fastSrc}
		fast.setRat(p)
		fast.k = 1
		got := fast.lessFixed(lo, hi, mode)

		exactSrc := &counting{src: seeded(seed)}
		exact := &sampler{src: exactSrc}
		want := exact.lessRat(p, 0, 0)
		if got != want || fastSrc.n != exactSrc.n || fast.nbuf != exact.nbuf {
			t.Fatalf("lessFixed(p=%v, lo=%#x, hi=%#x, mode=%d) = %v after %d words (%d bits left), want %v after %d words (%d bits left)",
				p, lo, hi, mode, got, fastSrc.n, fast.nbuf, want, exactSrc.n, exact.nbuf)
		}
	}
	if dyadicHits == 0 {
		t.Fatal("no dyadic parameters tested")
	}
}

// TestLessFixedTies drives the comparison through the 64-bit tie and the
// slow path with chosen words.
func TestLessFixedTies(t *testing.T) {
	// p = lo/2⁶⁴ + 1/2⁶⁵ (fixAbove), V's first 64 bits equal lo. The next
	// chunk decides: below 0x80 → V < p.
	lo := uint64(0x123456789abcdef0)
	p := new(big.Rat).Add(new(big.Rat).Mul(new(big.Rat).SetUint64(lo), ratPow2(-64)), ratPow2(-65))
	first := bits.ReverseBytes64(lo) // take() hands out low bytes first
	tests := []struct {
		next uint64
		want bool
	}{
		{0x7f, true},
		{0x80, false}, // V ≥ lo/2⁶⁴ + 1/2⁶⁵ = p exactly once the rest is ≥ 0
		{0x81, false},
	}
	for _, tt := range tests {
		s := &sampler{src: &words{w: []uint64{first, tt.next}}}
		s.setRat(p)
		s.k = 1
		if got := s.lessFixed(lo, lo, fixAbove); got != tt.want {
			t.Errorf("lessFixed tie, next chunk %#x = %v, want %v", tt.next, got, tt.want)
		}
	}
	// fixExact with p·2⁶⁴ = lo and V's 64 bits equal to lo: V ≥ p, no more bits.
	s := &sampler{src: &words{w: []uint64{first}}}
	s.setRat(new(big.Rat).Mul(new(big.Rat).SetUint64(lo), ratPow2(-64)))
	s.k = 1
	if s.lessFixed(lo, lo, fixExact) {
		t.Error("lessFixed(exact tie) = true, want false")
	}
}

func TestExpNeg1Fixed(t *testing.T) {
	lo, hi := new(big.Rat), new(big.Rat)
	expNeg1Bracket(200, lo, hi)
	for _, b := range []*big.Rat{lo, hi} {
		v := new(big.Rat).Mul(b, ratPow2(64))
		q := new(big.Int).Quo(v.Num(), v.Denom())
		if !q.IsUint64() || q.Uint64() != expNeg1Fixed {
			t.Fatalf("⌊e⁻¹·2⁶⁴⌋ from the series = %v, constant %#x", q, uint64(expNeg1Fixed))
		}
	}
	if w := new(big.Rat).Sub(hi, lo); w.Cmp(ratPow2(-200)) >= 0 || w.Sign() <= 0 {
		t.Fatalf("expNeg1Bracket(200) width %v", w.FloatString(80))
	}
}

// TestExpOneTie forces the comparison with e⁻¹ beyond 64 bits. The 65th to
// 72nd bits of e⁻¹ are 0xba (e⁻¹·2⁶⁴ − ⌊·⌋ = 0.72996…, ·256 = 186.87).
func TestExpOneTie(t *testing.T) {
	first := bits.ReverseBytes64(expNeg1Fixed)
	tests := []struct {
		next []uint64
		want bool
	}{
		{[]uint64{0xb9}, true},
		{[]uint64{0xbb}, false},
		// Tie on 0xba too: bits 73–80 of e⁻¹ are ⌊0.87…·256⌋ = 0xde or so;
		// 0x00 is certainly below, 0xff certainly above.
		{[]uint64{0xba | 0x00<<8}, true},
		{[]uint64{0xba | 0xff<<8}, false},
	}
	for _, tt := range tests {
		s := &sampler{src: &words{w: append([]uint64{first}, tt.next...)}}
		if got := s.expOne(); got != tt.want {
			t.Errorf("expOne with bits e⁻¹[0:64] then %#x = %v, want %v", tt.next, got, tt.want)
		}
	}
}

// TestDyadBrackets checks that the interval arithmetic brackets the exact
// results.
func TestDyadBrackets(t *testing.T) {
	rng := seeded(3)
	for range 4000 { // FuzzDyad explores further
		ah, al := rng.Uint64()>>(rng.Uint64()%64), rng.Uint64()
		if rng.Uint64()%4 == 0 {
			ah = 0
		}
		bh, bl := rng.Uint64()>>(rng.Uint64()%64), rng.Uint64()|1
		checkDyadOps(t, ah, al, bh, bl)
	}
	// Edge cases: all ones, powers of two.
	checkDyadOps(t, ^uint64(0), ^uint64(0), 0, 1)
	checkDyadOps(t, 1<<63, 0, 1<<63, 0)
	checkDyadOps(t, 0, 1, ^uint64(0), ^uint64(0))
}

func u128Rat(hi, lo uint64) *big.Rat {
	x := new(big.Int).SetUint64(hi)
	x.Lsh(x, 64)
	x.Or(x, new(big.Int).SetUint64(lo))
	return new(big.Rat).SetInt(x)
}

func checkDyadOps(t *testing.T, ah, al, bh, bl uint64) {
	t.Helper()
	a, b := u128Rat(ah, al), u128Rat(bh, bl)
	alo, ahi := dyadFrom128(ah, al, false), dyadFrom128(ah, al, true)
	blo, bhi := dyadFrom128(bh, bl, false), dyadFrom128(bh, bl, true)
	bracket := func(name string, lo, hi dyad, exact *big.Rat) {
		t.Helper()
		if lo.m != 0 && lo.m < 1<<63 || hi.m != 0 && hi.m < 1<<63 {
			t.Fatalf("%s: unnormalized %v %v", name, lo, hi)
		}
		if lo.rat().Cmp(exact) > 0 || hi.rat().Cmp(exact) < 0 {
			t.Fatalf("%s(%#x:%#x, %#x:%#x): [%v, %v] does not bracket %v", name, ah, al, bh, bl,
				lo.rat().FloatString(5), hi.rat().FloatString(5), exact.FloatString(5))
		}
		// Width: a few units in the last place.
		if exact.Sign() > 0 {
			w := new(big.Rat).Sub(hi.rat(), lo.rat())
			w.Quo(w, exact)
			if w.Cmp(ratPow2(-60)) > 0 {
				t.Fatalf("%s: relative width %v too large", name, w.FloatString(25))
			}
		}
	}
	bracket("from128", alo, ahi, a)
	bracket("mul", mulDyad(alo, blo, false), mulDyad(ahi, bhi, true), new(big.Rat).Mul(a, b))
	if a.Sign() > 0 {
		bracket("div", divDyad(blo, ahi, false), divDyad(bhi, alo, true), new(big.Rat).Quo(b, a))
	}
	// fixed(f): floor and ceiling of x·2^f.
	for _, f := range []int{-130, -70, -64, -1, 0, 5, 64} {
		x := new(big.Rat).Mul(a, ratPow2(f))
		fl := new(big.Int).Quo(x.Num(), x.Denom())
		ce := new(big.Int).Set(fl)
		if !x.IsInt() {
			ce.Add(ce, big.NewInt(1))
		}
		// alo/ahi are brackets of a; when a is exact in 64 bits they are equal.
		if alo != ahi {
			continue
		}
		h, l, ok := alo.fixed(f, false)
		if ok != (fl.BitLen() <= 128) || ok && u128Rat(h, l).Cmp(new(big.Rat).SetInt(fl)) != 0 {
			t.Fatalf("fixed(%v, %d, down) = %#x:%#x %v, want %v", a, f, h, l, ok, fl)
		}
		h, l, ok = alo.fixed(f, true)
		if ok && u128Rat(h, l).Cmp(new(big.Rat).SetInt(ce)) != 0 {
			t.Fatalf("fixed(%v, %d, up) = %#x:%#x, want %v", a, f, h, l, ce)
		}
	}
}

// TestGaussianFastMatchesExact runs the sampler twice on the same stream,
// once with the fast acceptance exponent and once computing every exponent
// with math/big: the samples and the words consumed must be identical.
func TestGaussianFastMatchesExact(t *testing.T) {
	sigma2s := []*big.Rat{
		big.NewRat(1, 4), big.NewRat(1, 1), big.NewRat(9, 1), big.NewRat(100, 1),
		big.NewRat(1, 3), big.NewRat(7, 5), big.NewRat(1000003, 7),
		new(big.Rat).SetFloat64(0.1),
		new(big.Rat).SetFloat64(1 << 40),
		new(big.Rat).SetFloat64(1.37 * 1.37 * (1 << 64)),
		new(big.Rat).SetFloat64(0.5 * 1.37 * 1.37 * (1 << 64)),
		new(big.Rat).SetFloat64(1 << 100),
	}
	n := 8000
	if testing.Short() {
		n = 2000
	}
	for _, s2 := range sigma2s {
		fs, es := &counting{src: seeded(11)}, &counting{src: seeded(11)}
		fast, err := NewDiscreteGaussian(fs, s2)
		if err != nil {
			t.Fatal(err)
		}
		exact, _ := NewDiscreteGaussian(es, s2)
		exact.forceExact = true
		for i := range n {
			a, b := fast.Sample(), exact.Sample()
			if a != b || fs.n != es.n {
				t.Fatalf("σ²=%v sample %d: fast %d after %d words, exact %d after %d words", s2.FloatString(3), i, a, fs.n, b, es.n)
			}
		}
		if !fast.fast && s2.Num().BitLen() <= 128 {
			t.Errorf("σ²=%v: fast path not enabled", s2)
		}
	}
}

// TestBernoulliMatchesSlowPath checks the exported primitives against the
// exact rule directly.
func TestBernoulliExpIntegerPart(t *testing.T) {
	// BernoulliExp(2) is two Bernoulli(e⁻¹) trials, then Bernoulli(exp(0)).
	a, b := NewSampler(seeded(5)), &sampler{src: seeded(5)}
	for range 1000 {
		want := b.expOne() && b.expOne()
		if got := a.BernoulliExp(big.NewRat(2, 1)); got != want {
			t.Fatalf("BernoulliExp(2) = %v, want %v from two expOne", got, want)
		}
	}
}

// TestGammaFastBrackets checks the fast acceptance exponent against the exact
// one: n must be ⌊γ⌋ and (lo, hi, mode) must describe frac(γ)·2⁶⁴.
func TestGammaFastBrackets(t *testing.T) {
	rng := seeded(9)
	sigma2s := []*big.Rat{
		big.NewRat(1, 4), big.NewRat(1, 1), big.NewRat(7, 5), big.NewRat(100, 1),
		new(big.Rat).SetFloat64(0.1), new(big.Rat).SetFloat64(1 << 40),
		new(big.Rat).SetFloat64(1.37 * 1.37 * (1 << 64)), new(big.Rat).SetFloat64(3.3e30),
	}
	for _, s2 := range sigma2s {
		g, err := NewDiscreteGaussian(seeded(1), s2)
		if err != nil {
			t.Fatal(err)
		}
		var checked int
		for i := range 20000 {
			// Magnitudes around σ and a few far in the tail.
			x := rng.Uint64() % (4 * g.t)
			if i%100 == 0 {
				x = rng.Uint64() % (64 * g.t)
			}
			n, lo, hi, mode, ok := g.gammaFast(x)
			if !ok {
				continue
			}
			checked++
			en, _, elo, emode := g.gammaExact(new(big.Int).SetUint64(x))
			frac := new(big.Rat).SetFrac(new(big.Int).Lsh(&g.r, 64), &g.m2B) // exact frac·2⁶⁴
			if n != en {
				t.Fatalf("σ²=%v x=%d: gammaFast n = %d, want %d", s2, x, n, en)
			}
			switch mode {
			case fixExact, fixAbove:
				if lo != elo || hi != lo || mode != emode {
					t.Fatalf("σ²=%v x=%d: gammaFast = (%#x, %#x, %d), want (%#x, %d)", s2, x, lo, hi, mode, elo, emode)
				}
			case fixBounds:
				if new(big.Rat).SetUint64(lo).Cmp(frac) > 0 || new(big.Rat).SetUint64(hi).Cmp(frac) < 0 {
					t.Fatalf("σ²=%v x=%d: bracket [%#x, %#x] misses frac·2⁶⁴ = %v", s2, x, lo, hi, frac.FloatString(3))
				}
				if hi-lo > (n+1)<<6 { // relative width ≈ 2⁻⁶⁰ of γ·2⁶⁴
					t.Fatalf("σ²=%v x=%d: bracket [%#x, %#x] too wide", s2, x, lo, hi)
				}
			}
		}
		if checked < 19000 {
			t.Errorf("σ²=%v: fast exponent available for only %d of 20000 candidates", s2, checked)
		}
	}
}

type zeros struct{}

func (zeros) Uint64() uint64 { return 0 }

// TestRejectHuge covers candidates beyond int64: they are rejected by their
// first failing Bernoulli(e⁻¹) trial, and if every trial succeeds the
// sampler panics rather than return a wrong value.
func TestRejectHuge(t *testing.T) {
	g, err := NewDiscreteGaussian(seeded(1), new(big.Rat).SetFloat64(0x1p112)) // σ = 2⁵⁶
	if err != nil {
		t.Fatal(err)
	}
	g.rejectHuge(0, 1<<63+5) // γ ≈ 8000: rejected
	g1, _ := NewDiscreteGaussian(seeded(2), big.NewRat(1, 1))
	g1.rejectHuge(1, 0) // |Y| = 2⁶⁴ at σ = 1: ⌊γ⌋ ≈ 2¹²⁶ ≥ 2⁶⁴, rejected
	if g1.accept(1 << 40) {
		t.Error("accept(2^40) at σ = 1 succeeded")
	}

	// All-zero bits make every Bernoulli(e⁻¹) trial succeed.
	gz, _ := NewDiscreteGaussian(zeros{}, new(big.Rat).SetFloat64(0x1p112))
	defer func() {
		if r := recover(); r == nil {
			t.Error("rejectHuge with all trials succeeding did not panic")
		}
	}()
	gz.rejectHuge(0, 1<<63+5)
}
