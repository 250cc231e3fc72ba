package store

// Releases are the published outputs of training: a few named parts (byte
// strings, possibly tens of megabytes) and a small manifest. The store does
// not know what the parts mean; model/release encodes and decodes them.
//
// A release can be larger than one Badger transaction (about 2.4 MB with the
// default memtables), so it is written in two phases:
//
//  1. every part is cut into chunks of at most releaseChunkMax bytes, which
//     are committed in as many transactions as needed under the version's
//     prefixes (m|d|version… and, for popularity parts, p|version…);
//  2. one last transaction checks that the version is new, appends the
//     ledger entry if the caller gave one (running the caller's check, such
//     as a privacy-budget cap, against the ledger it reads in the same
//     transaction), writes the manifest (m|v|version) and, if asked, points
//     m|c (current) at it.
//
// Readers only ever look a release up through its manifest, so a release
// whose second phase has not committed is invisible, whatever chunks exist.
// A failed or cancelled write removes its chunks; chunks left by a crash
// (no manifest) are removed by the next PutRelease or PruneReleases. The
// current pointer only ever names a committed manifest, and DeleteRelease
// and PruneReleases never delete the current release.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/discret-io/discret/privacy"
)

// Errors about releases.
var (
	ErrReleaseNotFound  = errors.New("store: release not found")
	ErrNoCurrentRelease = errors.New("store: no current release")
	ErrReleaseExists    = errors.New("store: release version already exists")
	ErrReleaseCurrent   = errors.New("store: the current release cannot be deleted")
	ErrInvalidRelease   = errors.New("store: invalid release")
)

// Release limits.
const (
	// MaxReleaseMeta bounds ReleaseManifest.Meta: it is written in the same
	// transaction as the manifest and, possibly, a ledger entry.
	MaxReleaseMeta = 256 << 10
	// MaxReleaseParts bounds the number of parts of a release.
	MaxReleaseParts = 64
	// MaxReleasePartSize bounds one part (4 GiB).
	MaxReleasePartSize = 4 << 30
	// maxReleaseToken bounds versions and part names.
	maxReleaseToken = 64
	// releaseChunkMax is the largest chunk, below the value threshold so
	// that chunks live in the LSM tree like every other value.
	releaseChunkMax = 512 << 10
	// releaseChunkMin is the smallest chunk, whatever the memtable size.
	releaseChunkMin = 4 << 10
)

// DefaultKeepReleases is the number of releases PruneReleases keeps when
// asked to keep 0.
const DefaultKeepReleases = 5

// PartKind says which table a part's chunks go to (see keys.go).
type PartKind uint8

// Part kinds.
const (
	// PartModel is model data: item vectors, identifiers (table m).
	PartModel PartKind = iota + 1
	// PartPopular is a popularity release: noisy counts (table p).
	PartPopular
)

func (k PartKind) tag() byte {
	if k == PartPopular {
		return tagPopular
	}
	return tagModel
}

// ReleasePart is one named part of a release, as given to PutRelease.
type ReleasePart struct {
	Name string // 1-64 characters from [A-Za-z0-9._-], unique in the release
	Kind PartKind
	Data []byte
}

// PartInfo describes a stored part.
type PartInfo struct {
	Name   string   `json:"name"`
	Kind   PartKind `json:"kind"`
	Size   int64    `json:"size"`
	Chunks int      `json:"chunks"`
	CRC32C uint32   `json:"crc32c"` // of the whole part (Castagnoli)
}

// ReleaseManifest describes a stored release. It is what makes the release
// exist: written last, in one transaction.
type ReleaseManifest struct {
	// Version names the release: 1-64 characters from [A-Za-z0-9._-].
	Version string `json:"version"`
	// Created is when the release was made; releases are listed and pruned
	// in Created order.
	Created time.Time `json:"created"`
	// Meta is small metadata the caller wants back when listing releases
	// (model/release stores the model card there), at most MaxReleaseMeta
	// bytes. The store does not interpret it.
	Meta []byte `json:"meta,omitempty"`
	// Parts is filled in by PutRelease.
	Parts []PartInfo `json:"parts"`
}

