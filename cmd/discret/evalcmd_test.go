package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// pairsFile writes a small MovieLens u.data file (user, item, rating, time)
// with some structure to learn, as dir/name, and returns its path.
func pairsFile(t *testing.T, dir, name string) string {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	for u := 1; u <= 150; u++ {
		for range 15 {
			j := r.IntN(60)
			if r.Float64() < 0.7 {
				j = (j/4)*4 + u%4
			}
			fmt.Fprintf(&b, "%d\t%d\t5\t881250949\n", u, min(j, 59)+1)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// jsonRows decodes the JSON array of `eval --json` or `bench … --json`.
func jsonRows(t *testing.T, stdout string) []map[string]any {
	t.Helper()
	var rows []map[string]any
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil || len(rows) == 0 {
		t.Fatalf("output is not a non-empty JSON array (%v):\n%s", err, stdout)
	}
	return rows
}

// TestEvalConfigAndOutput: --config is read, checked and applied; the split and
// the dataset label are in the output; repeated ε values are refused.
func TestEvalConfigAndOutput(t *testing.T) {
	dir := t.TempDir()
	data := pairsFile(t, filepath.Join(dir, "x"), "rev-bad.data")
	ml := pairsFile(t, filepath.Join(dir, "ml-100k"), "u.data")
	config := func(body string) string {
		p := filepath.Join(t.TempDir(), "discret.json")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fast := []string{"eval", "--seeds", "1", "--epsilon", "inf,5", "--json"}
	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		stderr string // substring of stderr
		check  func(t *testing.T, rows []map[string]any)
	}{
		{
			name: "missing config", code: exitFailure, stderr: "config: open /nonexistent/discret.json",
			args: []string{"--config", "/nonexistent/discret.json", "eval", data},
		},
		{
			name: "config with an unknown field", code: exitFailure, stderr: "factors: unknown field",
			args: []string{"--config", config(`{"factors": 8}`), "eval", data},
		},
		{
			name: "config out of range", code: exitFailure, stderr: "training.factors = 0",
			args: []string{"--config", config(`{"training": {"factors": 0}}`), "eval", data},
		},
		{
			name: "config after the command", code: exitFailure, stderr: "config: open",
			args: []string{"eval", "--config", "/nonexistent/discret.json", data},
		},
		{
			name: "config sets the factors",
			args: append([]string{"--config", config(`{"training": {"factors": 6, "iterations": 3}}`)}, append(fast, data)...),
			check: func(t *testing.T, rows []map[string]any) {
				if rows[1]["model"] != "als" || rows[1]["factors"] != 6.0 {
					t.Errorf("row 1 = %v, want als with the configured 6 factors", rows[1])
				}
			},
		},
		{
			name: "--factors overrides the config",
			args: append([]string{"--config", config(`{"training": {"factors": 6}}`)}, append(fast, "--factors", "5", data)...),
			check: func(t *testing.T, rows []map[string]any) {
				if rows[1]["factors"] != 5.0 {
					t.Errorf("row 1 = %v, want 5 factors", rows[1])
				}
			},
		},
		{
			name: "configured rank above --factors", code: exitUsage, stderr: "training.rank 8 of",
			args: []string{"--config", config(`{"training": {"rank": 8}}`), "eval", "--factors", "4", data},
		},
		{
			name: "configured δ", args: append([]string{"--config", config(`{"training": {"delta": 1e-5}}`)}, append(fast, data)...),
			check: func(t *testing.T, rows []map[string]any) {
				if last := rows[len(rows)-1]; last["epsilon"] != 5.0 || last["delta"] != 1e-5 {
					t.Errorf("last row = %v, want ε 5 at the configured δ 1e-5", last)
				}
			},
		},
		{
			name: "test split and file label", args: append(fast, data),
			check: func(t *testing.T, rows []map[string]any) {
				for _, r := range rows {
					if r["split"] != "test" || r["dataset"] != "rev-bad" {
						t.Errorf("row %v: want split test, dataset rev-bad", r)
					}
				}
			},
		},
		{
			name: "validation split and public label", args: append(fast, "--validation", ml),
			check: func(t *testing.T, rows []map[string]any) {
				for _, r := range rows {
					if r["split"] != "validation" || r["dataset"] != "ml-100k" {
						t.Errorf("row %v: want split validation, dataset ml-100k", r)
					}
				}
			},
		},
		{
			name: "repeated ε", code: exitUsage, stderr: "--epsilon: entry 3, 1.0, repeats entry 1, 1",
			args: []string{"eval", "--epsilon", "1,2,1.0", data},
		},
		{
			// Refused once the users are counted, before any model is
			// trained (the private runs come last).
			name: "δ not below 1/users", code: exitUsage, stderr: "--delta 0.01: want δ < 1/users = 0.00667 for the 150 users of " + data + "\n",
			args: []string{"eval", "--seeds", "1", "--epsilon", "inf,5", "--delta", "0.01", data},
		},
		{
			name: "repeated inf", code: exitUsage, stderr: "--epsilon: entry 2, ∞, repeats entry 1, inf",
			args: []string{"eval", "--epsilon", "inf,∞", data},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			code, stdout, stderr := c.run(tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("discret %s = exit %d, stderr %q; want exit %d and %q", strings.Join(tt.args, " "), code, stderr, tt.code, tt.stderr)
			}
			if tt.check != nil {
				tt.check(t, jsonRows(t, stdout))
			}
		})
	}
}

// TestEvalTable: the table says which split it shows, and its footer
// describes the protocol without pointing outside the repository.
func TestEvalTable(t *testing.T) {
	data := pairsFile(t, t.TempDir(), "pairs.data")
	c := newCLI(t)
	for _, tt := range []struct {
		args        []string
		want, avoid []string
	}{
		{[]string{"eval", "--seeds", "1", "--epsilon", "inf", data}, []string{"Split: test", "go doc github.com/discret-io/discret/model/eval"}, []string{"VALIDATION", "EVAL.md", "DP-ALS.md", "als.PrivateRank"}},
		{[]string{"eval", "--seeds", "1", "--epsilon", "inf", "--validation", data}, []string{"VALIDATION split", "Split: validation"}, nil},
	} {
		out := c.mustRun(tt.args...)
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("discret %s: output lacks %q:\n%s", strings.Join(tt.args, " "), w, out)
			}
		}
		for _, a := range tt.avoid {
			if strings.Contains(out, a) {
				t.Errorf("discret %s: output has %q:\n%s", strings.Join(tt.args, " "), a, out)
			}
		}
	}
}

