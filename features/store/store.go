package store

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Errors returned by Open.
var (
	ErrKeyMismatch = errors.New("store: key does not match this data directory; use the key the directory was created with")
	ErrNotStore    = errors.New("store: directory is not empty and holds no Discret store (no discret.json); choose an empty or new directory")
	ErrNewerFormat = errors.New("store: data directory was written by a newer Discret; upgrade Discret to open it")
	ErrInUse       = errors.New("store: data directory is in use by another process (Badger's directory lock is held)")
)

// ErrClosed is returned by operations on a closed DB.
var ErrClosed = errors.New("store: closed")

// MetaFile is the name of the file, in the data directory, that identifies a
// Discret store: its format version and key check value.
const MetaFile = "discret.json"

const (
	metaFormat = "discret-store"
	// formatVersion is the version of the key schema and value encodings.
	formatVersion = 1
)

// meta is the content of MetaFile.
type meta struct {
	Format    string    `json:"format"`
	Version   int       `json:"version"`
	Encrypted bool      `json:"encrypted"`
	KeyCheck  string    `json:"key_check,omitempty"` // hex
	Created   time.Time `json:"created"`
}

// DB is a Discret store: consent records, events and aggregate counters in
// Badger. It is safe for concurrent use.
type DB struct {
	bdb  *badger.DB
	opts Options // with defaults
	now  func() time.Time
	log  *slog.Logger
	// noSpaceLogged is when update last logged a write refused for
	// ErrNoSpace (Unix seconds).
	noSpaceLogged atomic.Int64

	consents *consentCache

	// mu orders writers against erasures: every write holds it shared from
	// the start of its transaction to its commit; the first transaction of
	// an erasure and the memtable flush of Compact hold it exclusively. So an
	// append that read a customer's consent before a withdrawal cannot
	// commit after the withdrawal has erased the customer's events.
	mu sync.RWMutex
	// eraseMu serializes the chunked completion of erasures (finishErasure).
	eraseMu sync.Mutex
	// counterMu serializes the transactions that add to counters
	// (AppendEvents with counters, AddCounters): the batches of a day add
	// to the same few counter keys, so concurrent ones would conflict on
	// nearly every attempt. It is taken before mu. The cost: ingest
	// batches (which always count what they stored) commit one after
	// another, each with its own synced write, instead of sharing a sync;
	// blind per-commit counter deltas summed on read would lift it.
	counterMu sync.Mutex
	// gcMu serializes value-log GC passes and compactions (RunGC,
	// Compact) with the snapshots that backups read (copyTo): RunGC's
	// next maintenance and a scheduled compaction wait for a backup.
	gcMu sync.Mutex
	// sweepMu serializes the maintenance's deletions of events past the
	// retention period in force (sweep) and guards swept, which records
	// that one went through the whole store.
	sweepMu sync.Mutex
	swept   bool
	// releaseMu serializes the writers and cleaners of releases and the
	// ledger, so that a release's cap check and its charge see every
	// earlier charge.
	releaseMu sync.Mutex
	// backupMu serializes BackupInto, which removes the partial copies
	// it finds.
	backupMu sync.Mutex
	// auditKeys hands out the keys of audit entries (audit.go).
	auditKeys auditKeys
}

// Open validates opts and opens the store, creating it if Dir is absent or
// empty. It refuses a directory that holds something other than a Discret
// store (ErrNotStore), a store written by a newer release (ErrNewerFormat) and
// a key whose check value differs from the one recorded at creation
// (ErrKeyMismatch), a directory another process holds open (ErrInUse), and
// a file system with less free space than Badger needs (ErrNoSpace; every
// write checks it again). It then completes any erasure that was
// interrupted.
func Open(opts Options) (*DB, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	o.EncryptionKey = append([]byte(nil), o.EncryptionKey...)
	o.KeyCheck = append([]byte(nil), o.KeyCheck...)
	if o.Retention != nil {
		p := *o.Retention
		o.Retention = &p
	}
	if err := o.checkSpace("open"); err != nil {
		return nil, err
	}
	if !o.InMemory {
		if err := prepareDir(o, o.Now()); err != nil {
			return nil, err
		}
	}
	bdb, err := badger.Open(o.badgerOptions())
	if errors.Is(err, badger.ErrEncryptionKeyMismatch) {
		return nil, fmt.Errorf("%w (%v)", ErrKeyMismatch, err)
	}
	// Badger's lock error has no sentinel; its text is stable.
	if err != nil && strings.Contains(err.Error(), "Cannot acquire directory lock") {
		return nil, fmt.Errorf("%w: %s (%v)", ErrInUse, o.Dir, err)
	}
	if err != nil {
		return nil, wrapf(err, "open %s", o.Dir)
	}
	db := &DB{bdb: bdb, opts: o, now: o.Now, log: o.Logger, consents: newConsentCache(max(o.ConsentCacheEntries, 0))}
	if err := db.resumeErasures(context.Background()); err != nil {
		bdb.Close()
		return nil, err
	}
	return db, nil
}

