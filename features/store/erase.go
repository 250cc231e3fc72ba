package store

// Erasure must be atomic for readers even when a customer has more keys than
// one Badger transaction can delete (about 26,000 with MinMemTableSize). It
// runs in up to three steps:
//
//  1. Under db.mu held exclusively, one transaction applies the consent
//     change (rewrite or delete the record) and deletes everything in the
//     erasure's scope. If that fits, it commits and the erasure is done.
//  2. Otherwise, that transaction is discarded and a smaller one commits the
//     consent change together with an erasure marker (x | pseudo) naming the
//     scope. From then on every read hides what the marker covers and every
//     append of it is refused, so the customer looks erased at once.
//  3. finishErasure deletes the keys in the scope in as many transactions as
//     needed and deletes the marker with the last of them. If the process
//     stops first, Open (and RunGC's loop) resume it.
//
// Physical removal of the bytes waits for compaction (see Compact).

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/discret-io/discret/privacy"
)

// Removed counts the keys an erasure deleted, per table (TableConsent,
// TableEvents, ...). Tables with nothing deleted are absent.
type Removed map[string]int

// Total returns the number of keys deleted.
func (r Removed) Total() int {
	n := 0
	for _, v := range r {
		n += v
	}
	return n
}

// Forget erases customer p entirely: their consent record and every key of
// every customer table, atomically for readers (see the erasure protocol in
// erase.go), and records the time of the erasure (erased.go), so that
// nothing dated before it can be stored again. The bytes leave the disk
// after Compact (or, eventually, through Badger's background compactions).
//
// The erasure's audit entry (AuditForget, with the records erased per
// table and the actor of ctx) is written in the transaction of its first
// step: an erasure that took effect has its entry, a failed one has none.
// An erasure too large for one transaction counts in its entry the records
// its later steps erase.
func (db *DB) Forget(ctx context.Context, p privacy.PseudoID) (Removed, error) {
	return db.forgetAt(ctx, p, db.now(), true)
}

// forgetAt is Forget, recording the erasure at t; audited as in erase.
func (db *DB) forgetAt(ctx context.Context, p privacy.PseudoID, t time.Time, audited bool) (Removed, error) {
	removed, err := db.erase(ctx, p, audited, func(txn *badger.Txn, removed Removed) (scope, error) {
		if err := setErased(txn, p, t); err != nil {
			return scope{}, err
		}
		_, err := txn.Get(consentKey(p))
		switch {
		case errors.Is(err, badger.ErrKeyNotFound):
		case err != nil:
			return scope{}, err
		default:
			if err := txn.Delete(consentKey(p)); err != nil {
				return scope{}, err
			}
			removed[TableConsent]++
		}
		return scopeAll, nil
	})
	if err != nil {
		return removed, wrapf(err, "forget")
	}
	return removed, nil
}

// erase runs the erasure protocol for p. first changes p's consent record in
// the given transaction, counting what it deletes in removed, and returns the
// scope to erase; it may run more than once. If audited is set, the
// transaction of the first step also writes the AuditForget entry.
func (db *DB) erase(ctx context.Context, p privacy.PseudoID, audited bool, first func(*badger.Txn, Removed) (scope, error)) (Removed, error) {
	removed := Removed{}
	chunked := false
	db.mu.Lock()
	err := db.update(ctx, func(txn *badger.Txn) error {
		clear(removed)
		s, err := first(txn, removed)
		if err != nil {
			return err
		}
		pending, err := getMarker(txn, p)
		if err != nil {
			return err
		}
		done, err := db.eraseInTxn(txn, p, s.union(pending), removed)
		if err != nil {
			return err
		}
		if !done {
			return errChunked
		}
		if !pending.empty() {
			if err := txn.Delete(erasureKey(p)); errors.Is(err, badger.ErrTxnTooBig) {
				return errChunked
			} else if err != nil {
				return err
			}
		}
		if audited {
			if err := db.putAudit(ctx, txn, forgetEntry(p, removed)); errors.Is(err, badger.ErrTxnTooBig) {
				return errChunked
			} else if err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, errChunked) {
		chunked = true
		err = db.update(ctx, func(txn *badger.Txn) error {
			clear(removed)
			s, err := first(txn, removed)
			if err != nil {
				return err
			}
			pending, err := getMarker(txn, p)
			if err != nil {
				return err
			}
			s = s.union(pending)
			if audited {
				// The entry counts what the later steps will erase.
				counts := maps.Clone(removed)
				if err := countInScope(txn, p, s, counts); err != nil {
					return err
				}
				if err := db.putAudit(ctx, txn, forgetEntry(p, counts)); err != nil {
					return err
				}
			}
			if s.empty() {
				return nil
			}
			return txn.Set(erasureKey(p), encodeMarker(s))
		})
	}
	db.consents.invalidate(p) // first changed p's consent record
	db.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if chunked {
		rest, err := db.finishErasure(ctx, p)
		for t, n := range rest {
			removed[t] += n
		}
		if err != nil {
			return nonEmpty(removed), fmt.Errorf("erasure begun, hidden from reads, to be resumed: %w", err)
		}
	}
	return nonEmpty(removed), nil
}

// forgetEntry is the audit entry of Forget's erasure of p, which removed
// (or will remove) the records counted in removed.
func forgetEntry(p privacy.PseudoID, removed Removed) AuditEntry {
	counts := make(map[string]int64, len(removed))
	for t, n := range removed {
		counts[t] = int64(n)
	}
	return AuditEntry{Action: AuditForget, Subject: SubjectOf(p), Counts: counts}
}

// countInScope adds to counts, per table, the keys of p in scope s.
func countInScope(txn *badger.Txn, p privacy.PseudoID, s scope, counts Removed) error {
	return inScope(txn, p, s, func(t customerTable, _ *badger.Item) error {
		counts[t.name]++
		return nil
	})
}

// inScope calls fn, table by table, with each of p's keys in scope s, and
// stops at the first error fn returns.
func inScope(txn *badger.Txn, p privacy.PseudoID, s scope, fn func(t customerTable, item *badger.Item) error) error {
	if s.empty() {
		return nil
	}
	for _, t := range customerTables {
		err := func() error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: customerPrefix(t.tag, p)})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				if item := it.Item(); t.erasedBy(s, item.Key()) {
					if err := fn(t, item); err != nil {
						return err
					}
				}
			}
			return nil
		}()
		if err != nil {
			return err
		}
	}
	return nil
}

