package als

import (
	"context"
	"math"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/mat"

	"github.com/discret-io/discret/model/internal/spd"
)

// chunkRows bounds the rows gathered at once into a worker's scratch block
// before a Gram update (128 rows × 64 factors × 8 B = 64 KiB per block).
const chunkRows = 128

// csr is a compressed sparse row matrix with float64 weights.
type csr struct {
	ptr  []int
	cols []int32
	w    []float64
}

func (c *csr) rows() int { return len(c.ptr) - 1 }

// transpose returns the column-major view of c (nCols rows).
func (c *csr) transpose(nCols int) *csr {
	t := &csr{ptr: make([]int, nCols+1), cols: make([]int32, len(c.cols)), w: make([]float64, len(c.w))}
	for _, j := range c.cols {
		t.ptr[j+1]++
	}
	for j := range nCols {
		t.ptr[j+1] += t.ptr[j]
	}
	next := append([]int(nil), t.ptr[:nCols]...)
	for i := range c.rows() {
		for q := c.ptr[i]; q < c.ptr[i+1]; q++ {
			j := c.cols[q]
			t.cols[next[j]] = int32(i)
			t.w[next[j]] = c.w[q]
			next[j]++
		}
	}
	return t
}

// rowProblem is one half-step of ALS: for every row r of a, solve
//
//	(Σ_q a.w[q]·f_{a.cols[q]} f_{a.cols[q]}ᵀ + base + reg[r]·I) x_r = Σ_q a.w[q]·f_{a.cols[q]}
//
// into out[r·d : (r+1)·d] (DP-ALS.md B8.a; B3's item equations without
// noise). Rows with no entries get x_r = 0, the solution of the homogeneous
// system.
type rowProblem struct {
	a       *csr
	reg     []float64
	f       []float64 // factors of the other side, row-major
	base    []float64 // w0·Gram of the other side (d×d, upper triangle)
	out     []float64
	allOnes bool // every weight is 1: skip the weighted copy
}

// scratch is one worker's memory for row solves.
type scratch struct {
	a, keep []float64 // d×d system and its copy for the fallback
	x, y    []float64 // gathered rows and weighted rows, chunkRows×d
	sym     *mat.SymDense
	eig     mat.EigenSym
	q       mat.Dense
	vals    []float64
}

func newScratch(d int) *scratch {
	return &scratch{
		a:    make([]float64, d*d),
		keep: make([]float64, d*d),
		x:    make([]float64, chunkRows*d),
		y:    make([]float64, max(chunkRows, d)*d), // also the d×d PSD projection
		sym:  mat.NewSymDense(d, nil),
		vals: make([]float64, d),
	}
}

// solveRow solves row r of p with the scratch sc. It reports whether the
// system needed the eigenvalue fallback.
func solveRow(p *rowProblem, r, d int, sc *scratch) (fallback bool) {
	dst := p.out[r*d : r*d+d]
	clear(dst)
	lo, hi := p.a.ptr[r], p.a.ptr[r+1]
	if lo == hi {
		return false
	}
	a := sc.a
	copy(a, p.base)
	for i := range d {
		a[i*d+i] += p.reg[r]
	}
	for c0 := lo; c0 < hi; c0 += chunkRows {
		c1 := min(c0+chunkRows, hi)
		n := c1 - c0
		x := sc.x[:n*d]
		for t, j := range p.a.cols[c0:c1] {
			copy(x[t*d:t*d+d], p.f[int(j)*d:int(j)*d+d])
		}
		y := x
		if !p.allOnes {
			y = sc.y[:n*d]
			for t, w := range p.a.w[c0:c1] {
				xr, yr := x[t*d:t*d+d], y[t*d:t*d+d]
				for q := range yr {
					yr[q] = w * xr[q]
				}
			}
		}
		addRows(dst, y, n, d)
		spd.AddOuter(a, d, d, x, d, y, d, n)
	}
	return solveSPD(a, d, dst, sc)
}

// addRows adds the n rows of y (d columns) to dst.
func addRows(dst, y []float64, n, d int) {
	for t := range n {
		yr := y[t*d : t*d+d]
		for q := range dst {
			dst[q] += yr[q]
		}
	}
}

