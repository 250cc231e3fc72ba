package recommend

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
	"github.com/discret-io/discret/privacy/pseudonym"
	"github.com/discret-io/discret/privacy/retention"
	"github.com/discret-io/discret/serve/apierr"
)

// Customers is what the engine reads about a customer. *store.DB
// implements it.
type Customers interface {
	Consent(ctx context.Context, p privacy.PseudoID) (consent.Record, error)
	// CustomerEvents returns the customer's unexpired events, oldest
	// first.
	CustomerEvents(ctx context.Context, p privacy.PseudoID) ([]features.Event, error)
}

var _ Customers = (*store.DB)(nil)

// CatalogueStore keeps the catalogue items. *store.DB implements it.
type CatalogueStore interface {
	Items(ctx context.Context) ([]features.Item, error)
	PutItems(ctx context.Context, items []features.Item) error
}

var _ CatalogueStore = (*store.DB)(nil)

// Defaults of Config.
const (
	DefaultCacheEntries = 50_000
	DefaultCacheMaxAge  = 10 * time.Minute
)

// Config configures an Engine. The zero value of each optional field means
// its documented default.
type Config struct {
	// Pseudonyms turns raw customer ids into pseudonyms. Required.
	Pseudonyms *pseudonym.Keyed
	// Customers serves consent records and histories. Required.
	Customers Customers
	// Catalogue keeps the catalogue; nil means an engine without one
	// (UpsertItem fails, LoadCatalogue does nothing).
	Catalogue CatalogueStore
	// Releases is where Refresh finds the current release; nil means
	// releases come only through Swap.
	Releases release.Source
	// ConsentDefaults is the decision for customers who never expressed a
	// choice; it must be the one ingestion applies.
	ConsentDefaults consent.Defaults
	// Retention is the retention policy events were stored under; a
	// profile is never used past the expiry of the events it was built
	// from. The zero value means the defaults.
	Retention retention.Policy
	// AllowNonPrivate lets the engine serve releases trained without
	// differential privacy (ε = ∞). Off by default: such a release is
	// refused.
	AllowNonPrivate bool
	// AllowUncatalogued lets the engine recommend release items that are
	// not in the catalogue (benchmarks on public datasets). By default
	// only active catalogue items are recommended, unless the catalogue is
	// empty (a deployment without one): then the release's items are.
	AllowUncatalogued bool
	// CacheEntries bounds the profile cache; default DefaultCacheEntries,
	// negative disables it.
	CacheEntries int
	// CacheMaxAge bounds the age of a cached profile; default
	// DefaultCacheMaxAge.
	CacheMaxAge time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives model loads and refusals; nil discards them.
	Logger *slog.Logger
}

// Validate reports every problem with c.
func (c *Config) Validate() error {
	var errs []error
	if c.Pseudonyms == nil {
		errs = append(errs, errors.New("recommend: Config.Pseudonyms is required"))
	}
	if c.Customers == nil {
		errs = append(errs, errors.New("recommend: Config.Customers is required"))
	}
	if c.CacheMaxAge < 0 {
		errs = append(errs, fmt.Errorf("recommend: Config.CacheMaxAge must not be negative, got %v", c.CacheMaxAge))
	}
	return errors.Join(errs...)
}

// Engine answers recommendation requests from the current release. It is
// safe for concurrent use.
type Engine struct {
	cfg   Config
	log   *slog.Logger
	snap  atomic.Pointer[snapshot]
	gen   atomic.Uint64 // snapshot generations
	cache *cache

	// catMu guards items and orders catalogue updates against snapshot
	// swaps, so that an update is applied to every snapshot it may miss.
	catMu sync.RWMutex
	items map[string]*itemInfo
	// hasCatalogue: items is not empty (set under catMu).
	hasCatalogue atomic.Bool
	// putMu serializes catalogue writes (UpsertItem, LoadCatalogue), so
	// that they reach memory in the order they reached the store; it is
	// held across the store write, catMu only for the memory update.
	putMu sync.Mutex
	// loadMu serializes Refresh and Swap.
	loadMu sync.Mutex
}

