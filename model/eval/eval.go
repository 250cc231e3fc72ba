// Package eval measures Discret's recommendation quality offline, on public
// benchmark datasets. Run sweeps the privacy budget ε over several training
// seeds and returns one Row per (model, ε) with the mean and standard
// deviation over seeds; WriteTable, WriteJSON and WritePlot present the
// rows. Nothing here touches a data directory or a store.
//
// # Protocol
//
// The input is a Dataset of distinct (user, item) identifier pairs (every
// pair counts once; ratings, times and event kinds are ignored). Users and
// items are ordered by their public identifiers: numerically when every
// identifier of their kind is an integer, otherwise byte-wise.
//
//   - Split. Users are visited in that order and each user's items are
//     shuffled by Fisher–Yates with one splitmix64 stream (seed 42, continued
//     across users); the first ⌊0.2·n⌋ items (1 when n ≥ 2 and that is 0)
//     are the user's test items T_u, the rest train. The split is fixed:
//     seeds vary the training only. The validation split (Config.Validation,
//     for tuning) applies the same rule with seed 43 to the training part,
//     so the test items are never seen.
//   - Catalogue. The items seen in training; a test item outside it counts
//     in |T_u| but can never be hit.
//   - Ranking. Every catalogue item is scored for every user with at least
//     one training and one test item (full ranking, no sampled negatives:
//     Run fails with ErrNothingToEvaluate if no such user has a test item in
//     the catalogue, as every figure would then be 0);
//     the user's training items are removed and ties go to the lower item
//     index. ALS user vectors are folded in from the user's training items.
//   - Metrics, averaged over users: Precision@10 = hits@10/10, Recall@10 =
//     hits@10/|T_u|, Recall@20 = hits@20/min(20, |T_u|), NDCG@10 with binary
//     gains and the ideal DCG over min(|T_u|, 10) items, and coverage, the
//     share of the catalogue in at least one user's top 10.
//   - Models. The most-popular baseline (training users per item) and ALS
//     non-private; for every finite ε, ALS trained with user-level
//     differential privacy (the production algorithm and sampler, with
//     test-seeded randomness, one stream per seed; the number of factors
//     follows the private rank rule of 'discret train', at most
//     Config.Factors) and the DP most-popular baseline at the same (ε, δ):
//     each user contributes DefaultPopularItems uniformly chosen items and
//     discrete Gaussian noise is added to every item's count. The δ of the
//     private runs is 1/(10·users) rounded down to a power of ten unless
//     Config.Privacy sets it.
//
// TUNING.md, next to this file, records how the defaults of model/als were
// chosen on the validation split and the test figures they give.
package eval

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/discret-io/discret/model/als"
	"github.com/discret-io/discret/model/interact"
)

// Model names of Row.Model.
const (
	ModelALS       = "als"
	ModelPopular   = "popular"
	ModelDPPopular = "dp-popular"
)

// DefaultEpsilons is the ε sweep of Run when Config.Epsilons is empty;
// +Inf is the non-private run.
var DefaultEpsilons = []float64{0.5, 1, 2, 5, 10, math.Inf(1)}

// DefaultSeeds is the number of seeds of Run when Config.Seeds is 0.
const DefaultSeeds = 3

// Config configures Run. The zero value, with a Dataset, runs the default
// sweep with the default (tuned) hyper-parameters.
type Config struct {
	// Name labels the rows (for example "ml-1m").
	Name    string
	Dataset *Dataset
	// Epsilons lists the privacy budgets to evaluate; math.Inf(1) is the
	// non-private model. Empty means DefaultEpsilons.
	Epsilons []float64
	// Factors overrides ALS.Factors when > 0.
	Factors int
	// Seeds is the number of repetitions (training seeds 1 … Seeds; the
	// split is always the EVAL.md one). 0 means DefaultSeeds.
	Seeds int
	// ALS holds the hyper-parameters; its zero value means the package
	// als defaults. Seed and Privacy are set by Run.
	ALS als.Config
	// Privacy holds the private-training settings of the finite-ε runs (nil
	// means the als defaults); Epsilon and Source are set by Run, with a
	// test-seeded source per seed.
	Privacy *als.Privacy
	// PopularItems is k_p of the DP most-popular baseline; 0 means
	// DefaultPopularItems.
	PopularItems int
	// Validation evaluates on the validation split (seed 43) carved from
	// the training part instead of the test part: the split used for tuning.
	Validation bool
	// Workers bounds the goroutines; 0 means runtime.GOMAXPROCS(0).
	Workers int
	// Log, when non-nil, receives one line per ALS iteration and one per
	// finished run.
	Log func(string)
}

