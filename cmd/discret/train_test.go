package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/synth"
	"github.com/discret-io/discret/privacy"
)

var versionRE = regexp.MustCompile(`trained release (\S+) \(current\)`)

// TestTrainEndToEnd runs demo, train, models, privacy report and export
// as a user would, on a small synthetic dataset.
func TestTrainEndToEnd(t *testing.T) {
	c := newCLI(t)
	gen := c.synthStore(300, 40, 9000, 2)
	catPath := filepath.Join(gen, synth.ItemsFile)

	code, out, errOut := c.run("train", "--epsilon", "2", "--factors", "8", "--catalogue", catPath)
	if code != exitOK {
		t.Fatalf("train: exit %d\n%s\n%s", code, out, errOut)
	}
	m := versionRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("train output has no version:\n%s", out)
	}
	first := m[1]
	for _, want := range []string{"items 40 (catalogue", "privacy: ε = 2", "δ = 1e-06", "budget: ε = 2 of the cap 10",
		"model: 4 factors (of at most 8, chosen by the private rank rule"} {
		if !strings.Contains(out, want) {
			t.Errorf("train output lacks %q:\n%s", want, out)
		}
	}
	if got := strings.Count(errOut, "iteration "); got < 1 || !strings.Contains(errOut, "ε spent") {
		t.Errorf("train progress on stderr = %q, want one line per iteration with ε spent", errOut)
	}

	// Rank errors are refused before any training or budget charge.
	for _, args := range [][]string{{"--rank", "-1"}, {"--rank", "9", "--factors", "8"}} {
		if code, _, errOut := c.run(append([]string{"train", "--epsilon", "2"}, args...)...); code == exitOK || !strings.Contains(errOut, "rank") {
			t.Errorf("train %v: exit %d, stderr %s", args, code, errOut)
		}
	}

	// A non-private model (TestTrainNotCurrent: without
	// --allow-non-private, it does not become current), then the list.
	out = c.mustRun("train", "--epsilon", "inf", "--allow-non-private", "--factors", "8", "--iterations", "2")
	if !strings.Contains(out, "privacy: NONE") {
		t.Errorf("non-private train output:\n%s", out)
	}
	second := versionRE.FindStringSubmatch(out)[1]
	out = c.mustRun("models", "list")
	if !strings.Contains(out, first) || !regexp.MustCompile(`\*\s+`+second).MatchString(out) || !strings.Contains(out, "∞ (non-private)") {
		t.Errorf("models list:\n%s", out)
	}

	// Back to the private one.
	out = c.mustRun("models", "use", first)
	if !strings.Contains(out, "release "+first+" is now current") {
		t.Errorf("models use: %s", out)
	}
	out = c.mustRun("models", "show", "current")
	var card struct {
		Version string `json:"version"`
		Private bool   `json:"private"`
		Privacy struct {
			Epsilon float64 `json:"epsilon"`
		} `json:"privacy"`
	}
	if err := json.Unmarshal([]byte(out), &card); err != nil || card.Version != first || !card.Private || card.Privacy.Epsilon > 2 {
		t.Errorf("models show current = %s (%v)", out, err)
	}
	// ε is exact in JSON (just below the target: the calibration rounds
	// towards privacy), and rounded to 4 significant digits in text.
	exact := strconv.FormatFloat(card.Privacy.Epsilon, 'g', -1, 64)
	if !strings.Contains(out, `"epsilon": `+exact+",") {
		t.Errorf("models show: ε not exact (%s):\n%s", exact, out)
	}
	list := c.mustRun("models", "list")
	if row := regexp.MustCompile(regexp.QuoteMeta(first) + `\s+\S+\s+(\S+)`).FindStringSubmatch(list); row == nil || row[1] != fmt.Sprintf("%.4g", card.Privacy.Epsilon) {
		t.Errorf("models list: ε of %s = %v, want %.4g (exact %s):\n%s", first, row, card.Privacy.Epsilon, exact, list)
	}
	for _, args := range [][]string{{"models", "use", "nope"}, {"models", "show", "nope"}, {"models", "use", "20260101T000000Z-00000000"}} {
		want := fmt.Sprintf("release %q not found ('discret models list' shows the stored releases)\n", args[2])
		if code, _, errOut := c.run(args...); code != exitFailure || !strings.HasSuffix(errOut, want) || strings.Contains(errOut, "store:") {
			t.Errorf("discret %s: exit %d, stderr %q; want exit 1 and %q", strings.Join(args, " "), code, errOut, want)
		}
	}

	// The ledger, and the cap: releases at ε = 2 and 9.9 compose (adding
	// their ρ) to ε = 10.24 > 10.
	out = c.mustRun("privacy", "report")
	for _, want := range []string{first, second, "∞ NON-PRIVATE", "private releases: 1", "cap: ε = 10"} {
		if !strings.Contains(out, want) {
			t.Errorf("privacy report lacks %q:\n%s", want, out)
		}
	}
	code, _, errOut = c.run("train", "--epsilon", "9.9", "--factors", "8", "--catalogue", catPath)
	if code != exitFailure || !strings.Contains(errOut, "exceed the privacy cap") {
		t.Errorf("train beyond the cap: exit %d, stderr %s", code, errOut)
	}

	// Export lists the releases derived from a customer's events: both
	// releases' windows cover every stored event.
	raw, err := os.ReadFile(filepath.Join(gen, synth.EventsFile))
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, line := range strings.SplitN(string(raw), "\n", 200) {
		var ev struct {
			Customer string `json:"customer"`
		}
		if json.Unmarshal([]byte(line), &ev) != nil {
			continue
		}
		out = c.mustRun("export", ev.Customer)
		var exp struct {
			Events  []json.RawMessage `json:"events"`
			Derived struct {
				Releases []struct {
					Version string `json:"version"`
				} `json:"releases"`
				Note string `json:"note"`
			} `json:"derived"`
		}
		if err := json.Unmarshal([]byte(out), &exp); err != nil {
			t.Fatalf("export: %v\n%s", err, out)
		}
		if exp.Derived.Note == "" || exp.Derived.Releases == nil {
			t.Fatalf("export has no derived section:\n%s", out)
		}
		if len(exp.Events) == 0 {
			if len(exp.Derived.Releases) != 0 {
				t.Errorf("export of a customer without events lists releases %+v", exp.Derived.Releases)
			}
			continue
		}
		if len(exp.Derived.Releases) != 2 || exp.Derived.Releases[0].Version != first || exp.Derived.Releases[1].Version != second {
			t.Errorf("export derived releases = %+v, want %s and %s", exp.Derived.Releases, first, second)
		}
		// Forgetting the customer leaves nothing, derived data included.
		c.mustRun("forget", ev.Customer)
		out = c.mustRun("export", ev.Customer)
		if !strings.Contains(out, `"releases": []`) || !strings.Contains(out, `"events": []`) {
			t.Errorf("export after forget:\n%s", out)
		}
		checked++
		break
	}
	if checked == 0 {
		t.Error("no exported customer had events")
	}

	// With the catalogue stored, training uses it without --catalogue.
	c.mustRun("items", "import", catPath)
	code, out, errOut = c.run("train", "--epsilon", "0.5", "--factors", "8", "--iterations", "2")
	if code != exitOK || !strings.Contains(out, "items 40 (catalogue") || !strings.Contains(errOut, "catalogue: 40 items and 8 stores, from the data directory") {
		t.Errorf("train with the stored catalogue: exit %d\n%s\n%s", code, out, errOut)
	}
	// --stores replaces the catalogue's stores, says so, and warns about a
	// store no catalogue item is available in.
	code, out, errOut = c.run("train", "--epsilon", "0.5", "--factors", "8", "--iterations", "2", "--stores", "store-01,nowhere")
	for _, want := range []string{"catalogue: 40 items, from the data directory; stores: 2, from --stores", "warning: --stores nowhere: no catalogue item is available there"} {
		if code != exitOK || !strings.Contains(errOut, want) || strings.Contains(errOut, "--stores store-01:") || !strings.Contains(out, "stores 2") {
			t.Errorf("train --stores store-01,nowhere: exit %d, want %q\n%s\n%s", code, want, out, errOut)
		}
	}
}

