package dp

import (
	"errors"
	"fmt"
	"math"
)

// Conversion names a way to turn ρ-zCDP into (ε, δ)-DP (DP-ALS.md C2).
type Conversion int

// The conversions.
const (
	// RDP is the official conversion: the optimal conversion of the Rényi
	// curve α·ρ, minimized over continuous α (C2.2). It is the zero value.
	RDP Conversion = iota
	// Simple is ε = ρ + 2√(ρ ln(1/δ)) (Bun–Steinke 2016, C2.1).
	Simple
	// ExactGaussian is the exact privacy curve of a composition of
	// continuous Gaussian mechanisms, μ-GDP with μ = √(2ρ) (C2.3). It is
	// informational: Discret's noise is discrete Gaussian.
	ExactGaussian
)

func (c Conversion) String() string {
	switch c {
	case RDP:
		return "rdp-optimal"
	case Simple:
		return "zcdp-simple"
	case ExactGaussian:
		return "exact-gaussian"
	}
	return fmt.Sprintf("Conversion(%d)", int(c))
}

// Epsilon converts ρ at δ with c.
func Epsilon(rho, delta float64, c Conversion) (float64, error) {
	if err := checkRhoDelta(rho, delta); err != nil {
		return 0, err
	}
	switch c {
	case RDP:
		eps, _ := EpsilonRDP(rho, delta)
		return eps, nil
	case Simple:
		return EpsilonZCDP(rho, delta), nil
	case ExactGaussian:
		return EpsilonGaussian(math.Sqrt(2*rho), delta), nil
	}
	return 0, fmt.Errorf("%w: unknown conversion %v", ErrParam, c)
}

// EpsilonZCDP returns ε = ρ + 2√(ρ ln(1/δ)) (Bun and Steinke 2016,
// Proposition 1.3; DP-ALS.md C2.1).
func EpsilonZCDP(rho, delta float64) float64 {
	return rho + 2*math.Sqrt(rho*math.Log(1/delta))
}

// Range of Rényi orders searched by EpsilonRDP (DP-ALS.md C2.2).
const (
	MinOrder = 1.001
	MaxOrder = 1e7
)

// rdpEpsilon is the optimal conversion of one Rényi bound (CKS 2020
// Proposition 12; Balle et al. 2020; Google dp_accounting
// rdp.compute_epsilon): ε = r + ln(1 − 1/α) − (ln δ + ln α)/(α − 1).
func rdpEpsilon(alpha, r, delta float64) float64 {
	return r + math.Log1p(-1/alpha) - (math.Log(delta)+math.Log(alpha))/(alpha-1)
}

// EpsilonRDP returns the official ε of a ρ-zCDP mechanism at δ and the order
// attaining it: the optimal RDP conversion of the curve RDP(α) = α·ρ,
// minimized over continuous α ∈ [MinOrder, MaxOrder] by golden-section
// search on ln(α − 1), where the objective is unimodal (DP-ALS.md C2.2).
// As Google's accountant does, ε is 0 when the KL bound already gives δ
// (δ² + expm1(−RDP(α)) > 0), and ε is never negative.
func EpsilonRDP(rho, delta float64) (eps, alpha float64) {
	if rho == 0 {
		return 0, MaxOrder
	}
	if delta*delta+math.Expm1(-MinOrder*rho) > 0 {
		return 0, MinOrder
	}
	f := func(x float64) float64 {
		a := 1 + math.Exp(x)
		return rdpEpsilon(a, a*rho, delta)
	}
	x, fx := goldenMin(f, math.Log(MinOrder-1), math.Log(MaxOrder-1))
	return math.Max(0, fx), 1 + math.Exp(x)
}

// goldenMin minimizes a unimodal f on [a, b] by golden-section search, to an
// interval width of 1e-12 (in x, here ln(α−1)), and returns the best point
// evaluated.
func goldenMin(f func(float64) float64, a, b float64) (x, fx float64) {
	invPhi := (math.Sqrt(5) - 1) / 2
	c := b - invPhi*(b-a)
	d := a + invPhi*(b-a)
	fc, fd := f(c), f(d)
	for b-a > 1e-12 {
		if fc <= fd {
			b, d, fd = d, c, fc
			c = b - invPhi*(b-a)
			fc = f(c)
		} else {
			a, c, fc = c, d, fd
			d = a + invPhi*(b-a)
			fd = f(d)
		}
	}
	x, fx = c, fc
	for _, p := range []float64{a, b, d} {
		if v := f(p); v < fx {
			x, fx = p, v
		}
	}
	return x, fx
}

