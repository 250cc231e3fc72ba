package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/store/storetest"
	"github.com/discret-io/discret/features/synth"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

// TestAuditCommand: each audited command leaves one entry with its action
// and the CLI as its actor; `audit` lists them newest first, filters by
// action, customer and time, and prints JSON Lines; neither the trail nor
// its listing names a customer, raw or pseudonymized; an export lists the
// entries about its customer.
func TestAuditCommand(t *testing.T) {
	c := newCLI(t)
	gen := c.synthStore(200, 30, 6000, 3) // consent import: one entry
	c.mustRun("items", "import", filepath.Join(gen, synth.ItemsFile))
	m := versionRE.FindStringSubmatch(c.mustRun("train", "--epsilon", "2", "--factors", "8"))
	if m == nil {
		t.Fatal("train printed no version")
	}
	first := m[1]
	c.mustRun("train", "--epsilon", "2", "--factors", "8")
	c.mustRun("models", "use", first)
	if out := c.mustRun("models", "use", first); !strings.Contains(out, "already current") { // no entry
		t.Errorf("models use of the current release printed %q, want \"already current\"", out)
	}
	alice := "alice.audit@example.fr"
	c.mustRun("consent", "set", alice, "personalization=granted") // not audited
	var exp struct {
		Pseudonym string `json:"pseudonym"`
		Audit     []struct {
			Action, Actor string
			Time          time.Time
		} `json:"audit"`
	}
	if err := json.Unmarshal([]byte(c.mustRun("export", alice)), &exp); err != nil || len(exp.Audit) != 0 {
		t.Fatalf("first export: audit %+v, %v; want none yet", exp.Audit, err)
	}
	c.mustRun("forget", alice)
	if code, _, _ := c.run("apikey", "revoke", "nosuchid"); code != exitFailure { // refused: no entry
		t.Fatalf("apikey revoke of an unknown id = exit %d, want 1", code)
	}
	keyID := regexp.MustCompile(`created API key (\w+)`).FindStringSubmatch(c.mustRun("apikey", "create", "--name", "dpo", "--scope", "admin"))[1]
	c.mustRun("apikey", "revoke", keyID)

	type line struct {
		ID     string    `json:"id"`
		Time   time.Time `json:"time"`
		Action string    `json:"action"`
		Actor  struct {
			Via   string `json:"via"`
			KeyID string `json:"key_id"`
			Name  string `json:"name"`
		} `json:"actor"`
		Subject string           `json:"subject"`
		Object  string           `json:"object"`
		Counts  map[string]int64 `json:"counts"`
	}
	list := func(args ...string) []line {
		t.Helper()
		out := c.mustRun(append([]string{"audit", "--json"}, args...)...)
		var ls []line
		for s := range strings.Lines(out) {
			var l line
			if err := json.Unmarshal([]byte(s), &l); err != nil {
				t.Fatalf("audit --json line %q: %v", s, err)
			}
			if l.Actor.Via != "cli" || l.ID == "" || l.Time.IsZero() || l.Time.Nanosecond() != 0 || l.Counts == nil {
				t.Errorf("audit --json line %+v: want actor cli, an id, a time to the second, counts", l)
			}
			ls = append(ls, l)
		}
		return ls
	}
	actions := func(ls []line) []string {
		var out []string
		for _, l := range ls {
			out = append(out, l.Action)
		}
		return out
	}
	all := list()
	want := []string{"apikey.revoke", "apikey.create", "forget", "export", "model.use", "model.train", "model.train", "consent.import", "consent.import", "config"}
	if got := actions(all); !reflect.DeepEqual(got, want) {
		t.Fatalf("audit actions = %v, want %v", got, want)
	}
	if l := all[0]; l.Object != keyID || all[1].Object != keyID || all[4].Object != first || all[6].Object != first {
		t.Errorf("objects = %q %q %q %q, want the key id %s twice and release %s twice", l.Object, all[1].Object, all[4].Object, all[6].Object, keyID, first)
	}
	if ci := all[7]; ci.Subject != "" || ci.Counts["rows"] == 0 || ci.Counts["customers"] == 0 {
		t.Errorf("consent.import entry = %+v, want rows and customers counted, no subject", ci)
	}
	fg, ex := all[2], all[3]
	if fg.Subject == "" || fg.Subject != ex.Subject || fg.Counts["consent"] != 1 || ex.Counts["consent"] != 1 || ex.Counts["events"] != 0 {
		t.Errorf("forget %+v, export %+v: want the same subject, one consent record each", fg, ex)
	}
	// Filters.
	if got := actions(list("--customer", alice)); !reflect.DeepEqual(got, []string{"forget", "export"}) {
		t.Errorf("audit --customer = %v, want forget, export", got)
	}
	if got := list("--customer", "bob@example.fr"); len(got) != 0 {
		t.Errorf("audit --customer (another customer) = %v, want none", got)
	}
	if got := actions(list("--action", "model.use,apikey.create")); !reflect.DeepEqual(got, []string{"apikey.create", "model.use"}) {
		t.Errorf("audit --action model.use,apikey.create = %v", got)
	}
	if got := list("--since", "1h", "--until", time.Now().Add(time.Hour).Format(time.RFC3339)); len(got) != len(all) {
		t.Errorf("audit --since 1h --until in an hour = %d entries, want %d", len(got), len(all))
	}
	if got := list("--until", "2000-01-01"); len(got) != 0 {
		t.Errorf("audit --until 2000-01-01 = %v, want none", got)
	}
	code, out, stderr := c.run("audit", "--limit", "2")
	if code != exitOK || strings.Count(out, "\n") != 3 || !strings.HasPrefix(out, "TIME") || !strings.Contains(stderr, "more entries follow") {
		t.Errorf("audit --limit 2 = exit %d\n%s%s; want a header, 2 rows and a note that more follow", code, out, stderr)
	}
	table := c.mustRun("audit")
	for _, w := range []string{"ACTOR", "apikey.revoke", "cli", fg.Subject, "consent=1", keyID} {
		if !strings.Contains(table, w) {
			t.Errorf("audit table lacks %q:\n%s", w, table)
		}
	}
	if strings.Contains(table, alice) || strings.Contains(table, exp.Pseudonym) {
		t.Errorf("audit table names the customer:\n%s", table)
	}
	// The export lists what was done about the customer.
	if err := json.Unmarshal([]byte(c.mustRun("export", alice)), &exp); err != nil {
		t.Fatal(err)
	}
	if len(exp.Audit) != 2 || exp.Audit[0].Action != "export" || exp.Audit[1].Action != "forget" || exp.Audit[1].Actor != "cli" {
		t.Errorf("export after forget: audit %+v, want export then forget, through the cli (no OS user)", exp.Audit)
	}
}

