package recommend

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"gonum.org/v1/gonum/blas/blas32"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/model/als"
	"github.com/discret-io/discret/model/release"
)

// Errors about releases.
var (
	// ErrRefused: the release may not be served (non-private without
	// Config.AllowNonPrivate, or test-seeded randomness).
	ErrRefused = errors.New("recommend: release refused")
)

// snapshot is everything a request needs from one release. It is immutable
// except for the catalogue view (rows), whose entries are swapped
// atomically.
type snapshot struct {
	gen    uint64
	rel    *release.Release
	folder *als.Folder
	mat    blas32.General
	// norms[j] is ‖v_j‖ for trained items, 0 for the others. An item
	// scores (hasVector) when its norm is positive: a trained item whose
	// vector is zero is served like an untrained one (release.HasVector).
	norms []float32
	// catalogue[j] is the catalogue entry of item j; nil if the catalogue
	// does not know it.
	catalogue []atomic.Pointer[itemInfo]
	// byPopularity lists the items with a positive DP popularity, most
	// popular first (ties by row).
	byPopularity []int32
	// stores maps a store to its list in rel.StorePopular.
	stores map[string]int

	scratch sync.Pool // *scratch
	folds   sync.Pool // *als.Scratch
}

// scratch is the working memory of one request.
type scratch struct {
	scores []float32 // one per item
	heap   []cand    // at most MaxLimit
	excl   []int32   // excluded rows, sorted
}

func (s *snapshot) getScratch() *scratch   { return s.scratch.Get().(*scratch) }
func (s *snapshot) putScratch(sc *scratch) { s.scratch.Put(sc) }

// accept checks the serving policy for a release's card.
func (e *Engine) accept(c *release.Card) error {
	switch {
	case c.RNG != release.RNGCrypto:
		return fmt.Errorf("%w: release %s was made with %s randomness; only releases made with cryptographic randomness (rng %q) are served", ErrRefused, c.Version, c.RNG, release.RNGCrypto)
	case !c.Private && !e.cfg.AllowNonPrivate:
		return fmt.Errorf("%w: release %s is not differentially private (ε = ∞); start the server with --allow-non-private to serve it", ErrRefused, c.Version)
	}
	return nil
}

// Swap makes r the served release, atomically: requests in flight finish
// on the release they started with. It fails with ErrRefused if the
// serving policy refuses r, and keeps the release served until then.
func (e *Engine) Swap(r *release.Release) error {
	if err := e.accept(&r.Card); err != nil {
		return err
	}
	if err := r.Validate(); err != nil {
		return fmt.Errorf("recommend: %w", err)
	}
	e.loadMu.Lock()
	defer e.loadMu.Unlock()
	s := e.build(r)
	// Under catMu, so that a catalogue update either sees the new snapshot
	// or is in the map the new snapshot was built from.
	e.catMu.Lock()
	active := s.fillCatalogue(e.items)
	old := e.snap.Swap(s)
	e.catMu.Unlock()
	if old == nil || old.rel.Card.Version != r.Card.Version {
		e.log.Info("serving release", "version", r.Card.Version, "items", len(r.Items), "trained", r.Card.Trained, "with_vectors", s.withVectors(), "factors", r.Factors(), epsilonAttr(r.Card.Epsilon()))
		e.checkServable(s, active)
	}
	return nil
}

// build prepares a snapshot of r (costs Items·d² for the folder).
func (e *Engine) build(r *release.Release) *snapshot {
	n, d := len(r.Items), r.Factors()
	s := &snapshot{
		gen:       e.gen.Add(1),
		rel:       r,
		folder:    als.NewFolder(r.Model()),
		mat:       r.Matrix(),
		norms:     make([]float32, n),
		catalogue: make([]atomic.Pointer[itemInfo], n),
		stores:    make(map[string]int, len(r.Stores)),
	}
	for j := range n {
		if r.Trained[j] {
			v := r.Vectors[j*d : j*d+d]
			s.norms[j] = blas32.Nrm2(blas32.Vector{N: d, Inc: 1, Data: v})
		}
		if r.Popular[j] > 0 {
			s.byPopularity = append(s.byPopularity, int32(j))
		}
	}
	slices.SortStableFunc(s.byPopularity, func(a, b int32) int { return cmp.Compare(r.Popular[b], r.Popular[a]) })
	for i, st := range r.Stores {
		s.stores[st] = i
	}
	s.scratch.New = func() any {
		return &scratch{scores: make([]float32, n), heap: make([]cand, 0, MaxLimit), excl: make([]int32, 0, 16)}
	}
	s.folds.New = func() any { return s.folder.NewScratch() }
	return s
}