// solveSPD solves a·x = b in place in b for the symmetric matrix a (upper
// triangle, overwritten) by Cholesky. When a is not numerically positive
// definite it falls back to an eigendecomposition with eigenvalues clipped
// from below (eigenSolve) and reports true.
func solveSPD(a []float64, d int, b []float64, sc *scratch) (fallback bool) {
	copy(sc.keep, a)
	if spd.Cholesky(a, d, d) {
		spd.SolveCholesky(a, d, d, b)
		return false
	}
	eigenSolve(sc.keep, d, b, sc)
	return true
}

// eigenSolve solves a·x = b for the symmetric a (upper triangle) after
// raising a's eigenvalues to at least 1e-9·max(1, max |eigenvalue|): the
// solution of the nearest well-conditioned positive-definite system. If a
// holds NaN or ±Inf, b is set to 0.
func eigenSolve(a []float64, d int, b []float64, sc *scratch) {
	if !sc.eigen(a, d) {
		clear(b)
		return
	}
	top := 1.0
	for _, v := range sc.vals {
		top = max(top, math.Abs(v))
	}
	floor := 1e-9 * top
	q := sc.q.RawMatrix()
	c := sc.x[:d] // c = diag(1/max(λ, floor)) Qᵀ b
	for k := range d {
		var s float64
		for i := range d {
			s += q.Data[i*q.Stride+k] * b[i]
		}
		c[k] = s / max(sc.vals[k], floor)
	}
	for i := range d {
		row := q.Data[i*q.Stride : i*q.Stride+d]
		var s float64
		for k, v := range row {
			s += v * c[k]
		}
		b[i] = s
	}
}

// eigen decomposes the symmetric a (upper triangle) into sc.vals and the
// orthonormal eigenvectors sc.q (columns). It reports false if a holds NaN
// or ±Inf or the decomposition does not converge.
func (sc *scratch) eigen(a []float64, d int) bool {
	raw := sc.sym.RawSymmetric()
	for i := range d {
		copy(raw.Data[i*raw.Stride+i:i*raw.Stride+d], a[i*d+i:i*d+d])
		for _, v := range a[i*d+i : i*d+d] {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return false
			}
		}
	}
	if !sc.eig.Factorize(sc.sym, true) {
		return false
	}
	sc.eig.Values(sc.vals)
	sc.eig.VectorsTo(&sc.q)
	return true
}

// projectPSD replaces the symmetric a (upper triangle) by its projection on
// the cone of positive semi-definite matrices, Q·max(Λ, 0)·Qᵀ, the nearest
// PSD matrix in Frobenius norm (Higham 1988; DP-ALS.md B8.d). A matrix with
// NaN or ±Inf becomes 0.
func projectPSD(a []float64, d int, sc *scratch) {
	if !sc.eigen(a, d) {
		clear(a)
		return
	}
	neg := false
	for _, v := range sc.vals {
		if v < 0 {
			neg = true
			break
		}
	}
	if !neg {
		return
	}
	// a = Σ_k max(λ_k, 0) q_k q_kᵀ: gather √λ_k·q_k as rows and add.
	q := sc.q.RawMatrix()
	x := sc.y[:0]
	n := 0
	for k, v := range sc.vals {
		if v <= 0 {
			continue
		}
		s := math.Sqrt(v)
		for i := range d {
			x = append(x, s*q.Data[i*q.Stride+k])
		}
		n++
	}
	for i := range d {
		clear(a[i*d+i : i*d+d])
	}
	spd.AddOuter(a, d, d, x, d, x, d, n)
}

// parallel calls fn(worker, lo, hi) over [0, n) in grains of size grain,
// with at most workers goroutines, until done or ctx is cancelled.
func parallel(ctx context.Context, workers, n, grain int, fn func(w, lo, hi int)) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range min(workers, (n+grain-1)/grain) {
		wg.Go(func() {
			for ctx.Err() == nil {
				lo := int(next.Add(int64(grain))) - grain
				if lo >= n {
					return
				}
				fn(w, lo, min(lo+grain, n))
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}

// gram returns the upper triangle of scale·Σ_r f_r f_rᵀ over the rows of f
// (d columns).
func gram(f []float64, d int, scale float64) []float64 {
	g := make([]float64, d*d)
	rows := len(f) / d
	for r0 := 0; r0 < rows; r0 += 256 {
		n := min(256, rows-r0)
		spd.AddOuter(g, d, d, f[r0*d:], d, f[r0*d:], d, n)
	}
	if scale != 1 {
		for i := range g {
			g[i] *= scale
		}
	}
	return g
}
