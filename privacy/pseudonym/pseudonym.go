// Package pseudonym turns raw customer identifiers into pseudonyms with a
// keyed HMAC-SHA256. It is the only way from a privacy.CustomerID to a
// privacy.PseudoID: without the key, a pseudonym cannot be linked back to the
// customer, nor recomputed from a guessed identifier.
package pseudonym

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"hash"
	"sync"

	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/internal/rawid"
)

// MinKeySize is the shortest HMAC key accepted, in bytes.
const MinKeySize = 32

// ErrShortKey is returned by New for a key shorter than MinKeySize.
var ErrShortKey = errors.New("pseudonym: key shorter than 32 bytes")

// Keyed pseudonymizes with one HMAC key. It is safe for concurrent use.
type Keyed struct {
	pool sync.Pool // of hash.Hash keyed with the key; guards nothing shared
}

// New returns a Keyed using a copy of key.
func New(key []byte) (*Keyed, error) {
	if len(key) < MinKeySize {
		return nil, ErrShortKey
	}
	k := append([]byte(nil), key...)
	p := &Keyed{}
	p.pool.New = func() any { return hmac.New(sha256.New, k) }
	return p, nil
}

// Pseudonymize returns the pseudonym of c: the first privacy.PseudoIDSize
// bytes of HMAC-SHA256(key, raw id) (RFC 2104; truncation as in RFC 2104 §5).
func (p *Keyed) Pseudonymize(c privacy.CustomerID) privacy.PseudoID {
	h := p.pool.Get().(hash.Hash)
	h.Reset()
	h.Write([]byte(rawid.Reveal(c)))
	var sum [sha256.Size]byte
	var id privacy.PseudoID
	copy(id[:], h.Sum(sum[:0]))
	p.pool.Put(h)
	return id
}
