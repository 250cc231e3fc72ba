package recommend

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bits-and-blooms/bloom/v3"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

// foldIn2 is the fold-in of DP-ALS.md B11 for d = 2, written out
// independently of package als: u = (Σ c v vᵀ + w0·VᵀV + λ_u I)⁻¹ Σ c v,
// λ_u = λ·(Σ c + w0·|𝓘|)^ν, solved with the explicit 2×2 inverse.
func foldIn2(vecs [][2]float64, hist []int, conf []float64, lambda, nu, w0 float64, universe int) [2]float64 {
	var a [2][2]float64
	for _, v := range vecs {
		for i := range 2 {
			for k := range 2 {
				a[i][k] += w0 * v[i] * v[k]
			}
		}
	}
	var b [2]float64
	freq := 0.0
	for q, j := range hist {
		v, c := vecs[j], conf[q]
		freq += c
		for i := range 2 {
			b[i] += c * v[i]
			for k := range 2 {
				a[i][k] += c * v[i] * v[k]
			}
		}
	}
	reg := lambda * math.Pow(freq+w0*float64(universe), nu)
	a[0][0] += reg
	a[1][1] += reg
	det := a[0][0]*a[1][1] - a[0][1]*a[1][0]
	return [2]float64{(a[1][1]*b[0] - a[0][1]*b[1]) / det, (a[0][0]*b[1] - a[1][0]*b[0]) / det}
}

func TestRecommendPersonalized(t *testing.T) {
	f := newFixture(t, nil).withTiny()
	f.grant("ann")
	f.events("ann", privacy.Purchase, "A")
	f.events("ann", privacy.View, "D")

	resp := f.recommend(Request{Customer: customer("ann"), Limit: 10, ExcludePurchased: true})
	if resp.Reason != Personalized || resp.ModelVersion != "v1" {
		t.Fatalf("Recommend = reason %v, version %q; want personalized from v1", resp.Reason, resp.ModelVersion)
	}
	// The reference: A bought (c = 1 + 1·1), D viewed (c = 1 + 1·0.1).
	vecs := [][2]float64{{1, 0}, {0.9, 0.1}, {0.8, 0.2}, {0, 1}, {0.1, 0.9}, {0, 0}}
	u := foldIn2(vecs, []int{0, 3}, []float64{2, 1.1}, 0.1, 0.5, 0.1, 5)
	want := map[string]float64{}
	for j, id := range []string{"B", "C", "D", "E"} { // A bought, F untrained
		v := vecs[j+1]
		want[id] = u[0]*v[0] + u[1]*v[1]
	}
	want["F"] = 0 // untrained: no vector, served by popularity
	wantOrder := []string{"B", "C", "D", "E", "F"}
	sort.SliceStable(wantOrder, func(a, b int) bool { return want[wantOrder[a]] > want[wantOrder[b]] })
	if got := ids(resp.Items); !slices.Equal(got, wantOrder) {
		t.Errorf("Recommend items = %v, want %v (scores %v)", got, wantOrder, want)
	}
	for _, it := range resp.Items {
		if math.Abs(it.Score-want[it.ID]) > 1e-5 {
			t.Errorf("score of %s = %.6f, want %.6f (B11 fold-in)", it.ID, it.Score, want[it.ID])
		}
		// The nearest history item by cosine similarity; D is in the
		// history itself and orthogonal to A: nothing explains it.
		wantBecause := map[string]string{"B": "A", "C": "A", "D": "", "E": "D", "F": ""}[it.ID]
		wantText := map[string]string{"A": "because you bought A", "D": "because you viewed D", "": ""}[wantBecause]
		if it.ID == "F" {
			wantText = popularText
		}
		if it.Because != wantBecause || it.Explanation != wantText {
			t.Errorf("explanation of %s = %q (because %q), want %q (because %q)", it.ID, it.Explanation, it.Because, wantText, wantBecause)
		}
		if want := map[string]string{"B": "x", "C": "x", "D": "y", "E": "y", "F": "y"}[it.ID]; it.Category != want {
			t.Errorf("category of %s = %q, want %q", it.ID, it.Category, want)
		}
	}
}

