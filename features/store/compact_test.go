package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
	"github.com/discret-io/discret/privacy/retention"
)

// TestCompactRemovesExpired is the regression test for expired data left
// on the disk: Compact must remove the bytes of entries whose expiry has
// passed even when the tables holding them were compacted before they
// expired, which Flatten alone never rewrites again.
//
// On an unencrypted, uncompressed store whose values all go to the value
// log (ValueThreshold 1) in 1 MiB files, with 1 MiB memtables, it stores a
// customer's events and coupon pushes that expire in an hour and an audit
// entry that expires in a day, then enough events of other customers, kept
// for a year, that the first ones' values sit in value-log files no longer
// written to. It compacts (nothing has expired: the expiring item ids,
// coupons and the audit entry's actor are still found), moves the store's
// clock two days on, compacts again and closes: no file may contain any of
// them, while the other customers' pseudonyms are still found.
//
// Badger's own expiry goes by the wall clock, which the store's clock
// (Options.Now) is ahead of here; TestCompactRemovesExpiredWallClock
// covers the case where Badger sees the entries as expired too.
func TestCompactRemovesExpired(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := testNow
	o := Options{
		Dir: dir, Unencrypted: true, ValueThreshold: 1, ValueLogFileSize: 1 << 20,
		Now:            func() time.Time { return now },
		AuditRetention: retention.Period{Days: 1},
	}
	o.memTableSize = 1 << 20
	db := mustOpen(t, o)
	ctx := t.Context()

	p := pseudoOf("EXPIRING-CUST-01")
	kept := keptCustomers(4)
	for _, q := range append([]privacy.PseudoID{p}, kept...) {
		grant(t, db, q)
	}
	appendExpiring(t, db, p, now, now.Add(time.Hour))
	var pushes []Push
	for i := range MaxBatchPushes {
		pushes = append(pushes, Push{Time: now.Add(time.Duration(i) * time.Second), Store: "store-1", Coupon: fmt.Sprintf("EXPIRING-COUPON-%d", i), ExpiresAt: now.Add(time.Hour)})
	}
	if err := db.AddPushes(ctx, p, pushes, consent.Defaults{}); err != nil {
		t.Fatal(err)
	}
	const auditor = "EXPIRING-AUDITOR"
	if err := db.RecordAudit(WithAuditActor(ctx, AuditActor{Via: ViaCLI, Name: auditor}), AuditEntry{Action: AuditExport, Subject: SubjectOf(p)}); err != nil {
		t.Fatal(err)
	}
	appendKept(t, db, kept, now, 60)
	if err := db.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	needles := []string{"EXPIRING-SKU-", "EXPIRING-COUPON-", auditor}
	wantFound(t, dir, needles, "the first Compact")
	if n := len(filesWith(t, dir, ".vlog")); n < 2 {
		t.Errorf("%d value-log files, want at least 2 (the test needs GC to rewrite one)", n)
	}

	now = now.AddDate(0, 0, 2)
	compactCheckGone(t, db, dir, needles, kept)
}

// TestCompactRemovesExpiredWallClock is TestCompactRemovesExpired with
// the entries expired by Badger's clock, the wall clock, which its
// iterators go by, and not by the store's, which is set an hour behind
// (in production the two are one), and with the values in the tables
// (the default ValueThreshold). Badger's expiry has a granularity of one
// second and the wall clock cannot be faked, so the test waits for it: up
// to 2 s.
func TestCompactRemovesExpiredWallClock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const behind = time.Hour
	db := mustOpen(t, Options{Dir: dir, Unencrypted: true, Now: func() time.Time { return time.Now().Add(-behind) }})
	ctx := t.Context()

	p := pseudoOf("EXPIRING-CUST-01")
	kept := keptCustomers(2)
	now := time.Now()
	for _, q := range append([]privacy.PseudoID{p}, kept...) {
		grantAt(t, db, q, now.Add(-behind))
	}
	expiry := now.Truncate(time.Second).Add(2 * time.Second)
	appendExpiring(t, db, p, now.Add(-behind), expiry)
	appendKept(t, db, kept, now.Add(-behind), 2)
	if err := db.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if !time.Now().Before(expiry) {
		t.Skip("the first Compact ended after the events expired: too slow a machine to test this")
	}
	needles := []string{"EXPIRING-SKU-"}
	wantFound(t, dir, needles, "the first Compact")

	time.Sleep(time.Until(expiry))
	compactCheckGone(t, db, dir, needles, kept)
}

// TestCompactAfterHeldSnapshot: what a compaction had to keep because a
// reader's snapshot still saw it, the events of an erased customer and
// expired ones, leaves the disk with the next Compact, although the
// tables holding it are on the last level already and nothing else would
// have that one rewrite them.
func TestCompactAfterHeldSnapshot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := testNow
	db := mustOpen(t, Options{Dir: dir, Unencrypted: true, Now: func() time.Time { return now }})
	ctx := t.Context()

	p, forgotten := pseudoOf("EXPIRING-CUST-01"), pseudoOf("FORGOTTEN-CUST-1")
	kept := keptCustomers(8)
	for _, q := range append([]privacy.PseudoID{p, forgotten}, kept...) {
		grant(t, db, q)
	}
	appendExpiring(t, db, p, now, now.Add(time.Hour))
	appendKept(t, db, append([]privacy.PseudoID{forgotten}, kept...), now, 60)
	if err := db.Compact(ctx); err != nil {
		t.Fatal(err)
	}

	now = now.Add(2 * time.Hour)
	if _, err := db.Forget(ctx, forgotten); err != nil {
		t.Fatal(err)
	}
	snap := db.bdb.NewTransaction(false)
	err := db.Compact(ctx)
	snap.Discard()
	if err != nil {
		t.Fatal(err)
	}
	needles := []string{"EXPIRING-SKU-", string(forgotten[:])}
	wantFound(t, dir, needles, "Compact with a snapshot held")
	compactCheckGone(t, db, dir, needles, kept)
}