// Part returns the description of the named part.
func (m *ReleaseManifest) Part(name string) (PartInfo, bool) {
	for _, p := range m.Parts {
		if p.Name == name {
			return p, true
		}
	}
	return PartInfo{}, false
}

// Size returns the total size of the parts.
func (m *ReleaseManifest) Size() int64 {
	var n int64
	for _, p := range m.Parts {
		n += p.Size
	}
	return n
}

// ReleaseWrite is what PutRelease stores.
type ReleaseWrite struct {
	Manifest ReleaseManifest // Version, Created and Meta; Parts is ignored
	Parts    []ReleasePart
	// Charge, if not nil, is appended to the privacy ledger in the
	// transaction that commits the manifest: the release exists if and only
	// if its charge is in the ledger. Its Check runs there, against the
	// ledger as that transaction reads it; an error from it aborts the
	// release.
	Charge *LedgerCharge
	// MakeCurrent points the current release at this one in the same
	// transaction, which also writes its audit entry (AuditModelTrain,
	// the actor of ctx).
	MakeCurrent bool
}

// PutRelease stores w atomically for readers (see the protocol at the top of
// releases.go) and returns the stored manifest. It fails with
// ErrReleaseExists if the version is taken, with ErrInvalidRelease for a bad
// version, part or metadata, and with the error of w.Charge.Check if the
// ledger check refuses the release. On any failure, including a cancelled
// ctx, nothing of the release remains visible and its chunks are removed.
func (db *DB) PutRelease(ctx context.Context, w ReleaseWrite) (ReleaseManifest, error) {
	m := w.Manifest
	m.Parts = nil
	if err := checkReleaseWrite(&w); err != nil {
		return ReleaseManifest{}, err
	}
	if err := ctx.Err(); err != nil {
		return ReleaseManifest{}, err
	}
	var charge []byte
	if w.Charge != nil {
		var err error
		if charge, err = w.Charge.value(); err != nil {
			return ReleaseManifest{}, err
		}
	}
	db.releaseMu.Lock()
	defer db.releaseMu.Unlock()

	// Chunks of an earlier, failed attempt at this version (a crash): the
	// version is checked again in the manifest transaction.
	exists, err := db.releaseExists(m.Version)
	if err != nil {
		return ReleaseManifest{}, err
	}
	if exists {
		return ReleaseManifest{}, fmt.Errorf("%w: %s", ErrReleaseExists, m.Version)
	}
	if err := db.deleteChunks(context.WithoutCancel(ctx), m.Version); err != nil {
		return ReleaseManifest{}, err
	}

	ok := false
	defer func() {
		if !ok {
			// Best effort: what remains is removed by the next cleanup.
			if err := db.deleteChunks(context.WithoutCancel(ctx), m.Version); err != nil {
				db.log.Warn("store: removing the chunks of a failed release", "version", m.Version, "err", err)
			}
		}
	}()
	chunk := db.releaseChunkSize()
	budget := 2 * chunk
	type pending struct {
		key, val []byte
	}
	var batch []pending
	size := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		db.mu.RLock()
		err := db.update(ctx, func(txn *badger.Txn) error {
			for _, p := range batch {
				if err := txn.Set(p.key, p.val); err != nil {
					return err
				}
			}
			return nil
		})
		db.mu.RUnlock()
		batch, size = batch[:0], 0
		return err
	}
	for _, p := range w.Parts {
		info := PartInfo{Name: p.Name, Kind: p.Kind, Size: int64(len(p.Data)), CRC32C: crc32.Checksum(p.Data, castagnoli)}
		for off := 0; off < len(p.Data); off += chunk {
			end := min(off+chunk, len(p.Data))
			batch = append(batch, pending{chunkKey(p.Kind.tag(), m.Version, p.Name, info.Chunks), p.Data[off:end]})
			info.Chunks++
			if size += end - off; size >= budget {
				if err := flush(); err != nil {
					return ReleaseManifest{}, wrapf(err, "put release %s", m.Version)
				}
			}
		}
		m.Parts = append(m.Parts, info)
	}
	if err := flush(); err != nil {
		return ReleaseManifest{}, wrapf(err, "put release %s", m.Version)
	}
	mv, err := encodeManifest(m)
	if err != nil {
		return ReleaseManifest{}, err
	}
	db.mu.RLock()
	err = db.update(ctx, func(txn *badger.Txn) error {
		switch _, err := txn.Get(manifestKey(m.Version)); {
		case err == nil:
			return fmt.Errorf("%w: %s", ErrReleaseExists, m.Version)
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		if w.Charge != nil {
			if err := appendLedgerInTxn(txn, w.Charge, charge); err != nil {
				return err
			}
		}
		if err := txn.Set(manifestKey(m.Version), mv); err != nil {
			return err
		}
		if w.MakeCurrent {
			if err := txn.Set(currentReleaseKey, encodeCurrent(m.Version)); err != nil {
				return err
			}
			return db.putAudit(ctx, txn, AuditEntry{Action: AuditModelTrain, Object: m.Version})
		}
		return nil
	})
	db.mu.RUnlock()
	if r := (*refusal)(nil); errors.As(err, &r) {
		return ReleaseManifest{}, r.err // the charge's check refused it
	}
	if err != nil {
		return ReleaseManifest{}, wrapf(err, "put release %s", m.Version)
	}
	ok = true
	return m, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checkReleaseWrite(w *ReleaseWrite) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidRelease}, args...)...))
	}
	if !validReleaseToken(w.Manifest.Version) {
		bad("version %q (want 1-%d characters from [A-Za-z0-9._-])", clipName(w.Manifest.Version), maxReleaseToken)
	}
	if w.Manifest.Created.IsZero() {
		bad("zero creation time")
	}
	if len(w.Manifest.Meta) > MaxReleaseMeta {
		bad("metadata of %d bytes (at most %d)", len(w.Manifest.Meta), MaxReleaseMeta)
	}
	if len(w.Parts) == 0 || len(w.Parts) > MaxReleaseParts {
		bad("%d parts (want 1 to %d)", len(w.Parts), MaxReleaseParts)
	}
	seen := map[string]bool{}
	for i, p := range w.Parts {
		switch {
		case !validReleaseToken(p.Name):
			bad("part %d: name %q (want 1-%d characters from [A-Za-z0-9._-])", i, clipName(p.Name), maxReleaseToken)
		case seen[p.Name]:
			bad("part %d: duplicate name %q", i, p.Name)
		}
		seen[p.Name] = true
		if p.Kind != PartModel && p.Kind != PartPopular {
			bad("part %q: unknown kind %d", p.Name, p.Kind)
		}
		if int64(len(p.Data)) > MaxReleasePartSize {
			bad("part %q: %d bytes (at most %d)", p.Name, len(p.Data), int64(MaxReleasePartSize))
		}
	}
	if w.Charge != nil {
		if err := w.Charge.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// validReleaseToken reports whether s is a version or part name: 1-64 bytes
// from [A-Za-z0-9._-]. Tokens never contain 0x00, which ends them in keys.
func validReleaseToken(s string) bool {
	if s == "" || len(s) > maxReleaseToken {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == '-') {
			return false
		}
	}
	return true
}