// stoppingStore is a store whose bulk consent update applies the first
// applied updates and then stops, as an interrupted import does: it
// cancels the command's context and fails with fail (nil: after applying
// them all, it cancels the context and succeeds, as a Ctrl-C right after
// the import would).
type stoppingStore struct {
	*store.DB
	applied int
	fail    error
	cancel  context.CancelFunc
	before  []store.AuditEntry // the trail when the updates began
}

func (s *stoppingStore) UpdateConsents(ctx context.Context, ups []store.ConsentUpdate, d consent.Defaults) ([]store.ConsentResult, int, error) {
	defer s.cancel()
	var err error
	if s.before, _, err = s.DB.Audit(ctx, store.AuditQuery{}); err != nil {
		return nil, 0, err
	}
	res, n, err := s.DB.UpdateConsents(ctx, ups[:s.applied], d)
	if err != nil || s.fail != nil {
		return nil, n, errors.Join(err, s.fail)
	}
	return res, n, nil
}

// TestConsentImportAuditStopped: an import is in the trail before it
// applies anything (so a kill -9 leaves an entry); one that stops partway
// is recorded with what it applied, and one interrupted once applied is
// recorded too, both although the context is cancelled by then; the
// entries name the file by its base name.
func TestConsentImportAuditStopped(t *testing.T) {
	var ups []store.ConsentUpdate
	for i := range 4 {
		ups = append(ups, store.ConsentUpdate{Customer: storetest.Pseudo(i), Changes: []consent.Change{
			{Purpose: privacy.Personalization, Granted: true, Time: time.Now().Add(-time.Hour).UTC().Truncate(time.Second), Source: "crm"},
		}})
	}
	for _, tt := range []struct {
		name       string
		applied    int
		fail       error
		wantErr    bool
		wantCounts map[string]int64
	}{
		{"stopped after 2 of 4", 2, context.Canceled, true, map[string]int64{
			"rows": 5, "bad_rows": 1, "customers": 4, "customers_applied": 2, "incomplete": 1}},
		{"interrupted once applied", 4, nil, false, map[string]int64{
			"rows": 5, "bad_rows": 1, "customers": 4, "customers_updated": 4, "erasures": 0, "records_removed": 0, "choices_predating_erasure": 0}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			db := &stoppingStore{DB: storetest.OpenMemory(t, nil), applied: tt.applied, fail: tt.fail, cancel: cancel}
			var out strings.Builder
			err := applyConsentImport(ctx, &out, db, filepath.Join(t.TempDir(), "consent-2026.jsonl"), ups, consent.Defaults{}, 5, 1)
			if (err != nil) != tt.wantErr {
				t.Fatalf("applyConsentImport = %v, want error %v", err, tt.wantErr)
			}
			got, _, err := db.Audit(t.Context(), store.AuditQuery{})
			if err != nil || len(got) != 2 {
				t.Fatalf("Audit() = %+v, %v; want two entries", got, err)
			}
			started := map[string]int64{"rows": 5, "bad_rows": 1, "customers": 4, "started": 1}
			if len(db.before) != 1 || db.before[0].ID != got[1].ID {
				t.Errorf("when the updates began, the trail held %+v, want the import's first entry %+v", db.before, got[1])
			}
			for i, want := range []map[string]int64{tt.wantCounts, started} {
				if e := got[i]; e.Action != store.AuditConsentImport || e.Object != "consent-2026.jsonl" || !reflect.DeepEqual(e.Counts, want) {
					t.Errorf("entry %d: %s %q %v, want consent.import \"consent-2026.jsonl\" %v", i, e.Action, e.Object, e.Counts, want)
				}
			}
		})
	}
}

