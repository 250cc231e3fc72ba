package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/discret-io/discret/privacy"
)

// testParts returns parts of several chunks (with smallStore's chunk size),
// an empty one and a popularity part.
func testParts(seed uint64) []ReleasePart {
	r := rand.New(rand.NewPCG(seed, 1))
	big := make([]byte, 100_000)
	for i := range big {
		big[i] = byte(r.Uint32())
	}
	pop := make([]byte, 40_000)
	for i := range pop {
		pop[i] = byte(r.Uint32())
	}
	return []ReleasePart{
		{Name: "vectors", Kind: PartModel, Data: big},
		{Name: "empty", Kind: PartModel, Data: nil},
		{Name: "popular", Kind: PartPopular, Data: pop},
	}
}

func testWrite(version string, created time.Time, seed uint64) ReleaseWrite {
	return ReleaseWrite{
		Manifest: ReleaseManifest{Version: version, Created: created, Meta: []byte(`{"card":"` + version + `"}`)},
		Parts:    testParts(seed),
	}
}

func mustPut(t *testing.T, db *DB, w ReleaseWrite) ReleaseManifest {
	t.Helper()
	m, err := db.PutRelease(t.Context(), w)
	if err != nil {
		t.Fatalf("PutRelease(%s) error: %v", w.Manifest.Version, err)
	}
	return m
}

func versions(ms []ReleaseManifest) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Version)
	}
	return out
}

func TestReleaseRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		dir  bool
	}{{"memory", false}, {"disk", true}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := ""
			if tt.dir {
				dir = t.TempDir()
			}
			db := smallStore(t, dir, nil)
			ctx := t.Context()
			if _, err := db.CurrentRelease(ctx); !errors.Is(err, ErrNoCurrentRelease) {
				t.Fatalf("CurrentRelease on an empty store = %v, want ErrNoCurrentRelease", err)
			}
			w := testWrite("v1", testNow, 1)
			w.MakeCurrent = true
			m := mustPut(t, db, w)
			chunk := db.releaseChunkSize()
			for i, p := range w.Parts {
				info := m.Parts[i]
				wantChunks := (len(p.Data) + chunk - 1) / chunk
				if info.Name != p.Name || info.Size != int64(len(p.Data)) || info.Chunks != wantChunks {
					t.Errorf("manifest part %d = %+v, want name %s size %d chunks %d", i, info, p.Name, len(p.Data), wantChunks)
				}
				got, err := db.ReleasePart(ctx, "v1", p.Name)
				if err != nil || !bytes.Equal(got, p.Data) {
					t.Errorf("ReleasePart(v1, %s) = %d bytes, %v; want the %d bytes written", p.Name, len(got), err, len(p.Data))
				}
			}
			if m.Parts[0].Chunks < 3 {
				t.Errorf("vectors part in %d chunks, want several (chunk size %d)", m.Parts[0].Chunks, chunk)
			}
			if cur, err := db.CurrentRelease(ctx); cur != "v1" || err != nil {
				t.Errorf("CurrentRelease = %q, %v; want v1", cur, err)
			}
			got, err := db.Release(ctx, "v1")
			if err != nil || string(got.Meta) != string(w.Manifest.Meta) || !got.Created.Equal(testNow) || got.Size() != 140_000 {
				t.Errorf("Release(v1) = %+v, %v", got, err)
			}
			if n := rawKeys(t, db, []byte{tagPopular, 'd'}); n != m.Parts[2].Chunks {
				t.Errorf("popularity chunks in table p = %d, want %d", n, m.Parts[2].Chunks)
			}
			if _, err := db.ReleasePart(ctx, "v1", "nope"); !errors.Is(err, ErrReleaseNotFound) {
				t.Errorf("ReleasePart(v1, nope) = %v, want ErrReleaseNotFound", err)
			}
			if _, err := db.ReleasePart(ctx, "v2", "vectors"); !errors.Is(err, ErrReleaseNotFound) {
				t.Errorf("ReleasePart(v2, vectors) = %v, want ErrReleaseNotFound", err)
			}
			if _, err := db.PutRelease(ctx, testWrite("v1", testNow, 2)); !errors.Is(err, ErrReleaseExists) {
				t.Errorf("PutRelease(v1) again = %v, want ErrReleaseExists", err)
			}
			if got, _ := db.ReleasePart(ctx, "v1", "vectors"); !bytes.Equal(got, w.Parts[0].Data) {
				t.Errorf("after a refused rewrite, v1's vectors changed")
			}
		})
	}
}

