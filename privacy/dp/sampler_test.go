package dp_test

import (
	"errors"
	"math"
	"math/big"
	"sync"
	"testing"

	"github.com/discret-io/discret/privacy/dp"
	"github.com/discret-io/discret/privacy/dp/dptest"
)

// The statistical tests of DP-ALS.md D5. They use fixed seeds, so they are
// deterministic; thresholds are set at tail probabilities of about 1e-6 so
// that a change of seed does not make them flaky, and each test also checks
// that it rejects a slightly wrong distribution, to show it has power.

// chi2Crit returns the χ² critical value with df degrees of freedom at the
// upper tail probability Φ(−z), by the Wilson–Hilferty approximation.
func chi2Crit(df int, z float64) float64 {
	k := float64(df)
	a := 2 / (9 * k)
	return k * math.Pow(1-a+z*math.Sqrt(a), 3)
}

// dgaussPMF returns the probabilities of N_ℤ(0, σ²) on [−m, m] (index x+m),
// normalized over |x| ≤ m with m far in the tail.
func dgaussPMF(sigma2 float64, m int) []float64 {
	p := make([]float64, 2*m+1)
	var z float64
	for x := -m; x <= m; x++ {
		v := math.Exp(-float64(x) * float64(x) / (2 * sigma2))
		p[x+m] = v
		z += v
	}
	for i := range p {
		p[i] /= z
	}
	return p
}

// chi2 returns the χ² statistic of counts (index x+m, out-of-range samples
// in the tail bins) against pmf, merging tails into bins of expected count
// ≥ 20, and the degrees of freedom.
func chi2(counts []int, pmf []float64, n int) (stat float64, df int) {
	type bin struct{ obs, exp float64 }
	var bins []bin
	var cur bin
	for i := range pmf {
		cur.obs += float64(counts[i])
		cur.exp += pmf[i] * float64(n)
		if cur.exp >= 20 {
			bins = append(bins, cur)
			cur = bin{}
		}
	}
	if cur.exp > 0 || cur.obs > 0 {
		if len(bins) > 0 {
			bins[len(bins)-1].obs += cur.obs
			bins[len(bins)-1].exp += cur.exp
		} else {
			bins = append(bins, cur)
		}
	}
	for _, b := range bins {
		d := b.obs - b.exp
		stat += d * d / b.exp
	}
	return stat, len(bins) - 1
}

func TestDiscreteGaussianChi2(t *testing.T) {
	n := 400000
	if testing.Short() {
		n = 100000
	}
	for i, sigma := range []float64{0.5, 1, 3, 10} {
		g, err := dp.NewDiscreteGaussianFloat64(dptest.New(uint64(100+i)), sigma*sigma)
		if err != nil {
			t.Fatal(err)
		}
		m := int(12*sigma) + 6
		counts := make([]int, 2*m+1)
		for range n {
			x := g.Sample()
			if x < -int64(m) || x > int64(m) {
				t.Fatalf("σ=%v: sample %d beyond 12σ", sigma, x)
			}
			counts[x+int64(m)]++
		}
		stat, df := chi2(counts, dgaussPMF(sigma*sigma, m), n)
		if crit := chi2Crit(df, 4.75); stat > crit {
			t.Errorf("σ=%v: χ² = %.1f with %d df, above %.1f (p ≈ 1e-6)", sigma, stat, df, crit)
		}
		// Power: the same samples must reject σ off by 2 %.
		wrong, wdf := chi2(counts, dgaussPMF(sigma*sigma*1.04, m), n)
		if crit := chi2Crit(wdf, 4.75); wrong <= crit && sigma >= 1 {
			t.Errorf("σ=%v: χ² against σ·1.02 = %.1f with %d df, not above %.1f: the test has no power", sigma, wrong, wdf, crit)
		}
	}
}