// auditLines runs `discret audit --json` with args and decodes its lines.
func auditLines(t *testing.T, c *cli, args ...string) []auditJSON {
	t.Helper()
	out := c.mustRun(append([]string{"audit", "--json"}, args...)...)
	var ls []auditJSON
	for s := range strings.Lines(out) {
		var l auditJSON
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatalf("audit --json line %q: %v", s, err)
		}
		ls = append(ls, l)
	}
	return ls
}

// TestAuditRetentionFromConfig: audit.retention in the configuration
// reaches the store: an entry written under "1d" expires a day after it
// was written, one written under "5y" (the default) is kept; the expiry is
// fixed when the entry is written, whatever retention the store is later
// opened with. The store is read with its clock moved ahead, not slept on.
func TestAuditRetentionFromConfig(t *testing.T) {
	c := newCLI(t)
	c.mustRun("keygen")
	created := regexp.MustCompile(`created API key (\w+)`)
	c.config = writeFile(t, "c.json", `{"audit": {"retention": "1d"}}`)
	short := created.FindStringSubmatch(c.mustRun("apikey", "create", "--name", "short", "--scope", "admin"))[1]
	c.config = writeFile(t, "c5.json", `{"audit": {"retention": "5y"}}`)
	long := created.FindStringSubmatch(c.mustRun("apikey", "create", "--name", "long", "--scope", "admin"))[1]
	written := time.Now()

	for _, tt := range []struct {
		after time.Duration
		want  []string // objects of the entries listed, newest first
	}{
		{0, []string{long, short}},
		{23 * time.Hour, []string{long, short}},
		{25 * time.Hour, []string{long}},
		{4 * 365 * 24 * time.Hour, []string{long}},
	} {
		now := written.Add(tt.after)
		db := c.openStore(t, func() time.Time { return now })
		entries, _, err := db.Audit(t.Context(), store.AuditQuery{Actions: []store.AuditAction{store.AuditKeyCreate}})
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			got = append(got, e.Object)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%v after the writes, apikey.create entries = %v, want %v (the first written under audit.retention 1d, the second under the default)", tt.after, got, tt.want)
		}
	}
}

