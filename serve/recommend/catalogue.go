package recommend

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/bits-and-blooms/bloom/v3"

	"github.com/discret-io/discret/features"
)

// itemInfo is the catalogue entry of an item, as the filters use it.
// Immutable.
type itemInfo struct {
	category string
	active   bool
	stores   []string // sorted
}

func newItemInfo(it *features.Item) *itemInfo {
	st := slices.Clone(it.Stores)
	slices.Sort(st)
	return &itemInfo{category: it.Category, active: it.Active, stores: slices.Compact(st)}
}

// in reports whether the item is available in store st.
func (i *itemInfo) in(st string) bool {
	_, ok := slices.BinarySearch(i.stores, st)
	return ok
}

// LoadCatalogue reads the catalogue from Config.Catalogue, replacing the
// one in memory.
func (e *Engine) LoadCatalogue(ctx context.Context) error {
	if e.cfg.Catalogue == nil {
		return nil
	}
	e.putMu.Lock()
	defer e.putMu.Unlock()
	items, err := e.cfg.Catalogue.Items(ctx)
	if err != nil {
		return fmt.Errorf("recommend: load catalogue: %w", err)
	}
	m := make(map[string]*itemInfo, len(items))
	for i := range items {
		m[items[i].ID] = newItemInfo(&items[i])
	}
	e.catMu.Lock()
	defer e.catMu.Unlock()
	e.items = m
	e.hasCatalogue.Store(len(m) > 0)
	e.log.Info("catalogue loaded", "items", len(m))
	if s := e.snap.Load(); s != nil {
		e.checkServable(s, s.fillCatalogue(m))
	}
	return nil
}

// uncatalogued reports whether items unknown to the catalogue may be
// recommended: with Config.AllowUncatalogued, or while the catalogue is
// empty (a deployment without one, whose releases select their items from
// the data by a DP threshold, DP-ALS.md B5).
func (e *Engine) uncatalogued() bool {
	return e.cfg.AllowUncatalogued || !e.hasCatalogue.Load()
}

// checkServable warns when a catalogue holds none of the items of s, of
// which n are active catalogue items: nothing would be recommended.
func (e *Engine) checkServable(s *snapshot, n int) {
	if n == 0 && len(s.rel.Items) > 0 && !e.uncatalogued() {
		e.log.Warn("no item of the served release is an active item of the catalogue, so nothing is recommended: import the catalogue the release was trained on ('discret items import', PUT /v1/items/{item})",
			"version", s.rel.Card.Version, "release_items", len(s.rel.Items))
	}
}

// ErrNoCatalogue is returned by UpsertItem on an engine without a
// catalogue store.
var ErrNoCatalogue = errors.New("recommend: no catalogue store")

// UpsertItem stores a catalogue item (valid: it.Validate returned nil) and
// applies it to the served release at once.
func (e *Engine) UpsertItem(ctx context.Context, it features.Item) error {
	if e.cfg.Catalogue == nil {
		return ErrNoCatalogue
	}
	info := newItemInfo(&it)
	e.putMu.Lock()
	defer e.putMu.Unlock()
	if err := e.cfg.Catalogue.PutItems(ctx, []features.Item{it}); err != nil {
		return err
	}
	e.catMu.Lock()
	defer e.catMu.Unlock()
	e.items[it.ID] = info
	e.hasCatalogue.Store(true)
	if s := e.snap.Load(); s != nil {
		if j, ok := s.rel.Index(it.ID); ok {
			s.catalogue[j].Store(info)
		}
	}
	return nil
}

// Available reports whether item is known to the catalogue, active, and
// available in store st (any store when st is empty).
func (e *Engine) Available(item, st string) bool {
	e.catMu.RLock()
	info := e.items[item]
	e.catMu.RUnlock()
	if info == nil {
		return e.uncatalogued() && st == ""
	}
	return info.active && (st == "" || info.in(st))
}

// fillCatalogue sets the catalogue view of s from m, and returns how many
// of its items are active in m. The caller holds catMu.
func (s *snapshot) fillCatalogue(m map[string]*itemInfo) int {
	n := 0
	for j, id := range s.rel.Items {
		info := m[id]
		s.catalogue[j].Store(info)
		if info != nil && info.active {
			n++
		}
	}
	return n
}

// filter decides which items may be returned.
type filter struct {
	s            *snapshot
	uncatalogued bool   // items unknown to the catalogue may be returned
	store        string // available there; empty means any
	category     string // of this category; empty means any
	exclude      []int32
	purchased    *bloom.BloomFilter // item identifiers; nil means none
}

// ok reports whether item j passes f.
func (f *filter) ok(j int32) bool {
	info := f.s.catalogue[j].Load()
	switch {
	case info == nil:
		if !f.uncatalogued || f.store != "" || f.category != "" {
			return false
		}
	case !info.active,
		f.category != "" && info.category != f.category,
		f.store != "" && !info.in(f.store):
		return false
	}
	if len(f.exclude) > 0 {
		if _, found := slices.BinarySearch(f.exclude, j); found {
			return false
		}
	}
	// A false positive of the filter drops a candidate the customer did not
	// buy; it never adds one.
	return f.purchased == nil || !f.purchased.TestString(f.s.rel.Items[j])
}
