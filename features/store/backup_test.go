package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/retention"
)

// dump returns every live key of db with its value, user meta and expiry.
func dump(t *testing.T, db *DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			out[string(item.KeyCopy(nil))] = fmt.Sprintf("%x|%d|%d", v, item.UserMeta(), item.ExpiresAt())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// noCopy fails the test if path exists, or if dir holds a partial copy.
func noCopy(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s exists after a failed backup (%v)", path, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if strings.Contains(e.Name(), partialMark) {
			t.Errorf("partial copy %s left after a failed backup", e.Name())
		}
	}
}

func TestBackup(t *testing.T) {
	t.Parallel()
	db := smallStore(t, t.TempDir(), nil)
	defer db.Close()
	a, b, gone := pseudoOf("BACKUP-CUST-0001"), pseudoOf("BACKUP-CUST-0002"), pseudoOf("BACKUP-CUST-0003")
	for _, p := range []privacy.PseudoID{a, b, gone} {
		grant(t, db, p)
	}
	fill(t, db, a, 2500)
	fill(t, db, b, 7)
	fill(t, db, gone, 5)
	if _, err := db.Forget(t.Context(), gone); err != nil {
		t.Fatal(err)
	}
	want := dump(t, db)

	dst := filepath.Join(t.TempDir(), "copies", "one")
	stats, err := db.Backup(t.Context(), dst)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if stats.Entries != int64(len(want)) || stats.Bytes <= 0 {
		t.Errorf("Backup stats = %+v, want %d entries", stats, len(want))
	}
	if found(t, dst, a[:]) || found(t, dst, []byte("item-13")) {
		t.Error("the copy holds a pseudonym or an item id in clear; want everything encrypted")
	}
	if _, err := Open(Options{Dir: dst, EncryptionKey: make([]byte, 32), KeyCheck: make([]byte, 16)}); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("Open(copy, another key) = %v, want ErrKeyMismatch", err)
	}
	cp := smallStore(t, dst, nil)
	defer cp.Close()
	got := dump(t, cp)
	delete(got, string(compactedKey)) // the copy was compacted
	if !maps.Equal(got, want) {
		t.Errorf("the copy holds %d keys, the store %d; want the same keys, values and expiries", len(got), len(want))
	}
	if es, err := cp.CustomerEvents(t.Context(), a); err != nil || len(es) != 2500 {
		t.Errorf("copy: CustomerEvents(a) = %d events, %v; want 2500", len(es), err)
	}
	if _, ok := got[string(erasedKey(gone))]; !ok {
		t.Error("the copy lacks the erased customer's erasure record")
	}
	// The copy takes new writes after what it copied.
	fill(t, cp, b, 20)
	if es, err := cp.CustomerEvents(t.Context(), b); err != nil || len(es) != 20 {
		t.Errorf("copy after new writes: CustomerEvents(b) = %d events, %v; want 20 (7 copied, overwritten by the same ids, and 13 new)", len(es), err)
	}
}

func TestBackupRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var free atomic.Int64
	free.Store(1 << 40)
	db := smallStore(t, filepath.Join(dir, "data"), func(o *Options) {
		o.freeSpace = func(string) (int64, error) { return free.Load(), nil }
	})
	defer db.Close()
	grant(t, db, privacy.PseudoID{1})

	exists := filepath.Join(dir, "exists")
	if err := os.Mkdir(exists, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Backup(t.Context(), exists); !errors.Is(err, ErrBackupExists) {
		t.Errorf("Backup(existing dir) = %v, want ErrBackupExists", err)
	}
	for _, inside := range []string{filepath.Join(dir, "data"), filepath.Join(dir, "data", "copy")} {
		_, err := db.Backup(t.Context(), inside)
		if err == nil || !strings.Contains(err.Error(), "inside the data directory") {
			t.Errorf("Backup(%s) = %v, want refused: inside the data directory", inside, err)
		}
	}
	if _, err := db.Backup(t.Context(), ""); err == nil {
		t.Error("Backup(\"\") = nil, want an error")
	}

	full := filepath.Join(dir, "full")
	free.Store(db.opts.spaceNeeded()) // enough for the store, not for a copy too
	_, err := db.Backup(t.Context(), full)
	if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "the copy needs about") {
		t.Errorf("Backup(no room) = %v, want ErrNoSpace saying what the copy needs", err)
	}
	noCopy(t, full)
	free.Store(1 << 40)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	cancelled := filepath.Join(dir, "cancelled")
	if _, err := db.Backup(ctx, cancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("Backup(cancelled) = %v, want context.Canceled", err)
	}
	noCopy(t, cancelled)
}

