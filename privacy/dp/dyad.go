package dp

import (
	"math/big"
	"math/bits"
)

// dyad is the dyadic number m·2^e with a 64-bit mantissa, normalized so that
// m == 0 or m ≥ 2^63. It is the number type of the interval arithmetic that
// brackets the acceptance exponent of the discrete Gaussian sampler: every
// operation takes a rounding direction and rounds the exact result down or up
// to the next representable value, so a chain of "down" operations yields a
// lower bound and a chain of "up" operations an upper bound of the exact
// value. No floating point is involved.
type dyad struct {
	m uint64
	e int
}

// bump returns m+1 at exponent e, renormalizing when m+1 overflows.
func bump(m uint64, e int) (uint64, int) {
	m++
	if m == 0 {
		return 1 << 63, e + 1
	}
	return m, e
}

// dyadFrom128 returns the 128-bit integer hi·2^64+lo rounded down (up ==
// false) or up to a dyad.
func dyadFrom128(hi, lo uint64, up bool) dyad {
	if hi == 0 {
		if lo == 0 {
			return dyad{}
		}
		s := bits.LeadingZeros64(lo)
		return dyad{lo << s, -s}
	}
	s := uint(bits.LeadingZeros64(hi))
	m := hi<<s | lo>>(64-s) // lo>>64 == 0 when s == 0
	rest := lo << s
	e := 64 - int(s)
	if up && rest != 0 {
		m, e = bump(m, e)
	}
	return dyad{m, e}
}

// dyadFromBig returns the non-negative integer x rounded down or up to a dyad.
func dyadFromBig(x *big.Int, up bool) dyad {
	n := x.BitLen()
	if n == 0 {
		return dyad{}
	}
	if n <= 64 {
		v := x.Uint64()
		s := bits.LeadingZeros64(v)
		return dyad{v << s, -s}
	}
	shift := uint(n - 64)
	m := new(big.Int).Rsh(x, shift).Uint64()
	e := int(shift)
	if up && x.TrailingZeroBits() < shift {
		m, e = bump(m, e)
	}
	return dyad{m, e}
}

// mulDyad returns a·b rounded down or up.
func mulDyad(a, b dyad, up bool) dyad {
	if a.m == 0 || b.m == 0 {
		return dyad{}
	}
	hi, lo := bits.Mul64(a.m, b.m)
	d := dyadFrom128(hi, lo, up)
	d.e += a.e + b.e
	return d
}

// divDyad returns a/b rounded down or up. b must not be zero.
func divDyad(a, b dyad, up bool) dyad {
	if a.m == 0 {
		return dyad{}
	}
	var q, r uint64
	e := a.e - b.e
	if a.m < b.m {
		// a.m·2^64/b.m ∈ [2^63, 2^64): normalized.
		q, r = bits.Div64(a.m, 0, b.m)
		e -= 64
	} else {
		// a.m/b.m ∈ [1, 2), so a.m·2^63/b.m ∈ [2^63, 2^64), and the high
		// word a.m>>1 is below b.m as Div64 requires.
		q, r = bits.Div64(a.m>>1, a.m<<63, b.m)
		e -= 63
	}
	if up && r != 0 {
		q, e = bump(q, e)
	}
	return dyad{q, e}
}

// fixed returns d·2^f rounded down or up to an integer, as a 128-bit value
// hi·2^64+lo. ok is false when the result does not fit in 128 bits.
func (d dyad) fixed(f int, up bool) (hi, lo uint64, ok bool) {
	if d.m == 0 {
		return 0, 0, true
	}
	s := d.e + f
	switch {
	case s > 64:
		return 0, 0, false
	case s == 64:
		return d.m, 0, true
	case s >= 0:
		return d.m >> (64 - uint(s)), d.m << uint(s), true
	case s > -64:
		t := uint(-s)
		lo = d.m >> t
		if up && d.m<<(64-t) != 0 {
			lo++ // lo < 2^63 here, no overflow
		}
		return 0, lo, true
	default: // 0 < d < 1 after scaling
		if up {
			return 0, 1, true
		}
		return 0, 0, true
	}
}

// rat returns the exact value of d (for tests and diagnostics).
func (d dyad) rat() *big.Rat {
	r := new(big.Rat).SetInt(new(big.Int).SetUint64(d.m))
	p := new(big.Int).Lsh(big.NewInt(1), uint(abs(d.e)))
	if d.e >= 0 {
		return r.Mul(r, new(big.Rat).SetInt(p))
	}
	return r.Quo(r, new(big.Rat).SetInt(p))
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
