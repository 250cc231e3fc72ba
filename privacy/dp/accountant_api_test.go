package dp_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/discret-io/discret/privacy/dp"
)

func TestGaussianRho(t *testing.T) {
	tests := []struct{ sens, sigma, want float64 }{
		{1, 1, 0.5},
		{2, 4, 0.125},
		{0.01, 1.027, 0.01 * 0.01 / (2 * 1.027 * 1.027)},
		{0, 3, 0},
		{1, 0, math.Inf(1)},
	}
	for _, tt := range tests {
		if got := dp.GaussianRho(tt.sens, tt.sigma); got != tt.want && math.Abs(got-tt.want) > 1e-15*tt.want {
			t.Errorf("GaussianRho(%v, %v) = %v, want %v", tt.sens, tt.sigma, got, tt.want)
		}
	}
	for _, z := range []float64{0.5, 1, 10.27, 102.7} {
		if got := dp.MultiplierForRho(dp.RhoForMultiplier(z)); math.Abs(got-z) > 1e-14*z {
			t.Errorf("MultiplierForRho(RhoForMultiplier(%v)) = %v", z, got)
		}
	}
	if got := dp.RhoForMultiplier(math.Inf(1)); got != 0 {
		t.Errorf("RhoForMultiplier(+Inf) = %v, want 0", got)
	}
}

func TestEffectiveMultiplier(t *testing.T) {
	// Three releases with z = 102.7, 10.27, 10.27 (one B10 step) cost as much
	// as one release with the effective multiplier.
	zs := []float64{102.7135, 10.2714, 10.2714}
	var rho float64
	for _, z := range zs {
		rho += dp.RhoForMultiplier(z)
	}
	got := dp.EffectiveMultiplier(zs...)
	if want := dp.MultiplierForRho(rho); math.Abs(got-want) > 1e-13*want {
		t.Errorf("EffectiveMultiplier(%v) = %v, want %v", zs, got, want)
	}
	if got := dp.EffectiveMultiplier(2, 2, 2, 2); math.Abs(got-1) > 1e-15 {
		t.Errorf("EffectiveMultiplier(2, 2, 2, 2) = %v, want 1", got)
	}
}

func TestLedger(t *testing.T) {
	var l dp.Ledger
	if err := l.AddGaussian("counts", 20, 1); err != nil {
		t.Fatal(err)
	}
	if err := l.AddGaussian("S", 10, 3); err != nil {
		t.Fatal(err)
	}
	if want := 1/800.0 + 3/200.0; math.Abs(l.Rho()-want) > 1e-16 {
		t.Errorf("Ledger.Rho() = %v, want %v", l.Rho(), want)
	}
	for _, bad := range []struct {
		z float64
		n int
	}{{0, 1}, {-1, 1}, {math.NaN(), 1}, {1, -1}} {
		if err := l.AddGaussian("bad", bad.z, bad.n); !errors.Is(err, dp.ErrParam) {
			t.Errorf("AddGaussian(z=%v, releases=%d) = %v, want ErrParam", bad.z, bad.n, err)
		}
	}
	if s := l.String(); !strings.Contains(s, "counts: z=20 ×1") || !strings.Contains(s, "total ρ=") {
		t.Errorf("Ledger.String() = %q", s)
	}
	st, err := l.Statement(1e-6)
	if err != nil {
		t.Fatal(err)
	}
	if st.Rho != l.Rho() || st.Delta != 1e-6 || !(st.EpsilonGaussian < st.Epsilon && st.Epsilon < st.EpsilonSimple) {
		t.Errorf("Statement = %+v: want exact Gaussian < RDP < simple", st)
	}
	if _, err := l.Statement(0); !errors.Is(err, dp.ErrParam) {
		t.Errorf("Statement(δ=0) error = %v, want ErrParam", err)
	}
}

func TestDefaultDelta(t *testing.T) {
	tests := []struct {
		n    int
		want float64
	}{
		{1, 0.1}, {9, 0.01}, {10, 0.01}, {11, 0.001}, {4800, 1e-5}, {116677, 1e-7}, {100000, 1e-6}, {99999, 1e-6},
	}
	for _, tt := range tests {
		got, err := dp.DefaultDelta(tt.n)
		if err != nil || got != tt.want {
			t.Errorf("DefaultDelta(%d) = %v, %v; want %v", tt.n, got, err, tt.want)
		}
		if got > 1/float64(tt.n) {
			t.Errorf("DefaultDelta(%d) = %v above 1/n", tt.n, got)
		}
	}
	if _, err := dp.DefaultDelta(0); !errors.Is(err, dp.ErrParam) {
		t.Errorf("DefaultDelta(0) error = %v, want ErrParam", err)
	}
}

