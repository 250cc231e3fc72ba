package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/synth"
	"github.com/discret-io/discret/privacy/secret"
)

// cli runs discret commands, as main does, against a temporary data
// directory and key.
type cli struct {
	t         *testing.T
	data, key string
	config    string
}

func newCLI(t *testing.T) *cli {
	dir := t.TempDir()
	return &cli{t: t, data: filepath.Join(dir, "data"), key: filepath.Join(dir, "discret.key")}
}

func (c *cli) getenv(name string) string {
	switch name {
	case "DISCRET_DATA":
		return c.data
	case "DISCRET_KEY":
		return c.key
	case "DISCRET_CONFIG":
		return c.config
	}
	return ""
}

// run runs one command line and returns its exit status and outputs.
func (c *cli) run(args ...string) (code int, stdout, stderr string) {
	c.t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut, c.getenv)
	return code, out.String(), errOut.String()
}

func (c *cli) mustRun(args ...string) string {
	c.t.Helper()
	code, out, errOut := c.run(args...)
	if code != exitOK {
		c.t.Fatalf("discret %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// synthStore creates the master key and a store holding a synthetic
// dataset made by discret gen (its consent file and events imported, not
// its catalogue), and returns the directory of the generated files.
func (c *cli) synthStore(customers, items, events, seed int) string {
	c.t.Helper()
	gen := c.t.TempDir()
	c.mustRun("keygen")
	c.mustRun("gen", "--out", gen, "--customers", strconv.Itoa(customers), "--items", strconv.Itoa(items),
		"--events", strconv.Itoa(events), "--seed", strconv.Itoa(seed))
	c.mustRun("consent", "import", filepath.Join(gen, synth.ConsentFile))
	c.mustRun("import", filepath.Join(gen, synth.EventsFile))
	return gen
}

// openStore opens c's store directly, with its master key and the clock
// now (nil: the system's), as no command does: no settings recorded.
func (c *cli) openStore(t *testing.T, now func() time.Time) *store.DB {
	t.Helper()
	m, err := secret.Load(c.key)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(store.Options{Dir: c.data, EncryptionKey: m.StorageKey(), KeyCheck: m.CheckValue(), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// writeFile writes lines to a file in a temporary directory.
func writeFile(t *testing.T, name string, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUsageErrors(t *testing.T) {
	c := newCLI(t)
	tests := []struct {
		args []string
		want string // in stderr
	}{
		{[]string{}, "Usage"},
		{[]string{"nope"}, `unknown command "nope"`},
		{[]string{"import"}, "no FILE given"},
		{[]string{"import", "--format", "xml", "f"}, "--format"},
		{[]string{"import", "--bogus-flag", "f"}, "bogus-flag"},
		{[]string{"import", "--max-reported", "0", "f"}, "--max-reported 0: want an integer ≥ 1"},
		{[]string{"import", "--max-errors", "-2", "f"}, "--max-errors -2: want -1 (any number) or an integer ≥ 0"},
		{[]string{"consent"}, "Usage"},
		{[]string{"consent", "set", "alice"}, "PURPOSE"},
		{[]string{"consent", "set", "alice", "personalization=maybe"}, "maybe"},
		{[]string{"consent", "set", "alice", "marketing=granted"}, "marketing"},
		{[]string{"consent", "set", "personalization=granted", "alice@example.com"}, "argument 2 (withheld: it looks like an e-mail address) is not a choice: the customer comes first"},
		{[]string{"consent", "frobnicate"}, "frobnicate"},
		{[]string{"consent", "import", "--max-errors", "-5", "f"}, "--max-errors -5: want"},
		{[]string{"export"}, "CUSTOMER"},
		{[]string{"export", "a", "b"}, "CUSTOMER"},
		{[]string{"forget", ""}, ""},
		{[]string{"gen"}, "--out DIR is required"},
		{[]string{"gen", "--out", "x", "--customers", "0"}, "--customers 0: want an integer from 1 to 50000000"},
		{[]string{"gen", "--out", "x", "--stores", "0"}, "--stores 0: want an integer from 1 to 1000"},
		{[]string{"gen", "--out", "x", "--events", "-1"}, "--events -1: want"},
		{[]string{"demo", "--items", "0"}, "--items 0: want an integer from 1 to 1000000"},
		{[]string{"eval", "--seeds", "0", "f"}, "--seeds 0: want an integer from 1 to 100"},
		{[]string{"eval", "--factors", "0", "f"}, "--factors 0: want an integer from 1 to 1024"},
		{[]string{"eval", "--epsilon", "1,,2", "f"}, "--epsilon: entry 2 is empty"},
		{[]string{"eval", "--epsilon", "", "f"}, "--epsilon: empty list"},
		{[]string{"eval", "--epsilon", "0", "f"}, "--epsilon: entry 1, 0: want a number from 0.001 to 100, or inf"},
		{[]string{"eval", "--epsilon", "1,1e15", "f"}, "--epsilon: entry 2, 1e15: want a number from 0.001 to 100, or inf"},
		{[]string{"eval", "--delta", "1e-300", "f"}, "--delta 1e-300: want a number with 1e-12 ≤ δ < 1"},
		{[]string{"bench", "train", "--iterations", "0", "f"}, "--iterations 0: want an integer from 1 to 1000"},
		{[]string{"bench", "train", "--epsilon", "1,", "f"}, "--epsilon: entry 2 is empty"},
		{[]string{"bench", "quality", "--seeds", "0", "f"}, "--seeds 0: want an integer from 1 to 100"},
		{[]string{"bench", "serve", "--target", "http://x:1", "--clients", "0"}, "--clients 0: want an integer from 1 to 10000"},
		{[]string{"bench", "serve", "--target", "http://x:1", "--limit", "0"}, "--limit 0: want an integer from 1 to 100"},
		{[]string{"bench", "serve", "--target", "http://x:1", "--duration", "0s"}, "--duration 0s: want a duration > 0"},
		{[]string{"bench", "serve", "--target", "http://x:1", "--requests", "0"}, "--requests 0: want an integer ≥ 1"},
		{[]string{"bench", "serve", "--target", "http://x:1", "--timeout", "0s"}, "--timeout 0s: want a duration > 0"},
		{[]string{"bench", "serve", "--target", "http://x:1", "--synth-customers", "0"}, "--synth-customers 0: want"},
		{[]string{"keygen", "extra"}, "unexpected argument"},
		{[]string{"audit", "extra"}, "unexpected argument"},
		{[]string{"audit", "--action", "erase"}, `--action: entry 1, erase: store: unknown audit action "erase" (want export, forget,`},
		{[]string{"audit", "--action", "forget,"}, "--action: entry 2 is empty"},
		{[]string{"audit", "--since", "yesterday"}, `--since "yesterday": want a time (RFC 3339, or a day such as 2026-03-01) or how long ago`},
		{[]string{"audit", "--until", "-5h"}, `--until "-5h": want a time`},
		{[]string{"audit", "--since", "2026-03-02", "--until", "2026-03-01"}, "--since 2026-03-02T00:00:00Z is not before --until 2026-03-01T00:00:00Z"},
		{[]string{"audit", "--limit", "-1"}, "--limit -1: want an integer ≥ 0"},
		{[]string{"audit", "--customer", ""}, "--customer: "},
	}
	for _, tt := range tests {
		code, _, stderr := c.run(tt.args...)
		if code != exitUsage || stderr == "" || !strings.Contains(stderr, tt.want) {
			t.Errorf("discret %q = exit %d, stderr %q; want exit 2 and a message containing %q", tt.args, code, stderr, tt.want)
		}
		if strings.Contains(stderr, "alice@example.com") {
			t.Errorf("discret %q: stderr %q echoes a customer id", tt.args, stderr)
		}
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"import", "--help"}, {"consent", "--help"}, {"consent", "set", "--help"}, {"help", "train"}} {
		if code, out, _ := c.run(args...); code != exitOK || out == "" {
			t.Errorf("discret %q = exit %d; want 0 and help on stdout", args, code)
		}
	}
}

// TestImportMessages: a file that cannot be read gives only its error; a
// file whose events are all past retention (an old public dataset) is
// imported with a note saying the periods in force and how to change them.
func TestImportMessages(t *testing.T) {
	c := newCLI(t)
	c.mustRun("keygen")
	missing := filepath.Join(t.TempDir(), "missing.jsonl")
	old := writeFile(t, "u.data", "1\t1\t5\t881250949", "2\t3\t4\t881250950") // MovieLens 100K, 1997
	note := "note: 2 of 2 events were past their retention period"
	dup := writeFile(t, "dup.data", "1\t1\t5\t881250949", "2\t3\t4\t881250950", "1\t1\t4\t881250949")
	at := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	recent := writeFile(t, "recent.jsonl",
		`{"customer":"a@example.com","item":"i1","type":"purchase","time":"`+at+`"}`,
		`{"customer":"b@example.com","item":"i1","type":"view","time":"`+at+`"}`)
	badFields := writeFile(t, "bad.jsonl",
		`{"customer":"a@example.com","item":"i1","type":"purchase","time":"`+at+`","quantity":0}`,
		`{"customer":"a@example.com","item":"i2","type":"vew","time":"`+at+`","quantity":0}`,
		`{"customer":"a@example.com","item":"i3","type":"view","time":"`+at+`"}`)
	for _, tt := range []struct {
		name           string
		config         string
		args           []string
		code           int
		stdout, stderr []string // substrings
		noStdout       []string
	}{
		{
			name: "missing file", args: []string{"import", missing}, code: exitFailure,
			stderr: []string{"discret import: " + missing + ": no such file or directory\n"}, noStdout: []string{"rows read"},
		},
		{
			name: "missing and old files", args: []string{"import", missing, old}, code: exitFailure,
			stdout: []string{old + ":", note}, stderr: []string{"import " + missing + ": no such file or directory", "1 of 2 files not imported"},
			noStdout: []string{missing},
		},
		{
			name: "old dataset", args: []string{"import", old}, code: exitOK,
			stdout: []string{"expired                  2", note, "purchase 3y", `"retention"`, `{"retention": {"purchase": "30y"}}`, "--accept-config-change once"},
		},
		{
			// Consent defaults to no: nothing stored, and the note says why.
			name: "no consent", args: []string{"import", recent}, code: exitOK,
			stdout: []string{"skipped for no consent   2", "note: 2 of 2 events were of customers without consent to personalization", "consent import"},
		},
		{
			name:   "longer retention",
			config: `{"retention": {"purchase": "50y"}, "consent_defaults": {"personalization": true}}`,
			args:   []string{"import", "--accept-config-change", old}, code: exitOK,
			stdout: []string{"stored                   2"}, noStdout: []string{"note:", "duplicates"},
		},
		{
			name:   "a row with two bad fields counts under each",
			config: `{"retention": {"purchase": "50y"}, "consent_defaults": {"personalization": true}}`,
			args:   []string{"import", "--max-errors", "2", badFields}, code: exitOK,
			stdout: []string{"rejected                 2 (invalid quantity: 2, invalid type: 1; a row with several bad fields counts under each)"},
		},
		{
			// The store cannot tell: the report says so.
			name:   "imported again",
			config: `{"retention": {"purchase": "50y"}, "consent_defaults": {"personalization": true}}`,
			args:   []string{"import", "--accept-config-change", old}, code: exitOK,
			stdout: []string{"stored                   2 (new or already held: importing again adds no copy)"},
		},
		{
			name:   "a row repeated",
			config: `{"retention": {"purchase": "50y"}, "consent_defaults": {"personalization": true}}`,
			args:   []string{"import", dup}, code: exitOK,
			stdout: []string{"stored                   2", "duplicates               1 (same customer, time, type, item and store"},
		},
	} {
		c.config = ""
		if tt.config != "" {
			c.config = writeFile(t, "c.json", tt.config)
		}
		code, stdout, stderr := c.run(tt.args...)
		ok := code == tt.code
		for _, want := range tt.stdout {
			ok = ok && strings.Contains(stdout, want)
		}
		for _, want := range tt.stderr {
			ok = ok && strings.Contains(stderr, want)
		}
		for _, not := range tt.noStdout {
			ok = ok && !strings.Contains(stdout, not)
		}
		if !ok {
			t.Errorf("%s: discret %q = exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit %d, stdout with %q and without %q, stderr with %q",
				tt.name, tt.args, code, stdout, stderr, tt.code, tt.stdout, tt.noStdout, tt.stderr)
		}
	}
}

// TestKeyChecks: every command that opens data refuses a missing key, a key
// readable by others, a key inside the data directory and a key that does
// not match the data directory, each with a one-line error saying what to do.
func TestKeyChecks(t *testing.T) {
	c := newCLI(t)
	c.mustRun("keygen")
	c.mustRun("consent", "set", "alice@example.com", "personalization=granted")
	other := filepath.Join(t.TempDir(), "other.key")
	c.mustRun("keygen", "--out", other)
	// keygen refuses to write there (TestKeygenInsideData); a key copied
	// there is refused by every command.
	inside := filepath.Join(c.data, "inside.key")
	if b, err := os.ReadFile(other); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(inside, b, 0o600); err != nil {
		t.Fatal(err)
	}
	// A link from outside to the key inside is judged by where it leads.
	linked := filepath.Join(t.TempDir(), "linked.key")
	if err := os.Symlink(inside, linked); err != nil {
		t.Fatal(err)
	}
	loose := filepath.Join(t.TempDir(), "loose.key")
	c.mustRun("keygen", "--out", loose)
	if err := os.Chmod(loose, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, key, want string
	}{
		{"missing", filepath.Join(t.TempDir(), "none.key"), "discret keygen"},
		{"readable by others", loose, "chmod 600"},
		{"inside the data directory", inside, "outside"},
		{"linked into the data directory", linked, "outside"},
		{"another key", other, "does not match this data directory; use the key the directory was created with (key file " + other + ", --key or DISCRET_KEY; data directory " + c.data},
	}
	commands := [][]string{
		{"consent", "get", "alice@example.com"},
		{"export", "alice@example.com"},
		{"forget", "alice@example.com"},
		{"import", writeFile(t, "e.jsonl", `{"customer":"a","item":"i","type":"view","time":1}`)},
		{"compact"},
		{"train"},
		{"models", "list"},
		{"privacy", "report"},
	}
	for _, tt := range tests {
		for _, cmd := range commands {
			code, _, stderr := c.run(append(cmd, "--key", tt.key)...)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if code != exitFailure || len(lines) != 1 || !strings.Contains(stderr, tt.want) {
				t.Errorf("%s: discret %s = exit %d, stderr %q; want exit 1 and one line containing %q", tt.name, cmd[0], code, stderr, tt.want)
			}
		}
	}
	// The right key still works: nothing was changed by the refusals.
	if out := c.mustRun("consent", "get", "alice@example.com"); !strings.Contains(out, "granted") {
		t.Errorf("consent get after refusals = %q", out)
	}
}

// TestDataSubjectCommands walks import, consent, export and forget as a DPO
// would, and checks that no output contains a raw customer id.
func TestDataSubjectCommands(t *testing.T) {
	c := newCLI(t)
	c.mustRun("keygen")
	now := time.Now().UTC()
	ts := func(d time.Duration) string { return now.Add(-d).Format(time.RFC3339) }
	alice, bob := "alice.martin@example.fr", "LOY-0042-7777"
	c.mustRun("consent", "set", alice, "personalization=granted", "in_store=granted", "--source", "web-form")
	events := writeFile(t, "events.jsonl",
		fmt.Sprintf(`{"customer":%q,"item":"sku-1","type":"purchase","time":%q,"quantity":2}`, alice, ts(time.Hour)),
		fmt.Sprintf(`{"customer":%q,"type":"store_visit","store":"lyon-2","time":%q}`, alice, ts(2*time.Hour)),
		fmt.Sprintf(`{"customer":%q,"item":"sku-2","type":"view","time":%q}`, alice, now.AddDate(0, -14, 0).Format(time.RFC3339)),
		fmt.Sprintf(`{"customer":%q,"item":"sku-1","type":"purchase","time":%q}`, bob, ts(time.Hour)),
		fmt.Sprintf(`{"customer":%q,"item":"sku-3","type":"refund","time":%q}`, bob, ts(time.Hour)),
	)
	code, out, stderr := c.run("import", events)
	if code != exitFailure || !strings.Contains(out, "NOT IMPORTED") || !strings.Contains(out, "row 5: field type") ||
		!strings.Contains(stderr, "nothing was imported: 1 bad row, more than --max-errors 0 allows;") {
		t.Fatalf("import with a bad row = exit %d\n%s%s; want the file rejected, naming row 5 and field type", code, out, stderr)
	}
	out = c.mustRun("import", "--max-errors", "1", events)
	for _, want := range []string{"stored                   2", "skipped for no consent   1", "expired                  1", "rejected                 1 (invalid type: 1)"} {
		if !strings.Contains(out, want) {
			t.Errorf("import report lacks %q:\n%s", want, out)
		}
	}
	var exp struct {
		Customer string `json:"pseudonym"`
		Consent  []struct {
			Purpose string `json:"purpose"`
			Source  string `json:"source"`
		} `json:"consent"`
		Events []struct {
			Type, Item, Store string
			Quantity          int
			ExpiresAt         time.Time `json:"expires_at"`
		} `json:"events"`
	}
	raw := c.mustRun("export", alice)
	if err := json.Unmarshal([]byte(raw), &exp); err != nil {
		t.Fatalf("export is not JSON: %v\n%s", err, raw)
	}
	if len(exp.Consent) != 2 || len(exp.Events) != 2 || exp.Events[0].ExpiresAt.IsZero() {
		t.Errorf("export = %+v; want 2 consent changes and 2 events with expiry", exp)
	}
	// Withdrawing personalization erases the events at once.
	out = c.mustRun("consent", "set", alice, "personalization=withdrawn")
	if !strings.Contains(out, "erased 2") {
		t.Errorf("withdrawal output = %q; want 2 records erased", out)
	}
	raw = c.mustRun("export", alice)
	if err := json.Unmarshal([]byte(raw), &exp); err != nil || len(exp.Events) != 0 || len(exp.Consent) != 3 {
		t.Errorf("export after withdrawal = %+v, %v; want no events and 3 consent changes", exp, err)
	}
	out = c.mustRun("forget", alice)
	if !strings.Contains(out, "erased customer") {
		t.Errorf("forget output = %q", out)
	}
	raw = c.mustRun("export", alice)
	if err := json.Unmarshal([]byte(raw), &exp); err != nil || len(exp.Events) != 0 || len(exp.Consent) != 0 {
		t.Errorf("export after forget = %+v, %v; want nothing", exp, err)
	}
	if out := c.mustRun("forget", alice); !strings.Contains(out, "nothing held") {
		t.Errorf("second forget = %q", out)
	}
	c.mustRun("compact")
	// No output of any command above contains a raw id (export shows the
	// pseudonym only); the data directory holds neither raw ids nor
	// pseudonyms in clear.
	for _, args := range [][]string{{"consent", "get", alice}, {"export", bob}, {"consent", "set", bob, "in_store=withdrawn"}} {
		code, out, stderr := c.run(args...)
		if strings.Contains(out+stderr, alice) || strings.Contains(out+stderr, bob) {
			t.Errorf("discret %s (exit %d) printed a raw customer id:\n%s%s", args[0], code, out, stderr)
		}
	}
	err := filepath.WalkDir(c.data, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		for _, id := range []string{alice, bob, exp.Customer} {
			if id != "" && bytes.Contains(b, []byte(id)) {
				t.Errorf("%s contains %q", path, id)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDataDirInUse: a command on a data directory another process holds
// (here another handle) says so, names the possible holders and exits 1.
func TestDataDirInUse(t *testing.T) {
	c := newCLI(t)
	c.mustRun("keygen")
	c.mustRun("items", "import", writeFile(t, "items.jsonl", `{"item":"SKU-1","category":"c","active":true}`))
	var out, errOut bytes.Buffer
	held, err := openData(t.Context(), &env{global: globalFlags{data: c.data, key: c.key}, stdout: &out, stderr: &errOut, getenv: c.getenv}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	code, _, stderr := c.run("items", "list")
	for _, want := range []string{"in use by another process", "'discret serve'", "another discret command (train, import, …)", "POST /v1/models:train"} {
		if code != exitFailure || !strings.Contains(stderr, want) {
			t.Errorf("items list on a held data directory = exit %d, %q; want exit %d and %q", code, stderr, exitFailure, want)
		}
	}
}

// TestConfigCheckedEverywhere: a --config that cannot be read or has an
// unknown field fails every command, also those that use none of it.
func TestConfigCheckedEverywhere(t *testing.T) {
	bad := writeFile(t, "bad.json", `{"trainin": {}}`)
	for _, cfg := range []string{filepath.Join(t.TempDir(), "missing.json"), bad} {
		for _, args := range [][]string{{"keygen", "--out", filepath.Join(t.TempDir(), "k")}, {"gen", "--out", t.TempDir()}} {
			c := newCLI(t)
			code, _, stderr := c.run(append([]string{"--config", cfg}, args...)...)
			if code != exitFailure || !strings.Contains(stderr, "config") {
				t.Errorf("discret --config %s %v = exit %d, %q; want exit %d and the config error", cfg, args, code, stderr, exitFailure)
			}
		}
	}
}

// TestErrorPrefixes: a failing command's message names the command once, not
// again as the package prefix of the error it prints.
func TestErrorPrefixes(t *testing.T) {
	c := newCLI(t)
	c.mustRun("keygen")
	c.mustRun("import", writeFile(t, "u.data", "1\t1\t5\t881250949")) // not stored: no consent, expired
	bad := writeFile(t, "bad.csv", "bad")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"train"}, "discret train: no usable data: "},
		{[]string{"eval", bad}, "discret eval: " + bad + ": eventfile: unknown format: "},
		{[]string{"import", bad}, "discret import: " + bad + ": eventfile: unknown format: "},
		{[]string{"bench", "quality", bad}, "discret bench quality: " + bad + ": eventfile: unknown format: "},
	} {
		code, _, stderr := c.run(tt.args...)
		if code != exitFailure || !strings.HasPrefix(stderr, tt.want) {
			t.Errorf("discret %q = exit %d, stderr %q; want exit %d, stderr starting %q", tt.args, code, stderr, exitFailure, tt.want)
		}
	}
}

func TestErrorText(t *testing.T) {
	for _, tt := range []struct{ full, err, want string }{
		{"discret train", "train: no usable data", "no usable data"},
		{"discret bench quality", "bench: dataset x", "dataset x"},
		{"discret train", "train: train: twice", "train: twice"}, // one prefix only
		{"discret import", "x.csv: eventfile: bad", "x.csv: eventfile: bad"},
		{"discret models use", "release: version 3 not found", "release: version 3 not found"},
	} {
		if got := errorText(tt.full, errors.New(tt.err)); got != tt.want {
			t.Errorf("errorText(%q, %q) = %q, want %q", tt.full, tt.err, got, tt.want)
		}
	}
}

// TestConsentFutureTimes: a consent choice dated more than
// privacy.MaxClockSkew ahead is refused by `consent set` (a usage error)
// and is a bad row for `consent import`; one dated a little ahead is
// recorded as now, so that a withdrawal made after it decides.
func TestConsentFutureTimes(t *testing.T) {
	c := newCLI(t)
	c.mustRun("keygen")
	far := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	code, _, stderr := c.run("consent", "set", "zoe@example.com", "personalization=granted", "--time", far)
	if code != exitUsage || !strings.Contains(stderr, "--time: "+far+" is in the future") {
		t.Errorf("consent set --time (an hour ahead) = exit %d, stderr %q; want a usage error naming --time", code, stderr)
	}
	file := writeFile(t, "c.jsonl", `{"customer":"zoe@example.com","purpose":"personalization","granted":true,"time":"`+far+`","source":"crm"}`)
	code, stdout, _ := c.run("consent", "import", file)
	if code != exitFailure || !strings.Contains(stdout, "row 1: field time: \""+far+"\": in the future") {
		t.Errorf("consent import (an hour ahead) = exit %d, stdout %q; want row 1 refused", code, stdout)
	}
	soon := time.Now().Add(4 * time.Minute).UTC().Format(time.RFC3339)
	c.mustRun("consent", "set", "zoe@example.com", "personalization=granted", "--time", soon)
	c.mustRun("consent", "set", "zoe@example.com", "personalization=withdrawn")
	if out := c.mustRun("consent", "get", "zoe@example.com"); !strings.Contains(out, "personalization  no ") {
		t.Errorf("after a grant dated 4 minutes ahead and a withdrawal:\n%s\nwant personalization withdrawn", out)
	}
}

// TestShortenedRetentionCLI: a retention period shortened in the
// configuration hides the events stored under the longer one from export
// at once, and compact deletes them and says how many.
func TestShortenedRetentionCLI(t *testing.T) {
	c := newCLI(t)
	c.mustRun("keygen")
	now := time.Now().UTC()
	alice := "alice.martin@example.fr"
	c.mustRun("consent", "set", alice, "personalization=granted")
	events := writeFile(t, "events.jsonl",
		fmt.Sprintf(`{"customer":%q,"item":"sku-1","type":"view","time":%q}`, alice, now.AddDate(0, -3, 0).Format(time.RFC3339)),
		fmt.Sprintf(`{"customer":%q,"item":"sku-2","type":"view","time":%q}`, alice, now.AddDate(0, 0, -2).Format(time.RFC3339)),
		fmt.Sprintf(`{"customer":%q,"item":"sku-3","type":"purchase","time":%q}`, alice, now.AddDate(0, -3, 0).Format(time.RFC3339)),
	)
	c.mustRun("import", events)
	items := func(args ...string) []string {
		t.Helper()
		var exp struct{ Events []struct{ Item string } }
		raw := c.mustRun(append([]string{"export", alice}, args...)...)
		if err := json.Unmarshal([]byte(raw), &exp); err != nil {
			t.Fatalf("export is not JSON: %v\n%s", err, raw)
		}
		var out []string
		for _, e := range exp.Events {
			out = append(out, e.Item)
		}
		slices.Sort(out)
		return out
	}
	if got := items(); len(got) != 3 {
		t.Fatalf("export before = %v, want 3 events", got)
	}
	c.config = writeFile(t, "c.json", `{"retention": {"view": "1mo"}}`)
	if got := items(); !slices.Equal(got, []string{"sku-2", "sku-3"}) {
		t.Errorf("export with views kept 1 month = %v, want [sku-2 sku-3]", got)
	}
	if out := c.mustRun("compact"); !strings.Contains(out, "deleted 1 event older than the retention period in force") {
		t.Errorf("compact = %q; want it to say it deleted 1 event", out)
	}
	if out := c.mustRun("compact"); strings.Contains(out, "deleted") {
		t.Errorf("second compact = %q; want nothing deleted", out)
	}
	c.config = "" // longer periods than recorded: accepted
	if got := items("--accept-config-change"); !slices.Equal(got, []string{"sku-2", "sku-3"}) {
		t.Errorf("export with the default periods after compact = %v, want [sku-2 sku-3]: the deleted view is back", got)
	}

	// The server's maintenance loop deletes what a shortened period no
	// longer keeps, and says so in the server's log (serve hands its
	// logger to openData through env.logger).
	c.mustRun("import", writeFile(t, "more.jsonl",
		fmt.Sprintf(`{"customer":%q,"item":"sku-4","type":"view","time":%q}`, alice, now.AddDate(0, -2, 0).Format(time.RFC3339))))
	conf, err := loadSettings(writeFile(t, "c2.json", `{"retention": {"view": "1mo"}}`))
	if err != nil {
		t.Fatal(err)
	}
	var log syncWriter
	e := &env{global: globalFlags{data: c.data, key: c.key, config: "c2.json"}, stdout: io.Discard, stderr: io.Discard, getenv: c.getenv, conf: conf,
		logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	d, err := openData(t.Context(), e, false)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- d.db.RunGC(ctx, time.Millisecond) }()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(log.String(), "deleted events past the retention period in force") && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := log.String(); !strings.Contains(got, "deleted events past the retention period in force") || !strings.Contains(got, "events=1") {
		t.Errorf("log = %q; want the maintenance loop's deletion of 1 event, at INFO", got)
	}
}

// TestNoStore: the commands that do not create a store refuse a data
// directory that does not exist, is empty, or holds something else (a
// mistyped --data), naming it and the commands that create one, and leave
// it as it was; those that write create one there.
func TestNoStore(t *testing.T) {
	c := newCLI(t)
	c.mustRun("keygen")
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "notes.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	readers := [][]string{
		{"consent", "get", "alice@example.com"},
		{"export", "alice@example.com"},
		{"forget", "alice@example.com"},
		{"compact"},
		{"train"},
		{"models", "list"},
		{"models", "show", "1"},
		{"models", "use", "1"},
		{"privacy", "report"},
		{"items", "list"},
		{"coupons", "list"},
		{"apikey", "list"},
		{"apikey", "revoke", "abcdefgh"},
		{"audit"},
		{"serve", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"},
	}
	// A server that starts serving is stopped after a while: the test
	// fails rather than waits.
	runBriefly := func(args ...string) (int, string, string) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		var out, errOut bytes.Buffer
		code := run(ctx, args, &out, &errOut, c.getenv)
		return code, out.String(), errOut.String()
	}
	for _, dir := range []struct{ path, want string }{
		{filepath.Join(t.TempDir(), "nope"), "does not exist"},
		{t.TempDir(), "holds no Discret store"},
		{other, "holds no Discret store"},
	} {
		for _, args := range readers {
			code, out, stderr := runBriefly(append(args, "--data", dir.path)...)
			if code != exitFailure || out != "" || !strings.Contains(stderr, "data directory "+dir.path+" "+dir.want) || !strings.Contains(stderr, "'discret import'") {
				t.Errorf("discret %s --data %s = exit %d, stdout %q, stderr %q; want exit 1 and %q, naming the commands that create a store",
					strings.Join(args, " "), dir.path, code, out, stderr, dir.want)
			}
		}
		entries, _ := os.ReadDir(dir.path)
		if len(entries) > 1 {
			t.Errorf("%s holds %d files after the refusals, want them left as they were", dir.path, len(entries))
		}
	}
	events := writeFile(t, "e.jsonl", `{"customer":"a@example.com","item":"i","type":"view","time":"`+time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)+`"}`)
	for _, args := range [][]string{
		{"import", events},
		{"consent", "import", writeFile(t, "c.jsonl", `{"customer":"a@example.com","purpose":"in_store","granted":true,"time":"2026-01-02T15:04:05Z","source":"web-form"}`)},
		{"consent", "set", "alice@example.com", "personalization=granted"},
		{"items", "import", writeFile(t, "items.jsonl", `{"item":"SKU-1","category":"c","active":true}`)},
		{"apikey", "create", "--name", "n", "--scope", "admin"},
	} {
		dir := t.TempDir()
		c.mustRun(append(args, "--data", dir)...)
		c.mustRun("privacy", "report", "--data", dir)
	}
}
