package store

// Backups are copies of the store that are themselves data directories:
// Open opens one with the master key of the store it copies, so a restore
// is a matter of pointing --data at it (or moving it into place), and the
// copy is encrypted by Badger exactly as the live store is. The copy is
// made from one read snapshot and written through Badger's own restore
// path (KVLoader, the writer of DB.Load), key by key in memory, so that
// no plaintext ever reaches the disk.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
)

// ErrBackupExists is returned by Backup when its destination exists.
var ErrBackupExists = errors.New("store: backup destination already exists")

// BackupPrefix begins the name of every copy that BackupInto makes; the
// rest of the name is its time (BackupTimeLayout, UTC).
const (
	BackupPrefix     = "discret-backup-"
	BackupTimeLayout = "20060102T150405Z"
	// partialMark is in the name of a copy being written: Backup writes
	// into a hidden partial directory and renames it when complete.
	partialMark = ".partial-"
)

// BackupStats says what Backup copied.
type BackupStats struct {
	// Entries is the number of keys copied (events, consent records,
	// releases' chunks, audit entries...).
	Entries int64
	// Bytes is the size of their keys and values, before Badger's
	// compression and encryption.
	Bytes int64
}

// Backup writes a copy of the store into dir, a new directory (it refuses
// an existing one with ErrBackupExists). The copy is a Discret store that
// Open opens with the same key: everything the store holds as of one read
// snapshot (so a transaction is in it entirely or not at all), each event
// with its expiry, nothing erased or expired. An erasure that was in
// progress is completed in the copy before Backup returns. The copy is
// written into a hidden directory beside dir and renamed to dir once
// complete and synced: after a failure, a cancellation or a crash there is
// no dir, and a partial directory left by a crash is removed by the next
// BackupInto of that directory. Backup refuses with ErrNoSpace a file
// system without room for the store's current size and what Badger needs
// to write it. It runs while the store serves reads and writes.
func (db *DB) Backup(ctx context.Context, dir string) (BackupStats, error) {
	if dir == "" {
		return BackupStats{}, errors.New("store: backup: no destination directory")
	}
	if !db.opts.InMemory {
		if err := CheckBackupDir(db.opts.Dir, dir); err != nil {
			return BackupStats{}, err
		}
	}
	if _, err := os.Lstat(dir); err == nil {
		return BackupStats{}, fmt.Errorf("%w: %s; choose a new directory", ErrBackupExists, dir)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return BackupStats{}, wrapf(err, "backup")
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return BackupStats{}, wrapf(err, "backup")
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+partialMark)
	if err != nil {
		return BackupStats{}, wrapf(err, "backup")
	}
	stats, err := db.backupTo(ctx, tmp)
	if err == nil {
		if err = os.Rename(tmp, dir); err == nil {
			// From here a failure leaves no copy either: not one that
			// might not survive a crash.
			tmp = dir
			err = syncDir(parent)
		}
	}
	if err != nil {
		if rerr := os.RemoveAll(tmp); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return BackupStats{}, wrapf(err, "backup to %s", dir)
	}
	return stats, nil
}

// CheckBackupDir refuses a backup destination dir inside (or equal to)
// the data directory data, which Badger would take for its own files.
func CheckBackupDir(data, dir string) error {
	src, err1 := filepath.Abs(data)
	dst, err2 := filepath.Abs(dir)
	if err := errors.Join(err1, err2); err != nil {
		return wrapf(err, "backup")
	}
	if rel, err := filepath.Rel(src, dst); err == nil && (rel == "." || filepath.IsLocal(rel)) {
		return fmt.Errorf("store: backup: %s is inside the data directory %s; choose a directory outside it", dir, data)
	}
	if rel, err := filepath.Rel(dst, src); err == nil && filepath.IsLocal(rel) {
		return fmt.Errorf("store: backup: the data directory %s is inside the backup directory %s (a restored copy?): its pruning could delete it; move the data directory out, or choose another backup directory", data, dir)
	}
	return nil
}

