package als

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/discret-io/discret/privacy/dp/dptest"
)

// randomModel returns a model with random item vectors; the last two items
// are outside the universe.
func randomModel(items, d int, seed uint64) *Model {
	r := rand.New(rand.NewPCG(seed, 3))
	m := &Model{Factors: d, Items: items, V: make([]float64, items*d), InUniverse: make([]bool, items),
		Universe: items - 2, Counts: make([]float64, items), Lambda: 0.01, RegExponent: 1, Unobserved: 0.2}
	for j := range items - 2 {
		m.InUniverse[j] = true
		for k := range d {
			m.V[j*d+k] = 0.3 * r.NormFloat64()
		}
	}
	return m
}

// TestUserVectorNormalEquations compares the fold-in with a direct solve of
// DP-ALS.md B11 by gonum.
func TestUserVectorNormalEquations(t *testing.T) {
	const items, d = 40, 5
	m := randomModel(items, d, 1)
	f := NewFolder(m)
	hist := []int32{3, 7, 38, 11, 20} // 38 is outside the universe
	conf := []float64{1, 2.5, 9, 1.5, 0.5}
	got, err := f.UserVector(make([]float64, d), hist, conf, f.NewScratch())
	if err != nil {
		t.Fatal(err)
	}
	a := mat.NewSymDense(d, nil)
	b := mat.NewVecDense(d, nil)
	var freq float64
	for j := range items {
		v := mat.NewVecDense(d, m.V[j*d:j*d+d])
		a.SymRankOne(a, m.Unobserved, v)
	}
	for q, j := range hist {
		if !m.InUniverse[j] {
			continue
		}
		v := mat.NewVecDense(d, m.V[int(j)*d:int(j)*d+d])
		a.SymRankOne(a, conf[q], v)
		b.AddScaledVec(b, conf[q], v)
		freq += conf[q]
	}
	reg := m.Lambda * math.Pow(freq+m.Unobserved*float64(m.Universe), m.RegExponent)
	for i := range d {
		a.SetSym(i, i, a.At(i, i)+reg)
	}
	var want mat.VecDense
	if err := want.SolveVec(a, b); err != nil {
		t.Fatal(err)
	}
	for i := range d {
		if math.Abs(got[i]-want.AtVec(i)) > 1e-10 {
			t.Errorf("UserVector[%d] = %v, want %v", i, got[i], want.AtVec(i))
		}
	}
}

func TestUserVectorErrors(t *testing.T) {
	m := randomModel(10, 3, 2)
	f := NewFolder(m)
	s := f.NewScratch()
	tests := []struct {
		name  string
		dst   []float64
		items []int32
		conf  []float64
	}{
		{"short destination", make([]float64, 2), []int32{1}, nil},
		{"item out of range", make([]float64, 3), []int32{10}, nil},
		{"negative item", make([]float64, 3), []int32{-1}, nil},
		{"confidence count", make([]float64, 3), []int32{1, 2}, []float64{1}},
		{"zero confidence", make([]float64, 3), []int32{1}, []float64{0}},
		{"NaN confidence", make([]float64, 3), []int32{1}, []float64{math.NaN()}},
	}
	for _, tt := range tests {
		if _, err := f.UserVector(tt.dst, tt.items, tt.conf, s); err == nil {
			t.Errorf("UserVector(%s) = nil error, want an error", tt.name)
		}
	}
	u, err := f.UserVector(make([]float64, 3), []int32{8, 9}, nil, s) // only untrained items
	if err != nil || u[0] != 0 || u[1] != 0 || u[2] != 0 {
		t.Errorf("UserVector(untrained history) = %v, %v, want the zero vector", u, err)
	}
}

func TestUserVectorAllocs(t *testing.T) {
	m := randomModel(500, 64, 3)
	f := NewFolder(m)
	s := f.NewScratch()
	dst := make([]float64, 64)
	hist := make([]int32, 300) // more than one gather chunk
	for i := range hist {
		hist[i] = int32(i)
	}
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := f.UserVector(dst, hist, nil, s); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("UserVector allocates %v times per call, want 0", allocs)
	}
}