// TestExplanationsCiteHistoryOnly: an explanation cites an item of the
// customer's history, never the item itself, an item outside the history,
// nor an item the request excludes (items never to return are not
// returned as because_item either).
func TestExplanationsCiteHistoryOnly(t *testing.T) {
	f := newFixture(t, nil).withTiny()
	f.grant("ann")
	f.events("ann", privacy.Purchase, "A")
	f.events("ann", privacy.View, "D")
	f.events("ann", privacy.AddToCart, "B")
	history := []string{"A", "B", "D"}
	tests := []struct {
		name    string
		exclude []string
		because map[string]string // item: the history item cited
	}{
		// B and D are in the history and recommended (only purchases are
		// left out): each is explained by another history item, never by
		// itself (D by none similar enough).
		{"no exclusion", nil, map[string]string{"B": "A", "C": "B", "D": "", "E": "D"}},
		// A excluded: B has no other history item similar enough.
		{"exclude A", []string{"A"}, map[string]string{"B": "", "C": "B", "D": "", "E": "D"}},
		{"exclude A and B", []string{"A", "B"}, map[string]string{"C": "D", "D": "", "E": "D"}},
		// D excluded: E is explained by B, the next most similar.
		{"exclude D", []string{"D"}, map[string]string{"B": "A", "C": "B", "E": "B"}},
	}
	for _, tt := range tests {
		resp := f.recommend(Request{Customer: customer("ann"), Limit: 10, Exclude: tt.exclude, ExcludePurchased: true})
		got := map[string]string{}
		for _, it := range resp.Items {
			if it.Because != "" && (!slices.Contains(history, it.Because) || it.Because == it.ID || slices.Contains(tt.exclude, it.Because)) {
				t.Errorf("%s: %s explained by %s (%q): not a history item, the item itself or excluded", tt.name, it.ID, it.Because, it.Explanation)
			}
			if it.ID != "F" { // untrained, popular: no history item
				got[it.ID] = it.Because
			}
		}
		if !maps.Equal(got, tt.because) {
			t.Errorf("%s: explanations cite %v, want %v", tt.name, got, tt.because)
		}
	}
}

func TestRecommendFilters(t *testing.T) {
	f := newFixture(t, nil).withTiny()
	f.grant("ann")
	f.events("ann", privacy.Purchase, "A")
	if err := f.eng.UpsertItem(context.Background(), features.Item{ID: "C", Category: "x", Stores: []string{"s2"}, Active: false}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		r    Request
		want []string
	}{
		{"exclude purchased", Request{ExcludePurchased: true}, []string{"B", "E", "F", "D"}},
		{"keep purchased", Request{}, []string{"A", "B", "E", "F", "D"}},
		{"limit", Request{Limit: 2, ExcludePurchased: true}, []string{"B", "E"}},
		{"store s1", Request{Store: "s1"}, []string{"A", "B", "F", "D"}},
		{"store s2", Request{Store: "s2", ExcludePurchased: true}, []string{"E", "D"}},
		{"unknown store", Request{Store: "s9"}, []string{}},
		{"category y", Request{Category: "y"}, []string{"E", "F", "D"}},
		{"exclude list", Request{Exclude: []string{"B", "E", "nope"}, ExcludePurchased: true}, []string{"F", "D"}},
	}
	for _, tt := range tests {
		tt.r.Customer = customer("ann")
		resp := f.recommend(tt.r)
		if got := ids(resp.Items); resp.Reason != Personalized || !slices.Equal(got, tt.want) {
			t.Errorf("%s: Recommend(%+v) = %v (reason %v), want %v personalized", tt.name, tt.r, got, resp.Reason, tt.want)
		}
	}
	// C (inactive) never appears; F (untrained) scores 0, between the
	// positive and the negative scores; an item the catalogue does not know
	// never appears.
	if err := f.db.PutItems(context.Background(), tinyItems[:2]); err != nil { // refresh A, B only
		t.Fatal(err)
	}
	f.eng.catMu.Lock()
	delete(f.eng.items, "D")
	f.eng.snap.Load().fillCatalogue(f.eng.items)
	f.eng.catMu.Unlock()
	if got := ids(f.recommend(Request{Customer: customer("ann"), ExcludePurchased: true}).Items); !slices.Equal(got, []string{"B", "E", "F"}) {
		t.Errorf("Recommend without D in the catalogue = %v, want [B E F]", got)
	}
}