func TestTrainUsage(t *testing.T) {
	c := newCLI(t)
	for _, tt := range []struct {
		args []string
		want string // in stderr
	}{
		{[]string{"train", "--epsilon", "-1"}, "--epsilon -1: want a number from 0.001 to 100, or inf"},
		{[]string{"train", "--epsilon", "x"}, "--epsilon x: want"},
		{[]string{"train", "--epsilon", "1e-9"}, "--epsilon 1e-9: want a number from 0.001 to 100"},
		{[]string{"train", "--epsilon", ""}, "--epsilon: empty"},
		// A huge ε failed inside the run, after charging the ledger.
		{[]string{"train", "--epsilon", "100.5"}, "--epsilon 100.5: want a number from 0.001 to 100"},
		{[]string{"train", "--epsilon", "1e15"}, "--epsilon 1e15: want a number from 0.001 to 100"},
		{[]string{"train", "extra"}, "unexpected argument"},
		{[]string{"train", "--stores", "a,b,a"}, `--stores: entry 3 repeats entry 1 ("a")`},
		// Store ids are written into the release as they are.
		{[]string{"train", "--stores", "store-01,ann@example.com"}, "--stores: entry 2: not accepted: ids of items, stores, categories and coupons are stored as they are, and must not hold an '@'"},
		// Explicit values are used or refused, never replaced by defaults.
		{[]string{"train", "--alpha", "0"}, "--alpha 0: want a finite number > 0"},
		{[]string{"train", "--clip", "0"}, "--clip 0: want a finite number > 0"},
		{[]string{"train", "--clip", "inf"}, "--clip +Inf: want a finite number > 0"},
		{[]string{"train", "--clip", "NaN"}, "--clip NaN: want a finite number > 0"},
		{[]string{"train", "--delta", "0"}, "--delta 0: want a number with 1e-12 ≤ δ ≤ 0.001"},
		{[]string{"train", "--delta", "2"}, "--delta 2: want a number with 1e-12 ≤ δ ≤ 0.001"},
		{[]string{"train", "--delta", "0.5"}, "--delta 0.5: want a number with 1e-12 ≤ δ ≤ 0.001"},
		{[]string{"train", "--delta", "0.0011"}, "--delta 0.0011: want a number with 1e-12 ≤ δ ≤ 0.001"},
		// One release at a tiny δ would state every spend of its window there.
		{[]string{"train", "--delta", "1e-300"}, "--delta 1e-300: want a number with 1e-12 ≤ δ ≤ 0.001"},
		{[]string{"train", "--iterations", "0"}, "--iterations 0: want an integer from 1 to 1000"},
		{[]string{"train", "--factors", "0"}, "--factors 0: want an integer from 1 to 1024"},
		{[]string{"train", "--lambda", "0"}, "--lambda 0: want a finite number > 0"},
		{[]string{"train", "--max-items-per-user", "0"}, "--max-items-per-user 0: want an integer ≥ 1"},
		{[]string{"train", "--rank", "-1"}, "--rank -1: want 0 (automatic)"},
		{[]string{"train", "--rank", "100"}, "--rank 100 exceeds the default --factors 64"},
		{[]string{"train", "--rank", "9", "--factors", "8"}, "--rank 9 exceeds --factors 8"},
		{[]string{"train", "--stores", ",,"}, "--stores: entry 1 is empty"},
		{[]string{"train", "--stores", "a,,b"}, "--stores: entry 2 is empty"},
		{[]string{"train", "--stores", ""}, "--stores: empty list"},
		{[]string{"train", "--stores", "none,store-01"}, "--stores: entry 1 is none, which means no per-store popularity and stands alone: give none, or store identifiers"},
		{[]string{"train", "--stores", "store-01,none"}, "--stores: entry 2 is none, which means"},
		{[]string{"train", "--catalogue", ""}, "--catalogue: empty file name"},
		// A non-private model has no clip, rank, δ or item bound to set.
		{[]string{"train", "--epsilon", "inf", "--clip", "1"}, "--clip applies only to private training, and --epsilon inf trains a non-private model"},
		{[]string{"train", "--epsilon", "Inf", "--rank", "4"}, "--rank applies only to private training"},
		{[]string{"train", "--epsilon", "INF", "--delta", "1e-7"}, "--delta applies only to private training"},
		{[]string{"train", "--epsilon", "INF", "--max-items-per-user", "5"}, "--max-items-per-user applies only to private training"},
		{[]string{"eval", "--epsilon", "1,foo", "f"}, "--epsilon: entry 2, foo: want"},
		{[]string{"eval"}, "DATASET"},
		{[]string{"eval", "--plot", "out.gif", "f"}, "--plot"},
		{[]string{"models", "show"}, "VERSION"},
	} {
		code, _, stderr := c.run(tt.args...)
		if code != exitUsage || !strings.Contains(stderr, tt.want) {
			t.Errorf("discret %q = exit %d, stderr %q; want exit %d and %q", tt.args, code, stderr, exitUsage, tt.want)
		}
	}
	// ε = inf from the configuration file: the message names its key.
	c.config = writeFile(t, "c.json", `{"training":{"epsilon":"inf"}}`)
	if code, _, stderr := c.run("train", "--clip", "1"); code != exitUsage || !strings.Contains(stderr, "--clip applies only to private training, and training.epsilon inf") {
		t.Errorf("train --clip 1 with training.epsilon inf = exit %d, stderr %q", code, stderr)
	}
	// The help says what β is and the default it gives.
	if out := c.mustRun("train", "--help"); !strings.Contains(out, "(default 30: ⌈β⌉, where β = 30 bounds") {
		t.Errorf("train --help does not explain --max-items-per-user's default:\n%s", out)
	}
}

