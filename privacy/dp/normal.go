package dp

import "math"

// The standard normal distribution, in the forms the accountant needs. These
// functions feed privacy statements and calibrations (floating point is fine
// there: it never touches the noise).

// normCDF returns Φ(x).
func normCDF(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

// logNormCDF returns ln Φ(x), accurate also where Φ(x) underflows.
func logNormCDF(x float64) float64 {
	if x > -37 {
		return math.Log(normCDF(x))
	}
	// Mills-ratio asymptotic series: Φ(x) = φ(x)/|x| · Σ_k (−1)ᵏ (2k−1)!!/x^(2k).
	// At x ≤ −37 six terms are accurate to better than 1e-15 relative.
	x2 := x * x
	sum, term := 1.0, 1.0
	for k := 1; k <= 6; k++ {
		term *= -float64(2*k-1) / x2
		sum += term
	}
	return -x2/2 - math.Log(-x) - 0.5*math.Log(2*math.Pi) + math.Log(sum)
}

// normQuantileUpper returns z with 1 − Φ(z) = q for q ∈ (0, 1): the upper
// quantile, accurate to about 1e-15 relative also for tiny q. math.Erfcinv
// computes Erfinv(1 − x) and loses the relative precision of small q, so its
// value only starts Newton's iteration on ln(1 − Φ(z)) = ln q.
func normQuantileUpper(q float64) float64 {
	switch {
	case q <= 0:
		return math.Inf(1)
	case q >= 1:
		return math.Inf(-1)
	case q > 0.5:
		return -normQuantileUpper(1 - q) // 1 − q is exact for q ∈ [0.5, 1]
	}
	z := math.Sqrt2 * math.Erfcinv(2*q)
	if math.IsInf(z, 1) || z > 37 {
		z = math.Sqrt(-2 * math.Log(q)) // tail start
	}
	lq := math.Log(q)
	for range 50 {
		// d/dz ln Q(z) = −φ(z)/Q(z), with ln Q(z) = ln Φ(−z).
		lQ := logNormCDF(-z)
		lphi := -z*z/2 - 0.5*math.Log(2*math.Pi)
		step := (lQ - lq) * math.Exp(lQ-lphi)
		z += step
		if math.Abs(step) <= 1e-15*math.Max(1, math.Abs(z)) {
			break
		}
	}
	return z
}