// TestConsentImportAuditPerFile: a consent import of several files
// records one entry per file imported, each with the file's base name and
// its own counts; a file refused for its bad rows has none.
func TestConsentImportAuditPerFile(t *testing.T) {
	c := newCLI(t)
	c.mustRun("keygen")
	at := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	a := writeFile(t, "crm-a.jsonl",
		`{"customer":"ann@example.fr","purpose":"personalization","granted":true,"time":"`+at+`","source":"crm"}`,
		`{"customer":"ann@example.fr","purpose":"in_store","granted":true,"time":"`+at+`","source":"crm"}`,
		`{"customer":"bob@example.fr","purpose":"personalization","granted":true,"time":"`+at+`","source":"crm"}`)
	refused := writeFile(t, "refused.jsonl",
		`{"customer":"dan@example.fr","purpose":"nosuchpurpose","granted":true,"time":"`+at+`","source":"crm"}`,
		`{"customer":"dan@example.fr","purpose":"personalization","granted":"maybe","time":"`+at+`","source":"crm"}`)
	// Named after its customer: the trail withholds the name.
	b := writeFile(t, "web-cat@example.fr.csv",
		"customer,purpose,granted,time,source",
		"cat@example.fr,personalization,true,"+at+",web",
		"cat@example.fr,nosuchpurpose,true,"+at+",web")
	if code, _, stderr := c.run("consent", "import", "--max-errors", "1", a, refused, b); code != exitFailure || !strings.Contains(stderr, "1 of 3 files not imported") {
		t.Fatalf("consent import of 3 files, one refused = exit %d, stderr %q; want 1, 1 of 3 files not imported", code, stderr)
	}
	got := auditLines(t, c, "--limit", "0")
	type entry struct {
		Action, Object string
		Counts         map[string]int64
	}
	var gotEntries []entry
	for _, l := range got {
		if l.Subject != "" {
			t.Errorf("consent.import entry %+v names a customer", l)
		}
		gotEntries = append(gotEntries, entry{l.Action, l.Object, l.Counts})
	}
	counts := func(rows, bad, customers int64) map[string]int64 {
		return map[string]int64{"rows": rows, "bad_rows": bad, "customers": customers, "customers_updated": customers,
			"erasures": 0, "records_removed": 0, "choices_predating_erasure": 0}
	}
	started := func(rows, bad, customers int64) map[string]int64 {
		return map[string]int64{"rows": rows, "bad_rows": bad, "customers": customers, "started": 1}
	}
	want := []entry{ // newest first: each file's outcome after its start
		{"consent.import", features.WithheldName, counts(2, 1, 1)},
		{"consent.import", features.WithheldName, started(2, 1, 1)},
		{"consent.import", "crm-a.jsonl", counts(3, 0, 2)},
		{"consent.import", "crm-a.jsonl", started(3, 0, 2)},
		{"config", "view=13mo add_to_cart=3y purchase=3y store_visit=13mo personalization=false in_store=false non_private=allow audit_retention=5y", map[string]int64{"looser": 0}},
	}
	if !reflect.DeepEqual(gotEntries, want) {
		t.Errorf("audit after importing crm-a.jsonl, refused.jsonl and web-cat@example.fr.csv in one command = %+v, want %+v", gotEntries, want)
	}
}