// TestEvalHelpSelfContained: the help of the evaluation commands cites
// no design note outside the repository and states what --config does.
func TestEvalHelpSelfContained(t *testing.T) {
	c := newCLI(t)
	for _, args := range [][]string{{"eval", "--help"}, {"bench", "quality", "--help"}, {"bench", "train", "--help"}, {"bench", "--help"}} {
		code, out, _ := c.run(args...)
		if code != exitOK {
			t.Fatalf("discret %s = exit %d", strings.Join(args, " "), code)
		}
		for _, bad := range []string{"EVAL.md", "DP-ALS.md", "als.PrivateRank"} {
			if strings.Contains(out, bad) {
				t.Errorf("discret %s cites %s", strings.Join(args, " "), bad)
			}
		}
		if args[0] != "bench" || len(args) > 2 {
			if !strings.Contains(out, "--config FILE") {
				t.Errorf("discret %s does not say what --config does", strings.Join(args, " "))
			}
		}
	}
}

// TestEvalReproducible: two runs of eval, and of bench quality, with the
// same seeds print the same rows to the last digit, DP most-popular's
// included (it drew its per-user sample in Go's random map order); only
// the training times may differ.
func TestEvalReproducible(t *testing.T) {
	// Users with more items than DP most-popular samples from each (50),
	// so that the order in which it sees them matters.
	r := rand.New(rand.NewPCG(3, 4))
	var b strings.Builder
	for u := 1; u <= 120; u++ {
		for _, j := range r.Perm(150)[:60+r.IntN(40)] {
			fmt.Fprintf(&b, "%d\t%d\t5\t881250949\n", u, min(j, r.IntN(150))+1)
		}
	}
	file := filepath.Join(t.TempDir(), "u.data")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	c := newCLI(t)
	for _, args := range [][]string{
		{"eval", "--json", "--seeds", "2", "--epsilon", "0.5,2,inf", "--factors", "8", file},
		{"bench", "quality", "--json", "--seeds", "2", "--epsilon", "0.5,inf", "--factors", "8", file},
	} {
		var runs [2][]map[string]any
		for i := range runs {
			runs[i] = jsonRows(t, c.mustRun(args...))
			for _, r := range runs[i] {
				delete(r, "train_seconds")
				delete(r, "train_seconds_std")
			}
		}
		a, _ := json.Marshal(runs[0])
		b, _ := json.Marshal(runs[1])
		if string(a) != string(b) || !strings.Contains(string(a), `"model":"dp-popular"`) {
			t.Errorf("discret %s twice:\n%s\n%s\nwant the same rows, dp-popular's included", strings.Join(args, " "), a, b)
		}
	}
}