// backupTo copies the store into the empty directory tmp.
func (db *DB) backupTo(ctx context.Context, tmp string) (BackupStats, error) {
	o := db.opts
	o.Dir, o.InMemory = tmp, false
	// The default memory sizes, not the live store's, which may be large:
	// the copy only streams keys in, once.
	o.MemTableSize, o.NumMemtables = DefaultMemTableSize, DefaultNumMemtables
	o.BlockCacheSize, o.IndexCacheSize = DefaultBlockCacheSize, DefaultIndexCacheSize
	u, err := db.Usage()
	if err != nil {
		return BackupStats{}, err
	}
	free, err := o.free()
	if err != nil {
		return BackupStats{}, err
	}
	if need := u.Disk + o.spaceNeeded(); free >= 0 && free < need {
		return BackupStats{}, fmt.Errorf("%w: backup directory %s: %s free on its file system, the copy needs about %s (the store's size and Badger's room to write): free some space or choose another file system",
			ErrNoSpace, filepath.Dir(tmp), mibf(free), mibf(need))
	}
	dst, err := Open(o)
	if err != nil {
		return BackupStats{}, err
	}
	stats, err := db.copyTo(ctx, dst)
	// Close flushes the memtables and syncs Badger's files.
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return BackupStats{}, err
	}
	// Open again, which completes an erasure that was in progress in the
	// snapshot (its marker came with it), and compact, so that the keys it
	// deletes leave the copy's files.
	if dst, err = Open(o); err != nil {
		return BackupStats{}, err
	}
	err = dst.Compact(ctx)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	return stats, err
}

// copyTo writes every live key of one snapshot of db into the empty store
// to, with its version, user meta and expiry, through Badger's KVLoader
// (the writer of DB.Load, Badger's restore): batched writes, no
// transactions. to's reads do not see the keys until it is opened again,
// which sets its timestamps past theirs.
//
// It holds gcMu, so that no compaction or value-log GC runs while its
// snapshot is open: Badger keeps every version an open snapshot can read,
// so a Compact run then would leave on the disk what an erasure since the
// snapshot deleted, and still record that it had cleaned the disk.
func (db *DB) copyTo(ctx context.Context, to *DB) (BackupStats, error) {
	db.gcMu.Lock()
	defer db.gcMu.Unlock()
	ldr := to.bdb.NewKVLoader(16)
	now := db.now()
	var stats BackupStats
	err := db.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if stats.Entries%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			item := it.Item()
			key := item.KeyCopy(nil)
			exp := item.ExpiresAt()
			if len(key) > 0 && key[0] == tagEvent {
				// The retention policy in force, which may hide an event
				// stored under a longer period: copied with its expiry
				// under that policy, or not at all once past it.
				if exp = db.eventExpiry(key, exp); expired(exp, now) {
					continue
				}
			}
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			kv := &pb.KV{
				Key:       key,
				Value:     v,
				UserMeta:  []byte{item.UserMeta()},
				Version:   item.Version(),
				ExpiresAt: exp,
			}
			if err := ldr.Set(kv); err != nil {
				return err
			}
			stats.Entries++
			stats.Bytes += int64(len(kv.Key) + len(kv.Value))
		}
		return nil
	})
	// Finish waits for the writes sent, even after an error.
	if ferr := ldr.Finish(); err == nil {
		err = ferr
	}
	return stats, err
}

// IsPartialBackup reports whether path names the hidden directory of a
// copy being written, or left by an interrupted backup: not a copy.
func IsPartialBackup(path string) bool {
	return strings.Contains(filepath.Base(filepath.Clean(path)), partialMark)
}

// BackupCopy is a copy that BackupInto made in a backup directory.
type BackupCopy struct {
	Path string
	Time time.Time // from its name, UTC, to the second
}

// BackupDir is what a backup directory holds.
type BackupDir struct {
	// Copies are the directories named BackupPrefix and a time, oldest
	// first.
	Copies []BackupCopy
	// Partials are the hidden directories of copies being written, or of
	// backups interrupted by a crash, which the next BackupInto removes.
	Partials []string
}

// ReadBackupDir lists the backup directory dir. A missing dir holds
// nothing.
func ReadBackupDir(dir string) (BackupDir, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return BackupDir{}, nil
	}
	if err != nil {
		return BackupDir{}, wrapf(err, "backups")
	}
	var b BackupDir
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if t, ok := BackupTime(e.Name()); ok && e.IsDir() {
			b.Copies = append(b.Copies, BackupCopy{Path: path, Time: t})
		} else if strings.HasPrefix(e.Name(), "."+BackupPrefix) && strings.Contains(e.Name(), partialMark) {
			b.Partials = append(b.Partials, path)
		}
	}
	slices.SortFunc(b.Copies, func(a, b BackupCopy) int { return a.Time.Compare(b.Time) })
	return b, nil
}