// TestAuditLimitZero: as its --help says, `audit --limit 0` lists every
// entry, beyond the default limit, with no note that more follow; the
// default lists defaultAuditLimit and says more follow; a negative limit
// is refused.
func TestAuditLimitZero(t *testing.T) {
	c := newCLI(t)
	c.mustRun("keygen")
	c.mustRun("apikey", "create", "--name", "first", "--scope", "admin") // creates the store
	db := c.openStore(t, nil)
	ctx := store.WithAuditActor(t.Context(), store.AuditActor{Via: store.ViaCLI})
	for i := range defaultAuditLimit + 4 {
		if err := db.RecordAudit(ctx, store.AuditEntry{Action: store.AuditConsentImport, Object: fmt.Sprintf("f%d.csv", i)}); err != nil {
			db.Close()
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	const all = defaultAuditLimit + 6 // and the settings of the first command (config)
	help := c.mustRun("audit", "--help")
	if !strings.Contains(help, "--limit 0 lists every\nentry") && !strings.Contains(help, "(0: all)") {
		t.Fatalf("audit --help no longer says what --limit 0 does:\n%s", help)
	}
	for _, tt := range []struct {
		args     []string
		want     int
		wantMore bool
	}{
		{[]string{"--limit", "0"}, all, false},
		{[]string{"--limit=0", "--action", "consent.import"}, all - 2, false},
		{nil, defaultAuditLimit, true},
		{[]string{"--limit", strconv.Itoa(all)}, all, false},
	} {
		code, out, stderr := c.run(append([]string{"audit", "--json"}, tt.args...)...)
		if n := strings.Count(out, "\n"); code != exitOK || n != tt.want || strings.Contains(stderr, "more entries follow") != tt.wantMore {
			t.Errorf("audit --json %v = exit %d, %d entries, stderr %q; want exit 0, %d entries, a note that more follow: %v", tt.args, code, n, stderr, tt.want, tt.wantMore)
		}
	}
	if code, _, stderr := c.run("audit", "--limit", "-1"); code != exitUsage || !strings.Contains(stderr, "--limit") {
		t.Errorf("audit --limit -1 = exit %d, stderr %q; want a usage error naming --limit", code, stderr)
	}
}

// failingAudit is a store whose audit trail cannot be written.
type failingAudit struct{ *store.DB }

func (failingAudit) RecordAudit(context.Context, store.AuditEntry) error {
	return errors.New("disk full")
}

// TestExportNeedsItsAuditEntryCLI: as TestExportNeedsItsAuditEntry for
// the API, an export whose audit entry cannot be written fails (exit 1)
// with an error that says so and why, and writes none of the customer's
// data; the same export with the store as it is prints it.
func TestExportNeedsItsAuditEntryCLI(t *testing.T) {
	c := newCLI(t)
	c.mustRun("keygen")
	const alice = "alice.export@example.fr"
	c.mustRun("consent", "set", alice, "personalization=granted")
	conf, err := loadSettings("")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{global: globalFlags{data: c.data, key: c.key}, stdout: io.Discard, stderr: io.Discard, getenv: c.getenv, conf: conf}
	d, p, err := openCustomer(t.Context(), e, []string{alice})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := t.Context()
	var out bytes.Buffer
	err = exportCustomer(ctx, &out, failingAudit{d.db}, p, d.settings)
	var ue *usageError
	if err == nil || errors.As(err, &ue) || errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "audit trail") || !strings.Contains(err.Error(), "disk full") || out.Len() != 0 {
		t.Errorf("export with an audit trail that cannot be written = %v, output %q; want a failure naming the audit trail and its cause, no output", err, out.String())
	}
	if entries, _, err := d.db.Audit(ctx, store.AuditQuery{Actions: []store.AuditAction{store.AuditExport}}); err != nil || len(entries) != 0 {
		t.Errorf("audit trail after the failed export = %+v, %v; want no export entry", entries, err)
	}
	out.Reset()
	if err := exportCustomer(ctx, &out, d.db, p, d.settings); err != nil || !json.Valid(out.Bytes()) || !strings.Contains(out.String(), p.String()) {
		t.Errorf("export with the store as it is = %v, output %q; want the customer's export", err, out.String())
	}
}

// TestFormatKV: counts and parameters are written as name=value in name
// order, a float as %g writes it.
func TestFormatKV(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{formatKV(map[string]int64{}), ""},
		{formatKV(map[string]int64{"events": 12, "consent": 1}), "consent=1 events=12"},
		{formatKV(map[string]float64{"steps": 3, "beta": 0.1, "R": 1e-05, "big": 1e21}), "R=1e-05 beta=0.1 big=1e+21 steps=3"},
	} {
		if tc.got != tc.want {
			t.Errorf("formatKV = %q, want %q", tc.got, tc.want)
		}
	}
}

