// Package spd holds the dense kernels of Discret's alternating least squares:
// weighted Gram (rank-k) updates of a small symmetric matrix and Cholesky
// solves of the symmetric positive-definite d×d systems (d = number of
// factors) that every user solve, item solve and serving-time fold-in needs.
//
// Matrices are row-major float64 slices with an explicit leading dimension
// (row stride, in elements). Symmetric matrices live in their upper triangle:
// the functions here never read or write the strict lower triangle.
//
// On amd64 with AVX2 and FMA the inner loop is a 4×8 register-blocked
// micro-kernel in assembly (the BLAS dsyrk/dgemm blocking of Goto and van de
// Geijn, "Anatomy of High-Performance Matrix Multiplication", ACM TOMS 2008);
// elsewhere, and with the purego build tag, a portable Go kernel computes the
// same sums. When every product and every partial sum is exactly
// representable (the fixed-point lattice of DP-ALS.md D3.3 used by the
// private trainer), both kernels return bit-identical results whatever the
// summation order.
package spd

import "math"

// AddOuter adds Σ_{r<k} x_r y_rᵀ to the upper triangle of the n×n matrix c:
//
//	c[i·ldc+j] += Σ_{r<k} x[r·ldx+i] · y[r·ldy+j]   for 0 ≤ i ≤ j < n.
//
// With y_r = w_r·x_r it is the weighted Gram update Σ_r w_r x_r x_rᵀ (BLAS
// dsyrk when w ≡ 1). It panics if a slice is too short for its shape.
func AddOuter(c []float64, ldc, n int, x []float64, ldx int, y []float64, ldy int, k int) {
	outer(false, c, ldc, n, x, ldx, y, ldy, k)
}

// SubOuter is AddOuter with the sum subtracted from c.
func SubOuter(c []float64, ldc, n int, x []float64, ldx int, y []float64, ldy int, k int) {
	outer(true, c, ldc, n, x, ldx, y, ldy, k)
}

func outer(sub bool, c []float64, ldc, n int, x []float64, ldx int, y []float64, ldy int, k int) {
	if n <= 0 || k <= 0 {
		return
	}
	if ldc < n || ldx < n || ldy < n || len(c) < (n-1)*ldc+n || len(x) < (k-1)*ldx+n || len(y) < (k-1)*ldy+n {
		panic("spd: slice too short for its shape")
	}
	var tmp [32]float64
	for i0 := 0; i0 < n; i0 += 4 {
		for j0 := i0 &^ 7; j0 < n; j0 += 8 {
			full := i0+4 <= n && j0+8 <= n
			switch {
			case full && j0 >= i0+3: // the whole block is in the upper triangle
				kern(sub, k, x[i0:], ldx, y[j0:], ldy, c[i0*ldc+j0:], ldc)
			case full: // the block straddles the diagonal
				tmp = [32]float64{}
				kern(false, k, x[i0:], ldx, y[j0:], ldy, tmp[:], 8)
				for i := range 4 {
					row := c[(i0+i)*ldc:]
					for j := max(0, i0+i-j0); j < 8; j++ {
						if sub {
							row[j0+j] -= tmp[i*8+j]
						} else {
							row[j0+j] += tmp[i*8+j]
						}
					}
				}
			default: // a partial block at the right or bottom edge
				for i := i0; i < min(i0+4, n); i++ {
					for j := max(i, j0); j < min(j0+8, n); j++ {
						var s float64
						for r := range k {
							s += x[r*ldx+i] * y[r*ldy+j]
						}
						if sub {
							c[i*ldc+j] -= s
						} else {
							c[i*ldc+j] += s
						}
					}
				}
			}
		}
	}
}