// TestBackupPendingErasure: an erasure interrupted in the store is
// completed in the copy before Backup returns.
func TestBackupPendingErasure(t *testing.T) {
	t.Parallel()
	db := smallStore(t, t.TempDir(), func(o *Options) { o.eraseChunk = 100 })
	defer db.Close()
	a, b := privacy.PseudoID{1}, privacy.PseudoID{2}
	grant(t, db, a)
	grant(t, db, b)
	fill(t, db, a, 1000)
	fill(t, db, b, 3)
	ctx := &cancelAfter{Context: t.Context()}
	ctx.n.Store(4)
	if _, err := db.Forget(ctx, a); !errors.Is(err, context.Canceled) {
		t.Fatalf("Forget(cancelled midway) = %v, want context.Canceled", err)
	}
	if n := rawKeys(t, db, customerPrefix(tagEvent, a)); n == 0 {
		t.Fatal("the interrupted erasure deleted everything; the test needs some events left")
	}
	dst := filepath.Join(t.TempDir(), "copy")
	if _, err := db.Backup(t.Context(), dst); err != nil {
		t.Fatal(err)
	}
	// Every version in the copy's files, not only the live keys: the
	// erased keys must have left them, not just be deleted.
	n := rawVersions(t, dst, customerPrefix(tagEvent, a)) + rawVersions(t, dst, customerPrefix(tagErasure, a))
	if m := rawVersions(t, dst, customerPrefix(tagEvent, b)); n != 0 || m != 3 {
		t.Errorf("copy: %d versions of the erased customer's keys, %d of the other's events; want 0 and 3", n, m)
	}
}

// rawVersions counts every version that the closed store in dir keeps of
// the keys with prefix, deleted and expired ones included, reading the
// files with Badger directly (Open would complete pending erasures).
func rawVersions(t *testing.T, dir string, prefix []byte) int {
	t.Helper()
	bdb, err := badger.Open(diskOptions(dir).withDefaults().badgerOptions().WithReadOnly(true))
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	return countKeys(t, bdb, badger.IteratorOptions{Prefix: prefix, AllVersions: true})
}

// pauseCtx is a context whose first Err call closes paused and waits for
// resume: a backup's first check of its context is inside its snapshot.
type pauseCtx struct {
	context.Context
	once           sync.Once
	paused, resume chan struct{}
}

func (c *pauseCtx) Err() error {
	c.once.Do(func() { close(c.paused); <-c.resume })
	return c.Context.Err()
}