// EpsilonFromRDP converts a Rényi DP curve given on a grid of orders,
// RDP(orders[i]) = rdp[i], to (ε, δ), exactly as Google's dp_accounting
// rdp.compute_epsilon: per order, ε = 0 if δ² + expm1(−rdp) > 0 (KL bound),
// the optimal conversion if α > 1.01, +Inf otherwise; the minimum over the
// grid (first on ties), floored at 0. It returns the order attaining it.
func EpsilonFromRDP(orders, rdp []float64, delta float64) (eps, alpha float64, err error) {
	if len(orders) != len(rdp) || len(orders) == 0 {
		return 0, 0, fmt.Errorf("%w: %d orders and %d RDP values", ErrParam, len(orders), len(rdp))
	}
	if !(delta >= 0 && delta < 1) {
		return 0, 0, fmt.Errorf("%w: δ = %v", ErrParam, delta)
	}
	var errs []error
	for i := range orders {
		if !(orders[i] >= 1) {
			errs = append(errs, fmt.Errorf("%w: Rényi order %v below 1", ErrParam, orders[i]))
		}
		if !(rdp[i] >= 0) {
			errs = append(errs, fmt.Errorf("%w: negative Rényi divergence %v at order %v", ErrParam, rdp[i], orders[i]))
		}
	}
	if len(errs) > 0 {
		return 0, 0, errors.Join(errs...)
	}
	best, bestAlpha := math.Inf(1), orders[0]
	for i, a := range orders {
		var e float64
		switch r := rdp[i]; {
		case delta*delta+math.Expm1(-r) > 0:
			e = 0
		case a > 1.01 && delta > 0:
			e = rdpEpsilon(a, r, delta)
		default:
			e = math.Inf(1)
		}
		if e < best {
			best, bestAlpha = e, a
		}
	}
	return math.Max(0, best), bestAlpha, nil
}

// EpsilonRDPOrders is EpsilonFromRDP for the Gaussian curve α·ρ on the given
// orders (DP-ALS.md C5.1 "dpam grid" and "fine grid" columns).
func EpsilonRDPOrders(rho, delta float64, orders []float64) (eps, alpha float64, err error) {
	rdp := make([]float64, len(orders))
	for i, a := range orders {
		rdp[i] = a * rho
	}
	return EpsilonFromRDP(orders, rdp, delta)
}

// DPAMOrders returns the Rényi orders of Google's DPALS reference code
// (dpam.py): {1.1, 1.2, …, 10.9} ∪ {11, 12, …, 63} (DP-ALS.md A1, C5.1).
func DPAMOrders() []float64 {
	o := make([]float64, 0, 99+53)
	for i := 1; i < 100; i++ {
		o = append(o, 1+float64(i)/10)
	}
	for i := 11; i < 64; i++ {
		o = append(o, float64(i))
	}
	return o
}

// FineOrders returns {1.001, 1.002, …, 100.999} ∪ {100.1, 100.2, …, 1000},
// the "fine grid" of DP-ALS.md C5.1.
func FineOrders() []float64 {
	o := make([]float64, 0, 99999+9000)
	for i := 1; i < 100000; i++ {
		o = append(o, 1+float64(i)/1000)
	}
	for i := 1; i <= 9000; i++ {
		o = append(o, 100+float64(i)/10)
	}
	return o
}

// DeltaGaussian returns the exact δ(ε) of a μ-GDP mechanism, i.e. of a
// composition of Gaussian mechanisms with μ = √(2ρ) = Δ/σ for one release
// (Balle and Wang 2018, Theorem 8; Dong, Roth and Su 2022; DP-ALS.md C2.3):
//
//	δ(ε) = Φ(μ/2 − ε/μ) − e^ε Φ(−μ/2 − ε/μ),
//
// with the second term evaluated as exp(ε + ln Φ(·)) to avoid overflow.
func DeltaGaussian(mu, eps float64) float64 {
	switch {
	case mu == 0:
		return 0
	case math.IsInf(mu, 1):
		return 1
	}
	d := normCDF(mu/2-eps/mu) - math.Exp(eps+logNormCDF(-mu/2-eps/mu))
	return math.Max(0, d)
}

