package als

import (
	"cmp"
	"errors"
	"fmt"
	"math"

	"github.com/discret-io/discret/privacy/dp"
)

// Defaults of Privacy, chosen on validation splits (model/eval/TUNING.md).
const (
	DefaultPrivateIterations = 2    // T
	DefaultBudget            = 30.0 // β
	DefaultClipNorm          = 0.1  // R
	DefaultCountShare        = 0.1  // share of ρ spent on item counts
	DefaultItemFraction      = 0.1  // share of the catalogue trained

	// MinPrivateRank and RankSignal are the constants of the automatic
	// rank of a private model (PrivateRank).
	MinPrivateRank = 4
	RankSignal     = 16.0
)

// Policy selects the items of a user that enter the item-side statistics
// (DP-ALS.md B6 step 1). Every policy depends only on the user's own data,
// released counts and fresh randomness.
type Policy uint8

// Selection policies.
const (
	// PolicyUniform keeps MaxItems items chosen uniformly at random (the
	// default).
	PolicyUniform Policy = iota
	// PolicyTail keeps the MaxItems items with the smallest noisy counts
	// (ties in random order), the reference's "tail" policy.
	PolicyTail
	// PolicyStrongest keeps the MaxItems items of largest confidence (ties
	// in random order).
	PolicyStrongest
	// PolicyAll keeps every item; the weights are still scaled to ‖e‖ ≤ √β.
	PolicyAll
)

func (p Policy) String() string {
	switch p {
	case PolicyUniform:
		return "uniform"
	case PolicyTail:
		return "tail"
	case PolicyStrongest:
		return "strongest"
	case PolicyAll:
		return "all"
	}
	return fmt.Sprintf("policy(%d)", uint8(p))
}

// Gram selects how private item solves obtain the per-item Gram matrices
// S_j = Σ_i e_ij u_i u_iᵀ of DP-ALS.md B3.
type Gram uint8

// Gram modes.
const (
	// GramProxy releases no per-item Gram matrix. The item solve uses the
	// mean-field estimate S_j ≈ (ñ_j/Ñ)·G̃ built from the released counts
	// and the released global Gram matrix, so each step releases only G and
	// the t_j, and the budget of S goes to them (split (1, β)/(1+β), the
	// reference's s0 = s2). On the MovieLens validation splits it is as
	// accurate as GramNoisy at ε ≥ 10, clearly better at ε ≤ 5, and much
	// cheaper (no per-item noise on d(d+1)/2 entries and no per-item
	// eigendecomposition); see model/eval/TUNING.md.
	GramProxy Gram = iota
	// GramNoisy releases every S_j with discrete Gaussian noise and projects
	// it on the PSD cone: the reference algorithm (DP-ALS.md B8.c–d, split
	// (1, β, β)/(1+2β)).
	GramNoisy
)

func (g Gram) String() string {
	switch g {
	case GramProxy:
		return "proxy"
	case GramNoisy:
		return "noisy"
	}
	return fmt.Sprintf("gram(%d)", uint8(g))
}

// Privacy configures user-level differentially private training (DP-ALS.md
// B): the unit of privacy is a user (all their interactions), neighbouring
// datasets add or remove one user, and the released item vectors and item
// counts are (ε, δ)-DP. User vectors are never released. The zero value of
// every field but Epsilon means its documented default.
type Privacy struct {
	// Epsilon is the target ε > 0 of the whole run (counts and T steps).
	Epsilon float64
	// Delta is the target δ; 0 means 1/(10·users) rounded down to a power
	// of ten (DP-ALS.md C6).
	Delta float64
	// Budget is β: every user's item weights satisfy ‖e_i‖₂ ≤ √β (B6).
	// 0 means DefaultBudget.
	Budget float64
	// MaxItems is k, the most items of a user that enter the item-side
	// statistics and the count release; 0 means ⌈β⌉. Ignored by PolicyAll
	// for the statistics.
	MaxItems int
	// Policy selects those items (default PolicyUniform).
	Policy Policy
	// Mu is μ ∈ [0, 1]: raw weights are ñ_j^(−μ)·c_ij, favouring rare items
	// (Krichene et al. 2023); 0 means equal weights.
	Mu float64
	// Fill scales every user's weights to ‖e_i‖₂ = √β ("adaptive weights");
	// false only scales down users above the budget ("cap").
	Fill bool
	// ClipNorm is R: user vectors are clipped to ‖u_i‖₂ ≤ R before they
	// enter the statistics (B8.b). 0 means DefaultClipNorm.
	ClipNorm float64
	// CountShare is the share of ρ spent on the noisy item counts (B4);
	// 0 means DefaultCountShare.
	CountShare float64
	// Gram selects how item solves get the per-item Gram matrices (default
	// GramProxy).
	Gram Gram
	// NoShrinkage turns off the positive-part James–Stein shrinkage of the
	// noisy right-hand sides t̃_j towards 0 (a post-processing that uses only
	// the public noise σ_t; James and Stein 1961): by default
	// t̃_j ← max(0, 1 − d·σ_t²/‖t̃_j‖²)·t̃_j, which removes most of the noise
	// of items whose signal is below it.
	NoShrinkage bool
	// Rank is the number of factors of a private model, at most
	// Config.Factors. 0 means automatic: PrivateRank, a rule in the
	// released number of users and the calibrated noise.
	Rank int
	// ItemFraction, in (0, 1], trains only that fraction of the catalogue:
	// the items with the largest noisy counts (B5); 1 trains every
	// catalogue item and 0 means DefaultItemFraction. Untrained items get no
	// vector and are served by popularity. The catalogue itself (the matrix
	// columns) must be public.
	ItemFraction float64
	// Source is the randomness of the noise and of every random choice.
	// Nil means a fresh crypto-seeded dp.NewRand(). It must be a
	// dp.Forker.
	Source dp.Source
	// AllowTestSource accepts a Source that is not crypto-seeded (package
	// dptest, or a seeded benchmark source). The ledger records the kind;
	// a production run must leave it false and is then refused such a
	// source (DP-ALS.md B12, E4.7).
	AllowTestSource bool

	noiseOff bool // test hook: release the exact sums (no privacy)
}