// Refresh loads the current release from Config.Releases if it is not the
// one served. It reports whether it swapped. With no current release it
// does nothing (store.ErrNoCurrentRelease is not an error).
func (e *Engine) Refresh(ctx context.Context) (bool, error) {
	if e.cfg.Releases == nil {
		return false, errors.New("recommend: Refresh without Config.Releases")
	}
	v, err := e.cfg.Releases.CurrentRelease(ctx)
	switch {
	case errors.Is(err, store.ErrNoCurrentRelease):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("recommend: current release: %w", err)
	}
	if s := e.snap.Load(); s != nil && s.rel.Card.Version == v {
		return false, nil
	}
	m, err := e.cfg.Releases.Release(ctx, v)
	if err != nil {
		return false, fmt.Errorf("recommend: release %s: %w", v, err)
	}
	// Check the card before reading the vectors.
	if c, err := release.ParseCard(m.Meta); err != nil {
		return false, fmt.Errorf("recommend: release %s: %w", v, err)
	} else if err := e.accept(&c); err != nil {
		return false, err
	}
	r, err := release.Load(ctx, e.cfg.Releases, v)
	if err != nil {
		return false, fmt.Errorf("recommend: load release %s: %w", v, err)
	}
	if err := e.Swap(r); err != nil {
		return false, err
	}
	return true, nil
}

// Retired stops serving any of versions, releases that an erasure deleted
// (release.ForgetCustomer retires the non-private releases trained on the
// erased customer): the engine serves the current release instead, or no
// model if none is current or it is refused. serve/rpc calls it after
// ForgetCustomer.
func (e *Engine) Retired(ctx context.Context, versions []string) error {
	if s := e.snap.Load(); s == nil || !slices.Contains(versions, s.rel.Card.Version) {
		return nil
	}
	var err error
	if e.cfg.Releases != nil {
		_, err = e.Refresh(ctx)
	}
	e.loadMu.Lock()
	defer e.loadMu.Unlock()
	if s := e.snap.Load(); s != nil && slices.Contains(versions, s.rel.Card.Version) {
		e.catMu.Lock()
		e.snap.Store(nil)
		e.catMu.Unlock()
		e.log.Warn("stopped serving release: an erasure deleted it, and no other release is current", "version", s.rel.Card.Version)
	}
	return err
}

// Watch calls Refresh every interval until ctx is done, logging what goes
// wrong once, not at every tick. A refused current release (ErrRefused) is
// a state for the operator to act on, not a fault: it is logged at WARN
// once per release and reason, whatever failures come between. Any other
// failure is logged at ERROR, again only when it differs from the previous
// one. A refresh that succeeds ends both states.
func (e *Engine) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var w watchLog
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_, err := e.Refresh(ctx)
		if ctx.Err() != nil {
			return
		}
		w.note(e, err)
	}
}

// watchLog is what Watch last logged.
type watchLog struct {
	// refused is the refusal logged; its message names the release and the
	// reason, so a new release or reason differs.
	refused string
	// failed is the last other failure, "" once a refresh got further.
	failed string
}

// note logs the outcome err of a refresh if it is news.
func (w *watchLog) note(e *Engine, err error) {
	switch {
	case err == nil:
		*w = watchLog{}
	case errors.Is(err, ErrRefused):
		w.failed = ""
		if msg := err.Error(); msg != w.refused {
			w.refused = msg
			if s := e.snap.Load(); s != nil {
				e.log.Warn("current release refused; the previous release stays served until a servable one is trained (POST /v1/models:train)",
					"err", err, "serving", s.rel.Card.Version)
			} else {
				e.log.Warn("current release refused; no model is served until a servable one is trained (POST /v1/models:train)", "err", err)
			}
		}
	default:
		if msg := err.Error(); msg != w.failed {
			w.failed = msg
			e.log.Error("model refresh failed", "err", err)
		}
	}
}

