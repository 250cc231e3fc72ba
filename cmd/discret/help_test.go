package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestUsageLines checks the first line of every command's --help: one
// "[flags]", no trailing blank; and that its prose fits a terminal of 80
// columns (indented lines, examples and the flag list, may be longer).
func TestUsageLines(t *testing.T) {
	c := newCLI(t)
	var walk func(path []string, cmds []*command)
	walk = func(path []string, cmds []*command) {
		for _, cmd := range cmds {
			p := append(append([]string(nil), path...), cmd.name)
			if len(cmd.sub) > 0 {
				walk(p, cmd.sub)
				continue
			}
			code, out, _ := c.run(append(p, "--help")...)
			if code != exitOK {
				t.Errorf("discret %s --help: exit %d", strings.Join(p, " "), code)
				continue
			}
			line, _, _ := strings.Cut(out, "\n")
			want := "Usage: discret " + strings.Join(p, " ") + " [flags]"
			if !strings.HasPrefix(line, want) || strings.Count(line, "[flags]") != 1 || line != strings.TrimSpace(line) {
				t.Errorf("discret %s --help: usage line %q, want %q followed by the arguments, once, without a trailing blank", strings.Join(p, " "), line, want)
			}
			prose, _, _ := strings.Cut(out, "\nFlags:")
			for i, l := range strings.Split(prose, "\n")[1:] {
				if n := utf8.RuneCountInString(l); n > 80 && !strings.HasPrefix(l, " ") {
					t.Errorf("discret %s --help: line %d has %d columns (at most 80): %q", strings.Join(p, " "), i+2, n, l)
				}
			}
		}
	}
	walk(nil, commands())
}

// TestTopHelpGlobalFlags: discret --help lists every global flag (the
// text is written by hand; a flag added to globalFlags.register must be
// added there too).
func TestTopHelpGlobalFlags(t *testing.T) {
	c := newCLI(t)
	code, out, _ := c.run("--help")
	if code != exitOK {
		t.Fatalf("discret --help: exit %d", code)
	}
	_, list, ok := strings.Cut(out, "Global flags")
	if !ok {
		t.Fatalf("discret --help has no global flags section:\n%s", out)
	}
	fs := flag.NewFlagSet("discret", flag.ContinueOnError)
	new(globalFlags).register(fs)
	fs.VisitAll(func(f *flag.Flag) {
		if !isGlobalFlag(f.Name) {
			t.Errorf("--%s is registered with the global flags but isGlobalFlag denies it", f.Name)
		}
		if !strings.Contains(list, "  --"+f.Name+" ") && !strings.Contains(list, "  --"+f.Name+"\n") {
			t.Errorf("discret --help does not list the global flag --%s:\n%s", f.Name, list)
		}
	})
}

// TestKeygenInsideData: keygen and demo refuse to create a key that every
// other command would refuse, inside the data directory, and write nothing.
func TestKeygenInsideData(t *testing.T) {
	c := newCLI(t)
	if err := os.MkdirAll(c.data, 0o700); err != nil {
		t.Fatal(err)
	}
	inside := filepath.Join(c.data, "k.key")
	// A directory outside that links to the data directory leads inside.
	link := filepath.Join(t.TempDir(), "data-link")
	if err := os.Symlink(c.data, link); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		code int
	}{
		{[]string{"keygen", "--out", inside}, exitUsage},
		{[]string{"keygen", "--key", inside}, exitUsage},
		{[]string{"keygen", "--out", filepath.Join(link, "k.key")}, exitUsage},
		{[]string{"demo", "--key", inside, "--events", "10", "--customers", "2"}, exitFailure},
	} {
		code, _, stderr := c.run(tt.args...)
		if code != tt.code || !strings.Contains(stderr, "inside the data directory") {
			t.Errorf("discret %s = exit %d, stderr %q; want exit %d and \"inside the data directory\"", strings.Join(tt.args, " "), code, stderr, tt.code)
		}
		if _, err := os.Stat(inside); err == nil {
			t.Fatalf("discret %s wrote %s", strings.Join(tt.args, " "), inside)
		}
	}
}

// TestConsentImportFiles: as with events, a consent file that fails is not
// imported and does not stop the files after it; the exit status and the
// last line say which failed.
func TestConsentImportFiles(t *testing.T) {
	c := newCLI(t)
	c.mustRun("keygen")
	good1 := writeFile(t, "a.jsonl", `{"customer":"ann@example.com","purpose":"personalization","granted":true,"time":"2026-01-02T15:04:05Z","source":"web-form"}`)
	bad := writeFile(t, "b.jsonl",
		`{"customer":"bob@example.com","purpose":"personalization","granted":true,"time":"2026-01-02T15:04:05Z","source":"web-form"}`,
		`{"customer":"bob@example.com","purpose":"personalization","granted":"yes","time":"2026-01-02T15:04:05Z","source":"web-form"}`)
	missing := filepath.Join(t.TempDir(), "none.jsonl")
	good2 := writeFile(t, "c.jsonl", `{"customer":"cid@example.com","purpose":"in_store","granted":true,"time":"2026-01-02T15:04:05Z","source":"web-form"}`)
	code, out, stderr := c.run("consent", "import", good1, bad, missing, good2)
	if code != exitFailure {
		t.Fatalf("consent import = exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	for _, want := range []string{"2 of 4 files not imported: " + bad + ", " + missing, missing + ": no such file or directory"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q does not contain %q", stderr, want)
		}
	}
	if strings.Contains(stderr, "open "+missing) {
		t.Errorf("stderr %q names the missing file twice", stderr)
	}
	if !strings.Contains(out, bad+": 1 bad row:") {
		t.Errorf("stdout %q does not name the file of the bad rows", out)
	}
	for customer, want := range map[string]string{"ann@example.com": "granted", "bob@example.com": "never expressed", "cid@example.com": "granted"} {
		if got := c.mustRun("consent", "get", customer); !strings.Contains(got, want) {
			t.Errorf("consent get %s = %q, want %q", customer, got, want)
		}
	}
}