func TestRecommendUncatalogued(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.AllowUncatalogued = true })
	if err := f.eng.Swap(tinyRelease("v1")); err != nil {
		t.Fatal(err)
	}
	f.grant("ann")
	f.events("ann", privacy.Purchase, "A")
	if got := ids(f.recommend(Request{Customer: customer("ann"), ExcludePurchased: true}).Items); !slices.Equal(got, []string{"B", "C", "E", "F", "D"}) {
		t.Errorf("Recommend with AllowUncatalogued = %v, want every item (F, untrained, scores 0)", got)
	}
	if got := ids(f.recommend(Request{Customer: customer("ann"), Store: "s1"}).Items); len(got) != 0 {
		t.Errorf("Recommend in a store without a catalogue = %v, want none (availability unknown)", got)
	}
}

// TestRecommendEmptyCatalogue: while the catalogue is empty (a deployment
// without one, whose releases select their items from the data), the
// release's items are recommended; once it holds an item, unknown items
// are not. A catalogue that holds none of the release's items is logged.
func TestRecommendEmptyCatalogue(t *testing.T) {
	var log strings.Builder
	f := newFixture(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&log, nil)) })
	if err := f.eng.LoadCatalogue(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := f.eng.Swap(tinyRelease("v1")); err != nil {
		t.Fatal(err)
	}
	f.grant("ann")
	f.events("ann", privacy.Purchase, "A")
	if got := ids(f.recommend(Request{Customer: customer("ann"), ExcludePurchased: true}).Items); !slices.Equal(got, []string{"B", "C", "E", "F", "D"}) {
		t.Errorf("Recommend with an empty catalogue = %v, want every item but the one bought", got)
	}
	if l, err := f.eng.Popular(t.Context(), PopularRequest{Limit: 2}); err != nil || !slices.Equal(ids(l.Items), []string{"F", "A"}) {
		t.Errorf("Popular with an empty catalogue = %v, %v; want [F A]", ids(l.Items), err)
	}
	if !f.eng.Available("A", "") || f.eng.Available("A", "s1") {
		t.Error("Available with an empty catalogue: want any item anywhere, none in a given store (availability unknown)")
	}
	if strings.Contains(log.String(), "nothing is recommended") {
		t.Errorf("log with an empty catalogue:\n%s\nwant no warning", log.String())
	}

	// A catalogue of other items: nothing is recommended, and the log
	// says why.
	if err := f.eng.UpsertItem(t.Context(), features.Item{ID: "Z", Active: true}); err != nil {
		t.Fatal(err)
	}
	if got := ids(f.recommend(Request{Customer: customer("ann")}).Items); len(got) != 0 {
		t.Errorf("Recommend with a catalogue of other items = %v, want none", got)
	}
	if err := f.eng.Swap(tinyRelease("v2")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "level=WARN msg=\"no item of the served release is an active item of the catalogue, so nothing is recommended") || !strings.Contains(log.String(), "version=v2") {
		t.Errorf("log:\n%s\nwant a warning naming release v2", log.String())
	}
}

