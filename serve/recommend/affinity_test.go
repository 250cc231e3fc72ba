package recommend

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/discret-io/discret/privacy"
)

func TestAffinities(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	if a, err := f.eng.Affinities(ctx, f.pseudo("ann"), []string{"A"}); err != nil || a.Personalized || a.ModelVersion != "" {
		t.Errorf("Affinities without a model = %+v, %v; want nothing", a, err)
	}
	f.withTiny()
	f.grant("ann")
	f.events("ann", privacy.Purchase, "A", "E")
	a, err := f.eng.Affinities(ctx, f.pseudo("ann"), []string{"B", "D", "A", "F", "nope"})
	if err != nil || !a.Personalized || a.ModelVersion != "v1" || len(a.Items) != 5 {
		t.Fatalf("Affinities = %+v, %v", a, err)
	}
	resp := f.recommend(Request{Customer: customer("ann"), Limit: 10})
	score := map[string]float64{}
	for _, it := range resp.Items {
		score[it.ID] = it.Score
	}
	cosBA := 0.9 / math.Sqrt(0.82)
	want := []Affinity{
		{Known: true, Score: score["B"], Related: cosBA, Because: "A"},
		{Known: true, Score: score["D"], Related: cosBA, Because: "E"}, // cos(D, E) = cos(B, A) by symmetry
		{Known: true, Score: score["A"], Related: 1, Because: "A"},     // bought before
		{}, {},
	}
	for i, w := range want {
		g := a.Items[i]
		if g.Known != w.Known || math.Abs(g.Score-w.Score) > 1e-6 || math.Abs(g.Related-w.Related) > 1e-6 || g.Because != w.Because {
			t.Errorf("Affinities[%d] = %+v, want %+v", i, g, w)
		}
	}
	// Without consent, nothing personal.
	if a, err := f.eng.Affinities(ctx, f.pseudo("bob"), []string{"B"}); err != nil || a.Personalized || a.Items[0] != (Affinity{}) {
		t.Errorf("Affinities without consent = %+v, %v; want zero values", a, err)
	}
}

func TestPopularity(t *testing.T) {
	f := newFixture(t, nil).withTiny()
	tests := []struct {
		store string
		want  []float64
	}{
		{"", []float64{5, 6, 1, 0}},   // A F E nope: overall
		{"s2", []float64{1, 0, 9, 0}}, // the store's list
		{"s1", []float64{5, 6, 1, 0}}, // no list for s1: overall
	}
	for _, tt := range tests {
		got, v := f.eng.Popularity(tt.store, []string{"A", "F", "E", "nope"})
		if v != "v1" || !slices.Equal(got, tt.want) {
			t.Errorf("Popularity(%q) = %v, %q; want %v, v1", tt.store, got, v, tt.want)
		}
	}
}
