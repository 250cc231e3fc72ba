package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// The privacy ledger is an append-only list of JSON documents, one per
// release that spent privacy budget, in time order. The store does not read
// the documents: model/budget defines them and decides whether a new charge
// fits the budget, through LedgerCharge.Check, which runs in the transaction
// that appends, so that two releases cannot both pass a check that only one
// of them fits. Ledger entries are not customer data: Forget does not touch
// them, and nothing ever deletes them.

// MaxLedgerEntry bounds the size of one ledger document.
const MaxLedgerEntry = 64 << 10

// ErrInvalidLedger is returned for a ledger entry that cannot be appended.
var ErrInvalidLedger = errors.New("store: invalid ledger entry")

// LedgerRecord is one stored ledger entry.
type LedgerRecord struct {
	// Time is the entry's time, at millisecond precision: ledger order.
	Time time.Time
	// Seq orders entries of the same millisecond, in append order.
	Seq uint32
	// Data is the entry, a JSON document.
	Data []byte
}

// LedgerCharge is an entry to append.
type LedgerCharge struct {
	// Time of the entry (the caller's clock), truncated to the millisecond.
	Time time.Time
	// Data is a JSON document of at most MaxLedgerEntry bytes.
	Data []byte
	// Check, if not nil, is called with every entry already in the ledger,
	// in ledger order, inside the appending transaction; an error from it
	// refuses the append and is returned as it is: the caller's refusal,
	// not a failure of the store.
	Check func(prev []LedgerRecord) error
}

func (c *LedgerCharge) validate() error {
	switch {
	case c.Time.IsZero() || c.Time.Year() < 1970 || c.Time.Year() > 9999:
		return fmt.Errorf("%w: time %v", ErrInvalidLedger, c.Time)
	case len(c.Data) > MaxLedgerEntry:
		return fmt.Errorf("%w: %d bytes (at most %d)", ErrInvalidLedger, len(c.Data), MaxLedgerEntry)
	case !json.Valid(c.Data):
		return fmt.Errorf("%w: not a JSON document", ErrInvalidLedger)
	}
	return nil
}

// value returns the stored value of c: v1 | data.
func (c *LedgerCharge) value() ([]byte, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	return append([]byte{valueV1}, c.Data...), nil
}

// AppendLedger appends c to the ledger, durably, after c.Check accepted the
// entries already there, and returns the stored record.
func (db *DB) AppendLedger(ctx context.Context, c LedgerCharge) (LedgerRecord, error) {
	v, err := c.value()
	if err != nil {
		return LedgerRecord{}, err
	}
	db.releaseMu.Lock()
	defer db.releaseMu.Unlock()
	var rec LedgerRecord
	db.mu.RLock()
	err = db.update(ctx, func(txn *badger.Txn) error {
		var err error
		rec, err = appendLedgerWith(txn, &c, v)
		return err
	})
	db.mu.RUnlock()
	if r := (*refusal)(nil); errors.As(err, &r) {
		return LedgerRecord{}, r.err
	}
	if err != nil {
		return LedgerRecord{}, wrapf(err, "append ledger")
	}
	return rec, nil
}

// refusal carries the error of a LedgerCharge.Check out of the
// transaction, so that it is returned without the store's wrapping.
type refusal struct{ err error }

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// appendLedgerInTxn appends c (whose stored value is v) in txn, for
// PutRelease. The caller holds db.releaseMu.
func appendLedgerInTxn(txn *badger.Txn, c *LedgerCharge, v []byte) error {
	_, err := appendLedgerWith(txn, c, v)
	return err
}

func appendLedgerWith(txn *badger.Txn, c *LedgerCharge, v []byte) (LedgerRecord, error) {
	prev, err := readLedger(txn)
	if err != nil {
		return LedgerRecord{}, err
	}
	if c.Check != nil {
		if err := c.Check(prev); err != nil {
			return LedgerRecord{}, &refusal{err}
		}
	}
	t := c.Time.UTC().Truncate(time.Millisecond)
	var seq uint32
	for _, r := range prev {
		if r.Time.Equal(t) && r.Seq >= seq {
			if r.Seq == math.MaxUint32 {
				return LedgerRecord{}, fmt.Errorf("%w: too many entries at %v", ErrInvalidLedger, t)
			}
			seq = r.Seq + 1
		}
	}
	if err := txn.Set(ledgerKey(t, seq), v); err != nil {
		return LedgerRecord{}, err
	}
	return LedgerRecord{Time: t, Seq: seq, Data: bytes.Clone(v[1:])}, nil
}

// Ledger returns every ledger entry, in ledger order (time, then append
// order within a millisecond).
func (db *DB) Ledger(ctx context.Context) ([]LedgerRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []LedgerRecord
	err := db.view(func(txn *badger.Txn) error {
		var err error
		out, err = readLedger(txn)
		return err
	})
	if err != nil {
		return nil, wrapf(err, "ledger")
	}
	return out, nil
}

func readLedger(txn *badger.Txn) ([]LedgerRecord, error) {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagLedger}, PrefetchValues: true})
	defer it.Close()
	var out []LedgerRecord
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		t, seq, ok := decodeLedgerKey(item.Key())
		if !ok {
			return nil, fmt.Errorf("%w: ledger key", ErrCorrupt)
		}
		rec := LedgerRecord{Time: t, Seq: seq}
		err := item.Value(func(v []byte) error {
			if len(v) < 2 || v[0] != valueV1 {
				return fmt.Errorf("%w: ledger entry", ErrCorrupt)
			}
			rec.Data = bytes.Clone(v[1:])
			return nil
		})
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// ledgerKey returns l | time(8) | seq(4).
func ledgerKey(t time.Time, seq uint32) []byte {
	k := make([]byte, 1+8, 1+8+4)
	k[0] = tagLedger
	encodeTime(k[1:], t)
	return binary.BigEndian.AppendUint32(k, seq)
}

func decodeLedgerKey(key []byte) (time.Time, uint32, bool) {
	if len(key) != 1+8+4 || key[0] != tagLedger {
		return time.Time{}, 0, false
	}
	return decodeTime(key[1:9]), binary.BigEndian.Uint32(key[9:]), true
}