// Stat is a mean and a sample standard deviation over seeds.
type Stat struct {
	Mean, Std float64
}

// Splits of Row.Split.
const (
	SplitTest       = "test"       // the holdout of TestSeed: the reported figures
	SplitValidation = "validation" // carved from the training part (ValidationSeed): for tuning
)

// Row is the result of one model at one privacy budget, over all seeds.
type Row struct {
	Dataset string
	Split   string  // SplitTest or SplitValidation
	Model   string  // ModelALS, ModelPopular or ModelDPPopular
	Epsilon float64 // +Inf for a non-private model
	Delta   float64 // 0 for a non-private model
	Factors int     // 0 for the popularity baselines
	Seeds   int
	Users   int // evaluated users

	Precision10, Recall10, Recall20, NDCG10, Coverage Stat
	// NDCG10SE is the standard error of NDCG@10 over users (Metrics.NDCG10SE)
	// averaged over seeds: how much another draw of users would move the
	// figure, an error that more seeds cannot reduce.
	NDCG10SE     Stat
	TrainSeconds Stat
}

// Run evaluates every model of the sweep and returns the rows: popular and
// non-private ALS first, then for each finite ε (increasing) dp-popular and
// private ALS.
func Run(ctx context.Context, cfg Config) ([]Row, error) {
	if cfg.Dataset == nil {
		return nil, errors.New("eval: no dataset")
	}
	cfg.Seeds = cmp.Or(cfg.Seeds, DefaultSeeds)
	if cfg.Seeds < 1 {
		return nil, fmt.Errorf("eval: seeds = %d, want ≥ 1", cfg.Seeds)
	}
	cfg.Workers = cmp.Or(cfg.Workers, runtime.GOMAXPROCS(0))
	eps := slices.Clone(cfg.Epsilons)
	if len(eps) == 0 {
		eps = slices.Clone(DefaultEpsilons)
	}
	for _, e := range eps {
		if !(e > 0) {
			return nil, fmt.Errorf("eval: epsilon %v, want > 0 or +Inf", e)
		}
	}
	slices.Sort(eps)
	eps = slices.Compact(eps)
	if cfg.Factors > 0 {
		cfg.ALS.Factors = cfg.Factors
	}
	if err := cfg.ALS.Validate(); err != nil {
		return nil, err
	}

	b := newBench(cfg)
	if err := b.check(); err != nil {
		return nil, err
	}
	var rows []Row
	pop, err := b.popular(ctx)
	if err != nil {
		return nil, err
	}
	rows = append(rows, pop)
	if slices.Contains(eps, math.Inf(1)) {
		r, err := b.als(ctx, math.Inf(1))
		if err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	for _, e := range eps {
		if math.IsInf(e, 1) {
			continue
		}
		r, err := b.dpPopular(ctx, e)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r)
		r, err = b.als(ctx, e)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// ErrNothingToEvaluate is returned by Run when the split leaves no
// held-out item that a model could rank: every figure would be 0 whatever
// the model, so Run refuses the dataset instead.
var ErrNothingToEvaluate = errors.New("eval: nothing to evaluate")

// check returns an error wrapping ErrNothingToEvaluate if no user can be
// evaluated (none has both a training and a held-out item) or if no
// evaluated user's held-out item is in the catalogue.
func (b *bench) check() error {
	users, least := 0, 2
	if b.cfg.Validation {
		least = 3 // the validation split holds out from the training part
	}
	for u := range b.train {
		if len(b.train[u]) == 0 || len(b.test[u]) == 0 {
			continue
		}
		users++
		for _, j := range b.test[u] {
			if j >= 0 {
				return nil
			}
		}
	}
	if users == 0 {
		return fmt.Errorf("%w: no user has %d or more distinct items, so none has both a training and a held-out item after the %g %% holdout", ErrNothingToEvaluate, least, HoldoutFraction*100)
	}
	evaluated := fmt.Sprintf("the %d users evaluated", users)
	if users == 1 {
		evaluated = "the one user evaluated"
	}
	return fmt.Errorf("%w: no held-out item of %s is among the items seen in training (a single user, or users with too few items in common), so every figure would be 0", ErrNothingToEvaluate, evaluated)
}

// bench is one dataset split, mapped to the catalogue of training items.
type bench struct {
	cfg         Config
	train, test [][]int32 // catalogue indices; test uses −1 for unseen items
	items       int       // catalogue size
	matrix      *interact.Matrix
	counts      []float64 // training users per catalogue item
}

func newBench(cfg Config) *bench {
	d := cfg.Dataset
	s := d.Split(TestSeed)
	train, test := s.Train, s.Test
	if cfg.Validation {
		v := SplitRows(train, ValidationSeed, HoldoutFraction)
		train, test = v.Train, v.Test
	}
	// The catalogue is the set of items seen in training (EVAL.md).
	index := make([]int32, d.Items())
	for j := range index {
		index[j] = -1
	}
	n := int32(0)
	seen := make([]bool, d.Items())
	for _, row := range train {
		for _, j := range row {
			seen[j] = true
		}
	}
	for j, ok := range seen {
		if ok {
			index[j] = n
			n++
		}
	}
	b := &bench{cfg: cfg, items: int(n), train: make([][]int32, len(train)), test: make([][]int32, len(test)), counts: make([]float64, n)}
	for u := range train {
		b.train[u] = make([]int32, len(train[u]))
		for q, j := range train[u] {
			b.train[u][q] = index[j]
			b.counts[index[j]]++
		}
		b.test[u] = make([]int32, len(test[u]))
		for q, j := range test[u] {
			b.test[u][q] = index[j]
		}
	}
	m, err := interact.FromRows(b.items, b.train)
	if err != nil {
		panic(err) // indices come from the catalogue mapping above
	}
	b.matrix = m

	return b
}

func (b *bench) log(format string, args ...any) {
	if b.cfg.Log != nil {
		b.cfg.Log(fmt.Sprintf(format, args...))
	}
}

// popular evaluates the non-private most-popular baseline (deterministic).
func (b *bench) popular(ctx context.Context) (Row, error) {
	start := time.Now()
	counts := b.counts
	secs := time.Since(start).Seconds()
	m, err := Evaluate(ctx, b.train, b.test, b.items, b.cfg.Workers, func() Scorer {
		return func(_ int, scores []float64) { copy(scores, counts) }
	})
	if err != nil {
		return Row{}, err
	}
	b.log("%s popular: ndcg@10 %.4f", b.cfg.Name, m.NDCG10)
	return b.row(ModelPopular, math.Inf(1), 0, 0, []Metrics{m}, []float64{secs}), nil
}

// als trains and evaluates ALS at one ε over every seed.
func (b *bench) als(ctx context.Context, eps float64) (Row, error) {
	var ms []Metrics
	var secs []float64
	delta := 0.0
	factors := 0
	for seed := 1; seed <= b.cfg.Seeds; seed++ {
		c := b.cfg.ALS
		c.Seed = uint64(seed)
		c.Workers = b.cfg.Workers
		if !math.IsInf(eps, 1) {
			p, err := b.privacy(eps, uint64(seed))
			if err != nil {
				return Row{}, err
			}
			c.Privacy = p
		}
		if b.cfg.Log != nil {
			c.Progress = func(p als.Progress) {
				b.log("%s als ε=%s seed %d: iteration %d/%d (%.1f s)", b.cfg.Name, epsilonText(eps), seed, p.Iteration, p.Iterations, p.Elapsed.Seconds())
			}
		}
		model, rep, err := als.Train(ctx, b.matrix, c)
		if err != nil {
			return Row{}, err
		}
		if rep.Privacy != nil {
			delta = rep.Privacy.Delta
		}
		m, err := b.evaluateModel(ctx, model)
		if err != nil {
			return Row{}, err
		}
		b.log("%s als ε=%s seed %d: %d factors, ndcg@10 %.4f, train %.2fs", b.cfg.Name, epsilonText(eps), seed, model.Factors, m.NDCG10, rep.Total.Seconds())
		factors = max(factors, model.Factors)
		ms = append(ms, m)
		secs = append(secs, rep.Total.Seconds())
	}
	return b.row(ModelALS, eps, delta, factors, ms, secs), nil
}

// evaluateModel ranks with user vectors folded in from the training items
// and the model's item vectors (DP-ALS.md E1, B11), in the order serving
// ranks them (servedScores).
func (b *bench) evaluateModel(ctx context.Context, model *als.Model) (Metrics, error) {
	folder := als.NewFolder(model)
	d := model.Factors
	vm := blas64.General{Rows: model.Items, Cols: d, Stride: d, Data: model.V}
	none := withoutVector(model)
	var foldErr error
	m, err := Evaluate(ctx, b.train, b.test, b.items, b.cfg.Workers, func() Scorer {
		sc := folder.NewScratch()
		u := make([]float64, d)
		return func(user int, scores []float64) {
			items, conf := b.matrix.Row(user)
			if _, err := folder.UserVector(u, items, conf, sc); err != nil {
				foldErr = err // indices come from the catalogue: cannot happen
				return
			}
			blas64.Gemv(blas.NoTrans, 1, vm, blas64.Vector{N: d, Inc: 1, Data: u}, 0, blas64.Vector{N: model.Items, Inc: 1, Data: scores})
			servedScores(scores, model.Counts, none, slices.ContainsFunc(u, func(x float64) bool { return x != 0 }))
		}
	})
	if foldErr != nil {
		return Metrics{}, foldErr
	}
	return m, err
}

// withoutVector reports, per item, whether it has no vector: outside the
// trained universe, or shrunk to zero by the private item step
// (release.HasVector). It returns nil when every item has a vector (every
// non-private model), so that such models are ranked by their scores
// alone.
func withoutVector(model *als.Model) []bool {
	d := model.Factors
	var none []bool
	for j := range model.Items {
		if !model.InUniverse[j] || !slices.ContainsFunc(model.V[j*d:j*d+d], func(x float64) bool { return x != 0 }) {
			if none == nil {
				none = make([]bool, model.Items)
			}
			none[j] = true
		}
	}
	return none
}

// servedScores rewrites the scores of one user so that they rank the
// catalogue as serve/recommend does (DP-ALS.md B5: items without a vector,
// none[j], are served by popularity): first the items with a vector and a
// positive score, by score; then the items without a vector, by released
// count, ties to the lower index (topK's order, that of serving's stable
// sort); then the items with a vector and a score ≤ 0. An item without a
// vector or a positive count, which serving never shows, comes last. A
// user whose folded-in vector is zero (personal is false) has no history
// to go by and gets the popular list: the catalogue by released count.
func servedScores(scores, counts []float64, none []bool, personal bool) {
	if !personal {
		for j, c := range counts {
			scores[j] = c
			if c <= 0 {
				scores[j] = -1 // serving never shows it: below the rest
			}
		}
		return
	}
	if none == nil { // every item has a vector
		return
	}
	for j, s := range scores {
		switch {
		case none[j] && counts[j] > 0:
			scores[j] = -1 / (1 + counts[j]) // in (−1, 0), the larger count first
		case none[j]:
			scores[j] = -1e15
		case s > 0:
			// unchanged
		default:
			scores[j] = s - 2
		}
	}
}

func (b *bench) row(model string, eps, delta float64, factors int, ms []Metrics, secs []float64) Row {
	split := SplitTest
	if b.cfg.Validation {
		split = SplitValidation
	}
	r := Row{Dataset: b.cfg.Name, Split: split, Model: model, Epsilon: eps, Delta: delta, Factors: factors, Seeds: len(ms)}
	if len(ms) > 0 {
		r.Users = ms[0].Users
	}
	pick := func(f func(Metrics) float64) Stat {
		xs := make([]float64, len(ms))
		for i, m := range ms {
			xs[i] = f(m)
		}
		return stat(xs)
	}
	r.Precision10 = pick(func(m Metrics) float64 { return m.Precision10 })
	r.Recall10 = pick(func(m Metrics) float64 { return m.Recall10 })
	r.Recall20 = pick(func(m Metrics) float64 { return m.Recall20 })
	r.NDCG10 = pick(func(m Metrics) float64 { return m.NDCG10 })
	r.NDCG10SE = pick(func(m Metrics) float64 { return m.NDCG10SE })
	r.Coverage = pick(func(m Metrics) float64 { return m.Coverage })
	r.TrainSeconds = stat(secs)
	return r
}

// stat returns the mean and the sample standard deviation (0 for one value).
func stat(xs []float64) Stat {
	if len(xs) == 0 {
		return Stat{}
	}
	var s Stat
	for _, x := range xs {
		s.Mean += x
	}
	s.Mean /= float64(len(xs))
	if len(xs) > 1 {
		var v float64
		for _, x := range xs {
			v += (x - s.Mean) * (x - s.Mean)
		}
		s.Std = math.Sqrt(v / float64(len(xs)-1))
	}
	return s
}
