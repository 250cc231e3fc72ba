package store

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/retention"
)

var (
	cliAlice = AuditActor{Via: ViaCLI, Name: "alice"}
	apiKey1  = AuditActor{Via: ViaAPI, KeyID: "k3x9", Name: "dpo-console"}
)

func testAuditEntry() AuditEntry {
	return AuditEntry{
		Action:  AuditForget,
		Actor:   apiKey1,
		Subject: SubjectOf(privacy.PseudoID{1: 1}),
		Counts:  map[string]int64{TableEvents: 12, TableConsent: 1},
	}
}

func TestAuditValue(t *testing.T) {
	key := auditKey(testNow.Add(1500*time.Millisecond), 7)
	for _, e := range []AuditEntry{
		testAuditEntry(),
		{Action: AuditKeyCreate, Actor: cliAlice, Object: "abcd1234"},
		{Action: AuditModelTrain, Object: "v20350101-000000"}, // ViaUnknown
		{Action: AuditConsentImport, Actor: AuditActor{Via: ViaCLI}, Object: "consent.jsonl", Counts: map[string]int64{"recorded": 0, "rows": 1 << 40}},
	} {
		got, err := decodeAudit(key, encodeAudit(&e))
		e.ID, e.Time = auditID(key), testNow.Add(time.Second)
		if err != nil || !reflect.DeepEqual(got, e) {
			t.Errorf("decodeAudit(encodeAudit(%+v)) = %+v, %v; want the entry back, to the second", e, got, err)
		}
	}
	// Golden encoding, so that the format cannot drift.
	e := AuditEntry{Action: AuditKeyRevoke, Actor: AuditActor{Via: ViaAPI, KeyID: "k", Name: "n"}, Object: "o", Counts: map[string]int64{"b": 2, "a": 1}}
	want := "01" + "04" + "02" + "016b" + "016e" + "00" + "016f" + "02" + "0161" + "01" + "0162" + "02"
	if got := hexOf(encodeAudit(&e)); got != want {
		t.Errorf("encodeAudit(%+v) = %s, want %s", e, got, want)
	}
	// Values it refuses: each breaks one rule of the format.
	good := hexOf(encodeAudit(&e))
	for _, bad := range []string{
		"",
		"02" + good[2:],   // version
		"0100" + good[4:], // action 0
		fmt.Sprintf("01%02x", len(auditActionNames)) + good[4:], // the action after the last
		"010409" + good[6:],               // via 9
		good + "00",                       // trailing byte
		good[:len(good)-2],                // truncated
		"010402" + "0141" + good[10:],     // key id "A"
		"010402016b" + "010a" + good[14:], // name with a control character
		"010402016b016e" + "01" + strings.Repeat("00", 16) + good[16:],  // zero subject
		"010402016b016e00016f" + "02" + "0162" + "02" + "0161" + "01",   // counts out of order
		"010402016b016e00016f" + "01" + "0141" + "01",                   // count name "A"
		"010402016b016e00016f" + "01" + "0161" + "ffffffffffffffffff01", // count > MaxInt64
		"010402" + "816b" + good[10:],                                   // over-long varint
		"010402016b016e00016f" + "01" + "0161" + "8100",                 // over-long count
	} {
		v, err := hex.DecodeString(bad)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := decodeAudit(key, v); !errors.Is(err, ErrCorrupt) {
			t.Errorf("decodeAudit(%s) = %+v, %v; want ErrCorrupt", bad, got, err)
		}
	}
	if _, err := decodeAudit([]byte{tagAudit, 1}, encodeAudit(&e)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("decodeAudit(short key) = %v, want ErrCorrupt", err)
	}
}

