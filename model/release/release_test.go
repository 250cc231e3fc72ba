package release_test

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/store/storetest"
	"github.com/discret-io/discret/model/als"
	"github.com/discret-io/discret/model/budget"
	"github.com/discret-io/discret/model/interact"
	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/privacy"
)

var created = time.Date(2035, 1, 2, 3, 4, 5, 0, time.UTC)

// sample returns a small valid private release.
func sample(version string) *release.Release {
	items := []string{"apple", "bread", "cheese", "dates"}
	d := 3
	vec := make([]float32, len(items)*d)
	for i := range vec[:3*d] { // "dates" is not trained: zero vector
		vec[i] = float32(i%5)*0.25 - 0.5
	}
	return &release.Release{
		Card: release.Card{
			Format: release.CardFormat, Version: version, Created: created, Private: true, RNG: release.RNGTestSeeded,
			Window:    budget.Window{From: created.AddDate(-1, 0, 0), To: created},
			Customers: release.Customers{Value: 1200, Method: "noisy", Sigma: 45},
			Items:     len(items), Trained: 3, Stores: 2, Universe: release.UniverseCatalogue,
			Hyper: release.Hyper{
				Factors: d, Iterations: 5, Lambda: 0.01, RegExponent: 1, Unobserved: 0.1, InitScale: 0.1,
				Weights: map[string]float64{"view": 0.1, "add_to_cart": 0.5, "purchase": 1}, StrengthCap: 10, Alpha: 2,
				PopularKeys: 10, PopularNorm: 1, StoreTop: 100,
			},
			Privacy: &release.Privacy{
				Neighbouring: budget.Neighbouring, Epsilon: 1, Delta: 1e-6, TargetEpsilon: 1, Rho: 0.024, Mu: 0.22,
				Components: []budget.Component{{Name: "S", Multiplier: 10, Releases: 5, RhoEach: 0.005, Rho: 0.025}},
			},
		},
		Items:        items,
		Vectors:      vec,
		Trained:      []bool{true, true, true, false},
		Popular:      []float32{3, 0, 12.5, 1},
		Stores:       []string{"north", "south"},
		StorePopular: [][]release.Scored{{{Item: 2, Score: 7}, {Item: 0, Score: 1.5}}, {}},
	}
}

func put(t *testing.T, db *store.DB, r *release.Release, current bool) {
	t.Helper()
	meta, parts, err := release.Encode(r)
	if err != nil {
		t.Fatalf("Encode(%s): %v", r.Card.Version, err)
	}
	_, err = db.PutRelease(t.Context(), store.ReleaseWrite{
		Manifest: store.ReleaseManifest{Version: r.Card.Version, Created: r.Card.Created, Meta: meta},
		Parts:    parts, MakeCurrent: current,
	})
	if err != nil {
		t.Fatalf("PutRelease(%s): %v", r.Card.Version, err)
	}
}

func TestStoreRoundTrip(t *testing.T) {
	db := storetest.OpenMemory(t, nil)
	ctx := t.Context()
	if _, err := release.LoadCurrent(ctx, db); !errors.Is(err, store.ErrNoCurrentRelease) {
		t.Fatalf("LoadCurrent on an empty store = %v, want ErrNoCurrentRelease", err)
	}
	a, b := sample("a"), sample("b")
	b.Card.Created = created.Add(time.Hour)
	b.Card.Private, b.Card.Privacy, b.Card.RNG = false, nil, release.RNGCrypto
	put(t, db, a, true)
	put(t, db, b, false)

	got, err := release.LoadCurrent(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Items, a.Items) || !slices.Equal(got.Vectors, a.Vectors) || !slices.Equal(got.Trained, a.Trained) || !slices.Equal(got.Popular, a.Popular) ||
		!slices.Equal(got.Stores, a.Stores) || len(got.StorePopular) != 2 || !slices.Equal(got.StorePopular[0], a.StorePopular[0]) {
		t.Errorf("LoadCurrent = %+v, want %+v", got, a)
	}
	wantCard, _ := json.Marshal(a.Card)
	gotCard, _ := json.Marshal(got.Card)
	if string(gotCard) != string(wantCard) {
		t.Errorf("card = %s, want %s", gotCard, wantCard)
	}
	if i, ok := got.Index("cheese"); i != 2 || !ok {
		t.Errorf("Index(cheese) = %d, %v; want 2, true", i, ok)
	}
	if _, ok := got.Index("eggs"); ok {
		t.Error("Index(eggs) found, want not found")
	}

	sums, err := release.List(ctx, db)
	if err != nil || len(sums) != 2 {
		t.Fatalf("List = %v, %v; want 2 releases", sums, err)
	}
	if sums[0].Card.Version != "a" || !sums[0].Current || sums[1].Card.Version != "b" || sums[1].Current || sums[1].Size == 0 {
		t.Errorf("List = %+v", sums)
	}
	if !math.IsInf(sums[1].Card.Epsilon(), 1) || sums[0].Card.Epsilon() != 1 {
		t.Errorf("Epsilon() = %v, %v; want 1, +Inf", sums[0].Card.Epsilon(), sums[1].Card.Epsilon())
	}
}

