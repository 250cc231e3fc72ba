package dp

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The accountant's currency is zero-concentrated differential privacy
// (zCDP, Bun and Steinke 2016): a mechanism is ρ-zCDP when its Rényi
// divergence of every order α > 1 between neighbouring inputs is at most
// α·ρ. DP-ALS.md C1.

// Errors returned by the accountant.
var (
	ErrParam = errors.New("dp: invalid privacy parameter")
)

// GaussianRho returns ρ = Δ²/(2σ²), the zCDP cost of one Gaussian (or
// discrete Gaussian, CKS 2020 Theorem 14) release with L2 sensitivity Δ and
// noise standard deviation σ (DP-ALS.md C1). σ = 0 costs +Inf; Δ = 0 costs 0.
func GaussianRho(sensitivity, sigma float64) float64 {
	if sensitivity == 0 {
		return 0
	}
	return sensitivity * sensitivity / (2 * sigma * sigma)
}

// RhoForMultiplier returns ρ = 1/(2z²) for the noise multiplier z = σ/Δ
// (DP-ALS.md C1). z = +Inf (no release) costs 0.
func RhoForMultiplier(z float64) float64 { return 1 / (2 * z * z) }

// MultiplierForRho returns z = 1/√(2ρ), the noise multiplier whose single
// release costs ρ. ρ = 0 gives +Inf.
func MultiplierForRho(rho float64) float64 { return 1 / math.Sqrt(2*rho) }

// EffectiveMultiplier returns (Σ zᵢ⁻²)^(−1/2), the noise multiplier of one
// Gaussian release costing as much as the composition of releases with
// multipliers z (DP-ALS.md C1: ρ's add, so z⁻²'s add).
func EffectiveMultiplier(z ...float64) float64 {
	var s float64
	for _, v := range z {
		s += 1 / (v * v)
	}
	return 1 / math.Sqrt(s)
}

// Charge is one line of a privacy ledger: Releases Gaussian releases with
// noise multiplier Multiplier (z = σ/Δ), composed, costing Rho.
type Charge struct {
	Label      string  // what was released ("counts", "G", "S", "t", "popularity")
	Multiplier float64 // z; +Inf for a component that is not released
	Releases   int     // number of releases composed (e.g. T steps)
	Rho        float64 // Releases/(2z²)
}

// Ledger composes charges (DP-ALS.md C1, B9: ρ's add under adaptive
// composition). The zero value is an empty ledger.
type Ledger struct {
	Charges []Charge
}

// AddGaussian records releases Gaussian releases with noise multiplier z.
func (l *Ledger) AddGaussian(label string, z float64, releases int) error {
	if math.IsNaN(z) || z <= 0 || releases < 0 {
		return fmt.Errorf("%w: ledger %q: multiplier %v, releases %d", ErrParam, label, z, releases)
	}
	l.Charges = append(l.Charges, Charge{
		Label: label, Multiplier: z, Releases: releases,
		Rho: float64(releases) * RhoForMultiplier(z),
	})
	return nil
}

// Rho returns the total ρ of the ledger.
func (l *Ledger) Rho() float64 {
	var r float64
	for _, c := range l.Charges {
		r += c.Rho
	}
	return r
}

// String lists the charges, one per line.
func (l *Ledger) String() string {
	var b strings.Builder
	for _, c := range l.Charges {
		fmt.Fprintf(&b, "%s: z=%.6g ×%d ρ=%.6g\n", c.Label, c.Multiplier, c.Releases, c.Rho)
	}
	fmt.Fprintf(&b, "total ρ=%.6g", l.Rho())
	return b.String()
}

// Statement is what Discret reports for a total ρ at a given δ (DP-ALS.md
// C6): the official ε (optimal RDP conversion over continuous orders, C2.2)
// and, for comparison, the simple zCDP ε (C2.1) and the ε of the exact
// curve of a continuous Gaussian mechanism (C2.3, "idealized continuous
// Gaussian", informational only).
type Statement struct {
	Rho   float64 // total ρ (zCDP)
	Delta float64
	Mu    float64 // √(2ρ): the Gaussian-DP parameter of the same Gaussian composition

	Epsilon float64 // official: optimal RDP conversion, continuous α
	Alpha   float64 // the Rényi order attaining Epsilon

	EpsilonSimple   float64 // ρ + 2√(ρ ln(1/δ))
	EpsilonGaussian float64 // exact continuous-Gaussian curve (informational)
}

// Statement converts the ledger's total ρ at δ.
func (l *Ledger) Statement(delta float64) (Statement, error) { return NewStatement(l.Rho(), delta) }

// NewStatement converts ρ at δ with every conversion of DP-ALS.md C2.
func NewStatement(rho, delta float64) (Statement, error) {
	if err := checkRhoDelta(rho, delta); err != nil {
		return Statement{}, err
	}
	eps, alpha := EpsilonRDP(rho, delta)
	return Statement{
		Rho:             rho,
		Delta:           delta,
		Mu:              math.Sqrt(2 * rho),
		Epsilon:         eps,
		Alpha:           alpha,
		EpsilonSimple:   EpsilonZCDP(rho, delta),
		EpsilonGaussian: EpsilonGaussian(math.Sqrt(2*rho), delta),
	}, nil
}

// DefaultDelta returns the default δ for n training users (DP-ALS.md C6):
// 1/(10n) rounded down to a power of ten, so never above 1/n.
func DefaultDelta(n int) (float64, error) {
	if n <= 0 {
		return 0, fmt.Errorf("%w: default δ for %d users", ErrParam, n)
	}
	target := 1 / (10 * float64(n))
	pow := func(k int) float64 { v, _ := strconv.ParseFloat("1e-"+strconv.Itoa(k), 64); return v }
	k := max(0, int(math.Floor(-math.Log10(target))))
	for pow(k) > target {
		k++
	}
	for k > 0 && pow(k-1) <= target {
		k--
	}
	return pow(k), nil
}

func checkRhoDelta(rho, delta float64) error {
	var errs []error
	if math.IsNaN(rho) || rho < 0 || math.IsInf(rho, 0) {
		errs = append(errs, fmt.Errorf("%w: ρ = %v (want finite, ≥ 0)", ErrParam, rho))
	}
	if !(delta > 0 && delta < 1) {
		errs = append(errs, fmt.Errorf("%w: δ = %v (want 0 < δ < 1)", ErrParam, delta))
	}
	return errors.Join(errs...)
}