// TestDiscreteGaussianMoments checks mean and variance at the lattice scale
// of training (σ_int ≈ 2³²) and at 2²⁰, within 5 standard errors.
func TestDiscreteGaussianMoments(t *testing.T) {
	n := 200000
	if testing.Short() {
		n = 50000
	}
	for i, sigma := range []float64{1 << 20, 1 << 32, 1.37 * (1 << 32)} {
		g, err := dp.NewDiscreteGaussianFloat64(dptest.New(uint64(200+i)), sigma*sigma)
		if err != nil {
			t.Fatal(err)
		}
		var s, s2 float64
		var pos, neg int
		for range n {
			x := float64(g.Sample())
			s += x
			s2 += x * x
			switch {
			case x > 0:
				pos++
			case x < 0:
				neg++
			}
		}
		mean := s / float64(n)
		variance := s2/float64(n) - mean*mean
		seMean := sigma / math.Sqrt(float64(n))
		seVar := sigma * sigma * math.Sqrt(2/float64(n))
		if math.Abs(mean) > 5*seMean {
			t.Errorf("σ=%v: mean %v, more than 5 standard errors (%v) from 0", sigma, mean, seMean)
		}
		if math.Abs(variance-sigma*sigma) > 5*seVar {
			t.Errorf("σ=%v: variance/σ² = %v, more than 5 standard errors (%v) from 1", sigma, variance/(sigma*sigma), seVar/(sigma*sigma))
		}
		if d := math.Abs(float64(pos - neg)); d > 5*math.Sqrt(float64(pos+neg)) {
			t.Errorf("σ=%v: %d positive and %d negative samples", sigma, pos, neg)
		}
		// Power: a 1 % error in σ would be visible.
		if math.Abs(variance-1.0201*sigma*sigma) <= 5*seVar {
			t.Errorf("σ=%v: variance test cannot tell σ from 1.01σ", sigma)
		}
	}
}

// TestDiscreteGaussianSymmetry compares the histogram of x > 0 with the
// histogram of −x (a two-sample χ² test) at small σ, where an asymmetry
// in the handling of 0 or of the sign would show.
func TestDiscreteGaussianSymmetry(t *testing.T) {
	n := 300000
	for i, sigma := range []float64{0.5, 1.5, 7} {
		g, _ := dp.NewDiscreteGaussianFloat64(dptest.New(uint64(300+i)), sigma*sigma)
		m := int(10*sigma) + 5
		pos, neg := make([]float64, m+1), make([]float64, m+1)
		for range n {
			x := g.Sample()
			switch {
			case x > 0:
				pos[min(int(x), m)]++
			case x < 0:
				neg[min(int(-x), m)]++
			}
		}
		var stat float64
		var df int
		for k := 1; k <= m; k++ {
			if s := pos[k] + neg[k]; s >= 20 {
				d := pos[k] - neg[k]
				stat += d * d / s
				df++
			}
		}
		if crit := chi2Crit(df, 4.75); stat > crit {
			t.Errorf("σ=%v: symmetry χ² = %.1f with %d df, above %.1f", sigma, stat, df, crit)
		}
	}
}

func TestBernoulliExpFrequencies(t *testing.T) {
	const n = 100000
	s := dp.NewSampler(dptest.New(400))
	for _, gamma := range []*big.Rat{big.NewRat(0, 1), big.NewRat(1, 2), big.NewRat(1, 1), big.NewRat(5, 2), big.NewRat(1, 3)} {
		g, _ := gamma.Float64()
		p := math.Exp(-g)
		var k int
		for range n {
			if s.BernoulliExp(gamma) {
				k++
			}
		}
		se := math.Sqrt(p * (1 - p) / n)
		if f := float64(k) / n; math.Abs(f-p) > 5*se || (p == 1 && k != n) {
			t.Errorf("BernoulliExp(%v): frequency %v, want %v ± 5·%.2g", gamma, f, p, se)
		}
	}
	for _, p := range []*big.Rat{big.NewRat(0, 1), big.NewRat(1, 3), big.NewRat(1, 2), big.NewRat(999, 1000), big.NewRat(1, 1)} {
		pf, _ := p.Float64()
		var k int
		for range n {
			if s.Bernoulli(p) {
				k++
			}
		}
		se := math.Sqrt(pf * (1 - pf) / n)
		if f := float64(k) / n; math.Abs(f-pf) > 5*se || (pf == 0 && k != 0) || (pf == 1 && k != n) {
			t.Errorf("Bernoulli(%v): frequency %v, want %v ± 5·%.2g", p, f, pf, se)
		}
	}
}

func TestDiscreteLaplaceChi2(t *testing.T) {
	const n = 200000
	s := dp.NewSampler(dptest.New(500))
	for _, scale := range []uint64{1, 3, 20} {
		m := int(20*scale) + 10
		pmf := make([]float64, 2*m+1)
		var z float64
		for x := -m; x <= m; x++ {
			pmf[x+m] = math.Exp(-math.Abs(float64(x)) / float64(scale))
			z += pmf[x+m]
		}
		for i := range pmf {
			pmf[i] /= z
		}
		counts := make([]int, 2*m+1)
		for range n {
			x := s.DiscreteLaplace(scale)
			counts[max(-m, min(m, int(x)))+m]++
		}
		stat, df := chi2(counts, pmf, n)
		if crit := chi2Crit(df, 4.75); stat > crit {
			t.Errorf("DiscreteLaplace(%d): χ² = %.1f with %d df, above %.1f", scale, stat, df, crit)
		}
	}
}

