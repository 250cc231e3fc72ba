package serve

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/model/release"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
)

// latencyBuckets span 50 µs to 10 s: the hot path is sub-millisecond,
// training takes seconds.
var latencyBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// metrics are the server's Prometheus metrics. Label values are bounded:
// gRPC methods are the registered ones (unknown methods are refused before
// the interceptor), routes are the API's path patterns, the endpoints
// outside the API with GET or HEAD, or "unmatched" (any other method), and
// outcomes are the fixed lists below. No label holds a customer, item or
// key.
type metrics struct {
	rpc  *prometheus.HistogramVec
	http *prometheus.HistogramVec
	// The series of discret_events_total (the events of WriteEvents, by
	// outcome), discret_recommendations_total (Recommend answers, by
	// result) and discret_store_entries_total (EnterStore answers, by
	// result), made at the start (so that rates are defined from 0) and
	// kept, not looked up on each call.
	byOutcome [len(eventOutcomes)]prometheus.Counter
	byReason  map[discretv1.NonPersonalizedReason]prometheus.Counter
	byResult  map[string]prometheus.Counter
}

// Outcomes of discret_events_total, results of
// discret_recommendations_total and discret_store_entries_total.
var (
	eventOutcomes        = [...]string{"stored", "duplicate", "no_consent", "expired", "invalid"}
	recommendationResult = map[discretv1.NonPersonalizedReason]string{
		discretv1.NonPersonalizedReason_NON_PERSONALIZED_REASON_UNSPECIFIED: "personalized",
		discretv1.NonPersonalizedReason_NON_PERSONALIZED_REASON_NO_CONSENT:  "no_consent",
		discretv1.NonPersonalizedReason_NON_PERSONALIZED_REASON_NO_HISTORY:  "no_history",
		discretv1.NonPersonalizedReason_NON_PERSONALIZED_REASON_NO_MODEL:    "no_model",
	}
	entryResults = []string{"offered", "repeated", "capped", "no_coupons", "not_recorded"}
)

// newMetrics makes the server's metrics and registers them, with
// cfg.Collectors, on cfg.Registry.
func newMetrics(cfg Config) (*metrics, error) {
	m := &metrics{
		rpc: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "discret_rpc_duration_seconds",
			Help:    "Latency of API calls, gRPC and REST alike, by gRPC method and status code.",
			Buckets: latencyBuckets,
		}, []string{"method", "code"}),
		http: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "discret_http_request_duration_seconds",
			Help:    "Latency of HTTP requests, by route pattern and HTTP status.",
			Buckets: latencyBuckets,
		}, []string{"route", "status"}),
	}
	events := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "discret_events_total",
		Help: "Events received by WriteEvents, by outcome: stored (new or already held), duplicate (repeated within its request), no_consent, expired (past retention), invalid (refused; with allow_partial unset, the rest of such a request is not stored either and is not counted).",
	}, []string{"outcome"})
	recommendations := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "discret_recommendations_total",
		Help: "Recommend answers, by result: personalized, or why not (no_consent, no_history, no_model).",
	}, []string{"result"})
	entries := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "discret_store_entries_total",
		Help: "EnterStore answers, by result: offered (new coupons), repeated (a capped entry offered the last coupons again), capped (no coupon), no_coupons (none to offer), not_recorded (no consent: generic offers, visit not recorded).",
	}, []string{"result"})
	// Every series exists from the start, at 0, so that rates are defined.
	for i, o := range eventOutcomes {
		m.byOutcome[i] = events.WithLabelValues(o)
	}
	m.byReason = make(map[discretv1.NonPersonalizedReason]prometheus.Counter, len(recommendationResult))
	for reason, r := range recommendationResult {
		m.byReason[reason] = recommendations.WithLabelValues(r)
	}
	m.byResult = make(map[string]prometheus.Counter, len(entryResults))
	for _, r := range entryResults {
		m.byResult[r] = entries.WithLabelValues(r)
	}
	cs := []prometheus.Collector{m.rpc, m.http, events, recommendations, entries}
	for _, c := range append(cs, cfg.Collectors...) {
		if err := cfg.Registry.Register(c); err != nil {
			return nil, fmt.Errorf("serve: register metrics: %w", err)
		}
	}
	return m, nil
}

// observe counts the outcome of a successful call from its response.
func (m *metrics) observe(resp any) {
	switch r := resp.(type) {
	case *discretv1.WriteEventsResponse:
		// In the order of eventOutcomes.
		for i, n := range [...]int32{r.GetStored(), r.GetDuplicates(), r.GetNoConsent(), r.GetExpired(), int32(len(r.GetErrors()))} {
			if n > 0 {
				m.byOutcome[i].Add(float64(n))
			}
		}
	case *discretv1.RecommendResponse:
		if c, ok := m.byReason[r.GetReason()]; ok {
			c.Inc()
		}
	case *discretv1.EnterStoreResponse:
		res := "offered"
		switch {
		case !r.GetVisitRecorded():
			res = "not_recorded"
		case r.GetRepeated():
			res = "repeated"
		case r.GetCapped():
			res = "capped"
		case len(r.GetCoupons()) == 0:
			res = "no_coupons"
		}
		m.byResult[res].Inc()
	}
}

// ModelSource gives the card of the release a server answers with.
type ModelSource interface {
	Current(context.Context) (release.Card, error)
}

// ModelMetrics returns the series of the release that model serves
// (discret_model_*), read at each scrape; for Config.Collectors.
func ModelMetrics(model ModelSource) prometheus.Collector { return modelCollector{model} }

// modelCollector exports the release served, read at each scrape.
type modelCollector struct{ model ModelSource }

