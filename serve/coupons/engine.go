package coupons

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/ingest"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
	"github.com/discret-io/discret/privacy/pseudonym"
	"github.com/discret-io/discret/serve/recommend"
)

// Customers reads consent records. *store.DB implements it.
type Customers interface {
	Consent(ctx context.Context, p privacy.PseudoID) (consent.Record, error)
}

// Visits records store visits under the consent and retention rules.
// *ingest.Ingester implements it.
type Visits interface {
	Write(ctx context.Context, events []features.RawEvent) (ingest.Counts, error)
}

// PushStore keeps the coupon pushes per customer. *store.DB implements it.
type PushStore interface {
	Pushes(ctx context.Context, p privacy.PseudoID) ([]store.Push, error)
	AddPushes(ctx context.Context, p privacy.PseudoID, pushes []store.Push, d consent.Defaults) error
}

// CouponStore keeps the coupons. *store.DB implements it.
type CouponStore interface {
	Coupons(ctx context.Context) ([]features.Coupon, error)
	PutCoupons(ctx context.Context, coupons []features.Coupon) error
}

// Model scores items for a customer and a store. *recommend.Engine
// implements it.
type Model interface {
	Affinities(ctx context.Context, p privacy.PseudoID, items []string) (recommend.Affinities, error)
	Popularity(store string, items []string) ([]float64, string)
	// Available reports whether the catalogue has item active in store.
	Available(item, store string) bool
}

var (
	_ Customers   = (*store.DB)(nil)
	_ Visits      = (*ingest.Ingester)(nil)
	_ PushStore   = (*store.DB)(nil)
	_ CouponStore = (*store.DB)(nil)
	_ Model       = (*recommend.Engine)(nil)
)

// Cap is a frequency cap: at most Max pushes to a customer within any
// Window (rolling), in one store if PerStore, else in all stores together.
// A push is one entry that offered coupons, whatever their number.
type Cap struct {
	Max      int
	Window   time.Duration
	PerStore bool
}

// DefaultCaps are the caps of a zero Config: at most 1 push per customer
// per store per day, and 3 per week.
var DefaultCaps = []Cap{
	{Max: 1, Window: 24 * time.Hour, PerStore: true},
	{Max: 3, Window: 7 * 24 * time.Hour, PerStore: true},
}

// String describes c, as Result.CapReason does.
func (c Cap) String() string {
	var window string
	switch c.Window {
	case time.Hour:
		window = "hour"
	case 24 * time.Hour:
		window = "day"
	case 7 * 24 * time.Hour:
		window = "week"
	default:
		window = c.Window.String()
	}
	pushes := "pushes"
	if c.Max == 1 {
		pushes = "push"
	}
	where := ""
	if c.PerStore {
		where = " per store"
	}
	return fmt.Sprintf("at most %d coupon %s per customer%s per %s", c.Max, pushes, where, window)
}

// minRelated is the least cosine similarity between a coupon's item and a
// recent purchase for the purchase to explain the coupon.
const minRelated = 0.2

// DefaultBoost is the default Config.Boost.
const DefaultBoost = 0.5

