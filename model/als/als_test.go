package als

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/discret-io/discret/model/interact"
	"github.com/discret-io/discret/privacy/dp"
	"github.com/discret-io/discret/privacy/dp/dptest"
)

// synthetic returns a users × items binary matrix with a planted cluster
// structure: each user mostly picks items of their own cluster.
func synthetic(t testing.TB, users, items, perUser int, seed uint64) *interact.Matrix {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	const clusters = 4
	rows := make([][]int32, users)
	for u := range rows {
		c := u % clusters
		for range perUser {
			j := r.IntN(items)
			if r.Float64() < 0.8 {
				j = (j/clusters)*clusters + c
				if j >= items {
					j = c
				}
			}
			rows[u] = append(rows[u], int32(j))
		}
	}
	m, err := interact.FromRows(items, rows)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSolveRowReference checks one weighted row solve against a value
// computed with exact rational arithmetic:
//
//	from fractions import Fraction as F
//	f = [[.5,-1,.25],[1.5,.5,-.5],[-.75,.25,1],[.2,.4,-.6]] (as Fractions of the decimal strings)
//	A = Σ_{j∈{0,2,3}} w_j f_j f_jᵀ (w = 1, 2.5, .5) + 0.3·Σ_r f_r f_rᵀ + 0.7·I, b = Σ w_j f_j
//	x = A⁻¹b by Gaussian elimination over Fractions, printed as float.
func TestSolveRowReference(t *testing.T) {
	f := []float64{0.5, -1, 0.25, 1.5, 0.5, -0.5, -0.75, 0.25, 1, 0.2, 0.4, -0.6}
	p := &rowProblem{
		a:    &csr{ptr: []int{0, 3}, cols: []int32{0, 2, 3}, w: []float64{1, 2.5, 0.5}},
		reg:  []float64{0.7},
		f:    f,
		base: gram(f, 3, 0.3),
		out:  make([]float64, 3),
	}
	solveRow(p, 0, 3, newScratch(3))
	want := []float64{0.025395899863689196, -0.09311611131920283, 0.6382488888545644}
	for i := range want {
		if math.Abs(p.out[i]-want[i]) > 1e-12 {
			t.Errorf("solveRow x[%d] = %v, want %v", i, p.out[i], want[i])
		}
	}
}

// TestTrainRankOneClosedForm trains on a full binary matrix. By symmetry
// every user gets the same vector a and every item b, and with ν = 1 the
// fixed point of the two normal equations,
// (1+w0)(aᵀb·b + λa) = b and (1+w0)(aᵀb·a + λb) = a, gives
// uᵀv = 1/(1+w0) − λ for every pair (whatever d).
func TestTrainRankOneClosedForm(t *testing.T) {
	rows := make([][]int32, 6)
	for u := range rows {
		rows[u] = []int32{0, 1, 2, 3, 4}
	}
	m, err := interact.FromRows(5, rows)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []int{1, 4} {
		cfg := Config{Factors: d, Iterations: 400, Lambda: 0.01, Unobserved: 0.5, RegExponent: 1, Workers: 2}
		model, _, err := Train(context.Background(), m, cfg)
		if err != nil {
			t.Fatal(err)
		}
		f := NewFolder(model)
		u, err := f.UserVector(make([]float64, d), rows[0], nil, f.NewScratch())
		if err != nil {
			t.Fatal(err)
		}
		want := 1/(1+cfg.Unobserved) - cfg.Lambda
		for j := range 5 {
			var got float64
			for k := range d {
				got += u[k] * model.V[j*d+k]
			}
			if math.Abs(got-want) > 1e-6 {
				t.Errorf("d=%d: uᵀv_%d = %v, want %v", d, j, got, want)
			}
		}
	}
}

func TestLossDecreases(t *testing.T) {
	m := synthetic(t, 200, 60, 12, 1)
	_, rep, err := Train(context.Background(), m, Config{Factors: 8, Iterations: 8, TrackLoss: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Loss) != 8 {
		t.Fatalf("len(Report.Loss) = %d, want 8", len(rep.Loss))
	}
	for i := 1; i < len(rep.Loss); i++ {
		if rep.Loss[i] > rep.Loss[i-1]*(1+1e-9) {
			t.Errorf("loss after iteration %d = %v > %v after iteration %d", i+1, rep.Loss[i], rep.Loss[i-1], i)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero", Config{}, true},
		{"negative factors", Config{Factors: -1}, false},
		{"too many factors", Config{Factors: 2000}, false},
		{"NaN lambda", Config{Lambda: math.NaN()}, false},
		{"exponent above 1", Config{RegExponent: 1.5}, false},
		{"negative unobserved", Config{Unobserved: -0.1}, false},
		{"private zero epsilon", Config{Privacy: &Privacy{}}, false},
		{"private", Config{Privacy: &Privacy{Epsilon: 1}}, true},
		{"private bad fraction", Config{Privacy: &Privacy{Epsilon: 1, ItemFraction: 2}}, false},
		{"private bad mu", Config{Privacy: &Privacy{Epsilon: 1, Mu: -1}}, false},
		{"private test source", Config{Privacy: &Privacy{Epsilon: 1, Source: dptest.New(1)}}, false},
		{"private allowed test source", Config{Privacy: &Privacy{Epsilon: 1, Source: dptest.New(1), AllowTestSource: true}}, true},
		{"private rank", Config{Factors: 8, Privacy: &Privacy{Epsilon: 1, Rank: 8}}, true},
		{"private rank above factors", Config{Factors: 8, Privacy: &Privacy{Epsilon: 1, Rank: 9}}, false},
		{"private negative rank", Config{Privacy: &Privacy{Epsilon: 1, Rank: -1}}, false},
	}
	for _, tt := range tests {
		if err := tt.cfg.Validate(); (err == nil) != tt.ok {
			t.Errorf("Validate(%s) = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
	err := Config{Privacy: &Privacy{Epsilon: 1, Source: dptest.New(1)}}.Validate()
	if !errors.Is(err, dp.ErrTestSource) {
		t.Errorf("Validate(test source) = %v, want dp.ErrTestSource", err)
	}
}

func TestTrainCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m := synthetic(t, 100, 40, 10, 2)
	if _, _, err := Train(ctx, m, Config{Factors: 4}); !errors.Is(err, context.Canceled) {
		t.Errorf("Train(cancelled) error = %v, want context.Canceled", err)
	}
	p := &Privacy{Epsilon: 1, Source: dptest.New(1), AllowTestSource: true}
	if _, _, err := Train(ctx, m, Config{Factors: 4, Privacy: p}); !errors.Is(err, context.Canceled) {
		t.Errorf("Train(cancelled, private) error = %v, want context.Canceled", err)
	}
}

func TestProgress(t *testing.T) {
	m := synthetic(t, 100, 40, 10, 3)
	var got []Progress
	cfg := Config{Factors: 4, Iterations: 3, Progress: func(p Progress) { got = append(got, p) },
		Privacy: &Privacy{Epsilon: 2, Source: dptest.New(1), AllowTestSource: true}}
	_, rep, err := Train(context.Background(), m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("Progress called %d times, want 3", len(got))
	}
	for i, p := range got {
		if p.Iteration != i+1 || p.Iterations != 3 {
			t.Errorf("Progress[%d] = iteration %d of %d, want %d of 3", i, p.Iteration, p.Iterations, i+1)
		}
		if i > 0 && !(p.Epsilon > got[i-1].Epsilon) {
			t.Errorf("Progress[%d].Epsilon = %v, want more than %v", i, p.Epsilon, got[i-1].Epsilon)
		}
	}
	if last := got[2].Epsilon; math.Abs(last-rep.Privacy.Statement.Epsilon) > 1e-9 || last > 2+1e-9 {
		t.Errorf("final Progress.Epsilon = %v, ledger ε = %v, target 2", last, rep.Privacy.Statement.Epsilon)
	}
}

// privateRun builds the private state of a run without iterating.
func privateRun(t *testing.T, m *interact.Matrix, cfg Config) *trainer {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg = cfg.WithDefaults()
	tr := newTrainer(m, cfg)
	p, err := newPrivate(context.Background(), tr)
	if err != nil {
		t.Fatal(err)
	}
	tr.priv = p
	tr.counts = p.counts
	tr.restrict()
	if err := p.selectItems(context.Background()); err != nil {
		t.Fatal(err)
	}
	return tr
}

// weightedMatrix returns a matrix with varied confidences.
func weightedMatrix(t *testing.T, users, items int, seed uint64) *interact.Matrix {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 2))
	b, err := interact.NewBuilder(interact.Config{Alpha: 2}, users, items)
	if err != nil {
		t.Fatal(err)
	}
	for u := range users {
		for range 1 + r.IntN(3*items/4) {
			if err := b.Add(u, r.IntN(items), 3, uint32(1+r.IntN(4))); err != nil { // purchases
				t.Fatal(err)
			}
		}
	}
	return b.Matrix()
}

// TestContributionBound checks the invariant of the sensitivity proof
// (DP-ALS.md B6): every user's weights satisfy ‖e_i‖₂ ≤ √β and at most k
// items, all in the universe.
func TestContributionBound(t *testing.T) {
	m := weightedMatrix(t, 150, 80, 4)
	for _, pol := range []Policy{PolicyTail, PolicyUniform, PolicyStrongest, PolicyAll} {
		for _, fill := range []bool{false, true} {
			for _, mu := range []float64{0, 0.5} {
				p := &Privacy{Epsilon: 3, Budget: 7, MaxItems: 9, Policy: pol, Fill: fill, Mu: mu, ItemFraction: 0.5,
					Source: dptest.New(5), AllowTestSource: true}
				tr := privateRun(t, m, Config{Factors: 4, Privacy: p})
				byUser := tr.priv.sel.transpose(m.Users())
				for i := range m.Users() {
					var ss float64
					n := 0
					for q := byUser.ptr[i]; q < byUser.ptr[i+1]; q++ {
						ss += byUser.w[q] * byUser.w[q]
						n++
						if !tr.inU[byUser.cols[q]] {
							t.Fatalf("%v fill=%v: user %d selected item %d outside the universe", pol, fill, i, byUser.cols[q])
						}
					}
					if ss > 7 {
						t.Errorf("%v fill=%v μ=%v: user %d has ‖e‖² = %v > β = 7", pol, fill, mu, i, ss)
					}
					if pol != PolicyAll && n > 9 {
						t.Errorf("%v: user %d has %d selected items > k = 9", pol, i, n)
					}
					if fill && n > 0 && ss < 7*0.99 {
						t.Errorf("%v fill: user %d has ‖e‖² = %v, want ≈ β = 7", pol, i, ss)
					}
				}
			}
		}
	}
}

// TestUniverseFromReleasedCounts checks that the trained universe is a
// function of the released (noisy) counts only (DP-ALS.md B5).
func TestUniverseFromReleasedCounts(t *testing.T) {
	m := synthetic(t, 300, 100, 15, 6)
	p := &Privacy{Epsilon: 1, ItemFraction: 0.3, Source: dptest.New(7), AllowTestSource: true}
	model, rep, err := Train(context.Background(), m, Config{Factors: 4, Iterations: 2, Privacy: p})
	if err != nil {
		t.Fatal(err)
	}
	if want := universe(model.Counts, 0.3); !slices.Equal(model.InUniverse, want) {
		t.Errorf("InUniverse = %v, want the top 30%% of the released counts %v", model.InUniverse, want)
	}
	if model.Universe != 30 || rep.Universe != 30 {
		t.Errorf("Universe = %d (report %d), want 30", model.Universe, rep.Universe)
	}
	// The released counts are noisy: they differ from the exact ones.
	exact := exactCounts(m, m.Items())
	diff := 0
	for j := range model.Counts {
		if model.Counts[j] != max(exact[j], 1) {
			diff++
		}
	}
	if diff < m.Items()/2 {
		t.Errorf("%d of %d released counts differ from the exact counts; the release is not noisy", diff, m.Items())
	}
	d := model.Factors
	for j, in := range model.InUniverse {
		if in {
			continue
		}
		for _, v := range model.V[j*d : j*d+d] {
			if v != 0 {
				t.Fatalf("item %d outside the universe has a non-zero vector", j)
			}
		}
	}
}

func TestUniverseTies(t *testing.T) {
	got := universe([]float64{3, 5, 5, 1, 5}, 0.4)
	want := []bool{false, true, true, false, false}
	if !slices.Equal(got, want) {
		t.Errorf("universe(...) = %v, want %v (ties to the lower index)", got, want)
	}
}

// TestTrainingSeesOnlyUniverse: interactions with items outside the
// universe change neither the item-side statistics nor the user solves.
func TestTrainingSeesOnlyUniverse(t *testing.T) {
	m := synthetic(t, 120, 50, 10, 8)
	p := &Privacy{Epsilon: 2, ItemFraction: 0.5, Source: dptest.New(9), AllowTestSource: true}
	tr := privateRun(t, m, Config{Factors: 4, Privacy: p})
	for _, j := range tr.byUser.cols {
		if !tr.inU[j] {
			t.Fatalf("user matrix holds item %d outside the universe", j)
		}
	}
	for j := range m.Items() {
		if !tr.inU[j] && tr.priv.sel.ptr[j+1] > tr.priv.sel.ptr[j] {
			t.Fatalf("item %d outside the universe has %d selected users", j, tr.priv.sel.ptr[j+1]-tr.priv.sel.ptr[j])
		}
	}
}

// TestNoiseOffEqualsNonPrivate: with the noise removed (test hook), no
// clipping, no selection and no weight scaling, the private path (GramNoisy)
// computes the non-private model up to the fixed-point quantization.
func TestNoiseOffEqualsNonPrivate(t *testing.T) {
	m := synthetic(t, 150, 40, 10, 10)
	base := Config{Factors: 4, Iterations: 3, Seed: 3, Workers: 2}
	want, _, err := Train(context.Background(), m, base)
	if err != nil {
		t.Fatal(err)
	}
	cfg := base
	cfg.Privacy = &Privacy{
		Epsilon: 1e4, Budget: 1e6, MaxItems: m.Items(), Policy: PolicyAll, ClipNorm: 1, Gram: GramNoisy, ItemFraction: 1,
		Source: dptest.New(1), AllowTestSource: true, noiseOff: true,
	}
	got, rep, err := Train(context.Background(), m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Privacy == nil || rep.Universe != m.Items() {
		t.Fatalf("private report = %+v", rep)
	}
	var maxDiff, maxAbs float64
	for i := range want.V {
		maxDiff = max(maxDiff, math.Abs(got.V[i]-want.V[i]))
		maxAbs = max(maxAbs, math.Abs(want.V[i]))
	}
	t.Logf("max |Δv| = %.3g, max |v| = %.3g", maxDiff, maxAbs)
	if maxDiff > 2e-3*maxAbs {
		t.Errorf("noise-off private V differs from non-private V by %v (max |v| %v)", maxDiff, maxAbs)
	}
}

// TestLedgerMatchesAccountant checks the noise of every statistic against
// privacy/dp: the multipliers of dp.Calibrate (GramNoisy) or of the proxy
// split, σ = z·Δ' with Δ_G = R², Δ_S = R²√β, Δ_t = R√β, and the realized ε.
func TestLedgerMatchesAccountant(t *testing.T) {
	m := synthetic(t, 200, 60, 10, 11)
	for _, g := range []Gram{GramProxy, GramNoisy} {
		p := &Privacy{Epsilon: 2, Delta: 1e-5, Budget: 25, ClipNorm: 0.5, Gram: g, Source: dptest.New(2), AllowTestSource: true}
		_, rep, err := Train(context.Background(), m, Config{Factors: 4, Iterations: 3, Privacy: p})
		if err != nil {
			t.Fatal(err)
		}
		l := rep.Privacy
		cc := dp.CalibrationConfig{Epsilon: 2, Delta: 1e-5, Steps: 3, Beta: 25, CountShare: DefaultCountShare, Gravity: true}
		if g == GramProxy {
			rhoTot, _ := dp.RhoForEpsilon(2, 1e-5, dp.RDP)
			step := rhoTot * (1 - DefaultCountShare) / 3
			if want := dp.MultiplierForRho(step / 26); !close(l.ZG, want) {
				t.Errorf("proxy z_G = %v, want %v", l.ZG, want)
			}
			if want := dp.MultiplierForRho(step * 25 / 26); !close(l.ZT, want) {
				t.Errorf("proxy z_t = %v, want %v", l.ZT, want)
			}
			if !math.IsInf(l.ZS, 1) || l.SigmaS != 0 {
				t.Errorf("proxy z_S, σ_S = %v, %v, want +Inf, 0", l.ZS, l.SigmaS)
			}
		} else {
			cal, err := dp.Calibrate(cc)
			if err != nil {
				t.Fatal(err)
			}
			if l.ZG != cal.ZG || l.ZS != cal.ZS || l.ZT != cal.ZT || l.ZCounts != cal.ZCounts {
				t.Errorf("noisy z = (%v, %v, %v, %v), want dp.Calibrate's (%v, %v, %v, %v)", l.ZCounts, l.ZG, l.ZS, l.ZT, cal.ZCounts, cal.ZG, cal.ZS, cal.ZT)
			}
			latS, _ := dp.NewLattice(cal.ZS, 0.25*5, dp.SymmetricCoords(4, 25))
			if l.SigmaS != latS.Sigma() {
				t.Errorf("σ_S = %v, want %v", l.SigmaS, latS.Sigma())
			}
		}
		latG, _ := dp.NewLattice(l.ZG, 0.25, dp.SymmetricCoords(4, 1))
		latT, _ := dp.NewLattice(l.ZT, 0.5*5, dp.VectorCoords(4, 25))
		if l.SigmaG != latG.Sigma() || l.SigmaT != latT.Sigma() {
			t.Errorf("%v: σ_G, σ_t = %v, %v, want %v, %v", g, l.SigmaG, l.SigmaT, latG.Sigma(), latT.Sigma())
		}
		if math.Abs(l.SigmaG/(l.ZG*0.25)-1) > 1e-6 || math.Abs(l.SigmaT/(l.ZT*2.5)-1) > 1e-6 {
			t.Errorf("%v: σ_G/z_G = %v, σ_t/z_t = %v, want about R² = 0.25 and R√β = 2.5", g, l.SigmaG/l.ZG, l.SigmaT/l.ZT)
		}
		if l.Statement.Epsilon > 2+1e-9 || l.Statement.Epsilon < 2*(1-1e-6) {
			t.Errorf("%v: realized ε = %v, want 2", g, l.Statement.Epsilon)
		}
		if l.Source != dp.KindTestSeeded {
			t.Errorf("%v: ledger source = %q, want %q", g, l.Source, dp.KindTestSeeded)
		}
		n := int64(l.Universe)
		samples := int64(m.Items()+1) + 3*(10+n*4) // counts, then per step G and every t_j
		if g == GramNoisy {
			samples += 3 * n * 10 // and every S_j
		}
		if l.Universe != 6 || l.Samples != samples {
			t.Errorf("%v: universe %d, samples = %d, want 6, %d", g, l.Universe, l.Samples, samples)
		}
	}
}

func close(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Abs(b) }

// TestPrivateDeterministic: a test seed gives the same model whatever the
// number of workers.
func TestPrivateDeterministic(t *testing.T) {
	m := synthetic(t, 150, 50, 10, 12)
	var models []*Model
	for _, w := range []int{1, 2, 3} {
		for _, g := range []Gram{GramProxy, GramNoisy} {
			p := &Privacy{Epsilon: 5, Gram: g, Source: dptest.New(3), AllowTestSource: true}
			model, _, err := Train(context.Background(), m, Config{Factors: 4, Iterations: 2, Workers: w, Privacy: p})
			if err != nil {
				t.Fatal(err)
			}
			models = append(models, model)
		}
	}
	for i := 2; i < len(models); i++ {
		if !slices.Equal(models[i].V, models[i%2].V) {
			t.Errorf("model %d differs from model %d trained with another worker count", i, i%2)
		}
	}
}

func TestClipQuantize(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for range 1000 {
		u := make([]float64, 16)
		s := math.Exp(4 * r.NormFloat64())
		for i := range u {
			u[i] = s * r.NormFloat64()
		}
		const R, h = 0.3, 0x1p-12
		dst := make([]float64, 16)
		clipQuantize(dst, u, R, h)
		if n := math.Sqrt(sqnorm(dst)); n > R {
			t.Fatalf("‖clipQuantize(u)‖ = %v > R = %v", n, R)
		}
		for _, v := range dst {
			if v/h != math.Trunc(v/h) {
				t.Fatalf("clipQuantize coordinate %v is not on the grid %v", v, h)
			}
		}
	}
}

func TestProjectPSD(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	const d = 6
	a := make([]float64, d*d)
	sym := mat.NewSymDense(d, nil)
	for i := range d {
		for j := i; j < d; j++ {
			v := r.NormFloat64()
			a[i*d+j] = v
			sym.SetSym(i, j, v)
		}
	}
	projectPSD(a, d, newScratch(d))
	// Reference: Q max(Λ,0) Qᵀ with gonum.
	var e mat.EigenSym
	e.Factorize(sym, true)
	vals := e.Values(nil)
	var q mat.Dense
	e.VectorsTo(&q)
	for i := range d {
		for j := i; j < d; j++ {
			var want float64
			for k := range d {
				want += q.At(i, k) * max(vals[k], 0) * q.At(j, k)
			}
			if math.Abs(a[i*d+j]-want) > 1e-12 {
				t.Errorf("projectPSD[%d][%d] = %v, want %v", i, j, a[i*d+j], want)
			}
		}
	}
}

// TestGramProject: the proxy's eigenbasis and clamped eigenvalues describe
// the same G̃₊ = Q·max(Λ, 0)·Qᵀ that the GramNoisy path projects to.
func TestGramProject(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	const d = 8
	noisy := make([]float64, d*d)
	for i := range d {
		for j := i; j < d; j++ {
			noisy[i*d+j] = r.NormFloat64()
		}
	}
	proxy := &gramStep{g: slices.Clone(noisy)}
	if err := proxy.project(d, GramProxy, newScratch(d)); err != nil {
		t.Fatal(err)
	}
	full := &gramStep{g: slices.Clone(noisy)}
	if err := full.project(d, GramNoisy, newScratch(d)); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(proxy.vals, 0) {
		t.Fatalf("clamped eigenvalues %v: the test matrix should be indefinite", proxy.vals)
	}
	for i := range d {
		for j := i; j < d; j++ {
			var got, dot float64
			for k := range d {
				got += proxy.q[i*d+k] * proxy.vals[k] * proxy.q[j*d+k]
				dot += proxy.q[k*d+i] * proxy.q[k*d+j]
			}
			if math.Abs(got-full.g[i*d+j]) > 1e-12 {
				t.Errorf("proxy Q·Λ₊·Qᵀ[%d][%d] = %v, projection %v", i, j, got, full.g[i*d+j])
			}
			want := 0.0
			if i == j {
				want = 1
			}
			if math.Abs(dot-want) > 1e-12 {
				t.Errorf("QᵀQ[%d][%d] = %v, want %v", i, j, dot, want)
			}
		}
	}
}

// TestSolveSPDFallback solves an indefinite system by the eigenvalue
// fallback.
func TestSolveSPDFallback(t *testing.T) {
	a := []float64{2, 0, 0, -1} // diag(2, −1): not positive definite
	b := []float64{4, 3}
	if !solveSPD(a, 2, b, newScratch(2)) {
		t.Fatal("solveSPD(indefinite) reported no fallback")
	}
	// The eigenvalue −1 is raised to the floor 1e-9·2; the solution keeps
	// the positive direction exactly.
	if math.Abs(b[0]-2) > 1e-12 || !(b[1] > 1e8) {
		t.Errorf("solveSPD(indefinite) = %v, want [2, 3/(2e-9)]", b)
	}
}

func testSource(seed uint64) dp.Source { return dptest.New(seed) }

// TestPrivateRank pins the rank rule r = clamp(round(Ñ/(16·z_t·√β)), 4, d);
// the quotients were computed with Python 3 (943/(16·5.174·√30) = 2.0797,
// 6040/(16·5.966·√30) = 11.552, 5000/(16·2·√30) = 28.527, 100/16 = 6.25).
func TestPrivateRank(t *testing.T) {
	tests := []struct {
		users, zT, budget float64
		max, want         int
	}{
		{943, 5.174, 30, 64, 4},      // ML-100K at ε = 1: below the floor
		{6040, 5.966, 30, 64, 12},    // ML-1M at ε = 1: 11.55 rounds up
		{5000, 2, 30, 64, 29},        // 28.53
		{100, 1, 1, 64, 6},           // 6.25
		{60000, 0.781, 30, 64, 64},   // capped by the factors
		{60000, 0.781, 30, 48, 48},   // any cap
		{1e6, 1, 30, 2, 2},           // a cap below the floor wins
		{10, 1, 30, 2, 2},            // the floor never exceeds the cap
		{10, math.Inf(1), 30, 64, 4}, // no signal at all
		{0, 1, 30, 64, 4},
	}
	for _, tt := range tests {
		if got := PrivateRank(tt.users, tt.zT, tt.budget, tt.max); got != tt.want {
			t.Errorf("PrivateRank(%v, %v, %v, %d) = %d, want %d", tt.users, tt.zT, tt.budget, tt.max, got, tt.want)
		}
	}
}

// TestPrivateRankUsed checks that a private run trains and releases vectors
// of the rule's rank computed from its own released user count, or of the
// rank asked for.
func TestPrivateRankUsed(t *testing.T) {
	m := synthetic(t, 3000, 60, 12, 5)
	for _, rank := range []int{0, 5} {
		cfg := Config{Factors: 16, Iterations: 1, Seed: 1, Workers: 2,
			Privacy: &Privacy{Epsilon: 2, Rank: rank, Source: dptest.New(4), AllowTestSource: true}}
		tr := privateRun(t, m, cfg)
		want := rank
		if rank == 0 {
			want = PrivateRank(tr.priv.users, tr.priv.cal.ZT, DefaultBudget, 16)
			if want <= MinPrivateRank || want >= 16 {
				t.Fatalf("test data give rank %d, want one strictly between the floor and the cap", want)
			}
		}
		model, rep, err := Train(context.Background(), m, cfg)
		if err != nil {
			t.Fatal(err)
		}
		led := rep.Privacy
		if model.Factors != want || rep.Factors != want || len(model.V) != m.Items()*want || led.Rank != want || led.MaxFactors != 16 || led.RankRule != (rank == 0) {
			t.Errorf("Rank %d: model has %d factors (report %d, ledger %d of %d, rule %v, %d values), want %d",
				rank, model.Factors, rep.Factors, led.Rank, led.MaxFactors, led.RankRule, len(model.V), want)
		}
		f := NewFolder(model)
		u := make([]float64, model.Factors)
		items, conf := m.Row(0)
		if _, err := f.UserVector(u, items, conf, f.NewScratch()); err != nil {
			t.Errorf("Rank %d: fold-in: %v", rank, err)
		}
	}
}

// TestCoarseNoise checks that noise too coarse for the fixed-point grids
// is refused before any noise is drawn (the source is untouched), exactly
// above the largest rank the grids allow.
func TestCoarseNoise(t *testing.T) {
	m := synthetic(t, 100, 40, 10, 2)
	priv := func(rank int, src dp.Source) *Privacy {
		return &Privacy{Epsilon: 0.001, Delta: 1e-6, Rank: rank, Source: src, AllowTestSource: true}
	}
	const factors, iterations = 1024, 1000
	cfg := Config{Factors: factors, Iterations: iterations, Privacy: priv(factors, nil)}
	if err := CheckPrivacy(cfg, m.Users()); !errors.Is(err, ErrCoarseNoise) {
		t.Fatalf("CheckPrivacy(rank %d) = %v, want ErrCoarseNoise", factors, err)
	}
	src := dptest.New(7)
	cfg.Privacy = priv(factors, src)
	if _, _, err := Train(context.Background(), m, cfg); !errors.Is(err, ErrCoarseNoise) {
		t.Fatalf("Train(rank %d) = %v, want ErrCoarseNoise", factors, err)
	}
	if got, want := src.Uint64(), dptest.New(7).Uint64(); got != want {
		t.Errorf("Train drew randomness before refusing (next value %d, want %d)", got, want)
	}

	// The largest rank the grids allow is accepted, one more is not.
	c := cfg.WithDefaults()
	p, _ := c.Privacy.withDefaults(m.Users())
	cal, err := calibrate(p, iterations)
	if err != nil {
		t.Fatal(err)
	}
	top, err := maxGridRank(p, cal, factors, p.MaxItems)
	if err != nil || top < 1 || top >= factors {
		t.Fatalf("maxGridRank = %d, %v; want a rank in [1, %d)", top, err, factors)
	}
	for _, tt := range []struct {
		rank int
		ok   bool
	}{{top, true}, {top + 1, false}} {
		cfg.Privacy = priv(tt.rank, nil)
		if err := CheckPrivacy(cfg, m.Users()); (err == nil) != tt.ok {
			t.Errorf("CheckPrivacy(rank %d) = %v, want ok = %v (top %d)", tt.rank, err, tt.ok, top)
		}
	}

}