// TestAuditHelpListsActions: audit --help names every action the trail
// can hold.
func TestAuditHelpListsActions(t *testing.T) {
	c := newCLI(t)
	_, out, _ := c.run("audit", "--help")
	_, column, _ := strings.Cut(out, "  ACTION ")
	column, _, ok := strings.Cut(column, "  ACTOR ")
	if !ok {
		t.Fatalf("audit --help has no ACTION column:\n%s", out)
	}
	names := strings.FieldsFunc(column, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' })
	for _, a := range store.AuditActions {
		if !slices.Contains(names, a.String()) {
			t.Errorf("audit --help: the ACTION column %q does not name the action %s", column, a)
		}
	}
}

// TestParseWhen: --since and --until take a time (RFC 3339 or a day, UTC),
// or how long before now (a Go duration or a retention period); anything
// else is a usage error that names the flag.
func TestParseWhen(t *testing.T) {
	now := time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time // zero with err: refused
		err  bool
	}{
		{"", time.Time{}, false},
		{"2026-03-01T10:00:00+01:00", time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), false},
		{"2026-03-01", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), false},
		{"36h", now.Add(-36 * time.Hour), false},
		{"30d", time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), false},
		{"1mo", time.Date(2026, 2, 28, 12, 0, 0, 0, time.UTC), false}, // no 31 February: its last day
		{"2w", time.Date(2026, 3, 17, 12, 0, 0, 0, time.UTC), false},
		{"0s", time.Time{}, true},
		{"-1h", time.Time{}, true},
		{"0d", time.Time{}, true},
		{"yesterday", time.Time{}, true},
		{"2026-02-30", time.Time{}, true},
	} {
		got, err := parseWhen("since", tc.in, now)
		if (err != nil) != tc.err || !got.Equal(tc.want) {
			t.Errorf("parseWhen(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
		if ue := (*usageError)(nil); err != nil && (!errors.As(err, &ue) || !strings.Contains(err.Error(), "--since")) {
			t.Errorf("parseWhen(%q) error %q: want a usage error naming --since", tc.in, err)
		}
	}
}

// FuzzParseWhen: every input is a time or a usage error naming the flag;
// "how long ago" is never after now.
func FuzzParseWhen(f *testing.F) {
	for _, s := range []string{"", "2026-03-01T10:00:00Z", "2026-03-01", "36h", "1h30m", "30d", "1y6mo", "0s", "-1h", "x", "1e3h"} {
		f.Add(s)
	}
	now := time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseWhen("until", s, now)
		if err != nil {
			if ue := (*usageError)(nil); !errors.As(err, &ue) || !strings.Contains(err.Error(), "--until") || !got.IsZero() {
				t.Fatalf("parseWhen(%q) = %v, %q: want the zero time and a usage error naming --until", s, got, err)
			}
			return
		}
		_, errTime := time.Parse(time.RFC3339, s)
		_, errDay := time.Parse(time.DateOnly, s)
		if errTime != nil && errDay != nil && s != "" && !got.Before(now) {
			t.Fatalf("parseWhen(%q) = %v: how long ago, but not before now (%v)", s, got, now)
		}
	})
}