// Config configures an Engine. Every interface is required.
type Config struct {
	Pseudonyms *pseudonym.Keyed
	Customers  Customers
	Visits     Visits
	Pushes     PushStore
	Coupons    CouponStore
	Model      Model
	// ConsentDefaults is the decision for customers who never expressed a
	// choice; it must be the one ingestion applies.
	ConsentDefaults consent.Defaults
	// Caps are the frequency caps; nil means DefaultCaps, an empty non-nil
	// slice means none (and no push is recorded).
	Caps []Cap
	// Boost weighs the relatedness to recent purchases against the
	// affinity; 0 means DefaultBoost, negative means no boost.
	Boost float64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Validate reports every problem with c.
func (c *Config) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		nil  bool
	}{
		{"Pseudonyms", c.Pseudonyms == nil}, {"Customers", c.Customers == nil}, {"Visits", c.Visits == nil},
		{"Pushes", c.Pushes == nil}, {"Coupons", c.Coupons == nil}, {"Model", c.Model == nil},
	} {
		if f.nil {
			errs = append(errs, fmt.Errorf("coupons: Config.%s is required", f.name))
		}
	}
	for i, cp := range c.Caps {
		if cp.Max < 1 || cp.Window <= 0 {
			errs = append(errs, fmt.Errorf("coupons: cap %d: want Max ≥ 1 and a positive Window, got %d per %v", i, cp.Max, cp.Window))
		}
	}
	if math.IsNaN(c.Boost) || math.IsInf(c.Boost, 0) {
		errs = append(errs, fmt.Errorf("coupons: Boost = %v, want a finite number", c.Boost))
	}
	return errors.Join(errs...)
}

// Engine answers store entries. It is safe for concurrent use.
type Engine struct {
	cfg Config
	// keep is how long pushes are kept: the longest cap window.
	keep time.Duration
	// coupons is the current coupon list, by identifier; replaced whole.
	coupons atomic.Pointer[[]features.Coupon]
	// putMu serializes UpsertCoupon and LoadCoupons.
	putMu sync.Mutex
	// stripes serialize the entries of one customer, so that two
	// concurrent entries cannot both pass a cap.
	stripes [64]sync.Mutex
}

