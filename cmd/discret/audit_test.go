package main

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/discret-io/discret/features/synth"
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
	if len(exp.Audit) != 2 || exp.Audit[0].Action != "export" || exp.Audit[1].Action != "forget" || !strings.HasPrefix(exp.Audit[1].Actor, "cli") {
		t.Errorf("export after forget: audit %+v, want export then forget, by the cli", exp.Audit)
	}
}