// TestTrainNotCurrent: a release that servers would refuse (non-private,
// without --allow-non-private) or too poor to serve (fewer than 10 items
// selected from the data) is stored, and the current release stays; the
// latter is an error.
func TestTrainNotCurrent(t *testing.T) {
	c := newCLI(t)
	gen := c.synthStore(300, 40, 9000, 4)
	m := versionRE.FindStringSubmatch(c.mustRun("train", "--epsilon", "2", "--factors", "4", "--catalogue", filepath.Join(gen, synth.ItemsFile)))
	if m == nil {
		t.Fatal("the first release is not current")
	}
	first := m[1]
	stillCurrent := func(after string) {
		t.Helper()
		if out := c.mustRun("models", "list"); !regexp.MustCompile(`\*\s+` + first).MatchString(out) {
			t.Errorf("after %s, %s is no longer current:\n%s", after, first, out)
		}
	}

	out := c.mustRun("train", "--epsilon", "inf", "--factors", "4", "--iterations", "1")
	if !strings.Contains(out, "(stored, NOT current: it is non-private") || versionRE.MatchString(out) {
		t.Errorf("non-private train output without --allow-non-private:\n%s", out)
	}
	stillCurrent("a non-private run")
	if code, _, stderr := c.run("train", "--epsilon", "2", "--allow-non-private"); code != exitUsage || !strings.Contains(stderr, "--allow-non-private applies only to a non-private model") {
		t.Errorf("train --epsilon 2 --allow-non-private = exit %d, stderr %q; want a usage error", code, stderr)
	}

	// 300 customers: at ε = 2 the DP selection keeps 2 to 5 of the 40 items
	// (25 runs).
	code, out, stderr := c.run("train", "--epsilon", "2", "--factors", "4", "--stores", "none")
	if code != exitFailure || !strings.Contains(out, "NOT current: only") || !strings.Contains(stderr, "passed the DP selection (fewer than 10)") || !strings.Contains(stderr, "discret items import") {
		t.Errorf("train with too few items selected = exit %d\nstdout %s\nstderr %s\nwant exit 1 and the reason", code, out, stderr)
	}
	stillCurrent("a run with too few items")
}

