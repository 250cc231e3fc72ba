package recommend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
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
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
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
		tr.Every(ctx, 10*time.Millisecond, nil)
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
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(tr)
	if got := gatherValue(t, reg, "discret_training_runs_total", map[string]string{"trigger": "schedule", "outcome": "current"}); got != 1 {
		t.Errorf("scheduled runs that served a release = %v, want 1", got)
	}
}

// TestTrainerCapChange: a server training under a looser cap than the one
// recorded with its previous release is refused unless it accepts the
// change, and then logs a warning naming both.
func TestTrainerCapChange(t *testing.T) {
	f, tr := trainingFixture(t, false)
	ctx := context.Background()
	if _, err := tr.Train(ctx, train.Config{Epsilon: 0.5}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	base := train.Config{Consent: tr.cfg.Base.Consent, Now: f.clock.Now, ALS: trainALS(), Cap: budget.Cap{Epsilon: 10}}
	looser, err := NewTrainer(TrainerConfig{Store: f.db, Engine: f.eng, Base: base, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Second)
	var loosened *train.CapLoosenedError
	if _, err := looser.Train(ctx, train.Config{Epsilon: 0.5}); !errors.As(err, &loosened) {
		t.Fatalf("Train under a looser cap, not accepted = %v, want *train.CapLoosenedError", err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(looser)
	for outcome, want := range map[string]float64{"cap_loosened": 1, "failed": 0} {
		labels := map[string]string{"trigger": "request", "outcome": outcome}
		if got := gatherValue(t, reg, "discret_training_runs_total", labels); got != want {
			t.Errorf("discret_training_runs_total%v after the refusal = %v, want %v", labels, got, want)
		}
	}
	base.AcceptCapChange = true
	looser, err = NewTrainer(TrainerConfig{Store: f.db, Engine: f.eng, Base: base, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := looser.Train(ctx, train.Config{Epsilon: 0.5}); err != nil {
		t.Fatal(err)
	}
	if want := `recorded="ε = 1.05 at δ = 1e-06 over 365d"`; !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), want) {
		t.Errorf("log of a run under another cap:\n%s\nwant a warning with %s", buf.String(), want)
	}
}

// TestTrainerMetrics: the Trainer counts its runs by trigger and outcome,
// times those that trained, and states the privacy budget spent in the
// cap's window and the cap.
func TestTrainerMetrics(t *testing.T) {
	f, tr := trainingFixture(t, false)
	ctx := context.Background()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(tr)

	// Before any run: no spend, every series at 0.
	if got := gatherValue(t, reg, "discret_privacy_epsilon_spent", nil); got != 0 {
		t.Errorf("ε spent before any release = %v, want 0", got)
	}
	card, err := tr.Train(ctx, train.Config{Epsilon: 1})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Second)
	if _, err := tr.Train(ctx, train.Config{Epsilon: 1}); err == nil {
		t.Fatal("a second ε = 1 run under the 1.05 cap was not refused")
	}
	tr.mu.Lock()
	_, _ = tr.Train(ctx, train.Config{})
	tr.mu.Unlock()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, _ = tr.Train(cancelled, train.Config{Epsilon: 0.01})
	_, _ = tr.Train(ctx, train.Config{Epsilon: math.Inf(1)})

	for _, c := range []struct {
		outcome string
		want    float64
	}{{"current", 1}, {"budget_exceeded", 1}, {"busy", 1}, {"cancelled", 1}, {"failed", 1}, {"not_current", 0}, {"cap_loosened", 0}, {"no_data", 0}} {
		labels := map[string]string{"trigger": "request", "outcome": c.outcome}
		if got := gatherValue(t, reg, "discret_training_runs_total", labels); got != c.want {
			t.Errorf("discret_training_runs_total%v = %v, want %v", labels, got, c.want)
		}
		labels["trigger"] = "schedule"
		if got := gatherValue(t, reg, "discret_training_runs_total", labels); got != 0 {
			t.Errorf("discret_training_runs_total%v = %v, want 0", labels, got)
		}
	}
	if got := gatherCount(t, reg, "discret_training_duration_seconds"); got != 1 {
		t.Errorf("training runs timed = %d, want 1 (the one that trained)", got)
	}
	if got := gatherValue(t, reg, "discret_training_in_progress", nil); got != 0 {
		t.Errorf("discret_training_in_progress after the runs = %v, want 0", got)
	}
	// The one release's ε (stated at its own δ, at most the cap's), the
	// cap's 1.05, one private release.
	if got := gatherValue(t, reg, "discret_privacy_epsilon_spent", nil); !(got >= card.Epsilon() && got < 1.05) {
		t.Errorf("ε spent after one release of ε %v = %v, want at least that and below the cap", card.Epsilon(), got)
	}
	if got := gatherValue(t, reg, "discret_privacy_epsilon_cap", nil); got != 1.05 {
		t.Errorf("ε cap = %v, want 1.05", got)
	}
	if got := gatherValue(t, reg, "discret_privacy_releases", map[string]string{"private": "true"}); got != 1 {
		t.Errorf("private releases in the window = %v, want 1", got)
	}
	// A year and a day later the release has left the window.
	f.clock.Advance(366 * 24 * time.Hour)
	if got := gatherValue(t, reg, "discret_privacy_epsilon_spent", nil); got != 0 {
		t.Errorf("ε spent once the release left the window = %v, want 0", got)
	}
	// A ledger that cannot be read is an error of the scrape (which
	// /metrics logs), not a silent gap.
	if err := f.db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Gather(); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Gather with the ledger unreadable = %v, want the store's error", err)
	}
}

// gatherValue returns the value of the counter or gauge series name{labels}
// of reg; it fails the test if there is none.
func gatherValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	m := gatherMetric(t, reg, name, labels)
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return m.GetGauge().GetValue()
}

// gatherCount returns the sample count of the histogram name of reg.
func gatherCount(t *testing.T, reg *prometheus.Registry, name string) uint64 {
	t.Helper()
	return gatherMetric(t, reg, name, nil).GetHistogram().GetSampleCount()
}

func gatherMetric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue next
				}
			}
			return m
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return nil
}

