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
// Value: v1 | varint unix seconds.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/discret-io/discret/privacy"
)

var errBadErased = fmt.Errorf("%w: erasure record", ErrCorrupt)

func encodeErased(t time.Time) []byte {
	return binary.AppendVarint([]byte{valueV1}, t.Unix())
}

func decodeErased(v []byte) (time.Time, error) {
	if len(v) < 2 || v[0] != valueV1 {
		return time.Time{}, errBadErased
	}
	sec, k := binary.Varint(v[1:])
	if k <= 0 || 1+k != len(v) || sec <= 0 || sec > maxUnixSecond {
		return time.Time{}, errBadErased
	}
	return time.Unix(sec, 0).UTC(), nil
}

// getErased returns the time of p's last erasure recorded by Forget, zero if
// none.
func getErased(txn *badger.Txn, p privacy.PseudoID) (time.Time, error) {
	item, err := txn.Get(erasedKey(p))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	var t time.Time
	err = item.Value(func(v []byte) error {
		t, err = decodeErased(v)
		return err
	})
	return t, err
}

// setErased records that p was erased at t.
func setErased(txn *badger.Txn, p privacy.PseudoID, t time.Time) error {
	return txn.Set(erasedKey(p), encodeErased(t))
}
