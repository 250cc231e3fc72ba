// Package als trains Discret's recommendation model: implicit-feedback
// alternating least squares (ALS) in the iALS form of Rendle et al. (RecSys
// 2022), optionally with user-level differential privacy on the item side
// (DP-ALS.md section B, after Chien et al., ICML 2021).
//
// Train fits user factors U (never released) and item factors V (the
// model) to a confidence matrix from package interact by minimizing
// (DP-ALS.md B3)
//
//	L(U, V) = Σ_{(i,j) observed} c_ij (1 − u_iᵀv_j)² + w0 Σ_{all i, j∈𝓘} (u_iᵀv_j)²
//	          + Σ_i λ_i ‖u_i‖² + Σ_j λ_j ‖v_j‖²,
//	λ_i = λ·(Σ_j c_ij + w0·|𝓘|)^ν,   λ_j = λ·(n_j + w0·|users|)^ν,
//
// alternating exact user solves and item solves. With Config.Privacy set,
// the same iterations run on clipped user vectors and per-user bounded
// weights, and the item-side sufficient statistics receive discrete Gaussian
// noise calibrated by package privacy/dp; only V is released. At serving
// time a user's vector is recomputed from their own history with a Folder
// (DP-ALS.md B11).
package als

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"time"

	"github.com/discret-io/discret/model/interact"
)

// Defaults of Config, chosen on validation splits of MovieLens 100K and 1M
// carved from the training part only (see model/eval/TUNING.md).
const (
	DefaultFactors     = 64
	DefaultIterations  = 10
	DefaultLambda      = 0.4
	DefaultRegExponent = 0.5
	DefaultUnobserved  = 0.2
	DefaultInitScale   = 0.1
)

// Config holds the hyper-parameters of a training run. The zero value means
// the documented defaults (non-private training).
type Config struct {
	// Factors is d, the dimension of user and item vectors. A private run
	// uses Privacy.Rank ≤ Factors of them (by default the PrivateRank
	// rule); Model.Factors says how many.
	Factors int
	// Iterations is the number of alternations (user step then item step).
	// With Privacy set it is the number T of private steps, each charged to
	// the privacy budget.
	Iterations int
	// Lambda is λ, the base L2 regularization.
	Lambda float64
	// RegExponent is ν in the frequency-scaled regularization
	// λ·(frequency + w0·count)^ν (Rendle et al. 2022, §3.3), 0 < ν ≤ 1; 0
	// means the default. (ν = 1/2 makes the best λ the same on MovieLens
	// 100K and 1M; a plain constant λ is the limit ν → 0.)
	RegExponent float64
	// Unobserved is w0 > 0, the weight of every (user, item) pair in the
	// "gravity" term that pulls unobserved predictions towards 0.
	Unobserved float64
	// InitScale is σ: item vectors start as i.i.d. N(0, σ²/d) entries.
	InitScale float64
	// Seed seeds the initialization (PCG). The same seed and data give the
	// same model whatever Workers (a private run also needs the same
	// test-seeded Privacy.Source).
	Seed uint64
	// Workers bounds the goroutines used; 0 means runtime.GOMAXPROCS(0).
	Workers int
	// Privacy, when non-nil, makes the item vectors differentially private
	// (DP-ALS.md B). Nil means non-private training (ε = ∞).
	Privacy *Privacy
	// TrackLoss computes the objective L after every iteration of a
	// non-private run (Report.Loss, Progress.Loss). It costs about one extra
	// pass over the data per iteration.
	TrackLoss bool
	// Progress, when non-nil, is called after every iteration from the
	// goroutine that called Train.
	Progress func(Progress)
}

// Progress reports the end of one iteration.
type Progress struct {
	Iteration  int           // 1-based
	Iterations int           // total planned
	Elapsed    time.Duration // since Train started
	Step       time.Duration // this iteration
	// Epsilon is the privacy loss spent so far (official conversion,
	// DP-ALS.md C2.2, at the run's δ); +Inf for a non-private run.
	Epsilon float64
	// Loss is the objective after this iteration when Config.TrackLoss is
	// set on a non-private run, else NaN.
	Loss float64
}