func TestUniform(t *testing.T) {
	const n = 120000
	s := dp.NewSampler(dptest.New(600))
	for _, k := range []uint64{1, 3, 10, 1<<63 + 5} {
		bins := 10
		counts := make([]int, bins)
		for range n {
			u := s.Uniform(k)
			if u >= k {
				t.Fatalf("Uniform(%d) = %d", k, u)
			}
			counts[int(float64(u)/float64(k)*float64(bins))]++
		}
		if k < 10 {
			continue
		}
		pmf := make([]float64, bins)
		for i := range pmf {
			pmf[i] = 1 / float64(bins)
		}
		if stat, df := chi2(counts, pmf, n); stat > chi2Crit(df, 4.75) {
			t.Errorf("Uniform(%d): χ² = %.1f with %d df", k, stat, df)
		}
	}
}

// TestReproducible: the same test seed gives the same samples (D5 v).
func TestReproducible(t *testing.T) {
	for _, s2 := range []float64{0.25, 100, 1 << 64} {
		a, _ := dp.NewDiscreteGaussianFloat64(dptest.New(42), s2)
		b, _ := dp.NewDiscreteGaussianFloat64(dptest.New(42), s2)
		c, _ := dp.NewDiscreteGaussianFloat64(dptest.New(43), s2)
		same := true
		for i := range 1000 {
			x, y, z := a.Sample(), b.Sample(), c.Sample()
			if x != y {
				t.Fatalf("σ²=%v: sample %d differs with the same seed: %d, %d", s2, i, x, y)
			}
			same = same && x == z
		}
		if same {
			t.Errorf("σ²=%v: seeds 42 and 43 give the same 1000 samples", s2)
		}
	}
}

// TestParallelSamplers runs one sampler per goroutine over streams derived
// from one test seed (run with -race): results are reproducible per worker.
func TestParallelSamplers(t *testing.T) {
	run := func() [][]int64 {
		streams, err := dp.Streams(dptest.New(7), 4)
		if err != nil {
			t.Fatal(err)
		}
		out := make([][]int64, len(streams))
		var wg sync.WaitGroup
		for w, src := range streams {
			wg.Go(func() {
				g, err := dp.NewDiscreteGaussianFloat64(src, 1<<64)
				if err != nil {
					t.Error(err)
					return
				}
				for range 2000 {
					out[w] = append(out[w], g.Sample())
				}
			})
		}
		wg.Wait()
		return out
	}
	a, b := run(), run()
	for w := range a {
		for i := range a[w] {
			if a[w][i] != b[w][i] {
				t.Fatalf("worker %d sample %d: %d then %d", w, i, a[w][i], b[w][i])
			}
		}
		if w > 0 && a[w][0] == a[0][0] && a[w][1] == a[0][1] {
			t.Errorf("workers 0 and %d share a stream", w)
		}
	}
}

func TestNewDiscreteGaussianErrors(t *testing.T) {
	src := dptest.New(1)
	for _, s2 := range []float64{0, -1, math.NaN(), math.Inf(1), 0x1p113} {
		if _, err := dp.NewDiscreteGaussianFloat64(src, s2); !errors.Is(err, dp.ErrSigma2) {
			t.Errorf("NewDiscreteGaussianFloat64(%v) error = %v, want ErrSigma2", s2, err)
		}
	}
	if _, err := dp.NewDiscreteGaussian(src, nil); !errors.Is(err, dp.ErrSigma2) {
		t.Errorf("NewDiscreteGaussian(nil) error = %v, want ErrSigma2", err)
	}
	g, err := dp.NewDiscreteGaussian(src, big.NewRat(7, 3))
	if err != nil {
		t.Fatal(err)
	}
	if g.Sigma2().Cmp(big.NewRat(7, 3)) != 0 {
		t.Errorf("Sigma2() = %v, want 7/3", g.Sigma2())
	}
	// Extreme but valid parameters still sample (slow exact path).
	for _, s2 := range []*big.Rat{big.NewRat(1, 1<<62), new(big.Rat).SetFloat64(0x1p-80), new(big.Rat).SetFloat64(0x1p112)} {
		g, err := dp.NewDiscreteGaussian(src, s2)
		if err != nil {
			t.Fatalf("NewDiscreteGaussian(%v): %v", s2, err)
		}
		for range 50 {
			g.Sample()
		}
	}
}
