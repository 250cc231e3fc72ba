package dp

import (
	"math/big"
	"testing"
)

// FuzzDyad checks that the interval arithmetic brackets exact products and
// quotients of arbitrary 128-bit integers.
func FuzzDyad(f *testing.F) {
	f.Add(uint64(0), uint64(1), uint64(0), uint64(3))
	f.Add(^uint64(0), ^uint64(0), uint64(1), uint64(0))
	f.Add(uint64(1<<63), uint64(0), uint64(0), uint64(1<<63))
	f.Fuzz(func(t *testing.T, ah, al, bh, bl uint64) {
		if bh == 0 && bl == 0 {
			bl = 1
		}
		checkDyadOps(t, ah, al, bh, bl)
	})
}

// FuzzLessFixed checks the fast comparison against the exact interval rule
// for a fuzzed rational p = num/den, bracket widening and random stream.
func FuzzLessFixed(f *testing.F) {
	f.Add(uint64(1), uint64(2), uint64(0), uint64(0), uint64(1))
	f.Add(uint64(1), uint64(3), uint64(1), uint64(2), uint64(7))
	f.Add(uint64(0x5e2d58d8b3bcdf1a), uint64(1<<63), uint64(0), uint64(0), uint64(3))
	f.Fuzz(func(t *testing.T, num, den, wlo, whi, seed uint64) {
		if den == 0 {
			return
		}
		num %= den
		p := new(big.Rat).SetFrac(new(big.Int).SetUint64(num), new(big.Int).SetUint64(den))
		lo, mode := fracFixed(p)
		hi := lo
		if wlo%8 != 0 || whi%8 != 0 {
			wlo, whi = wlo%8, whi%8
			if lo >= wlo {
				lo -= wlo
			}
			if hi+whi >= hi {
				hi += whi
			}
			mode = fixBounds
		}
		fs, es := &counting{src: seeded(seed)}, &counting{src: seeded(seed)}
		fast, exact := &sampler{src: fs}, &sampler{src: es}
		fast.setRat(p)
		fast.k = 1
		got := fast.lessFixed(lo, hi, mode)
		want := exact.lessRat(p, 0, 0)
		if got != want || fs.n != es.n || fast.nbuf != exact.nbuf {
			t.Fatalf("p=%v [%#x, %#x] mode %d: fast %v (%d words, %d bits left), exact %v (%d words, %d bits left)",
				p, lo, hi, mode, got, fs.n, fast.nbuf, want, es.n, exact.nbuf)
		}
	})
}

// FuzzGamma checks the fast acceptance exponent of the discrete Gaussian
// against the exact one for a fuzzed σ² = num/den·2^shift and candidate x.
func FuzzGamma(f *testing.F) {
	f.Add(uint64(1), uint64(1), uint8(0), uint64(3))
	f.Add(uint64(3602879701896397), uint64(1), uint8(52), uint64(40))
	f.Add(uint64(1)<<52|12345, uint64(1), uint8(130), uint64(1<<34))
	f.Fuzz(func(t *testing.T, num, den uint64, shift uint8, x uint64) {
		if num == 0 || den == 0 {
			return
		}
		s2 := new(big.Rat).SetFrac(new(big.Int).SetUint64(num), new(big.Int).SetUint64(den))
		s2.Mul(s2, ratPow2(int(shift%160)-60))
		g, err := NewDiscreteGaussian(seeded(1), s2)
		if err != nil || !g.fast {
			return
		}
		x %= 1 << 62
		n, lo, hi, mode, ok := g.gammaFast(x)
		if !ok {
			return
		}
		en, nBig, elo, emode := g.gammaExact(new(big.Int).SetUint64(x))
		if nBig != nil || n != en {
			t.Fatalf("σ²=%v x=%d: n = %d, exact %d (%v)", s2, x, n, en, nBig)
		}
		frac := new(big.Rat).SetFrac(new(big.Int).Lsh(&g.r, 64), &g.m2B)
		switch mode {
		case fixBounds:
			if new(big.Rat).SetUint64(lo).Cmp(frac) > 0 || new(big.Rat).SetUint64(hi).Cmp(frac) < 0 {
				t.Fatalf("σ²=%v x=%d: [%#x, %#x] misses %v", s2, x, lo, hi, frac.FloatString(3))
			}
		default:
			if lo != elo || hi != lo || mode != emode {
				t.Fatalf("σ²=%v x=%d: (%#x, %d), exact (%#x, %d)", s2, x, lo, mode, elo, emode)
			}
		}
	})
}