func TestDecodeRejects(t *testing.T) {
	meta, parts, err := release.Encode(sample("v"))
	if err != nil {
		t.Fatal(err)
	}
	byName := func() map[string][]byte {
		m := map[string][]byte{}
		for _, p := range parts {
			m[p.Name] = p.Data
		}
		return m
	}
	if _, err := release.Decode(meta, byName()); err != nil {
		t.Fatalf("Decode(Encode(sample)) = %v", err)
	}
	other, otherParts, _ := release.Encode(func() *release.Release {
		r := sample("w")
		r.Items = append(r.Items, "eggs")
		r.Card.Items = 5
		r.Vectors = append(r.Vectors, 0, 0, 0)
		r.Trained = append(r.Trained, false)
		r.Popular = append(r.Popular, 0)
		return r
	}())
	tests := []struct {
		name  string
		meta  []byte
		parts func(map[string][]byte)
		want  string
	}{
		{"missing part", meta, func(m map[string][]byte) { delete(m, release.PartVectors) }, "no vectors part"},
		{"vectors of another release", meta, func(m map[string][]byte) { m[release.PartVectors] = otherParts[1].Data }, "5 × 3 vectors for 4 items"},
		{"card of another release", other, func(map[string][]byte) {}, "4 items, card says 5"},
		{"corrupt", meta, func(m map[string][]byte) {
			b := slices.Clone(m[release.PartPopular])
			b[len(b)-1] ^= 1
			m[release.PartPopular] = b
		}, "checksum"},
		{"unknown card field", []byte(strings.Replace(string(meta), `{`, `{"surprise":1,`, 1)), func(map[string][]byte) {}, "unknown field"},
		{"card format", []byte(strings.Replace(string(meta), `"card_format":1`, `"card_format":2`, 1)), func(map[string][]byte) {}, "card format 2"},
	}
	for _, tt := range tests {
		m := byName()
		tt.parts(m)
		_, err := release.Decode(tt.meta, m)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Decode(%s) = %v, want an error mentioning %q", tt.name, err, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(r *release.Release)
		want string
	}{
		{"card format", func(r *release.Release) { r.Card.Format = 0 }, "card format"},
		{"rng", func(r *release.Release) { r.Card.RNG = "seed" }, "rng"},
		{"private without statement", func(r *release.Release) { r.Card.Privacy = nil }, "private"},
		{"items count", func(r *release.Release) { r.Card.Items = 3 }, "card says 3"},
		{"vectors", func(r *release.Release) { r.Vectors = r.Vectors[:5] }, "vector values"},
		{"NaN vector", func(r *release.Release) { r.Vectors[4] = float32(math.NaN()) }, "vector value 4"},
		{"negative popularity", func(r *release.Release) { r.Popular[1] = -1 }, "popularity of item 1"},
		{"duplicate item", func(r *release.Release) { r.Items[1] = r.Items[0] }, "repeated"},
		{"store list order", func(r *release.Release) { r.StorePopular[0][1].Score = 8 }, "decreasing"},
		{"store list item", func(r *release.Release) { r.StorePopular[0][0].Item = 4 }, "item index"},
		{"stores", func(r *release.Release) { r.Stores = r.Stores[:1] }, "stores"},
		{"lambda", func(r *release.Release) { r.Card.Hyper.Lambda = 0 }, "fold-in"},
		{"trained count", func(r *release.Release) { r.Card.Trained = 4 }, "card says 4 trained"},
		{"no trained item", func(r *release.Release) { r.Trained = make([]bool, 4); r.Card.Trained = 0 }, "0 set"},
		{"untrained vector", func(r *release.Release) { r.Vectors[10] = 1 }, "untrained item 3"},
	}
	for _, tt := range tests {
		r := sample("v")
		tt.mod(r)
		err := r.Validate()
		if !errors.Is(err, release.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%s) = %v, want ErrInvalid mentioning %q", tt.name, err, tt.want)
		}
		if _, _, err := release.Encode(r); err == nil {
			t.Errorf("Encode(%s) = nil error, want the validation error", tt.name)
		}
	}
}