// TestDeleteDead: deleteDead deletes every key expired by the store's
// clock, in more than one scan and in as many transactions as it takes (a
// 1 MiB memtable holds about 1600 deletions), and no other; deleteIfDead
// leaves alone a key that is no longer expired (written again since it
// was found expired).
func TestDeleteDead(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	now := testNow
	db := smallStore(t, "", func(o *Options) { o.Now = func() time.Time { return now } })
	p, q := privacy.PseudoID{1}, privacy.PseudoID{2}
	grant(t, db, p)
	grant(t, db, q)
	const n = deleteChunk + 100
	fill(t, db, p, n) // expire in a year
	e := features.Event{Customer: q, Kind: privacy.Purchase, Item: "kept", Time: testNow, Quantity: 1}
	if err := db.AppendEvents(ctx, Batch{Events: []Entry{{Event: e, ExpiresAt: testNow.AddDate(2, 0, 0)}}}); err != nil {
		t.Fatal(err)
	}

	now = testNow.AddDate(1, 0, 1)
	key, err := appendEventKey(nil, &e)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.deleteIfDead(ctx, [][]byte{key}, now); err != nil {
		t.Fatal(err)
	}
	if k := rawKeys(t, db, customerPrefix(tagEvent, q)); k != 1 {
		t.Errorf("after deleteIfDead of an unexpired key, %d keys, want 1", k)
	}
	if err := db.deleteDead(ctx); err != nil {
		t.Fatal(err)
	}
	if k := rawKeys(t, db, customerPrefix(tagEvent, p)); k != 0 {
		t.Errorf("after deleteDead, %d of %d expired events left, want 0", k, n)
	}
	if k := rawKeys(t, db, customerPrefix(tagEvent, q)); k != 1 {
		t.Errorf("after deleteDead, %d unexpired events, want 1", k)
	}
	if k := rawKeys(t, db, customerPrefix(tagConsent, p)); k != 1 {
		t.Errorf("after deleteDead, %d consent records of p, want 1 (they do not expire)", k)
	}
}

// keptCustomers returns n pseudonyms "KEPT-CUSTOMER-<nn>".
func keptCustomers(n int) []privacy.PseudoID {
	ps := make([]privacy.PseudoID, n)
	for i := range ps {
		ps[i] = pseudoOf(fmt.Sprintf("KEPT-CUSTOMER-%02d", i))
	}
	return ps
}

// appendExpiring appends 200 views of p, up to now, with item ids
// "EXPIRING-SKU-<n>", that expire at expiry.
func appendExpiring(t *testing.T, db *DB, p privacy.PseudoID, now, expiry time.Time) {
	t.Helper()
	var es []Entry
	for i := range 200 {
		e := features.Event{Customer: p, Kind: privacy.View, Item: fmt.Sprintf("EXPIRING-SKU-%d", i), Time: now.Add(-time.Duration(i) * time.Second), Quantity: 1}
		es = append(es, Entry{Event: e, ExpiresAt: expiry})
	}
	if err := db.AppendEvents(t.Context(), Batch{Events: es}); err != nil {
		t.Fatal(err)
	}
}

// appendKept appends rounds batches of 60 purchases by each of kept, up
// to now, kept for a year.
func appendKept(t *testing.T, db *DB, kept []privacy.PseudoID, now time.Time, rounds int) {
	t.Helper()
	n := 0
	for range rounds {
		var es []Entry
		for _, p := range kept {
			for i := range 60 {
				n++
				e := features.Event{Customer: p, Kind: privacy.Purchase, Item: fmt.Sprintf("sku-%d-of-a-catalogue-with-long-ids", i), Time: now.Add(-time.Duration(n) * time.Second), Quantity: 1}
				es = append(es, Entry{Event: e, ExpiresAt: now.AddDate(1, 0, 0)})
			}
		}
		if err := db.AppendEvents(t.Context(), Batch{Events: es}); err != nil {
			t.Fatal(err)
		}
	}
}

// wantFound stops the test unless every one of needles is in the files
// of dir after what: the test could not see them go.
func wantFound(t *testing.T, dir string, needles []string, after string) {
	t.Helper()
	for _, needle := range needles {
		if !found(t, dir, []byte(needle)) {
			t.Fatalf("after %s, %q is not in the files: the test cannot see it go", after, needle)
		}
	}
}

// compactCheckGone compacts db, in dir, and closes it, then checks that no
// file holds any of needles, and that the files still hold the pseudonyms
// of kept, which shows that the scan can see what remains.
func compactCheckGone(t *testing.T, db *DB, dir string, needles []string, kept []privacy.PseudoID) {
	t.Helper()
	if err := db.Compact(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, needle := range needles {
		if found(t, dir, []byte(needle)) {
			t.Errorf("%q still found in the files after Compact", needle)
		}
	}
	for _, p := range kept {
		if !found(t, dir, p[:]) {
			t.Errorf("pseudonym %q of a kept customer not found: the scan is broken", p[:])
		}
	}
}
