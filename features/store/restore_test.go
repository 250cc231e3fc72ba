package store

import (
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

// dumpTables returns dump(db) restricted to the tables with the given tags.
func dumpTables(t *testing.T, db *DB, tags ...byte) map[string]string {
	t.Helper()
	d := dump(t, db)
	maps.DeleteFunc(d, func(k, _ string) bool { return !slices.Contains(tags, k[0]) })
	return d
}

// TestReconcile restores a copy made before erasures, withdrawals, a
// revoked key, a retired release and a charge, and checks that Reconcile
// carries each of them into the copy, and not the events stored since.
func TestReconcile(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clock := testNow
	db := smallStore(t, t.TempDir(), func(o *Options) { o.Now = func() time.Time { return clock } })
	defer db.Close()
	kept, erased, regranted, noStore, newcomer := pseudoOf("RESTORE-CUST-N01"), pseudoOf("RESTORE-CUST-N02"), pseudoOf("RESTORE-CUST-N03"), pseudoOf("RESTORE-CUST-N04"), pseudoOf("RESTORE-CUST-N05")
	for _, p := range []privacy.PseudoID{kept, erased, regranted, noStore} {
		grant(t, db, p)
		fill(t, db, p, 30) // 10 store visits, 20 views
	}
	if err := db.CreateAPIKey(ctx, testAPIKey("k1")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []privacy.PseudoID{kept, erased, noStore} {
		if err := db.AddPushes(ctx, p, []Push{testPush(0, "s1", "c1")}, consent.Defaults{}); err != nil {
			t.Fatal(err)
		}
	}
	mustPut(t, db, testWrite("v1", clock, 1))
	mustPut(t, db, testWrite("v2", clock, 2))
	if err := db.SetCurrentRelease(ctx, "v2"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RecordSettings(ctx, []byte("before"), AuditEntry{Action: AuditConfig}); err != nil {
		t.Fatal(err)
	}
	copyDir := filepath.Join(t.TempDir(), "copy")
	if _, err := db.Backup(ctx, copyDir); err != nil {
		t.Fatal(err)
	}

	// After the copy.
	if _, err := db.RecordSettings(ctx, []byte("since"), AuditEntry{Action: AuditConfig}); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(time.Hour)
	change := func(p privacy.PseudoID, purpose privacy.Purpose, granted bool) {
		t.Helper()
		clock = clock.Add(time.Second)
		ch := []consent.Change{{Purpose: purpose, Granted: granted, Time: clock, Source: "t"}}
		if _, err := db.UpdateConsent(ctx, p, ch, consent.Defaults{}); err != nil {
			t.Fatal(err)
		}
	}
	fill(t, db, kept, 40) // events since the copy are not carried over
	// A push since the copy is carried, for the frequency caps.
	if err := db.AddPushes(ctx, kept, []Push{testPush(60, "s1", "c2")}, consent.Defaults{}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Forget(ctx, erased); err != nil {
		t.Fatal(err)
	}
	erasedAt := clock
	change(regranted, privacy.Personalization, false)
	change(regranted, privacy.Personalization, true)
	change(noStore, privacy.InStore, false)
	change(newcomer, privacy.Personalization, true)
	if _, err := db.RevokeAPIKey(ctx, "k1", clock); err != nil {
		t.Fatal(err)
	}
	if err := db.RetireRelease(ctx, "v2", "v1", erased); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AppendLedger(ctx, LedgerCharge{Time: clock, Data: []byte(`{"epsilon":1}`)}); err != nil {
		t.Fatal(err)
	}
	if err := db.RevokeCustomerToken(ctx, [CustomerTokenTagSize]byte{7}, clock.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	cp := smallStore(t, copyDir, func(o *Options) { o.Now = func() time.Time { return clock } })
	defer cp.Close()
	// The copy hands out an audit key before Reconcile, at the copy's time.
	err := cp.view(func(txn *badger.Txn) error {
		_, err := cp.auditKeys.next(txn, testNow)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := cp.Reconcile(ctx, db, consent.Defaults{})
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if res.Erased != 1 || res.Consents != 3 {
		t.Errorf("Reconcile = %+v, want 1 customer erased and 3 consent records (regranted, noStore, newcomer)", res)
	}
	// erased: 30 events, a push and the consent record; regranted: 30
	// events; noStore: 10 store visits and a push.
	if want := (Removed{TableEvents: 70, TableConsent: 1, TablePushes: 2}); !maps.Equal(res.Removed, want) {
		t.Errorf("Reconcile removed %v, want %v", res.Removed, want)
	}
	for _, tc := range []struct {
		name   string
		p      privacy.PseudoID
		events int
	}{{"kept", kept, 30}, {"erased", erased, 0}, {"regranted", regranted, 0}, {"noStore", noStore, 20}, {"newcomer", newcomer, 0}} {
		if es, err := cp.CustomerEvents(ctx, tc.p); err != nil || len(es) != tc.events {
			t.Errorf("restored %s: %d events, %v; want %d", tc.name, len(es), err, tc.events)
		}
		got, err := cp.Consent(ctx, tc.p)
		if err != nil {
			t.Fatal(err)
		}
		want, err := db.Consent(ctx, tc.p)
		if err != nil {
			t.Fatal(err)
		}
		if string(encodeConsent(got)) != string(encodeConsent(want)) {
			t.Errorf("restored %s: consent %+v, want the replaced store's %+v", tc.name, got, want)
		}
	}
	if r, _ := cp.Consent(ctx, erased); !r.ErasedAt.Equal(erasedAt) {
		t.Errorf("restored erased customer: ErasedAt %v, want %v", r.ErasedAt, erasedAt)
	}
	tags := []byte{tagAPIKey, tagToken, tagModel, tagPopular, tagLedger, tagAudit, tagErased, tagPush}
	if got, want := dumpTables(t, cp, tags...), dumpTables(t, db, tags...); !maps.Equal(got, want) {
		t.Errorf("restored decision tables and pushes hold %d entries, the replaced store %d; want the same entries", len(got), len(want))
	}
	if ps, err := cp.Pushes(ctx, kept); err != nil || len(ps) != 2 {
		t.Errorf("restored kept customer: pushes %v, %v; want the copy's and the one since", ps, err)
	}
	if rs, _, err := cp.Settings(ctx); err != nil || string(rs.Raw) != "since" {
		t.Errorf("restored settings = %q, %v; want the replaced store's", rs.Raw, err)
	}
	if cur, err := cp.CurrentRelease(ctx); err != nil || cur != "v1" {
		t.Errorf("restored current release = %q, %v; want v1 (v2 retired)", cur, err)
	}

	// Once reconciled, nothing is left to carry.
	again, err := cp.Reconcile(ctx, db, consent.Defaults{})
	if err != nil || again.Erased != 0 || again.Consents != 0 || len(again.Removed) != 0 || len(again.Tables) != 0 {
		t.Errorf("second Reconcile = %+v, %v; want nothing to do", again, err)
	}
	// The audit trail takes new entries after the replaced store's, even
	// with the clock set back before its newest.
	clock = testNow.Add(30 * time.Minute)
	if err := cp.RecordAudit(ctx, AuditEntry{Action: AuditRestore, Counts: res.Counts()}); err != nil {
		t.Fatal(err)
	}
	entries, _, err := cp.Audit(ctx, AuditQuery{})
	if err != nil || len(entries) == 0 || entries[0].Action != AuditRestore {
		t.Fatalf("restored audit trail: newest %v, %v; want the restore entry first", entries, err)
	}
	if n := len(dumpTables(t, cp, tagAudit)); n != len(dumpTables(t, db, tagAudit))+1 {
		t.Errorf("restored audit trail: %d entries, want the replaced store's and one", n)
	}
}

// TestReconcileNotDescendant: Reconcile refuses a store that lacks the
// copy's newest audit entry: another store, or one restored since from an
// older copy, whose merge would bring back an erasure the copy holds.
func TestReconcileNotDescendant(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := smallStore(t, t.TempDir(), nil)
	defer db.Close()
	p := pseudoOf("RESTORE-CUST-N09")
	grant(t, db, p)
	fill(t, db, p, 5)
	older := filepath.Join(t.TempDir(), "older")
	if _, err := db.Backup(ctx, older); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Forget(ctx, p); err != nil {
		t.Fatal(err)
	}
	newer := filepath.Join(t.TempDir(), "newer")
	if _, err := db.Backup(ctx, newer); err != nil {
		t.Fatal(err)
	}
	restoredOlder := smallStore(t, older, nil) // restored without reconciling
	defer restoredOlder.Close()
	other := smallStore(t, "", nil)
	defer other.Close()
	for name, replaced := range map[string]*DB{"restored from an older copy": restoredOlder, "another store": other} {
		dir := filepath.Join(t.TempDir(), "copy")
		if _, err := db.Backup(ctx, dir); err != nil {
			t.Fatal(err)
		}
		cp := smallStore(t, dir, nil)
		before := dump(t, cp)
		if _, err := cp.Reconcile(ctx, replaced, consent.Defaults{}); !errors.Is(err, ErrNotDescendant) {
			t.Errorf("Reconcile(%s) = %v, want ErrNotDescendant", name, err)
		}
		if !maps.Equal(dump(t, cp), before) {
			t.Errorf("Reconcile(%s) changed the copy before refusing", name)
		}
		cp.Close()
	}
	// The store as it is now is the copy's.
	cp := smallStore(t, newer, nil)
	defer cp.Close()
	if _, err := cp.Reconcile(ctx, db, consent.Defaults{}); err != nil {
		t.Errorf("Reconcile(the copy's store) = %v", err)
	}
}
