package dp_test

import (
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/discret-io/discret/privacy/dp"
	"github.com/discret-io/discret/privacy/dp/dptest"
)

func TestBoundContributions(t *testing.T) {
	src := dptest.New(1)
	w := map[string]float64{"a": 5, "b": 1, "c": 3, "d": 3, "e": 0.5}
	got, err := dp.BoundContributions(w, 2, 1, src)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Key != "a" || (got[1].Key != "c" && got[1].Key != "d") {
		t.Fatalf("BoundContributions(k_p=2) = %v, want a then c or d", got)
	}
	// Scaled to ‖x‖₂ = C (here 1): 5 and 3 become 5/√34 and 3/√34.
	if n := math.Hypot(got[0].Value, got[1].Value); n > 1 || n < 1-1e-9 || math.Abs(got[0].Value-5/math.Sqrt(34)) > 1e-12 {
		t.Errorf("BoundContributions values %v, norm %v", got, n)
	}
	// Ties are broken at random: c and d each win about half the time.
	var c int
	const n = 4000
	for range n {
		x, _ := dp.BoundContributions(w, 2, 1, src)
		if x[1].Key == "c" {
			c++
		}
	}
	if math.Abs(float64(c)-n/2) > 5*math.Sqrt(n/4) {
		t.Errorf("tie broken for c %d times in %d", c, n)
	}
	// Within the bound: unchanged.
	small, _ := dp.BoundContributions(map[int]float64{1: 0.3, 2: 0.4}, 5, 1, src)
	if len(small) != 2 || small[0].Value != 0.4 || small[1].Value != 0.3 {
		t.Errorf("BoundContributions(within bound) = %v", small)
	}
	for _, bad := range []struct {
		w  map[int]float64
		kp int
		c  float64
	}{
		{map[int]float64{1: 1}, 0, 1},
		{map[int]float64{1: 1}, 1, 0},
		{map[int]float64{1: -1}, 1, 1},
		{map[int]float64{1: math.NaN()}, 1, 1},
	} {
		if _, err := dp.BoundContributions(bad.w, bad.kp, bad.c, src); err == nil {
			t.Errorf("BoundContributions(%v, %d, %v) succeeded", bad.w, bad.kp, bad.c)
		}
	}
}