// TestBackupHoldsCompaction: a compaction waits for a backup's snapshot
// to close, so that it removes from the disk what an erasure during the
// backup deleted; the copy holds the customer as of its snapshot.
func TestBackupHoldsCompaction(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := smallStore(t, dir, nil)
	a, b := privacy.PseudoID{1}, privacy.PseudoID{2}
	grant(t, db, a)
	grant(t, db, b)
	fill(t, db, a, 200)
	fill(t, db, b, 3)
	ctx := &pauseCtx{Context: t.Context(), paused: make(chan struct{}), resume: make(chan struct{})}
	dst := filepath.Join(t.TempDir(), "copy")
	backed := make(chan error, 1)
	go func() { _, err := db.Backup(ctx, dst); backed <- err }()
	<-ctx.paused
	if _, err := db.Forget(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	if db.gcMu.TryLock() {
		db.gcMu.Unlock()
		t.Error("a compaction can start while a backup's snapshot is open")
	}
	compacted := make(chan error, 1)
	go func() { compacted <- db.Compact(t.Context()) }()
	select {
	case err := <-compacted: // would leave the versions the snapshot reads
		t.Errorf("a compaction ran to its end (%v) while a backup's snapshot was open", err)
		compacted <- nil
	case <-time.After(300 * time.Millisecond):
	}
	close(ctx.resume)
	if err := errors.Join(<-backed, <-compacted); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if n, m := rawVersions(t, dir, customerPrefix(tagEvent, a)), rawVersions(t, dir, customerPrefix(tagEvent, b)); n != 0 || m != 3 {
		t.Errorf("store after the compaction: %d versions of the erased customer's events, %d of the other's; want 0 and 3", n, m)
	}
	if n := rawVersions(t, dst, customerPrefix(tagEvent, a)); n != 200 {
		t.Errorf("copy: %d events of the customer erased after its snapshot, want 200", n)
	}
}

// TestBackupSnapshot: a backup taken while batches are written holds each
// batch entirely or not at all.
func TestBackupSnapshot(t *testing.T) {
	t.Parallel()
	db := smallStore(t, t.TempDir(), nil)
	defer db.Close()
	p := privacy.PseudoID{9}
	grant(t, db, p)
	const perBatch = 50
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		for n := 0; ctx.Err() == nil && n < 400; n++ {
			es := make([]Entry, perBatch)
			for i := range es {
				e := features.Event{Customer: p, Kind: privacy.Purchase, Item: fmt.Sprintf("batch-%03d", n), Time: testNow.Add(time.Duration(n*perBatch+i) * time.Second), Quantity: 1}
				es[i] = Entry{Event: e, ExpiresAt: testNow.AddDate(1, 0, 0)}
			}
			if err := db.AppendEvents(ctx, Batch{Events: es}); err != nil && ctx.Err() == nil {
				t.Error(err)
				return
			}
		}
	})
	var copies []string
	for i := range 3 {
		time.Sleep(time.Duration(i) * 5 * time.Millisecond)
		dst := filepath.Join(t.TempDir(), "copy")
		if _, err := db.Backup(t.Context(), dst); err != nil {
			t.Fatal(err)
		}
		copies = append(copies, dst)
	}
	stop()
	wg.Wait()
	for _, dst := range copies {
		cp := smallStore(t, dst, nil)
		es, err := cp.CustomerEvents(t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		per := map[string]int{}
		for _, e := range es {
			per[e.Item]++
		}
		for item, n := range per {
			if n != perBatch {
				t.Errorf("copy holds %d events of %s, want %d or none", n, item, perBatch)
			}
		}
		cp.Close()
	}
}

// backupStore opens a store on disk with one consenting customer and a
// clock that the test sets through now, and names a backup directory.
func backupStore(t *testing.T) (db *DB, now *time.Time, dir string) {
	t.Helper()
	clock := testNow
	db = smallStore(t, t.TempDir(), func(o *Options) { o.Now = func() time.Time { return clock } })
	t.Cleanup(func() { db.Close() })
	grant(t, db, privacy.PseudoID{1})
	return db, &clock, filepath.Join(t.TempDir(), "backups")
}

