package train

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/model/budget"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

// snapshot is the training data: the events, within the window, of the
// customers whose consent allowed them at the time of the consent check.
// Identifiers are interned; customers are numbered 0 … customers−1 in
// snapshot order and are never identified otherwise (no pseudonym is kept).
type snapshot struct {
	customers int
	start     []int // events of customer c: [start[c], start[c+1])
	item      []int32
	store     []int32 // -1 online
	kind      []privacy.EventKind
	qty       []uint32

	items, stores     []string // interned identifiers, in first-seen order
	itemIdx, storeIdx map[string]int32

	// oldest and newest are the times of the oldest and newest event kept.
	oldest, newest time.Time

	// Operator-facing counts (never released).
	excludedCustomers int // had events in the window but no consent now
	excludedEvents    int // events dropped for lack of consent
	outsideWindow     int // events outside the window
}

// consentBatch is how many customers' consents are read at once.
const consentBatch = 1024

type pendingCustomer struct {
	p      privacy.PseudoID
	events []features.Event
}

// collect reads one snapshot of the store's events and keeps, for every
// customer, the events in w that their current consent record allows under
// defaults (privacy.EventKind.Needs: personalization, and in_store too for
// store visits). The store only holds events its consent rules allowed when
// they arrived, but the defaults may have changed since; a customer who
// withdrew or was erased has no events left in any later snapshot.
//
// Consent is read after the events, from a later snapshot, so a withdrawal
// that commits during the read excludes the customer. An erasure (Forget)
// that commits after the events' snapshot deletes the consent record too,
// and then only the defaults decide: with opt-out defaults the customer is
// used as if the training had started before their erasure, which it did.
//
// Events of window w are kept if keep accepts them: the retention policy
// in force now, which may be shorter than the one that set a stored
// event's expiry when it arrived (nil keeps all).
func collect(ctx context.Context, st Store, defaults consent.Defaults, w budget.Window, keep func(features.Event) bool) (*snapshot, error) {
	s := &snapshot{start: []int{0}, itemIdx: map[string]int32{}, storeIdx: map[string]int32{}}
	var batch []pendingCustomer
	var free [][]features.Event // reused event buffers
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		ps := make([]privacy.PseudoID, len(batch))
		for i, c := range batch {
			ps[i] = c.p
		}
		recs, err := st.Consents(ctx, ps)
		if err != nil {
			return fmt.Errorf("train: consent: %w", err)
		}
		if len(recs) != len(ps) {
			return fmt.Errorf("train: consent: %d records for %d customers", len(recs), len(ps))
		}
		for i, c := range batch {
			s.add(c.events, recs[i], defaults)
			free = append(free, c.events[:0])
		}
		clear(batch)
		batch = batch[:0]
		return nil
	}
	var cur *pendingCustomer
	for e, err := range st.Events(ctx) {
		if err != nil {
			return nil, fmt.Errorf("train: events: %w", err)
		}
		if !w.Contains(e.Time) || keep != nil && !keep(e) {
			s.outsideWindow++
			continue
		}
		if cur == nil || cur.p != e.Customer {
			if len(batch) == consentBatch {
				if err := flush(); err != nil {
					return nil, err
				}
			}
			var buf []features.Event
			if n := len(free); n > 0 {
				buf, free = free[n-1], free[:n-1]
			}
			batch = append(batch, pendingCustomer{p: e.Customer, events: buf})
			cur = &batch[len(batch)-1]
		}
		cur.events = append(cur.events, e)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return s, nil
}

// add records one customer's events that rec allows under d.
func (s *snapshot) add(events []features.Event, rec consent.Record, d consent.Defaults) {
	kept := 0
	for _, e := range events {
		if !d.AllowsAll(rec, e.Kind.Needs()) {
			s.excludedEvents++
			continue
		}
		item, store := int32(-1), int32(-1)
		if e.Item != "" {
			item = intern(&s.items, s.itemIdx, e.Item)
		}
		if e.Store != "" {
			store = intern(&s.stores, s.storeIdx, e.Store)
		}
		s.item = append(s.item, item)
		s.store = append(s.store, store)
		s.kind = append(s.kind, e.Kind)
		s.qty = append(s.qty, max(e.Quantity, 1))
		if len(s.item) == 1 || e.Time.Before(s.oldest) {
			s.oldest = e.Time
		}
		if len(s.item) == 1 || e.Time.After(s.newest) {
			s.newest = e.Time
		}
		kept++
	}
	if kept == 0 {
		s.excludedCustomers++
		return
	}
	s.customers++
	s.start = append(s.start, len(s.item))
}

func intern(ids *[]string, idx map[string]int32, id string) int32 {
	if i, ok := idx[id]; ok {
		return i
	}
	i := int32(len(*ids))
	*ids = append(*ids, id)
	idx[id] = i
	return i
}

// events returns the range of customer c's events.
func (s *snapshot) events(c int) (lo, hi int) { return s.start[c], s.start[c+1] }

// sortedIDs returns ids sorted and without duplicates.
func sortedIDs(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}
