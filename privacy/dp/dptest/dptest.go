// Package dptest provides seeded randomness for tests and benchmarks of code
// that uses package dp. Its sources implement dp.Source and dp.Forker with
// the same generator as production (ChaCha8), so benchmarks measure what
// ships, but they report themselves as dp.KindTestSeeded and
// dp.CheckProduction refuses them: a release made with them can never pass
// for a production one (DP-ALS.md D3.1, B12).
//
// Import this package only from _test.go files.
package dptest

import (
	"encoding/binary"
	mathrand "math/rand/v2" // ChaCha8 with a fixed, public seed: test randomness only

	"github.com/discret-io/discret/privacy/dp"
)

// Rand is a deterministic ChaCha8 stream. It is not safe for concurrent use.
type Rand struct {
	c mathrand.ChaCha8
}

var _ dp.Forker = (*Rand)(nil)

// New returns the stream for seed. Equal seeds give equal streams.
func New(seed uint64) *Rand {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	copy(s[8:], "discret dptest seed v1 ")
	r := &Rand{}
	r.c.Seed(s)
	return r
}

// Uint64 returns the next 64 bits of the stream.
func (r *Rand) Uint64() uint64 { return r.c.Uint64() }

// Kind returns dp.KindTestSeeded.
func (r *Rand) Kind() dp.Kind { return dp.KindTestSeeded }

// Fork returns a child stream seeded from the next 32 bytes of r, so that a
// parent seed determines every worker's stream.
func (r *Rand) Fork() dp.Source {
	var s [32]byte
	for i := 0; i < 32; i += 8 {
		binary.LittleEndian.PutUint64(s[i:], r.c.Uint64())
	}
	c := &Rand{}
	c.c.Seed(s)
	return c
}

// Words is a Source that replays a fixed sequence of words and then panics.
// It lets a test drive a sampler down a chosen path.
type Words struct {
	W []uint64
	i int
}

// Uint64 returns the next word.
func (w *Words) Uint64() uint64 {
	if w.i >= len(w.W) {
		panic("dptest: Words exhausted")
	}
	v := w.W[w.i]
	w.i++
	return v
}

// Used returns how many words have been consumed.
func (w *Words) Used() int { return w.i }