func TestBackupInto(t *testing.T) {
	t.Parallel()
	db, now, dir := backupStore(t)
	if err := os.MkdirAll(filepath.Join(dir, "."+BackupPrefix+"20350101T000000Z"+partialMark+"123"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := WithAuditActor(t.Context(), AuditActor{Via: ViaSchedule})
	var names []string
	for i, step := range []time.Duration{0, 0, time.Hour} { // the second run in the same second
		*now = now.Add(step)
		res, err := db.BackupInto(ctx, dir, BackupRotation{Keep: 2})
		if err != nil {
			t.Fatalf("BackupInto #%d: %v", i, err)
		}
		names = append(names, filepath.Base(res.Copy.Path))
		if i == 2 && (len(res.Deleted) != 1 || filepath.Base(res.Deleted[0].Path) != names[0]) {
			t.Errorf("BackupInto #3 deleted %v, want the oldest copy %s", res.Deleted, names[0])
		}
	}
	wantNames := []string{BackupPrefix + "20350101T000000Z", BackupPrefix + "20350101T000001Z", BackupPrefix + "20350101T010000Z"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("copies named %v, want %v", names, wantNames)
	}
	copies, err := BackupCopies(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, c := range copies {
		left = append(left, filepath.Base(c.Path))
	}
	if !slices.Equal(left, wantNames[1:]) {
		t.Errorf("BackupCopies = %v, want the newest two %v", left, wantNames[1:])
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), partialMark) {
			t.Errorf("the partial copy %s was not removed", e.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
		t.Errorf("BackupInto removed a file that is not a copy: %v", err)
	}
	trail, _, err := db.Audit(t.Context(), AuditQuery{Actions: []AuditAction{AuditBackup, AuditBackupDelete}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range trail {
		got = append(got, e.Action.String()+" "+e.Object+" "+e.Actor.Via.String())
		if e.Action == AuditBackup && e.Counts["entries"] == 0 {
			t.Errorf("audit entry %v counts no entries", e)
		}
	}
	slices.Reverse(got) // Audit lists the newest first
	want := []string{
		"backup " + wantNames[0] + " schedule", "backup " + wantNames[1] + " schedule",
		"backup " + wantNames[2] + " schedule", "backup.delete " + wantNames[0] + " schedule",
	}
	if !slices.Equal(got, want) {
		t.Errorf("audit trail:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if copies, err := BackupCopies(filepath.Join(dir, "missing")); err != nil || len(copies) != 0 {
		t.Errorf("BackupCopies(missing dir) = %v, %v; want none", copies, err)
	}
}

// TestBackupMaxAge: copies at least MaxAge old are deleted by every run,
// a failed one included, and even beyond what Keep would leave.
func TestBackupMaxAge(t *testing.T) {
	t.Parallel()
	db, now, dir := backupStore(t)
	rot := BackupRotation{Keep: 3, MaxAge: 2 * time.Hour}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	names := func(cs []BackupCopy) (out []string) {
		for _, c := range cs {
			out = append(out, c.Time.Sub(testNow).String())
		}
		return out
	}
	for _, tt := range []struct {
		at      time.Duration
		ctx     context.Context
		deleted []string // by age after testNow
		left    []string
	}{
		{0, t.Context(), nil, []string{"0s"}},
		{time.Hour, t.Context(), nil, []string{"0s", "1h0m0s"}},
		// A failed run (a full disk, say) still deletes the copy that is 2h old.
		{2 * time.Hour, cancelled, []string{"0s"}, []string{"1h0m0s"}},
		// After a long stop, the new copy is the only one young enough.
		{9 * time.Hour, t.Context(), []string{"1h0m0s"}, []string{"9h0m0s"}},
	} {
		*now = testNow.Add(tt.at)
		res, err := db.BackupInto(tt.ctx, dir, rot)
		if failed := tt.ctx == cancelled; (err != nil) != failed || failed != (res.Copy == BackupCopy{}) {
			t.Errorf("at %v: BackupInto = %+v, %v", tt.at, res.Copy, err)
		}
		if got := names(res.Deleted); !slices.Equal(got, tt.deleted) {
			t.Errorf("at %v: deleted the copies of %v, want %v", tt.at, got, tt.deleted)
		}
		copies, err := BackupCopies(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := names(copies); !slices.Equal(got, tt.left) {
			t.Errorf("at %v: copies of %v left, want %v", tt.at, got, tt.left)
		}
	}
	trail, _, err := db.Audit(t.Context(), AuditQuery{Actions: []AuditAction{AuditBackupDelete}})
	if err != nil || len(trail) != 2 {
		t.Errorf("audit: %d backup.delete entries, %v; want 2", len(trail), err)
	}
	// A copy is never deleted by the run that made it, however long the
	// run (here named at 10h, judged half a second later, MaxAge 100ms).
	*now = testNow.Add(10*time.Hour + 500*time.Millisecond)
	res, err := db.BackupInto(t.Context(), dir, BackupRotation{Keep: 3, MaxAge: 100 * time.Millisecond})
	if _, serr := os.Stat(res.Copy.Path); err != nil || serr != nil || len(res.Deleted) != 1 {
		t.Errorf("a run whose copy is older than MaxAge when it ends = %+v, %v (stat %v); want the copy kept and the 9h one deleted", res, err, serr)
	}
}

// TestBackupInMemory: an in-memory store backs up to disk like any other.
func TestBackupInMemory(t *testing.T) {
	t.Parallel()
	db := smallStore(t, "", func(o *Options) { o.KeyCheck = testCheck })
	defer db.Close()
	p := privacy.PseudoID{3}
	grant(t, db, p)
	fill(t, db, p, 10)
	dst := filepath.Join(t.TempDir(), "copy")
	if _, err := db.Backup(t.Context(), dst); err != nil {
		t.Fatal(err)
	}
	cp := smallStore(t, dst, nil)
	defer cp.Close()
	if es, err := cp.CustomerEvents(t.Context(), p); err != nil || len(es) != 10 {
		t.Errorf("copy of an in-memory store: %d events, %v; want 10", len(es), err)
	}
}

// TestBackupOnTicks: the scheduled backup makes a copy at each tick, keeps
// the newest, deletes copies keep × interval old at once, and waits the
// interval between runs.
func TestBackupOnTicks(t *testing.T) {
	t.Parallel()
	now := testNow
	var mu sync.Mutex
	db := smallStore(t, t.TempDir(), func(o *Options) {
		o.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	defer db.Close()
	grant(t, db, privacy.PseudoID{1})
	dir := filepath.Join(t.TempDir(), "backups")
	if err := db.BackupEvery(t.Context(), dir, 0, 1); err == nil {
		t.Error("BackupEvery(interval 0) = nil, want an error")
	}
	// A copy made long ago, before a stop of the server: within --keep,
	// but past keep × interval.
	now = testNow.Add(-10 * time.Hour)
	if _, err := db.BackupInto(t.Context(), dir, BackupRotation{}); err != nil {
		t.Fatal(err)
	}
	now = testNow
	ticks := make(chan time.Time)
	waited := make(chan time.Duration, 8) // what the loop waits for, once it waits
	after := func(d time.Duration) <-chan time.Time { waited <- d; return ticks }
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); db.backupOnTimer(ctx, dir, 2, 5*time.Minute, time.Hour, after) }()
	var waits []time.Duration
	for i := range 3 {
		waits = append(waits, <-waited)
		if copies, err := BackupCopies(dir); i == 1 && (err != nil || len(copies) != 1) {
			t.Errorf("after the first run: copies %v, %v; want only the new one", copies, err)
		}
		mu.Lock()
		now = now.Add(time.Hour)
		mu.Unlock()
		ticks <- now
	}
	waits = append(waits, <-waited) // the third run has finished
	stop()
	<-done
	if !slices.Equal(waits, []time.Duration{5 * time.Minute, time.Hour, time.Hour, time.Hour}) {
		t.Errorf("the loop waited %v, want 5m (first) then 1h (the interval)", waits)
	}
	copies, err := BackupCopies(dir)
	if err != nil || len(copies) != 2 {
		t.Fatalf("BackupCopies after 3 runs, keep 2 = %v, %v; want 2 copies", copies, err)
	}
	if want := testNow.Add(3 * time.Hour); !copies[1].Time.Equal(want) {
		t.Errorf("newest copy at %v, want %v", copies[1].Time, want)
	}
}

// TestBackupShortenedRetention: events that a retention period shortened
// since they were stored no longer keeps are not copied.
func TestBackupShortenedRetention(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := smallStore(t, dir, nil)
	p := privacy.PseudoID{5}
	grant(t, db, p)
	fill(t, db, p, 30) // 20 views and 10 store visits, kept a year
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	week := retention.Policy{View: retention.Period{Days: 7}}
	db = smallStore(t, dir, func(o *Options) {
		o.Retention = &week
		o.Now = func() time.Time { return testNow.AddDate(0, 0, 10) }
	})
	defer db.Close()
	dst := filepath.Join(t.TempDir(), "copy")
	if _, err := db.Backup(t.Context(), dst); err != nil {
		t.Fatal(err)
	}
	cp := smallStore(t, dst, nil) // no policy: the copy's own expiries only
	defer cp.Close()
	es, err := cp.CustomerEvents(t.Context(), p)
	if err != nil || len(es) != 10 {
		t.Fatalf("copy: %d events, %v; want the 10 store visits, not the views the policy no longer keeps", len(es), err)
	}
	for _, e := range es {
		if e.Kind != privacy.StoreVisit {
			t.Errorf("copy holds a %v", e.Kind)
		}
	}
}

// TestBackupKeepsOwnDir: a store restored from a copy in the backup
// directory is never deleted by its own pruning.
func TestBackupKeepsOwnDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	restored := filepath.Join(dir, BackupPrefix+"20000101T000000Z")
	db := smallStore(t, restored, nil)
	defer db.Close()
	grant(t, db, privacy.PseudoID{1})
	if _, err := db.BackupInto(t.Context(), dir, BackupRotation{Keep: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(restored, MetaFile)); err != nil {
		t.Fatalf("the store's own directory was deleted by pruning: %v", err)
	}
	if err := CheckBackupDir(restored, dir); err == nil || !strings.Contains(err.Error(), "inside the backup directory") {
		t.Errorf("CheckBackupDir(data inside the backup dir) = %v, want refused", err)
	}
}

// TestBackupPruneAfterFailure: a copy (or a partial copy) that cannot be
// deleted does not stop the pruning: the copies (partial copies) after it
// are deleted, each copy with its audit entry, and the run reports the
// failure and keeps the copy it made.
func TestBackupPruneAfterFailure(t *testing.T) {
	t.Parallel()
	db, now, dir := backupStore(t)
	var undeletable, stuckPartial string
	db.opts.removeAll = func(path string) error {
		if path == undeletable || path == stuckPartial {
			return fs.ErrPermission
		}
		return os.RemoveAll(path)
	}
	var made []string
	for i := range 3 {
		*now = testNow.Add(time.Duration(i) * time.Hour)
		res, err := db.BackupInto(t.Context(), dir, BackupRotation{Keep: 3})
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, res.Copy.Path)
	}
	undeletable = made[0]
	var partials []string
	for i := range 2 {
		p := filepath.Join(dir, fmt.Sprintf(".%s20350101T000000Z%s%d", BackupPrefix, partialMark, i))
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		partials = append(partials, p)
	}
	stuckPartial = partials[0]
	*now = testNow.Add(3 * time.Hour)
	res, err := db.BackupInto(t.Context(), dir, BackupRotation{Keep: 1})
	if !errors.Is(err, fs.ErrPermission) || res.Copy == (BackupCopy{}) {
		t.Errorf("BackupInto with an undeletable old copy = %+v, %v; want its copy made and the failure reported", res, err)
	}
	if b, err := ReadBackupDir(dir); err != nil || !slices.Equal(b.Partials, partials[:1]) {
		t.Errorf("partial copies left %v, %v; want only the undeletable one %v", b.Partials, err, partials[:1])
	}
	var deleted []string
	for _, c := range res.Deleted {
		deleted = append(deleted, c.Path)
	}
	if want := made[1:]; !slices.Equal(deleted, want) {
		t.Errorf("deleted %v, want the copies after the undeletable one %v", deleted, want)
	}
	copies, err := BackupCopies(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, c := range copies {
		left = append(left, c.Path)
	}
	if want := []string{made[0], res.Copy.Path}; !slices.Equal(left, want) {
		t.Errorf("copies left %v, want the undeletable one and the new one %v", left, want)
	}
	trail, _, err := db.Audit(t.Context(), AuditQuery{Actions: []AuditAction{AuditBackupDelete}})
	if err != nil || len(trail) != len(res.Deleted) {
		t.Errorf("audit: %d backup.delete entries, %v; want one per deleted copy", len(trail), err)
	}
}
