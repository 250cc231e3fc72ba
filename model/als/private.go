package als

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync/atomic"

	"gonum.org/v1/gonum/mat"

	"github.com/discret-io/discret/model/interact"
	"github.com/discret-io/discret/model/internal/spd"
	"github.com/discret-io/discret/privacy/dp"
)

// private is the state of a DP run.
type private struct {
	t    *trainer
	cfg  Privacy
	src  dp.Forker
	kind dp.Kind
	cal  dp.Calibration

	latCounts        *dp.Lattice
	latG, latS, latT *dp.Lattice
	// Quantization (fixed-point) grids, powers of two: user vectors for G
	// (hG) and for S, t (hS); weights e (eta).
	hG, hS, eta float64

	counts   []float64 // released noisy item counts ñ_j (≥ 1), DP
	users    float64   // released noisy number of users Ñ (≥ 1), DP
	sel      *csr      // universe items × users, weights e_ij (on the eta grid)
	uG, uS   []float64 // clipped, quantized user vectors
	items    []int32   // the universe, increasing
	rankRule bool      // the rank came from PrivateRank
	samples  atomic.Int64
}

// newPrivate calibrates the noise, releases the noisy item counts and fixes
// the universe (DP-ALS.md B4, B5, B10).
func newPrivate(ctx context.Context, t *trainer) (*private, error) {
	m := t.m
	cfg, cal, top, err := plan(t.cfg, m.Users(), m.Items())
	if err != nil {
		return nil, err
	}
	src := cfg.Source
	if src == nil {
		src = dp.NewRand()
	}
	p := &private{t: t, cfg: cfg, cal: cal, src: src.(dp.Forker), kind: dp.KindOf(src)}
	if err := p.releaseCounts(ctx); err != nil {
		return nil, err
	}
	rank := cfg.Rank
	if rank == 0 {
		rank = PrivateRank(p.users, p.cal.ZT, cfg.Budget, top)
	}
	t.setFactors(rank)
	t.inU = universe(p.counts, cfg.ItemFraction)
	for j, ok := range t.inU {
		if ok {
			p.items = append(p.items, int32(j))
		}
	}
	t.nUniv = len(p.items)
	t.regV = make([]float64, m.Items())
	for _, j := range p.items {
		t.regV[j] = regularization(t.cfg, p.counts[j], p.users)
	}
	if err := p.lattices(); err != nil {
		return nil, err
	}
	return p, nil
}

// plan applies the privacy defaults, calibrates the noise and checks the
// grids, all before any noise is drawn and without reading the data (users
// only sets the default δ, items bounds k under PolicyAll). It returns the
// highest rank the grids allow, at most cfg.Factors; an explicit rank above
// it is an error.
func plan(c Config, users, items int) (Privacy, dp.Calibration, int, error) {
	cfg, err := c.Privacy.withDefaults(users)
	if err != nil {
		return cfg, dp.Calibration{}, 0, err
	}
	cal, err := calibrate(cfg, c.Iterations)
	if err != nil {
		return cfg, cal, 0, err
	}
	k := cfg.MaxItems
	if cfg.Policy == PolicyAll {
		k = max(1, items)
	}
	if cfg.Rank > 0 {
		if _, err := newGrids(cfg, cal, cfg.Rank, k); err != nil {
			return cfg, cal, 0, err
		}
		return cfg, cal, cfg.Rank, nil
	}
	top, err := maxGridRank(cfg, cal, c.Factors, k)
	return cfg, cal, top, err
}

// CheckPrivacy returns the error that Train would return for cfg's private
// training before drawing any noise: an invalid configuration, a failed
// calibration, or noise too coarse for the exact fixed-point sums
// (ErrCoarseNoise). users sets the default δ when Privacy.Delta is 0. It
// reads no data, so a caller that composes Train with other releases can
// refuse a run before any of them spends budget.
func CheckPrivacy(cfg Config, users int) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.Privacy == nil {
		return nil
	}
	_, _, _, err := plan(cfg.WithDefaults(), users, 1)
	return err
}