// errChunked stops what a transaction cannot hold: eraseInTxn's walk, and
// erase's first transaction, which erase then discards.
var errChunked = errors.New("store: erasure too large for one transaction")

func nonEmpty(r Removed) Removed {
	if len(r) == 0 {
		return nil
	}
	return r
}

// eraseInTxn deletes, in txn, p's keys in scope s, counting them in removed.
// It stops when the transaction is full and reports whether it deleted them
// all.
func (db *DB) eraseInTxn(txn *badger.Txn, p privacy.PseudoID, s scope, removed Removed) (done bool, err error) {
	n := 0
	err = inScope(txn, p, s, func(t customerTable, item *badger.Item) error {
		if db.opts.eraseChunk > 0 && n >= db.opts.eraseChunk {
			return errChunked
		}
		err := txn.Delete(item.KeyCopy(nil))
		if errors.Is(err, badger.ErrTxnTooBig) {
			return errChunked
		}
		if err != nil {
			return err
		}
		removed[t.name]++
		n++
		return nil
	})
	if errors.Is(err, errChunked) {
		return false, nil
	}
	return err == nil, err
}

// finishErasure completes the erasure pending for p, if any, in as many
// transactions as needed, and removes its marker with the last one.
func (db *DB) finishErasure(ctx context.Context, p privacy.PseudoID) (Removed, error) {
	db.eraseMu.Lock()
	defer db.eraseMu.Unlock()
	removed := Removed{}
	chunk := Removed{}
	for {
		done := false
		db.mu.RLock()
		err := db.update(ctx, func(txn *badger.Txn) error {
			clear(chunk)
			done = false
			s, err := getMarker(txn, p)
			if err != nil {
				return err
			}
			if s.empty() { // no marker: nothing pending
				done = true
				return nil
			}
			if done, err = db.eraseInTxn(txn, p, s, chunk); err != nil {
				return err
			}
			if !done && len(chunk) == 0 {
				return errors.New("store: erasure made no progress")
			}
			if done {
				err := txn.Delete(erasureKey(p))
				if errors.Is(err, badger.ErrTxnTooBig) { // full: next time
					done = false
					return nil
				}
				return err
			}
			return nil
		})
		db.mu.RUnlock()
		if err != nil {
			return removed, err
		}
		for t, n := range chunk {
			removed[t] += n
		}
		if done {
			return removed, nil
		}
	}
}

// resumeErasures completes every pending erasure: those interrupted by a
// crash or a cancelled context.
func (db *DB) resumeErasures(ctx context.Context) error {
	var markers map[privacy.PseudoID]scope
	err := db.view(func(txn *badger.Txn) error {
		var err error
		markers, err = loadMarkers(txn)
		return err
	})
	if err != nil {
		return wrapf(err, "pending erasures")
	}
	if len(markers) > 0 {
		db.log.Warn("store: resuming interrupted erasures", "customers", len(markers))
	}
	for p := range maps.Keys(markers) {
		if _, err := db.finishErasure(ctx, p); err != nil {
			return wrapf(err, "resume an erasure")
		}
	}
	return nil
}