// WithDefaults returns c with every zero field set to its default (the
// iterations: DefaultPrivateIterations when Privacy is set).
func (c Config) WithDefaults() Config {
	c.Factors = cmp.Or(c.Factors, DefaultFactors)
	if c.Iterations == 0 {
		c.Iterations = DefaultIterations
		if c.Privacy != nil {
			c.Iterations = DefaultPrivateIterations
		}
	}
	c.Lambda = cmp.Or(c.Lambda, DefaultLambda)
	c.RegExponent = cmp.Or(c.RegExponent, DefaultRegExponent)
	c.Unobserved = cmp.Or(c.Unobserved, DefaultUnobserved)
	c.InitScale = cmp.Or(c.InitScale, DefaultInitScale)
	c.Workers = cmp.Or(c.Workers, runtime.GOMAXPROCS(0))
	return c
}

// Validate reports every problem of c (after defaults are applied).
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("als: "+format, args...)) }
	if c.Factors < 1 || c.Factors > 1024 {
		bad("factors = %d, want 1 to 1024", c.Factors)
	}
	if c.Iterations < 1 || c.Iterations > 1000 {
		bad("iterations = %d, want 1 to 1000", c.Iterations)
	}
	if !positive(c.Lambda) {
		bad("lambda = %v, want a finite number > 0", c.Lambda)
	}
	if !(c.RegExponent > 0 && c.RegExponent <= 1) {
		bad("regularization exponent = %v, want 0 < ν ≤ 1", c.RegExponent)
	}
	if !positive(c.Unobserved) {
		bad("unobserved weight = %v, want a finite number > 0", c.Unobserved)
	}
	if !positive(c.InitScale) {
		bad("init scale = %v, want a finite number > 0", c.InitScale)
	}
	if c.Workers < 1 {
		bad("workers = %d, want ≥ 1", c.Workers)
	}
	if c.Privacy != nil {
		errs = append(errs, c.Privacy.validate())
		if c.Privacy.Rank > c.Factors {
			bad("privacy: rank = %d exceeds factors = %d", c.Privacy.Rank, c.Factors)
		}
	}
	return errors.Join(errs...)
}

func positive(x float64) bool { return x > 0 && !math.IsInf(x, 1) }

// Model is the released result of training: the item vectors and what a
// Folder needs to compute a user's vector from their history.
type Model struct {
	Factors int // d
	Items   int // catalogue size (columns of the training matrix)
	// V holds the item vectors, row-major Items × Factors. Items outside the
	// trained universe have zero vectors.
	V []float64
	// InUniverse reports, per item, whether it was trained (DP-ALS.md B5).
	InUniverse []bool
	// Universe is the number of trained items, |𝓘|.
	Universe int
	// Counts holds, per item, the number of training users: the released
	// noisy counts ñ_j of DP-ALS.md B4 for a private model (clamped to
	// ≥ 1), exact counts otherwise. Serving may rank by it when it cannot
	// personalize.
	Counts []float64
	// Hyper-parameters the fold-in needs (DP-ALS.md B11).
	Lambda, RegExponent, Unobserved float64
}

// Report describes a finished training run.
type Report struct {
	Users, Items, Universe int // matrix rows, columns, trained items
	Pairs                  int // stored (user, item) pairs
	Factors, Iterations    int
	Workers                int
	// IterationTimes holds the wall time of every iteration.
	IterationTimes []time.Duration
	// Setup is the time spent before the first iteration (transposition,
	// and under privacy the count release, selection and calibration).
	Setup time.Duration
	// Total is the wall time of Train.
	Total time.Duration
	// Loss holds the objective after every iteration when TrackLoss is set
	// on a non-private run.
	Loss []float64
	// Fallbacks counts the item and user systems that were not numerically
	// positive definite and were solved by the eigenvalue fallback.
	Fallbacks int64
	// Privacy is the privacy ledger of a private run, nil otherwise.
	Privacy *Ledger
}

// Train fits the model to m. Rows of m are users, columns the catalogue; with
// Config.Privacy nil every column is trained, otherwise the universe follows
// Privacy.ItemFraction. It returns ctx's error if ctx is cancelled.
func Train(ctx context.Context, m *interact.Matrix, cfg Config) (*Model, *Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	cfg = cfg.WithDefaults()
	if m.Users() == 0 || m.Items() == 0 {
		return nil, nil, fmt.Errorf("als: empty matrix (%d users × %d items)", m.Users(), m.Items())
	}
	t := newTrainer(m, cfg)
	return t.run(ctx)
}