// BackupCopies lists the copies in the backup directory dir, oldest first
// (ReadBackupDir).
func BackupCopies(dir string) ([]BackupCopy, error) {
	b, err := ReadBackupDir(dir)
	return b.Copies, err
}

// BackupTime returns the time in the name of a copy BackupInto made (the
// last element of path), false for another name.
func BackupTime(path string) (time.Time, bool) {
	s, ok := strings.CutPrefix(filepath.Base(filepath.Clean(path)), BackupPrefix)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(BackupTimeLayout, s)
	return t, err == nil
}

// BackupResult is what BackupInto did.
type BackupResult struct {
	Copy    BackupCopy // the new copy; zero when it failed
	Stats   BackupStats
	Deleted []BackupCopy // older copies deleted (BackupRotation)
}

// BackupRotation says which copies BackupInto deletes.
type BackupRotation struct {
	// Keep is how many copies a successful run keeps, the new one
	// included: the oldest beyond it are deleted. ≤ 0 keeps them all.
	Keep int
	// MaxAge, when positive, is how old a copy may grow: every run,
	// successful or not, deletes the copies at least that old (by the
	// time in their names), even the newest of them, but never the one
	// it made. A schedule sets it to Keep times its interval, the age its
	// oldest copy reaches when all goes well, so that copies do not
	// outlive it when backups keep failing (a full backup disk) or the
	// server was stopped for a while.
	MaxAge time.Duration
}

// BackupInto makes a new copy (Backup) in the backup directory dir, named
// BackupPrefix and the store clock's time, and deletes the copies that rot
// no longer keeps, with the partial directories a crashed backup left
// there: those rot.MaxAge old before the copy (which also makes room for
// it), those beyond rot.Keep after it. It never deletes the new copy, nor
// the store's own directory. Every deletion is attempted, whatever failed
// before it. The copy and each deletion have an audit entry (AuditBackup,
// AuditBackupDelete) with the actor of ctx; a copy whose entry cannot be
// written is deleted. Calls wait for each other. A copy named after a
// second that already has one waits for the next second.
func (db *DB) BackupInto(ctx context.Context, dir string, rot BackupRotation) (BackupResult, error) {
	db.backupMu.Lock()
	defer db.backupMu.Unlock()
	var res BackupResult
	b, err := ReadBackupDir(dir)
	if err != nil {
		return res, err
	}
	errs := []error{db.removePartials(b.Partials)}
	copies, deleted, err := db.pruneBackups(ctx, b.Copies, BackupRotation{MaxAge: rot.MaxAge}, "")
	res.Deleted = deleted
	errs = append(errs, err)

	now := db.now().UTC().Truncate(time.Second)
	if n := len(copies); n > 0 && !now.After(copies[n-1].Time) {
		now = copies[n-1].Time.Add(time.Second)
	}
	c := BackupCopy{Path: filepath.Join(dir, BackupPrefix+now.Format(BackupTimeLayout)), Time: now}
	stats, err := db.Backup(ctx, c.Path)
	if err == nil {
		err = db.RecordAudit(context.WithoutCancel(ctx), AuditEntry{
			Action: AuditBackup, Object: filepath.Base(c.Path),
			Counts: map[string]int64{"entries": stats.Entries, "bytes": stats.Bytes},
		})
		if err != nil {
			// Every copy is in the audit trail.
			err = fmt.Errorf("store: backup %s made but deleted, since it could not be recorded in the audit trail: %w", c.Path, err)
			if rerr := os.RemoveAll(c.Path); rerr != nil {
				err = errors.Join(err, wrapf(rerr, "delete the unrecorded backup"))
			}
		}
	}
	errs = append(errs, err)
	if err == nil {
		res.Copy, res.Stats = c, stats
		copies = append(copies, c)
	}
	_, deleted, err = db.pruneBackups(ctx, copies, rot, res.Copy.Path)
	res.Deleted = append(res.Deleted, deleted...)
	return res, errors.Join(append(errs, err)...)
}

