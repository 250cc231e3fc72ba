package dp

import (
	"errors"
	"fmt"
	"math"
)

// CalibrationConfig is the input of Calibrate: the privacy target of a DP-ALS
// training run and how its budget is split (DP-ALS.md B10). The zero value of
// each optional field means its documented default.
type CalibrationConfig struct {
	Epsilon float64 // target ε > 0
	Delta   float64 // target δ ∈ (0, 1)
	Steps   int     // T ≥ 1 outer ALS steps
	Beta    float64 // per-user weight budget β > 0 (‖e_i‖₂ ≤ √β, B6)

	// Item counts (B4). CountMultiplier > 0 fixes z_c; otherwise the counts
	// take the share CountShare ∈ [0, 1) of ρ_tot; both zero means no
	// count release (ρ_c = 0, z_c = +Inf).
	CountMultiplier float64
	CountShare      float64

	// OtherRho is ρ already charged to the same users by other releases of
	// this budget (e.g. a popularity list, F6). Default 0.
	OtherRho float64

	// Gravity is true when w0 > 0: the global Gramian G is then released
	// (and charged) every step. With w0 = 0, G is neither computed nor
	// charged (B8.d).
	Gravity bool

	// Split is φ = (φ_G, φ_S, φ_t), the shares of each step's ρ; it must sum
	// to 1. Zero value: (1, β, β)/(1+2β) with gravity, i.e. the reference's
	// s0 = s1 = s2, and (0, ½, ½) without.
	Split [3]float64

	// Conversion from ρ to ε (default RDP, the official one). Orders, if not
	// nil, replaces the continuous Rényi orders of RDP by this grid (e.g.
	// DPAMOrders, to compare with the reference code).
	Conversion Conversion
	Orders     []float64
}

// Validate reports every problem of c at once.
func (c *CalibrationConfig) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrParam}, a...)...))
	}
	if !(c.Epsilon > 0) || math.IsInf(c.Epsilon, 0) {
		bad("calibration: ε = %v (want finite, > 0)", c.Epsilon)
	}
	if !(c.Delta > 0 && c.Delta < 1) {
		bad("calibration: δ = %v (want 0 < δ < 1)", c.Delta)
	}
	if c.Steps < 1 {
		bad("calibration: steps = %d (want ≥ 1)", c.Steps)
	}
	if !(c.Beta > 0) || math.IsInf(c.Beta, 0) {
		bad("calibration: β = %v (want finite, > 0)", c.Beta)
	}
	if math.IsNaN(c.CountMultiplier) || c.CountMultiplier < 0 {
		bad("calibration: count multiplier %v (want ≥ 0)", c.CountMultiplier)
	}
	if !(c.CountShare >= 0 && c.CountShare < 1) {
		bad("calibration: count share %v (want 0 ≤ share < 1)", c.CountShare)
	}
	if c.CountMultiplier > 0 && c.CountShare > 0 {
		bad("calibration: both count multiplier %v and count share %v set", c.CountMultiplier, c.CountShare)
	}
	if !(c.OtherRho >= 0) || math.IsInf(c.OtherRho, 0) {
		bad("calibration: other ρ = %v (want finite, ≥ 0)", c.OtherRho)
	}
	if c.Split != [3]float64{} {
		var sum float64
		for _, v := range c.Split {
			if !(v >= 0) {
				bad("calibration: split %v has a negative share", c.Split)
			}
			sum += v
		}
		if math.Abs(sum-1) > 1e-12 {
			bad("calibration: split %v sums to %v (want 1)", c.Split, sum)
		}
		if c.Gravity != (c.Split[0] > 0) {
			bad("calibration: split φ_G = %v with gravity %v (want φ_G > 0 iff w0 > 0)", c.Split[0], c.Gravity)
		}
		if c.Split[1] == 0 || c.Split[2] == 0 {
			bad("calibration: split %v gives no budget to S or t", c.Split)
		}
	}
	switch c.Conversion {
	case RDP, Simple, ExactGaussian:
	default:
		bad("calibration: unknown conversion %v", c.Conversion)
	}
	if c.Orders != nil && c.Conversion != RDP {
		bad("calibration: Rényi orders given with conversion %v", c.Conversion)
	}
	return errors.Join(errs...)
}

// Calibration is the result of Calibrate: the noise multiplier and ρ of
// every released statistic of a DP-ALS run, and the realized guarantee.
type Calibration struct {
	RhoTotal  float64 // ρ allowed by (ε, δ) under the conversion (C4)
	RhoCounts float64 // ρ_c = 1/(2z_c²)
	RhoOther  float64 // CalibrationConfig.OtherRho
	RhoStep   float64 // (ρ_tot − ρ_c − ρ_other)/T, split over G, S, t

	ZCounts    float64 // z_c (+Inf when the counts are not released)
	ZG, ZS, ZT float64 // per-step multipliers; ZG = +Inf without gravity
	// Per-step ρ of each statistic: 1/(2z²).
	RhoG, RhoS, RhoT float64

	// RhoTrain is recomputed from the z's: ρ_c + ρ_other + T·(ρ_G+ρ_S+ρ_t)
	// (B9), and Epsilon is its ε under the conversion (B10 step 6).
	RhoTrain float64
	Epsilon  float64

	// Ledger lists the charges (counts, G, S, t, other).
	Ledger Ledger
}

