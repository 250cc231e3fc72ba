package store

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/discret-io/discret/privacy/retention"
)

// Defaults, sized for a small machine (2 cores, a few GiB of memory): about
// 2 × 21 MiB of memtables plus the two caches.
const (
	DefaultMemTableSize     = 16 << 20
	DefaultNumMemtables     = 2
	DefaultBlockCacheSize   = 32 << 20
	DefaultIndexCacheSize   = 16 << 20
	DefaultNumCompactors    = 2
	DefaultValueThreshold   = 1 << 20
	DefaultValueLogFileSize = 1 << 20 // Badger's minimum: see Options.ValueLogFileSize
	// DefaultConsentCacheEntries is about 40 MiB of consent decisions.
	DefaultConsentCacheEntries = 1 << 20
)

// Bounds checked by Validate.
const (
	// MinMemTableSize is the smallest MemTableSize: with it a batch of
	// MaxBatchEvents events of maximal size still fits in one transaction.
	MinMemTableSize     = DefaultMemTableSize
	maxMemTableSize     = 1 << 30
	maxValueThreshold   = 1 << 20 // Badger's limit
	minValueLogFileSize = 1 << 20 // Badger's limits
	maxValueLogFileSize = 1 << 30
	keyCheckMin         = 16
	keyCheckMax         = 64
)

// Options configures Open. The zero value of each tuning field means its
// documented default. Open copies the struct.
type Options struct {
	// Dir is the data directory, created (mode 0700) if absent. Required
	// unless InMemory. A directory that is not empty must hold a Discret
	// store (its discret.json file).
	Dir string

	// InMemory keeps everything in memory, for tests: nothing is written to
	// disk, Dir must be empty, Compact is a no-op and value-log GC does not
	// run.
	InMemory bool

	// EncryptionKey is the AES-256 key (32 bytes) that encrypts everything
	// Badger writes (secret.Master.StorageKey). Required unless Unencrypted.
	EncryptionKey []byte

	// KeyCheck is a value derived from the same secret as EncryptionKey but
	// revealing nothing about it (secret.Master.CheckValue, 16 to 64 bytes).
	// Open writes it to Dir/discret.json when it creates a store and compares
	// it, in constant time, on every later open, so that a wrong key is
	// refused with ErrKeyMismatch before Badger is opened. Required for an
	// encrypted on-disk store.
	KeyCheck []byte

	// Unencrypted stores everything IN CLEAR, and uncompressed. TEST ONLY: it
	// exists so that leak tests can scan the files byte by byte for
	// pseudonyms. Discret's command line never sets it, and a store created
	// with it cannot be opened encrypted (nor the reverse).
	Unencrypted bool

	// Logger receives Badger's warnings and errors (its info and debug
	// messages are dropped) and the store's own notices. Nil discards them.
	Logger *slog.Logger

	// Now is the clock that decides expiry: an event is visible while Now()
	// is before its ExpiresAt. Nil means time.Now. Badger itself also hides
	// entries past their expiry by the real clock, so Now can only hide more.
	Now func() time.Time

	// Retention, if not nil, is the retention policy in force. An event
	// stays visible while both its stored expiry (Entry.ExpiresAt, given
	// by the policy of the day it arrived) and the expiry this policy gives
	// it are ahead, so that a period shortened since applies at once to
	// every read, export and training run; DeleteExpired then removes such
	// events. AppendEvents stores at most this policy's expiry. Nil: the
	// stored expiry alone counts.
	Retention *retention.Policy

	// AuditRetention is how long audit entries are kept (audit.go): each
	// expires that long after it was written, by Badger TTL from Now.
	// Zero means retention.DefaultAudit (5 years).
	AuditRetention retention.Period

	// MemTableSize is the size of a memtable, at least MinMemTableSize.
	// Default DefaultMemTableSize. It bounds a transaction to 15% of it,
	// which is where MaxBatchEvents comes from.
	MemTableSize int64

	// NumMemtables is the number of memtables kept in memory before writes
	// stall for a flush. Default DefaultNumMemtables.
	NumMemtables int

	// BlockCacheSize is the cache of decrypted, decompressed blocks, in bytes.
	// Default DefaultBlockCacheSize; it cannot be disabled because encryption
	// and compression need it.
	BlockCacheSize int64

	// IndexCacheSize is the cache of table indexes and bloom filters, in
	// bytes. Default DefaultIndexCacheSize. A negative value disables it
	// (Badger then keeps every index in memory), which Validate refuses for
	// an encrypted store: with encryption and no index cache, Badger v4.9
	// opens fine and then, at the first memtable flush, panics in a
	// background goroutine ("Index Cache must be set for encrypted
	// workloads", table.fetchIndex), killing the process (badger #1832).
	IndexCacheSize int64

	// NumCompactors is the number of concurrent compaction workers, at least
	// 2 (Badger refuses 1). Default DefaultNumCompactors.
	NumCompactors int

	// ValueThreshold is the size from which a value is kept in the value log
	// rather than in the LSM tree, 1 B to 1 MiB. Default DefaultValueThreshold,
	// so that every value lives in the LSM tree: scans never read the value
	// log, and erasure is complete once compaction has dropped the keys.
	// Lower it only for tests of value-log GC.
	ValueThreshold int64

	// ValueLogFileSize is the size of a value-log file, 1 MiB to 1 GiB.
	// Default DefaultValueLogFileSize: with the default ValueThreshold
	// the value log holds no value, only each file's 20-byte header, but
	// Badger maps a new file at twice this length at every open, and Open
	// and writes require that much free space (ErrNoSpace), so a larger
	// default only raised the requirement (it was 64 MiB). Raise it with a
	// lowered ValueThreshold, to have fewer, larger files.
	ValueLogFileSize int64

	// ConsentCacheEntries bounds the cache of consent decisions that makes
	// AppendEvents' consent check cheap (one map lookup per customer instead
	// of an LSM lookup). Each entry takes about 40 bytes; the cache is
	// cleared when full. Default DefaultConsentCacheEntries; negative
	// disables it.
	ConsentCacheEntries int

	// memTableSize, set only by this package's tests, overrides MemTableSize
	// without its minimum, to force flushes and chunked erasures cheaply.
	memTableSize int64
	// eraseChunk, set only by tests, caps the keys deleted per transaction
	// by an erasure (0: as many as fit).
	eraseChunk int
	// freeSpace, replaced only by tests, returns the bytes available on the
	// file system of a directory (nil: diskFree).
	freeSpace func(dir string) (int64, error)
	// removeAll, replaced only by tests, deletes a backup copy (nil:
	// os.RemoveAll).
	removeAll func(path string) error
}

