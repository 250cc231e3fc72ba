package recommend

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/discret-io/discret/privacy"
)

// TestTrainedZeroVector: a trained item whose private vector was shrunk to
// zero (release.HasVector) is served as an untrained one: it has no
// similar items and is never among another's (no NaN from a zero norm),
// a history of such items alone is no history (no "personalized" list of
// zero scores), it is offered by popularity, and it has no affinity.
func TestTrainedZeroVector(t *testing.T) {
	f := newFixture(t, nil).withCatalogue()
	ctx := context.Background()
	r := tinyRelease("v1")
	const zero = 5 // F: trained, its vector shrunk to 0
	r.Trained[zero] = true
	r.Card.Trained++
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if r.HasVector(zero) || !r.HasVector(0) {
		t.Fatalf("HasVector(F) = %v, HasVector(A) = %v; want false, true", r.HasVector(zero), r.HasVector(0))
	}
	if err := f.eng.Swap(r); err != nil {
		t.Fatal(err)
	}

	if _, err := f.eng.Similar(ctx, SimilarRequest{Item: "F", Limit: 3}); !errors.Is(err, ErrUnknownItem) || !strings.Contains(err.Error(), "has no vector") {
		t.Errorf("Similar(F) = %v, want ErrUnknownItem: it has no vector", err)
	}
	l, err := f.eng.Similar(ctx, SimilarRequest{Item: "A", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range l.Items {
		if it.ID == "F" || math.IsNaN(it.Score) {
			t.Errorf("Similar(A) = %v, want neither F nor a NaN score", l.Items)
		}
	}

	f.grant("bob")
	f.events("bob", privacy.Purchase, "F")
	if resp := f.recommend(Request{Customer: customer("bob"), Limit: 3}); resp.Reason != NoHistory {
		t.Errorf("Recommend(bob, who bought only F) = reason %v, items %v; want NoHistory", resp.Reason, resp.Items)
	}

	f.grant("ann")
	f.events("ann", privacy.Purchase, "A")
	resp := f.recommend(Request{Customer: customer("ann"), Limit: 10, ExcludePurchased: true})
	if resp.Reason != Personalized {
		t.Fatalf("Recommend(ann) = reason %v, want personalized", resp.Reason)
	}
	i := slices.IndexFunc(resp.Items, func(it Item) bool { return it.ID == "F" })
	if i < 0 || resp.Items[i].Score != 0 || resp.Items[i].Explanation != popularText {
		t.Errorf("Recommend(ann) = %+v, want F among the items, score 0, %q", resp.Items, popularText)
	}

	a, err := f.eng.Affinities(ctx, f.pseudo("ann"), []string{"A", "F"})
	if err != nil {
		t.Fatal(err)
	}
	if !a.Items[0].Known || a.Items[1].Known {
		t.Errorf("Affinities(ann, A F) known = %v, %v; want true, false", a.Items[0].Known, a.Items[1].Known)
	}
}