// EpsilonGaussian inverts DeltaGaussian: the smallest ε ≥ 0 with
// DeltaGaussian(μ, ε) ≤ δ, by bisection to 1e-12 relative (δ(ε) is
// decreasing; DP-ALS.md C2.3).
func EpsilonGaussian(mu, delta float64) float64 {
	if DeltaGaussian(mu, 0) <= delta {
		return 0
	}
	lo, hi := 0.0, 1.0
	for DeltaGaussian(mu, hi) > delta {
		lo, hi = hi, 2*hi
	}
	for hi-lo > 1e-12*hi {
		mid := lo + (hi-lo)/2
		if DeltaGaussian(mu, mid) > delta {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// RhoForEpsilon returns the largest ρ whose conversion c gives at most ε at δ
// (DP-ALS.md C4): the closed form √ρ = √(L + ε) − √L with L = ln(1/δ) for
// Simple, and otherwise bisection on ρ to 1e-12 relative (ε(ρ) is increasing
// for every conversion), returning the lower end so that ε(ρ) ≤ ε.
func RhoForEpsilon(eps, delta float64, c Conversion) (float64, error) {
	if !(eps > 0) || math.IsInf(eps, 0) || !(delta > 0 && delta < 1) {
		return 0, fmt.Errorf("%w: ε = %v, δ = %v (want ε > 0 finite, 0 < δ < 1)", ErrParam, eps, delta)
	}
	var within func(rho float64) bool // ε(ρ) ≤ eps
	switch c {
	case Simple:
		l := math.Log(1 / delta)
		r := math.Sqrt(l+eps) - math.Sqrt(l)
		return r * r, nil
	case RDP:
		within = func(rho float64) bool { e, _ := EpsilonRDP(rho, delta); return e <= eps }
	case ExactGaussian:
		within = func(rho float64) bool { return DeltaGaussian(math.Sqrt(2*rho), eps) <= delta }
	default:
		return 0, fmt.Errorf("%w: unknown conversion %v", ErrParam, c)
	}
	lo, hi := 0.0, 1.0
	for within(hi) {
		lo, hi = hi, 2*hi
	}
	for hi-lo > 1e-12*hi {
		mid := lo + (hi-lo)/2
		if within(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// NoiseMultiplier returns the noise multiplier z such that releases Gaussian
// releases with multiplier z compose to (ε, δ) under c: z = √(releases/(2ρ))
// with ρ = RhoForEpsilon(ε, δ, c).
func NoiseMultiplier(eps, delta float64, releases int, c Conversion) (float64, error) {
	if releases < 1 {
		return 0, fmt.Errorf("%w: %d releases", ErrParam, releases)
	}
	rho, err := RhoForEpsilon(eps, delta, c)
	if err != nil {
		return 0, err
	}
	return math.Sqrt(float64(releases) / (2 * rho)), nil
}

// gaussianSigmaAccuracy is the relative accuracy of GaussianSigma, as in
// Google's differential-privacy Go library.
const gaussianSigmaAccuracy = 1e-3

// GaussianSigma returns the standard deviation of one Gaussian release with
// L2 sensitivity Δ that is (ε, δ)-DP by the analytic calibration of Balle and
// Wang 2018 (DP-ALS.md C3), computed as Google's Go library SigmaForGaussian
// does: doubling from Δ, then bisection until the bracket is within 1e-3
// relative, returning its upper end. Use GaussianSigmaTight for the tight
// value.
func GaussianSigma(eps, delta, sensitivity float64) (float64, error) {
	return gaussianSigma(eps, delta, sensitivity, gaussianSigmaAccuracy)
}

// GaussianSigmaTight is GaussianSigma with bisection to 1e-12 relative: the
// smallest σ (up to that accuracy, rounded up) with δ(ε; μ = Δ/σ) ≤ δ.
func GaussianSigmaTight(eps, delta, sensitivity float64) (float64, error) {
	return gaussianSigma(eps, delta, sensitivity, 1e-12)
}

func gaussianSigma(eps, delta, sens, acc float64) (float64, error) {
	if !(eps > 0) || math.IsInf(eps, 0) || !(delta > 0 && delta < 1) || !(sens > 0) || math.IsInf(sens, 0) {
		return 0, fmt.Errorf("%w: ε = %v, δ = %v, Δ = %v", ErrParam, eps, delta, sens)
	}
	lo, hi := 0.0, sens
	for DeltaGaussian(sens/hi, eps) > delta {
		lo, hi = hi, 2*hi
	}
	for hi-lo > acc*lo {
		mid := lo*0.5 + hi*0.5
		if DeltaGaussian(sens/mid, eps) > delta {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, nil
}

// ClassicalGaussianSigma returns Δ·√(2 ln(1.25/δ))/ε, the textbook
// calibration (Dwork and Roth 2014, Theorem A.1). It is valid only for
// ε < 1 and always looser than the analytic one (DP-ALS.md C3, C5.2).
func ClassicalGaussianSigma(eps, delta, sensitivity float64) (float64, error) {
	if !(eps > 0 && eps < 1) || !(delta > 0 && delta < 1) || !(sensitivity > 0) {
		return 0, fmt.Errorf("%w: classical Gaussian needs 0 < ε < 1 (ε = %v, δ = %v, Δ = %v)", ErrParam, eps, delta, sensitivity)
	}
	return sensitivity * math.Sqrt(2*math.Log(1.25/delta)) / eps, nil
}
