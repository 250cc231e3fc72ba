package store

import (
	"bytes"
	"context"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// deleteChunk is the number of events DeleteExpired deletes per
// transaction, well within a transaction's limits (see MaxBatchEvents).
const deleteChunk = 4096

// eventExpiry returns when the event with key must be gone, in Unix seconds
// (0 for never): the earlier of its stored expiry exp, set by the retention
// policy when it arrived, and the expiry the policy in force
// (Options.Retention) gives it now. So a period shortened since the event
// arrived hides it at once.
func (db *DB) eventExpiry(key []byte, exp uint64) uint64 {
	p := db.opts.Retention
	if p == nil {
		return exp
	}
	k, ok := eventKeyKind(key)
	t, ok2 := eventKeyTime(key)
	if !ok || !ok2 {
		return exp
	}
	// An event before 1970 expires at the epoch's first second: long past.
	policy := uint64(max(p.ExpiresAt(k, t).Unix(), 1))
	if exp == 0 || policy < exp {
		return policy
	}
	return exp
}

// DeleteExpired deletes the events that the retention policy in force
// (Options.Retention) no longer keeps although their stored expiry, given
// under a longer period, is still ahead. Reads hide such events already;
// DeleteExpired removes them from the store, in as many transactions as
// needed, and Compact then removes their bytes from the disk. It returns
// the number deleted. Without a policy it does nothing.
func (db *DB) DeleteExpired(ctx context.Context) (int, error) {
	if db.opts.Retention == nil {
		return 0, nil
	}
	pick := func(item *badger.Item, now time.Time) bool {
		exp := item.ExpiresAt()
		return !expired(exp, now) && expired(db.eventExpiry(item.Key(), exp), now)
	}
	del := func(ctx context.Context, keys [][]byte, _ time.Time) error { return db.deleteKeys(ctx, keys) }
	n, err := db.deleteSelected(ctx, badger.IteratorOptions{Prefix: []byte{tagEvent}}, pick, del)
	if err != nil {
		return n, wrapf(err, "delete expired events")
	}
	return n, nil
}

// deleteSelected has del delete the keys that pick selects among those
// an iterator with opts goes through, deleteChunk keys at a time: each
// chunk is found in a read transaction, with the time read once for it,
// which pick and del are given. With opts.AllVersions, pick sees only the
// latest version of each key (deleted and expired ones included). It
// returns the number of keys given to del.
func (db *DB) deleteSelected(ctx context.Context, opts badger.IteratorOptions, pick func(item *badger.Item, now time.Time) bool, del func(ctx context.Context, keys [][]byte, now time.Time) error) (int, error) {
	total := 0
	from := opts.Prefix
	for {
		now := db.now()
		var keys [][]byte
		more := false
		err := db.view(func(txn *badger.Txn) error {
			it := txn.NewIterator(opts)
			defer it.Close()
			var last []byte
			n := 0
			for it.Seek(from); it.Valid(); it.Next() {
				if n++; n%4096 == 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
				}
				item := it.Item()
				if opts.AllVersions {
					if bytes.Equal(item.Key(), last) {
						continue // an older version
					}
					last = item.KeyCopy(last[:0])
				}
				if !pick(item, now) {
					continue
				}
				if len(keys) == deleteChunk {
					more = true
					return nil
				}
				keys = append(keys, item.KeyCopy(nil))
			}
			return nil
		})
		if err == nil && len(keys) > 0 {
			err = del(ctx, keys, now)
		}
		if err != nil {
			return total, err
		}
		total += len(keys)
		if !more {
			return total, nil
		}
		// Resume just after the last key deleted.
		from = append(bytes.Clone(keys[len(keys)-1]), 0)
	}
}
