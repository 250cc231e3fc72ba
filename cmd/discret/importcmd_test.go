package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/discret-io/discret/features/ingest"
	"github.com/discret-io/discret/features/store"
)

// exportedEvents returns the events `discret export customer` lists.
func exportedEvents(t *testing.T, c *cli, customer string) []store.EventData {
	t.Helper()
	raw := c.mustRun("export", customer)
	var exp struct {
		Events []store.EventData `json:"events"`
	}
	if err := json.Unmarshal([]byte(raw), &exp); err != nil {
		t.Fatalf("export is not JSON: %v\n%s", err, raw)
	}
	return exp.Events
}

// withStdin runs fn with os.Stdin reading content and a final newline.
func withStdin(t *testing.T, content string, fn func()) {
	t.Helper()
	withStdinBytes(t, []byte(content+"\n"), fn)
}

// withStdinBytes runs fn with os.Stdin reading exactly b.
func withStdinBytes(t *testing.T, b []byte, fn func()) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "stdin")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	old := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = old }()
	fn()
}

// TestImportPairsIdempotent checks that a file without timestamps is dated
// at its modification time, so that importing it again stores nothing new
// (it used to be dated now: every re-import duplicated every event).
func TestImportPairsIdempotent(t *testing.T) {
	c := newCLI(t)
	c.mustRun("keygen")
	c.mustRun("consent", "set", "3", "personalization=granted")
	pairs := writeFile(t, "p.csv", "UserID,MovieID", "3,12")
	mtime := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(pairs, mtime, mtime.Add(500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	c.mustRun("import", pairs)
	c.mustRun("import", pairs)
	ev := exportedEvents(t, c, "3")
	if len(ev) != 1 || !ev[0].Time.Equal(mtime) {
		t.Fatalf("import p.csv twice: export lists %+v; want one event at the file's modification time %v", ev, mtime)
	}
	if want := mtime.AddDate(3, 0, 0); !ev[0].ExpiresAt.Equal(want) {
		t.Errorf("event expires at %v, want %v (3 years after the modification time)", ev[0].ExpiresAt, want)
	}
	// --time still wins.
	at := mtime.Add(-time.Hour)
	c.mustRun("import", "--time", at.Format(time.RFC3339), pairs)
	if ev := exportedEvents(t, c, "3"); len(ev) != 2 || !ev[0].Time.Equal(at) {
		t.Errorf("import --time %v: export lists %+v; want a second event at that time", at, ev)
	}
}

// TestImportStdin checks that "import -" reads standard input, with both
// passes (a bad row rejects the whole input), and asks for --time for rows
// without one.
func TestImportStdin(t *testing.T) {
	c := newCLI(t)
	c.mustRun("keygen")
	// An explicit limit: the default, the free space of $TMPDIR less 10 %
	// of its file system, depends on the machine (TestImportStdinLimit).
	small := "--max-stdin-bytes=1048576"
	c.mustRun("consent", "set", "alice", "personalization=granted")
	ts := time.Now().UTC().Add(-time.Hour).Truncate(time.Second).Format(time.RFC3339)
	good := `{"customer":"alice","item":"sku-1","type":"purchase","time":"` + ts + `"}`
	bad := `{"customer":"alice","item":"sku-2","type":"refund","time":"` + ts + `"}`

	withStdin(t, good+"\n"+bad+"\n", func() {
		code, out, errOut := c.run("import", small, "-")
		if code != exitFailure || !strings.Contains(out, "NOT IMPORTED") || !strings.Contains(out, "row 2: field type") {
			t.Errorf("import - (a bad row) = exit %d\n%s%s; want the input rejected whole, naming row 2", code, out, errOut)
		}
	})
	if ev := exportedEvents(t, c, "alice"); len(ev) != 0 {
		t.Fatalf("after a rejected import -: export lists %+v; want nothing", ev)
	}
	withStdin(t, good+"\n", func() {
		out := c.mustRun("import", small, "-")
		if !strings.Contains(out, "-:\n") || !strings.Contains(out, "stored                   1") {
			t.Errorf("import - = %q; want 1 event stored", out)
		}
	})
	if ev := exportedEvents(t, c, "alice"); len(ev) != 1 || ev[0].Item != "sku-1" {
		t.Errorf("after import -: export lists %+v; want sku-1", ev)
	}

	withStdin(t, "UserID,MovieID\n3,12\n", func() {
		code, out, errOut := c.run("import", small, "-")
		if code != exitFailure || !strings.Contains(errOut, "--time") {
			t.Errorf("import - (pairs, no --time) = exit %d\n%s%s; want a failure asking for --time", code, out, errOut)
		}
	})
	withStdin(t, "UserID,MovieID\n3,12\n", func() {
		c.mustRun("import", small, "--time", ts, "-")
	})
	if code, _, errOut := c.run("import", "-", "-"); code != exitUsage || !strings.Contains(errOut, "once") {
		t.Errorf("import - - = exit %d, %q; want a usage error", code, errOut)
	}
}

// TestImportHelp checks that import --help documents "-" and the default
// time of rows without one.
func TestImportHelp(t *testing.T) {
	c := newCLI(t)
	_, out, errOut := c.run("import", "--help")
	help := out + errOut
	for _, want := range []string{`FILE "-" is standard input`, "modification time"} {
		if !strings.Contains(help, want) {
			t.Errorf("import --help lacks %q:\n%s", want, help)
		}
	}
}

// TestImportStdinLimit: standard input larger than --max-stdin-bytes is
// refused before anything is imported, saying so, and leaves no copy in
// $TMPDIR; a file given with it is still imported, each file being
// all-or-nothing.
func TestImportStdinLimit(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	c := newCLI(t)
	c.mustRun("keygen")
	c.mustRun("consent", "set", "alice", "personalization=granted")
	ts := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	row := `{"customer":"alice","item":"sku-1","type":"view","time":"` + ts + `"}` + "\n"
	file := writeFile(t, "f.jsonl", strings.TrimSuffix(strings.ReplaceAll(row, "sku-1", "sku-2"), "\n"))
	const refused = "standard input is larger than its temporary copy may be: --max-stdin-bytes 100; nothing was imported: pass a larger --max-stdin-bytes, set TMPDIR to a larger file system, or import a file"
	for _, tt := range []struct {
		args  []string
		code  int
		want  string // the end of stderr
		items []string
	}{
		{[]string{"import", "--max-stdin-bytes", "0", "-"}, exitUsage, "--max-stdin-bytes 0: want an integer ≥ 1\nRun 'discret import --help' for usage.\n", nil},
		{[]string{"import", "--max-stdin-bytes", "100", "-"}, exitFailure, "discret import: -: " + refused + "\n", nil},
		{[]string{"import", "--max-stdin-bytes", "100", "-", file}, exitFailure, "import -: " + refused + "\ndiscret import: 1 of 2 files not imported: -\n", []string{"sku-2"}},
		{[]string{"import", "--max-stdin-bytes", "1000", "-"}, exitOK, "", []string{"sku-1", "sku-2"}},
	} {
		withStdin(t, strings.Repeat(row, 3), func() {
			code, _, stderr := c.run(tt.args...)
			if code != tt.code || !strings.HasSuffix(stderr, tt.want) {
				t.Errorf("discret %s = exit %d, stderr %q;\nwant exit %d, stderr ending %q", strings.Join(tt.args, " "), code, stderr, tt.code, tt.want)
			}
		})
		var items []string
		for _, ev := range exportedEvents(t, c, "alice") {
			items = append(items, ev.Item)
		}
		if !slices.Equal(items, tt.items) {
			t.Errorf("after discret %s: export lists %v, want %v", strings.Join(tt.args, " "), items, tt.items)
		}
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Errorf("discret %s left %v in $TMPDIR", strings.Join(tt.args, " "), left)
		}
	}
}

// TestImportReportStopped: an import that stopped partway says how far it
// got, the rows processed (of the file's) and the line through which they
// were committed, instead of the validation pass's count of the whole
// file as rows read; a complete import's summary is unchanged.
func TestImportReportStopped(t *testing.T) {
	counts := ingest.Counts{Stored: 535811, NoConsent: 344829}
	tests := []struct {
		name string
		rep  ingest.Report
		want string
	}{
		{"complete", ingest.Report{Rows: 3000000, Valid: 3000000, Counts: ingest.Counts{Stored: 1800000, NoConsent: 1200000}}, `f:
  rows read                3000000
  stored                   1800000 (new or already held: importing again adds no copy)
  skipped for no consent   1200000
  expired                  0
  rejected                 0
`},
		{"stopped", ingest.Report{Rows: 880640, Valid: 880640, Counts: counts, Stopped: true, Through: 880641, FileRows: 3000000}, `f:
  rows processed           880640 of 3000000, through line 880641; STOPPED there: the rest was not imported (importing the file again completes it)
  stored                   535811 (new or already held: importing again adds no copy)
  skipped for no consent   344829
  expired                  0
  rejected                 0
`},
		{"stopped, file not validated", ingest.Report{Rows: 880640, Valid: 880640, Counts: counts, Stopped: true, Through: 880640}, `f:
  rows processed           880640, through line 880640; STOPPED there`},
		{"stopped before any commit", ingest.Report{Stopped: true, FileRows: 3000000}, `f:
  STOPPED before any row was imported: nothing was stored
`},
	}
	for _, tt := range tests {
		var b strings.Builder
		printImportReport(&b, "f", &tt.rep)
		if got := b.String(); !strings.HasPrefix(got, tt.want) || tt.rep.Rows == 0 && got != tt.want {
			t.Errorf("printImportReport(%s) =\n%s\nwant it to begin with\n%s", tt.name, got, tt.want)
		}
	}

	// Interrupted before it could commit anything: it says so, not only
	// "interrupted".
	c := newCLI(t)
	c.mustRun("keygen")
	f := writeFile(t, "e.jsonl", `{"customer":"a@example.com","item":"i1","type":"view","time":"`+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)+`"}`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut strings.Builder
	code := run(ctx, []string{"import", f}, &out, &errOut, c.getenv)
	if code != exitFailure || out.String() != f+":\n  STOPPED before any row was imported: nothing was stored\n" || errOut.String() != "discret import: interrupted\n" {
		t.Errorf("import interrupted at once = exit %d, stdout %q, stderr %q; want %d, STOPPED before any row, interrupted", code, out.String(), errOut.String(), exitFailure)
	}
}