// FuzzAuditValue checks the audit codec: any value it decodes re-encodes
// to the same bytes.
func FuzzAuditValue(f *testing.F) {
	e := testAuditEntry()
	f.Add(encodeAudit(&e), uint64(testNow.UnixNano()), uint32(1))
	e = AuditEntry{Action: AuditKeyCreate, Actor: cliAlice, Object: "abcd1234"}
	f.Add(encodeAudit(&e), uint64(0), uint32(0))
	f.Add([]byte{valueV1, 1, 1, 0, 0, 0, 0, 0}, uint64(1)<<63, uint32(0))
	f.Fuzz(func(t *testing.T, raw []byte, ns uint64, suffix uint32) {
		key := auditKeyAt(ns, suffix)
		got, err := decodeAudit(key, raw)
		if err != nil {
			return
		}
		if back := encodeAudit(&got); !bytes.Equal(back, raw) {
			t.Fatalf("decodeAudit(%x) = %+v, which encodes to %x", raw, got, back)
		}
		if !ValidAuditID(got.ID) {
			t.Fatalf("decodeAudit gave ID %q, which ValidAuditID refuses", got.ID)
		}
	})
}

// auditClock is a store clock that tests move.
type auditClock struct{ now time.Time }

func (c *auditClock) Now() time.Time { return c.now }