var (
	modelInfoDesc = prometheus.NewDesc("discret_model_info",
		"The model release served (1), by version and whether it is differentially private; absent while no model is loaded.",
		[]string{"version", "private"}, nil)
	modelCreatedDesc = prometheus.NewDesc("discret_model_created_timestamp_seconds",
		"When the release served was created (Unix seconds); alert on its age to catch a retraining that stopped.", nil, nil)
	modelEpsilonDesc = prometheus.NewDesc("discret_model_epsilon",
		"The ε of the release served (its differential privacy budget); absent for a non-private release.", nil, nil)
	modelDeltaDesc = prometheus.NewDesc("discret_model_delta",
		"The δ of the release served, at which its ε holds; absent for a non-private release.", nil, nil)
)

func (c modelCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- modelInfoDesc
	ch <- modelCreatedDesc
	ch <- modelEpsilonDesc
	ch <- modelDeltaDesc
}

func (c modelCollector) Collect(ch chan<- prometheus.Metric) {
	card, err := c.model.Current(context.Background())
	if err != nil {
		return // no model is loaded
	}
	ch <- prometheus.MustNewConstMetric(modelInfoDesc, prometheus.GaugeValue, 1, card.Version, strconv.FormatBool(card.Private))
	ch <- prometheus.MustNewConstMetric(modelCreatedDesc, prometheus.GaugeValue, float64(card.Created.UnixNano())/1e9)
	if card.Private && card.Privacy != nil {
		ch <- prometheus.MustNewConstMetric(modelEpsilonDesc, prometheus.GaugeValue, card.Privacy.Epsilon)
		ch <- prometheus.MustNewConstMetric(modelDeltaDesc, prometheus.GaugeValue, card.Privacy.Delta)
	}
}

// StoreSource gives the data store's disk usage and last compaction.
// *store.DB implements it.
type StoreSource interface {
	Usage() (store.Usage, error)
	LastCompaction(context.Context) (time.Time, error)
}

// StoreMetrics returns the series of the store's disk usage and last
// compaction (discret_store_*), measured at each scrape; for
// Config.Collectors.
func StoreMetrics(store StoreSource) prometheus.Collector { return storeCollector{store} }

// storeCollector exports the store's disk usage, measured at each scrape.
type storeCollector struct{ store StoreSource }

var (
	storeDiskDesc = prometheus.NewDesc("discret_store_disk_bytes",
		"Disk space the data directory's files occupy (allocated blocks).", nil, nil)
	storeFreeDesc = prometheus.NewDesc("discret_store_free_bytes",
		"Space available on the data directory's file system; absent where unknown. Below discret_store_min_free_bytes, writes are refused (503): alert well before.", nil, nil)
	storeMinFreeDesc = prometheus.NewDesc("discret_store_min_free_bytes",
		"The free space the store needs to accept writes.", nil, nil)
	storeCompactedDesc = prometheus.NewDesc("discret_store_last_compaction_timestamp_seconds",
		"When the store was last compacted (Unix seconds; discret compact or serve --compact-interval), which takes erased and expired data off the disk; absent if never.", nil, nil)
)

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- storeDiskDesc
	ch <- storeFreeDesc
	ch <- storeMinFreeDesc
	ch <- storeCompactedDesc
}

// Collect exports what it can measure: a series it cannot is reported as
// an error (logged by /metrics, which serves the others), and an
// in-memory store has no disk series.
func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	switch u, err := c.store.Usage(); {
	case err != nil:
		ch <- prometheus.NewInvalidMetric(storeDiskDesc, err)
	case u.Needed > 0:
		ch <- prometheus.MustNewConstMetric(storeDiskDesc, prometheus.GaugeValue, float64(u.Disk))
		ch <- prometheus.MustNewConstMetric(storeMinFreeDesc, prometheus.GaugeValue, float64(u.Needed))
		if u.Free >= 0 {
			ch <- prometheus.MustNewConstMetric(storeFreeDesc, prometheus.GaugeValue, float64(u.Free))
		}
	}
	switch t, err := c.store.LastCompaction(context.Background()); {
	case err != nil:
		ch <- prometheus.NewInvalidMetric(storeCompactedDesc, err)
	case !t.IsZero():
		ch <- prometheus.MustNewConstMetric(storeCompactedDesc, prometheus.GaugeValue, float64(t.Unix()))
	}
}

// BackupMetrics returns the series of the copies in the backup directory
// dir (discret_backup_*), listed at each scrape; for Config.Collectors.
func BackupMetrics(dir string) prometheus.Collector { return backupCollector{dir} }

// backupCollector exports the newest copy's time and the number of copies.
type backupCollector struct{ dir string }

var (
	backupLastDesc = prometheus.NewDesc("discret_backup_last_timestamp_seconds",
		"When the newest copy in --backup-dir was made (Unix seconds); absent if there is none. Alert when it is older than --backup-interval by a margin, or absent.", nil, nil)
	backupCopiesDesc = prometheus.NewDesc("discret_backup_copies",
		"The copies of the store in --backup-dir.", nil, nil)
)

func (c backupCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- backupLastDesc
	ch <- backupCopiesDesc
}

func (c backupCollector) Collect(ch chan<- prometheus.Metric) {
	copies, err := store.BackupCopies(c.dir)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(backupCopiesDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(backupCopiesDesc, prometheus.GaugeValue, float64(len(copies)))
	if n := len(copies); n > 0 {
		ch <- prometheus.MustNewConstMetric(backupLastDesc, prometheus.GaugeValue, float64(copies[n-1].Time.Unix()))
	}
}
