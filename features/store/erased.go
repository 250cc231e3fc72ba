package store

// Erasure records. Forget leaves one key behind, and only one: the time of
// the erasure, under a one-way hash of the pseudonym (erasedKey). It is what
// makes an erasure last. consent.Record.ErasedAt explains the rule: nothing
// dated at or before the erasure (a consent choice from an old CRM export, an
// event file sent again) can bring the customer's data back; only choices
// and events dated after it, of a customer who came back, are stored.
//
// The record is read where a consent record is read, when the customer has
// no consent record (getConsent, getDecision); once the customer consents
// again, their consent record carries ErasedAt itself (values.go, v2).
//
// Value: a time value (values.go).

import (
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/discret-io/discret/privacy"
)

var errBadErased = fmt.Errorf("%w: erasure record", ErrCorrupt)

// getErased returns the time of p's last erasure recorded by Forget, zero if
// none.
func getErased(txn *badger.Txn, p privacy.PseudoID) (time.Time, error) {
	return getSeconds(txn, erasedKey(p), errBadErased)
}

// setErased records that p was erased at t.
func setErased(txn *badger.Txn, p privacy.PseudoID, t time.Time) error {
	return txn.Set(erasedKey(p), encodeSeconds(t))
}