func TestEpsilonEdgeCases(t *testing.T) {
	// ρ = 0 costs nothing.
	if e, _ := dp.EpsilonRDP(0, 1e-5); e != 0 {
		t.Errorf("EpsilonRDP(0, 1e-5) = %v, want 0", e)
	}
	// KL shortcut: tiny ρ with a large δ.
	if e, _ := dp.EpsilonRDP(1e-12, 0.1); e != 0 {
		t.Errorf("EpsilonRDP(1e-12, 0.1) = %v, want 0 (KL bound)", e)
	}
	if e, _, _ := dp.EpsilonFromRDP([]float64{2, 3}, []float64{1e-14, 1.5e-14}, 0.1); e != 0 {
		t.Errorf("EpsilonFromRDP(tiny) = %v, want 0 (KL bound)", e)
	}
	// Orders at or below 1.01 are not usable for the conversion.
	if e, _, _ := dp.EpsilonFromRDP([]float64{1.005}, []float64{1}, 1e-5); !math.IsInf(e, 1) {
		t.Errorf("EpsilonFromRDP(α=1.005) = %v, want +Inf", e)
	}
	// δ = 0 with positive divergence: no finite ε.
	if e, _, _ := dp.EpsilonFromRDP([]float64{2}, []float64{1}, 0); !math.IsInf(e, 1) {
		t.Errorf("EpsilonFromRDP(δ=0) = %v, want +Inf", e)
	}
	for _, bad := range []struct {
		orders, rdp []float64
		delta       float64
	}{
		{[]float64{2}, []float64{1, 2}, 1e-5},
		{[]float64{0.5}, []float64{1}, 1e-5},
		{[]float64{2}, []float64{-1}, 1e-5},
		{[]float64{2}, []float64{1}, -1},
		{nil, nil, 1e-5},
	} {
		if _, _, err := dp.EpsilonFromRDP(bad.orders, bad.rdp, bad.delta); !errors.Is(err, dp.ErrParam) {
			t.Errorf("EpsilonFromRDP(%v, %v, %v) error = %v, want ErrParam", bad.orders, bad.rdp, bad.delta, err)
		}
	}
	for _, bad := range [][2]float64{{-1, 1e-5}, {1, 0}, {1, 1}, {math.NaN(), 1e-5}, {math.Inf(1), 1e-5}} {
		if _, err := dp.Epsilon(bad[0], bad[1], dp.RDP); !errors.Is(err, dp.ErrParam) {
			t.Errorf("Epsilon(%v, %v) error = %v, want ErrParam", bad[0], bad[1], err)
		}
		if _, err := dp.RhoForEpsilon(bad[0], bad[1], dp.RDP); !errors.Is(err, dp.ErrParam) {
			t.Errorf("RhoForEpsilon(%v, %v) error = %v, want ErrParam", bad[0], bad[1], err)
		}
	}
	if _, err := dp.Epsilon(1, 1e-5, dp.Conversion(9)); !errors.Is(err, dp.ErrParam) {
		t.Errorf("Epsilon(unknown conversion) error = %v, want ErrParam", err)
	}
	if _, err := dp.NoiseMultiplier(1, 1e-5, 0, dp.RDP); !errors.Is(err, dp.ErrParam) {
		t.Errorf("NoiseMultiplier(0 releases) error = %v, want ErrParam", err)
	}
	// δ(ε) of the exact curve: degenerate μ.
	if d := dp.DeltaGaussian(0, 1); d != 0 {
		t.Errorf("DeltaGaussian(0, 1) = %v, want 0", d)
	}
	if d := dp.DeltaGaussian(math.Inf(1), 1); d != 1 {
		t.Errorf("DeltaGaussian(+Inf, 1) = %v, want 1", d)
	}
	// Large ε: the second term must not overflow.
	if d := dp.DeltaGaussian(1, 800); d != 0 || math.IsNaN(d) {
		t.Errorf("DeltaGaussian(1, 800) = %v, want 0", d)
	}
}

