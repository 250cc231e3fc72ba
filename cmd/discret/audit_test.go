package main

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

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
	want := []string{"apikey.revoke", "apikey.create", "forget", "export", "model.use", "model.train", "model.train", "consent.import"}
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
}

func (s *stoppingStore) UpdateConsents(ctx context.Context, ups []store.ConsentUpdate, d consent.Defaults) ([]store.ConsentResult, int, error) {
	defer s.cancel()
	res, n, err := s.DB.UpdateConsents(ctx, ups[:s.applied], d)
	if err != nil || s.fail != nil {
		return nil, n, errors.Join(err, s.fail)
	}
	return res, n, nil
}

// TestConsentImportAuditStopped: an import that stops partway is recorded
// with what it applied, and an import interrupted once applied is recorded
// too, both although the context is cancelled by then; the entry names the
// file by its base name.
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
			if err != nil || len(got) != 1 {
				t.Fatalf("Audit() = %+v, %v; want one entry", got, err)
			}
			if e := got[0]; e.Action != store.AuditConsentImport || e.Object != "consent-2026.jsonl" || !reflect.DeepEqual(e.Counts, tt.wantCounts) {
				t.Errorf("entry %s %q %v, want consent.import \"consent-2026.jsonl\" %v", e.Action, e.Object, e.Counts, tt.wantCounts)
			}
		})
	}
}