// TestReleaseInterrupted cancels PutRelease at every possible point: each
// failed write leaves no visible release, no chunk and the current release
// unchanged, until the write finally gets through.
func TestReleaseInterrupted(t *testing.T) {
	t.Parallel()
	db := smallStore(t, "", nil)
	w := testWrite("old", testNow, 1)
	w.MakeCurrent = true
	mustPut(t, db, w)
	chunksBefore := rawKeys(t, db, []byte{tagModel, 'd'}) + rawKeys(t, db, []byte{tagPopular, 'd'})
	failures := 0
	for n := int64(0); ; n++ {
		ctx := &cancelAfter{Context: t.Context()}
		ctx.n.Store(n)
		w := testWrite("new", testNow.Add(time.Hour), 2)
		w.MakeCurrent = true
		_, err := db.PutRelease(ctx, w)
		if err == nil {
			break
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("PutRelease cancelled after %d checks = %v, want context.Canceled", n, err)
		}
		failures++
		ms, err := db.Releases(t.Context())
		if err != nil || !slices.Equal(versions(ms), []string{"old"}) {
			t.Fatalf("after a write cancelled at check %d, Releases = %v, %v; want [old]", n, versions(ms), err)
		}
		if cur, _ := db.CurrentRelease(t.Context()); cur != "old" {
			t.Fatalf("after a write cancelled at check %d, CurrentRelease = %q, want old", n, cur)
		}
		if got := rawKeys(t, db, []byte{tagModel, 'd'}) + rawKeys(t, db, []byte{tagPopular, 'd'}); got != chunksBefore {
			t.Fatalf("after a write cancelled at check %d, %d chunk keys, want %d (the old release's)", n, got, chunksBefore)
		}
		if n > 100 {
			t.Fatal("PutRelease never succeeded")
		}
	}
	if failures < 4 {
		t.Errorf("PutRelease failed at %d points, want one per chunk transaction and more", failures)
	}
	if cur, _ := db.CurrentRelease(t.Context()); cur != "new" {
		t.Errorf("CurrentRelease = %q, want new", cur)
	}
}

