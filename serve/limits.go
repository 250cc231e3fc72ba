package serve

import (
	"math"
	"sync"
	"time"
)

// limiter is a token bucket per key (an API key's id, a customer token's
// auth.TokenID): each key may make burst requests at once and rate per
// second sustained.
//
// A bucket that has refilled to the burst is the same as a new one, and
// the bucket of an expired customer token is never used again, so both are
// dropped: when the buckets have doubled in number since the last sweep
// (and number at least minSweep), allow drops them all. The buckets kept
// are then at most about twice those used within the last burst/rate
// seconds, or minSweep, however many tokens are minted; the sweep costs
// allow O(1) amortized.
type limiter[K comparable] struct {
	rate, burst float64
	now         func() time.Time

	mu        sync.Mutex // guards buckets and sweepAt
	buckets   map[K]*bucket
	sweepAt   int // the number of buckets that triggers the next sweep
	sweepBase int // minSweep, or smaller in tests
}

// minSweep is the least number of buckets that triggers a sweep.
const minSweep = 1024

type bucket struct {
	tokens  float64
	last    time.Time
	expires time.Time // zero: never
}

func newLimiter[K comparable](rate float64, burst int, now func() time.Time) *limiter[K] {
	return &limiter[K]{rate: rate, burst: float64(burst), now: now, buckets: map[K]*bucket{}, sweepAt: minSweep, sweepBase: minSweep}
}

// allow takes a token from key's bucket; expires, if not zero, is when key
// stops being used (a customer token's expiry). When there is no token, it
// returns false and how long until there is one.
func (l *limiter[K]) allow(key K, expires time.Time) (time.Duration, bool) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.sweepAt {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, last: now, expires: expires}
		l.buckets[key] = b
	}
	l.refill(b, now)
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration((1 - b.tokens) / l.rate * float64(time.Second)), false
}

// refill adds the tokens earned since the bucket's last use.
func (l *limiter[K]) refill(b *bucket, now time.Time) {
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = math.Min(l.burst, b.tokens+elapsed.Seconds()*l.rate)
		b.last = now
	}
}

// sweep drops the buckets that are full by now and those of expired keys,
// and sets the size of the next sweep. The caller holds mu.
func (l *limiter[K]) sweep(now time.Time) {
	for k, b := range l.buckets {
		l.refill(b, now)
		if b.tokens >= l.burst || !b.expires.IsZero() && !now.Before(b.expires) {
			delete(l.buckets, k)
		}
	}
	l.sweepAt = max(l.sweepBase, 2*len(l.buckets))
}