func TestCounts(t *testing.T) {
	const keys, z = 5, 3.0
	c, err := dp.NewCounts(keys, 2, 1, z)
	if err != nil {
		t.Fatal(err)
	}
	good := []dp.Contribution[int]{{0, 0.6}, {3, 0.8}}
	for range 1000 {
		if err := c.Add(good); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range [][]dp.Contribution[int]{
		{{5, 0.1}},
		{{-1, 0.1}},
		{{1, 0.1}, {1, 0.1}},
		{{0, 0.1}, {1, 0.1}, {2, 0.1}},
		{{0, 0.8}, {1, 0.8}},
		{{0, math.Inf(1)}},
	} {
		if err := c.Add(bad); !errors.Is(err, dp.ErrContribution) {
			t.Errorf("Counts.Add(%v) error = %v, want ErrContribution", bad, err)
		}
	}
	other, _ := dp.NewCounts(keys, 2, 1, z)
	_ = other.Add([]dp.Contribution[int]{{4, 1}})
	if err := c.Merge(other); err != nil {
		t.Fatal(err)
	}
	mismatch, _ := dp.NewCounts(keys, 3, 1, z)
	if err := c.Merge(mismatch); !errors.Is(err, dp.ErrParam) {
		t.Errorf("Merge(different k_p) error = %v, want ErrParam", err)
	}
	if c.Users() != 1001 {
		t.Errorf("Users() = %d, want 1001", c.Users())
	}
	if rho := c.Rho(); rho > 1/(2*z*z) || rho < 1/(2*z*z)*(1-1e-6) {
		t.Errorf("Counts.Rho() = %v, want ≈ %v", rho, 1/(2*z*z))
	}
	// The noisy totals are around the true ones (σ ≈ 3): 600, 0, 0, 800, 1.
	want := []float64{600, 0, 0, 800, 1}
	const reps = 2000
	mean := make([]float64, keys)
	src := dptest.New(3)
	for range reps {
		out, err := c.Release(src)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range out {
			if v < 0 {
				t.Fatalf("released total %v below 0", v)
			}
			mean[i] += v / reps
		}
	}
	sigma := c.Lattice().Sigma()
	for _, i := range []int{0, 3} { // far from the clamp at 0
		if math.Abs(mean[i]-want[i]) > 5*sigma/math.Sqrt(reps) {
			t.Errorf("mean released total of key %d = %v, want %v ± 5·%.2g", i, mean[i], want[i], sigma/math.Sqrt(reps))
		}
	}
	if _, err := dp.NewCounts(0, 1, 1, 1); !errors.Is(err, dp.ErrParam) {
		t.Errorf("NewCounts(0 keys) error = %v", err)
	}
}

// TestCountsLatticeOfKeyLimit: the lattice of a Counts release, whose
// sensitivity and σ a release publishes, depends on the key limit k_p, not
// on the number of keys n, which may be the number of distinct keys in
// the data.
func TestCountsLatticeOfKeyLimit(t *testing.T) {
	want, err := dp.NewCounts(1000, 40, 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 3, 39, 40, 41} {
		c, err := dp.NewCounts(n, 40, 1, 10)
		if err != nil {
			t.Fatal(err)
		}
		got, w := c.Lattice(), want.Lattice()
		if got.Sigma() != w.Sigma() || got.Sensitivity() != w.Sensitivity() || got.Granularity() != w.Granularity() || got.Rho() != w.Rho() {
			t.Errorf("NewCounts(%d keys, k_p = 40) lattice σ = %v, Δ' = %v, g = %v; want those of 1000 keys, %v, %v, %v",
				n, got.Sigma(), got.Sensitivity(), got.Granularity(), w.Sigma(), w.Sensitivity(), w.Granularity())
		}
	}
}

// F4: Google's Go noise package test vector for the Gaussian threshold.
func TestThresholds(t *testing.T) {
	tests := []struct {
		name  string
		f     func(float64, float64, int, float64) (float64, error)
		scale float64
		linf  float64
		l0    int
		delta float64
		want  float64
		tol   float64
	}{
		// σ = 1, Δ∞ = 1, Δ₀ = 1, δ_τ = 1 − Φ(2) (to 12 digits) → τ = 3.
		{"Gaussian", dp.GaussianThreshold, 1, 1, 1, 0.022750131948, 3, 1e-10},
		// Δ₀ = 5 users' keys: per-key δ = 1 − (1−δ_τ)^(1/5); with δ_τ = 1 −
		// (1−q)⁵ for q = 1 − Φ(2.5), τ = 2 + 0.8·2.5. (Python: 1-(1-0.5*
		// math.erfc(2.5/math.sqrt(2)))**5 = 0.030665114212624633)
		{"Gaussian l0=5", dp.GaussianThreshold, 0.8, 2, 5, 0.030665114212624633, 4, 1e-9},
		// Laplace: τ = Δ∞ − λ ln(2δ_p).
		{"Laplace", dp.LaplaceThreshold, 2, 1, 1, 1e-10, 1 - 2*math.Log(2e-10), 1e-12},
		{"Laplace δ_p > 1/2", dp.LaplaceThreshold, 1, 1, 1, 0.75, 1 + math.Log(0.5), 1e-12},
	}
	for _, tt := range tests {
		got, err := tt.f(tt.scale, tt.linf, tt.l0, tt.delta)
		if err != nil || math.Abs(got-tt.want) > tt.tol*math.Abs(tt.want) {
			t.Errorf("%sThreshold(%v, %v, %d, %v) = %.15g, %v; want %.15g", tt.name, tt.scale, tt.linf, tt.l0, tt.delta, got, err, tt.want)
		}
	}
	if _, err := dp.GaussianThreshold(1, 1, 0, 0.1); !errors.Is(err, dp.ErrParam) {
		t.Errorf("GaussianThreshold(Δ₀=0) error = %v", err)
	}
	if _, err := dp.LaplaceThreshold(1, 1, 1, 1); !errors.Is(err, dp.ErrParam) {
		t.Errorf("LaplaceThreshold(δ=1) error = %v", err)
	}
}

// TestBoundContributionsReproducible: with a seeded source, the result
// depends on the weights and the seed only, not on Go's randomized map
// iteration order (which changes from one range loop to the next).
func TestBoundContributionsReproducible(t *testing.T) {
	ties := map[int]float64{}
	for k := range 200 {
		ties[k] = 1
	}
	mixed := map[string]float64{}
	for k := range 100 {
		mixed[string(rune('a'+k%26))+string(rune('a'+k/26))] = float64(1 + k%3)
	}
	for _, tt := range []struct {
		name string
		run  func(dp.Source) (any, error)
	}{
		{"ties k_p=10", func(src dp.Source) (any, error) { return dp.BoundContributions(ties, 10, 1, src) }},
		{"ties k_p=all", func(src dp.Source) (any, error) { return dp.BoundContributions(ties, 200, 1, src) }},
		{"mixed k_p=40", func(src dp.Source) (any, error) { return dp.BoundContributions(mixed, 40, 2, src) }},
	} {
		want, err := tt.run(dptest.New(7))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		for i := range 20 {
			got, err := tt.run(dptest.New(7))
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: run %d with seed 7 = %v, %v; want %v, as run 1", tt.name, i+2, got, err, want)
			}
		}
	}
}
