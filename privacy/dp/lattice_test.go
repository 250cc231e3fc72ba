package dp_test

import (
	"errors"
	"math"
	"math/big"
	"testing"

	"github.com/discret-io/discret/privacy/dp"
	"github.com/discret-io/discret/privacy/dp/dptest"
)

func TestNewLattice(t *testing.T) {
	tests := []struct {
		name      string
		z, sens   float64
		coords    int
		wantLog2G int // log₂ g
	}{
		// B10 ML-20M ε = 1, R = 0.1, β = 100, d = 32, k = 100.
		{"G", 102.7135, 0.01, dp.SymmetricCoords(32, 1), -32},
		{"S", 10.2714, 0.01 * 10, dp.SymmetricCoords(32, 100), -32},
		{"t", 10.2714, 0.1 * 10, dp.VectorCoords(32, 100), -29},
		{"counts", 20, 1, 100, -28},
		{"tiny", 1, 1e-9, 1, -62},
		{"z·Δ a power of two", 4, 0.25, 1, -32},
	}
	for _, tt := range tests {
		l, err := dp.NewLattice(tt.z, tt.sens, tt.coords)
		if err != nil {
			t.Fatalf("NewLattice(%s): %v", tt.name, err)
		}
		g := l.Granularity()
		if frac, exp := math.Frexp(g); frac != 0.5 || exp-1 != tt.wantLog2G {
			t.Errorf("NewLattice(%s).Granularity() = %v, want 2^%d", tt.name, g, tt.wantLog2G)
		}
		// Δ' = Δ(1+2⁻⁴⁰) + (g/2)√D, never below it, and within a few ulps.
		want := tt.sens*(1+0x1p-40) + g/2*math.Sqrt(float64(tt.coords))
		if d := l.Sensitivity(); d < want || d > want*(1+1e-15) {
			t.Errorf("NewLattice(%s).Sensitivity() = %v, want %v (rounded up)", tt.name, d, want)
		}
		// D3.3: inflation below 1e-4·Δ at these settings.
		if infl := l.Sensitivity()/tt.sens - 1; infl > 1e-4 {
			t.Errorf("NewLattice(%s): inflation %v", tt.name, infl)
		}
		// σ_int ∈ [2³², 2³⁴) and σ_int² ≥ (z·Δ'/g)² exactly: ρ ≤ 1/(2z²).
		s2 := l.Sigma2Int()
		si := l.Sigma() / g
		if si < 1<<32 || si >= 1<<34 {
			t.Errorf("NewLattice(%s): σ/g = %v outside [2^32, 2^34)", tt.name, si)
		}
		zd := new(big.Rat).SetFloat64(tt.z)
		zd.Mul(zd, new(big.Rat).SetFloat64(l.Sensitivity()))
		zd.Quo(zd, new(big.Rat).SetFloat64(g))
		zd.Mul(zd, zd)
		if s2.Cmp(zd) < 0 {
			t.Errorf("NewLattice(%s): σ_int² = %v below (zΔ'/g)² = %v", tt.name, s2.FloatString(3), zd.FloatString(3))
		}
		if rho := l.Rho(); rho > 1/(2*tt.z*tt.z) {
			t.Errorf("NewLattice(%s).Rho() = %v above 1/(2z²) = %v", tt.name, rho, 1/(2*tt.z*tt.z))
		}
	}
	for _, bad := range [][3]float64{{0, 1, 1}, {1, 0, 1}, {1, 1, 0}, {math.NaN(), 1, 1}, {1, math.Inf(1), 1}} {
		if _, err := dp.NewLattice(bad[0], bad[1], int(bad[2])); !errors.Is(err, dp.ErrParam) {
			t.Errorf("NewLattice(%v) error = %v, want ErrParam", bad, err)
		}
	}
}

func TestQuantize(t *testing.T) {
	l, _ := dp.NewLattice(1, 1, 1) // g = 2⁻³²
	g := l.Granularity()
	tests := []struct {
		x    float64
		want int64
		err  bool
	}{
		{0, 0, false},
		{g, 1, false},
		{-3 * g, -3, false},
		{2.4 * g, 2, false},
		{2.6 * g, 3, false},
		{-2.6 * g, -3, false},
		{1, 1 << 32, false},
		{0x1p29, 1 << 61, false},
		{0x1p30, 0, true}, // 2⁶² grid units
		{math.NaN(), 0, true},
		{math.Inf(-1), 0, true},
	}
	for _, tt := range tests {
		got, err := l.Quantize(tt.x)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("Quantize(%v) = %d, %v; want %d, error %v", tt.x, got, err, tt.want, tt.err)
		}
		if err != nil && !errors.Is(err, dp.ErrOverflow) {
			t.Errorf("Quantize(%v) error %v is not ErrOverflow", tt.x, err)
		}
		// Rounding error at most g/2.
		if err == nil && math.Abs(float64(got)*g-tt.x) > g/2 {
			t.Errorf("Quantize(%v) = %d: off by more than g/2", tt.x, got)
		}
	}
}