func (p Privacy) withDefaults(users int) (Privacy, error) {
	if p.Delta == 0 {
		d, err := dp.DefaultDelta(users)
		if err != nil {
			return p, fmt.Errorf("als: %w", err)
		}
		p.Delta = d
	}
	p.Budget = cmp.Or(p.Budget, DefaultBudget)
	p.MaxItems = cmp.Or(p.MaxItems, int(math.Ceil(p.Budget)))
	p.ClipNorm = cmp.Or(p.ClipNorm, DefaultClipNorm)
	p.CountShare = cmp.Or(p.CountShare, DefaultCountShare)
	p.ItemFraction = cmp.Or(p.ItemFraction, DefaultItemFraction)
	return p, nil
}

func (p *Privacy) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("als: privacy: "+format, args...)) }
	if !positive(p.Epsilon) {
		bad("epsilon = %v, want a finite number > 0", p.Epsilon)
	}
	if !(p.Delta >= 0 && p.Delta < 1) {
		bad("delta = %v, want 0 ≤ δ < 1", p.Delta)
	}
	if !(p.Budget >= 0) || math.IsInf(p.Budget, 1) {
		bad("budget β = %v, want a finite number > 0", p.Budget)
	}
	if p.MaxItems < 0 {
		bad("max items = %d, want ≥ 0", p.MaxItems)
	}
	if p.Rank < 0 {
		bad("rank = %d, want ≥ 1 (0: automatic)", p.Rank)
	}
	if p.Policy > PolicyAll {
		bad("unknown selection policy %d", uint8(p.Policy))
	}
	if p.Gram > GramNoisy {
		bad("unknown Gram mode %d", uint8(p.Gram))
	}
	if !(p.Mu >= 0 && p.Mu <= 1) {
		bad("mu = %v, want 0 ≤ μ ≤ 1", p.Mu)
	}
	if !(p.ClipNorm >= 0) || math.IsInf(p.ClipNorm, 1) {
		bad("clip norm R = %v, want a finite number > 0", p.ClipNorm)
	}
	if !(p.CountShare >= 0 && p.CountShare < 1) {
		bad("count share = %v, want 0 ≤ share < 1", p.CountShare)
	}
	if !(p.ItemFraction >= 0 && p.ItemFraction <= 1) {
		bad("item fraction = %v, want 0 ≤ fraction ≤ 1", p.ItemFraction)
	}
	if p.Source != nil {
		if _, ok := p.Source.(dp.Forker); !ok {
			bad("source %T cannot fork worker streams (want a dp.Forker)", p.Source)
		}
		if !p.AllowTestSource {
			if err := dp.CheckProduction(p.Source); err != nil {
				errs = append(errs, fmt.Errorf("als: privacy: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

// Ledger is the privacy record of a private run, to be stored with the
// model (DP-ALS.md B12).
type Ledger struct {
	// Target (Epsilon, Delta) and the realized guarantee of the charges.
	Epsilon, Delta float64
	Statement      dp.Statement
	Charges        []dp.Charge
	// Source is the kind of randomness ("crypto" or "test-seeded").
	Source dp.Kind
	// The mechanism's parameters.
	Steps        int
	Budget       float64
	MaxItems     int
	Policy       Policy
	Mu           float64
	Fill         bool
	ClipNorm     float64
	ItemFraction float64
	Gram         Gram
	Shrinkage    bool
	// Noise multipliers z and standard deviations σ = z·Δ' of the counts
	// and of each step's G, S_j and t_j (DP-ALS.md B10, D3.3); ZS and
	// SigmaS are +Inf and 0 with GramProxy (S_j is not released).
	ZCounts, ZG, ZS, ZT                 float64
	SigmaCounts, SigmaG, SigmaS, SigmaT float64
	// Users is the number of training users; Universe the trained items.
	Users, Universe int
	// Rank is the number of factors of the released vectors and MaxFactors
	// the Config.Factors it was chosen under; RankRule is true when Rank
	// came from PrivateRank.
	Rank, MaxFactors int
	RankRule         bool
	// Samples is the number of discrete Gaussian samples drawn.
	Samples int64
}

// PrivateRank returns the number of factors a private model uses when
// Privacy.Rank is 0:
//
//	r = clamp(round(Ñ / (κ·z_t·√β)), MinPrivateRank, maxFactors),  κ = RankSignal,
//
// where Ñ is the released (noisy) number of users, z_t the noise multiplier
// of the right-hand sides t_j and β the per-user weight budget. It is a
// signal-to-noise rule: a user adds e_ij·u_i to t_j with ‖u_i‖ ≤ R, spread
// over r coordinates, while every coordinate of t̃_j receives noise of
// standard deviation z_t·R·√β (DP-ALS.md B8.c, B10), so each coordinate's
// signal-to-noise ratio falls as the rank grows; the number of coordinates
// that the data can support grows with Ñ/(z_t·√β). κ = 16 and the floor of
// 4 were fitted on the validation splits of MovieLens 100K, 1M and Online
// Retail at ε = 1, 5, 10 (model/eval/TUNING.md section 7). The rule reads
// only released values and public parameters, so it is post-processing: it
// costs no privacy budget.
func PrivateRank(users, zT, budget float64, maxFactors int) int {
	lo := min(MinPrivateRank, maxFactors)
	x := users / (RankSignal * zT * math.Sqrt(budget))
	if math.IsNaN(x) || x < float64(lo) {
		return lo
	}
	if x >= float64(maxFactors) {
		return maxFactors
	}
	return max(lo, int(math.Round(x)))
}

// calibrate returns the noise multipliers of a run (DP-ALS.md B10). With
// GramNoisy it is dp.Calibrate. With GramProxy each step releases only G and
// the t_j: ρ_step = (ρ_tot − ρ_c)/T is split (1, β)/(1+β) between them, so
// that z_G = z_t·√β as in the reference parameterization s0 = s2.
func calibrate(cfg Privacy, steps int) (dp.Calibration, error) {
	cc := dp.CalibrationConfig{
		Epsilon: cfg.Epsilon, Delta: cfg.Delta, Steps: steps, Beta: cfg.Budget,
		CountShare: cfg.CountShare, Gravity: true,
	}
	if cfg.Gram == GramNoisy {
		c, err := dp.Calibrate(cc)
		if err != nil {
			return c, fmt.Errorf("als: privacy: %w", err)
		}
		return c, nil
	}
	if err := cc.Validate(); err != nil {
		return dp.Calibration{}, fmt.Errorf("als: privacy: %w", err)
	}
	var c dp.Calibration
	var err error
	if c.RhoTotal, err = dp.RhoForEpsilon(cfg.Epsilon, cfg.Delta, dp.RDP); err != nil {
		return c, fmt.Errorf("als: privacy: %w", err)
	}
	c.RhoCounts = cfg.CountShare * c.RhoTotal
	c.ZCounts = dp.MultiplierForRho(c.RhoCounts)
	c.RhoStep = (c.RhoTotal - c.RhoCounts) / float64(steps)
	c.ZG = dp.MultiplierForRho(c.RhoStep / (1 + cfg.Budget))
	c.ZT = dp.MultiplierForRho(c.RhoStep * cfg.Budget / (1 + cfg.Budget))
	c.ZS = math.Inf(1)
	c.RhoG, c.RhoT = dp.RhoForMultiplier(c.ZG), dp.RhoForMultiplier(c.ZT)
	for _, ch := range []struct {
		label string
		z     float64
		n     int
	}{{"counts", c.ZCounts, 1}, {"G", c.ZG, steps}, {"t", c.ZT, steps}} {
		if err := c.Ledger.AddGaussian(ch.label, ch.z, ch.n); err != nil {
			return c, fmt.Errorf("als: privacy: %w", err)
		}
	}
	c.RhoTrain = c.Ledger.Rho()
	if c.Epsilon, err = dp.Epsilon(c.RhoTrain, cfg.Delta, dp.RDP); err != nil {
		return c, fmt.Errorf("als: privacy: %w", err)
	}
	if c.Epsilon > cfg.Epsilon+1e-9 {
		return c, fmt.Errorf("als: privacy: realized ε = %.12g exceeds the target %v (internal error)", c.Epsilon, cfg.Epsilon)
	}
	return c, nil
}
