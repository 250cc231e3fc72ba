package dp

import (
	"errors"
	"fmt"
	"math"
	"math/big"
)

// ErrOverflow is returned when a fixed-point value or sum leaves the safe
// range |v| < 2⁶² (DP-ALS.md D3.3 step 2).
var ErrOverflow = errors.New("dp: fixed-point overflow")

// fixedLimit is the bound on quantized values and sums.
const fixedLimit = 1 << 62

// floatSlack is the relative slack added to Δ' for the floating-point
// rounding of the contributions before quantization (a clipped vector's
// computed entries may exceed its exact bound by a few units in the last
// place).
const floatSlack = 0x1p-40

// Lattice is the fixed-point grid and noise scale of one released statistic
// with L2 sensitivity Δ and noise multiplier z (DP-ALS.md D3.3):
//
//  1. granularity g = 2^(⌊log₂(zΔ)⌋ − 32), a power of two;
//  2. each per-user contribution coordinate is rounded to the nearest
//     multiple of g and summed exactly in int64 (|sum| < 2⁶²);
//  3. rounding can move a user's contribution by at most (g/2)·√D in L2,
//     where D is the weighted number of coordinates one user touches, so
//     the sensitivity used is Δ' = Δ(1+2⁻⁴⁰) + (g/2)√D, rounded up;
//  4. σ = z·Δ', and the noise is N_ℤ(0, σ_int²) in units of g with
//     σ_int² = (σ/g)² rounded up to a float64 and converted exactly to a
//     rational; off-diagonal coordinates of a symmetric matrix get σ_int²/2;
//  5. released coordinate = g·(sum + noise).
//
// D counts each off-diagonal entry of a symmetric matrix that is released
// as its upper triangle twice (its noise has variance σ²/2, which is the
// same as weighting it by √2): use SymmetricCoords and VectorCoords. (The
// note's D = d(d+1)/2 for a Gramian undercounts; d² is the correct weight.)
//
// The noise then makes the release ρ-zCDP with ρ ≤ 1/(2z²) (CKS 2020,
// Theorem 14, applied to the integer sums with sensitivity Δ'/g).
//
// A Lattice is immutable and safe for concurrent use; noise is added by a
// per-goroutine Noiser.
type Lattice struct {
	z, sens   float64
	coords    int
	g, invG   float64
	inflated  float64 // Δ'
	sigma     float64 // z·Δ', rounded up
	sigmaInt2 float64 // (σ/g)², rounded up
}

// SymmetricCoords returns the weighted coordinate count D of blocks
// symmetric d×d matrices released as upper triangles (off-diagonal entries
// count twice): blocks·d². For G use blocks = 1; for S with at most k items
// per user, blocks = k.
func SymmetricCoords(d, blocks int) int { return blocks * d * d }

// VectorCoords returns the coordinate count D of blocks vectors of length d:
// blocks·d (t with at most k items per user: k·d).
func VectorCoords(d, blocks int) int { return blocks * d }