// Current returns the card of the release served, or ErrNoModel.
func (e *Engine) Current(context.Context) (release.Card, error) {
	s := e.snap.Load()
	if s == nil {
		return release.Card{}, ErrNoModel
	}
	return s.rel.Card, nil
}

// rows appends to dst the sorted rows of the identifiers in ids that the
// release knows.
func (s *snapshot) rows(dst []int32, ids []string) []int32 {
	for _, id := range ids {
		if j, ok := s.rel.Index(id); ok {
			dst = append(dst, int32(j))
		}
	}
	slices.Sort(dst)
	return dst
}

// item returns the response item of a candidate.
func (s *snapshot) item(c cand) Item {
	it := Item{ID: s.rel.Items[c.row], Score: float64(c.score)}
	if info := s.catalogue[c.row].Load(); info != nil {
		it.Category = info.category
	}
	return it
}

// withVectors counts the items with a non-zero vector (hasVector).
func (s *snapshot) withVectors() int {
	n := 0
	for _, x := range s.norms {
		if x > 0 {
			n++
		}
	}
	return n
}

// hasVector reports whether item row j has a non-zero vector
// (release.HasVector): only such items are scored by a customer's vector,
// shape it, or have similar items.
func (s *snapshot) hasVector(j int32) bool { return s.norms[j] > 0 }

// popular appends popular items that pass f to dst until it holds limit:
// from the store's DP list when the release has one for store, else from
// the overall list; only those without a vector (hasVector) if untrained is
// set.
func (s *snapshot) popular(f *filter, st string, limit int, untrained bool, dst []Item) []Item {
	skip := func(j int32) bool { return untrained && s.hasVector(j) || !f.ok(j) }
	if i, ok := s.stores[st]; ok && st != "" {
		for _, e := range s.rel.StorePopular[i] {
			if len(dst) >= limit {
				break
			}
			if e.Score > 0 && !skip(e.Item) {
				dst = append(dst, s.item(cand{row: e.Item, score: e.Score}))
			}
		}
		return dst
	}
	for _, j := range s.byPopularity {
		if len(dst) >= limit {
			break
		}
		if !skip(j) {
			dst = append(dst, s.item(cand{row: j, score: s.rel.Popular[j]}))
		}
	}
	return dst
}

// cosine returns the cosine similarity of items i and j (0 if either is
// untrained).
func (s *snapshot) cosine(i, j int32) float32 {
	ni, nj := s.norms[i], s.norms[j]
	if ni == 0 || nj == 0 {
		return 0
	}
	d := s.mat.Cols
	vi := blas32.Vector{N: d, Inc: 1, Data: s.mat.Data[int(i)*d : int(i)*d+d]}
	vj := blas32.Vector{N: d, Inc: 1, Data: s.mat.Data[int(j)*d : int(j)*d+d]}
	c := blas32.Dot(vi, vj) / (ni * nj)
	if math.IsNaN(float64(c)) {
		return 0
	}
	return c
}

// minExplainSimilarity is the least cosine similarity between an item and
// the history item that explains it: below, nothing the customer did
// resembles the item enough to say "because".
const minExplainSimilarity = 0.2

// explain returns the history item most similar to item row (by cosine
// similarity of their vectors), or nil if none is similar enough. It never
// cites row itself, nor an item of exclude (sorted rows): the request's
// items never to return are not returned as because_item either.
func (s *snapshot) explain(row int32, hist []reason, exclude []int32) *reason {
	var best *reason
	bestSim := float32(minExplainSimilarity)
	for i := range hist {
		h := &hist[i]
		if _, excluded := slices.BinarySearch(exclude, h.row); h.row == row || excluded {
			continue
		}
		if sim := s.cosine(row, h.row); sim > bestSim || best == nil && sim == bestSim {
			best, bestSim = h, sim
		}
	}
	return best
}

// epsilonAttr logs ε to 6 significant digits: the accountant's calibrated
// 0.9999999999997 reads 1, and a non-private release +Inf.
func epsilonAttr(eps float64) slog.Attr {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(eps, 'g', 6, 64), 64) // cannot fail: FormatFloat's own output
	return slog.Float64("epsilon", r)
}
