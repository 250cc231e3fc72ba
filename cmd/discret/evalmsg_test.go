package main

import (
	"os"
	"path/filepath"
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
