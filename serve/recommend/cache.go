package recommend

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/discret-io/discret/privacy"
)

// cacheShards is the number of independently locked parts of the cache.
const cacheShards = 64

// cache holds customer profiles by pseudonym, bounded in size, with CLOCK
// eviction per shard (a hit only sets a bit under a read lock).
//
// Coherence with invalidations: a fill registers itself (begin) before it
// reads the store, and put stores its profile only if no invalidation of
// the same customer happened since. An invalidation removes the cached
// profile and marks every fill in flight for that customer stale. So once
// Invalidate returns, the only profiles that can be cached for the customer
// were built from reads that started after it.
type cache struct {
	shards []cacheShard // nil when disabled
	per    int          // profiles per shard
}

type cacheShard struct {
	mu       sync.RWMutex // guards every field below and slot.prof
	m        map[privacy.PseudoID]*slot
	ring     []*slot // CLOCK order; at most per
	hand     int
	inflight map[privacy.PseudoID]*fill
}

// slot is a cached profile.
type slot struct {
	p    privacy.PseudoID
	prof *profile // nil once invalidated (the slot is then free)
	ref  atomic.Bool
}

// fill is the fills in flight for one customer since their last
// invalidation.
type fill struct {
	n     int  // fills registered and not finished
	stale bool // an invalidation happened since they began
}

// token identifies a fill from begin to put.
type token struct{ f *fill }

func newCache(entries int) *cache {
	if entries <= 0 {
		return &cache{}
	}
	c := &cache{shards: make([]cacheShard, cacheShards), per: max(1, (entries+cacheShards-1)/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[privacy.PseudoID]*slot)
		c.shards[i].inflight = make(map[privacy.PseudoID]*fill)
	}
	return c
}

// shard returns p's shard: pseudonyms are HMAC outputs, uniform already.
func (c *cache) shard(p privacy.PseudoID) *cacheShard {
	return &c.shards[binary.LittleEndian.Uint32(p[:4])%uint32(len(c.shards))]
}

// get returns p's cached profile, or nil.
func (c *cache) get(p privacy.PseudoID) *profile {
	if c.shards == nil {
		return nil
	}
	sh := c.shard(p)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	sl := sh.m[p]
	if sl == nil {
		return nil
	}
	if !sl.ref.Load() {
		sl.ref.Store(true)
	}
	return sl.prof
}

// begin registers a fill for p; the caller reads the store after it and
// ends with put.
func (c *cache) begin(p privacy.PseudoID) token {
	if c.shards == nil {
		return token{}
	}
	sh := c.shard(p)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	f := sh.inflight[p]
	if f == nil {
		f = &fill{}
		sh.inflight[p] = f
	}
	f.n++
	return token{f: f}
}

// put ends the fill t for p, caching pr unless p was invalidated since t
// began. A nil pr abandons the fill.
func (c *cache) put(p privacy.PseudoID, pr *profile, t token) {
	if c.shards == nil {
		return
	}
	sh := c.shard(p)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	t.f.n--
	if t.f.n == 0 && sh.inflight[p] == t.f {
		delete(sh.inflight, p)
	}
	if pr == nil || t.f.stale {
		return
	}
	if sl := sh.m[p]; sl != nil {
		sl.prof = pr
		sl.ref.Store(true)
		return
	}
	sl := &slot{p: p, prof: pr}
	sl.ref.Store(true)
	sh.m[p] = sl
	if len(sh.ring) < c.per {
		sh.ring = append(sh.ring, sl)
		return
	}
	// CLOCK: the first free or unreferenced slot from the hand on, clearing
	// reference bits on the way.
	for {
		old := sh.ring[sh.hand]
		if old.prof != nil && old.ref.Load() {
			old.ref.Store(false)
			sh.hand = (sh.hand + 1) % len(sh.ring)
			continue
		}
		if old.prof != nil {
			delete(sh.m, old.p)
		}
		sh.ring[sh.hand] = sl
		sh.hand = (sh.hand + 1) % len(sh.ring)
		return
	}
}

// invalidate drops p's profile and makes the fills in flight for p stale.
func (c *cache) invalidate(p privacy.PseudoID) {
	if c.shards == nil {
		return
	}
	sh := c.shard(p)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sl := sh.m[p]; sl != nil {
		sl.prof = nil // frees the ring slot
		delete(sh.m, p)
	}
	if f := sh.inflight[p]; f != nil {
		f.stale = true
		delete(sh.inflight, p)
	}
}

// len returns the number of cached profiles.
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}
