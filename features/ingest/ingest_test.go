package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
	"github.com/discret-io/discret/privacy/pseudonym"
)

var (
	now     = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	testKey = bytes.Repeat([]byte{0x5a}, 32)
)

func clock() time.Time { return now }

func pseudonyms(t testing.TB) *pseudonym.Keyed {
	p, err := pseudonym.New(testKey)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func memStore(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(store.Options{InMemory: true, EncryptionKey: bytes.Repeat([]byte{1}, 32), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newIngester(t testing.TB, st Store, batch int) *Ingester {
	t.Helper()
	in, err := New(Config{Pseudonyms: pseudonyms(t), Now: clock, BatchSize: batch}, st)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func cid(t testing.TB, s string) privacy.CustomerID {
	t.Helper()
	c, err := privacy.ParseCustomerID(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// grant records consent for raw customer id s.
func grant(t testing.TB, db *store.DB, s string, purposes ...privacy.Purpose) {
	t.Helper()
	var ch []consent.Change
	for _, p := range purposes {
		ch = append(ch, consent.Change{Purpose: p, Granted: true, Time: now.Add(-time.Hour), Source: "test"})
	}
	if _, err := db.UpdateConsent(context.Background(), pseudonyms(t).Pseudonymize(cid(t, s)), ch, consent.Defaults{}); err != nil {
		t.Fatal(err)
	}
}

func ev(t testing.TB, customer string, kind privacy.EventKind, item string, at time.Time) features.RawEvent {
	e := features.RawEvent{Customer: cid(t, customer), Kind: kind, Item: item, Time: at, Quantity: 1}
	if kind == privacy.StoreVisit {
		e.Item, e.Store = "", "paris-1"
	}
	return e
}

func TestWriteConsentAndRetention(t *testing.T) {
	P, S := privacy.Personalization, privacy.InStore
	old := now.AddDate(-4, 0, 0) // past every default retention period
	tests := []struct {
		name     string
		purposes []privacy.Purpose
		event    features.RawEvent
		want     Counts
	}{
		{"purchase with consent", []privacy.Purpose{P}, ev(t, "a@x.org", privacy.Purchase, "i1", now.Add(-time.Minute)), Counts{Stored: 1}},
		{"purchase without consent", nil, ev(t, "b@x.org", privacy.Purchase, "i1", now.Add(-time.Minute)), Counts{NoConsent: 1}},
		{"purchase with in_store only", []privacy.Purpose{S}, ev(t, "c@x.org", privacy.Purchase, "i1", now.Add(-time.Minute)), Counts{NoConsent: 1}},
		{"visit with personalization only", []privacy.Purpose{P}, ev(t, "d@x.org", privacy.StoreVisit, "", now.Add(-time.Minute)), Counts{NoConsent: 1}},
		{"visit with both", []privacy.Purpose{P, S}, ev(t, "e@x.org", privacy.StoreVisit, "", now.Add(-time.Minute)), Counts{Stored: 1}},
		{"expired purchase", []privacy.Purpose{P}, ev(t, "f@x.org", privacy.Purchase, "i1", old), Counts{Expired: 1}},
		{"view 14 months old", []privacy.Purpose{P}, ev(t, "g@x.org", privacy.View, "i1", now.AddDate(0, -14, 0)), Counts{Expired: 1}},
		{"cart 14 months old", []privacy.Purpose{P}, ev(t, "h@x.org", privacy.AddToCart, "i1", now.AddDate(0, -14, 0)), Counts{Stored: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := memStore(t)
			raw := rawOf(tt.name)
			tt.event.Customer = cid(t, raw)
			if tt.purposes != nil {
				grant(t, db, raw, tt.purposes...)
			}
			in := newIngester(t, db, 0)
			got, err := in.Write(context.Background(), []features.RawEvent{tt.event})
			if err != nil || got != tt.want {
				t.Fatalf("Write = %+v, %v; want %+v", got, err, tt.want)
			}
			stored, err := db.CustomerEvents(context.Background(), pseudonyms(t).Pseudonymize(tt.event.Customer))
			if err != nil || len(stored) != tt.want.Stored {
				t.Fatalf("CustomerEvents = %d events, %v; want %d", len(stored), err, tt.want.Stored)
			}
			if tt.want.NoConsent > 0 {
				n, err := db.Counter(context.Background(), store.CounterKey{Name: CounterNoConsent, Day: store.DayOf(now)})
				if err != nil || n != 1 {
					t.Errorf("counter %s = %d, %v; want 1", CounterNoConsent, n, err)
				}
			}
		})
	}
}

// rawOf makes a distinct raw id per test case.
func rawOf(name string) string { return strings.ReplaceAll(name, " ", "-") + "@example.com" }

func TestWriteRejectsInvalidAndOversized(t *testing.T) {
	db := memStore(t)
	in := newIngester(t, db, 2)
	good := ev(t, "a@x.org", privacy.Purchase, "i1", now)
	bad := good
	bad.Quantity = 0
	if _, err := in.Write(context.Background(), []features.RawEvent{good, bad}); err == nil || !strings.Contains(err.Error(), "event 1") {
		t.Errorf("Write(invalid) = %v, want an error naming event 1", err)
	}
	if _, err := in.Write(context.Background(), []features.RawEvent{good, good, good}); !errors.Is(err, ErrTooMany) {
		t.Errorf("Write(3 events, batch 2) = %v, want ErrTooMany", err)
	}
}

// refusingStore refuses the first event of the first append, as the store
// does for a customer without consent.
type refusingStore struct {
	refused bool
	got     []store.Batch
}

func (r *refusingStore) AppendEvents(_ context.Context, b store.Batch) error {
	if !r.refused {
		r.refused = true
		return &store.RefusedError{Indices: []int{0}}
	}
	r.got = append(r.got, b)
	return nil
}

func TestWriteDropsRefusedEvents(t *testing.T) {
	st := &refusingStore{}
	in := newIngester(t, st, 0)
	events := []features.RawEvent{ev(t, "a@x.org", privacy.Purchase, "i1", now), ev(t, "b@x.org", privacy.Purchase, "i2", now)}
	got, err := in.Write(context.Background(), events)
	if err != nil || got != (Counts{Stored: 1, NoConsent: 1}) {
		t.Fatalf("Write = %+v, %v; want 1 stored, 1 no consent", got, err)
	}
	if len(st.got) != 1 || len(st.got[0].Events) != 1 || st.got[0].Events[0].Item != "i2" {
		t.Fatalf("appended %+v, want only item i2", st.got)
	}
}

// jsonl builds a Discret JSON Lines file; bad lines are inserted verbatim.
func jsonl(lines ...string) func() (io.ReadCloser, error) {
	data := strings.Join(lines, "\n") + "\n"
	return func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(data)), nil }
}

func line(customer, kind, item string, at time.Time) string {
	if item == "" {
		return fmt.Sprintf(`{"customer":%q,"type":%q,"store":"s1","time":%q}`, customer, kind, at.Format(time.RFC3339))
	}
	return fmt.Sprintf(`{"customer":%q,"item":%q,"type":%q,"time":%q,"quantity":2}`, customer, item, kind, at.Format(time.RFC3339))
}

func TestImport(t *testing.T) {
	at := now.Add(-time.Hour)
	good1 := line("a@x.org", "purchase", "i1", at)
	good2 := line("a@x.org", "view", "i2", at)
	noConsent := line("z@x.org", "purchase", "i1", at)
	badQty := `{"customer":"a@x.org","item":"i3","type":"purchase","time":"2026-05-01T00:00:00Z","quantity":0}`
	badField := `{"customer":"a@x.org","item":"i3","type":"purchase","time":"2026-05-01T00:00:00Z","comment":"4970 1234"}`
	future := line("a@x.org", "purchase", "i4", now.Add(privacy.MaxClockSkew+time.Second))
	nearFuture := line("a@x.org", "purchase", "i4", now.Add(privacy.MaxClockSkew))
	// Two bad fields: the row counts under each.
	badTwice := `{"customer":"a@x.org","item":"i3","type":"vew","time":"2026-05-01T00:00:00Z","quantity":0}`
	tests := []struct {
		name      string
		file      []string
		maxErrors int
		wantErr   error
		wantRep   Report
	}{
		{"clean", []string{good1, good2, noConsent}, 0, nil,
			Report{Rows: 3, Valid: 3, Counts: Counts{Stored: 2, NoConsent: 1}}},
		{"bad row rejects file", []string{good1, badQty, good2}, 0, ErrTooManyBadRows,
			Report{Rows: 3, Valid: 2, Aborted: true}},
		{"tolerated bad row", []string{good1, badQty, good2, badField}, 2, nil,
			Report{Rows: 4, Valid: 2, Counts: Counts{Stored: 2}}},
		{"too many bad rows", []string{good1, badQty, good2, badField}, 1, ErrTooManyBadRows,
			Report{Rows: 4, Valid: 2, Aborted: true}},
		{"unlimited", []string{badQty, good1, badField}, -1, nil,
			Report{Rows: 3, Valid: 1, Counts: Counts{Stored: 1}}},
		// Its retention would count from its own date: refused.
		{"future event", []string{good1, future}, 0, ErrTooManyBadRows,
			Report{Rows: 2, Valid: 1, Aborted: true}},
		{"within the clock skew", []string{good1, nearFuture}, 0, nil,
			Report{Rows: 2, Valid: 2, Counts: Counts{Stored: 2}}},
		{"bad fields counted each", []string{badQty, good1, badTwice}, 2, nil,
			Report{Rows: 3, Valid: 1, Counts: Counts{Stored: 1}, Rejected: map[string]int{"invalid quantity": 2, "invalid type": 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := memStore(t)
			grant(t, db, "a@x.org", privacy.Personalization)
			in := newIngester(t, db, 1) // one event per commit unit
			rep, err := in.Import(context.Background(), jsonl(tt.file...), ImportOptions{MaxErrors: tt.maxErrors})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Import error = %v, want %v", err, tt.wantErr)
			}
			if rep.Rows != tt.wantRep.Rows || rep.Valid != tt.wantRep.Valid || rep.Counts != tt.wantRep.Counts || rep.Aborted != tt.wantRep.Aborted {
				t.Errorf("Import report = rows %d valid %d %+v aborted %v; want rows %d valid %d %+v aborted %v",
					rep.Rows, rep.Valid, rep.Counts, rep.Aborted, tt.wantRep.Rows, tt.wantRep.Valid, tt.wantRep.Counts, tt.wantRep.Aborted)
			}
			if bad := tt.wantRep.Rows - tt.wantRep.Valid; len(rep.BadRows) != bad || rep.RejectedRows != bad {
				t.Errorf("Import listed %d bad rows (%d counted), want %d", len(rep.BadRows), rep.RejectedRows, bad)
			}
			if tt.wantRep.Rejected != nil && !maps.Equal(rep.Rejected, tt.wantRep.Rejected) {
				t.Errorf("Import rejected %v, want %v", rep.Rejected, tt.wantRep.Rejected)
			}
			for _, e := range rep.BadRows {
				var re *features.RowError
				var fe *features.FieldError
				if !errors.As(e, &re) || !errors.As(e, &fe) || re.Row < 1 || fe.Field == "" {
					t.Errorf("bad row error %q does not name a row and a field", e)
				}
				if strings.Contains(e.Error(), "a@x.org") {
					t.Errorf("bad row error %q contains the raw customer id", e)
				}
			}
			stored, _ := db.CustomerEvents(context.Background(), pseudonyms(t).Pseudonymize(cid(t, "a@x.org")))
			if len(stored) != tt.wantRep.Stored {
				t.Errorf("store holds %d events, want %d", len(stored), tt.wantRep.Stored)
			}
		})
	}
}

func TestImportReportCap(t *testing.T) {
	db := memStore(t)
	in := newIngester(t, db, 0)
	var lines []string
	for range 7 {
		lines = append(lines, `{"customer":"a@x.org"}`)
	}
	rep, err := in.Import(context.Background(), jsonl(lines...), ImportOptions{MaxReported: 5})
	if !errors.Is(err, ErrTooManyBadRows) || len(rep.BadRows) != 5 || rep.BadRowsOmitted != 2 {
		t.Fatalf("Import = %d listed, %d omitted, %v; want 5, 2, ErrTooManyBadRows", len(rep.BadRows), rep.BadRowsOmitted, err)
	}
}

func TestImportDetectsChangedFile(t *testing.T) {
	db := memStore(t)
	grant(t, db, "a@x.org", privacy.Personalization)
	in := newIngester(t, db, 0)
	calls := 0
	open := func() (io.ReadCloser, error) {
		calls++
		lines := []string{line("a@x.org", "purchase", "i1", now.Add(-time.Hour))}
		if calls > 1 {
			lines = append(lines, line("a@x.org", "purchase", "i2", now.Add(-time.Hour)))
		}
		return jsonl(lines...)()
	}
	if _, err := in.Import(context.Background(), open, ImportOptions{}); !errors.Is(err, ErrChanged) {
		t.Fatalf("Import(changing file) = %v, want ErrChanged", err)
	}
}

// failingStore fails the commits after the first ok ones.
type failingStore struct {
	Store
	ok int
}

var errDiskFull = errors.New("disk full")

func (f *failingStore) AppendEvents(ctx context.Context, b store.Batch) error {
	if f.ok == 0 {
		return errDiskFull
	}
	f.ok--
	return f.Store.AppendEvents(ctx, b)
}

// TestImportStopped: an import stopped partway (cancelled after some
// commits, or a commit that fails) reports only the rows through the last
// commit, and the line of its last row, not the whole file's rows that
// the validation pass (or the reader, ahead of the commits) saw.
func TestImportStopped(t *testing.T) {
	at := now.Add(-time.Hour)
	// 50 rows, events in item order; with bad rows, every 5th line is bad.
	file := func(bad bool) []string {
		var lines []string
		for i := range 50 {
			if bad && i%5 == 4 {
				lines = append(lines, `{"customer":"a@x.org"}`)
				continue
			}
			lines = append(lines, line("a@x.org", "purchase", fmt.Sprintf("i%02d", i), at))
		}
		return lines
	}
	tests := []struct {
		name        string
		bad         bool
		maxErrors   int
		cancelAfter int // cancel once this many batches are committed; 0: no cancel
		commitsOK   int // commits that succeed before the store fails; -1: all
		cancelFirst bool
		want        error
		wantRep     Report // Rows, Valid, RejectedRows, Stored, Through, FileRows
	}{
		{"cancelled after 3 batches", false, 0, 3, -1, false, context.Canceled,
			Report{Rows: 3, Valid: 3, Through: 3, FileRows: 50, Counts: Counts{Stored: 3}}},
		// The 5th batch is the event of line 6, after the bad line 5.
		{"cancelled, unvalidated, with bad rows", true, -1, 5, -1, false, context.Canceled,
			Report{Rows: 6, Valid: 5, RejectedRows: 1, Through: 6, Counts: Counts{Stored: 5}}},
		{"store fails after 2 batches", false, 0, 0, 2, false, errDiskFull,
			Report{Rows: 2, Valid: 2, Through: 2, FileRows: 50, Counts: Counts{Stored: 2}}},
		{"store fails at once", false, 0, 0, 0, false, errDiskFull,
			Report{FileRows: 50}},
		{"cancelled before it starts", false, 0, 0, -1, true, context.Canceled,
			Report{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := memStore(t)
			grant(t, db, "a@x.org", privacy.Personalization)
			var st Store = db
			if tt.commitsOK >= 0 {
				st = &failingStore{Store: db, ok: tt.commitsOK}
			}
			in := newIngester(t, st, 1) // one event per commit unit
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancelFirst {
				cancel()
			}
			batches := 0
			rep, err := in.Import(ctx, jsonl(file(tt.bad)...), ImportOptions{MaxErrors: tt.maxErrors, Progress: func(p Progress) {
				if p.Phase == "import" {
					if batches++; batches == tt.cancelAfter {
						cancel()
					}
				}
			}})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Import = %v, want %v", err, tt.want)
			}
			w := tt.wantRep
			if !rep.Stopped || rep.Rows != w.Rows || rep.Valid != w.Valid || rep.RejectedRows != w.RejectedRows || len(rep.BadRows) != w.RejectedRows ||
				rep.Stored != w.Stored || rep.Through != w.Through || rep.FileRows != w.FileRows {
				t.Errorf("Import report = stopped %v, rows %d, valid %d, rejected %d (%d listed), stored %d, through line %d of %d rows;\nwant stopped, rows %d, valid %d, rejected %d, stored %d, through line %d of %d rows",
					rep.Stopped, rep.Rows, rep.Valid, rep.RejectedRows, len(rep.BadRows), rep.Stored, rep.Through, rep.FileRows,
					w.Rows, w.Valid, w.RejectedRows, w.Stored, w.Through, w.FileRows)
			}
			// What the report counts is what the store holds: the events
			// of the lines through rep.Through.
			stored, _ := db.CustomerEvents(context.Background(), pseudonyms(t).Pseudonymize(cid(t, "a@x.org")))
			var wantItems, gotItems []string
			for i := range rep.Through {
				if !tt.bad || i%5 != 4 {
					wantItems = append(wantItems, fmt.Sprintf("i%02d", i))
				}
			}
			for _, e := range stored {
				gotItems = append(gotItems, e.Item)
			}
			slices.Sort(gotItems)
			if !slices.Equal(gotItems, wantItems) {
				t.Errorf("store holds items %v, want those through line %d: %v", gotItems, rep.Through, wantItems)
			}
		})
	}
}

// distinctive raw ids, as a retailer would send them.
var leakyIDs = []string{
	"marie.curie@example.fr",
	"LOY-4970-1234-5678",
	"+33 6 12 34 56 78",
	"jean-paul.sartre+promo@gmail.example",
}

// TestNoRawIDsOnDisk ingests events with distinctive raw ids, including bad
// rows whose errors are logged, into an unencrypted store, then scans every
// byte of every file and all log output: no raw id may appear, in the
// events or in the audit entries of exports and an erasure. With
// encryption on, neither raw ids nor pseudonyms may appear.
func TestNoRawIDsOnDisk(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		t.Run(fmt.Sprintf("encrypted=%v", encrypted), func(t *testing.T) {
			dir := t.TempDir()
			var logs bytes.Buffer
			logger := slogTo(&logs)
			opts := store.Options{Dir: dir, Now: clock, Logger: logger}
			if encrypted {
				opts.EncryptionKey, opts.KeyCheck = bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{8}, 16)
			} else {
				opts.Unencrypted = true
			}
			db, err := store.Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for i, id := range leakyIDs {
				grant(t, db, id, privacy.Personalization, privacy.InStore)
				for j := range 20 {
					lines = append(lines, line(id, "purchase", fmt.Sprintf("sku-%d-%d", i, j), now.Add(-time.Duration(j)*time.Hour)))
				}
				lines = append(lines, line(id, "store_visit", "", now.Add(-time.Hour)))
				// Bad rows carrying the raw id: their errors go to the log.
				lines = append(lines, fmt.Sprintf(`{"customer":%q,"item":"x","type":"purchase","time":"yesterday"}`, id))
				lines = append(lines, fmt.Sprintf(`{"customer":%q,"item":"x","type":"refund","time":"2026-01-01T00:00:00Z"}`, id))
			}
			in, err := New(Config{Pseudonyms: pseudonyms(t), Now: clock}, db)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := in.Import(context.Background(), jsonl(lines...), ImportOptions{MaxErrors: -1, Progress: func(p Progress) {
				logger.Info("progress", "phase", p.Phase, "rows", p.Rows, "stored", p.Stored)
			}})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range rep.BadRows {
				logger.Warn("rejected row", "err", e)
			}
			for _, id := range leakyIDs { // the type itself redacts
				logger.Info("customer", "id", cid(t, id))
			}
			if want := 21 * len(leakyIDs); rep.Stored != want {
				t.Fatalf("stored %d events, want %d", rep.Stored, want)
			}
			// Exports and an erasure, with their audit entries, which
			// must hold no raw id either.
			actx := store.WithAuditActor(context.Background(), store.AuditActor{Via: store.ViaCLI, Name: "dpo"})
			for i, id := range leakyIDs {
				p := pseudonyms(t).Pseudonymize(cid(t, id))
				d, err := db.Export(actx, p)
				if err != nil {
					t.Fatal(err)
				}
				if err := db.RecordAudit(actx, store.ExportAudit(p, d)); err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					if _, err := db.Forget(actx, p); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			files := readAll(t, dir)
			if len(files) == 0 {
				t.Fatal("no files in the data directory")
			}
			haystacks := map[string][]byte{"log output": logs.Bytes()}
			for name, b := range files {
				haystacks[name] = b
			}
			pseudoFound := false
			for _, id := range leakyIDs {
				p := pseudonyms(t).Pseudonymize(cid(t, id))
				for name, h := range haystacks {
					if bytes.Contains(h, []byte(id)) {
						t.Errorf("raw id %q found in %s", id, name)
					}
					found := bytes.Contains(h, p[:]) || bytes.Contains(h, []byte(p.String()))
					if found && encrypted {
						t.Errorf("pseudonym of %q found in %s of an encrypted store", id, name)
					}
					pseudoFound = pseudoFound || found
				}
			}
			if !encrypted && !pseudoFound {
				t.Error("no pseudonym found in the unencrypted store: the scan does not see the data")
			}
			// The audit entries are on disk (the scan sees them) under
			// their subject reference.
			s := store.SubjectOf(pseudonyms(t).Pseudonymize(cid(t, leakyIDs[0])))
			subjectFound := false
			for _, b := range files {
				subjectFound = subjectFound || bytes.Contains(b, s[:])
			}
			if !encrypted && !subjectFound {
				t.Error("no audit subject found in the unencrypted store: the scan does not see the audit entries")
			}
		})
	}
}

func readAll(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		out[path] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestWriteCountsDuplicates checks that events of one batch with the same
// identity (customer, time, type, item, store) are counted as duplicates,
// not as stored: the store keeps one event, the last, as a re-send does.
// Identity is at the store key's precision, the millisecond: an event
// 0.4 ms after another is the same event.
func TestWriteCountsDuplicates(t *testing.T) {
	db := memStore(t)
	grant(t, db, "dup@x.org", privacy.Personalization)
	at := now.Add(-time.Minute)
	first := ev(t, "dup@x.org", privacy.Purchase, "i1", at)
	second := first
	second.Quantity = 2
	third := first
	third.Time = at.Add(400 * time.Microsecond)
	third.Quantity = 3
	other := ev(t, "dup@x.org", privacy.Purchase, "i2", at)
	in := newIngester(t, db, 0)
	got, err := in.Write(context.Background(), []features.RawEvent{first, other, second, third})
	if want := (Counts{Stored: 2, Duplicates: 2}); err != nil || got != want {
		t.Fatalf("Write = %+v, %v; want %+v", got, err, want)
	}
	stored, err := db.CustomerEvents(context.Background(), pseudonyms(t).Pseudonymize(first.Customer))
	if err != nil || len(stored) != 2 {
		t.Fatalf("CustomerEvents = %d events, %v; want 2", len(stored), err)
	}
	for _, e := range stored {
		if e.Item == "i1" && e.Quantity != 3 {
			t.Errorf("i1 stored with quantity %d, want the last event's 3", e.Quantity)
		}
	}
	n, err := db.Counter(context.Background(), store.CounterKey{Name: CounterDuplicate, Day: store.DayOf(now)})
	if err != nil || n != 2 {
		t.Errorf("counter %s = %d, %v; want 2", CounterDuplicate, n, err)
	}
}