// releaseCounts releases ñ_j, the number of users per catalogue item from a
// uniform sample of at most k items per user (DP-ALS.md B4), and Ñ, the
// number of users, as one extra coordinate to which every user adds 1: one
// Gaussian release with L2 sensitivity √(k+1) and multiplier z_c. Counts
// are clamped to ≥ 1 (post-processing).
func (p *private) releaseCounts(ctx context.Context) error {
	m := p.t.m
	k := p.cfg.MaxItems
	c, err := dp.NewCounts(m.Items()+1, k+1, math.Sqrt(float64(k+1)), p.cal.ZCounts)
	if err != nil {
		return fmt.Errorf("als: privacy: counts: %w", err)
	}
	p.latCounts = c.Lattice()
	pick := dp.NewSampler(p.src.Fork())
	var buf []int32
	var contrib []dp.Contribution[int]
	for i := range m.Users() {
		if i%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		items, _ := m.Row(i)
		buf = append(buf[:0], items...)
		n := min(k, len(buf))
		for q := range n { // partial Fisher–Yates: a uniform n-subset
			r := q + int(pick.Uniform(uint64(len(buf)-q)))
			buf[q], buf[r] = buf[r], buf[q]
		}
		contrib = contrib[:0]
		for _, j := range buf[:n] {
			contrib = append(contrib, dp.Contribution[int]{Key: int(j), Value: 1})
		}
		contrib = append(contrib, dp.Contribution[int]{Key: m.Items(), Value: 1})
		if err := c.Add(contrib); err != nil {
			return fmt.Errorf("als: privacy: counts: user %d: %w", i, err)
		}
	}
	var noisy []float64
	if p.cfg.noiseOff {
		noisy = exactCounts(m, k)
	} else if noisy, err = c.Release(p.src.Fork()); err != nil {
		return fmt.Errorf("als: privacy: counts: %w", err)
	}
	p.samples.Add(int64(len(noisy)))
	p.counts = make([]float64, m.Items())
	for j := range p.counts {
		p.counts[j] = max(noisy[j], 1)
	}
	p.users = max(noisy[m.Items()], 1)
	return nil
}

// exactCounts is the noise-off release of releaseCounts for users with at
// most k items (test hook).
func exactCounts(m *interact.Matrix, k int) []float64 {
	out := make([]float64, m.Items()+1)
	for i := range m.Users() {
		items, _ := m.Row(i)
		for _, j := range items[:min(k, len(items))] {
			out[j]++
		}
	}
	out[m.Items()] = float64(m.Users())
	return out
}

// universe returns the trained items (DP-ALS.md B5): the ⌈fraction·n⌉ with
// the largest released counts (ties to the lower index), all of them when
// fraction is 1. It sees only released, noisy counts, never exact ones.
func universe(noisy []float64, fraction float64) []bool {
	in := make([]bool, len(noisy))
	if fraction >= 1 {
		for j := range in {
			in[j] = true
		}
		return in
	}
	order := make([]int, len(noisy))
	for j := range order {
		order[j] = j
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(noisy[b], noisy[a]) })
	n := max(1, int(math.Ceil(fraction*float64(len(noisy)))))
	for _, j := range order[:n] {
		in[j] = true
	}
	return in
}

// maxExactBits bounds the bits of one fixed-point product so that sums of
// chunkRows of them (and the lattice conversions) stay exact in float64.
const maxExactBits = 40

// grids are the noise lattices of G, S and t (DP-ALS.md D3.3) and the
// power-of-two grids on which clipped user vectors and weights are
// quantized so that every product e·û_a·û_b (and e·û_a, û_a·û_b) is an
// exact multiple of the noise granularity and every partial sum of at most
// chunkRows products is exact in float64. The sums are then exact and
// independent of the summation order, and quantizing û towards zero and e
// downwards never increases ‖û‖ or ‖e‖, so the sensitivities of B9 hold
// without any rounding inflation.
type grids struct {
	latG, latS, latT *dp.Lattice
	hG, hS, eta      float64
}

// ErrCoarseNoise is returned, before any noise is drawn, when the noise of
// a private run is so large next to the clip norm R that the fixed-point
// grids of the exact sums (see grids) cannot resolve the user vectors at
// the requested rank.
var ErrCoarseNoise = errors.New("als: privacy: the noise is too coarse for exact fixed-point sums")