// Validate reports every problem with o, joined.
func (o Options) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("store: "+format, args...)) }
	switch {
	case !o.InMemory && o.Dir == "":
		add("Dir is required (or set InMemory)")
	case o.InMemory && o.Dir != "":
		add("Dir must be empty when InMemory is set")
	}
	encrypted := !o.Unencrypted
	switch {
	case encrypted && len(o.EncryptionKey) != 32:
		add("EncryptionKey must be 32 bytes (AES-256; see secret.Master.StorageKey), got %d", len(o.EncryptionKey))
	case !encrypted && len(o.EncryptionKey) > 0:
		add("EncryptionKey and Unencrypted are both set")
	}
	switch {
	case encrypted && !o.InMemory && len(o.KeyCheck) == 0:
		add("KeyCheck is required for an encrypted store on disk (see secret.Master.CheckValue)")
	case len(o.KeyCheck) > 0 && (len(o.KeyCheck) < keyCheckMin || len(o.KeyCheck) > keyCheckMax):
		add("KeyCheck must be %d to %d bytes, got %d", keyCheckMin, keyCheckMax, len(o.KeyCheck))
	}
	if r := o.AuditRetention; r.Negative() {
		add("AuditRetention must not be negative, got %s", r)
	}
	if o.MemTableSize != 0 && (o.MemTableSize < MinMemTableSize || o.MemTableSize > maxMemTableSize) {
		add("MemTableSize must be from %s to %s, got %d", mib(MinMemTableSize), mib(maxMemTableSize), o.MemTableSize)
	}
	if o.NumMemtables < 0 {
		add("NumMemtables must not be negative, got %d", o.NumMemtables)
	}
	if o.BlockCacheSize < 0 {
		add("BlockCacheSize must not be negative (encryption and compression need the block cache), got %d", o.BlockCacheSize)
	}
	if o.IndexCacheSize < 0 && encrypted {
		add("IndexCacheSize must be positive for an encrypted store (without an index cache Badger panics at the first flush: badger issue #1832)")
	}
	if o.NumCompactors < 0 || o.NumCompactors == 1 {
		add("NumCompactors must be at least 2, got %d", o.NumCompactors)
	}
	if o.ValueThreshold < 0 || o.ValueThreshold > maxValueThreshold {
		add("ValueThreshold must be from 1 B to %s, got %d", mib(maxValueThreshold), o.ValueThreshold)
	}
	if o.ValueLogFileSize != 0 && (o.ValueLogFileSize < minValueLogFileSize || o.ValueLogFileSize > maxValueLogFileSize) {
		add("ValueLogFileSize must be from %s to %s, got %d", mib(minValueLogFileSize), mib(maxValueLogFileSize), o.ValueLogFileSize)
	}
	return errors.Join(errs...)
}

