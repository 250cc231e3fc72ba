package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestEvalNothingToEvaluate: eval names the file once and says why there
// is nothing to evaluate, and refuses a dataset whose figures would all be
// 0 (a single user) rather than print them; its help says so.
func TestEvalNothingToEvaluate(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, lines ...string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Join(lines, "")), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	row := func(user, item string) string {
		return `{"customer":"` + user + `","item":"` + item + `","type":"view","time":"2025-01-01T00:00:00Z"}` + "\n"
	}
	c := newCLI(t)
	for _, tt := range []struct {
		path, want string
	}{
		{file("empty.jsonl"), "discret eval: " + filepath.Join(dir, "empty.jsonl") + ": no (user, item) pairs: the file has no event rows\n"},
		{file("one.jsonl", row("u1", "a"), row("u1", "b"), row("u1", "c")),
			"discret eval: nothing to evaluate: no held-out item of the one user evaluated is among the items seen in training (a single user, or users with too few items in common), so every figure would be 0\n"},
		{file("single.jsonl", row("u1", "a"), row("u2", "b")),
			"discret eval: nothing to evaluate: no user has 2 or more distinct items, so none has both a training and a held-out item after the 20 % holdout\n"},
	} {
		code, stdout, stderr := c.run("eval", "--seeds", "1", "--epsilon", "inf", tt.path)
		if code != exitFailure || stdout != "" || !strings.HasSuffix(stderr, tt.want) {
			t.Errorf("discret eval %s = exit %d, stdout %q, stderr %q;\nwant exit %d, no output and stderr ending %q", tt.path, code, stdout, stderr, exitFailure, tt.want)
		}
	}
	if _, out, _ := c.run("eval", "--help"); !strings.Contains(out, "Eval fails, rather than print figures that are 0") {
		t.Errorf("discret eval --help does not say when eval refuses a dataset:\n%s", out)
	}
}

// TestFileErrorContexts: an unreadable dataset or a bad header is reported
// with each context once: the command, the path, the package, what is
// wrong (it said "read X: read X: is a directory" and "eventfile: csv
// header: … eventfile: bad header").
func TestFileErrorContexts(t *testing.T) {
	c := newCLI(t)
	c.mustRun("keygen")
	dir := t.TempDir()
	ratings := writeFile(t, "u.data", "196\t242\t3\t881250949", "186\t302\t3\t891717742")
	dupCol := writeFile(t, "dup.csv", "customer,item,type,time,item", "a,b,view,2025-01-01T00:00:00Z,b")
	noCustomer := writeFile(t, "nocust.csv", "item,type,time", "b,view,2025-01-01T00:00:00Z")
	header := func(file, field, what string) string {
		return file + `: eventfile: bad header (csv): row 1: field ` + field + `: ` + what + "\n"
	}
	const want = "want customer, item, type, store, time, quantity"
	for _, tt := range []struct {
		args []string
		want string // the end of stderr
	}{
		{[]string{"eval", dir}, "discret eval: read " + dir + ": is a directory\n"},
		{[]string{"bench", "quality", dir}, "discret bench quality: read " + dir + ": is a directory\n"},
		{[]string{"bench", "train", dir}, "discret bench train: read " + dir + ": is a directory\n"},
		{[]string{"import", dir}, "discret import: " + dir + ": is a directory\n"},
		{[]string{"eval", "--format", "csv", ratings}, "discret eval: " + header(ratings, `"196\t242\t3\t881250949"`, "unknown column ("+want+")")},
		{[]string{"bench", "quality", "--format", "csv", ratings}, "discret bench quality: " + header(ratings, `"196\t242\t3\t881250949"`, "unknown column ("+want+")")},
		{[]string{"bench", "train", "--format", "csv", ratings}, "discret bench train: " + header(ratings, `"196\t242\t3\t881250949"`, "unknown column ("+want+")")},
		{[]string{"import", "--format", "csv", ratings}, "discret import: " + header(ratings, `"196\t242\t3\t881250949"`, "unknown column ("+want+")")},
		{[]string{"import", dupCol}, "discret import: " + header(dupCol, "item", "duplicate column")},
		{[]string{"eval", "--format", "csv", noCustomer}, "discret eval: " + header(noCustomer, "customer", "missing column ("+want+")")},
	} {
		code, _, stderr := c.run(tt.args...)
		if code != exitFailure || !strings.HasSuffix(stderr, tt.want) {
			t.Errorf("discret %s = exit %d, stderr %q;\nwant exit %d, stderr ending %q", strings.Join(tt.args, " "), code, stderr, exitFailure, tt.want)
		}
		last := stderr[strings.LastIndex(stderr[:len(stderr)-1], "\n")+1:]
		parts := strings.Split(strings.TrimSuffix(last, "\n"), ": ")
		for i, p := range parts {
			if slices.Contains(parts[:i], p) || strings.Contains(p, "eventfile") && slices.ContainsFunc(parts[:i], func(q string) bool { return strings.Contains(q, "eventfile") }) {
				t.Errorf("discret %s: context %q repeated in %q", strings.Join(tt.args, " "), p, last)
			}
		}
	}
}

// TestBadRowsReported: eval, bench quality and bench train skip a dataset's
// bad rows and list the first ones, each with its row and what is wrong,
// on stderr (eval and bench quality printed only a count, bench train
// nothing); a file without a usable row says what is wrong with the first.
func TestBadRowsReported(t *testing.T) {
	dir := t.TempDir()
	good := pairsFile(t, dir, "u.data")
	content, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.data")
	content = append(content, "1\t2\n3 4 5 881250949\n7\t8\t5\t881250949\t9\n"...)
	if err := os.WriteFile(bad, content, 0o600); err != nil {
		t.Fatal(err)
	}
	listed := bad + ": 3 bad rows skipped:\n" +
		"  row 2251: wrong number of columns: 2, want 4\n" +
		"  row 2252: wrong number of columns: 1, want 4\n" +
		"  row 2253: wrong number of columns: 5, want 4\n"
	c := newCLI(t)
	for _, tt := range []struct {
		args []string
		code int
		want string // in stderr
	}{
		{[]string{"eval", "--seeds", "1", "--epsilon", "inf", "--factors", "4", bad}, exitOK, listed},
		{[]string{"bench", "quality", "--seeds", "1", "--epsilon", "inf", "--factors", "4", bad}, exitOK, listed},
		{[]string{"bench", "train", "--factors", "4", "--iterations", "1", bad}, exitOK, listed},
		{[]string{"eval", "--format", "discret", good}, exitFailure,
			"discret eval: " + good + ": no usable (user, item) pairs: of 2250 rows, 2250 bad (the first: row 1: malformed JSON: want an object at byte 1)\n"},
		{[]string{"bench", "quality", "--format", "discret", good}, exitFailure,
			"discret bench quality: " + good + ": no usable (user, item) pairs: of 2250 rows, 2250 bad (the first: row 1: malformed JSON: want an object at byte 1)\n"},
		{[]string{"bench", "train", "--format", "discret", good}, exitFailure,
			"discret bench train: " + good + ": no usable events (2250 rows, 2250 bad; the first: row 1: malformed JSON: want an object at byte 1)\n"},
	} {
		code, _, stderr := c.run(tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("discret %s = exit %d, stderr\n%s\nwant exit %d and\n%s", strings.Join(tt.args, " "), code, stderr, tt.code, tt.want)
		}
	}
}