// NewLattice returns the lattice for a statistic with L2 sensitivity Δ > 0,
// noise multiplier z > 0 and D = coords ≥ 1 coordinates touched per user.
func NewLattice(z, sensitivity float64, coords int) (*Lattice, error) {
	var errs []error
	if !(z > 0) || math.IsInf(z, 0) {
		errs = append(errs, fmt.Errorf("%w: lattice: multiplier %v (want finite, > 0)", ErrParam, z))
	}
	if !(sensitivity > 0) || math.IsInf(sensitivity, 0) {
		errs = append(errs, fmt.Errorf("%w: lattice: sensitivity %v (want finite, > 0)", ErrParam, sensitivity))
	}
	if coords < 1 {
		errs = append(errs, fmt.Errorf("%w: lattice: %d coordinates (want ≥ 1)", ErrParam, coords))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	l := &Lattice{z: z, sens: sensitivity, coords: coords}
	_, e := math.Frexp(z * sensitivity) // zΔ = f·2^e, f ∈ [½, 1): ⌊log₂ zΔ⌋ = e−1
	l.g = math.Ldexp(1, e-1-32)
	l.invG = math.Ldexp(1, -(e - 1 - 32))
	// Two ulps up cover the rounding of √D and of the sum.
	dp := sensitivity*(1+floatSlack) + l.g/2*math.Sqrt(float64(coords))
	l.inflated = math.Nextafter(math.Nextafter(dp, math.Inf(1)), math.Inf(1))
	l.sigma = math.Nextafter(z*l.inflated, math.Inf(1))
	si := l.sigma * l.invG // exact: power-of-two scaling
	s2 := si * si
	if math.FMA(si, si, -s2) > 0 { // exact residual of the product
		s2 = math.Nextafter(s2, math.Inf(1))
	}
	l.sigmaInt2 = s2
	if !(s2 <= MaxSigma2) {
		return nil, fmt.Errorf("%w: lattice: σ/g = %v out of range", ErrParam, si)
	}
	return l, nil
}

// Multiplier returns z.
func (l *Lattice) Multiplier() float64 { return l.z }

// Granularity returns g.
func (l *Lattice) Granularity() float64 { return l.g }

// Sensitivity returns the inflated sensitivity Δ'.
func (l *Lattice) Sensitivity() float64 { return l.inflated }

// Sigma returns the noise standard deviation σ = z·Δ' in data units.
func (l *Lattice) Sigma() float64 { return l.sigma }

// Sigma2Int returns σ_int², the exact variance parameter of the integer
// noise on diagonal and vector coordinates.
func (l *Lattice) Sigma2Int() *big.Rat { return new(big.Rat).SetFloat64(l.sigmaInt2) }

// Rho returns the zCDP cost of one release, Δ'²/(2σ²) ≤ 1/(2z²).
func (l *Lattice) Rho() float64 { return GaussianRho(l.inflated, l.sigma) }

// Quantize returns x rounded to the nearest multiple of g, in units of g. It
// fails with ErrOverflow for NaN, ±Inf or |x/g| ≥ 2⁶².
func (l *Lattice) Quantize(x float64) (int64, error) {
	v := math.Round(x * l.invG)
	if !(math.Abs(v) < fixedLimit) {
		return 0, fmt.Errorf("%w: value %v is %v grid units (g = %v)", ErrOverflow, x, v, l.g)
	}
	return int64(v), nil
}

// add adds q to *s, failing if the sum leaves (−2⁶², 2⁶²). |q| < 2⁶² and
// |*s| < 2⁶², so the int64 addition itself cannot wrap.
func addFixed(s *int64, q int64) bool {
	v := *s + q
	if v >= fixedLimit || v <= -fixedLimit {
		return false
	}
	*s = v
	return true
}

// Accumulate adds the quantized coordinates w·x[i] to sum[i]. On error
// (ErrOverflow) sum is partly updated and must be discarded: the release
// cannot be made. It panics if the lengths differ.
func (l *Lattice) Accumulate(sum []int64, x []float64, w float64) error {
	if len(sum) != len(x) {
		panic(fmt.Sprintf("dp: Accumulate: %d sums for %d values", len(sum), len(x)))
	}
	for i, v := range x {
		q, err := l.Quantize(w * v)
		if err != nil {
			return fmt.Errorf("coordinate %d: %w", i, err)
		}
		if !addFixed(&sum[i], q) {
			return fmt.Errorf("coordinate %d: %w: sum leaves ±2^62", i, ErrOverflow)
		}
	}
	return nil
}

// PackedLen returns d(d+1)/2, the length of a packed upper triangle.
func PackedLen(d int) int { return d * (d + 1) / 2 }

// PackedIndex returns the position of entry (a, b), a ≤ b < d, in a packed
// upper triangle stored row by row: (0,0), (0,1), …, (0,d−1), (1,1), ….
func PackedIndex(d, a, b int) int { return a*d - a*(a-1)/2 + b - a }

// AccumulateOuter adds the quantized upper triangle of w·u·uᵀ to the packed
// sum (length PackedLen(len(u))): the contribution of one user to a Gramian
// (w = 1 for G, w = e_ij for S_j; DP-ALS.md B8.c). Errors and panics as
// Accumulate.
func (l *Lattice) AccumulateOuter(sum []int64, u []float64, w float64) error {
	d := len(u)
	if len(sum) != PackedLen(d) {
		panic(fmt.Sprintf("dp: AccumulateOuter: %d sums for dimension %d", len(sum), d))
	}
	k := 0
	for a := range d {
		wa := w * u[a]
		for b := a; b < d; b++ {
			q, err := l.Quantize(wa * u[b])
			if err != nil {
				return fmt.Errorf("entry (%d, %d): %w", a, b, err)
			}
			if !addFixed(&sum[k], q) {
				return fmt.Errorf("entry (%d, %d): %w: sum leaves ±2^62", a, b, ErrOverflow)
			}
			k++
		}
	}
	return nil
}

// MergeSums adds the partial sums src into dst (per-worker accumulators; integer
// addition makes the result independent of the order, DP-ALS.md B12).
func MergeSums(dst, src []int64) error {
	if len(dst) != len(src) {
		panic(fmt.Sprintf("dp: MergeSums: %d and %d sums", len(dst), len(src)))
	}
	for i, v := range src {
		if !addFixed(&dst[i], v) {
			return fmt.Errorf("coordinate %d: %w: sum leaves ±2^62", i, ErrOverflow)
		}
	}
	return nil
}

// Noiser adds the lattice's discrete Gaussian noise to integer sums and
// returns the released float64 values. Each worker goroutine uses its own
// Noiser over its own Source; a Noiser does not allocate per coordinate.
type Noiser struct {
	l         *Lattice
	diag, off *DiscreteGaussian
}

// NewNoiser returns a Noiser drawing from src.
func (l *Lattice) NewNoiser(src Source) (*Noiser, error) {
	diag, err := NewDiscreteGaussianFloat64(src, l.sigmaInt2)
	if err != nil {
		return nil, err
	}
	off, err := NewDiscreteGaussianFloat64(src, l.sigmaInt2/2) // exact halving
	if err != nil {
		return nil, err
	}
	return &Noiser{l: l, diag: diag, off: off}, nil
}

func (n *Noiser) release(sum int64, g *DiscreteGaussian) float64 {
	return n.l.g * float64(sum+g.Sample())
}

// Vector sets dst[i] = g·(sums[i] + N_ℤ(0, σ_int²)). It panics if the
// lengths differ.
func (n *Noiser) Vector(dst []float64, sums []int64) {
	if len(dst) != len(sums) {
		panic(fmt.Sprintf("dp: Noiser.Vector: %d outputs for %d sums", len(dst), len(sums)))
	}
	for i, s := range sums {
		dst[i] = n.release(s, n.diag)
	}
}

// Packed releases a symmetric d×d matrix stored as a packed upper triangle
// (PackedIndex): diagonal entries get N_ℤ(0, σ_int²), off-diagonal entries
// N_ℤ(0, σ_int²/2) (DP-ALS.md B8.d). dst has the same packed layout.
func (n *Noiser) Packed(dst []float64, sums []int64, d int) {
	if len(sums) != PackedLen(d) || len(dst) != len(sums) {
		panic(fmt.Sprintf("dp: Noiser.Packed: %d outputs, %d sums for dimension %d", len(dst), len(sums), d))
	}
	k := 0
	for a := range d {
		dst[k] = n.release(sums[k], n.diag)
		k++
		for b := a + 1; b < d; b++ {
			dst[k] = n.release(sums[k], n.off)
			k++
		}
	}
}

// Symmetric is Packed with a full d×d row-major output (as gonum's
// mat.SymDense uses): entry (a, b) and (b, a) both receive the one noisy
// value of the upper triangle.
func (n *Noiser) Symmetric(dst []float64, sums []int64, d int) {
	if len(sums) != PackedLen(d) || len(dst) != d*d {
		panic(fmt.Sprintf("dp: Noiser.Symmetric: %d outputs, %d sums for dimension %d", len(dst), len(sums), d))
	}
	k := 0
	for a := range d {
		dst[a*d+a] = n.release(sums[k], n.diag)
		k++
		for b := a + 1; b < d; b++ {
			v := n.release(sums[k], n.off)
			dst[a*d+b], dst[b*d+a] = v, v
			k++
		}
	}
}