func mib(n int64) string { return fmt.Sprintf("%d MiB", n>>20) }

// withDefaults returns o with every zero tuning field set to its default.
func (o Options) withDefaults() Options {
	o.MemTableSize = cmp.Or(o.MemTableSize, DefaultMemTableSize)
	o.BlockCacheSize = cmp.Or(o.BlockCacheSize, DefaultBlockCacheSize)
	o.IndexCacheSize = cmp.Or(o.IndexCacheSize, DefaultIndexCacheSize)
	o.ValueThreshold = cmp.Or(o.ValueThreshold, DefaultValueThreshold)
	o.ValueLogFileSize = cmp.Or(o.ValueLogFileSize, DefaultValueLogFileSize)
	o.NumMemtables = cmp.Or(o.NumMemtables, DefaultNumMemtables)
	o.NumCompactors = cmp.Or(o.NumCompactors, DefaultNumCompactors)
	o.ConsentCacheEntries = cmp.Or(o.ConsentCacheEntries, DefaultConsentCacheEntries)
	o.AuditRetention = cmp.Or(o.AuditRetention, retention.DefaultAudit)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.freeSpace == nil {
		o.freeSpace = diskFree
	}
	if o.removeAll == nil {
		o.removeAll = os.RemoveAll
	}
	return o
}

// memTable is the size of a memtable: the tests' memTableSize if set,
// else MemTableSize.
func (o Options) memTable() int64 {
	if o.memTableSize > 0 {
		return o.memTableSize
	}
	return o.MemTableSize
}

// badgerOptions translates o, with defaults applied, to Badger's options.
func (o Options) badgerOptions() badger.Options {
	memTable := o.memTable()
	// Badger refuses a value threshold above its transaction limit (15% of a
	// memtable); only the tests' small memtables get there.
	threshold := min(o.ValueThreshold, memTable*15/100-1)
	index := max(o.IndexCacheSize, 0)
	bo := badger.DefaultOptions(o.Dir).
		WithInMemory(o.InMemory).
		// Durability: a commit returns once its write-ahead log is synced.
		WithSyncWrites(true).
		WithNumVersionsToKeep(1).
		WithLogger(badgerLogger{o.Logger}).
		WithMetricsEnabled(false).
		WithMemTableSize(memTable).
		WithNumMemtables(o.NumMemtables).
		WithBlockCacheSize(o.BlockCacheSize).
		WithIndexCacheSize(index).
		WithNumCompactors(o.NumCompactors).
		WithValueThreshold(threshold).
		WithValueLogFileSize(o.ValueLogFileSize).
		WithCompression(options.Snappy)
	if o.InMemory {
		bo = bo.WithDir("").WithValueDir("")
	}
	if o.Unencrypted {
		bo = bo.WithCompression(options.None)
	} else {
		bo = bo.WithEncryptionKey(o.EncryptionKey)
	}
	return bo
}

// badgerLogger sends Badger's warnings and errors to a slog.Logger.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(format string, args ...any) {
	b.l.Error(badgerMessage(format, args), "component", "badger")
}

func (b badgerLogger) Warningf(format string, args ...any) {
	msg := badgerMessage(format, args)
	if isFlattenRace(msg) {
		return
	}
	b.l.Warn(msg, "component", "badger")
}

// isFlattenRace reports whether a Badger warning is the benign race of
// Flatten's workers, which Compact runs: Flatten starts one compaction per
// worker (NumCompactors) on the same level, and when that level has fewer
// tables than workers, every worker that finds them taken by another fails
// with "Unable to fill tables" and is logged as a warning ("While running
// doCompact with {...}. Error: Unable to fill tables"), although the
// level was compacted. Badger itself stays silent on this error in its
// background compactions (levels.go, runCompactor) and at close (db.go);
// only Flatten reports it, and Flatten returns an error when no worker
// succeeds, which Compact reports.
func isFlattenRace(msg string) bool {
	return strings.HasPrefix(msg, "While running doCompact with ") && strings.HasSuffix(msg, "Error: Unable to fill tables")
}

func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}

func badgerMessage(format string, args []any) string {
	return strings.TrimSpace(fmt.Sprintf(format, args...))
}