// writeOrphan writes chunks of version without a manifest, as a crash
// between the two phases of PutRelease leaves them.
func writeOrphan(t *testing.T, db *DB, version string) {
	t.Helper()
	err := db.bdb.Update(func(txn *badger.Txn) error {
		for i := range 3 {
			if err := txn.Set(chunkKey(tagModel, version, "vectors", i), []byte("partial")); err != nil {
				return err
			}
		}
		return txn.Set(chunkKey(tagPopular, version, "popular", 0), []byte("partial"))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestIncompleteRelease(t *testing.T) {
	t.Parallel()
	db := smallStore(t, "", nil)
	ctx := t.Context()
	mustPut(t, db, testWrite("done", testNow, 1))
	writeOrphan(t, db, "crashed")
	if ms, _ := db.Releases(ctx); !slices.Equal(versions(ms), []string{"done"}) {
		t.Errorf("Releases = %v, want [done]: an incomplete release is invisible", versions(ms))
	}
	if _, err := db.Release(ctx, "crashed"); !errors.Is(err, ErrReleaseNotFound) {
		t.Errorf("Release(crashed) = %v, want ErrReleaseNotFound", err)
	}
	if _, err := db.ReleasePart(ctx, "crashed", "vectors"); !errors.Is(err, ErrReleaseNotFound) {
		t.Errorf("ReleasePart(crashed) = %v, want ErrReleaseNotFound", err)
	}
	if err := db.SetCurrentRelease(ctx, "crashed"); !errors.Is(err, ErrReleaseNotFound) {
		t.Errorf("SetCurrentRelease(crashed) = %v, want ErrReleaseNotFound", err)
	}
	res, err := db.PruneReleases(ctx, 5)
	if err != nil || len(res.Deleted) != 0 || !slices.Equal(res.Incomplete, []string{"crashed"}) {
		t.Errorf("PruneReleases = %+v, %v; want only the incomplete release removed", res, err)
	}
	if n := rawKeys(t, db, chunkVersionPrefix(tagModel, "crashed")) + rawKeys(t, db, chunkVersionPrefix(tagPopular, "crashed")); n != 0 {
		t.Errorf("%d chunks of the incomplete release remain after PruneReleases", n)
	}
	if got, err := db.ReleasePart(ctx, "done", "vectors"); err != nil || len(got) != 100_000 {
		t.Errorf("ReleasePart(done) after pruning = %d bytes, %v", len(got), err)
	}

	// A retry of the crashed version replaces its leftovers.
	writeOrphan(t, db, "again")
	m := mustPut(t, db, testWrite("again", testNow, 3))
	if got, err := db.ReleasePart(ctx, "again", "vectors"); err != nil || !bytes.Equal(got, testParts(3)[0].Data) {
		t.Errorf("ReleasePart(again) = %d bytes, %v; want the new data", len(got), err)
	}
	if n := rawKeys(t, db, chunkVersionPrefix(tagModel, "again")); n != m.Parts[0].Chunks {
		t.Errorf("model chunks of again = %d, want %d (no leftovers)", n, m.Parts[0].Chunks)
	}
}

func TestPruneReleases(t *testing.T) {
	t.Parallel()
	db := smallStore(t, "", nil)
	ctx := t.Context()
	for i := range 7 {
		v := fmt.Sprintf("r%d", i)
		// Created order differs from version order for the last two.
		created := testNow.Add(time.Duration(i) * time.Hour)
		if i >= 5 {
			created = testNow.Add(time.Duration(20-i) * time.Hour)
		}
		mustPut(t, db, testWrite(v, created, uint64(i)))
	}
	if err := db.SetCurrentRelease(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	ms, _ := db.Releases(ctx)
	if want := []string{"r0", "r1", "r2", "r3", "r4", "r6", "r5"}; !slices.Equal(versions(ms), want) {
		t.Fatalf("Releases = %v, want %v (Created order)", versions(ms), want)
	}
	res, err := db.PruneReleases(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"r0", "r2", "r3"}; !slices.Equal(res.Deleted, want) {
		t.Errorf("PruneReleases(3).Deleted = %v, want %v", res.Deleted, want)
	}
	ms, _ = db.Releases(ctx)
	if want := []string{"r1", "r4", "r6", "r5"}; !slices.Equal(versions(ms), want) {
		t.Errorf("after PruneReleases(3), Releases = %v, want %v (newest 3 and current)", versions(ms), want)
	}
	for _, v := range res.Deleted {
		if n := rawKeys(t, db, chunkVersionPrefix(tagModel, v)) + rawKeys(t, db, chunkVersionPrefix(tagPopular, v)); n != 0 {
			t.Errorf("%d chunks of pruned release %s remain", n, v)
		}
	}
	if _, err := db.PruneReleases(ctx, -1); err == nil {
		t.Error("PruneReleases(-1) = nil error, want an error")
	}
	// keep 0 means the default, 5: nothing more to delete.
	if res, err := db.PruneReleases(ctx, 0); err != nil || len(res.Deleted) != 0 {
		t.Errorf("PruneReleases(0) = %+v, %v; want nothing deleted", res, err)
	}
	if err := db.DeleteRelease(ctx, "r1"); !errors.Is(err, ErrReleaseCurrent) {
		t.Errorf("DeleteRelease(current) = %v, want ErrReleaseCurrent", err)
	}
	if err := db.DeleteRelease(ctx, "r4"); err != nil {
		t.Errorf("DeleteRelease(r4) = %v", err)
	}
	if err := db.DeleteRelease(ctx, "r4"); !errors.Is(err, ErrReleaseNotFound) {
		t.Errorf("DeleteRelease(r4) again = %v, want ErrReleaseNotFound", err)
	}
}

func TestRetireRelease(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := smallStore(t, "", nil)
	for i := range 4 {
		mustPut(t, db, testWrite(fmt.Sprintf("r%d", i), testNow.Add(time.Duration(i)*time.Hour), uint64(i)))
	}
	current := func() string {
		t.Helper()
		v, err := db.CurrentRelease(ctx)
		if errors.Is(err, ErrNoCurrentRelease) {
			return ""
		}
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if err := db.SetCurrentRelease(ctx, "r3"); err != nil {
		t.Fatal(err)
	}
	// Retired with the data of customer p, by the command line.
	p := privacy.PseudoID{5: 5}
	ctx = WithAuditActor(ctx, cliAlice)
	// Not current: only the release goes.
	if err := db.RetireRelease(ctx, "r0", "", p); err != nil {
		t.Fatalf("RetireRelease(r0) = %v", err)
	}
	// Current, with a successor that does not exist: nothing changes.
	if err := db.RetireRelease(ctx, "r3", "r0", p); !errors.Is(err, ErrReleaseNotFound) {
		t.Errorf("RetireRelease(r3, successor r0 retired) = %v, want ErrReleaseNotFound", err)
	}
	if got := current(); got != "r3" {
		t.Errorf("after a failed retirement the current release is %q, want r3", got)
	}
	for _, bad := range []string{"r3", "../x"} {
		if err := db.RetireRelease(ctx, "r3", bad, p); err == nil {
			t.Errorf("RetireRelease(r3, successor %q) = nil error", bad)
		}
	}
	// Current, with a successor: the successor becomes current in the same step.
	if err := db.RetireRelease(ctx, "r3", "r1", p); err != nil {
		t.Fatalf("RetireRelease(r3, r1) = %v", err)
	}
	if got := current(); got != "r1" {
		t.Errorf("current after retiring r3 for r1 = %q, want r1", got)
	}
	// Current, no successor: no release is current afterwards.
	if err := db.RetireRelease(ctx, "r1", "", p); err != nil {
		t.Fatalf("RetireRelease(r1) = %v", err)
	}
	if got := current(); got != "" {
		t.Errorf("current after retiring r1 without successor = %q, want none", got)
	}
	ms, _ := db.Releases(ctx)
	if want := []string{"r2"}; !slices.Equal(versions(ms), want) {
		t.Errorf("Releases = %v, want %v", versions(ms), want)
	}
	for _, v := range []string{"r0", "r1", "r3"} {
		if n := rawKeys(t, db, chunkVersionPrefix(tagModel, v)) + rawKeys(t, db, chunkVersionPrefix(tagPopular, v)); n != 0 {
			t.Errorf("%d chunks of retired release %s remain", n, v)
		}
	}
	if err := db.RetireRelease(ctx, "r1", "", p); !errors.Is(err, ErrReleaseNotFound) {
		t.Errorf("RetireRelease(r1) again = %v, want ErrReleaseNotFound", err)
	}
	// One audit entry per retirement, about p, naming the successor of a
	// current release; none for the failed ones.
	entries, _, err := db.Audit(ctx, AuditQuery{Actions: []AuditAction{AuditModelRetire}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if e.Subject != SubjectOf(p) || e.Actor != cliAlice {
			t.Errorf("retirement entry %+v: want subject %x, actor %v", e, SubjectOf(p), cliAlice)
		}
		got = append(got, e.Object)
	}
	slices.Sort(got)
	if want := []string{"r0", "r1 (current → none)", "r3 (current → r1)"}; !slices.Equal(got, want) {
		t.Errorf("model.retire objects = %q, want %q", got, want)
	}
}

func TestReleaseCorrupt(t *testing.T) {
	t.Parallel()
	db := smallStore(t, "", nil)
	mustPut(t, db, testWrite("v", testNow, 1))
	for _, tt := range []struct {
		name string
		fn   func(txn *badger.Txn) error
	}{
		{"changed chunk", func(txn *badger.Txn) error { return txn.Set(chunkKey(tagModel, "v", "vectors", 1), []byte("x")) }},
		{"missing chunk", func(txn *badger.Txn) error { return txn.Delete(chunkKey(tagModel, "v", "vectors", 2)) }},
	} {
		if err := db.bdb.Update(tt.fn); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ReleasePart(t.Context(), "v", "vectors"); !errors.Is(err, ErrCorrupt) {
			t.Errorf("ReleasePart after %s = %v, want ErrCorrupt", tt.name, err)
		}
	}
	if err := db.bdb.Update(func(txn *badger.Txn) error { return txn.Set(manifestKey("v"), []byte{valueV1, '{'}) }); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Releases(t.Context()); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Releases with a corrupt manifest = %v, want ErrCorrupt", err)
	}
}

func TestPutReleaseInvalid(t *testing.T) {
	t.Parallel()
	db := smallStore(t, "", nil)
	ok := testWrite("ok", testNow, 1)
	tests := []struct {
		name string
		mod  func(w *ReleaseWrite)
		want string
	}{
		{"empty version", func(w *ReleaseWrite) { w.Manifest.Version = "" }, "version"},
		{"version with a slash", func(w *ReleaseWrite) { w.Manifest.Version = "a/b" }, "version"},
		{"long version", func(w *ReleaseWrite) { w.Manifest.Version = strings.Repeat("v", 65) }, "version"},
		{"zero time", func(w *ReleaseWrite) { w.Manifest.Created = time.Time{} }, "creation time"},
		{"big meta", func(w *ReleaseWrite) { w.Manifest.Meta = make([]byte, MaxReleaseMeta+1) }, "metadata"},
		{"no parts", func(w *ReleaseWrite) { w.Parts = nil }, "0 parts"},
		{"duplicate part", func(w *ReleaseWrite) { w.Parts[1].Name = w.Parts[0].Name }, "duplicate"},
		{"part with NUL", func(w *ReleaseWrite) { w.Parts[0].Name = "a\x00b" }, "name"},
		{"unknown kind", func(w *ReleaseWrite) { w.Parts[0].Kind = 9 }, "kind"},
		{"bad ledger entry", func(w *ReleaseWrite) { w.Charge = &LedgerCharge{Time: testNow, Data: []byte("{")} }, "JSON"},
	}
	for _, tt := range tests {
		w := ok
		w.Parts = slices.Clone(ok.Parts)
		tt.mod(&w)
		_, err := db.PutRelease(t.Context(), w)
		if !errors.Is(err, ErrInvalidRelease) && !errors.Is(err, ErrInvalidLedger) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("PutRelease(%s) = %v, want an invalid-release error mentioning %q", tt.name, err, tt.want)
		}
	}
	if ms, _ := db.Releases(t.Context()); len(ms) != 0 {
		t.Errorf("invalid writes left releases %v", versions(ms))
	}
}

// TestReleaseCharge checks that a release and its ledger entry commit
// together, and that the ledger check is atomic with the append: of many
// concurrent releases allowed only if the ledger is empty, exactly one
// commits.
func TestReleaseCharge(t *testing.T) {
	t.Parallel()
	db := smallStore(t, "", nil)
	ctx := t.Context()
	refuse := errors.New("over budget")
	emptyOnly := func(prev []LedgerRecord) error {
		if len(prev) > 0 {
			return refuse
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			w := testWrite(fmt.Sprintf("c%d", i), testNow, uint64(i))
			w.Charge = &LedgerCharge{Time: testNow, Data: []byte(fmt.Sprintf(`{"release":%d}`, i)), Check: emptyOnly}
			w.MakeCurrent = true
			_, errs[i] = db.PutRelease(ctx, w)
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("releases %d and %d both passed a check that only one may pass", winner, i)
		case err == nil:
			winner = i
		case err != refuse:
			t.Errorf("PutRelease(c%d) = %v, want the check's error as it is", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no release passed the check")
	}
	ledger, err := db.Ledger(ctx)
	if err != nil || len(ledger) != 1 || string(ledger[0].Data) != fmt.Sprintf(`{"release":%d}`, winner) {
		t.Errorf("Ledger = %+v, %v; want the winner's entry only", ledger, err)
	}
	ms, _ := db.Releases(ctx)
	if want := []string{fmt.Sprintf("c%d", winner)}; !slices.Equal(versions(ms), want) {
		t.Errorf("Releases = %v, want %v", versions(ms), want)
	}
	if cur, _ := db.CurrentRelease(ctx); cur != fmt.Sprintf("c%d", winner) {
		t.Errorf("CurrentRelease = %q, want c%d", cur, winner)
	}
	m, err := db.Release(ctx, fmt.Sprintf("c%d", winner))
	if err != nil {
		t.Fatal(err)
	}
	if n, want := rawKeys(t, db, []byte{tagModel, 'd'}), m.Parts[0].Chunks; n != want {
		t.Errorf("%d model chunks remain, want %d (the winner's only)", n, want)
	}
}

func TestChunkKey(t *testing.T) {
	k := chunkKey(tagPopular, "v-1.2", "popular", 258)
	want := "pdv-1.2\x00popular\x00\x00\x00\x01\x02"
	if string(k) != want {
		t.Errorf("chunkKey = %q, want %q", k, want)
	}
	if v, ok := chunkKeyVersion(k); v != "v-1.2" || !ok {
		t.Errorf("chunkKeyVersion(%q) = %q, %v; want v-1.2, true", k, v, ok)
	}
	for _, bad := range []string{"", "pd", "pd\x00x", "px1\x00", "pd/\x00"} {
		if v, ok := chunkKeyVersion([]byte(bad)); ok {
			t.Errorf("chunkKeyVersion(%q) = %q, true; want false", bad, v)
		}
	}
}

func FuzzManifestValue(f *testing.F) {
	v, _ := encodeManifest(ReleaseManifest{Version: "v1", Created: testNow, Meta: []byte("{}"), Parts: []PartInfo{{Name: "a", Kind: PartModel, Size: 3, Chunks: 1, CRC32C: 7}}})
	f.Add(v)
	f.Add([]byte{valueV1, '{', '}'})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeManifest(b)
		if err != nil {
			return
		}
		again, err := encodeManifest(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := decodeManifest(again)
		if err != nil {
			t.Fatalf("decodeManifest(encodeManifest(m)) error: %v", err)
		}
		if m2.Version != m.Version || !m2.Created.Equal(m.Created) || !bytes.Equal(m2.Meta, m.Meta) || !slices.Equal(m2.Parts, m.Parts) {
			t.Errorf("manifest round trip = %+v, want %+v", m2, m)
		}
	})
}

// BenchmarkPutRelease writes and reads back a release of one part, on disk
// (synced commits), at the sizes of a 64-factor model of 10,000 and
// 100,000 items.
func BenchmarkPutRelease(b *testing.B) {
	for _, size := range []int{10_000 * 64 * 4, 100_000 * 64 * 4} {
		b.Run(fmt.Sprintf("bytes=%d", size), func(b *testing.B) {
			db := mustOpenB(b, diskOptions(b.TempDir()))
			data := make([]byte, size)
			for i := range data {
				data[i] = byte(i * 7)
			}
			b.SetBytes(int64(size))
			n := 0
			for b.Loop() {
				n++
				v := fmt.Sprintf("v%d", n)
				w := ReleaseWrite{Manifest: ReleaseManifest{Version: v, Created: testNow}, Parts: []ReleasePart{{Name: "vectors", Kind: PartModel, Data: data}}, MakeCurrent: true}
				if _, err := db.PutRelease(b.Context(), w); err != nil {
					b.Fatal(err)
				}
				if got, err := db.ReleasePart(b.Context(), v, "vectors"); err != nil || len(got) != size {
					b.Fatal(err)
				}
				if _, err := db.PruneReleases(b.Context(), 2); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