// New returns an engine without coupons; LoadCoupons reads the stored ones.
func New(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Caps == nil {
		cfg.Caps = DefaultCaps
	}
	cfg.Caps = slices.Clone(cfg.Caps)
	switch {
	case cfg.Boost == 0:
		cfg.Boost = DefaultBoost
	case cfg.Boost < 0:
		cfg.Boost = 0
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	e := &Engine{cfg: cfg}
	for _, c := range cfg.Caps {
		e.keep = max(e.keep, c.Window)
	}
	e.coupons.Store(&[]features.Coupon{})
	return e, nil
}

// LoadCoupons reads the stored coupons, replacing those in memory.
func (e *Engine) LoadCoupons(ctx context.Context) error {
	e.putMu.Lock()
	defer e.putMu.Unlock()
	cs, err := e.cfg.Coupons.Coupons(ctx)
	if err != nil {
		return fmt.Errorf("coupons: load: %w", err)
	}
	e.coupons.Store(&cs)
	return nil
}

// UpsertCoupon stores a coupon (valid: c.Validate returned nil) and offers
// it from then on.
func (e *Engine) UpsertCoupon(ctx context.Context, c features.Coupon) error {
	e.putMu.Lock()
	defer e.putMu.Unlock()
	if err := e.cfg.Coupons.PutCoupons(ctx, []features.Coupon{c}); err != nil {
		return err
	}
	old := *e.coupons.Load()
	i, found := slices.BinarySearchFunc(old, c.ID, func(a features.Coupon, id string) int { return cmp.Compare(a.ID, id) })
	next := slices.Clone(old)
	if found {
		next[i] = c
	} else {
		next = slices.Insert(next, i, c)
	}
	e.coupons.Store(&next)
	return nil
}

// candidate is a coupon that may be offered.
type candidate struct {
	c *features.Coupon
	// Ranking keys, in order: scored (the item has a vector), score, then
	// the DP popularity of the item in the store.
	scored      bool
	score, pop  float64
	explanation string
}

// Enter answers a customer entering a store (see the package
// documentation).
func (e *Engine) Enter(ctx context.Context, en Entry) (Result, error) {
	now := e.cfg.Now().UTC().Truncate(time.Millisecond)
	p := e.cfg.Pseudonyms.Pseudonymize(en.Customer)
	rec, err := e.cfg.Customers.Consent(ctx, p)
	if err != nil {
		return Result{}, fmt.Errorf("coupons: %w", err)
	}
	cands := e.valid(en.Store, now)
	d := e.cfg.ConsentDefaults
	switch {
	case !d.Allows(rec, privacy.InStore):
		return e.notRecorded(en.Store, cands, NoInStoreConsent), nil
	case !d.Allows(rec, privacy.Personalization):
		return e.notRecorded(en.Store, cands, NoPersonalizationConsent), nil
	}

	mu := &e.stripes[int(p[0])%len(e.stripes)]
	mu.Lock()
	defer mu.Unlock()
	counts, err := e.cfg.Visits.Write(ctx, []features.RawEvent{{Customer: en.Customer, Kind: privacy.StoreVisit, Store: en.Store, Time: now, Quantity: 1}})
	if err != nil {
		return Result{}, fmt.Errorf("coupons: record the visit: %w", err)
	}
	switch {
	case counts.NoConsent > 0:
		// Consent was withdrawn since it was read: the store refused the
		// visit in the transaction that would have written it.
		return e.notRecorded(en.Store, cands, ConsentWithdrawn), nil
	case counts.Stored != 1:
		return Result{}, fmt.Errorf("coupons: record the visit: not stored (%d expired, %d duplicates)", counts.Expired, counts.Duplicates)
	}
	res := Result{VisitRecorded: true}
	var pushed []store.Push
	if len(e.cfg.Caps) > 0 {
		if pushed, err = e.cfg.Pushes.Pushes(ctx, p); err != nil {
			return Result{}, fmt.Errorf("coupons: %w", err)
		}
		if c, ok := e.capped(pushed, en.Store, now); ok {
			res.Capped, res.CapReason = true, c.String()
			last := lastPush(pushed, en.Store, now)
			if len(last) == 0 {
				return res, nil
			}
			// Offer the last push's coupons again, those still valid.
			res.Repeated = true
			cands = slices.DeleteFunc(cands, func(c candidate) bool { return !slices.Contains(last, c.c.ID) })
		}
	}
	if !res.Repeated {
		// Not the same coupon twice within the caps' memory.
		cands = slices.DeleteFunc(cands, func(c candidate) bool {
			return slices.ContainsFunc(pushed, func(ps store.Push) bool { return ps.Coupon == c.c.ID && now.Sub(ps.Time) < e.keep })
		})
	}
	items := make([]string, len(cands))
	for i, c := range cands {
		items[i] = c.c.Item
	}
	aff, err := e.cfg.Model.Affinities(ctx, p, items)
	if err != nil {
		return Result{}, fmt.Errorf("coupons: %w", err)
	}
	if !aff.Personalized {
		g := e.generic(en.Store, cands)
		res.Offers, res.ModelVersion = g.Offers, g.ModelVersion
	} else {
		res.Personalized, res.ModelVersion = true, aff.ModelVersion
		e.popularity(en.Store, cands) // for the items without a vector
		for i := range cands {
			a := aff.Items[i]
			if !a.Known {
				cands[i].score = 0
				continue
			}
			cands[i].scored = true
			cands[i].score = a.Score + e.cfg.Boost*max(a.Related, 0)
			switch {
			case a.Because == cands[i].c.Item:
				cands[i].explanation = "because you bought " + a.Because + " before"
			case a.Because != "" && a.Related >= minRelated:
				cands[i].explanation = "because you bought " + a.Because
			default:
				cands[i].explanation = "picked for you"
			}
		}
		res.Offers = best(cands)
	}
	if len(res.Offers) == 0 || len(e.cfg.Caps) == 0 || res.Repeated {
		return res, nil
	}
	pushes := make([]store.Push, len(res.Offers))
	for i, o := range res.Offers {
		pushes[i] = store.Push{Time: now, Store: en.Store, Coupon: o.Coupon, ExpiresAt: now.Add(e.keep)}
	}
	if err := e.cfg.Pushes.AddPushes(ctx, p, pushes, d); err != nil {
		if errors.Is(err, store.ErrNoConsent) {
			// Consent was withdrawn meanwhile, which erased the visit:
			// nothing personal goes out.
			return e.notRecorded(en.Store, e.valid(en.Store, now), ConsentWithdrawn), nil
		}
		return Result{}, fmt.Errorf("coupons: %w", err)
	}
	return res, nil
}

// valid returns the coupons that can be offered in store st at now: active,
// within their validity window, for the store, on an item the catalogue
// has active there.
func (e *Engine) valid(st string, now time.Time) []candidate {
	var out []candidate
	cs := *e.coupons.Load()
	for i := range cs {
		c := &cs[i]
		if c.ValidAt(now, st) && e.cfg.Model.Available(c.Item, st) {
			out = append(out, candidate{c: c})
		}
	}
	return out
}

// notRecorded returns the generic offers of store st for an entry whose
// visit was not recorded, for reason why.
func (e *Engine) notRecorded(st string, cands []candidate, why NotRecorded) Result {
	res := e.generic(st, cands)
	res.NotRecorded = why
	return res
}

// generic ranks cands by the DP popularity of their items in store st.
func (e *Engine) generic(st string, cands []candidate) Result {
	version := e.popularity(st, cands)
	return Result{Offers: best(cands), ModelVersion: version}
}

// popularity sets the score, popularity and explanation of cands from the
// DP popularity of their items in store st, and returns the model version.
func (e *Engine) popularity(st string, cands []candidate) string {
	items := make([]string, len(cands))
	for i, c := range cands {
		items[i] = c.c.Item
	}
	pop, version := e.cfg.Model.Popularity(st, items)
	for i := range cands {
		cands[i].score, cands[i].pop = pop[i], pop[i]
		cands[i].explanation = "an offer in this store"
		if pop[i] > 0 {
			cands[i].explanation = "popular in this store"
		}
	}
	return version
}

// best returns the MaxOffers best candidates as offers: scored ones first,
// by decreasing score, then popularity, then coupon identifier.
func best(cands []candidate) []Offer {
	slices.SortFunc(cands, func(a, b candidate) int {
		if a.scored != b.scored {
			if a.scored {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		if c := cmp.Compare(b.pop, a.pop); c != 0 {
			return c
		}
		return cmp.Compare(a.c.ID, b.c.ID)
	})
	n := min(len(cands), MaxOffers)
	out := make([]Offer, n)
	for i, c := range cands[:n] {
		out[i] = Offer{Coupon: c.c.ID, Item: c.c.Item, Value: c.c.Value, ValidUntil: c.c.ValidUntil, Explanation: c.explanation, Score: c.score}
	}
	return out
}

// lastPush returns the coupons of the latest push in store st within
// RepeatWindow before now, or nil if there is none.
func lastPush(pushes []store.Push, st string, now time.Time) []string {
	var last time.Time
	for _, ps := range pushes {
		if ps.Store == st && !ps.Time.After(now) && now.Sub(ps.Time) < RepeatWindow && ps.Time.After(last) {
			last = ps.Time
		}
	}
	var ids []string
	for _, ps := range pushes {
		if ps.Store == st && !last.IsZero() && ps.Time.Equal(last) {
			ids = append(ids, ps.Coupon)
		}
	}
	return ids
}

// capped returns the first cap that pushes reach for an entry in store st
// at now. A push is the set of coupons recorded at one time in one store.
func (e *Engine) capped(pushes []store.Push, st string, now time.Time) (Cap, bool) {
	type push struct {
		ms int64
		st string
	}
	for _, c := range e.cfg.Caps {
		var seen []push
		for _, ps := range pushes {
			if c.PerStore && ps.Store != st || !ps.Time.After(now.Add(-c.Window)) || ps.Time.After(now) {
				continue
			}
			if k := (push{ps.Time.UnixMilli(), ps.Store}); !slices.Contains(seen, k) {
				seen = append(seen, k)
			}
		}
		if len(seen) >= c.Max {
			return c, true
		}
	}
	return Cap{}, false
}