// TestEvalStdin: `eval -` reads the dataset from standard input, gzip or
// not, with the figures of the same file, labelled stdin (it failed with
// "open -: no such file or directory").
func TestEvalStdin(t *testing.T) {
	file := pairsFile(t, t.TempDir(), "pairs.data")
	content, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(content)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	args := []string{"eval", "--json", "--seeds", "1", "--epsilon", "inf", "--factors", "4"}
	c := newCLI(t)
	rows := func(stdout string) string {
		rs := jsonRows(t, stdout)
		for _, r := range rs {
			delete(r, "dataset")
			delete(r, "train_seconds")
			delete(r, "train_seconds_std")
		}
		b, _ := json.Marshal(rs)
		return string(b)
	}
	want := rows(c.mustRun(append(args, file)...))
	for _, tt := range []struct {
		name, stdin string
		code        int
		stderr      string // in stderr
	}{
		{"plain", string(content), exitOK, "standard input: 150 users"},
		{"gzip", gz.String(), exitOK, "standard input: 150 users"},
		{"a bad row", string(content) + "1\t2\n", exitOK, "standard input: 1 bad row skipped:\n  row 2251: wrong number of columns: 2, want 4\n"},
		{"empty", "", exitFailure, "discret eval: standard input: no (user, item) pairs: the file has no event rows\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Not withStdin, which ends the input with a newline: after
			// gzip data, that is a truncated second gzip member.
			var code int
			var stdout, stderr string
			withStdinBytes(t, []byte(tt.stdin), func() { code, stdout, stderr = c.run(append(args, "-")...) })
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("discret eval - = exit %d, stderr %q; want exit %d and %q", code, stderr, tt.code, tt.stderr)
			}
			if code != exitOK {
				return
			}
			if got := rows(stdout); got != want || jsonRows(t, stdout)[0]["dataset"] != "stdin" {
				t.Errorf("discret eval - = %s\nwant the rows of the file, labelled stdin:\n%s", stdout, want)
			}
		})
	}
}

// TestEvalProgress: eval and bench quality report every ALS iteration on
// stderr (eval said nothing while a model trained), and --json keeps
// stdout to the JSON rows.
func TestEvalProgress(t *testing.T) {
	data := pairsFile(t, t.TempDir(), "pairs.data")
	c := newCLI(t)
	for _, args := range [][]string{
		{"eval", "--json", "--seeds", "2", "--epsilon", "inf", "--factors", "4", data},
		{"bench", "quality", "--json", "--seeds", "2", "--epsilon", "inf", "--factors", "4", data},
	} {
		help := append(slices.Clone(args[:slices.Index(args, "--json")]), "--help")
		if _, out, _ := c.run(help...); !strings.Contains(strings.Join(strings.Fields(out), " "), "after each ALS iteration") {
			t.Errorf("discret %s does not say that progress comes after each ALS iteration", strings.Join(help, " "))
		}
		code, stdout, stderr := c.run(args...)
		if code != exitOK {
			t.Fatalf("discret %s = exit %d, stderr %q", strings.Join(args, " "), code, stderr)
		}
		jsonRows(t, stdout)
		for _, want := range []string{"pairs als ε=∞ seed 1: iteration 1/10 (", "pairs als ε=∞ seed 2: iteration 10/10 ("} {
			if !strings.Contains(stderr, want) {
				t.Errorf("discret %s: stderr lacks %q:\n%s", strings.Join(args, " "), want, stderr)
			}
		}
	}
}
