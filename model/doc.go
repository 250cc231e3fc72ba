// Package model is the home of Discret's recommendation model; the code lives
// in its sub-packages:
//
//   - model/interact turns a customer's events (purchase, add_to_cart, view,
//     with quantities) into capped strengths and confidences, the sparse
//     matrix the trainer reads;
//   - model/als trains item vectors by implicit alternating least squares,
//     optionally with user-level differential privacy, and folds a user's
//     history into a user vector at serving time;
//   - model/eval measures the result offline on public benchmarks.
//
// # Interactions
//
// For customer i and catalogue item j (DP-ALS.md B2):
//
//	w_ij = Σ_events weight(kind)·quantity     (purchase 1.0, add_to_cart 0.5, view 0.1)
//	w̄_ij = min(w_ij, w_max)                   (w_max = 10)
//	c_ij = 1 + α·w̄_ij                          (α = 1)
//
// # Objective
//
// ALS fits user vectors u_i and item vectors v_j in ℝ^d (d = 64) to
//
//	L = Σ_{(i,j) observed} c_ij (1 − u_iᵀv_j)² + w0 Σ_{i, j∈𝓘} (u_iᵀv_j)²
//	    + Σ_i λ_i‖u_i‖² + Σ_j λ_j‖v_j‖²,
//	λ_i = λ·(Σ_j c_ij + w0·|𝓘|)^ν,   λ_j = λ·(n_j + w0·|users|)^ν,
//
// the iALS objective of Rendle, Krichene, Zhang and Koren ("Revisiting the
// Performance of iALS on Item Recommendation Benchmarks", RecSys 2022): every
// (user, item) pair, observed or not, is pulled towards 0 with weight w0 (the
// "gravity" term), observed pairs towards 1 with weight c_ij, and the
// regularization grows with the number of observations (frequency scaling).
// Defaults λ = 0.4, ν = 0.5, w0 = 0.2 and 10 iterations were chosen on
// validation splits of MovieLens 100K and 1M (model/eval/TUNING.md).
//
// # Alternating exact solves
//
// Each iteration solves every user exactly with the item vectors fixed, then
// every item with the user vectors fixed (Hu, Koren and Volinsky, ICDM 2008,
// for the structure of the normal equations):
//
//	(Σ_{j∈Ω_i} c_ij v_j v_jᵀ + w0·VᵀV + λ_i I) u_i = Σ_{j∈Ω_i} c_ij v_j
//	(Σ_{i∈Ω_j} c_ij u_i u_iᵀ + w0·UᵀU + λ_j I) v_j = Σ_{i∈Ω_j} c_ij u_i
//
// The Gram matrices VᵀV and UᵀU cover all pairs, so no negative sampling is
// needed. The per-row Gram sums are gathered into contiguous blocks and
// accumulated by a register-blocked AVX2/FMA kernel (model/internal/spd);
// the d×d systems are solved by a blocked Cholesky factorization, with an
// eigenvalue fallback for systems that are not numerically positive
// definite. Users and items are solved in parallel by a bounded pool of
// workers with per-worker scratch memory.
//
// # Differential privacy
//
// With a privacy budget (ε, δ), the unit of privacy is a customer: the
// released item vectors and item counts do not depend much on any one
// customer's presence (DP-ALS.md B, after Chien et al., "Private Alternating
// Least Squares", ICML 2021). User vectors are never released; each user's
// vector is recomputed from their own history at serving time (the
// "billboard" model of joint differential privacy). The trainer
//
//  1. releases noisy item counts ñ_j (each user samples at most k items) and
//     a noisy number of users Ñ, with a small share of the budget (B4);
//  2. trains only the items with the largest noisy counts (B5), never
//     chosen from exact counts;
//  3. gives each user item weights e_ij ∝ c_ij with ‖e_i‖₂ ≤ √β on at most k
//     items (B6);
//  4. in each of T steps, solves users exactly, clips them to ‖u_i‖ ≤ R,
//     and releases the item-side sufficient statistics with discrete
//     Gaussian noise (package privacy/dp, CKS 2020):
//     G = Σ_i u_i u_iᵀ (sensitivity R²) and t_j = Σ_i e_ij u_i (R√β), plus
//     optionally S_j = Σ_i e_ij u_i u_iᵀ (R²√β); by default S_j is instead
//     estimated as (ñ_j/Ñ)·G̃, which costs no budget;
//  5. projects noisy Gram matrices on the PSD cone, shrinks each t̃_j towards
//     0 by the positive-part James–Stein factor (1 − d·σ_t²/‖t̃_j‖²)₊, and
//     solves (S_j' + w0·G̃ + λ_j I) v_j = t̃_j.
//
// The statistics are accumulated exactly in fixed point (clipped user
// vectors and weights are quantized onto power-of-two grids whose products
// are multiples of the noise granularity, DP-ALS.md D3.3), so sums do not
// depend on the summation order and the sensitivities hold without rounding
// slack. The noise multipliers come from the zCDP accountant of privacy/dp:
// ρ_total = ρ_counts + T·(ρ_G + ρ_t [+ ρ_S]) converted to (ε, δ) by the
// optimal Rényi conversion (DP-ALS.md B9, B10, C2.2). The ledger of every
// run (multipliers, σ's, ρ, ε, the kind of randomness) is returned with the
// model; a training run refuses a test-seeded random source unless it is
// explicitly a test or an offline evaluation.
//
// # Serving-time fold-in
//
// For a user with history H (DP-ALS.md B11):
//
//	u = (Σ_{j∈H} c_j v_j v_jᵀ + w0·VᵀV + λ_u I)⁻¹ Σ_{j∈H} c_j v_j,
//
// with VᵀV computed once per model; als.Folder does it without allocating.
//
// # References
//
//   - S. Rendle, W. Krichene, L. Zhang, Y. Koren. Revisiting the Performance
//     of iALS on Item Recommendation Benchmarks. RecSys 2022.
//   - Y. Hu, Y. Koren, C. Volinsky. Collaborative Filtering for Implicit
//     Feedback Datasets. ICDM 2008.
//   - S. Chien, P. Jain, W. Krichene, S. Rendle, S. Song, A. Thakurta,
//     L. Zhang. Private Alternating Least Squares. ICML 2021.
//   - W. Krichene, P. Jain, S. Song, M. Sundararajan, A. Thakurta, L. Zhang.
//     Multi-Task Differential Privacy Under Distribution Skew. ICML 2023.
//   - C. Canonne, G. Kamath, T. Steinke. The Discrete Gaussian for
//     Differential Privacy. NeurIPS 2020.
//   - W. James, C. Stein. Estimation with Quadratic Loss. Berkeley Symposium
//     1961.
//   - K. Goto, R. van de Geijn. Anatomy of High-Performance Matrix
//     Multiplication. ACM TOMS 2008.
//   - The design notes DP-ALS.md and EVAL.md of this project.
package model