// TestHistoryMatchesTraining: History computes the same confidences as the
// training matrix for the same events.
func TestHistoryMatchesTraining(t *testing.T) {
	r := sample("v")
	events := []features.Event{
		{Item: "cheese", Kind: privacy.View, Quantity: 1},
		{Item: "cheese", Kind: privacy.Purchase, Quantity: 3},
		{Item: "apple", Kind: privacy.AddToCart, Quantity: 1},
		{Item: "unknown", Kind: privacy.Purchase, Quantity: 1},
		{Kind: privacy.StoreVisit, Store: "north", Quantity: 1},
		{Item: "apple", Kind: privacy.Purchase, Quantity: 20}, // capped at 10
	}
	items, conf, err := r.History(events)
	if err != nil {
		t.Fatal(err)
	}
	// apple: min(0.5 + 20, 10) = 10 → 1 + 2·10; cheese: 0.1 + 3 → 1 + 2·3.1.
	if !slices.Equal(items, []int32{0, 2}) || len(conf) != 2 || math.Abs(conf[0]-21) > 1e-12 || math.Abs(conf[1]-7.2) > 1e-12 {
		t.Errorf("History = %v, %v; want [0 2], [21 7.2]", items, conf)
	}
	b, err := interact.NewBuilder(interact.Config{Weights: interact.DefaultWeights(), Alpha: 2}, 1, 4)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if j, ok := r.Index(e.Item); ok {
			b.Add(0, j, e.Kind, e.Quantity)
		}
	}
	wi, wc := b.Matrix().Row(0)
	if !slices.Equal(items, wi) || !slices.Equal(conf, wc) {
		t.Errorf("History = %v, %v; training matrix row = %v, %v", items, conf, wi, wc)
	}
}

// TestModelFoldIn: the als.Model of a release folds in like the model it
// was made from, up to the float32 rounding of the vectors.
func TestModelFoldIn(t *testing.T) {
	r := sample("v")
	m := r.Model()
	if m.Items != 4 || m.Factors != 3 || m.Universe != 3 || len(m.V) != 12 || m.Lambda != 0.01 || !slices.Equal(m.InUniverse, []bool{true, true, true, false}) {
		t.Fatalf("Model() = %+v", m)
	}
	f := als.NewFolder(m)
	u, err := f.UserVector(make([]float64, 3), []int32{0, 2}, []float64{21, 7.2}, f.NewScratch())
	if err != nil {
		t.Fatal(err)
	}
	// The fold-in solves (Σ c v vᵀ + w0 VᵀV + λ_u I) u = Σ c v; check the
	// residual of that system directly.
	d := 3
	a := make([]float64, d*d)
	rhs := make([]float64, d)
	var freq float64
	for j := range 4 {
		v := m.V[j*d : j*d+d]
		for p := range d {
			for q := range d {
				a[p*d+q] += m.Unobserved * v[p] * v[q]
			}
		}
	}
	for k, j := range []int{0, 2} {
		c := []float64{21, 7.2}[k]
		freq += c
		v := m.V[j*d : j*d+d]
		for p := range d {
			rhs[p] += c * v[p]
			for q := range d {
				a[p*d+q] += c * v[p] * v[q]
			}
		}
	}
	reg := m.Lambda * math.Pow(freq+m.Unobserved*3, m.RegExponent)
	for p := range d {
		a[p*d+p] += reg
		var s float64
		for q := range d {
			s += a[p*d+q] * u[q]
		}
		if math.Abs(s-rhs[p]) > 1e-9 {
			t.Errorf("fold-in residual row %d = %v", p, s-rhs[p])
		}
	}
}

func TestDerivedFrom(t *testing.T) {
	db := storetest.OpenMemory(t, nil)
	ctx := t.Context()
	old, cur := sample("old"), sample("cur")
	old.Card.Window = budget.Window{From: created.AddDate(-2, 0, 0), To: created.AddDate(-1, 0, 0)}
	cur.Card.Created = created.Add(time.Hour)
	put(t, db, old, false)
	put(t, db, cur, true)
	d := store.CustomerData{Events: []store.EventData{
		{Type: "view", Item: "apple", Time: created.AddDate(0, -1, 0)},          // in cur's window
		{Type: "purchase", Item: "bread", Time: created.AddDate(0, -2, 0)},      // in cur's window
		{Type: "store_visit", Store: "north", Time: created.AddDate(-1, -6, 0)}, // in old's window, but no item
		{Type: "view", Item: "apple", Time: created.Add(time.Minute)},           // after every window
	}}
	got, err := release.DerivedFrom(ctx, db, d)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Releases) != 1 || got.Releases[0].Version != "cur" || got.Releases[0].Events != 2 || !got.Releases[0].Current ||
		got.Releases[0].Epsilon == nil || *got.Releases[0].Epsilon != 1 || got.Note == "" {
		t.Errorf("DerivedFrom = %+v, want only cur with 2 events", got)
	}
	none, err := release.DerivedFrom(ctx, db, store.CustomerData{})
	if err != nil || len(none.Releases) != 0 || none.Releases == nil {
		t.Errorf("DerivedFrom(no events) = %+v, %v; want an empty list", none, err)
	}
}
