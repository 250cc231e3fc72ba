package recommend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/model/train"
)

// TrainStore is what a Trainer reads and writes: training's store and the
// catalogue. *store.DB implements it.
type TrainStore interface {
	train.Store
	Items(ctx context.Context) ([]features.Item, error)
}

var _ TrainStore = (*store.DB)(nil)

// TrainerConfig configures a Trainer.
type TrainerConfig struct {
	// Store is where training reads events and writes the release.
	// Required.
	Store TrainStore
	// Engine serves the releases trained; its Config.Releases must be set
	// (the Trainer calls Engine.Refresh). Required.
	Engine *Engine
	// Base is the training configuration (consent defaults, retention,
	// budget cap, hyper-parameters, ...). A request overrides its Epsilon,
	// Delta, ALS.Factors and ALS.Iterations when they are not zero. With a
	// nil Base.Catalogue, each run takes the stored catalogue (Universe),
	// if there is one.
	Base train.Config
	// Logger receives run reports; nil discards them.
	Logger *slog.Logger
}

// Errors of Trainer.Train.
var (
	// ErrTraining: another training run is in progress.
	ErrTraining = errors.New("recommend: a training run is already in progress; retry when it has finished")
	// ErrNonPrivate: a non-private run was asked of a server that does not
	// serve non-private releases.
	ErrNonPrivate = errors.New("recommend: this server does not serve non-private models (ε = ∞); it must be started with --allow-non-private")
	// ErrClosed: the Trainer is closed (the server is stopping).
	ErrClosed = errors.New("recommend: the server is stopping; no training run starts")
)

// Trainer trains releases in the serving process (the data directory
// belongs to one process) and swaps them in: one run at a time. It is safe
// for concurrent use. It is a prometheus.Collector of its runs and of the
// privacy budget they spend (trainmetrics.go).
type Trainer struct {
	cfg TrainerConfig
	log *slog.Logger
	// mu is held by the running training run.
	mu sync.Mutex
	// running is true while a run holds mu.
	running atomic.Bool
	metrics trainerMetrics
	// life bounds the runs Train starts, which outlive their request
	// (Close ends it); runs counts them, and closed, under closeMu, stops
	// Train from adding one once Close waits.
	life    context.Context
	endLife context.CancelFunc
	runs    sync.WaitGroup
	closeMu sync.Mutex
	closed  bool
}

// Running reports whether a training run is in progress.
func (t *Trainer) Running() bool { return t.running.Load() }