// New returns an engine without a release: it answers NoModel until Swap
// or Refresh loads one.
func New(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.CacheEntries = cmp.Or(cfg.CacheEntries, DefaultCacheEntries)
	cfg.CacheMaxAge = cmp.Or(cfg.CacheMaxAge, DefaultCacheMaxAge)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{cfg: cfg, log: cfg.Logger, cache: newCache(max(cfg.CacheEntries, 0)), items: map[string]*itemInfo{}}, nil
}

// Ready reports whether a release is loaded.
func (e *Engine) Ready() bool { return e.snap.Load() != nil }

// Invalidate drops what is cached about customer p; a profile being built
// from data read before the call is not cached. serve/rpc calls it after
// every change to a customer.
func (e *Engine) Invalidate(p privacy.PseudoID) { e.cache.invalidate(p) }

// checkLimit resolves a requested number of items.
func checkLimit(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultLimit, nil
	case n < 0 || n > MaxLimit:
		return 0, fmt.Errorf("recommend: limit %d out of range 1-%d", n, MaxLimit)
	}
	return n, nil
}

// Recommend answers r: personalized items when the customer consents to
// personalization and has usable history, the DP popular list otherwise.
func (e *Engine) Recommend(ctx context.Context, r Request) (Response, error) {
	limit, err := checkLimit(r.Limit)
	if err != nil {
		return Response{}, err
	}
	s := e.snap.Load()
	if s == nil {
		return Response{Reason: NoModel}, nil
	}
	pr, err := e.profile(ctx, s, e.cfg.Pseudonyms.Pseudonymize(r.Customer))
	if err != nil {
		return Response{}, err
	}
	sc := s.getScratch()
	defer s.putScratch(sc)
	f := filter{s: s, uncatalogued: e.uncatalogued(), store: r.Store, category: r.Category, exclude: s.rows(sc.excl[:0], r.Exclude)}
	sc.excl = f.exclude
	if r.ExcludePurchased {
		f.purchased = pr.purchased
	}
	resp := Response{ModelVersion: s.rel.Card.Version}
	switch {
	case !pr.personalize:
		resp.Reason = NoConsent
	case pr.vec == nil:
		resp.Reason = NoHistory
	}
	if resp.Reason != Personalized {
		resp.Items = s.popular(&f, r.Store, limit, false, nil)
		return resp, nil
	}
	scores := sc.scores
	score(s.mat, pr.vec, scores)
	top := topK(sc.heap[:0], scores, limit, &f)
	sc.heap = top
	// Items outside the trained universe have no vector: their score is
	// u·0 = 0, and among them the DP popular ones come first (DP-ALS.md
	// B5: untrained items are served by popularity).
	resp.Items = make([]Item, 0, limit)
	i := 0
	for ; i < len(top) && top[i].score > 0; i++ {
		resp.Items = append(resp.Items, s.explained(top[i], pr, f.exclude))
	}
	if len(resp.Items) < limit {
		n := len(resp.Items)
		resp.Items = s.popular(&f, r.Store, limit, true, resp.Items)
		for k := n; k < len(resp.Items); k++ {
			resp.Items[k].Score, resp.Items[k].Explanation = 0, popularText
		}
	}
	for ; i < len(top) && len(resp.Items) < limit; i++ {
		resp.Items = append(resp.Items, s.explained(top[i], pr, f.exclude))
	}
	return resp, nil
}

// popularText explains an item of a personalized list chosen by
// popularity.
const popularText = "popular right now"

// explained returns the response item of a personalized candidate, with
// its explanation, which cites none of the rows in exclude (sorted).
func (s *snapshot) explained(c cand, pr *profile, exclude []int32) Item {
	it := s.item(c)
	if why := s.explain(c.row, pr.explain, exclude); why != nil {
		it.Explanation, it.Because = why.text, why.item
	}
	return it
}