// blockingEvents is a TrainStore whose Events waits for release (or the
// context) before reading, after signalling started.
type blockingEvents struct {
	TrainStore
	started chan struct{}
	release chan struct{}
}

func (b *blockingEvents) Events(ctx context.Context) iter.Seq2[features.Event, error] {
	select {
	case b.started <- struct{}{}:
	default:
	}
	select {
	case <-b.release:
	case <-ctx.Done():
		return func(yield func(features.Event, error) bool) { yield(features.Event{}, ctx.Err()) }
	}
	return b.TrainStore.Events(ctx)
}

// TestTrainerEveryStop: once stop is closed no run starts, and the run in
// progress goes on until it ends (served) or ctx is cancelled (a
// cancelled run).
func TestTrainerEveryStop(t *testing.T) {
	for _, cancelRun := range []bool{false, true} {
		t.Run(fmt.Sprintf("cancel=%v", cancelRun), func(t *testing.T) {
			f, tr := trainingFixture(t, false)
			b := &blockingEvents{TrainStore: f.db, started: make(chan struct{}, 1), release: make(chan struct{})}
			tr.cfg.Store = b
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				tr.Every(ctx, time.Millisecond, stop)
				close(done)
			}()
			<-b.started
			close(stop)
			select {
			case <-done:
				t.Fatal("Every returned when stop closed, with its run in progress")
			case <-time.After(20 * time.Millisecond):
			}
			if !tr.Running() {
				t.Error("Running() = false during the run")
			}
			if cancelRun {
				cancel()
			} else {
				close(b.release)
			}
			<-done
			reg := prometheus.NewPedanticRegistry()
			reg.MustRegister(tr)
			outcome := "current"
			if cancelRun {
				outcome = "cancelled"
			}
			for _, o := range runOutcomes {
				want := 0.0
				if o == outcome {
					want = 1
				}
				if got := gatherValue(t, reg, "discret_training_runs_total", map[string]string{"trigger": "schedule", "outcome": o}); got != want {
					t.Errorf("scheduled runs %s = %v, want %v (the one run in progress at stop)", o, got, want)
				}
			}
			if f.eng.Ready() == cancelRun {
				t.Errorf("release served = %v after a run that was cancelled = %v", f.eng.Ready(), cancelRun)
			}
			if tr.Running() {
				t.Error("Running() = true after Every returned")
			}
		})
	}
}

// gatedStore holds a training run in its catalogue read until gate is
// closed or the run's context is done; entered is closed when it starts
// waiting.
type gatedStore struct {
	TrainStore
	entered, gate chan struct{}
}

func (g gatedStore) Items(ctx context.Context) ([]features.Item, error) {
	close(g.entered)
	select {
	case <-g.gate:
		return g.TrainStore.Items(ctx)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestTrainOutlivesRequest: a training request whose client goes away
// returns at once, saying that the run goes on, and the run makes its
// release current; Close waits for a run in progress until its context is
// done, then cancels it.
func TestTrainOutlivesRequest(t *testing.T) {
	f, tr := trainingFixture(t, false)
	g := gatedStore{TrainStore: f.db, entered: make(chan struct{}), gate: make(chan struct{})}
	tr.cfg.Store = g
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := tr.Train(ctx, train.Config{Epsilon: 1})
		errc <- err
	}()
	<-g.entered
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "the training run goes on") {
		t.Fatalf("Train whose request was cancelled = %v, want context.Canceled saying the run goes on", err)
	}
	close(g.gate)
	tr.runs.Wait()
	if c, err := f.eng.Current(t.Context()); err != nil || c.Version == "" {
		t.Fatalf("after the run: current = %+v, %v; want the run's release served", c, err)
	}

	g = gatedStore{TrainStore: f.db, entered: make(chan struct{}), gate: make(chan struct{})}
	tr.cfg.Store = g
	tr.cfg.Base.Cap = budget.Cap{Epsilon: 10}
	go func() {
		_, err := tr.Train(t.Context(), train.Config{Epsilon: 1})
		errc <- err
	}()
	<-g.entered
	// Close waits for the run until its context is done, then cancels it.
	grace, endGrace := context.WithCancel(t.Context())
	closed := make(chan struct{})
	go func() {
		tr.Close(grace)
		close(closed)
	}()
	select {
	case err := <-errc:
		t.Fatalf("Train ended (%v) before Close's grace did", err)
	case <-closed:
		t.Fatal("Close returned before its grace ended, with a run going")
	case <-time.After(50 * time.Millisecond):
	}
	endGrace()
	<-closed
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Train during Close = %v, want context.Canceled", err)
	}
	if tr.Running() {
		t.Error("a run is still going after Close")
	}
	if _, err := tr.Train(t.Context(), train.Config{Epsilon: 1}); !errors.Is(err, ErrClosed) {
		t.Errorf("Train after Close = %v, want ErrClosed", err)
	}
}
