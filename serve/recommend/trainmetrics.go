package recommend

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/discret-io/discret/model/budget"
	"github.com/discret-io/discret/model/train"
)

// Triggers of a training run, the trigger label of
// discret_training_runs_total.
const (
	triggerRequest  = "request"  // Train: POST /v1/models:train
	triggerSchedule = "schedule" // Every: serve --train-interval
)

// Outcomes of a training run, the outcome label of
// discret_training_runs_total (runOutcome).
var runOutcomes = []string{"current", "not_current", "budget_exceeded", "cap_loosened", "no_data", "cancelled", "busy", "failed"}

// trainerMetrics are a Trainer's Prometheus series (Trainer.Collect).
type trainerMetrics struct {
	runs     *prometheus.CounterVec
	duration prometheus.Histogram
	running  prometheus.GaugeFunc
}

// newTrainerMetrics makes the series; running reports a run in progress.
func newTrainerMetrics(running func() bool) trainerMetrics {
	m := trainerMetrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "discret_training_runs_total",
			Help: "Training runs of the server, by trigger (request: POST /v1/models:train; schedule: --train-interval) and outcome: current (served), not_current (stored and charged, not served), budget_exceeded (refused by the privacy cap), cap_loosened (refused: the cap in force is looser than the one recorded with the latest release; serve --accept-cap-change), no_data, cancelled, busy (another run in progress), failed.",
		}, []string{"trigger", "outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "discret_training_duration_seconds",
			Help:    "Wall time of the training runs that trained a release (outcome current or not_current).",
			Buckets: prometheus.ExponentialBuckets(0.25, 2, 14), // 0.25 s to 34 min
		}),
		running: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "discret_training_in_progress",
			Help: "1 while a training run is in progress, else 0.",
		}, func() float64 {
			if running() {
				return 1
			}
			return 0
		}),
	}
	// Every series exists from the start, at 0, so that rates are defined.
	for _, tr := range []string{triggerRequest, triggerSchedule} {
		for _, o := range runOutcomes {
			m.runs.WithLabelValues(tr, o)
		}
	}
	return m
}

// runOutcome classifies the result of a run (Trainer.train's error).
func runOutcome(err error) string {
	var exceeded *budget.ExceededError
	var notCurrent *NotCurrentError
	var loosened *train.CapLoosenedError
	switch {
	case err == nil:
		return "current"
	case errors.As(err, &notCurrent):
		return "not_current"
	case errors.As(err, &exceeded):
		return "budget_exceeded"
	case errors.As(err, &loosened):
		return "cap_loosened"
	case errors.Is(err, train.ErrNoData):
		return "no_data"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "cancelled"
	case errors.Is(err, ErrTraining):
		return "busy"
	}
	return "failed"
}

// The privacy budget's series, read from the ledger at each scrape.
var (
	budgetSpentDesc = prometheus.NewDesc("discret_privacy_epsilon_spent",
		"Cumulative ε of the private releases charged in the budget cap's rolling window ending now (their summed zCDP ρ converted at discret_privacy_delta), as 'discret privacy report' states it; +Inf if that δ leaves nothing to convert at.",
		nil, nil)
	budgetDeltaDesc = prometheus.NewDesc("discret_privacy_delta",
		"The δ at which discret_privacy_epsilon_spent holds: the smallest of the cap's δ and the releases' own.",
		nil, nil)
	budgetCapDesc = prometheus.NewDesc("discret_privacy_epsilon_cap",
		"The cap on discret_privacy_epsilon_spent (+Inf: no cap); a training run that would exceed it is refused. Alert before the two meet.",
		nil, nil)
	budgetReleasesDesc = prometheus.NewDesc("discret_privacy_releases",
		"Releases charged in the budget cap's rolling window, by whether they are differentially private (non-private ones have no finite cost).",
		[]string{"private"}, nil)
)

// Describe implements prometheus.Collector: the series of training runs
// and of the privacy budget.
func (t *Trainer) Describe(ch chan<- *prometheus.Desc) {
	t.metrics.runs.Describe(ch)
	t.metrics.duration.Describe(ch)
	t.metrics.running.Describe(ch)
	ch <- budgetSpentDesc
	ch <- budgetDeltaDesc
	ch <- budgetCapDesc
	ch <- budgetReleasesDesc
}

// Collect implements prometheus.Collector. The budget series are read
// from the ledger at each scrape; they are absent if it cannot be read.
func (t *Trainer) Collect(ch chan<- prometheus.Metric) {
	t.metrics.runs.Collect(ch)
	t.metrics.duration.Collect(ch)
	t.metrics.running.Collect(ch)
	spend, err := t.spend(context.Background())
	if err != nil {
		ch <- prometheus.NewInvalidMetric(budgetSpentDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(budgetSpentDesc, prometheus.GaugeValue, spend.Epsilon)
	ch <- prometheus.MustNewConstMetric(budgetDeltaDesc, prometheus.GaugeValue, spend.Delta)
	ch <- prometheus.MustNewConstMetric(budgetCapDesc, prometheus.GaugeValue, spend.Cap.Epsilon)
	ch <- prometheus.MustNewConstMetric(budgetReleasesDesc, prometheus.GaugeValue, float64(spend.Releases), "true")
	ch <- prometheus.MustNewConstMetric(budgetReleasesDesc, prometheus.GaugeValue, float64(spend.NonPrivate), "false")
}

// spend is the budget spent now in the window of the cap in force.
func (t *Trainer) spend(ctx context.Context) (budget.Spend, error) {
	entries, err := budget.Read(ctx, t.cfg.Store)
	if err != nil {
		return budget.Spend{}, err
	}
	return t.cfg.Base.Cap.Spent(entries, t.cfg.Base.Now())
}
