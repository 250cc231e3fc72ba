package als

import (
	"context"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/discret-io/discret/model/interact"
)

type trainer struct {
	m   *interact.Matrix
	cfg Config
	d   int

	inU    []bool // trained universe 𝓘
	nUniv  int
	byUser *csr // users × items, restricted to 𝓘, weights c_ij
	byItem *csr // items × users, weights c_ij (non-private item step)

	u, v       []float64 // row-major factors
	counts     []float64 // users per item: exact, or released noisy counts
	regU, regV []float64 // λ_i, λ_j
	scratch    []*scratch
	fallbacks  atomic.Int64

	priv *private // nil for a non-private run
}

func newTrainer(m *interact.Matrix, cfg Config) *trainer {
	t := &trainer{m: m, cfg: cfg}
	t.setFactors(cfg.Factors)
	return t
}

// setFactors sets the dimension d of the vectors and sizes the workers'
// scratch for it. It must be called before the first iteration.
func (t *trainer) setFactors(d int) {
	t.d = d
	t.scratch = make([]*scratch, t.cfg.Workers)
	for w := range t.scratch {
		t.scratch[w] = newScratch(d)
	}
}

// regularization returns λ·(frequency + w0·others)^ν, the frequency-scaled
// regularization of Rendle et al. 2022 (§3.3; the reference code's
// RegularizationValue): frequency is the observed weight of the row,
// others the number of rows of the other side.
func regularization(cfg Config, frequency, others float64) float64 {
	return cfg.Lambda * math.Pow(frequency+cfg.Unobserved*others, cfg.RegExponent)
}

// restrict builds the user-major matrix restricted to the universe and the
// user regularizations λ_i = λ·(Σ_{j∈Ω_i∩𝓘} c_ij + w0·|𝓘|)^ν.
func (t *trainer) restrict() {
	m := t.m
	b := &csr{ptr: make([]int, 1, m.Users()+1)}
	t.regU = make([]float64, m.Users())
	for i := range m.Users() {
		items, conf := m.Row(i)
		var s float64
		for q, j := range items {
			if t.inU[j] {
				b.cols = append(b.cols, j)
				b.w = append(b.w, conf[q])
				s += conf[q]
			}
		}
		b.ptr = append(b.ptr, len(b.cols))
		t.regU[i] = regularization(t.cfg, s, float64(t.nUniv))
	}
	t.byUser = b
}

func allOnes(w []float64) bool {
	for _, x := range w {
		if x != 1 {
			return false
		}
	}
	return true
}

// initItems draws V⁰ with i.i.d. N(0, σ²/d) entries for the items of the
// universe, data-independently (DP-ALS.md B7; the 1/√d scaling is the
// reference iALS code's).
func (t *trainer) initItems() {
	d := t.d
	t.v = make([]float64, t.m.Items()*d)
	rng := rand.New(rand.NewPCG(t.cfg.Seed, 0x9e3779b97f4a7c15))
	std := t.cfg.InitScale / math.Sqrt(float64(d))
	for j := range t.m.Items() {
		if !t.inU[j] {
			continue
		}
		for q := range d {
			t.v[j*d+q] = std * rng.NormFloat64()
		}
	}
}

func (t *trainer) run(ctx context.Context) (*Model, *Report, error) {
	start := time.Now()
	cfg := t.cfg
	m := t.m
	rep := &Report{Users: m.Users(), Items: m.Items(), Pairs: m.Len(), Factors: t.d, Iterations: cfg.Iterations, Workers: cfg.Workers}

	if cfg.Privacy != nil {
		p, err := newPrivate(ctx, t)
		if err != nil {
			return nil, nil, err
		}
		t.priv = p // sets t.inU, t.nUniv, t.regV
		t.counts = p.counts
	} else {
		t.inU = make([]bool, m.Items())
		for j := range t.inU {
			t.inU[j] = true
		}
		t.nUniv = m.Items()
	}
	rep.Universe, rep.Factors = t.nUniv, t.d
	t.restrict()
	if t.priv == nil {
		t.byItem = t.byUser.transpose(m.Items())
		t.regV = make([]float64, m.Items())
		t.counts = make([]float64, m.Items())
		for j := range t.regV {
			var s float64
			for _, c := range t.byItem.w[t.byItem.ptr[j]:t.byItem.ptr[j+1]] {
				s += c
			}
			t.regV[j] = regularization(cfg, s, float64(m.Users()))
			t.counts[j] = float64(t.byItem.ptr[j+1] - t.byItem.ptr[j])
		}
	} else if err := t.priv.selectItems(ctx); err != nil {
		return nil, nil, err
	}
	t.initItems()
	t.u = make([]float64, m.Users()*t.d)
	rep.Setup = time.Since(start)

	for it := 1; it <= cfg.Iterations; it++ {
		stepStart := time.Now()
		if err := t.userStep(ctx); err != nil {
			return nil, nil, err
		}
		var err error
		if t.priv != nil {
			err = t.priv.itemStep(ctx, it)
		} else {
			err = t.itemStep(ctx)
		}
		if err != nil {
			return nil, nil, err
		}
		step := time.Since(stepStart)
		rep.IterationTimes = append(rep.IterationTimes, step)
		p := Progress{Iteration: it, Iterations: cfg.Iterations, Elapsed: time.Since(start), Step: step, Epsilon: math.Inf(1), Loss: math.NaN()}
		if t.priv != nil {
			p.Epsilon = t.priv.epsilonAfter(it)
		} else if cfg.TrackLoss {
			p.Loss = t.loss()
			rep.Loss = append(rep.Loss, p.Loss)
		}
		if cfg.Progress != nil {
			cfg.Progress(p)
		}
	}
	model := &Model{
		Factors: t.d, Items: m.Items(), V: t.v, InUniverse: t.inU, Universe: t.nUniv, Counts: t.counts,
		Lambda: cfg.Lambda, RegExponent: cfg.RegExponent, Unobserved: cfg.Unobserved,
	}
	if t.priv != nil {
		rep.Privacy = t.priv.ledger()
	}
	rep.Fallbacks = t.fallbacks.Load()
	rep.Total = time.Since(start)
	return model, rep, nil
}