// prepareDir creates dir and its MetaFile, or checks an existing one.
func prepareDir(o Options, now time.Time) error {
	path := filepath.Join(o.Dir, MetaFile)
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		entries, err := os.ReadDir(o.Dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return wrapf(err, "")
		}
		if len(entries) > 0 {
			return fmt.Errorf("%w: %s", ErrNotStore, o.Dir)
		}
		return createMeta(o, now)
	case err != nil:
		return wrapf(err, "")
	}
	var m meta
	if err := json.Unmarshal(raw, &m); err != nil || m.Format != metaFormat || m.Version < 1 {
		return fmt.Errorf("%w: %s is not a Discret store file", ErrNotStore, path)
	}
	if m.Version > formatVersion {
		return fmt.Errorf("%w (format version %d, this release reads up to %d)", ErrNewerFormat, m.Version, formatVersion)
	}
	switch {
	case m.Encrypted && o.Unencrypted:
		return fmt.Errorf("%w: the store is encrypted and no key was given", ErrKeyMismatch)
	case !m.Encrypted && !o.Unencrypted:
		return fmt.Errorf("%w: the store was created unencrypted (a test store) and cannot be opened with a key", ErrKeyMismatch)
	case m.Encrypted:
		stored, err := hex.DecodeString(m.KeyCheck)
		if err != nil || len(stored) == 0 {
			return fmt.Errorf("%w: %s has no valid key_check", ErrNotStore, path)
		}
		if subtle.ConstantTimeCompare(stored, o.KeyCheck) != 1 {
			return ErrKeyMismatch
		}
	}
	return nil
}

// createMeta creates o.Dir if needed and writes its MetaFile atomically.
func createMeta(o Options, now time.Time) error {
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return wrapf(err, "")
	}
	m := meta{Format: metaFormat, Version: formatVersion, Encrypted: !o.Unencrypted, Created: now.UTC()}
	if m.Encrypted {
		m.KeyCheck = hex.EncodeToString(o.KeyCheck)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return wrapf(err, "")
	}
	tmp, err := os.CreateTemp(o.Dir, MetaFile+".tmp*")
	if err != nil {
		return wrapf(err, "")
	}
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(o.Dir, MetaFile))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return wrapf(err, "write %s", MetaFile)
	}
	return syncDir(o.Dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return wrapf(err, "")
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return wrapf(err, "sync %s", dir)
	}
	return nil
}

// lastInTable calls fn with the item of the last key of the table tag in
// txn, if the table has one.
func lastInTable(txn *badger.Txn, tag byte, fn func(*badger.Item) error) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tag}, Reverse: true})
	defer it.Close()
	end, _ := prefixSuccessor([]byte{tag}) // tags are letters, never 0xff
	if it.Seek(end); !it.Valid() {
		return nil
	}
	return fn(it.Item())
}

// Close flushes and closes the store. Further calls return nil; other
// methods return ErrClosed or fail.
func (db *DB) Close() error {
	if err := db.bdb.Close(); err != nil {
		return wrapf(err, "close")
	}
	return nil
}

// view runs fn in a read-only transaction.
func (db *DB) view(fn func(txn *badger.Txn) error) error {
	err := db.bdb.View(fn)
	if errors.Is(err, badger.ErrDBClosed) {
		return ErrClosed
	}
	return err
}

// maxConflictRetries bounds the retries of a transaction that conflicted with
// a concurrent one (they contend on consent records, pushes and, unless
// serialized by counterMu, counters).
const maxConflictRetries = 16

// ErrBusy is returned by a write that still conflicted with concurrent
// writes to the same records after maxConflictRetries retries: nothing of
// it was written, and the caller may retry it.
var ErrBusy = errors.New("store: too many concurrent writes to the same records; nothing was written, retry")

// update runs fn in a read-write transaction and commits it, retrying on a
// conflict after a random pause that doubles with each attempt (from up to
// 1 ms to up to 64 ms), so that writers that collided do not collide
// again in step; it fails with ErrBusy when the retries run out, and with
// ErrNoSpace, before fn runs, when the disk is too full for Badger to write
// safely. fn must be idempotent. The caller holds db.mu.
func (db *DB) update(ctx context.Context, fn func(txn *badger.Txn) error) error {
	if err := db.opts.checkSpace("write"); err != nil {
		// A server's clients see only "retry later": the operator learns
		// why here, at most once a minute.
		if now := time.Now().Unix(); now-db.noSpaceLogged.Load() >= 60 {
			db.noSpaceLogged.Store(now)
			db.log.Error("store: writes refused", "err", err)
		}
		return err
	}
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := db.bdb.Update(fn)
		switch {
		case errors.Is(err, badger.ErrConflict) && attempt < maxConflictRetries:
			pause := rand.N(time.Millisecond << min(attempt, 6))
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(pause):
			}
			continue
		case errors.Is(err, badger.ErrConflict):
			return fmt.Errorf("%w (%w)", ErrBusy, err)
		case errors.Is(err, badger.ErrDBClosed):
			return ErrClosed
		}
		return err
	}
}

// expired reports whether an entry with Badger expiry exp (Unix seconds, 0
// for none) is past it at now.
func expired(exp uint64, now time.Time) bool {
	return exp != 0 && now.Unix() >= int64(exp)
}