// Calibrate computes the noise multipliers of a DP-ALS run for a target
// (ε, δ) (DP-ALS.md B10):
//
//  1. ρ_tot = RhoForEpsilon(ε, δ);
//  2. ρ_c = 1/(2z_c²), or ρ_c = share·ρ_tot and z_c = 1/√(2ρ_c);
//  3. ρ_step = (ρ_tot − ρ_c − ρ_other)/T, an error if not positive;
//  4. z_X = 1/√(2 φ_X ρ_step) for X ∈ {G, S, t};
//  5. the realized ρ_train and its ε, which must not exceed the target
//     (+1e-9).
//
// The σ of each statistic is z_X times its sensitivity Δ'_X, which the
// Lattice of that statistic computes (D3.3): Δ_G = R², Δ_S = R²√β,
// Δ_t = R√β (B9). In the reference parameterization s0 = z_G,
// s1 = z_S√β, s2 = z_t√β.
func Calibrate(cfg CalibrationConfig) (Calibration, error) {
	if err := cfg.Validate(); err != nil {
		return Calibration{}, err
	}
	var (
		c   Calibration
		err error
	)
	if cfg.Orders != nil {
		c.RhoTotal, err = RhoForEpsilonOrders(cfg.Epsilon, cfg.Delta, cfg.Orders)
	} else {
		c.RhoTotal, err = RhoForEpsilon(cfg.Epsilon, cfg.Delta, cfg.Conversion)
	}
	if err != nil {
		return Calibration{}, err
	}
	switch {
	case cfg.CountMultiplier > 0:
		c.ZCounts = cfg.CountMultiplier
		c.RhoCounts = RhoForMultiplier(c.ZCounts)
	case cfg.CountShare > 0:
		c.RhoCounts = cfg.CountShare * c.RhoTotal
		c.ZCounts = MultiplierForRho(c.RhoCounts)
	default:
		c.ZCounts = math.Inf(1)
	}
	c.RhoOther = cfg.OtherRho
	left := c.RhoTotal - c.RhoCounts - c.RhoOther
	if !(left > 0) {
		return Calibration{}, fmt.Errorf("%w: calibration: counts (ρ_c = %.6g) and other releases (ρ = %.6g) use all of ρ_tot = %.6g for (ε, δ) = (%v, %v)",
			ErrParam, c.RhoCounts, c.RhoOther, c.RhoTotal, cfg.Epsilon, cfg.Delta)
	}
	c.RhoStep = left / float64(cfg.Steps)

	phi := cfg.Split
	if phi == [3]float64{} {
		if cfg.Gravity {
			d := 1 + 2*cfg.Beta
			phi = [3]float64{1 / d, cfg.Beta / d, cfg.Beta / d}
		} else {
			phi = [3]float64{0, 0.5, 0.5}
		}
	}
	mult := func(share float64) float64 { return 1 / math.Sqrt(2*share*c.RhoStep) }
	c.ZG = math.Inf(1)
	if cfg.Gravity {
		c.ZG = mult(phi[0])
		c.RhoG = RhoForMultiplier(c.ZG)
	}
	c.ZS, c.ZT = mult(phi[1]), mult(phi[2])
	c.RhoS, c.RhoT = RhoForMultiplier(c.ZS), RhoForMultiplier(c.ZT)

	if !math.IsInf(c.ZCounts, 1) {
		_ = c.Ledger.AddGaussian("counts", c.ZCounts, 1)
	}
	if c.RhoOther > 0 {
		c.Ledger.Charges = append(c.Ledger.Charges, Charge{Label: "other", Multiplier: MultiplierForRho(c.RhoOther), Releases: 1, Rho: c.RhoOther})
	}
	if cfg.Gravity {
		_ = c.Ledger.AddGaussian("G", c.ZG, cfg.Steps)
	}
	_ = c.Ledger.AddGaussian("S", c.ZS, cfg.Steps)
	_ = c.Ledger.AddGaussian("t", c.ZT, cfg.Steps)
	c.RhoTrain = c.Ledger.Rho()

	if cfg.Orders != nil {
		c.Epsilon, _, err = EpsilonRDPOrders(c.RhoTrain, cfg.Delta, cfg.Orders)
	} else {
		c.Epsilon, err = Epsilon(c.RhoTrain, cfg.Delta, cfg.Conversion)
	}
	if err != nil {
		return Calibration{}, err
	}
	if c.Epsilon > cfg.Epsilon+1e-9 {
		return Calibration{}, fmt.Errorf("dp: calibration: realized ε = %.12g exceeds the target %v (internal error)", c.Epsilon, cfg.Epsilon)
	}
	return c, nil
}

// RhoForEpsilonOrders is RhoForEpsilon for the RDP conversion over a grid of
// Rényi orders (EpsilonRDPOrders) instead of continuous α.
func RhoForEpsilonOrders(eps, delta float64, orders []float64) (float64, error) {
	if !(eps > 0) || math.IsInf(eps, 0) || !(delta > 0 && delta < 1) || len(orders) == 0 {
		return 0, fmt.Errorf("%w: ε = %v, δ = %v, %d orders", ErrParam, eps, delta, len(orders))
	}
	var err error
	within := func(rho float64) bool {
		e, _, er := EpsilonRDPOrders(rho, delta, orders)
		if er != nil {
			err = er
			return false
		}
		return e <= eps
	}
	lo, hi := 0.0, 1.0
	for within(hi) {
		lo, hi = hi, 2*hi
	}
	for hi-lo > 1e-12*hi && err == nil {
		mid := lo + (hi-lo)/2
		if within(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, err
}