// TestConsentImportTwiceAndTies: importing the same consent file twice
// records its choices once, and the second import says nothing changed; a
// grant and a withdrawal of the same second decide "withdrawn" whatever
// the order of their rows; `consent set` refuses two choices for one
// purpose; `consent get --json` names the purposes.
func TestConsentImportTwiceAndTies(t *testing.T) {
	c := newCLI(t)
	c.mustRun("keygen")
	const grant = `{"customer":"%s","purpose":"personalization","granted":true,"time":"2026-01-02T15:04:05Z","source":"web-form"}`
	const withdraw = `{"customer":"%s","purpose":"personalization","granted":false,"time":"2026-01-02T15:04:05.500Z","source":"web-form"}`
	f := writeFile(t, "a.jsonl", fmt.Sprintf(grant, "ann@example.com"), fmt.Sprintf(grant, "ann@example.com"),
		fmt.Sprintf(withdraw, "bob@example.com"), fmt.Sprintf(grant, "bob@example.com"),
		fmt.Sprintf(grant, "cid@example.com"), fmt.Sprintf(withdraw, "cid@example.com"))
	if out := c.mustRun("consent", "import", f); !strings.Contains(out, "3 customers updated,") {
		t.Errorf("first import: %q, want 3 customers updated", out)
	}
	if out := c.mustRun("consent", "import", f); !strings.Contains(out, "0 customers updated (3 customers unchanged: every choice already recorded)") {
		t.Errorf("second import: %q, want nothing updated", out)
	}
	var got struct {
		Allowed map[string]bool `json:"allowed"`
		History []struct {
			Purpose string `json:"purpose"`
		} `json:"history"`
	}
	for customer, want := range map[string]struct {
		allowed bool
		history int
	}{"ann@example.com": {true, 1}, "bob@example.com": {false, 2}, "cid@example.com": {false, 2}} {
		if err := json.Unmarshal([]byte(c.mustRun("consent", "get", "--json", customer)), &got); err != nil {
			t.Fatal(err)
		}
		if got.Allowed["personalization"] != want.allowed || len(got.History) != want.history || got.History[0].Purpose != "personalization" {
			t.Errorf("consent get --json %s = %+v, want personalization allowed %v and %d changes named by purpose", customer, got, want.allowed, want.history)
		}
	}
	code, _, stderr := c.run("consent", "set", "dan@example.com", "personalization=granted", "personalization=withdrawn")
	if code != exitUsage || !strings.Contains(stderr, "personalization is given more than once: one choice per purpose") {
		t.Errorf("consent set with two choices for one purpose = exit %d, stderr %q; want exit 2", code, stderr)
	}
}

// TestHelpNested: `discret help A B` and `discret A help B` print the help
// of `discret A B`, as `discret A B --help` does, for every subcommand; a
// path that names no command is a usage error naming what is unknown.
func TestHelpNested(t *testing.T) {
	c := newCLI(t)
	for _, group := range commands() {
		for _, sub := range group.sub {
			_, want, _ := c.run(group.name, sub.name, "--help")
			for _, args := range [][]string{{"help", group.name, sub.name}, {group.name, "help", sub.name}} {
				code, out, stderr := c.run(args...)
				if code != exitOK || out != want {
					t.Errorf("discret %s = exit %d, stdout:\n%s\nstderr %q\nwant exit 0 and the output of 'discret %s %s --help':\n%s",
						strings.Join(args, " "), code, out, stderr, group.name, sub.name, want)
				}
			}
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"help", "nope"}, `discret: unknown command "nope"`},
		{[]string{"help", "consent", "nope"}, `discret consent: unknown subcommand "nope"`},
		{[]string{"consent", "help", "nope"}, `discret consent: unknown subcommand "nope"`},
		{[]string{"help", "import", "set"}, `discret import: no subcommands ("set")`},
		{[]string{"help", "consent", "set", "x"}, `discret consent set: no subcommands ("x")`},
	} {
		code, out, stderr := c.run(tt.args...)
		if code != exitUsage || out != "" || !strings.Contains(stderr, tt.want) {
			t.Errorf("discret %s = exit %d, stdout %q, stderr %q; want exit 2 and %q", strings.Join(tt.args, " "), code, out, stderr, tt.want)
		}
	}
}