// TestConversionsMonotone checks the orderings the design relies on: for
// every ρ, exact Gaussian ≤ RDP continuous ≤ RDP on a grid, and RDP ≤ simple.
func TestConversionsMonotone(t *testing.T) {
	dpam := dp.DPAMOrders()
	prev := 0.0
	for _, rho := range []float64{1e-4, 1e-3, 0.01, 0.1, 1, 5, 20, 100} {
		for _, delta := range []float64{1e-3, 1e-6, 1e-9} {
			g := dp.EpsilonGaussian(math.Sqrt(2*rho), delta)
			r, _ := dp.EpsilonRDP(rho, delta)
			o, _, _ := dp.EpsilonRDPOrders(rho, delta, dpam)
			s := dp.EpsilonZCDP(rho, delta)
			if !(g <= r && r <= o*(1+1e-12) && r <= s) {
				t.Errorf("ρ=%v δ=%v: exact %v, RDP %v, grid %v, simple %v: order violated", rho, delta, g, r, o, s)
			}
		}
		r, _ := dp.EpsilonRDP(rho, 1e-6)
		if r <= prev {
			t.Errorf("EpsilonRDP not increasing at ρ=%v: %v after %v", rho, r, prev)
		}
		prev = r
	}
}

func TestCalibrateErrors(t *testing.T) {
	good := dp.CalibrationConfig{Epsilon: 1, Delta: 1e-5, Steps: 5, Beta: 100, CountShare: 0.05, Gravity: true}
	tests := []struct {
		name   string
		mutate func(*dp.CalibrationConfig)
		want   []string // substrings of the joined error
	}{
		{"counts use the budget", func(c *dp.CalibrationConfig) { c.CountShare = 0; c.CountMultiplier = 1 }, []string{"use all of ρ_tot"}},
		{"other releases use the budget", func(c *dp.CalibrationConfig) { c.OtherRho = 1 }, []string{"use all of ρ_tot"}},
		{"everything wrong", func(c *dp.CalibrationConfig) {
			*c = dp.CalibrationConfig{Epsilon: -1, Delta: 2, Beta: math.NaN(), CountShare: 1, CountMultiplier: -1, OtherRho: -1, Split: [3]float64{0.5, 0.6, 0}, Conversion: 7, Orders: []float64{2}}
		}, []string{"ε = -1", "δ = 2", "steps = 0", "β = NaN", "count multiplier -1", "count share 1", "other ρ", "sums to", "gravity false", "no budget", "unknown conversion", "orders given"}},
		{"both count settings", func(c *dp.CalibrationConfig) { c.CountMultiplier = 3 }, []string{"both count multiplier"}},
	}
	for _, tt := range tests {
		cfg := good
		tt.mutate(&cfg)
		_, err := dp.Calibrate(cfg)
		if !errors.Is(err, dp.ErrParam) {
			t.Errorf("Calibrate(%s) error = %v, want ErrParam", tt.name, err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Calibrate(%s) error %q does not mention %q", tt.name, err, w)
			}
		}
	}
}

func TestCalibrateVariants(t *testing.T) {
	// Without gravity: G is not charged, S and t share each step equally.
	c, err := dp.Calibrate(dp.CalibrationConfig{Epsilon: 5, Delta: 1e-5, Steps: 5, Beta: 100})
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsInf(c.ZG, 1) || c.RhoG != 0 || !math.IsInf(c.ZCounts, 1) || c.RhoCounts != 0 {
		t.Errorf("no gravity, no counts: ZG = %v, RhoG = %v, ZCounts = %v", c.ZG, c.RhoG, c.ZCounts)
	}
	if math.Abs(c.RhoS-c.RhoStep/2) > 1e-15 || c.ZS != c.ZT || len(c.Ledger.Charges) != 2 {
		t.Errorf("no gravity: RhoS = %v, RhoStep = %v, ZS = %v, ZT = %v, %d charges", c.RhoS, c.RhoStep, c.ZS, c.ZT, len(c.Ledger.Charges))
	}
	// An explicit split and other releases.
	c, err = dp.Calibrate(dp.CalibrationConfig{Epsilon: 5, Delta: 1e-5, Steps: 2, Beta: 10, Gravity: true,
		Split: [3]float64{0.2, 0.5, 0.3}, OtherRho: 0.1, CountMultiplier: 4})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		name      string
		got, want float64
	}{
		{"RhoG", c.RhoG, 0.2 * c.RhoStep}, {"RhoS", c.RhoS, 0.5 * c.RhoStep}, {"RhoT", c.RhoT, 0.3 * c.RhoStep},
		{"RhoStep", c.RhoStep, (c.RhoTotal - 1/32.0 - 0.1) / 2}, {"RhoTrain", c.RhoTrain, c.RhoTotal},
	} {
		if math.Abs(x.got-x.want) > 1e-12*x.want {
			t.Errorf("split calibration %s = %v, want %v", x.name, x.got, x.want)
		}
	}
}
