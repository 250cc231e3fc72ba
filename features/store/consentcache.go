package store

import (
	"sync"
	"time"

	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

// decision is what a consent record decides: per purpose, in bits, bit
// 2(p-1) is set if the record has a choice for purpose p, bit 2(p-1)+1 if
// that choice is a grant; and the customer's last erasure
// (consent.Record.ErasedAt) in Unix seconds, 0 if never erased (a stored
// erasure time is always > 0: the decoders refuse others). It is all
// AppendEvents needs to know of a record.
type decision struct {
	bits     uint8
	erasedAt int64
}

// erasedDecision is the decision of a record without choices, erased at t
// (never if t is zero).
func erasedDecision(t time.Time) decision {
	if t.IsZero() {
		return decision{}
	}
	return decision{erasedAt: t.Unix()}
}

// set records a choice for purpose p.
func (dc *decision) set(p privacy.Purpose, granted bool) {
	shift := 2 * (uint(p) - 1)
	dc.bits |= 1 << shift
	if granted {
		dc.bits |= 2 << shift
	}
}

// allows mirrors consent.Defaults.Allows.
func (dc decision) allows(p privacy.Purpose, d consent.Defaults) bool {
	shift := 2 * (uint(p) - 1)
	if dc.bits&(1<<shift) != 0 {
		return dc.bits&(2<<shift) != 0
	}
	return dc.erasedAt == 0 && d.For(p)
}

// predates reports whether an event at t predates the customer's erasure
// (to the second, as consent.Record.PredatesErasure): it was erased, and
// may not be stored again, whatever the consent given since.
func (dc decision) predates(t time.Time) bool { return dc.predatesSecond(t.Unix()) }

// predatesSecond is predates for a time in Unix seconds.
func (dc decision) predatesSecond(sec int64) bool {
	return dc.erasedAt != 0 && sec <= dc.erasedAt
}

// kinds returns the kinds of events the decision allows under d.
func (dc decision) kinds(d consent.Defaults) kindSet {
	var s kindSet
	for _, k := range privacy.EventKinds {
		ok := true
		for _, p := range k.Needs() {
			ok = ok && dc.allows(p, d)
		}
		if ok {
			s.add(k)
		}
	}
	return s
}

// consentCache remembers the decision of recently used consent records, so
// that AppendEvents checks a batch without a lookup in the LSM tree per
// customer (about 2 µs each).
//
// Coherence: every consent write invalidates its customer's entry after it
// commits, and before it releases db.mu; withdrawals hold db.mu exclusively,
// so no append can use a stale entry that allows more than the committed
// record. A fill is made only if no consent write happened since the filler
// read the version, before taking its snapshot: so a fill can never bring
// back a record older than one already invalidated.
type consentCache struct {
	mu      sync.RWMutex // guards m and version
	m       map[privacy.PseudoID]decision
	version uint64 // incremented by every invalidation
	max     int    // entries; the map is cleared when full. 0: disabled
}

func newConsentCache(max int) *consentCache {
	return &consentCache{m: make(map[privacy.PseudoID]decision), max: max}
}

// get returns the cached decision for p.
func (c *consentCache) get(p privacy.PseudoID) (decision, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	dc, ok := c.m[p]
	return dc, ok
}

// currentVersion returns the version to pass to fill; read it before taking
// the snapshot the decision comes from.
func (c *consentCache) currentVersion() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.version
}

// fill caches p's decision, read from a snapshot taken after version v was
// current, unless a consent write happened since.
func (c *consentCache) fill(p privacy.PseudoID, dc decision, v uint64) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != v {
		return
	}
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[p] = dc
}

// invalidate forgets p's decision; call it after every consent write.
func (c *consentCache) invalidate(p privacy.PseudoID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.version++
	delete(c.m, p)
}