// kern runs the 4×8 micro-kernel C[0:4][0:8] ±= Σ_{r<k} x[r·ldx:+4] ⊗ y[r·ldy:+8].
// The caller has checked the bounds.
func kern(sub bool, k int, x []float64, ldx int, y []float64, ldy int, c []float64, ldc int) {
	if hasFMA {
		if sub {
			kernSub4x8(k, &x[0], ldx, &y[0], ldy, &c[0], ldc)
		} else {
			kernAdd4x8(k, &x[0], ldx, &y[0], ldy, &c[0], ldc)
		}
		return
	}
	goKern(sub, k, x, ldx, y, ldy, c, ldc)
}

// goKern is the portable micro-kernel.
func goKern(sub bool, k int, x []float64, ldx int, y []float64, ldy int, c []float64, ldc int) {
	var acc [4][8]float64
	for r := range k {
		xr := x[r*ldx : r*ldx+4]
		yr := y[r*ldy : r*ldy+8]
		for i, xi := range xr {
			a := &acc[i]
			a[0] += xi * yr[0]
			a[1] += xi * yr[1]
			a[2] += xi * yr[2]
			a[3] += xi * yr[3]
			a[4] += xi * yr[4]
			a[5] += xi * yr[5]
			a[6] += xi * yr[6]
			a[7] += xi * yr[7]
		}
	}
	for i := range 4 {
		row := c[i*ldc : i*ldc+8]
		for j := range 8 {
			if sub {
				row[j] -= acc[i][j]
			} else {
				row[j] += acc[i][j]
			}
		}
	}
}

// cholBlock is the block size of Cholesky: rows are factored eight at a
// time and the trailing matrix is updated with SubOuter.
const cholBlock = 8

// Cholesky overwrites the upper triangle of the symmetric n×n matrix a with
// the factor U of a = UᵀU (right-looking blocked algorithm; Golub & Van Loan,
// Matrix Computations, 4th ed., Alg. 4.2.1 and §4.2.9). It reports false when
// a is not positive definite (a pivot is not > 0, or is NaN); a is then
// partially overwritten.
func Cholesky(a []float64, lda, n int) bool {
	if n <= 0 {
		return true
	}
	if lda < n || len(a) < (n-1)*lda+n {
		panic("spd: slice too short for its shape")
	}
	for k0 := 0; k0 < n; k0 += cholBlock {
		k1 := min(k0+cholBlock, n)
		for p := k0; p < k1; p++ {
			row := a[p*lda : p*lda+n]
			d := row[p]
			if !(d > 0) || math.IsInf(d, 1) {
				return false
			}
			d = math.Sqrt(d)
			row[p] = d
			inv := 1 / d
			rest := row[p+1:]
			for j := range rest {
				rest[j] *= inv
			}
			for q := p + 1; q < k1; q++ {
				f := row[q]
				rq := a[q*lda+q : q*lda+n]
				rp := row[q:n]
				for j := range rq {
					rq[j] -= f * rp[j]
				}
			}
		}
		if k1 < n {
			panel := a[k0*lda+k1:]
			SubOuter(a[k1*lda+k1:], lda, n-k1, panel, lda, panel, lda, k1-k0)
		}
	}
	return true
}

// SolveCholesky solves UᵀU x = b for x, given the factor U from Cholesky,
// overwriting b with x.
func SolveCholesky(u []float64, ldu, n int, b []float64) {
	if n <= 0 {
		return
	}
	if ldu < n || len(u) < (n-1)*ldu+n || len(b) < n {
		panic("spd: slice too short for its shape")
	}
	b = b[:n]
	for p := range n { // Uᵀ y = b
		row := u[p*ldu : p*ldu+n]
		b[p] /= row[p]
		f := b[p]
		rest, bs := row[p+1:], b[p+1:]
		for j := range rest {
			bs[j] -= f * rest[j]
		}
	}
	for p := n - 1; p >= 0; p-- { // U x = y
		row := u[p*ldu : p*ldu+n]
		b[p] = (b[p] - dot(row[p+1:], b[p+1:])) / row[p]
	}
}

// dot returns Σ x[i]·y[i] over len(x) with four independent partial sums
// (the latency of one accumulation chain would dominate otherwise).
func dot(x, y []float64) float64 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}