// releaseChunkSize returns the chunk size: releaseChunkMax, or less with
// small memtables, so that two chunks stay well within one transaction
// (Badger caps a transaction at 15% of a memtable).
func (db *DB) releaseChunkSize() int {
	return int(max(releaseChunkMin, min(releaseChunkMax, db.opts.memTable()*15/100/5)))
}

func (db *DB) releaseExists(version string) (bool, error) {
	var found bool
	err := db.view(func(txn *badger.Txn) error {
		_, err := txn.Get(manifestKey(version))
		switch {
		case err == nil:
			found = true
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		return nil
	})
	return found, err
}

// Releases returns the manifests of every stored release, oldest first (by
// Created, then Version).
func (db *DB) Releases(ctx context.Context) ([]ReleaseManifest, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []ReleaseManifest
	err := db.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: manifestPrefix, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var m ReleaseManifest
			err := it.Item().Value(func(v []byte) error {
				var err error
				m, err = decodeManifest(v)
				return err
			})
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, wrapf(err, "releases")
	}
	sortManifests(out)
	return out, nil
}

func sortManifests(ms []ReleaseManifest) {
	slices.SortFunc(ms, func(a, b ReleaseManifest) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.Version, b.Version)
	})
}

// Release returns the manifest of a stored release, or ErrReleaseNotFound.
func (db *DB) Release(ctx context.Context, version string) (ReleaseManifest, error) {
	if err := ctx.Err(); err != nil {
		return ReleaseManifest{}, err
	}
	if !validReleaseToken(version) {
		return ReleaseManifest{}, fmt.Errorf("%w: %q", ErrReleaseNotFound, clipName(version))
	}
	var m ReleaseManifest
	err := db.view(func(txn *badger.Txn) error {
		var err error
		m, err = getManifest(txn, version)
		return err
	})
	if err != nil {
		return ReleaseManifest{}, wrapf(err, "release")
	}
	return m, nil
}

