// Package dp holds Discret's differential-privacy primitives: the privacy
// accountant, the exact discrete Gaussian sampler and its randomness, the
// fixed-point lattice through which training releases its sufficient
// statistics, and the DP popularity release. It implements sections B9, B10,
// C, D and F of the design note DP-ALS.md; doc comments cite the sections.
//
// # Accounting
//
// The currency is zero-concentrated DP (zCDP, C1). A Gaussian release with
// L2 sensitivity Δ and noise standard deviation σ — continuous or discrete —
// costs ρ = Δ²/(2σ²) = 1/(2z²) for the noise multiplier z = σ/Δ
// (GaussianRho, RhoForMultiplier), and ρ's add under adaptive composition
// (Ledger). A DP-ALS run costs
//
//	ρ_train = ρ_counts + T·([w0>0]/(2z_G²) + 1/(2z_S²) + 1/(2z_t²))   (B9)
//
// ρ converts to (ε, δ) in three ways (C2), each a Conversion:
//
//   - RDP, the official one: the optimal conversion of the Rényi curve α·ρ,
//     minimized over continuous α (EpsilonRDP); EpsilonFromRDP and
//     EpsilonRDPOrders do the same on a grid of orders, exactly as Google's
//     dp_accounting, to compare with papers that use its grid (DPAMOrders);
//   - Simple: ε = ρ + 2√(ρ ln(1/δ)) (EpsilonZCDP);
//   - ExactGaussian: the exact curve of a continuous Gaussian composition
//     (DeltaGaussian, EpsilonGaussian), informational only since Discret's
//     noise is discrete.
//
// NewStatement (or Ledger.Statement) produces all of them for a model card
// (C6). In the other direction RhoForEpsilon gives the largest ρ allowed by
// (ε, δ) (C4), NoiseMultiplier the multiplier of T identical releases, and
// GaussianSigma / GaussianSigmaTight the analytic calibration of one release
// (Balle and Wang 2018, C3). Calibrate turns a training target (ε, δ, T, β,
// the share of the item counts) into the multipliers z_c, z_G, z_S, z_t and
// checks that the realized ε meets the target (B10). The tables of C5 and the
// examples of B10 are unit tests.
//
// # Randomness
//
// Every sampler reads a Source (64-bit words). Production uses Rand: a
// ChaCha8 stream seeded with 32 bytes from crypto/rand (D3.1), one per
// goroutine (Streams, Rand.Fork). Tests and benchmarks use package dptest,
// whose seeded streams run the same generator but are KindTestSeeded.
// KindOf names a source's kind for the privacy ledger, and CheckProduction
// refuses anything but a crypto-seeded Rand, whatever the value claims about
// itself: a release made with test randomness cannot pass for a real one.
// No math/rand generator other than the crypto-seeded ChaCha8 is used, and no
// floating-point noise (NormFloat64 and the like) anywhere.
//
// # The exact discrete Gaussian
//
// DiscreteGaussian samples N_ℤ(0, σ²), P(y) ∝ exp(−y²/(2σ²)), for σ² an exact
// rational, by the algorithm of Canonne, Kamath and Steinke 2020 (D3.2):
// discrete Laplace proposals with scale t = ⌊σ⌋+1, accepted with probability
// exp(−(|Y| − σ²/t)²/(2σ²)). Every random decision compares random bits with
// a rational number (or with e⁻¹, whose binary expansion is computed
// exactly), lazily, so the output distribution is exactly the discrete
// Gaussian: there is no floating point in the sampling decisions. The hot
// path brackets the rational parameters with 128-bit integer arithmetic and
// decides whenever the bracket does, falling back to math/big in the rare
// cases it cannot (about 2⁻⁵⁰ of the comparisons); both paths consume the
// same random bits and give the same answers, which the tests check sample
// by sample. Sample does not allocate; a sampler draws several million
// samples per second per core (see BenchmarkDiscreteGaussian).
//
// Sampler exposes the primitives (uniform integers, Bernoulli with a rational
// parameter, Bernoulli(exp(−γ)), discrete Laplace).
//
// # The lattice: how training releases a statistic
//
// Floating-point sums with added noise leak through their low-order bits
// (Mironov 2012). A released statistic X with sensitivity Δ and multiplier z
// therefore goes through a Lattice (D3.3): every per-user contribution is
// rounded to a multiple of the power-of-two granularity g ≈ zΔ·2⁻³² and
// summed exactly in int64 (Accumulate, AccumulateOuter, MergeSums — sums are
// order-independent, so parallel workers may add their partial sums in any
// order); the sensitivity is inflated to Δ' to cover the rounding; and a
// per-worker Noiser adds integer discrete Gaussian noise of variance
// (zΔ'/g)² (σ²/2 off the diagonal of a symmetric matrix, B8.d) and returns
// g·(sum + noise). In DP-ALS training (B8):
//
//	cal, err := dp.Calibrate(dp.CalibrationConfig{Epsilon: 1, Delta: 1e-6, Steps: 5, Beta: 100, CountShare: 0.05, Gravity: true})
//	latG, err := dp.NewLattice(cal.ZG, R*R, dp.SymmetricCoords(d, 1))            // G = Σ u uᵀ
//	latS, err := dp.NewLattice(cal.ZS, R*R*math.Sqrt(beta), dp.SymmetricCoords(d, k)) // S_j = Σ e_ij u uᵀ
//	latT, err := dp.NewLattice(cal.ZT, R*math.Sqrt(beta), dp.VectorCoords(d, k))      // t_j = Σ e_ij u
//	// per worker: latS.AccumulateOuter(sumS[j], u, e_ij); latT.Accumulate(sumT[j], u, e_ij) ...
//	// then, per worker over its items: noiser.Symmetric(S̃_j, sumS[j], d); noiser.Vector(t̃_j, sumT[j])
//
// and the ledger records cal.Ledger, the Statement, and KindOf(source).
//
// # Popularity
//
// BoundContributions bounds one user's contribution (k_p keys, L2 norm C;
// F2), Counts releases noisy totals over a public key set (F3–F4), and
// GaussianThreshold / LaplaceThreshold give the release threshold when the
// keys are not public (F4).
//
// # Concurrency
//
// Accounting functions and Lattice are safe for concurrent use. Rand,
// Sampler, DiscreteGaussian, Noiser and Counts are not: use one per
// goroutine, each with its own stream from Streams.
package dp