func TestConsentGating(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	if resp := f.recommend(Request{Customer: customer("ann")}); resp.Reason != NoModel || len(resp.Items) != 0 {
		t.Errorf("Recommend without a model = %+v, want reason NoModel", resp)
	}
	if _, err := f.eng.Popular(ctx, PopularRequest{}); !errors.Is(err, ErrNoModel) {
		t.Errorf("Popular without a model = %v, want ErrNoModel", err)
	}
	f.withTiny()
	tests := []struct {
		who        string
		store      string
		wantReason Reason
		want       []string
	}{
		{"bob", "", NoConsent, []string{"A", "B", "C", "D", "E"}}, // popular; F is popular but... see below
		{"bob", "s2", NoConsent, []string{"E", "C", "A"}},         // the store's own DP list
		{"cat", "", NoConsent, []string{"A", "B", "C", "D", "E"}},
	}
	// F is untrained but popular: popularity serves it.
	for i := range tests {
		tests[i].want = append([]string{"F"}, tests[i].want...)
		if tests[i].store != "" {
			tests[i].want = tests[i].want[1:]
		}
	}
	for _, tt := range tests {
		resp := f.recommend(Request{Customer: customer(tt.who), Store: tt.store, ExcludePurchased: true})
		if got := ids(resp.Items); resp.Reason != tt.wantReason || !slices.Equal(got, tt.want) {
			t.Errorf("Recommend(%s, store %q) = %v reason %v; want %v reason %v", tt.who, tt.store, got, resp.Reason, tt.want, tt.wantReason)
		}
	}
	// Consent but no history: popular, reason NoHistory.
	f.grant("dan")
	if resp := f.recommend(Request{Customer: customer("dan")}); resp.Reason != NoHistory || len(resp.Items) != 6 {
		t.Errorf("Recommend(no history) = %v reason %v; want the 6 popular items, reason NoHistory", ids(resp.Items), resp.Reason)
	}
	// History only of untrained items: NoHistory, and the purchase is
	// still excluded.
	f.events("dan", privacy.Purchase, "F")
	if resp := f.recommend(Request{Customer: customer("dan"), ExcludePurchased: true}); resp.Reason != NoHistory || slices.Contains(ids(resp.Items), "F") {
		t.Errorf("Recommend(untrained history) = %v reason %v; want NoHistory without F", ids(resp.Items), resp.Reason)
	}
}

func TestBloomExclusion(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.AllowUncatalogued = true })
	r := randomRelease("v1", 2000, 8, 1)
	if err := f.eng.Swap(r); err != nil {
		t.Fatal(err)
	}
	f.grant("ann")
	bought := r.Items[:300]
	f.events("ann", privacy.Purchase, bought...)
	resp := f.recommend(Request{Customer: customer("ann"), Limit: MaxLimit, ExcludePurchased: true})
	if len(resp.Items) != MaxLimit || resp.Reason != Personalized {
		t.Fatalf("Recommend = %d items, reason %v; want %d personalized", len(resp.Items), resp.Reason, MaxLimit)
	}
	for _, it := range resp.Items {
		if slices.Contains(bought, it.ID) {
			t.Errorf("Recommend returned purchased item %s", it.ID)
		}
	}
	// The filter's false positives only drop candidates: with every bit
	// set, nothing is returned, and certainly nothing else.
	full := bloom.New(64, 1)
	for i := range 64 {
		full.BitSet().Set(uint(i))
	}
	s := f.eng.snap.Load()
	fl := filter{s: s, uncatalogued: true, purchased: full}
	if got := topK(nil, make([]float32, len(r.Items)), 10, &fl); len(got) != 0 {
		t.Errorf("topK with a saturated purchase filter = %v, want nothing", got)
	}
}

func TestInvalidationChangesNextResponse(t *testing.T) {
	f := newFixture(t, nil).withTiny()
	f.grant("ann")
	f.events("ann", privacy.Purchase, "A")
	top := func() []string {
		return ids(f.recommend(Request{Customer: customer("ann"), Limit: 1}).Items)
	}
	if got := top(); !slices.Equal(got, []string{"A"}) {
		t.Fatalf("first Recommend = %v, want [A]", got)
	}
	// Purchases in group y, stored without telling the engine: the cached
	// profile still answers.
	for range 3 {
		f.appendEvents("ann", privacy.Purchase, "E", "D")
	}
	if got := top(); !slices.Equal(got, []string{"A"}) {
		t.Fatalf("Recommend from the cached profile = %v, want [A]", got)
	}
	f.eng.Invalidate(f.pseudo("ann"))
	if got := top(); !slices.Equal(got, []string{"D"}) {
		t.Errorf("Recommend after the purchases and Invalidate = %v, want [D]", got)
	}
	// One more purchase changes the next response too.
	f.events("ann", privacy.Purchase, "B", "B", "B", "B", "B", "B", "B", "B")
	if got := ids(f.recommend(Request{Customer: customer("ann"), Limit: 1, ExcludePurchased: true}).Items); !slices.Equal(got, []string{"C"}) {
		t.Errorf("Recommend after buying B = %v, want [C]", got)
	}
}

