package dp_test

import (
	"fmt"
	"math"
	"sync"

	"github.com/discret-io/discret/privacy/dp"
	"github.com/discret-io/discret/privacy/dp/dptest"
)

// Calibrate a DP-ALS run (DP-ALS.md B10, the ML-20M ε = 1 reference
// setting) and state its guarantee.
func ExampleCalibrate() {
	cal, err := dp.Calibrate(dp.CalibrationConfig{
		Epsilon: 1, Delta: 8e-6, Steps: 3, Beta: 100,
		CountMultiplier: 20, Gravity: true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("ρ_tot = %.6f, z_G = %.4f, z_S = z_t = %.4f\n", cal.RhoTotal, cal.ZG, cal.ZS)
	st, _ := cal.Ledger.Statement(8e-6)
	fmt.Printf("ε = %.4f (RDP, α = %.1f), %.4f (simple zCDP), %.4f (exact Gaussian)\n",
		st.Epsilon, st.Alpha, st.EpsilonSimple, st.EpsilonGaussian)
	// Output:
	// ρ_tot = 0.029828, z_G = 102.7135, z_S = z_t = 10.2714
	// ε = 1.0000 (RDP, α = 18.2), 1.2132 (simple zCDP), 0.9164 (exact Gaussian)
}

// Release a noisy Gramian G = Σ u uᵀ and a vector t = Σ e·u through the
// lattice, accumulated by parallel workers (DP-ALS.md B8, D3.3).
func ExampleLattice() {
	const d, R = 3, 0.1
	users := [][]float64{{0.05, 0.02, -0.07}, {0.1, 0, 0}, {-0.03, 0.06, 0.01}, {0.02, 0.02, 0.02}}

	latG, err := dp.NewLattice(100, R*R, dp.SymmetricCoords(d, 1))
	if err != nil {
		fmt.Println(err)
		return
	}
	// Per-worker fixed-point partial sums, merged in any order.
	const workers = 2
	partial := make([][]int64, workers)
	var wg sync.WaitGroup
	for w := range workers {
		partial[w] = make([]int64, dp.PackedLen(d))
		wg.Go(func() {
			for i := w; i < len(users); i += workers {
				if err := latG.AccumulateOuter(partial[w], users[i], 1); err != nil {
					panic(err) // overflow: the release must not be made
				}
			}
		})
	}
	wg.Wait()
	sum := make([]int64, dp.PackedLen(d))
	for _, p := range partial {
		if err := dp.MergeSums(sum, p); err != nil {
			fmt.Println(err)
			return
		}
	}

	// Production: src := dp.NewRand(), and dp.CheckProduction(src) == nil.
	src := dptest.New(1)
	noiser, err := latG.NewNoiser(src)
	if err != nil {
		fmt.Println(err)
		return
	}
	G := make([]float64, d*d) // row-major, as mat.NewSymDense(d, G) takes it
	noiser.Symmetric(G, sum, d)

	fmt.Printf("granularity 2^%d, σ = %.4f, ρ ≤ %.2e\n", int(math.Log2(latG.Granularity())), latG.Sigma(), latG.Rho())
	fmt.Println("symmetric:", G[1] == G[3], "randomness:", dp.KindOf(src))
	// Output:
	// granularity 2^-32, σ = 1.0000, ρ ≤ 5.00e-05
	// symmetric: true randomness: test-seeded
}

// Bound one user's purchases and release popularity over a public catalogue
// (DP-ALS.md F).
func ExampleCounts() {
	src := dptest.New(2)
	counts, _ := dp.NewCounts(4, 2, 1, 5) // 4 items, k_p = 2, C = 1, z = 5
	for _, bought := range []map[int]float64{{0: 1, 2: 1, 3: 1}, {0: 1}, {0: 2, 1: 1}} {
		x, _ := dp.BoundContributions(bought, 2, 1, src)
		if err := counts.Add(x); err != nil {
			fmt.Println(err)
			return
		}
	}
	noisy, _ := counts.Release(src)
	fmt.Println(len(noisy), "noisy totals, σ =", fmt.Sprintf("%.2f", counts.Lattice().Sigma()))
	// Output:
	// 4 noisy totals, σ = 5.00
}