func getManifest(txn *badger.Txn, version string) (ReleaseManifest, error) {
	item, err := txn.Get(manifestKey(version))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return ReleaseManifest{}, fmt.Errorf("%w: %q", ErrReleaseNotFound, version)
	}
	if err != nil {
		return ReleaseManifest{}, err
	}
	var m ReleaseManifest
	err = item.Value(func(v []byte) error {
		m, err = decodeManifest(v)
		return err
	})
	return m, err
}

// ReleasePart returns the named part of a release, checking its size and
// checksum against the manifest. Manifest and chunks come from one snapshot.
func (db *DB) ReleasePart(ctx context.Context, version, name string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !validReleaseToken(version) {
		return nil, wrapf(fmt.Errorf("%w: %q", ErrReleaseNotFound, clipName(version)), "release part")
	}
	var data []byte
	err := db.view(func(txn *badger.Txn) error {
		m, err := getManifest(txn, version)
		if err != nil {
			return err
		}
		info, ok := m.Part(name)
		if !ok {
			return fmt.Errorf("%w: release %s has no part %q", ErrReleaseNotFound, version, clipName(name))
		}
		data = make([]byte, 0, info.Size)
		for i := range info.Chunks {
			if i%16 == 15 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			item, err := txn.Get(chunkKey(info.Kind.tag(), version, name, i))
			if errors.Is(err, badger.ErrKeyNotFound) {
				return fmt.Errorf("%w: release %s part %s: chunk %d missing", ErrCorrupt, version, name, i)
			}
			if err != nil {
				return err
			}
			if err := item.Value(func(v []byte) error {
				data = append(data, v...)
				return nil
			}); err != nil {
				return err
			}
		}
		if int64(len(data)) != info.Size || crc32.Checksum(data, castagnoli) != info.CRC32C {
			return fmt.Errorf("%w: release %s part %s: size or checksum mismatch", ErrCorrupt, version, name)
		}
		return nil
	})
	if err != nil {
		return nil, wrapf(err, "release part")
	}
	return data, nil
}

// CurrentRelease returns the version of the current release, or
// ErrNoCurrentRelease.
func (db *DB) CurrentRelease(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	var v string
	err := db.view(func(txn *badger.Txn) error {
		var err error
		v, err = getCurrent(txn)
		return err
	})
	if err != nil {
		return "", wrapf(err, "current release")
	}
	return v, nil
}

