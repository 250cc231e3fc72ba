package recommend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/model/als"
	"github.com/discret-io/discret/model/budget"
	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/model/train"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

// trainingFixture is a fixture whose store holds a catalogue of 40 items in
// two stores and purchases of 400 customers (consenting by default).
func trainingFixture(t *testing.T, allowNonPrivate bool) (*fixture, *Trainer) {
	t.Helper()
	defaults := consent.Defaults{Personalization: true, InStore: true}
	f := newFixture(t, func(c *Config) {
		c.ConsentDefaults = defaults
		c.AllowNonPrivate = allowNonPrivate
	})
	ctx := context.Background()
	var items []features.Item
	for j := range 40 {
		items = append(items, features.Item{ID: fmt.Sprintf("SKU-%02d", j), Category: fmt.Sprintf("c%d", j%2), Stores: []string{fmt.Sprintf("s%d", j%2)}, Active: true})
	}
	if err := f.db.PutItems(ctx, items); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var es []store.Entry
	for c := range 400 {
		group := c % 2
		for range 6 {
			j := 2*rng.IntN(20) + group
			es = append(es, store.Entry{
				Event:     features.Event{Customer: pseudoN(c + 1), Item: items[j].ID, Kind: privacy.Purchase, Time: f.clock.Now().Add(-time.Duration(rng.IntN(1000)) * time.Minute), Quantity: 1},
				ExpiresAt: f.clock.Now().AddDate(1, 0, 0),
			})
		}
	}
	if err := f.db.AppendEvents(ctx, store.Batch{Events: es, Defaults: defaults}); err != nil {
		t.Fatal(err)
	}
	if err := f.eng.LoadCatalogue(ctx); err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(TrainerConfig{
		Store:  f.db,
		Engine: f.eng,
		Base:   train.Config{Consent: defaults, Now: f.clock.Now, ALS: trainALS(), Cap: budget.Cap{Epsilon: 1.05}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return f, tr
}

func TestTrainer(t *testing.T) {
	f, tr := trainingFixture(t, false)
	ctx := context.Background()
	if _, err := tr.Current(ctx); !errors.Is(err, ErrNoModel) {
		t.Errorf("Current before training = %v, want ErrNoModel", err)
	}
	card, err := tr.Train(ctx, train.Config{Epsilon: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !card.Private || card.Universe != release.UniverseCatalogue || card.Items != 40 || card.Stores != 2 || math.Abs(card.Epsilon()-1) > 0.01 {
		t.Errorf("trained card: private %v, universe %s, %d items, %d stores, ε %v; want a private release of the stored catalogue (40 items, 2 stores) at ε = 1",
			card.Private, card.Universe, card.Items, card.Stores, card.Epsilon())
	}
	if cur, err := tr.Current(ctx); err != nil || cur.Version != card.Version || !f.eng.Ready() {
		t.Errorf("Current after training = %q, %v; want %q served", cur.Version, err, card.Version)
	}
	l, err := f.eng.Popular(ctx, PopularRequest{Store: "s1", Limit: 100})
	if err != nil || len(l.Items) == 0 || slices.ContainsFunc(l.Items, func(it Item) bool { return it.ID[len(it.ID)-1]%2 == 0 }) {
		t.Errorf("Popular in s1 from the trained release = %v, %v; want only items available in s1", ids(l.Items), err)
	}

	// The budget cap (ε 1.05) refuses a second release at ε = 1, and the
	// served release stays.
	_, err = tr.Train(ctx, train.Config{Epsilon: 1})
	var exceeded *budget.ExceededError
	if !errors.As(err, &exceeded) {
		t.Errorf("second Train over the cap = %v, want *budget.ExceededError", err)
	}
	if cur, _ := tr.Current(ctx); cur.Version != card.Version {
		t.Errorf("served release after a refused run = %s, want %s", cur.Version, card.Version)
	}

	// One run at a time.
	tr.mu.Lock()
	_, err = tr.Train(ctx, train.Config{})
	tr.mu.Unlock()
	if !errors.Is(err, ErrTraining) {
		t.Errorf("Train during another run = %v, want ErrTraining", err)
	}
	if _, err := tr.Train(ctx, train.Config{Epsilon: math.Inf(1)}); !errors.Is(err, ErrNonPrivate) {
		t.Errorf("non-private Train on a private-only server = %v, want ErrNonPrivate", err)
	}
}

func TestTrainerNonPrivate(t *testing.T) {
	f, tr := trainingFixture(t, true)
	card, err := tr.Train(context.Background(), train.Config{Epsilon: math.Inf(1), ALS: trainALS()})
	if err != nil {
		t.Fatal(err)
	}
	if card.Private || !f.eng.Ready() {
		t.Errorf("non-private Train with AllowNonPrivate: private %v, ready %v; want a non-private release served", card.Private, f.eng.Ready())
	}
}

// trainALS keeps training short.
func trainALS() als.Config { return als.Config{Factors: 8, Iterations: 2} }

func TestUniverse(t *testing.T) {
	ids, stores := Universe([]features.Item{{ID: "a", Stores: []string{"s2", "s1"}}, {ID: "b", Active: true}, {ID: "c", Stores: []string{"s1"}}})
	if !slices.Equal(ids, []string{"a", "b", "c"}) || !slices.Equal(stores, []string{"s1", "s2"}) {
		t.Errorf("Universe = %v, %v; want [a b c], [s1 s2]", ids, stores)
	}
	if _, stores := Universe([]features.Item{{ID: "a"}}); stores != nil {
		t.Errorf("Universe without stores = %v, want nil (selected from the data)", stores)
	}
}

func TestTrainerEvery(t *testing.T) {
	f, tr := trainingFixture(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		tr.Every(ctx, 10*time.Millisecond)
		close(done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !f.eng.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("periodic training served no release")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	// The cap (ε 1.05) lets one ε = 1 release through: the later runs fail
	// and the first release stays served.
	sums, err := release.List(context.Background(), f.db)
	if err != nil || len(sums) != 1 {
		t.Errorf("releases after periodic training = %d, %v; want 1 (the cap refuses the others)", len(sums), err)
	}
}

// TestTrainerCapChange: a server training under another cap than the one
// recorded with its previous release logs a warning naming both.
func TestTrainerCapChange(t *testing.T) {
	f, tr := trainingFixture(t, false)
	ctx := context.Background()
	if _, err := tr.Train(ctx, train.Config{Epsilon: 0.5}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	looser, err := NewTrainer(TrainerConfig{
		Store:  f.db,
		Engine: f.eng,
		Base:   train.Config{Consent: tr.cfg.Base.Consent, Now: f.clock.Now, ALS: trainALS(), Cap: budget.Cap{Epsilon: 10}},
		Logger: slog.New(slog.NewTextHandler(&buf, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Second)
	if _, err := looser.Train(ctx, train.Config{Epsilon: 0.5}); err != nil {
		t.Fatal(err)
	}
	if want := `recorded="ε = 1.05 at δ = 1e-06 over 365d"`; !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), want) {
		t.Errorf("log of a run under another cap:\n%s\nwant a warning with %s", buf.String(), want)
	}
}