func TestForgetAndWithdrawal(t *testing.T) {
	tests := []struct {
		name  string
		erase func(f *fixture, p privacy.PseudoID) error
	}{
		{"forget", func(f *fixture, p privacy.PseudoID) error {
			_, err := f.db.Forget(context.Background(), p)
			return err
		}},
		{"withdraw", func(f *fixture, p privacy.PseudoID) error {
			_, err := f.db.UpdateConsent(context.Background(), p, []consent.Change{{Purpose: privacy.Personalization, Granted: false, Time: f.clock.Now(), Source: "test"}}, consent.Defaults{})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil).withTiny()
			f.grant("ann")
			f.events("ann", privacy.Purchase, "A")
			if resp := f.recommend(Request{Customer: customer("ann")}); resp.Reason != Personalized {
				t.Fatalf("before: reason %v", resp.Reason)
			}
			p := f.pseudo("ann")
			if f.eng.cache.get(p) == nil {
				t.Fatal("profile not cached")
			}
			if err := tt.erase(f, p); err != nil {
				t.Fatal(err)
			}
			f.eng.Invalidate(p)
			if f.eng.cache.get(p) != nil {
				t.Error("profile still cached after Invalidate")
			}
			resp := f.recommend(Request{Customer: customer("ann"), ExcludePurchased: true})
			if resp.Reason != NoConsent || !slices.Contains(ids(resp.Items), "A") {
				t.Errorf("next Recommend = %v reason %v; want NoConsent and the popular list (A included: nothing of theirs is used)", ids(resp.Items), resp.Reason)
			}
			if pr := f.eng.cache.get(p); pr == nil || pr.personalize || pr.vec != nil || pr.purchased != nil || pr.explain != nil {
				t.Errorf("cached profile after erasure = %+v; want only the non-consent decision", pr)
			}
		})
	}
}

func TestProfileExpiry(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.CacheMaxAge = time.Hour })
	f.withTiny()
	f.grant("ann")
	f.events("ann", privacy.Purchase, "A")
	f.recommend(Request{Customer: customer("ann")})
	p := f.pseudo("ann")
	pr := f.eng.cache.get(p)
	if pr == nil || !pr.expires.Equal(f.clock.Now().Add(time.Hour)) {
		t.Fatalf("cached profile expires %v, want in 1 h", pr)
	}
	f.clock.Advance(time.Hour)
	f.recommend(Request{Customer: customer("ann")})
	if again := f.eng.cache.get(p); again == pr {
		t.Error("an expired profile was used again")
	}
}