// BenchmarkFoldIn measures the serving-time fold-in on a catalogue of the
// size of MovieLens 1M (3,706 items).
func BenchmarkFoldIn(b *testing.B) {
	for _, d := range []int{32, 64, 128} {
		for _, n := range []int{10, 50, 200} {
			b.Run(fmt.Sprintf("factors=%d/history=%d", d, n), func(b *testing.B) {
				m := randomModel(3706, d, 4)
				f := NewFolder(m)
				s := f.NewScratch()
				dst := make([]float64, d)
				r := rand.New(rand.NewPCG(5, 5))
				hist := make([]int32, n)
				for i := range hist {
					hist[i] = int32(r.IntN(3704))
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := f.UserVector(dst, hist, nil, s); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkIteration measures one ALS iteration (user step and item step)
// on a synthetic matrix shaped like MovieLens 1M: 6,040 users, 3,706 items,
// about 130 items per user.
func BenchmarkIteration(b *testing.B) {
	m := synthetic(b, 6040, 3706, 150, 7)
	for _, d := range []int{32, 64, 128} {
		b.Run(fmt.Sprintf("factors=%d", d), func(b *testing.B) {
			cfg := Config{Factors: d, Iterations: 1}.WithDefaults()
			tr := newTrainer(m, cfg)
			if _, _, err := tr.run(context.Background()); err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := tr.userStep(ctx); err != nil {
					b.Fatal(err)
				}
				if err := tr.itemStep(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(m.Len()), "pairs")
		})
	}
}

// BenchmarkPrivateIteration measures one private ALS iteration (user step,
// clipping, exact statistics, noise and item solves) with the production
// samplers and a test seed.
func BenchmarkPrivateIteration(b *testing.B) {
	m := synthetic(b, 6040, 3706, 150, 7)
	for _, g := range []Gram{GramProxy, GramNoisy} {
		b.Run(fmt.Sprintf("gram=%v/factors=64", g), func(b *testing.B) {
			p := &Privacy{Epsilon: 1, Gram: g, Source: testSource(1), AllowTestSource: true}
			cfg := Config{Factors: 64, Iterations: 1, Privacy: p}.WithDefaults()
			tr := newTrainer(m, cfg)
			if _, _, err := tr.run(context.Background()); err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := tr.userStep(ctx); err != nil {
					b.Fatal(err)
				}
				if err := tr.priv.itemStep(ctx, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestFoldInIsUserStep: for a training user, the fold-in against the
// released item vectors is exactly the next user step of the trainer
// (DP-ALS.md B8.a and B11 solve the same normal equations with the same
// λ_u over the same universe), so an offline evaluation that folds every
// user in scores with the user vectors training would use.
func TestFoldInIsUserStep(t *testing.T) {
	m := synthetic(t, 120, 40, 9, 5)
	for _, tt := range []struct {
		name    string
		privacy *Privacy
	}{
		{"non-private", nil},
		{"private", &Privacy{Epsilon: 5, ItemFraction: 0.5, Source: dptest.New(8), AllowTestSource: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Factors: 6, Iterations: 3, Privacy: tt.privacy, Seed: 2}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			tr := newTrainer(m, cfg.WithDefaults())
			model, _, err := tr.run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if tt.privacy != nil && model.Universe == model.Items {
				t.Fatalf("universe = every item, want a restricted universe")
			}
			if err := tr.userStep(context.Background()); err != nil {
				t.Fatal(err)
			}
			f := NewFolder(model)
			sc := f.NewScratch()
			d := model.Factors
			u := make([]float64, d)
			for i := range m.Users() {
				items, conf := m.Row(i)
				if _, err := f.UserVector(u, items, conf, sc); err != nil {
					t.Fatal(err)
				}
				for k := range d {
					if want := tr.u[i*d+k]; math.Abs(u[k]-want) > 1e-9*max(1, math.Abs(want)) {
						t.Fatalf("user %d: UserVector[%d] = %v, want the user step's %v", i, k, u[k], want)
					}
				}
			}
		})
	}
}
