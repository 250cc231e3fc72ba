package recommend

import (
	"encoding/binary"
	"sync"
	"testing"

	"github.com/discret-io/discret/privacy"
)

func pseudoN(n int) privacy.PseudoID {
	var p privacy.PseudoID
	binary.LittleEndian.PutUint64(p[:], uint64(n)*0x9e3779b97f4a7c15)
	binary.LittleEndian.PutUint64(p[8:], uint64(n))
	return p
}

func TestCacheFillRace(t *testing.T) {
	c := newCache(100)
	p, q := pseudoN(1), pseudoN(2)
	tests := []struct {
		name   string
		run    func() // begin, …, put
		cached bool
	}{
		{"plain fill", func() {
			tok := c.begin(p)
			c.put(p, &profile{}, tok)
		}, true},
		{"invalidated during the fill", func() {
			tok := c.begin(p)
			c.invalidate(p)
			c.put(p, &profile{}, tok)
		}, false},
		{"fill begun after the invalidation", func() {
			old := c.begin(p)
			c.invalidate(p)
			tok := c.begin(p)
			c.put(p, &profile{}, old)
			c.put(p, &profile{}, tok)
		}, true},
		{"another customer invalidated", func() {
			tok := c.begin(p)
			c.invalidate(q)
			c.put(p, &profile{}, tok)
		}, true},
		{"abandoned fill", func() {
			tok := c.begin(p)
			c.put(p, nil, tok)
		}, false},
	}
	for _, tt := range tests {
		c.invalidate(p)
		tt.run()
		if got := c.get(p) != nil; got != tt.cached {
			t.Errorf("%s: cached = %v, want %v", tt.name, got, tt.cached)
		}
		for i := range c.shards {
			if n := len(c.shards[i].inflight); n != 0 {
				t.Errorf("%s: %d fills left in flight", tt.name, n)
			}
		}
	}
}

func TestCacheBounded(t *testing.T) {
	const capacity = 1000
	c := newCache(capacity)
	limit := cacheShards * c.per
	for i := range 20 * capacity {
		p := pseudoN(i)
		c.put(p, &profile{}, c.begin(p))
		if i%7 == 0 {
			c.invalidate(pseudoN(i / 2))
		}
		if i%3 == 0 {
			c.get(pseudoN(i - 1)) // referenced: survives a sweep
		}
	}
	if n := c.len(); n > limit || n < limit/2 {
		t.Errorf("cache holds %d profiles after %d fills, want at most %d (and most of it used)", n, 20*capacity, limit)
	}
	for i := range c.shards {
		sh := &c.shards[i]
		if len(sh.ring) > c.per {
			t.Errorf("shard %d ring has %d slots, want at most %d", i, len(sh.ring), c.per)
		}
		live := 0
		for _, sl := range sh.ring {
			if sl.prof != nil {
				live++
				if sh.m[sl.p] != sl {
					t.Errorf("shard %d: a live ring slot is not in the map", i)
				}
			}
		}
		if live != len(sh.m) {
			t.Errorf("shard %d: %d live slots, %d map entries", i, live, len(sh.m))
		}
	}
	if disabled := newCache(0); disabled.get(pseudoN(1)) != nil {
		t.Error("a disabled cache returned a profile")
	} else {
		disabled.put(pseudoN(1), &profile{}, disabled.begin(pseudoN(1)))
		if disabled.get(pseudoN(1)) != nil {
			t.Error("a disabled cache stored a profile")
		}
	}
}

func TestCacheConcurrent(t *testing.T) {
	c := newCache(64)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 5000 {
				p := pseudoN((i*7 + w) % 300)
				switch i % 5 {
				case 0:
					c.invalidate(p)
				default:
					if c.get(p) == nil {
						c.put(p, &profile{}, c.begin(p))
					}
				}
			}
		})
	}
	wg.Wait()
	if n := c.len(); n > cacheShards*c.per {
		t.Errorf("cache holds %d profiles, bound %d", n, cacheShards*c.per)
	}
}