func TestSimilar(t *testing.T) {
	f := newFixture(t, nil).withTiny()
	ctx := context.Background()
	l, err := f.eng.Similar(ctx, SimilarRequest{Item: "A", Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	// cos(A, B) = 0.9/√0.82, cos(A, C) = 0.8/√0.68, cos(A, E) = 0.1/√0.82.
	want := []struct {
		id  string
		cos float64
	}{{"B", 0.9 / math.Sqrt(0.82)}, {"C", 0.8 / math.Sqrt(0.68)}, {"E", 0.1 / math.Sqrt(0.82)}}
	if len(l.Items) != 3 || l.ModelVersion != "v1" {
		t.Fatalf("Similar(A) = %+v", l)
	}
	for i, w := range want {
		if it := l.Items[i]; it.ID != w.id || math.Abs(it.Score-w.cos) > 1e-6 {
			t.Errorf("Similar(A)[%d] = %s %.6f, want %s %.6f", i, it.ID, it.Score, w.id, w.cos)
		}
	}
	for _, tt := range []struct{ item, msg string }{
		{"F", `item "F" has no vector in release v1`},
		{"nope", `item "nope" is not in release v1`},
		// The message goes to the client: an id that looks like an
		// e-mail address (a customer id) is withheld.
		{"ann@example.com", "item (an item id withheld: it looks like an e-mail address) is not in release v1"},
	} {
		_, err := f.eng.Similar(ctx, SimilarRequest{Item: tt.item})
		if !errors.Is(err, ErrUnknownItem) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Similar(%s) = %v, want ErrUnknownItem saying %s", tt.item, err, tt.msg)
		}
	}
}

func TestPopular(t *testing.T) {
	f := newFixture(t, nil).withTiny()
	ctx := context.Background()
	tests := []struct {
		r    PopularRequest
		want []string
	}{
		{PopularRequest{}, []string{"F", "A", "B", "C", "D", "E"}},
		{PopularRequest{Limit: 2}, []string{"F", "A"}},
		{PopularRequest{Store: "s2"}, []string{"E", "C", "A"}},
		{PopularRequest{Store: "s1"}, []string{"F", "A", "B", "D"}}, // no list for s1: overall, available there
		{PopularRequest{Category: "x"}, []string{"A", "B", "C"}},
	}
	for _, tt := range tests {
		l, err := f.eng.Popular(ctx, tt.r)
		if got := ids(l.Items); err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("Popular(%+v) = %v, %v; want %v", tt.r, got, err, tt.want)
		}
	}
	l, _ := f.eng.Popular(ctx, PopularRequest{Store: "s2", Limit: 1})
	if len(l.Items) != 1 || l.Items[0].Score != 9 {
		t.Errorf("Popular(s2) score = %+v, want the store's DP count 9", l.Items)
	}
}

func TestUpsertItemApplies(t *testing.T) {
	f := newFixture(t, nil).withTiny()
	ctx := context.Background()
	if err := f.eng.UpsertItem(ctx, features.Item{ID: "F", Category: "y", Active: false}); err != nil {
		t.Fatal(err)
	}
	l, _ := f.eng.Popular(ctx, PopularRequest{Limit: 1})
	if got := ids(l.Items); !slices.Equal(got, []string{"A"}) {
		t.Errorf("Popular after deactivating F = %v, want [A]", got)
	}
	stored, _ := f.db.Items(ctx)
	if i := slices.IndexFunc(stored, func(it features.Item) bool { return it.ID == "F" }); i < 0 || stored[i].Active {
		t.Errorf("stored F = %+v, want inactive", stored)
	}
	// A new release sees the update.
	if err := f.eng.Swap(tinyRelease("v2")); err != nil {
		t.Fatal(err)
	}
	l, _ = f.eng.Popular(ctx, PopularRequest{Limit: 1})
	if got := ids(l.Items); l.ModelVersion != "v2" || !slices.Equal(got, []string{"A"}) {
		t.Errorf("Popular from v2 = %v %s, want [A] from v2", got, l.ModelVersion)
	}
	if !f.eng.Available("A", "s1") || f.eng.Available("C", "s1") || f.eng.Available("F", "") || f.eng.Available("nope", "") {
		t.Error("Available disagrees with the catalogue")
	}
}

func TestLimits(t *testing.T) {
	f := newFixture(t, nil).withTiny()
	for _, n := range []int{-1, MaxLimit + 1} {
		if _, err := f.eng.Recommend(context.Background(), Request{Customer: customer("ann"), Limit: n}); err == nil {
			t.Errorf("Recommend(limit %d) = nil error", n)
		}
	}
}

func TestEpsilonAttr(t *testing.T) {
	for _, tt := range []struct {
		eps  float64
		want string
	}{
		{0.9999999999997085, "epsilon=1"},
		{0.123456789, "epsilon=0.123457"},
		{math.Inf(1), "epsilon=+Inf"},
	} {
		if got := epsilonAttr(tt.eps).String(); got != tt.want {
			t.Errorf("epsilonAttr(%v) = %s, want %s", tt.eps, got, tt.want)
		}
	}
}