// NewTrainer returns a Trainer.
func NewTrainer(cfg TrainerConfig) (*Trainer, error) {
	var errs []error
	if cfg.Store == nil {
		errs = append(errs, errors.New("recommend: TrainerConfig.Store is required"))
	}
	if cfg.Engine == nil {
		errs = append(errs, errors.New("recommend: TrainerConfig.Engine is required"))
	} else if cfg.Engine.cfg.Releases == nil {
		errs = append(errs, errors.New("recommend: TrainerConfig.Engine needs Config.Releases"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Base.Now == nil {
		cfg.Base.Now = time.Now // train.Run's default, for the budget series too
	}
	t := &Trainer{cfg: cfg, log: cfg.Logger}
	t.metrics = newTrainerMetrics(t.Running)
	t.life, t.endLife = context.WithCancel(context.Background())
	return t, nil
}

// Close waits until ctx is done for the runs that Train started to end,
// then cancels those still going (a run cancelled is charged its ε:
// model/train) and waits for them. Train fails with ErrClosed once Close
// is called.
func (t *Trainer) Close(ctx context.Context) {
	t.closeMu.Lock()
	t.closed = true
	t.closeMu.Unlock()
	done := make(chan struct{})
	go func() {
		t.runs.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	t.endLife()
	<-done
}

// Current returns the card of the release served, or ErrNoModel.
func (t *Trainer) Current(ctx context.Context) (release.Card, error) {
	return t.cfg.Engine.Current(ctx)
}

// Train runs model/train with the base configuration overridden by req's
// Epsilon, Delta, ALS.Factors and ALS.Iterations, then serves the new
// release. It fails with ErrTraining while another run is in progress, with
// ErrNonPrivate for a non-private run the engine would refuse, and with
// model/train's errors (train.ErrNoData, *budget.ExceededError when the
// privacy budget cap would be exceeded, ...); a failed run leaves the
// served release as it was.
//
// The run outlives ctx's cancellation: a client gone or out of time would
// otherwise have the ε of the run charged for no release. Train then
// returns ctx's error, saying that the run goes on; only Close stops it.
// ctx's values (the audit actor) reach the run.
func (t *Trainer) Train(ctx context.Context, req train.Config) (release.Card, error) {
	if ctx.Err() != nil {
		// Over before it started: nothing to outlive it.
		return t.train(ctx, req, triggerRequest)
	}
	t.closeMu.Lock()
	if t.closed {
		t.closeMu.Unlock()
		return release.Card{}, ErrClosed
	}
	t.runs.Add(1)
	t.closeMu.Unlock()
	run, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(t.life, cancel)
	type result struct {
		card release.Card
		err  error
	}
	done := make(chan result, 1)
	go func() {
		defer t.runs.Done()
		defer cancel()
		defer stop()
		card, err := t.train(run, req, triggerRequest)
		done <- result{card, err}
	}()
	select {
	case r := <-done:
		return r.card, r.err
	case <-ctx.Done():
		return release.Card{}, fmt.Errorf("%w: the training run goes on without this request; the server serves its release when it is done (GET /v1/models/current)", context.Cause(ctx))
	}
}

// train is Train, counting the run in the metrics under trigger.
func (t *Trainer) train(ctx context.Context, req train.Config, trigger string) (card release.Card, err error) {
	defer func() { t.metrics.runs.WithLabelValues(trigger, runOutcome(err)).Inc() }()
	if !t.mu.TryLock() {
		return release.Card{}, ErrTraining
	}
	defer t.mu.Unlock()
	t.running.Store(true)
	defer t.running.Store(false)
	cfg := t.cfg.Base
	if req.Epsilon != 0 {
		cfg.Epsilon = req.Epsilon
	}
	if req.Delta != 0 {
		cfg.Delta = req.Delta
	}
	if req.ALS.Factors != 0 {
		cfg.ALS.Factors = req.ALS.Factors
	}
	if req.ALS.Iterations != 0 {
		cfg.ALS.Iterations = req.ALS.Iterations
	}
	if math.IsInf(cfg.Epsilon, 1) && !t.cfg.Engine.cfg.AllowNonPrivate {
		return release.Card{}, ErrNonPrivate
	}
	cfg.AllowNonPrivateCurrent = t.cfg.Engine.cfg.AllowNonPrivate
	if cfg.Catalogue == nil {
		items, err := t.cfg.Store.Items(ctx)
		if err != nil {
			return release.Card{}, fmt.Errorf("recommend: training catalogue: %w", err)
		}
		if len(items) > 0 {
			var stores []string
			cfg.Catalogue, stores = Universe(items)
			if cfg.Stores == nil {
				cfg.Stores = stores
			}
		}
	}
	cfg.Progress = func(p train.Progress) {
		t.log.Debug("training", "stage", p.Stage, "iteration", p.Iteration, "iterations", p.Iterations, "elapsed", p.Elapsed, epsilonAttr(p.Epsilon))
	}
	start := time.Now()
	rep, err := train.Run(ctx, t.cfg.Store, cfg)
	if err != nil {
		t.log.Warn("training failed", "err", err, "duration", time.Since(start))
		return release.Card{}, err
	}
	t.metrics.duration.Observe(time.Since(start).Seconds())
	if !rep.Current {
		t.log.Warn("trained release not made current", "version", rep.Version, "items", rep.Items, epsilonAttr(rep.Card.Epsilon()), "reason", rep.NotCurrent)
		return rep.Card, &NotCurrentError{Version: rep.Version, Reason: rep.NotCurrent}
	}
	t.log.Info("trained release", "version", rep.Version, "items", rep.Items, epsilonAttr(rep.Card.Epsilon()), "duration", rep.Total)
	if cc := rep.CapChange; cc != nil {
		t.log.Warn("the privacy cap in force differs from the one recorded with an earlier release: is the server's --config the one that set it?",
			"cap", rep.Spend.Cap.String(), "recorded", cc.Recorded.String(), "recorded_by", cc.Version)
	}
	if _, err := t.cfg.Engine.Refresh(ctx); err != nil {
		return rep.Card, fmt.Errorf("recommend: release %s is current but could not be served: %w", rep.Version, err)
	}
	return rep.Card, nil
}

// NotCurrentError reports a release that was trained and stored, its budget
// charged, but not made current (train.Report.NotCurrent says why): the
// server goes on serving the release it served.
type NotCurrentError struct {
	Version, Reason string
}

func (e *NotCurrentError) Error() string {
	return fmt.Sprintf("recommend: release %s was stored (and charged to the privacy budget) but not made current: %s", e.Version, e.Reason)
}

// Every trains with the base configuration every interval until stop is
// closed or ctx is done, logging the outcome of each run (a run that finds
// another in progress is skipped). A run in progress when stop closes goes
// on under ctx: a server closes stop at its shutdown signal and cancels
// ctx when its shutdown timeout has passed, so that a scheduled run gets
// the same time to finish as a training request.
func (t *Trainer) Every(ctx context.Context, interval time.Duration, stop <-chan struct{}) {
	tk := time.NewTicker(interval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		case <-tk.C:
		}
		// A tick that came with stop (select picks either): stop wins.
		select {
		case <-stop:
			return
		default:
		}
		_, err := t.train(ctx, train.Config{}, triggerSchedule)
		switch {
		case err == nil, ctx.Err() != nil:
		case errors.Is(err, ErrTraining):
			t.log.Info("periodic training skipped: a run is in progress")
		default:
			t.log.Error("periodic training failed", "err", err)
		}
	}
}

// Universe returns the public item and store identifiers of a catalogue,
// as model/train's Config.Catalogue and Config.Stores take them: every
// item (inactive ones too: they may come back), and the stores any item is
// available in (nil if none, so that training selects them).
func Universe(items []features.Item) (ids, stores []string) {
	ids = make([]string, len(items))
	for i := range items {
		ids[i] = items[i].ID
		stores = append(stores, items[i].Stores...)
	}
	if len(stores) == 0 {
		return ids, nil
	}
	slices.Sort(stores)
	return ids, slices.Compact(stores)
}
