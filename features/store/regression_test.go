package store

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

// TestForgetLeavesNoTrace is the regression test for erasure at the byte
// level, and for badger issue #2286 (keys deleted before a value-log GC
// reappearing after it; fixed by badger PR #2310, released in v4.9.3, and
// the compaction fix #2278 in v4.9.4; we pin v4.9.6).
//
// On an unencrypted, uncompressed store whose values all go to the value log
// (ValueThreshold 1) in 1 MiB files, with 1 MiB memtables, it stores events
// of several customers, forgets one, compacts, closes and reopens: the
// customer's keys must be gone but for their erasure record (erased.go), and
// no file of the directory may contain their pseudonym, raw or in hex (the
// erasure's audit entry included), while
// the other customers' pseudonyms are still found (which shows the scan can
// see them).
func TestForgetLeavesNoTrace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := Options{
		Dir: dir, Unencrypted: true, ValueThreshold: 1, ValueLogFileSize: 1 << 20,
		Now: func() time.Time { return testNow },
	}
	o.memTableSize = 1 << 20
	db := mustOpen(t, o)
	ctx := t.Context()

	forgotten := pseudoOf("FORGOTTEN-CUST-1")
	kept := []privacy.PseudoID{pseudoOf("KEPT-CUSTOMER-01"), pseudoOf("KEPT-CUSTOMER-02"), pseudoOf("KEPT-CUSTOMER-03"), pseudoOf("KEPT-CUSTOMER-04")}
	all := append([]privacy.PseudoID{forgotten}, kept...)
	for _, p := range all {
		for i := range 3 { // several versions of the consent record
			ch := []consent.Change{{Purpose: privacy.Personalization, Granted: true, Time: testNow.Add(time.Duration(i) * time.Second), Source: "t"}}
			if _, err := db.UpdateConsent(ctx, p, ch, consent.Defaults{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// 20 rounds with every customer, then 40 without the forgotten one, so
	// that its values sit in value-log files that are no longer written to.
	const rounds, per = 60, 60
	n := 0
	for round := range rounds {
		var es []Entry
		for _, p := range all {
			if round >= 20 && p == forgotten {
				continue
			}
			for i := range per {
				n++
				es = append(es, Entry{
					Event:     features.Event{Customer: p, Kind: privacy.Purchase, Item: fmt.Sprintf("sku-%d-of-a-catalogue-with-long-ids", i), Time: testNow.Add(time.Duration(n) * time.Second), Quantity: uint32(1 + i%5)},
					ExpiresAt: testNow.AddDate(1, 0, 0),
				})
			}
		}
		if err := db.AppendEvents(ctx, Batch{Events: es}); err != nil {
			t.Fatal(err)
		}
	}
	if !found(t, dir, forgotten[:]) {
		t.Fatal("before Forget, the forgotten pseudonym is not in the files: the scan cannot see it")
	}
	removed, err := db.Forget(WithAuditActor(ctx, AuditActor{Via: ViaCLI, Name: "dpo"}), forgotten)
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + 20*per; removed.Total() != want {
		t.Errorf("Forget removed %v, want %d keys", removed, want)
	}
	vlogsBefore := filesWith(t, dir, ".vlog")
	if err := db.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if len(vlogsBefore) < 2 {
		t.Errorf("value-log files before Compact: %v, want at least 2 (the test needs GC to rewrite one)", vlogsBefore)
	}

	db = mustOpen(t, o)
	for _, tag := range []byte{tagConsent, tagEvent, tagErasure} {
		if k := rawKeys(t, db, customerPrefix(tag, forgotten)); k != 0 {
			t.Errorf("after Forget, Compact and reopening, %d keys under %c|forgotten, want 0", k, tag)
		}
	}
	// What remains: the erasure record, under a hash of the pseudonym.
	if k := rawKeys(t, db, erasedKey(forgotten)); k != 1 {
		t.Errorf("after Forget, %d erasure records, want 1", k)
	}
	// And the erasure's audit entry, which names the customer by a hash of
	// its own (the byte scan below shows that it holds no pseudonym).
	entries, _, err := db.Audit(ctx, AuditQuery{Subject: SubjectOf(forgotten)})
	if err != nil || len(entries) != 1 || entries[0].Action != AuditForget || entries[0].Counts[TableEvents] != 20*per {
		t.Errorf("after Forget, its audit entries = %+v, %v; want one forget entry counting %d events", entries, err, 20*per)
	}
	for _, p := range kept {
		if k := rawKeys(t, db, customerPrefix(tagEvent, p)); k != rounds*per {
			t.Errorf("after reopening, %d events of %s, want %d", k, p, rounds*per)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	for _, needle := range [][]byte{forgotten[:], []byte(forgotten.String()), []byte(hex.EncodeToString(forgotten[:]))} {
		if found(t, dir, needle) {
			t.Errorf("%q still found in the files after Forget and Compact", needle)
		}
	}
	for _, p := range kept {
		if !found(t, dir, p[:]) {
			t.Errorf("pseudonym %q of a kept customer not found: the scan is broken", p[:])
		}
	}
}

func pseudoOf(s string) privacy.PseudoID {
	var p privacy.PseudoID
	if copy(p[:], s) != len(p) {
		panic("pseudoOf: want 16 bytes")
	}
	return p
}

// found reports whether any file under dir contains needle, and logs which.
func found(t *testing.T, dir string, needle []byte) bool {
	t.Helper()
	hit := false
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, needle) {
			t.Logf("%q found in %s", needle, filepath.Base(path))
			hit = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hit
}

func filesWith(t *testing.T, dir, suffix string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+suffix))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}