// newGrids builds the grids of rank d with at most k items per user from
// the configuration (defaults applied) and the calibration alone: they
// read no data, so a failure costs no privacy budget.
func newGrids(cfg Privacy, cal dp.Calibration, d, k int) (grids, error) {
	var g grids
	R, sb := cfg.ClipNorm, math.Sqrt(cfg.Budget)
	var err error
	if g.latG, err = dp.NewLattice(cal.ZG, R*R, dp.SymmetricCoords(d, 1)); err != nil {
		return g, fmt.Errorf("als: privacy: G: %w", err)
	}
	if g.latT, err = dp.NewLattice(cal.ZT, R*sb, dp.VectorCoords(d, k)); err != nil {
		return g, fmt.Errorf("als: privacy: t: %w", err)
	}
	lR, lB := floorLog2(R), floorLog2(sb)
	eG, eT := floorLog2(g.latG.Granularity()), floorLog2(g.latT.Granularity())
	eS := 2*lR + lB - (maxExactBits - 3) // no S: only the exactness bound
	if cfg.Gram == GramNoisy {
		if g.latS, err = dp.NewLattice(cal.ZS, R*R*sb, dp.SymmetricCoords(d, k)); err != nil {
			return g, fmt.Errorf("als: privacy: S: %w", err)
		}
		eS = floorLog2(g.latS.Granularity())
	}
	// G: û_G on the grid 2^aG with 2·aG ≥ eG (so h_G² is a multiple of
	// g_G); |û_G/h_G| < 2^(lR−aG+1), so a product has at most
	// 2(lR−aG)+2 ≤ maxExactBits bits.
	aG := max(-((-eG) >> 1), lR-(maxExactBits-2)/2)
	// S and t: û_S on 2^a, e on 2^b, with 2a+b ≥ eS and a+b ≥ eT. The bits
	// below R and √β, bu = lR−a and be = lB−b, share the budget
	// 2·bu+be ≤ BS, bu+be ≤ BT.
	BS := min(2*lR+lB-eS, maxExactBits-3)
	BT := min(lR+lB-eT, maxExactBits-2)
	bu := max(1, min(BS/3, 16))
	be := min(BS-2*bu, BT-bu)
	if be < 1 {
		return g, fmt.Errorf("%w: the noise multipliers (z_t = %.4g, z_S = %v) leave no bits for the weights at R = %v, β = %v; raise ε or lower the iterations", ErrCoarseNoise, cal.ZT, cal.ZS, R, cfg.Budget)
	}
	// The rounding margin (h/2)·√d of clipQuantize must stay small next
	// to R.
	sd := math.Sqrt(float64(d))
	if math.Ldexp(sd, aG) > R/4 || math.Ldexp(sd, lR-bu) > R/4 {
		return g, fmt.Errorf("%w: rank %d is too high for the noise multiplier z_G = %.4g (the rounding of user vectors would not be small next to R = %v); lower the rank, raise ε or lower the iterations", ErrCoarseNoise, d, cal.ZG, R)
	}
	g.hG = math.Ldexp(1, aG)
	g.hS = math.Ldexp(1, lR-bu)
	g.eta = math.Ldexp(1, lB-be)
	return g, nil
}

