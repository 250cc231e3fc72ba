package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

const (
	// gcDiscardRatio is the share of garbage from which RunGC's passes
	// rewrite a value-log file (Badger's recommendation).
	gcDiscardRatio = 0.5
	// forcedDiscardRatio makes Compact rewrite every value-log file holding
	// any garbage at all, so that no byte of an erased value survives.
	forcedDiscardRatio = 1e-9
)

// Compact removes erased and expired data from the disk now rather than
// eventually: it deletes anew every key that has expired or was deleted
// (deleteDead), so that their tables are rewritten, flushes the memtables
// to tables, compacts the whole LSM tree into its last level (Badger's
// Flatten), where deleted and expired keys are dropped, and then rewrites
// every value-log file holding garbage. Run it after an erasure that must
// leave the disk promptly. Finding the keys reads every key once; writes
// wait while the memtables are flushed (well under a second on a store of
// millions of events; the flush waits for a compaction Badger already
// runs); reads continue throughout, and writes during Flatten. Flatten
// cannot be interrupted: ctx is checked between the steps and during the
// search. A successful run records its time (LastCompaction). In memory,
// it does nothing: there is no disk to clean.
//
// Badger cannot rewrite the value-log file it is currently appending to.
// With the default ValueThreshold no value goes to the value log, so this
// only matters for stores configured to use it.
func (db *DB) Compact(ctx context.Context) error {
	if db.opts.InMemory {
		return nil
	}
	db.gcMu.Lock()
	defer db.gcMu.Unlock()
	if err := db.deleteDead(ctx); err != nil {
		return wrapf(err, "compact: delete expired and deleted keys")
	}
	if err := db.flush(); err != nil {
		return wrapf(err, "compact: flush")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := db.bdb.Flatten(db.opts.NumCompactors); err != nil {
		return wrapf(err, "compact: flatten")
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := db.bdb.RunValueLogGC(forcedDiscardRatio)
		if errors.Is(err, badger.ErrNoRewrite) {
			return db.setLastCompaction(ctx, db.now())
		}
		if err != nil {
			return wrapf(err, "compact: value-log GC")
		}
	}
}

// deleteDead deletes every dead key: one whose latest version has expired,
// by the store's clock or by Badger's (the wall clock), or is a deletion.
// Badger drops an expired or deleted entry only when a compaction
// rewrites its table, and Flatten rewrites none once the tree is on one
// level: an entry that expired after its table reached the last level
// would stay on the disk (and, with it, its value in the value log), and
// so would a deletion, and what it deletes, that a compaction had to keep
// for a reader's snapshot. A new deletion goes to a new table, which
// Flatten merges with the tables holding the key, and the merge drops
// them all. The scan goes through every version, since Badger's iterators
// otherwise skip the keys it is looking for, without fetching values.
func (db *DB) deleteDead(ctx context.Context) error {
	pick := func(item *badger.Item, now time.Time) bool {
		return item.IsDeletedOrExpired() || expired(item.ExpiresAt(), now)
	}
	_, err := db.deleteSelected(ctx, badger.IteratorOptions{AllVersions: true}, pick, db.deleteIfDead)
	return err
}

// deleteIfDead deletes those of keys that are still dead: expired at now,
// or absent (expired by the wall clock, or deleted), in as many
// transactions as they take, as a writer. A key written again since it
// was found dead is left alone: the transaction reads each key, so it
// conflicts with such a write and is retried.
func (db *DB) deleteIfDead(ctx context.Context, keys [][]byte, now time.Time) error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	for len(keys) > 0 {
		n := 0 // keys done
		err := db.update(ctx, func(txn *badger.Txn) error {
			for n = 0; n < len(keys); n++ {
				item, err := txn.Get(keys[n])
				switch {
				case errors.Is(err, badger.ErrKeyNotFound):
				case err != nil:
					return err
				case !expired(item.ExpiresAt(), now):
					continue
				}
				err = txn.Delete(keys[n])
				if errors.Is(err, badger.ErrTxnTooBig) && n > 0 {
					return nil // full: the rest in the next transaction
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// flush writes the memtables out as level-0 tables, so that compaction can
// drop what they delete. Badger v4 has no public flush: DropPrefix is the
// documented operation that flushes every memtable ("Flush out all
// memtables, skipping over keys with the given prefix"), so flush writes a
// scratch key and drops it. DropPrefix makes concurrent commits fail, hence
// the exclusive lock, which our writers wait on instead.
func (db *DB) flush() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if err := db.bdb.Update(func(txn *badger.Txn) error { return txn.Set(scratchKey, nil) }); err != nil {
		return err
	}
	return db.bdb.DropPrefix(scratchKey)
}

// RunGC runs the store's maintenance every interval until ctx is done, then
// returns nil: the completion of any erasure left pending by a cancelled
// request, the deletion of events past the retention period in force
// (DeleteExpired), and a value-log GC pass (rewriting files at least half
// garbage). Problems are logged, not returned. In memory, there is no
// value log to collect.
//
// The deletion runs at the start, and at each interval until one has gone
// through the whole store: events a shortened period no longer keeps are
// hidden already, but deleting them can take a while on a large store.
// After that there is nothing left for it to do while the store is open,
// since AppendEvents stores every event with at most the policy's expiry,
// at which Badger's TTL hides it (and Compact then removes it).
func (db *DB) RunGC(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("store: RunGC interval must be positive, got %s", interval)
	}
	db.sweep(ctx)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := db.resumeErasures(ctx); err != nil && ctx.Err() == nil {
			db.log.Warn("store: resuming erasures", "err", err)
		}
		db.sweep(ctx)
		if !db.opts.InMemory {
			db.gcPass(ctx)
		}
	}
}

// sweep runs DeleteExpired, logging what it deleted or why it failed,
// until one run has gone through the whole store since it was opened;
// after that it does nothing. Calls wait for each other, so the scheduled
// compaction, which sweeps first, cannot start while RunGC's sweep is
// still deleting: the events it deletes leave the disk with that
// compaction.
func (db *DB) sweep(ctx context.Context) {
	db.sweepMu.Lock()
	defer db.sweepMu.Unlock()
	if db.swept {
		return
	}
	n, err := db.DeleteExpired(ctx)
	if err != nil && ctx.Err() == nil {
		db.log.Warn("store: deleting events past retention", "err", err)
	}
	if n > 0 {
		db.log.Info("store: deleted events past the retention period in force", "events", n)
	}
	db.swept = err == nil
}

// gcPass rewrites value-log files until none is at least gcDiscardRatio
// garbage.
func (db *DB) gcPass(ctx context.Context) {
	db.gcMu.Lock()
	defer db.gcMu.Unlock()
	for ctx.Err() == nil {
		err := db.bdb.RunValueLogGC(gcDiscardRatio)
		switch {
		case err == nil:
			continue
		case errors.Is(err, badger.ErrNoRewrite), errors.Is(err, badger.ErrRejected):
		default:
			db.log.Warn("store: value-log GC", "err", err)
		}
		return
	}
}

// CompactEvery runs Compact every interval until ctx is done, then returns
// nil, so that erased and expired data leaves the disk within a bounded
// time while a server holds the store open, rather than whenever Badger's
// own compactions reach it. The first run comes interval after the last
// one recorded (LastCompaction), at once if that is past or there is none,
// so that restarts do not put it off. Like 'discret compact', a run
// first deletes the events past the retention period in force, if no
// deletion has gone through the whole store since it was opened (RunGC
// starts with one; the run waits for it), so that they leave the disk
// with that compaction. Each run is logged with its duration; a failed
// run is logged and retried at the next interval.
func (db *DB) CompactEvery(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("store: CompactEvery interval must be positive, got %s", interval)
	}
	last, err := db.LastCompaction(ctx)
	switch {
	case errors.Is(err, errBadCompacted):
		// Only the schedule's reckoning, which an earlier build wrote in
		// another form: compact at once, which records it anew. No data
		// is at stake, so this is no warning about corruption.
		db.log.Info("store: the last compaction's time is not in this build's form (an earlier build's); compacting now")
	case err != nil:
		return err
	}
	db.compactOnTimer(ctx, firstRun(last, db.now(), interval), interval, time.After)
	return nil
}

// firstRun is how long after now the first run of a schedule comes:
// interval after last, at once when that is past or there was no run, and
// at most interval when last is ahead of now (a clock set back since).
func firstRun(last, now time.Time, interval time.Duration) time.Duration {
	if last.IsZero() {
		return 0
	}
	return min(interval, max(0, interval-now.Sub(last)))
}

// compactOnTimer runs Compact after first, then every interval, until ctx
// is done; after is time.After (a seam for tests).
func (db *DB) compactOnTimer(ctx context.Context, first, interval time.Duration, after func(time.Duration) <-chan time.Time) {
	onTimer(ctx, first, interval, db.now, after, func() {
		db.sweep(ctx)
		start := time.Now()
		if err := db.Compact(ctx); err != nil {
			if ctx.Err() == nil {
				db.log.Warn("store: scheduled compaction", "err", err)
			}
			return
		}
		db.log.Info("store: compacted; erased and expired data is off the disk", "seconds", time.Since(start).Seconds())
	})
}

// onTimer calls run after first, then every interval from the start of
// the run before (at once after a run longer than interval), until ctx is
// done, so that runs do not drift by their duration; now measures a run
// and after is time.After (seams for tests).
func onTimer(ctx context.Context, first, interval time.Duration, now func() time.Time, after func(time.Duration) <-chan time.Time, run func()) {
	for wait := first; ; {
		select {
		case <-ctx.Done():
			return
		case <-after(wait):
		}
		start := now()
		run()
		wait = min(interval, max(0, interval-now().Sub(start))) // a clock set back: no longer
	}
}

var errBadCompacted = fmt.Errorf("%w: last compaction time", ErrCorrupt)

// LastCompaction returns the time of the last successful Compact (to the
// second), or the zero time if there was none.
func (db *DB) LastCompaction(ctx context.Context) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	var t time.Time
	err := db.view(func(txn *badger.Txn) error {
		var err error
		t, err = getSeconds(txn, compactedKey, errBadCompacted)
		return err
	})
	if err != nil {
		return time.Time{}, wrapf(err, "last compaction")
	}
	return t, nil
}

func (db *DB) setLastCompaction(ctx context.Context, t time.Time) error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	err := db.update(ctx, func(txn *badger.Txn) error {
		return txn.Set(compactedKey, encodeSeconds(t))
	})
	if err != nil {
		return wrapf(err, "compact: record its time")
	}
	return nil
}