// TestAuditHooks checks that each audited write of the store leaves one
// entry with its action, object and the actor of its context, and that a
// write that changes nothing (a second revocation, making the current
// release current) or fails leaves none.
func TestAuditHooks(t *testing.T) {
	clock := &auditClock{now: testNow}
	db := mustOpen(t, Options{InMemory: true, EncryptionKey: testKey, Now: clock.Now})
	cli := WithAuditActor(t.Context(), cliAlice)
	api := WithAuditActor(t.Context(), apiKey1)
	p := privacy.PseudoID{9: 9}
	grant(t, db, p)
	fill(t, db, p, 5)

	step := func(name string, ctx context.Context, f func(context.Context) error) {
		t.Helper()
		clock.now = clock.now.Add(time.Second)
		if err := f(ctx); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	step("CreateAPIKey", cli, func(ctx context.Context) error { return db.CreateAPIKey(ctx, testAPIKey("k1")) })
	step("RevokeAPIKey", api, func(ctx context.Context) error { _, err := db.RevokeAPIKey(ctx, "k1", testNow); return err })
	step("RevokeAPIKey again", api, func(ctx context.Context) error { _, err := db.RevokeAPIKey(ctx, "k1", testNow); return err })
	w := testWrite("v1", testNow, 1)
	w.MakeCurrent = true
	step("PutRelease", api, func(ctx context.Context) error { _, err := db.PutRelease(ctx, w); return err })
	step("PutRelease not current", api, func(ctx context.Context) error {
		_, err := db.PutRelease(ctx, testWrite("v2", testNow, 2))
		return err
	})
	step("SetCurrentRelease", cli, func(ctx context.Context) error { return db.SetCurrentRelease(ctx, "v2") })
	step("SetCurrentRelease again", cli, func(ctx context.Context) error { return db.SetCurrentRelease(ctx, "v2") })
	step("RecordAudit", api, func(ctx context.Context) error {
		return db.RecordAudit(ctx, AuditEntry{Action: AuditExport, Subject: SubjectOf(p), Counts: map[string]int64{TableEvents: 5}})
	})
	step("Forget", cli, func(ctx context.Context) error { _, err := db.Forget(ctx, p); return err })
	// Refused writes.
	if err := db.CreateAPIKey(cli, testAPIKey("k1")); !errors.Is(err, ErrAPIKeyExists) {
		t.Errorf("CreateAPIKey(taken id) = %v, want ErrAPIKeyExists", err)
	}
	if err := db.SetCurrentRelease(cli, "v9"); !errors.Is(err, ErrReleaseNotFound) {
		t.Errorf("SetCurrentRelease(unknown) = %v, want ErrReleaseNotFound", err)
	}

	got, more, err := db.Audit(t.Context(), AuditQuery{})
	if err != nil || more {
		t.Fatalf("Audit() = %v, more %v, %v", got, more, err)
	}
	type brief struct {
		time   time.Time
		action AuditAction
		actor  AuditActor
		object string
		counts map[string]int64
		about  bool
	}
	var briefs []brief
	for _, e := range got {
		briefs = append(briefs, brief{e.Time, e.Action, e.Actor, e.Object, e.Counts, e.Subject == SubjectOf(p)})
	}
	at := func(s int) time.Time { return testNow.Add(time.Duration(s) * time.Second) }
	want := []brief{ // newest first
		{at(9), AuditForget, cliAlice, "", map[string]int64{TableConsent: 1, TableEvents: 5}, true},
		{at(8), AuditExport, apiKey1, "", map[string]int64{TableEvents: 5}, true},
		{at(6), AuditModelUse, cliAlice, "v2", nil, false},
		{at(4), AuditModelTrain, apiKey1, "v1", nil, false},
		{at(2), AuditKeyRevoke, apiKey1, "k1", nil, false},
		{at(1), AuditKeyCreate, cliAlice, "k1", nil, false},
	}
	if !reflect.DeepEqual(briefs, want) {
		t.Errorf("Audit() =\n%+v\nwant\n%+v", briefs, want)
	}
	// The export of the erased customer lists what was done about them,
	// and through which channel, not by whom.
	d, err := db.Export(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	wantData := []AuditData{
		{Time: at(8), Action: "export", Actor: "api"},
		{Time: at(9), Action: "forget", Actor: "cli"},
	}
	if !reflect.DeepEqual(d.Audit, wantData) {
		t.Errorf("Export().Audit = %+v, want %+v", d.Audit, wantData)
	}
}

// TestAuditQuery checks the filters, the pages and expiry.
func TestAuditQuery(t *testing.T) {
	clock := &auditClock{now: testNow}
	db := mustOpen(t, Options{InMemory: true, EncryptionKey: testKey, Now: clock.Now, AuditRetention: retention.Period{Days: 10}})
	ctx := WithAuditActor(t.Context(), cliAlice)
	a, b := SubjectOf(privacy.PseudoID{1: 1}), SubjectOf(privacy.PseudoID{2: 2})
	// Day i: an export of a (even days) or b (odd days), and a consent
	// import; two entries in the same second.
	for i := range 6 {
		clock.now = testNow.AddDate(0, 0, i)
		s := a
		if i%2 == 1 {
			s = b
		}
		for _, e := range []AuditEntry{{Action: AuditExport, Subject: s}, {Action: AuditConsentImport, Object: "c.jsonl"}} {
			if err := db.RecordAudit(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
	}
	day := func(i int) time.Time { return testNow.AddDate(0, 0, i) }
	type result struct {
		days []int
		more bool
	}
	list := func(q AuditQuery) result {
		t.Helper()
		got, more, err := db.Audit(t.Context(), q)
		if err != nil {
			t.Fatalf("Audit(%+v): %v", q, err)
		}
		r := result{more: more}
		for _, e := range got {
			r.days = append(r.days, int(e.Time.Sub(testNow)/(24*time.Hour)))
			if len(q.Actions) > 0 && !slices.Contains(q.Actions, e.Action) || !q.Subject.IsZero() && e.Subject != q.Subject {
				t.Errorf("Audit(%+v) gave %+v, which it does not select", q, e)
			}
		}
		return r
	}
	ex, ci := AuditExport, AuditConsentImport
	for _, tt := range []struct {
		name string
		q    AuditQuery
		want result
	}{
		{"all", AuditQuery{}, result{days: []int{5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0}}},
		{"subject a", AuditQuery{Subject: a}, result{days: []int{4, 2, 0}}},
		{"subject b, export", AuditQuery{Subject: b, Actions: []AuditAction{ex}}, result{days: []int{5, 3, 1}}},
		{"since, until", AuditQuery{Since: day(2), Until: day(4), Actions: []AuditAction{ex}}, result{days: []int{3, 2}}},
		{"limit", AuditQuery{Actions: []AuditAction{ci}, Limit: 2}, result{days: []int{5, 4}, more: true}},
		{"limit reached exactly", AuditQuery{Actions: []AuditAction{ci}, Since: day(4), Limit: 2}, result{days: []int{5, 4}}},
		{"two actions", AuditQuery{Actions: []AuditAction{ci, ex}, Since: day(5)}, result{days: []int{5, 5}}},
		{"none", AuditQuery{Actions: []AuditAction{AuditForget}}, result{}},
	} {
		if got := list(tt.q); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Audit(%+v) = %+v, want %+v", tt.name, tt.q, got, tt.want)
		}
	}

	// Pages of 5 give every entry once, newest first.
	var ids []string
	before := ""
	for page := 0; ; page++ {
		got, more, err := db.Audit(t.Context(), AuditQuery{Limit: 5, Before: before})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range got {
			ids = append(ids, e.ID)
		}
		if !more {
			break
		}
		before = got[len(got)-1].ID
	}
	if len(ids) != 12 || !slices.IsSortedFunc(ids, func(x, y string) int { return strings.Compare(y, x) }) || len(slices.Compact(slices.Clone(ids))) != 12 {
		t.Errorf("pages of 5 = %v, want 12 distinct ids, newest first", ids)
	}
	if _, _, err := db.Audit(t.Context(), AuditQuery{Before: "zz"}); !errors.Is(err, ErrBadAuditID) {
		t.Errorf("Audit(Before: zz) = %v, want ErrBadAuditID", err)
	}

	// Retention 10 days: at day 10 the entries of day 0 have expired, at
	// day 15 those of day 5 too.
	clock.now = day(10)
	if got := list(AuditQuery{Actions: []AuditAction{ex}}); !reflect.DeepEqual(got.days, []int{5, 4, 3, 2, 1}) {
		t.Errorf("at day 10, Audit() days = %v, want 5 4 3 2 1", got.days)
	}
	clock.now = day(15)
	if got, _, err := db.Audit(t.Context(), AuditQuery{}); len(got) != 0 || err != nil {
		t.Errorf("at day 15, Audit() = %v, %v; want none", got, err)
	}
	if d, err := db.Export(t.Context(), privacy.PseudoID{1: 1}); err != nil || len(d.Audit) != 0 {
		t.Errorf("at day 15, Export().Audit = %v, %v; want none", d.Audit, err)
	}
}

// TestForgetAuditAtomic checks that the erasure's entry is written in the
// erasure's transaction: an entry that cannot be written (an actor that
// is not valid) fails the erasure, which leaves everything in place, and
// a failed erasure (a corrupt marker) leaves no entry.
func TestForgetAuditAtomic(t *testing.T) {
	db := smallStore(t, "", nil)
	p := privacy.PseudoID{3: 3}
	grant(t, db, p)
	fill(t, db, p, 10)
	bad := WithAuditActor(t.Context(), AuditActor{Via: ViaCLI, Name: "bad\nname"})
	if _, err := db.Forget(bad, p); !errors.Is(err, ErrInvalidAudit) {
		t.Fatalf("Forget(actor with a newline) = %v, want ErrInvalidAudit", err)
	}
	d, err := db.Export(t.Context(), p)
	if err != nil || len(d.Events) != 10 || len(d.Consent) == 0 || !d.ErasedAt.IsZero() {
		t.Errorf("after a failed Forget, Export = %d events, consent %v, erased at %v, %v; want everything in place", len(d.Events), d.Consent, d.ErasedAt, err)
	}
	// A corrupt marker fails the erasure's first transaction.
	if err := db.bdb.Update(func(txn *badger.Txn) error { return txn.Set(erasureKey(p), []byte{9}) }); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Forget(WithAuditActor(t.Context(), cliAlice), p); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Forget(corrupt marker) = %v, want ErrCorrupt", err)
	}
	if n := rawKeys(t, db, []byte{tagAudit}); n != 0 {
		t.Errorf("after failed erasures, %d audit entries, want 0", n)
	}
}

// TestForgetAuditChunked checks that an erasure too large for one
// transaction has one entry, counting what its later steps erased.
func TestForgetAuditChunked(t *testing.T) {
	db := smallStore(t, "", func(o *Options) { o.eraseChunk = 500 })
	p := privacy.PseudoID{4: 4}
	grant(t, db, p)
	fill(t, db, p, 1800)
	removed, err := db.Forget(WithAuditActor(t.Context(), cliAlice), p)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := db.Audit(t.Context(), AuditQuery{Subject: SubjectOf(p)})
	if err != nil || len(got) != 1 {
		t.Fatalf("Audit(subject) = %+v, %v; want one entry", got, err)
	}
	want := map[string]int64{}
	for t, n := range removed {
		want[t] = int64(n)
	}
	if !reflect.DeepEqual(got[0].Counts, want) || got[0].Counts[TableEvents] != 1800 {
		t.Errorf("entry counts %v, want %v (1800 events)", got[0].Counts, want)
	}
}

func TestSubjectOf(t *testing.T) {
	p := pseudoOf("FORGOTTEN-CUST-1")
	s := SubjectOf(p)
	k := erasedKey(p)
	switch {
	case s.IsZero():
		t.Error("SubjectOf = zero")
	case string(s[:]) == string(p[:]) || string(s[:]) == string(k[1:]):
		t.Errorf("SubjectOf(%x) = %x: the pseudonym or its erasure key, want a hash of its own", p, s)
	case SubjectOf(pseudoOf("FORGOTTEN-CUST-2")) == s:
		t.Error("two pseudonyms have the same subject")
	case len(s.Short()) != 16 || AuditSubject{}.Short() != "":
		t.Errorf("Short() = %q, want 16 hex digits (and \"\" for zero)", s.Short())
	}
}

// TestAuditActions: AuditActions runs from AuditExport through every named
// action, each with a name of its own, and Valid holds for them alone.
func TestAuditActions(t *testing.T) {
	if len(AuditActions) == 0 || AuditActions[0] != AuditExport {
		t.Fatalf("AuditActions = %v, want to start with export", AuditActions)
	}
	seen := map[string]bool{}
	for i, a := range AuditActions {
		if a != AuditExport+AuditAction(i) || !a.Valid() || auditActionNames[a] == "" || seen[a.String()] {
			t.Errorf("AuditActions[%d] = %v: want action %d, valid, with a name of its own", i, a, AuditExport+AuditAction(i))
		}
		seen[a.String()] = true
	}
	if last := AuditActions[len(AuditActions)-1]; AuditAction(0).Valid() || (last + 1).Valid() {
		t.Errorf("Valid holds outside %v..%v", AuditExport, last)
	}
}

func TestParseAuditAction(t *testing.T) {
	for _, a := range AuditActions {
		if got, err := ParseAuditAction(a.String()); got != a || err != nil {
			t.Errorf("ParseAuditAction(%q) = %v, %v; want %v", a, got, err, a)
		}
	}
	if _, err := ParseAuditAction("erase"); err == nil || !strings.Contains(err.Error(), "forget") {
		t.Errorf("ParseAuditAction(erase) = %v, want an error listing the actions", err)
	}
}

func TestAuditObject(t *testing.T) {
	long := strings.Repeat("é", MaxAuditObject) // 2 bytes a rune
	for _, tt := range []struct{ in, want string }{
		{"consent.jsonl", "consent.jsonl"},
		{"a\nb\x00c", "a\uFFFDb\uFFFDc"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
		{long, long[:MaxAuditObject]},
		{"x" + long, "x" + long[:MaxAuditObject-2]},
		// A file named after its customer: the trail outlives an erasure.
		{"request-jane@dpo.example.csv", features.WithheldName},
		{long + "@", features.WithheldName},
	} {
		got := AuditObject(tt.in)
		if got != tt.want || !auditText(got, MaxAuditObject) {
			t.Errorf("AuditObject(%q) = %q, want %q (a valid object)", tt.in, got, tt.want)
		}
	}
}

// TestAuditOrder checks that the trail lists entries in the order they
// were written, each under its own key: in the same nanosecond, after the
// clock was set back, and after a restart.
func TestAuditOrder(t *testing.T) {
	dir := t.TempDir()
	clock := &auditClock{now: testNow}
	open := func() *DB {
		o := diskOptions(dir)
		o.Now = clock.Now
		return mustOpen(t, o)
	}
	db := open()
	defer func() { db.Close() }()
	steps := []struct {
		name   string
		at     time.Time
		reopen bool
	}{
		{"first", testNow, false},
		{"same instant", testNow, false},
		{"same instant again", testNow, false},
		{"a second later", testNow.Add(time.Second), false},
		{"clock set back", testNow, false},
		{"after a restart, clock back", testNow, true},
		{"after a restart, later", testNow.Add(2 * time.Second), false},
	}
	var want []string
	for _, s := range steps {
		if s.reopen {
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = open()
		}
		clock.now = s.at
		if err := db.RecordAudit(t.Context(), AuditEntry{Action: AuditConsentImport, Object: s.name}); err != nil {
			t.Fatalf("%s: RecordAudit = %v", s.name, err)
		}
		want = append([]string{s.name}, want...) // newest first
	}
	got, _, err := db.Audit(t.Context(), AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var names, ids []string
	for _, e := range got {
		names, ids = append(names, e.Object), append(ids, e.ID)
	}
	if !slices.Equal(names, want) {
		t.Errorf("Audit() lists %q, want %q (newest first)", names, want)
	}
	if !slices.IsSortedFunc(ids, func(x, y string) int { return strings.Compare(y, x) }) || len(slices.Compact(slices.Clone(ids))) != len(steps) {
		t.Errorf("Audit() ids %v, want %d distinct, decreasing", ids, len(steps))
	}
}

// TestAuditReadsOnlyWhatItNeeds checks that a listing or an export about
// one customer does not decode the entries about others, that
// ExportRecords does not read the trail, and that a listing bounded by
// Until (which seeks to it) leaves out the entries after it: a corrupt
// entry (after Until, about nobody) fails only the reads that need it.
func TestAuditReadsOnlyWhatItNeeds(t *testing.T) {
	clock := &auditClock{now: testNow}
	db := mustOpen(t, Options{InMemory: true, EncryptionKey: testKey, Now: clock.Now})
	p := privacy.PseudoID{7: 7}
	for i := range 3 {
		clock.now = testNow.AddDate(0, 0, i)
		if err := db.RecordAudit(t.Context(), AuditEntry{Action: AuditExport, Subject: SubjectOf(p)}); err != nil {
			t.Fatal(err)
		}
	}
	bad := auditKey(testNow.AddDate(0, 0, 5), 0)
	if err := db.bdb.Update(func(txn *badger.Txn) error { return txn.Set(bad, []byte{valueV1, 99}) }); err != nil {
		t.Fatal(err)
	}
	count := func(entries []AuditEntry, more bool, err error) (int, error) { return len(entries), err }
	for _, tt := range []struct {
		name    string
		read    func(ctx context.Context) (int, error)
		want    int
		corrupt bool
	}{
		{"Audit, all", func(ctx context.Context) (int, error) { return count(db.Audit(ctx, AuditQuery{})) }, 0, true},
		{"Audit, until before the corrupt entry", func(ctx context.Context) (int, error) {
			return count(db.Audit(ctx, AuditQuery{Until: testNow.AddDate(0, 0, 4)}))
		}, 3, false},
		{"Audit, about the customer", func(ctx context.Context) (int, error) {
			return count(db.Audit(ctx, AuditQuery{Subject: SubjectOf(p)}))
		}, 3, false},
		{"Export", func(ctx context.Context) (int, error) {
			d, err := db.Export(ctx, p)
			return len(d.Audit), err
		}, 3, false},
		{"ExportRecords", func(ctx context.Context) (int, error) {
			d, err := db.ExportRecords(ctx, p)
			return len(d.Audit), err
		}, 0, false},
	} {
		got, err := tt.read(t.Context())
		if tt.corrupt {
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s = %d, %v; want ErrCorrupt", tt.name, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s = %d entries, %v; want %d", tt.name, got, err, tt.want)
		}
	}
}
