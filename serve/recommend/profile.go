package recommend

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/bits-and-blooms/bloom/v3"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/model/als"
	"github.com/discret-io/discret/privacy"
)

// Bounds of a profile.
const (
	// maxExplain bounds the history items an explanation is chosen from:
	// the most recent distinct ones.
	maxExplain = 32
	// maxRecent bounds the recent purchases that boost coupons.
	maxRecent = 5
	// bloomFalsePositives is the false-positive rate of the purchase
	// filter.
	bloomFalsePositives = 0.01
)

// profile is what a request needs to know about a customer, derived from
// their consent record and history against one snapshot. Immutable.
type profile struct {
	gen     uint64    // the snapshot it was built against
	expires time.Time // not to be used from then on
	// personalize and inStore are the consent decisions.
	personalize, inStore bool
	// vec is the folded-in user vector; nil without usable history.
	vec []float32
	// explain lists the most recent distinct trained items of the history,
	// newest first, with their explanation.
	explain []reason
	// recent lists the most recent distinct trained items bought, newest
	// first.
	recent []int32
	// purchased holds the identifiers of every item bought; nil if none.
	purchased *bloom.BloomFilter
}

// reason is a history item and the explanation it gives.
type reason struct {
	row  int32
	item string
	text string // "because you bought SKU-1"
}

// profile returns customer p's profile against s, from the cache or built
// from the store.
func (e *Engine) profile(ctx context.Context, s *snapshot, p privacy.PseudoID) (*profile, error) {
	now := e.cfg.Now()
	if pr := e.cache.get(p); pr != nil && pr.gen == s.gen && now.Before(pr.expires) {
		return pr, nil
	}
	tok := e.cache.begin(p)
	pr, err := e.buildProfile(ctx, s, p, now)
	e.cache.put(p, pr, tok) // pr is nil on error: the fill is abandoned
	return pr, err
}

// buildProfile reads customer p's consent and, if they consent to
// personalization, their history, and folds in their vector.
func (e *Engine) buildProfile(ctx context.Context, s *snapshot, p privacy.PseudoID, now time.Time) (*profile, error) {
	rec, err := e.cfg.Customers.Consent(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("recommend: %w", err)
	}
	d := e.cfg.ConsentDefaults
	pr := &profile{
		gen:         s.gen,
		expires:     now.Add(e.cfg.CacheMaxAge),
		personalize: d.Allows(rec, privacy.Personalization),
		inStore:     d.Allows(rec, privacy.InStore),
	}
	if !pr.personalize {
		return pr, nil
	}
	events, err := e.cfg.Customers.CustomerEvents(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("recommend: %w", err)
	}
	for i := range events {
		// The store hides an event from the second its expiry falls in.
		if exp := e.cfg.Retention.ExpiresAt(events[i].Kind, events[i].Time).Truncate(time.Second); exp.Before(pr.expires) {
			pr.expires = exp
		}
	}
	if err := s.foldIn(pr, events); err != nil {
		return nil, err
	}
	return pr, nil
}

// foldIn fills pr's vector, explanations, recent purchases and purchase
// filter from the customer's events (oldest first).
func (s *snapshot) foldIn(pr *profile, events []features.Event) error {
	items, conf, err := s.rel.History(events)
	if err != nil {
		return fmt.Errorf("recommend: %w", err)
	}
	if slices.ContainsFunc(items, s.hasVector) {
		d := s.mat.Cols
		u := make([]float64, d)
		fs := s.folds.Get().(*als.Scratch)
		u, err = s.folder.UserVector(u, items, conf, fs)
		s.folds.Put(fs)
		if err != nil {
			return fmt.Errorf("recommend: fold-in: %w", err)
		}
		vec := make([]float32, d)
		for k, x := range u {
			vec[k] = float32(x)
		}
		// A zero vector would score every item 0: no history to go by.
		if slices.ContainsFunc(vec, func(x float32) bool { return x != 0 }) {
			pr.vec = vec
		}
	}

	// The strongest kind of interaction with each item names the
	// explanation; purchases fill the filter.
	strongest := make(map[string]privacy.EventKind)
	var bought []string
	for i := range events {
		e := &events[i]
		if e.Item == "" {
			continue
		}
		if k, ok := strongest[e.Item]; !ok || strength(e.Kind) > strength(k) {
			strongest[e.Item] = e.Kind
		}
		if e.Kind == privacy.Purchase {
			bought = append(bought, e.Item)
		}
	}
	if len(bought) > 0 {
		pr.purchased = bloom.NewWithEstimates(uint(max(len(bought), 16)), bloomFalsePositives)
		for _, it := range bought {
			pr.purchased.AddString(it)
		}
	}
	seen := make(map[int32]bool)
	seenBought := make(map[int32]bool)
	for i := len(events) - 1; i >= 0 && (len(pr.explain) < maxExplain || len(pr.recent) < maxRecent); i-- {
		e := &events[i]
		j, ok := s.rel.Index(e.Item)
		if !ok || !s.hasVector(int32(j)) {
			continue
		}
		row := int32(j)
		if !seen[row] && len(pr.explain) < maxExplain {
			seen[row] = true
			pr.explain = append(pr.explain, reason{row: row, item: e.Item, text: because(strongest[e.Item], e.Item)})
		}
		if e.Kind == privacy.Purchase && !seenBought[row] && len(pr.recent) < maxRecent {
			seenBought[row] = true
			pr.recent = append(pr.recent, row)
		}
	}
	return nil
}

// strength orders event kinds for explanations: a purchase says more than
// a view.
func strength(k privacy.EventKind) int {
	switch k {
	case privacy.Purchase:
		return 3
	case privacy.AddToCart:
		return 2
	case privacy.View:
		return 1
	}
	return 0
}

// because is the explanation given by a history item.
func because(k privacy.EventKind, item string) string {
	switch k {
	case privacy.Purchase:
		return "because you bought " + item
	case privacy.AddToCart:
		return "because you added " + item + " to your cart"
	}
	return "because you viewed " + item
}