func TestEvalCommand(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "toy", "u.data")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for u := range 80 {
		for k := range 10 {
			b.WriteString(strings.Join([]string{strconv.Itoa(u + 1), strconv.Itoa((u%4)*10 + (u+k)%10 + 1), "5", "881250949"}, "\t") + "\n")
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	c := newCLI(t)
	plot := filepath.Join(dir, "curve.svg")
	out := c.mustRun("eval", "--epsilon", "2,inf", "--factors", "4", "--seeds", "1", "--json", "--plot", plot, path)
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("eval --json output: %v\n%s", err, out)
	}
	models := map[string]bool{}
	for _, r := range rows {
		models[r["model"].(string)] = true
		for _, k := range []string{"epsilon", "precision@10", "recall@10", "recall@20", "ndcg@10", "train_seconds"} {
			if _, ok := r[k]; !ok {
				t.Errorf("row %v lacks %q", r, k)
			}
		}
		if r["dataset"] != "toy" {
			t.Errorf("dataset = %v, want toy", r["dataset"])
		}
	}
	if !models["als"] || !models["popular"] || !models["dp-popular"] || len(rows) != 4 {
		t.Errorf("eval rows = %v", rows)
	}
	if st, err := os.Stat(plot); err != nil || st.Size() == 0 {
		t.Errorf("plot file: %v", err)
	}
	out = c.mustRun("eval", "--epsilon", "inf", "--factors", "4", "--seeds", "1", path)
	if !strings.Contains(out, "NDCG@10") || !strings.Contains(out, "popular") {
		t.Errorf("eval table:\n%s", out)
	}
	// An unwritable plot fails before the dataset is even read.
	for _, tt := range []struct{ plot, want string }{
		{filepath.Join(dir, "missing", "x.png"), "--plot " + filepath.Join(dir, "missing", "x.png") + ": cannot create a file in"},
		{filepath.Join(path, "x.svg"), "not a directory"}, // under the dataset file
	} {
		code, out, stderr := c.run("eval", "--epsilon", "inf", "--factors", "4", "--seeds", "1", "--plot", tt.plot, path)
		if code != exitFailure || out != "" || !strings.Contains(stderr, tt.want) || strings.Contains(stderr, "users") {
			t.Errorf("eval --plot %s = exit %d, stdout %q, stderr %q; want exit 1 before reading, and %q", tt.plot, code, out, stderr, tt.want)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "d.png"), 0o755); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := c.run("eval", "--plot", filepath.Join(dir, "d.png"), path); code != exitFailure || !strings.Contains(stderr, "is a directory") {
		t.Errorf("eval --plot DIR = exit %d, stderr %q; want exit 1, is a directory", code, stderr)
	}
}