// userStep solves every user exactly from all their items in the universe
// and the current (public) item vectors (DP-ALS.md B8.a):
// (Σ_j c_ij v_j v_jᵀ + w0·VᵀV + λ_i I) u_i = Σ_j c_ij v_j.
func (t *trainer) userStep(ctx context.Context) error {
	p := &rowProblem{
		a: t.byUser, reg: t.regU, f: t.v, out: t.u,
		base:    gram(t.v, t.d, t.cfg.Unobserved),
		allOnes: allOnes(t.byUser.w),
	}
	return t.solveAll(ctx, p)
}

// itemStep solves every item exactly from its users and the Gram matrix of
// all user vectors (non-private; DP-ALS.md B3 with e = c):
// (Σ_i c_ij u_i u_iᵀ + w0·UᵀU + λ_j I) v_j = Σ_i c_ij u_i.
func (t *trainer) itemStep(ctx context.Context) error {
	p := &rowProblem{
		a: t.byItem, reg: t.regV, f: t.u, out: t.v,
		base:    gram(t.u, t.d, t.cfg.Unobserved),
		allOnes: allOnes(t.byItem.w),
	}
	return t.solveAll(ctx, p)
}

// solveAll solves every row of p in parallel. Each row checks ctx, not
// only each grain: at large d one solve costs a second or more.
func (t *trainer) solveAll(ctx context.Context, p *rowProblem) error {
	return parallel(ctx, t.cfg.Workers, p.a.rows(), 8, func(w, lo, hi int) {
		sc := t.scratch[w]
		for r := lo; r < hi && ctx.Err() == nil; r++ {
			if solveRow(p, r, t.d, sc) {
				t.fallbacks.Add(1)
			}
		}
	})
}

// loss evaluates the objective L of DP-ALS.md B3 with e = c (non-private):
// Σ_obs c(1 − uᵀv)² + w0·Σ_{i, j∈𝓘}(uᵀv)² + Σ λ_i‖u_i‖² + Σ λ_j‖v_j‖².
func (t *trainer) loss() float64 {
	d := t.d
	var obs float64
	b := t.byUser
	for i := range b.rows() {
		ui := t.u[i*d : i*d+d]
		for q := b.ptr[i]; q < b.ptr[i+1]; q++ {
			vj := t.v[int(b.cols[q])*d:][:d]
			var s float64
			for k := range d {
				s += ui[k] * vj[k]
			}
			obs += b.w[q] * (1 - s) * (1 - s)
		}
	}
	gu, gv := gram(t.u, d, 1), gram(t.v, d, 1)
	var all float64 // Σ_{i,j} (u_iᵀv_j)² = ⟨UᵀU, VᵀV⟩_F
	for a := range d {
		all += gu[a*d+a] * gv[a*d+a]
		for c := a + 1; c < d; c++ {
			all += 2 * gu[a*d+c] * gv[a*d+c]
		}
	}
	var reg float64
	for i, r := range t.regU {
		reg += r * sqnorm(t.u[i*d:i*d+d])
	}
	for j, r := range t.regV {
		reg += r * sqnorm(t.v[j*d:j*d+d])
	}
	return obs + t.cfg.Unobserved*all + reg
}

func sqnorm(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v * v
	}
	return s
}