// pruneBackups deletes the copies, oldest first, that rot does not keep:
// those beyond rot.Keep and those at least rot.MaxAge old, except the
// copy at path keep. It tries every one, and returns the copies left and
// those deleted.
func (db *DB) pruneBackups(ctx context.Context, copies []BackupCopy, rot BackupRotation, keep string) (left, deleted []BackupCopy, err error) {
	beyond := 0
	if rot.Keep > 0 {
		beyond = max(0, len(copies)-rot.Keep)
	}
	now := db.now()
	var errs []error
	for i, old := range copies {
		if old.Path == keep || i >= beyond && (rot.MaxAge <= 0 || now.Before(old.Time.Add(rot.MaxAge))) {
			left = append(left, old)
			continue
		}
		if db.isOwnDir(old.Path) {
			// A restored copy serving as the data directory.
			db.log.Warn("store: an old backup is this store's data directory (a restored copy): not deleted; move the data directory out of the backup directory", "copy", old.Path)
			left = append(left, old)
			continue
		}
		if err := db.opts.removeAll(old.Path); err != nil {
			errs = append(errs, wrapf(err, "delete backup"))
			left = append(left, old)
			continue
		}
		deleted = append(deleted, old)
		err := db.RecordAudit(context.WithoutCancel(ctx), AuditEntry{Action: AuditBackupDelete, Object: filepath.Base(old.Path)})
		if err != nil {
			db.log.Error("store: deleted a backup, but could not record it in the audit trail", "copy", old.Path, "err", err)
			errs = append(errs, err)
		}
	}
	return left, deleted, errors.Join(errs...)
}

// isOwnDir reports whether path is the store's data directory.
func (db *DB) isOwnDir(path string) bool {
	if db.opts.InMemory {
		return false
	}
	a, err1 := os.Stat(path)
	b, err2 := os.Stat(db.opts.Dir)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// removePartials removes partial copies that a crashed Backup left: they
// hold customers' data that no copy lists. It tries every one.
func (db *DB) removePartials(partials []string) error {
	var errs []error
	for _, p := range partials {
		if err := db.opts.removeAll(p); err != nil {
			errs = append(errs, wrapf(err, "remove a partial backup"))
			continue
		}
		db.log.Warn("store: removed a partial backup left by an interrupted run", "dir", filepath.Base(p))
	}
	return errors.Join(errs...)
}

// BackupEvery runs BackupInto every interval until ctx is done, then
// returns nil, so that a server keeps a rolling set of the keep newest
// copies. A copy is deleted keep × interval after it was made
// (BackupRotation.MaxAge), even when runs fail or the server was stopped
// for a while, so that no copy outlives the age a retention period was
// checked against. The first run comes interval after the newest copy in
// dir, at once if that is past or there is none, so that restarts do not
// put it off. Each run is logged with what it copied and deleted; a failed
// run is logged and retried at the next interval. The audit entries name
// the actor of ctx.
func (db *DB) BackupEvery(ctx context.Context, dir string, interval time.Duration, keep int) error {
	if interval <= 0 {
		return fmt.Errorf("store: BackupEvery interval must be positive, got %s", interval)
	}
	copies, err := BackupCopies(dir)
	if err != nil {
		return err
	}
	var last time.Time
	if len(copies) > 0 {
		last = copies[len(copies)-1].Time
	}
	db.backupOnTimer(ctx, dir, keep, firstRun(last, db.now(), interval), interval, time.After)
	return nil
}

// backupOnTimer runs BackupInto after first, then every interval, until
// ctx is done, keeping keep copies at most keep × interval old; after is
// time.After (a seam for tests).
func (db *DB) backupOnTimer(ctx context.Context, dir string, keep int, first, interval time.Duration, after func(time.Duration) <-chan time.Time) {
	rot := BackupRotation{Keep: keep, MaxAge: time.Duration(keep) * interval}
	onTimer(ctx, first, interval, db.now, after, func() {
		start := time.Now()
		res, err := db.BackupInto(ctx, dir, rot)
		for _, c := range res.Deleted {
			db.log.Info("store: deleted an old backup", "copy", c.Path)
		}
		if err != nil {
			if ctx.Err() == nil {
				db.log.Warn("store: scheduled backup", "err", err)
			}
			return
		}
		db.log.Info("store: backed up", "copy", res.Copy.Path, "entries", res.Stats.Entries, "seconds", time.Since(start).Seconds())
	})
}