func TestAccumulate(t *testing.T) {
	l, _ := dp.NewLattice(1, 1, 9)
	g := l.Granularity()
	u := []float64{0.3, -0.2, 0.1}
	sum := make([]int64, dp.PackedLen(3))
	for range 5 {
		if err := l.AccumulateOuter(sum, u, 0.5); err != nil {
			t.Fatal(err)
		}
	}
	for a := range 3 {
		for b := a; b < 3; b++ {
			q, _ := l.Quantize(0.5 * u[a] * u[b])
			if got := sum[dp.PackedIndex(3, a, b)]; got != 5*q {
				t.Errorf("AccumulateOuter: entry (%d, %d) = %d, want %d", a, b, got, 5*q)
			}
		}
	}
	vec := make([]int64, 3)
	if err := l.Accumulate(vec, u, 2); err != nil {
		t.Fatal(err)
	}
	for i := range u {
		if want := math.Round(2 * u[i] / g); float64(vec[i]) != want {
			t.Errorf("Accumulate: coordinate %d = %d, want %v", i, vec[i], want)
		}
	}
	// Merge is order-independent integer addition.
	other := []int64{1, 2, 3}
	if err := dp.MergeSums(vec, other); err != nil || vec[2] != int64(math.Round(0.2/g))+3 {
		t.Errorf("Merge: %v, %v", vec, err)
	}
	// Overflow of a sum fails loudly.
	big := []int64{1<<62 - 10, 0, 0}
	if err := l.Accumulate(big, []float64{1, 0, 0}, 1); !errors.Is(err, dp.ErrOverflow) {
		t.Errorf("Accumulate past 2^62: error %v, want ErrOverflow", err)
	}
	if err := dp.MergeSums([]int64{-(1 << 62) + 1}, []int64{-1}); !errors.Is(err, dp.ErrOverflow) {
		t.Errorf("Merge past -2^62: error %v, want ErrOverflow", err)
	}
	if err := l.AccumulateOuter(make([]int64, 1), []float64{math.NaN()}, 1); !errors.Is(err, dp.ErrOverflow) {
		t.Errorf("AccumulateOuter(NaN): error %v, want ErrOverflow", err)
	}
}

func TestPackedIndex(t *testing.T) {
	for _, d := range []int{1, 2, 5, 32} {
		k := 0
		for a := range d {
			for b := a; b < d; b++ {
				if got := dp.PackedIndex(d, a, b); got != k {
					t.Fatalf("PackedIndex(%d, %d, %d) = %d, want %d", d, a, b, got, k)
				}
				k++
			}
		}
		if k != dp.PackedLen(d) {
			t.Errorf("PackedLen(%d) = %d, want %d", d, dp.PackedLen(d), k)
		}
	}
}

// TestNoiser checks the released values: g·(sum + noise) with noise variance
// σ² on vectors and diagonals and σ²/2 off the diagonal (B8.d), mirrored.
func TestNoiser(t *testing.T) {
	l, err := dp.NewLattice(2, 0.5, dp.SymmetricCoords(4, 1))
	if err != nil {
		t.Fatal(err)
	}
	nz, err := l.NewNoiser(dptest.New(77))
	if err != nil {
		t.Fatal(err)
	}
	const d, reps = 4, 20000
	sums := make([]int64, dp.PackedLen(d))
	for i := range sums {
		sums[i] = int64(i) << 33
	}
	full := make([]float64, d*d)
	packed := make([]float64, len(sums))
	vec := make([]float64, len(sums))
	var diag, off, v [2]float64 // Σ noise², count
	for range reps {
		nz.Symmetric(full, sums, d)
		nz.Packed(packed, sums, d)
		nz.Vector(vec, sums)
		k := 0
		for a := range d {
			for b := a; b < d; b++ {
				if full[a*d+b] != full[b*d+a] {
					t.Fatalf("Symmetric: (%d, %d) = %v, (%d, %d) = %v", a, b, full[a*d+b], b, a, full[b*d+a])
				}
				base := float64(sums[k]) * l.Granularity()
				for _, x := range []float64{full[a*d+b] - base, packed[k] - base} {
					if a == b {
						diag[0] += x * x
						diag[1]++
					} else {
						off[0] += x * x
						off[1]++
					}
				}
				x := vec[k] - base
				v[0] += x * x
				v[1]++
				k++
			}
		}
	}
	s2 := l.Sigma() * l.Sigma()
	for _, c := range []struct {
		name string
		acc  [2]float64
		want float64
	}{{"diagonal", diag, s2}, {"off-diagonal", off, s2 / 2}, {"vector", v, s2}} {
		got := c.acc[0] / c.acc[1]
		se := c.want * math.Sqrt(2/c.acc[1])
		if math.Abs(got-c.want) > 5*se {
			t.Errorf("Noiser %s variance %v, want %v ± 5·%.2g", c.name, got, c.want, se)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { nz.Vector(vec, sums) }); allocs != 0 {
		t.Errorf("Noiser.Vector allocates %v times per call", allocs)
	}
}

func TestNoiserReproducible(t *testing.T) {
	l, _ := dp.NewLattice(10, 1, 8)
	a, _ := l.NewNoiser(dptest.New(5))
	b, _ := l.NewNoiser(dptest.New(5))
	sums := []int64{0, 1, -7, 1 << 40}
	x, y := make([]float64, 4), make([]float64, 4)
	for range 100 {
		a.Vector(x, sums)
		b.Vector(y, sums)
		for i := range x {
			if x[i] != y[i] {
				t.Fatalf("same seed, different release: %v vs %v", x, y)
			}
		}
	}
}