// Similar returns the items whose vectors are closest to r.Item's (cosine
// similarity), among the recommendable ones. It reads no customer data.
func (e *Engine) Similar(ctx context.Context, r SimilarRequest) (List, error) {
	limit, err := checkLimit(r.Limit)
	if err != nil {
		return List{}, err
	}
	s := e.snap.Load()
	if s == nil {
		return List{}, ErrNoModel
	}
	row, ok := s.rel.Index(r.Item)
	if !ok {
		return List{}, fmt.Errorf("%w: item %s is not in release %s", ErrUnknownItem, apierr.Quote("an item id", r.Item), s.rel.Card.Version)
	}
	if !s.hasVector(int32(row)) {
		return List{}, fmt.Errorf("%w: item %s has no vector in release %s: a private model learns only the catalogue items with enough customers to stand out from its noise at its ε (see PopularItems)", ErrUnknownItem, apierr.Quote("an item id", r.Item), s.rel.Card.Version)
	}
	if err := ctx.Err(); err != nil {
		return List{}, err
	}
	sc := s.getScratch()
	defer s.putScratch(sc)
	d := s.mat.Cols
	v := s.mat.Data[row*d : row*d+d]
	scores := sc.scores
	score(s.mat, v, scores)
	inv := 1 / s.norms[row]
	for j, n := range s.norms {
		if n > 0 {
			scores[j] *= inv / n
		}
	}
	f := filter{s: s, uncatalogued: e.uncatalogued(), exclude: append(sc.excl[:0], int32(row))}
	sc.excl = f.exclude
	top := topK(sc.heap[:0], scores, limit, &f)
	sc.heap = top
	out := List{Items: make([]Item, len(top)), ModelVersion: s.rel.Card.Version}
	for i, c := range top {
		out.Items[i] = s.item(c)
	}
	return out, nil
}

// Popular returns the DP popular items, overall or in r.Store, among the
// recommendable ones; the score is the DP popularity.
func (e *Engine) Popular(ctx context.Context, r PopularRequest) (List, error) {
	limit, err := checkLimit(r.Limit)
	if err != nil {
		return List{}, err
	}
	s := e.snap.Load()
	if s == nil {
		return List{}, ErrNoModel
	}
	if err := ctx.Err(); err != nil {
		return List{}, err
	}
	f := filter{s: s, uncatalogued: e.uncatalogued(), store: r.Store, category: r.Category}
	return List{Items: s.popular(&f, r.Store, limit, false, nil), ModelVersion: s.rel.Card.Version}, nil
}

// parallelScoreValues is the size of item matrix (values) from which
// scoring is split across goroutines: the product is memory-bound, and two
// cores stream about twice the bandwidth of one (TOOLCHAIN.md).
const parallelScoreValues = 1 << 20

// score computes scores = V·u with blas32.Gemv, in up to GOMAXPROCS row
// blocks run concurrently for large matrices.
func score(v blas32.General, u, scores []float32) {
	uv := blas32.Vector{N: len(u), Inc: 1, Data: u}
	parts := min(runtime.GOMAXPROCS(0), v.Rows*v.Cols/parallelScoreValues, 4)
	if parts < 2 {
		blas32.Gemv(blas.NoTrans, 1, v, uv, 0, blas32.Vector{N: len(scores), Inc: 1, Data: scores})
		return
	}
	var wg sync.WaitGroup
	rows := (v.Rows + parts - 1) / parts
	for lo := 0; lo < v.Rows; lo += rows {
		hi := min(lo+rows, v.Rows)
		block := blas32.General{Rows: hi - lo, Cols: v.Cols, Stride: v.Stride, Data: v.Data[lo*v.Stride : (hi-1)*v.Stride+v.Cols]}
		out := blas32.Vector{N: hi - lo, Inc: 1, Data: scores[lo:hi]}
		if hi == v.Rows {
			blas32.Gemv(blas.NoTrans, 1, block, uv, 0, out)
			break
		}
		wg.Go(func() { blas32.Gemv(blas.NoTrans, 1, block, uv, 0, out) })
	}
	wg.Wait()
}
