package spd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// kernels runs f once with the assembly kernel (when the CPU has one) and
// once with the portable Go kernel.
func kernels(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	saved := hasFMA
	defer func() { hasFMA = saved }()
	for _, fma := range []bool{false, true} {
		if fma && !saved {
			continue
		}
		hasFMA = fma
		t.Run(fmt.Sprintf("fma=%v", fma), f)
	}
}

func randSlice(r *rand.Rand, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = r.NormFloat64()
	}
	return s
}

func TestAddOuter(t *testing.T) {
	kernels(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 31, 32, 33, 64, 65, 100} {
			for _, k := range []int{0, 1, 2, 7, 50} {
				for _, sub := range []bool{false, true} {
					ldc, ldx, ldy := n+3, n+1, n+5
					c := randSlice(r, (n-1)*ldc+n)
					x := randSlice(r, max(0, (k-1)*ldx+n))
					y := randSlice(r, max(0, (k-1)*ldy+n))
					want := append([]float64(nil), c...)
					for i := range n {
						for j := i; j < n; j++ {
							var s float64
							for q := range k {
								s += x[q*ldx+i] * y[q*ldy+j]
							}
							if sub {
								want[i*ldc+j] -= s
							} else {
								want[i*ldc+j] += s
							}
						}
					}
					if sub {
						SubOuter(c, ldc, n, x, ldx, y, ldy, k)
					} else {
						AddOuter(c, ldc, n, x, ldx, y, ldy, k)
					}
					for i := range c {
						if math.Abs(c[i]-want[i]) > 1e-12*(1+math.Abs(want[i])) {
							t.Fatalf("outer(sub=%v, n=%d, k=%d): c[%d] = %v, want %v", sub, n, k, i, c[i], want[i])
						}
					}
				}
			}
		}
	})
}

// TestAddOuterExact checks that integer-valued inputs give exact,
// order-independent sums (the fixed-point use of DP-ALS.md D3.3).
func TestAddOuterExact(t *testing.T) {
	kernels(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		const n, k = 64, 300
		x := make([]float64, k*n)
		for i := range x {
			x[i] = float64(r.IntN(1<<20) - 1<<19)
		}
		c := make([]float64, n*n)
		AddOuter(c, n, n, x, n, x, n, k)
		for i := range n {
			for j := i; j < n; j++ {
				var s int64
				for q := range k {
					s += int64(x[q*n+i]) * int64(x[q*n+j])
				}
				if c[i*n+j] != float64(s) {
					t.Fatalf("AddOuter exact: c[%d][%d] = %v, want %d", i, j, c[i*n+j], s)
				}
			}
		}
	})
}

func TestCholeskySolve(t *testing.T) {
	kernels(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		for _, n := range []int{1, 2, 3, 7, 8, 9, 16, 31, 64, 65, 128} {
			lda := n + 2
			// a = BᵀB + n·I is well conditioned and positive definite.
			bm := mat.NewDense(n, n, randSlice(r, n*n))
			var sym mat.SymDense
			sym.SymOuterK(1, bm.T())
			a := make([]float64, (n-1)*lda+n)
			for i := range n {
				sym.SetSym(i, i, sym.At(i, i)+float64(n))
				for j := i; j < n; j++ {
					a[i*lda+j] = sym.At(i, j)
				}
				for j := 0; j < i; j++ {
					a[i*lda+j] = math.NaN() // the lower triangle must never be read
				}
			}
			rhs := randSlice(r, n)
			var ch mat.Cholesky
			if !ch.Factorize(&sym) {
				t.Fatal("gonum Cholesky failed")
			}
			var want mat.VecDense
			if err := ch.SolveVecTo(&want, mat.NewVecDense(n, append([]float64(nil), rhs...))); err != nil {
				t.Fatal(err)
			}
			if !Cholesky(a, lda, n) {
				t.Fatalf("Cholesky(n=%d) = false, want true", n)
			}
			SolveCholesky(a, lda, n, rhs)
			for i := range n {
				if math.Abs(rhs[i]-want.AtVec(i)) > 1e-10*(1+math.Abs(want.AtVec(i))) {
					t.Fatalf("SolveCholesky(n=%d): x[%d] = %v, want %v", n, i, rhs[i], want.AtVec(i))
				}
			}
		}
	})
}

func TestCholeskyNotPD(t *testing.T) {
	kernels(t, func(t *testing.T) {
		tests := []struct {
			name string
			a    []float64
			n    int
		}{
			{"negative", []float64{-1}, 1},
			{"zero", []float64{0}, 1},
			{"NaN", []float64{math.NaN()}, 1},
			{"indefinite 2x2", []float64{1, 2, 0, 1}, 2},
			{"singular 2x2", []float64{1, 1, 0, 1}, 2},
		}
		for _, tt := range tests {
			if Cholesky(tt.a, tt.n, tt.n) {
				t.Errorf("Cholesky(%s) = true, want false", tt.name)
			}
		}
		// A 20×20 indefinite matrix whose failure is found in a later block.
		n := 20
		a := make([]float64, n*n)
		for i := range n {
			a[i*n+i] = 1
		}
		a[17*n+17] = -1
		if Cholesky(a, n, n) {
			t.Errorf("Cholesky(diag with -1 at 17) = true, want false")
		}
	})
}

func BenchmarkAddOuter(b *testing.B) {
	for _, d := range []int{32, 64, 128} {
		for _, k := range []int{50, 200} {
			b.Run(fmt.Sprintf("factors=%d/rows=%d", d, k), func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 2))
				x := randSlice(r, k*d)
				c := make([]float64, d*d)
				b.ReportAllocs()
				for b.Loop() {
					AddOuter(c, d, d, x, d, x, d, k)
				}
				fma := float64(k*d*(d+1)/2) * float64(b.N)
				b.ReportMetric(fma/b.Elapsed().Seconds()/1e9, "GFMA/s")
			})
		}
	}
}

func BenchmarkCholesky(b *testing.B) {
	for _, d := range []int{32, 64, 128} {
		b.Run(fmt.Sprintf("factors=%d", d), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			x := randSlice(r, 2*d*d)
			a0 := make([]float64, d*d)
			AddOuter(a0, d, d, x, d, x, d, 2*d)
			a := make([]float64, d*d)
			rhs := make([]float64, d)
			b.ReportAllocs()
			for b.Loop() {
				copy(a, a0)
				if !Cholesky(a, d, d) {
					b.Fatal("not PD")
				}
				SolveCholesky(a, d, d, rhs)
			}
		})
	}
}