// maxGridRank returns the largest rank d ≤ maxD whose grids exist (only
// the rounding margin depends on d, and it grows with d), or an error
// wrapping ErrCoarseNoise when not even rank 1 has them.
func maxGridRank(cfg Privacy, cal dp.Calibration, maxD, k int) (int, error) {
	if _, err := newGrids(cfg, cal, 1, k); err != nil {
		return 0, err
	}
	lo, hi := 1, maxD // grids exist at lo
	for lo < hi {
		mid := hi - (hi-lo)/2
		if _, err := newGrids(cfg, cal, mid, k); err == nil {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo, nil
}

// lattices builds the grids of the trained rank.
func (p *private) lattices() error {
	k := p.cfg.MaxItems
	if p.cfg.Policy == PolicyAll {
		k = p.t.nUniv
	}
	g, err := newGrids(p.cfg, p.cal, p.t.d, k)
	if err != nil {
		return err
	}
	p.latG, p.latS, p.latT = g.latG, g.latS, g.latT
	p.hG, p.hS, p.eta = g.hG, g.hS, g.eta
	return nil
}

// floorLog2 returns ⌊log₂ x⌋ exactly for x > 0.
func floorLog2(x float64) int {
	_, e := math.Frexp(x) // x = f·2^e, f ∈ [½, 1)
	return e - 1
}

// selectItems fixes every user's item-side weights e_ij (DP-ALS.md B6) and
// builds the item-major matrix of the private statistics.
func (p *private) selectItems(ctx context.Context) error {
	t := p.t
	b := t.byUser
	sb := math.Sqrt(p.cfg.Budget)
	limit := p.cfg.Budget / (p.eta * p.eta) // ‖E‖² ≤ β/η² with E = e/η
	rows := &csr{ptr: make([]int, 1, b.rows()+1)}
	pick := dp.NewSampler(p.src.Fork())
	type cand struct {
		j    int32
		c, n float64
	}
	var cs []cand
	var e []float64
	for i := range b.rows() {
		if i%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		cs = cs[:0]
		for q := b.ptr[i]; q < b.ptr[i+1]; q++ {
			j := b.cols[q]
			cs = append(cs, cand{j, b.w[q], p.counts[j]})
		}
		// Random order first, so that the stable sorts below break ties
		// uniformly at random.
		for q := len(cs) - 1; q > 0; q-- {
			r := int(pick.Uniform(uint64(q + 1)))
			cs[q], cs[r] = cs[r], cs[q]
		}
		switch p.cfg.Policy {
		case PolicyTail:
			slices.SortStableFunc(cs, func(x, y cand) int { return cmp.Compare(x.n, y.n) })
		case PolicyStrongest:
			slices.SortStableFunc(cs, func(x, y cand) int { return cmp.Compare(y.c, x.c) })
		}
		if p.cfg.Policy != PolicyAll && len(cs) > p.cfg.MaxItems {
			cs = cs[:p.cfg.MaxItems]
		}
		e = e[:0]
		var ss float64
		for _, c := range cs {
			w := c.c * math.Pow(c.n, -p.cfg.Mu)
			e = append(e, w)
			ss += w * w
		}
		scale := 1.0
		if norm := math.Sqrt(ss); norm > 0 && (p.cfg.Fill || norm > sb) {
			scale = sb / norm
		}
		// E = e/η rounded to the nearest integer, then guard ‖E‖² ≤ β/η²
		// exactly (integer sums below 2⁵³): neither the rounding nor the
		// floating-point scaling above can break the bound.
		var sq float64
		for q := range e {
			e[q] = math.RoundToEven(e[q] * scale / p.eta)
			sq += e[q] * e[q]
		}
		for sq > limit {
			top := 0
			for q := range e {
				if e[q] > e[top] {
					top = q
				}
			}
			sq -= 2*e[top] - 1
			e[top]--
		}
		for q, c := range cs {
			if e[q] > 0 {
				rows.cols = append(rows.cols, c.j)
				rows.w = append(rows.w, e[q]*p.eta)
			}
		}
		rows.ptr = append(rows.ptr, len(rows.cols))
	}
	p.sel = rows.transpose(t.m.Items())
	return nil
}

// clipQuantize clips u to norm r = (R − h·√d/2)(1 − 2⁻²⁰) and rounds every
// coordinate to the nearest multiple of h (DP-ALS.md B8.b). Rounding moves
// the vector by at most (h/2)·√d in L2 and the margin 2⁻²⁰ covers the
// floating-point error of the scaling, so ‖û‖ ≤ R holds exactly.
func clipQuantize(dst, u []float64, R, h float64) {
	r := (R - h*math.Sqrt(float64(len(u)))/2) * (1 - 0x1p-20)
	s := 1.0
	if n := math.Sqrt(sqnorm(u)); n > r {
		s = r / n
	}
	for q, v := range u {
		dst[q] = math.RoundToEven(v*s/h) * h
	}
}

// epsilonAfter returns the ε spent after it steps (counts included).
func (p *private) epsilonAfter(it int) float64 {
	rho := p.cal.RhoCounts + float64(it)*(p.cal.RhoG+p.cal.RhoS+p.cal.RhoT)
	eps, err := dp.Epsilon(rho, p.cfg.Delta, dp.RDP)
	if err != nil {
		return math.NaN()
	}
	return eps
}

func (p *private) ledger() *Ledger {
	st, _ := p.cal.Ledger.Statement(p.cfg.Delta)
	return &Ledger{
		Epsilon: p.cfg.Epsilon, Delta: p.cfg.Delta, Statement: st,
		Charges: slices.Clone(p.cal.Ledger.Charges), Source: p.kind,
		Steps: p.t.cfg.Iterations, Budget: p.cfg.Budget, MaxItems: p.cfg.MaxItems,
		Policy: p.cfg.Policy, Mu: p.cfg.Mu, Fill: p.cfg.Fill, ClipNorm: p.cfg.ClipNorm,
		ItemFraction: p.cfg.ItemFraction, Gram: p.cfg.Gram, Shrinkage: !p.cfg.NoShrinkage,
		ZCounts: p.cal.ZCounts, ZG: p.cal.ZG, ZS: p.cal.ZS, ZT: p.cal.ZT,
		SigmaCounts: p.latCounts.Sigma(), SigmaG: p.latG.Sigma(), SigmaS: sigma(p.latS), SigmaT: p.latT.Sigma(),
		Users: p.t.m.Users(), Universe: p.t.nUniv, Samples: p.samples.Load(),
		Rank: p.t.d, MaxFactors: p.t.cfg.Factors, RankRule: p.cfg.Rank == 0,
	}
}

func sigma(l *dp.Lattice) float64 {
	if l == nil {
		return 0
	}
	return l.Sigma()
}

// exactGrain is the number of items whose noise comes from one forked
// stream, so that a test seed gives the same model whatever the scheduling.
const exactGrain = 16

// itemStep is one private item step (DP-ALS.md B8.b–e): clip and quantize
// the user vectors, accumulate G and the t_j (and with GramNoisy the S_j)
// exactly, add discrete Gaussian noise, project the noisy Gramians on the
// PSD cone, shrink the t̃_j, and solve for every item j of the universe
//
//	(S_j' + w0·G̃ + λ_j I) v_j = t̃_j,   S_j' = S̃_j (GramNoisy) or (ñ_j/Ñ)·G̃ (GramProxy).
func (p *private) itemStep(ctx context.Context, it int) error {
	t := p.t
	d, R := t.d, p.cfg.ClipNorm
	n := t.m.Users()
	if p.uG == nil {
		p.uG = make([]float64, n*d)
		p.uS = make([]float64, n*d)
	}
	for i := range n {
		clipQuantize(p.uG[i*d:i*d+d], t.u[i*d:i*d+d], R, p.hG)
		clipQuantize(p.uS[i*d:i*d+d], t.u[i*d:i*d+d], R, p.hS)
	}

	// G̃ = Σ_i û ûᵀ + noise, projected on the PSD cone.
	sumG := make([]int64, dp.PackedLen(d))
	block := make([]float64, d*d)
	for r0 := 0; r0 < n; r0 += chunkRows {
		rows := min(chunkRows, n-r0)
		clear(block)
		spd.AddOuter(block, d, d, p.uG[r0*d:], d, p.uG[r0*d:], d, rows)
		if err := addPacked(sumG, block, d, p.hG*p.hG); err != nil {
			return fmt.Errorf("als: privacy: step %d: G: %w", it, err)
		}
	}
	g := &gramStep{g: make([]float64, d*d)}
	if err := p.release(g.g, sumG, p.hG*p.hG, p.latG, p.src.Fork(), d); err != nil {
		return fmt.Errorf("als: privacy: step %d: G: %w", it, err)
	}
	if err := g.project(d, p.cfg.Gram, t.scratch[0]); err != nil {
		return fmt.Errorf("als: privacy: step %d: G: %w", it, err)
	}

	// One stream per grain of items, forked in order before the parallel
	// loop: the noise of item j does not depend on which worker solves it.
	grains := (len(p.items) + exactGrain - 1) / exactGrain
	streams := make([]dp.Source, grains)
	for k := range streams {
		streams[k] = p.src.Fork()
	}
	var failed atomic.Pointer[error]
	err := parallel(ctx, t.cfg.Workers, grains, 1, func(w, k, _ int) {
		if failed.Load() != nil {
			return
		}
		if err := p.solveItems(ctx, k, streams[k], g, t.scratch[w]); err != nil {
			err = fmt.Errorf("als: privacy: step %d: %w", it, err)
			failed.CompareAndSwap(nil, &err)
		}
	})
	if e := failed.Load(); e != nil {
		return *e
	}
	return err
}

// gramStep is the released global Gram matrix of one step.
type gramStep struct {
	g    []float64 // G̃₊ (d×d, upper triangle)
	q    []float64 // GramProxy: eigenvectors of G̃₊ (columns of a d×d row-major matrix)
	vals []float64 // GramProxy: eigenvalues of G̃₊ (≥ 0)
}

// project makes the noisy G̃ in g.g usable by the item solves: GramNoisy
// needs G̃₊ = Q·max(Λ, 0)·Qᵀ, its projection on the PSD cone, in g.g;
// GramProxy keeps only Q and max(Λ, 0), in which every proxy item solve is
// diagonal, and leaves g.g unprojected (unused). One eigendecomposition of
// G̃ gives either: the projection keeps its eigenvectors.
func (g *gramStep) project(d int, kind Gram, sc *scratch) error {
	if kind != GramProxy {
		projectPSD(g.g, d, sc)
		return nil
	}
	if !sc.eigen(g.g, d) {
		return errors.New("eigendecomposition failed")
	}
	g.vals = make([]float64, d)
	for k, v := range sc.vals {
		g.vals[k] = max(v, 0)
	}
	g.q = mat.DenseCopyOf(&sc.q).RawMatrix().Data
	return nil
}

// solveItems solves the items of grain k with noise drawn from src. It
// stops at the next item once ctx is done: at large d one item costs
// seconds.
func (p *private) solveItems(ctx context.Context, k int, src dp.Source, g *gramStep, sc *scratch) error {
	t := p.t
	d := t.d
	w0 := t.cfg.Unobserved
	noisyGram := p.cfg.Gram == GramNoisy
	var nS *dp.Noiser
	var sumS []int64
	var packed []float64
	var err error
	if noisyGram {
		if nS, err = p.latS.NewNoiser(src); err != nil {
			return err
		}
		sumS = make([]int64, dp.PackedLen(d))
		packed = make([]float64, dp.PackedLen(d))
	}
	nT, err := p.latT.NewNoiser(src)
	if err != nil {
		return err
	}
	sumT := make([]int64, d)
	unitS := p.hS * p.hS * p.eta
	unitT := p.hS * p.eta
	sel := p.sel
	st := p.latT.Sigma()
	for _, j := range p.items[k*exactGrain : min((k+1)*exactGrain, len(p.items))] {
		if err := ctx.Err(); err != nil {
			return err
		}
		clear(sumS)
		clear(sumT)
		for c0 := sel.ptr[j]; c0 < sel.ptr[j+1]; c0 += chunkRows {
			c1 := min(c0+chunkRows, sel.ptr[j+1])
			rows := c1 - c0
			x, y := sc.x[:rows*d], sc.y[:rows*d]
			for q, i := range sel.cols[c0:c1] {
				e := sel.w[c0+q]
				ui := p.uS[int(i)*d : int(i)*d+d]
				copy(x[q*d:q*d+d], ui)
				for c, v := range ui {
					y[q*d+c] = e * v // exact: both on their grids
				}
			}
			if noisyGram {
				blk := sc.a
				clear(blk)
				spd.AddOuter(blk, d, d, x, d, y, d, rows)
				if err := addPacked(sumS, blk, d, unitS); err != nil {
					return fmt.Errorf("item %d: S: %w", j, err)
				}
			}
			tv := sc.keep[:d]
			clear(tv)
			addRows(tv, y, rows, d)
			if err := addVector(sumT, tv, unitT); err != nil {
				return fmt.Errorf("item %d: t: %w", j, err)
			}
		}
		v := t.v[int(j)*d : int(j)*d+d]
		if err := p.releaseVector(v, sumT, unitT, nT); err != nil {
			return fmt.Errorf("item %d: t: %w", j, err)
		}
		p.samples.Add(int64(d))
		if !p.cfg.NoShrinkage && !p.cfg.noiseOff {
			if n2 := sqnorm(v); n2 > 0 {
				f := max(0, 1-float64(d)*st*st/n2)
				for c := range v {
					v[c] *= f
				}
			}
		}
		if !noisyGram {
			// (a_j·G̃₊ + λ_j I)⁻¹ = Q diag(1/(a_j·λ_k + λ_j)) Qᵀ.
			a := p.counts[j]/p.users + w0
			c := sc.x[:d]
			for kk := range d {
				var s float64
				for i := range d {
					s += g.q[i*d+kk] * v[i]
				}
				c[kk] = s / (a*g.vals[kk] + t.regV[j])
			}
			for i := range d {
				row := g.q[i*d : i*d+d]
				var s float64
				for kk, qv := range row {
					s += qv * c[kk]
				}
				v[i] = s
			}
			continue
		}
		a := sc.a
		if err := p.releaseWith(a, sumS, unitS, p.latS, nS, d, packed); err != nil {
			return fmt.Errorf("item %d: S: %w", j, err)
		}
		p.samples.Add(int64(len(sumS)))
		projectPSD(a, d, sc)
		for i := range d {
			for c := i; c < d; c++ {
				a[i*d+c] += w0 * g.g[i*d+c]
			}
			a[i*d+i] += t.regV[j]
		}
		if solveSPD(a, d, v, sc) {
			t.fallbacks.Add(1)
		}
	}
	return nil
}

// addPacked adds the upper triangle of the d×d block, an exact multiple of
// unit, to the packed integer sums in units of unit.
func addPacked(sum []int64, block []float64, d int, unit float64) error {
	k := 0
	for a := range d {
		for b := a; b < d; b++ {
			if err := addFixed(&sum[k], block[a*d+b]/unit); err != nil {
				return err
			}
			k++
		}
	}
	return nil
}

// addVector adds x, an exact multiple of unit, to sum in units of unit.
func addVector(sum []int64, x []float64, unit float64) error {
	for i, v := range x {
		if err := addFixed(&sum[i], v/unit); err != nil {
			return err
		}
	}
	return nil
}

// fixedLimit is the bound on fixed-point sums (as in privacy/dp).
const fixedLimit = 1 << 62

func addFixed(s *int64, v float64) error {
	if v != math.Trunc(v) || math.Abs(v) >= fixedLimit {
		return fmt.Errorf("%w: value %v is not an integer below 2^62 grid units", dp.ErrOverflow, v)
	}
	r := *s + int64(v)
	if r >= fixedLimit || r <= -fixedLimit {
		return fmt.Errorf("%w: sum leaves ±2^62", dp.ErrOverflow)
	}
	*s = r
	return nil
}

// toGrid converts sums in units of unit to units of the lattice's
// granularity g (unit/g is a power of two ≥ 1 by construction).
func toGrid(sum []int64, unit float64, lat *dp.Lattice) error {
	f := unit / lat.Granularity()
	if f < 1 || f != math.Trunc(f) {
		return fmt.Errorf("als: privacy: internal error: grid unit %v is not a multiple of the noise granularity %v", unit, lat.Granularity())
	}
	m := int64(f)
	for i, v := range sum {
		if v != 0 && (v >= fixedLimit/m || v <= -fixedLimit/m) {
			return fmt.Errorf("%w: coordinate %d leaves ±2^62 grid units", dp.ErrOverflow, i)
		}
		sum[i] = v * m
	}
	return nil
}

// release writes into dst (d×d, upper triangle) the noisy symmetric matrix
// of the packed sums (units of unit) with a fresh Noiser on src.
func (p *private) release(dst []float64, sum []int64, unit float64, lat *dp.Lattice, src dp.Source, d int) error {
	nz, err := lat.NewNoiser(src)
	if err != nil {
		return err
	}
	p.samples.Add(int64(len(sum)))
	return p.releaseWith(dst, sum, unit, lat, nz, d, make([]float64, len(sum)))
}

// releaseWith is release with a given Noiser and a packed scratch buffer.
func (p *private) releaseWith(dst []float64, sum []int64, unit float64, lat *dp.Lattice, nz *dp.Noiser, d int, packed []float64) error {
	if err := toGrid(sum, unit, lat); err != nil {
		return err
	}
	if p.cfg.noiseOff {
		for k, v := range sum {
			packed[k] = float64(v) * lat.Granularity()
		}
	} else {
		nz.Packed(packed, sum, d)
	}
	k := 0
	for a := range d {
		for b := a; b < d; b++ {
			dst[a*d+b] = packed[k]
			k++
		}
	}
	return nil
}

// releaseVector writes the noisy vector of sum (units of unit) into dst.
func (p *private) releaseVector(dst []float64, sum []int64, unit float64, nz *dp.Noiser) error {
	if err := toGrid(sum, unit, p.latT); err != nil {
		return err
	}
	if p.cfg.noiseOff {
		for k, v := range sum {
			dst[k] = float64(v) * p.latT.Granularity()
		}
		return nil
	}
	nz.Vector(dst, sum)
	return nil
}
