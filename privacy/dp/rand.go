package dp

import (
	"crypto/rand"
	"errors"
	"fmt"
	mathrand "math/rand/v2" // ChaCha8 only, always seeded from crypto/rand (DP-ALS.md D3.1)
)

// Source is the randomness every sampler in this package consumes: uniformly
// distributed 64-bit words. A Source is used by one goroutine at a time.
//
// Production code uses a *Rand from NewRand. Tests and benchmarks use the
// seeded sources of package dptest, which report themselves as
// KindTestSeeded and are refused by CheckProduction.
type Source interface {
	Uint64() uint64
}

// A Forker is a Source that derives independent child streams, one per
// worker goroutine (see Streams).
type Forker interface {
	Source
	// Fork returns a new stream of the same kind, independent of the
	// receiver's future output. It is not safe to call concurrently with
	// the receiver's other methods.
	Fork() Source
}

// Kind says where a Source's randomness comes from. It is recorded in the
// privacy ledger of every release (DP-ALS.md B12) so that a model card states
// it and a server can refuse a model trained with test randomness.
type Kind string

// The kinds of randomness.
const (
	// KindCrypto is a ChaCha8 stream seeded with 32 bytes from crypto/rand.
	// Only NewRand produces it.
	KindCrypto Kind = "crypto"
	// KindTestSeeded is every other Source: fixed seeds from package dptest,
	// replayed sequences, or any type this package does not know.
	KindTestSeeded Kind = "test-seeded"
)

// Production reports whether k is acceptable for a real release.
func (k Kind) Production() bool { return k == KindCrypto }

// ErrTestSource is returned by CheckProduction for a Source that is not a
// crypto-seeded *Rand.
var ErrTestSource = errors.New("dp: randomness is not crypto-seeded; a test-seeded source cannot be used for a real release")

// Rand is the production Source: a ChaCha8 stream (math/rand/v2.ChaCha8, a
// cryptographically strong generator) whose 32-byte seed comes from
// crypto/rand (DP-ALS.md D3.1). The seed is never exposed and there is no
// way to choose it, so a Rand is always KindCrypto.
//
// A Rand is not safe for concurrent use: give every worker goroutine its own
// (Fork, Streams). The zero value is not usable; Uint64 on it panics.
type Rand struct {
	c      mathrand.ChaCha8
	seeded bool
}

var _ Forker = (*Rand)(nil)

// NewRand returns a Rand seeded from crypto/rand.
func NewRand() *Rand {
	var seed [32]byte
	// crypto/rand.Read never returns an error (Go ≥ 1.24): on failure of the
	// operating system's generator the program crashes instead.
	_, _ = rand.Read(seed[:])
	r := &Rand{seeded: true}
	r.c.Seed(seed)
	clear(seed[:])
	return r
}

// Uint64 returns 64 uniformly random bits.
func (r *Rand) Uint64() uint64 {
	if !r.seeded {
		panic("dp: Uint64 on a zero Rand; use NewRand")
	}
	return r.c.Uint64()
}

// Kind returns KindCrypto for a Rand from NewRand.
func (r *Rand) Kind() Kind {
	if r == nil || !r.seeded {
		return KindTestSeeded
	}
	return KindCrypto
}

// Fork returns a new Rand with a fresh seed from crypto/rand.
func (r *Rand) Fork() Source { return NewRand() }

// KindOf returns the kind of src: KindCrypto for a *Rand from NewRand and
// KindTestSeeded for anything else, whatever the value claims about itself.
func KindOf(src Source) Kind {
	if r, ok := src.(*Rand); ok {
		return r.Kind()
	}
	return KindTestSeeded
}

// CheckProduction returns nil if src is a crypto-seeded *Rand and an error
// wrapping ErrTestSource otherwise. Code that releases data (training,
// popularity) calls it unless it was explicitly configured for a test or a
// benchmark, and records KindOf(src) in the ledger either way.
func CheckProduction(src Source) error {
	if k := KindOf(src); !k.Production() {
		return fmt.Errorf("%w (kind %q, type %T)", ErrTestSource, k, src)
	}
	return nil
}

// Streams returns n independent sources derived from src, one per worker
// goroutine: fresh crypto-seeded streams for a *Rand, deterministic children
// for a seeded test source (so that parallel test runs are reproducible).
// src must implement Forker.
func Streams(src Source, n int) ([]Source, error) {
	if n < 0 {
		return nil, fmt.Errorf("dp: streams: negative count %d", n)
	}
	f, ok := src.(Forker)
	if !ok {
		return nil, fmt.Errorf("dp: streams: source %T cannot derive independent streams (want a Forker)", src)
	}
	out := make([]Source, n)
	for i := range out {
		out[i] = f.Fork()
	}
	return out, nil
}