func getCurrent(txn *badger.Txn) (string, error) {
	item, err := txn.Get(currentReleaseKey)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return "", ErrNoCurrentRelease
	}
	if err != nil {
		return "", err
	}
	var v string
	err = item.Value(func(b []byte) error {
		v, err = decodeCurrent(b)
		return err
	})
	return v, err
}

// SetCurrentRelease makes version the current release, with its audit
// entry (AuditModelUse, the actor of ctx) in the same transaction; if
// version is current already, it changes nothing and writes no entry. It
// fails with ErrReleaseNotFound unless the release's manifest is
// committed.
func (db *DB) SetCurrentRelease(ctx context.Context, version string) error {
	if !validReleaseToken(version) {
		return wrapf(fmt.Errorf("%w: %q", ErrReleaseNotFound, clipName(version)), "set current release")
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	err := db.update(ctx, func(txn *badger.Txn) error {
		if _, err := getManifest(txn, version); err != nil {
			return err
		}
		switch cur, err := getCurrent(txn); {
		case err == nil && cur == version:
			return nil
		case err != nil && !errors.Is(err, ErrNoCurrentRelease):
			return err
		}
		if err := txn.Set(currentReleaseKey, encodeCurrent(version)); err != nil {
			return err
		}
		return db.putAudit(ctx, txn, AuditEntry{Action: AuditModelUse, Object: version})
	})
	if err != nil {
		return wrapf(err, "set current release")
	}
	return nil
}

// DeleteRelease deletes a release: its manifest first, in one transaction
// (the release disappears for readers at once), then its chunks. It refuses
// the current release (ErrReleaseCurrent).
func (db *DB) DeleteRelease(ctx context.Context, version string) error {
	if !validReleaseToken(version) {
		return wrapf(fmt.Errorf("%w: %q", ErrReleaseNotFound, clipName(version)), "delete release")
	}
	db.releaseMu.Lock()
	defer db.releaseMu.Unlock()
	if err := db.deleteRelease(ctx, version, nil); err != nil {
		return wrapf(err, "delete release")
	}
	return nil
}

// RetireRelease deletes a release even if it is the current one: in one
// transaction it deletes the manifest and, if version is current, makes
// successor current instead (no release is current when successor is
// empty), then it deletes the chunks. Erasure uses it for releases that no
// privacy guarantee covers (release.ForgetCustomer): p is the customer
// whose erasure or withdrawal retires the release. The transaction writes
// the audit entry (AuditModelRetire, about p, the actor of ctx), whose
// object names the release and, if it was current, its successor.
func (db *DB) RetireRelease(ctx context.Context, version, successor string, p privacy.PseudoID) error {
	if !validReleaseToken(version) {
		return wrapf(fmt.Errorf("%w: %q", ErrReleaseNotFound, clipName(version)), "retire release")
	}
	if successor == version || successor != "" && !validReleaseToken(successor) {
		return fmt.Errorf("store: retire release %s: invalid successor %q", version, clipName(successor))
	}
	db.releaseMu.Lock()
	defer db.releaseMu.Unlock()
	if err := db.deleteRelease(ctx, version, &retirement{successor: successor, p: p}); err != nil {
		return wrapf(err, "retire release %s", version)
	}
	return nil
}

// retirement is what deleteRelease needs to retire a release: the
// successor to make current if the release is current ("" for none), and
// the customer its audit entry is about.
type retirement struct {
	successor string
	p         privacy.PseudoID
}

// deleteRelease deletes version's manifest in one transaction, then its
// chunks; the caller holds db.releaseMu. If version is current, it fails
// with ErrReleaseCurrent unless r is set: then r.successor becomes current
// in the same transaction ("" for none), which also writes the
// AuditModelRetire entry.
func (db *DB) deleteRelease(ctx context.Context, version string, r *retirement) error {
	db.mu.RLock()
	err := db.update(ctx, func(txn *badger.Txn) error {
		if _, err := getManifest(txn, version); err != nil {
			return err
		}
		object := version
		cur, err := getCurrent(txn)
		switch {
		case errors.Is(err, ErrNoCurrentRelease) || err == nil && cur != version:
		case err != nil:
			return err
		case r == nil:
			return fmt.Errorf("%w: %s", ErrReleaseCurrent, version)
		case r.successor == "":
			if err := txn.Delete(currentReleaseKey); err != nil {
				return err
			}
			object += " (current → none)"
		default:
			if _, err := getManifest(txn, r.successor); err != nil {
				return fmt.Errorf("successor %s: %w", r.successor, err)
			}
			if err := txn.Set(currentReleaseKey, encodeCurrent(r.successor)); err != nil {
				return err
			}
			object += " (current → " + r.successor + ")"
		}
		if r != nil {
			err := db.putAudit(ctx, txn, AuditEntry{Action: AuditModelRetire, Subject: SubjectOf(r.p), Object: object})
			if err != nil {
				return err
			}
		}
		return txn.Delete(manifestKey(version))
	})
	db.mu.RUnlock()
	if err != nil {
		return err
	}
	return db.deleteChunks(ctx, version)
}

// PruneResult is what PruneReleases deleted.
type PruneResult struct {
	Deleted    []string // versions of deleted releases, oldest first
	Incomplete []string // versions whose chunks had no manifest
}

// PruneReleases keeps the keep most recent releases (by Created; 0 means
// DefaultKeepReleases) and the current one, deletes the others, and removes
// the chunks of incomplete releases (left by a crash during PutRelease).
func (db *DB) PruneReleases(ctx context.Context, keep int) (PruneResult, error) {
	if keep < 0 {
		return PruneResult{}, fmt.Errorf("store: prune releases: keep = %d, want ≥ 0", keep)
	}
	keep = cmp.Or(keep, DefaultKeepReleases)
	db.releaseMu.Lock()
	defer db.releaseMu.Unlock()
	var res PruneResult
	ms, err := db.Releases(ctx)
	if err != nil {
		return res, err
	}
	cur, err := db.CurrentRelease(ctx)
	if err != nil && !errors.Is(err, ErrNoCurrentRelease) {
		return res, err
	}
	if len(ms) > keep {
		for _, m := range ms[:len(ms)-keep] {
			if m.Version == cur {
				continue
			}
			if err := db.deleteRelease(ctx, m.Version, nil); err != nil {
				return res, wrapf(err, "prune releases")
			}
			res.Deleted = append(res.Deleted, m.Version)
		}
	}
	orphans, err := db.orphanVersions(ctx)
	if err != nil {
		return res, wrapf(err, "prune releases")
	}
	for _, v := range orphans {
		if err := db.deleteChunks(ctx, v); err != nil {
			return res, wrapf(err, "prune releases")
		}
		res.Incomplete = append(res.Incomplete, v)
	}
	return res, nil
}

// orphanVersions returns the versions that have chunks but no manifest. The
// caller holds db.releaseMu, so no write is in progress.
func (db *DB) orphanVersions(ctx context.Context) ([]string, error) {
	found := map[string]bool{}
	err := db.view(func(txn *badger.Txn) error {
		for _, prefix := range [][]byte{chunkTablePrefix(tagModel), chunkTablePrefix(tagPopular)} {
			err := func() error {
				it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
				defer it.Close()
				for it.Rewind(); it.Valid(); it.Next() {
					v, ok := chunkKeyVersion(it.Item().Key())
					if !ok {
						return fmt.Errorf("%w: release chunk key", ErrCorrupt)
					}
					if found[v] {
						continue
					}
					_, err := txn.Get(manifestKey(v))
					switch {
					case errors.Is(err, badger.ErrKeyNotFound):
						found[v] = true
					case err != nil:
						return err
					default:
						found[v] = false
					}
				}
				return nil
			}()
			if err != nil {
				return err
			}
		}
		return ctx.Err()
	})
	var out []string
	for v, orphan := range found {
		if orphan {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out, err
}

// deleteKeys deletes keys in one transaction, as a writer (holding db.mu
// shared). The caller keeps the batch within a transaction's limits.
func (db *DB) deleteKeys(ctx context.Context, keys [][]byte) error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.update(ctx, func(txn *badger.Txn) error {
		for _, k := range keys {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// deleteChunks deletes every chunk of version, in both chunk tables, in as
// many transactions as needed.
func (db *DB) deleteChunks(ctx context.Context, version string) error {
	for _, tag := range []byte{tagModel, tagPopular} {
		prefix := chunkVersionPrefix(tag, version)
		for {
			var keys [][]byte
			err := db.view(func(txn *badger.Txn) error {
				it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
				defer it.Close()
				for it.Rewind(); it.Valid() && len(keys) < 1024; it.Next() {
					keys = append(keys, it.Item().KeyCopy(nil))
				}
				return nil
			})
			if err != nil {
				return err
			}
			if len(keys) == 0 {
				break
			}
			if err := db.deleteKeys(ctx, keys); err != nil {
				return err
			}
		}
	}
	return nil
}

// Release keys (layouts in keys.go).

var (
	currentReleaseKey = []byte{tagModel, 'c'}
	manifestPrefix    = []byte{tagModel, 'v'}
)

func manifestKey(version string) []byte {
	return append(slices.Clip(manifestPrefix), version...)
}

// chunkTablePrefix returns the prefix of every chunk key of a table:
// m|d for model parts, p|d for popularity parts.
func chunkTablePrefix(tag byte) []byte { return []byte{tag, 'd'} }

// chunkVersionPrefix returns tag|d|version|0x00.
func chunkVersionPrefix(tag byte, version string) []byte {
	k := chunkTablePrefix(tag)
	k = append(k, version...)
	return append(k, 0)
}

// chunkKey returns tag|d|version|0x00|part|0x00|index(4).
func chunkKey(tag byte, version, part string, i int) []byte {
	k := chunkVersionPrefix(tag, version)
	k = append(k, part...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint32(k, uint32(i))
}

// chunkKeyVersion returns the version of a chunk key.
func chunkKeyVersion(key []byte) (string, bool) {
	if len(key) < 3 || key[1] != 'd' {
		return "", false
	}
	rest := key[2:]
	i := bytes.IndexByte(rest, 0)
	if i <= 0 || !validReleaseToken(string(rest[:i])) {
		return "", false
	}
	return string(rest[:i]), true
}

// Release values: v1 | JSON for manifests, v1 | version for the current
// pointer.

func encodeManifest(m ReleaseManifest) ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, wrapf(err, "encode manifest")
	}
	return append([]byte{valueV1}, b...), nil
}

func decodeManifest(v []byte) (ReleaseManifest, error) {
	var m ReleaseManifest
	if len(v) < 2 || v[0] != valueV1 {
		return m, fmt.Errorf("%w: release manifest", ErrCorrupt)
	}
	dec := json.NewDecoder(bytes.NewReader(v[1:]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil || !validReleaseToken(m.Version) {
		return ReleaseManifest{}, fmt.Errorf("%w: release manifest", ErrCorrupt)
	}
	for _, p := range m.Parts {
		if !validReleaseToken(p.Name) || (p.Kind != PartModel && p.Kind != PartPopular) || p.Size < 0 || p.Chunks < 0 {
			return ReleaseManifest{}, fmt.Errorf("%w: release manifest %s", ErrCorrupt, m.Version)
		}
	}
	return m, nil
}

func encodeCurrent(version string) []byte { return append([]byte{valueV1}, version...) }

func decodeCurrent(v []byte) (string, error) {
	if len(v) < 2 || v[0] != valueV1 || !validReleaseToken(string(v[1:])) {
		return "", fmt.Errorf("%w: current release", ErrCorrupt)
	}
	return string(v[1:]), nil
}
