// Package store is Discret's data plane on disk: consent records, events and
// aggregate counters in Badger, encrypted at rest. It is the only package that
// imports Badger.
//
// # Opening
//
// Open takes an Options: the data directory, the AES-256 key and its check
// value (both derived from the master secret by privacy/secret), a logger and
// a clock. The directory records the key check value in discret.json when it
// is created, so that a wrong key is refused before Badger reads anything.
// Open and every write refuse with ErrNoSpace a file system with less free
// space than Badger may write into its memory-mapped files (space.go): on a
// full disk such a write kills the process with SIGBUS.
//
//	m, _ := secret.Load(keyFile)
//	db, err := store.Open(store.Options{
//		Dir:           dir,
//		EncryptionKey: m.StorageKey(),
//		KeyCheck:      m.CheckValue(),
//		Logger:        logger,
//	})
//
// # Keys
//
// keys.go documents the key schema. Customer tables are keyed by pseudonym
// first, so that everything about a customer is a handful of prefix scans.
//
// # Events
//
// AppendEvents stores a Batch atomically and durably: its events, each with
// its expiry (from privacy/retention), and counter additions. It checks
// consent again inside its transaction, so that a withdrawal racing with an
// ingest cannot leave events behind. CustomerEvents serves one customer's
// history; Events streams every event from one snapshot, for training.
// Expiry follows Options.Now, to the second, and the retention policy in
// force (Options.Retention): an event stored under a longer period is
// hidden from every read once the policy no longer keeps it, and
// DeleteExpired (run by RunGC, and by CompactEvery before its first
// compaction) deletes it. Compact deletes every entry past its expiry
// before it compacts, since Badger drops expired entries only from the
// tables a compaction rewrites.
//
// # Consent and erasure
//
// UpdateConsent applies consent changes and, in the same atomic operation,
// erases what the new record no longer allows. Forget erases a customer
// entirely but for the time of the erasure, kept under a hash of the
// pseudonym (erased.go) so that nothing dated before it can be stored
// again; Export returns everything held about them. An erasure too large
// for one transaction is made atomic for readers by an erasure marker (see
// erase.go). Deleted bytes leave the disk after Compact, or eventually
// through Badger's own compactions; RunGC is the background maintenance loop.
//
// # Audit trail
//
// The audit trail (audit.go) records each export and erasure of a customer
// and each administrative action (API keys, the current release, consent
// imports), with its time, the actor the context carries (WithAuditActor)
// and its outcome counts; it names a customer only by a one-way hash of
// the pseudonym (SubjectOf). Forget, CreateAPIKey, RevokeAPIKey,
// SetCurrentRelease and PutRelease write their entry in the transaction of
// the change; RecordAudit records the others. Audit lists the trail.
//
// # Errors
//
// Errors never contain pseudonyms: logs outlive erasures.
//
// # Releases, ledger, catalogue and keys
//
// PutRelease stores a model release atomically: its parts in chunks first,
// then, in one transaction, the privacy-budget check against the ledger, the
// ledger charge, the manifest and (optionally) the switch of the current
// release. A release exists if and only if its charge is in the ledger;
// chunks left by a crash are invisible and removed by PruneReleases. The
// store keeps release bytes opaque: model/release encodes them.
//
// The catalogue (items, coupons) and API keys (hashes only) are global
// tables. Coupon pushes are a customer table, so Export, Forget and
// erasure on withdrawal cover them.
//
// # Backups
//
// Backup copies the store, as of one read snapshot, into a new directory
// that is itself a store, encrypted under the same key (backup.go);
// BackupInto names copies by their time in a backup directory and deletes
// the oldest beyond a number kept and those past an age, each with an
// audit entry. Both run while the store serves; compactions wait for a
// backup's snapshot, which would keep what they drop.
//
// # Concurrency and durability
//
// A DB is safe for concurrent use. Every write is synced before it returns.
// Badger's conflict detection retries transactions that contend on a consent
// record or a counter.
package store