func TestConfigTraining(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "c.json")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	s, err := loadSettings(write(`{"training":{"epsilon":"inf","factors":32,"weights":{"view":0.2},"keep_releases":3},
		"privacy":{"cap_epsilon":20,"cap_delta":1e-7,"cap_window":"1y"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsInf(s.training.epsilon, 1) || s.training.factors != 32 || s.training.keep != 3 || s.training.weights[privacy.View] != 0.2 {
		t.Errorf("training settings = %+v", s.training)
	}
	if s.cap.Epsilon != 20 || s.cap.Delta != 1e-7 || s.cap.Window.Years != 1 {
		t.Errorf("cap = %+v", s.cap)
	}
	if s, err := loadSettings(write(`{"privacy":{"cap_epsilon":"inf"}}`)); err != nil || !math.IsInf(s.cap.Epsilon, 1) {
		t.Errorf("cap_epsilon inf: %+v, %v", s.cap, err)
	}
	for _, tt := range []struct {
		config string
		refuse bool
	}{
		{`{}`, false},
		{`{"privacy":{"non_private":"allow"}}`, false},
		{`{"privacy":{"non_private":"refuse"}}`, true},
	} {
		s, err := loadSettings(write(tt.config))
		if err != nil || s.refuseNonPrivate != tt.refuse || trainConfig(s).RefuseNonPrivate != tt.refuse {
			t.Errorf("loadSettings(%s): refuse non-private %v (training config %v), %v; want %v", tt.config, s.refuseNonPrivate, trainConfig(s).RefuseNonPrivate, err, tt.refuse)
		}
	}
	if s, err := loadSettings(write(`{"training":{"epsilon":"Inf"}}`)); err != nil || !math.IsInf(s.training.epsilon, 1) {
		t.Errorf("epsilon Inf: %+v, %v", s.training, err)
	}
	// The README's example: rank, iterations and max_items_per_user 0 mean
	// their automatic or default rule.
	s, err = loadSettings(write(`{"training":{"epsilon":1,"delta":1e-6,"iterations":0,"factors":64,"rank":0,
		"lambda":0.4,"alpha":1,"max_items_per_user":0,"clip":0.1,"strength_cap":10,"catalogue":"","keep_releases":5}}`))
	if err != nil || s.training.iterations != 0 || s.training.maxItems != 0 || s.training.alpha != 1 {
		t.Errorf("README example: %+v, %v", s.training, err)
	}
	for _, tt := range []struct{ config, want string }{
		{`{"training":{"epsilon":0}}`, "training.epsilon = 0: want a number from 0.001 to 100"},
		{`{"training":{"epsilon":1e-9}}`, "training.epsilon = 1e-9: want a number from 0.001 to 100"},
		{`{"training":{"epsilon":1e15}}`, "training.epsilon = 1e15: want a number from 0.001 to 100"},
		{`{"training":{"delta":1e-13}}`, "training.delta = 1e-13: want a number with 1e-12 ≤ δ ≤ 0.001"},
		{`{"privacy":{"cap_epsilon":"lots"}}`, `privacy.cap_epsilon = "lots": want a number > 0 or "inf"`},
		{`{"training":{"alpha":0}}`, "training.alpha = 0: want a finite number > 0"},
		{`{"training":{"lambda":0}}`, "training.lambda = 0"},
		{`{"training":{"clip":0}}`, "training.clip = 0"},
		{`{"training":{"delta":0}}`, "training.delta = 0: want a number with 1e-12 ≤ δ ≤ 0.001"},
		{`{"training":{"delta":0.5}}`, "training.delta = 0.5: want a number with 1e-12 ≤ δ ≤ 0.001"},
		{`{"training":{"factors":0}}`, "training.factors = 0: want an integer from 1 to 1024"},
		{`{"training":{"strength_cap":0}}`, "training.strength_cap = 0"},
		{`{"training":{"keep_releases":0}}`, "training.keep_releases = 0: want an integer ≥ 1"},
		{`{"training":{"iterations":1001}}`, "training.iterations = 1001: want 0 (the default) or an integer from 1 to 1000"},
		{`{"training":{"rank":100}}`, "training.rank = 100 exceeds the default factors, 64"},
		{`{"training":{"rank":16,"factors":8}}`, "training.rank = 16 exceeds training.factors = 8"},
	} {
		if _, err := loadSettings(write(tt.config)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("loadSettings(%s) = %v, want an error containing %q", tt.config, err, tt.want)
		}
	}
	for _, bad := range []string{
		`{"training":{"epsilon":"lots"}}`,
		`{"training":{"delta":2}}`,
		`{"training":{"factors":-1}}`,
		`{"training":{"weights":{"like":1}}}`,
		`{"training":{"weights":{"view":-1}}}`,
		`{"privacy":{"cap_delta":1}}`,
		`{"privacy":{"cap_window":"forever"}}`,
		`{"privacy":{"cap":1}}`,
	} {
		if _, err := loadSettings(write(bad)); err == nil {
			t.Errorf("loadSettings(%s) = nil error", bad)
		}
	}
}

// TestReadCatalogue: a catalogue is read gzip-compressed as well as plain
// (it was read as one long garbled identifier), and one that repeats an
// item is refused naming both rows (it counted the item twice).
func TestReadCatalogue(t *testing.T) {
	plain := writeFile(t, "cat.jsonl", `{"item":"SKU-1","stores":["s2"]}`, `SKU-2`, ``, `{"item":"SKU-3","stores":["s1","s2"]}`)
	b, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	compressed := filepath.Join(t.TempDir(), "cat.jsonl.gz")
	if err := os.WriteFile(compressed, gz.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{plain, compressed} {
		items, stores, err := readCatalogue(path)
		if err != nil || !slices.Equal(items, []string{"SKU-1", "SKU-2", "SKU-3"}) || !slices.Equal(stores, []string{"s1", "s2"}) {
			t.Errorf("readCatalogue(%s) = %q, %q, %v", filepath.Base(path), items, stores, err)
		}
	}
	dup := writeFile(t, "dup.txt", "SKU-1", "SKU-2", "SKU-1")
	if _, _, err := readCatalogue(dup); err == nil || !strings.Contains(err.Error(), "row 3: field item: invalid: repeats row 1") {
		t.Errorf("readCatalogue(a repeated item) = %v, want row 3 naming row 1", err)
	}
}

// FuzzParseStores: --stores is none alone, or distinct valid store
// identifiers that join back to the list; anything else is a usage error
// naming --stores.
func FuzzParseStores(f *testing.F) {
	for _, s := range []string{"none", "", "a,b", "a,,b", "a,none", "a,b,a", "x@y", "store-01", " a", "a\x00b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		ids, err := parseStores(list)
		if err != nil {
			if ue := (*usageError)(nil); !errors.As(err, &ue) || !strings.HasPrefix(err.Error(), "--stores: ") || ids != nil {
				t.Fatalf("parseStores(%q) = %q, %q: want no list and a usage error about --stores", list, ids, err)
			}
			return
		}
		if list == "none" {
			if ids == nil || len(ids) != 0 {
				t.Fatalf("parseStores(none) = %#v, want an empty non-nil list", ids)
			}
			return
		}
		if strings.Join(ids, ",") != list || len(slices.Compact(slices.Sorted(slices.Values(ids)))) != len(ids) {
			t.Fatalf("parseStores(%q) = %q: not the list's distinct entries", list, ids)
		}
		for _, id := range ids {
			if err := features.ValidateKey(id); err != nil || id == "none" {
				t.Fatalf("parseStores(%q) accepted the entry %q (%v)", list, id, err)
			}
		}
	})
}
