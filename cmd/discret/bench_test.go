package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/discret-io/discret/features/synth"
)

// runBench runs `discret bench ARGS` with the environment env and returns
// the exit status and outputs.
func runBench(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	getenv := func(k string) string { return vars[k] }
	e := &env{stdout: &out, stderr: &errOut, getenv: getenv}
	e.global.defaults(getenv)
	code := runCommand(context.Background(), e, "discret", benchCommand(), args)
	return code, out.String(), errOut.String()
}

// fakeRecommendations serves GET /v1/customers/{c}/recommendations,
// answering status for every request and counting those with the key.
func fakeRecommendations(t *testing.T, key string, status int) (string, *atomic.Int64) {
	var authed atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/customers/{customer}/recommendations", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer "+key {
			authed.Add(1)
		}
		w.WriteHeader(status)
		w.Write([]byte(`{"items":[]}`))
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s.URL, &authed
}

func TestBenchServeCommand(t *testing.T) {
	url, authed := fakeRecommendations(t, "k1", http.StatusOK)
	dir := t.TempDir()
	ids := filepath.Join(dir, "ids.txt")
	os.WriteFile(ids, []byte("alice@example.org\nLOY-10000001\n"), 0o600)
	plot := filepath.Join(dir, "lat.svg")
	code, stdout, stderr := runBench(t, nil, "serve", "--target", url, "--api-key", "k1", "--customers", ids,
		"--requests", "40", "--clients", "2", "--warmup", "0", "--json", "--plot", plot)
	if code != exitOK {
		t.Fatalf("bench serve = exit %d, stderr:\n%s", code, stderr)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("bench serve --json output is not JSON: %v\n%s", err, stdout)
	}
	for _, k := range []string{"requests", "errors", "rps", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms"} {
		if _, ok := got[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, stdout)
		}
	}
	// The server also saw the probe, which checks the key before the load.
	if got["requests"] != 40.0 || got["errors"] != 0.0 || authed.Load() != 41 {
		t.Errorf("requests %v, errors %v, server saw %d with the key; want 40, 0, 41 (the probe and 40)", got["requests"], got["errors"], authed.Load())
	}
	if b, err := os.ReadFile(plot); err != nil || !bytes.Contains(b, []byte("<svg")) {
		t.Errorf("plot %s: %v, want an SVG", plot, err)
	}

	// The API key from --api-key-file, the table output.
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, []byte("k1\n"), 0o600)
	code, stdout, stderr = runBench(t, nil, "serve", "--target", url, "--api-key-file", keyFile, "--customers", ids, "--requests", "10", "--warmup", "0")
	if code != exitOK || !strings.Contains(stdout, "p99.9") || authed.Load() != 52 {
		t.Errorf("bench serve --api-key-file = exit %d, server saw %d keyed requests; stdout:\n%s\nstderr:\n%s", code, authed.Load(), stdout, stderr)
	}
}

func TestBenchServeDemo(t *testing.T) {
	url, authed := fakeRecommendations(t, "demo-key", http.StatusOK)
	data := t.TempDir()
	os.WriteFile(filepath.Join(data, demoKeyFile), []byte("demo-key\n"), 0o600)
	code, _, stderr := runBench(t, map[string]string{"DISCRET_DATA": data}, "serve", "--target", url, "--demo", "--requests", "20", "--warmup", "0")
	if code != exitOK || authed.Load() != 21 {
		t.Errorf("bench serve --demo = exit %d, %d keyed requests (want the probe and 20); stderr:\n%s", code, authed.Load(), stderr)
	}
	ids, err := benchCustomers(context.Background(), "", 0, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) < 1800 || len(ids) > 2001 || !slices.Contains(ids, demoCustomer) {
		t.Errorf("demo customers = %d ids (demo customer included: %v), want about 2000 synthetic and %s", len(ids), slices.Contains(ids, demoCustomer), demoCustomer)
	}
}

func TestBenchServeErrors(t *testing.T) {
	failing, _ := fakeRecommendations(t, "k", http.StatusServiceUnavailable)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // nothing listens there any more
	closedAddr := strings.TrimPrefix(closed.URL, "http://")
	ids := filepath.Join(t.TempDir(), "ids.txt")
	os.WriteFile(ids, []byte("a\n"), 0o600)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"serve", "--api-key", "k", "--customers", ids}, exitUsage, "--target URL is required"},
		{[]string{"serve", "--target", failing, "--customers", ids}, exitUsage, "no API key"},
		{[]string{"serve", "--target", failing, "--api-key", "k"}, exitUsage, "needs customers"},
		{[]string{"serve", "--target", failing, "--api-key", "k", "--customers", ids, "--demo"}, exitUsage, "give one of"},
		{[]string{"serve", "--target", "ftp://x:1", "--api-key", "k", "--customers", ids}, exitUsage, `scheme "ftp"`},
		// The target and the method are checked before the key file is read.
		{[]string{"serve", "--target", "ftp://x:1", "--api-key-file", "/nonexistent/key"}, exitUsage, `scheme "ftp"`},
		{[]string{"serve", "--target", failing, "--method", "similar", "--api-key-file", "/nonexistent/key"}, exitUsage, `method "similar"`},
		{[]string{"serve", "--target", failing, "--api-key", "k", "--customers", ids, "--plot", "x.gif"}, exitUsage, "--plot"},
		{[]string{"serve", "--target", failing, "--api-key", "k", "--customers", ids, "--requests", "5", "--warmup", "0"}, exitFailure, "no successful request"},
		// Nothing answers: refused at once, without a run of errors.
		{[]string{"serve", "--target", closed.URL, "--api-key", "k", "--customers", ids}, exitFailure,
			"discret bench serve: connection refused at " + closedAddr + "; is 'discret serve' running, and listening there?\n"},
		{[]string{"serve", "--target", "grpc://" + closedAddr, "--api-key", "k", "--customers", ids}, exitFailure, "connection refused at " + closedAddr},
	} {
		code, stdout, stderr := runBench(t, nil, tc.args...)
		if tc.code == exitFailure && strings.Contains(tc.want, "refused") && (stdout != "" || strings.Contains(stderr, "requests,")) {
			t.Errorf("bench %v: stdout %q, stderr %q; want no report and no progress", tc.args, stdout, stderr)
		}
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("bench %v = exit %d, stderr %q; want exit %d and %q (stdout %q)", tc.args, code, stderr, tc.code, tc.want, stdout)
		}
	}
}

func synthEvents(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := synth.Generate(context.Background(), synth.Config{Customers: 300, Items: 100, Events: 12000, Seed: 5}, synth.Output{Events: f}, nil); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return path
}

func TestBenchTrainCommand(t *testing.T) {
	path := synthEvents(t)
	code, stdout, stderr := runBench(t, nil, "train", "--factors", "4,8", "--threads", "1", "--epsilon", "inf,2", "--iterations", "2", "--json", path)
	if code != exitOK {
		t.Fatalf("bench train = exit %d, stderr:\n%s", code, stderr)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil || len(rows) != 4 {
		t.Fatalf("bench train --json = %d rows, %v; want 4:\n%s", len(rows), err, stdout)
	}
	if !strings.Contains(stderr, "iteration 2/2") {
		t.Errorf("no progress per iteration on stderr:\n%s", stderr)
	}
	code, _, stderr = runBench(t, nil, "train", "--factors", "0", path)
	if code != exitUsage || !strings.Contains(stderr, "--factors") {
		t.Errorf("bench train --factors 0 = exit %d, %q; want a usage error", code, stderr)
	}
}

func TestBenchQualityCommand(t *testing.T) {
	path := synthEvents(t)
	dir := t.TempDir()
	out, plot := filepath.Join(dir, "q.md"), filepath.Join(dir, "q.png")
	code, stdout, stderr := runBench(t, nil, "quality", "--seeds", "1", "--factors", "4", "--epsilon", "inf,5", "--out", out, "--plot", plot, path)
	if code != exitOK {
		t.Fatalf("bench quality = exit %d, stderr:\n%s", code, stderr)
	}
	md, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(md, []byte(stdout)) || !strings.Contains(stdout, "| events | dp-popular | 5 |") {
		t.Errorf("--out file (%v) differs from stdout or lacks the dp-popular row:\n%s", err, stdout)
	}
	if _, err := os.Stat(plot); err != nil {
		t.Errorf("plot: %v", err)
	}
	code, _, stderr = runBench(t, map[string]string{"DISCRET_DATASETS": ""}, "quality", "ml-1m")
	if code != exitUsage || !strings.Contains(stderr, "DISCRET_DATASETS") {
		t.Errorf("bench quality ml-1m without DISCRET_DATASETS = exit %d, %q", code, stderr)
	}
}

// TestBenchQualityInterrupted: a run interrupted during its second dataset
// prints (and writes with --out) the rows of the first, with a note that
// they are partial, and exits 1 as interrupted.
func TestBenchQualityInterrupted(t *testing.T) {
	dir := t.TempDir()
	first, second := pairsFile(t, filepath.Join(dir, "first"), "u.data"), pairsFile(t, filepath.Join(dir, "second"), "u.data")
	const note = "Partial: the run stopped during second; these are the rows of the datasets it finished: first.\n"
	for _, tt := range []struct {
		name   string
		flags  []string
		stdout string // in stdout
		stderr string // in stderr
		json   bool
	}{
		{"markdown", nil, "\n" + note, "", false},
		{"json", []string{"--json"}, `"dataset": "first"`, note, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "q.md")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stdout, stderr := new(bytes.Buffer), &cancelOn{marker: "second", cancel: cancel}
			e := &env{stdout: stdout, stderr: stderr, getenv: func(string) string { return "" }}
			e.global.defaults(e.getenv)
			args := append([]string{"quality", "--seeds", "1", "--factors", "4", "--epsilon", "inf", "--out", out}, tt.flags...)
			code := runCommand(ctx, e, "discret", benchCommand(), append(args, first, second))
			if code != exitFailure || !strings.HasSuffix(stderr.String(), "discret bench quality: interrupted\n") || !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("bench quality interrupted = exit %d, stderr:\n%s\nwant exit 1, %q and interrupted", code, stderr, tt.stderr)
			}
			if !strings.Contains(stdout.String(), tt.stdout) || strings.Contains(stdout.String(), "second |") {
				t.Errorf("bench quality interrupted: stdout lacks %q, or has rows of second:\n%s", tt.stdout, stdout)
			}
			if tt.json && len(jsonRows(t, stdout.String())) == 0 {
				t.Errorf("bench quality --json interrupted: no rows")
			}
			if md, err := os.ReadFile(out); err != nil || !strings.Contains(string(md), "| first | ") || !strings.HasSuffix(string(md), "\n"+note) {
				t.Errorf("bench quality interrupted: --out file (%v):\n%s\nwant the rows of first and the note", err, md)
			}
		})
	}
}

func TestParseLists(t *testing.T) {
	eps, err := parseEpsilonList("epsilon", "1, 0.5,inf,∞,Inf,INF,5.,.5,2E-1,1e1,010")
	inf := math.Inf(1)
	if err != nil || !slices.Equal(eps, []float64{1, 0.5, inf, inf, inf, inf, 5, 0.5, 0.2, 10, 10}) {
		t.Errorf("parseEpsilonList = %v, %v", eps, err)
	}
	for _, tt := range []struct{ list, want string }{
		{"", "--epsilon: empty list"},
		{" ", "--epsilon: empty list"},
		{"0", "--epsilon: entry 1, 0: want a number from 0.001 to 100, or inf"},
		{"-1", "entry 1, -1: want"},
		{"1e-9", "entry 1, 1e-9: want"},
		{"-inf", "entry 1, -inf: want"},
		{"1e309", "entry 1, 1e309: want"},
		{"x", "entry 1, x: want"},
		{"1,,2", "--epsilon: entry 2 is empty"},
		{"1,", "--epsilon: entry 2 is empty"},
		{"NaN", "entry 1, NaN: want"},
		// Only inf and plain decimal numbers: strconv.ParseFloat took these
		// (as ∞, 10 and 1).
		{"1,infinity", "entry 2, infinity: want"},
		{"+inf", "entry 1, +inf: want"},
		{"+Inf", "entry 1, +Inf: want"},
		{"1_0", "entry 1, 1_0: want"},
		{"0x1p0", "entry 1, 0x1p0: want"},
		{"0x10", "entry 1, 0x10: want"},
		{"+5", "entry 1, +5: want"},
		{"1e", "entry 1, 1e: want"},
		{".", "entry 1, .: want"},
		{"1.2.3", "entry 1, 1.2.3: want"},
	} {
		if _, err := parseEpsilonList("epsilon", tt.list); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseEpsilonList(%q) = %v, want an error containing %q", tt.list, err, tt.want)
		}
	}
	ns, err := parseIntList("factors", " 32,64 ,128", factorsRange)
	if err != nil || !slices.Equal(ns, []int{32, 64, 128}) {
		t.Errorf("parseIntList = %v, %v", ns, err)
	}
	for _, tt := range []struct{ list, want string }{
		{"", "--threads: empty list; want comma-separated values, each an integer from 1 to 1024"},
		{"0", "--threads: entry 1, 0: want an integer from 1 to 1024"},
		{"2,2000", "--threads: entry 2, 2000: want an integer from 1 to 1024"},
		{"1.5", "--threads: entry 1, 1.5: want an integer from 1 to 1024"},
		{"a", "--threads: entry 1, a: want"},
		{"1,,2", "--threads: entry 2 is empty"},
		{"99999999999999999999", "entry 1, 99999999999999999999: want"},
	} {
		if _, err := parseIntList("threads", tt.list, threadsRange); err == nil || err.Error() != tt.want && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseIntList(%q) = %v, want an error containing %q", tt.list, err, tt.want)
		}
	}
}

func TestCheckDistinct(t *testing.T) {
	inf := math.Inf(1)
	for _, tt := range []struct {
		list   string
		values []float64
		want   string // "" for no error
	}{
		{"1,2,inf", []float64{1, 2, inf}, ""},
		{"1", []float64{1}, ""},
		{"1,1", []float64{1, 1}, "--epsilon: entry 2, 1, repeats entry 1, 1; give each value once"},
		{"1, 2, 1.0", []float64{1, 2, 1}, "--epsilon: entry 3, 1.0, repeats entry 1, 1"},
		{"inf,5,∞", []float64{inf, 5, inf}, "--epsilon: entry 3, ∞, repeats entry 1, inf"},
	} {
		err := checkDistinct("epsilon", tt.list, tt.values)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("checkDistinct(%q) = %v, want %q", tt.list, err, tt.want)
		}
		var u *usageError
		if err != nil && !errors.As(err, &u) {
			t.Errorf("checkDistinct(%q) = %v, not a usage error", tt.list, err)
		}
	}
}

// FuzzParseEpsilons: parseEpsilonList never panics and returns only values
// that are ≥ minEpsilon (+Inf included), of entries that are inf, ∞ or
// plain decimal numbers.
func FuzzParseEpsilons(f *testing.F) {
	for _, s := range []string{"1,5,10,inf", "∞", "0.5", "1e309", "-0", "NaN", ",", "1,,2", "infinity", "1_0", "0x1p0", "+inf"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		xs, err := parseEpsilonList("epsilon", s)
		if err != nil {
			return
		}
		if len(xs) != strings.Count(s, ",")+1 {
			t.Fatalf("parseEpsilonList(%q) = %v: %d values for %d fields", s, xs, len(xs), strings.Count(s, ",")+1)
		}
		for i, x := range xs {
			if !(x >= minEpsilon) {
				t.Fatalf("parseEpsilonList(%q) = %v, want values ≥ %g", s, xs, minEpsilon)
			}
			if e := strings.TrimSpace(strings.Split(s, ",")[i]); e != "∞" && !strings.EqualFold(e, "inf") && !decimalNumber.MatchString(e) {
				t.Fatalf("parseEpsilonList(%q) accepts entry %q, neither inf nor a plain decimal number", s, e)
			}
		}
	})
}

// TestBenchTrainQualityUsage: list flags name the flag, the entry and the
// range; repeated values and datasets are refused; --config is read and
// checked before any data.
func TestBenchTrainQualityUsage(t *testing.T) {
	path := synthEvents(t)
	dataDir := t.TempDir()
	pairsFile(t, filepath.Join(dataDir, "ml-100k"), "u.data")
	missing := map[string]string{"DISCRET_CONFIG": "/nonexistent/discret.json"}
	for _, tt := range []struct {
		vars map[string]string
		args []string
		code int
		want string
	}{
		{nil, []string{"train", "--factors", "0", path}, exitUsage, "--factors: entry 1, 0: want an integer from 1 to 1024"},
		{nil, []string{"train", "--factors", "16,2000", path}, exitUsage, "--factors: entry 2, 2000: want an integer from 1 to 1024"},
		{nil, []string{"train", "--threads", "0", path}, exitUsage, "--threads: entry 1, 0: want an integer from 1 to 1024"},
		{nil, []string{"train", "--factors", "16,16", path}, exitUsage, "--factors: entry 2, 16, repeats entry 1, 16"},
		{nil, []string{"train", "--threads", "1,1", path}, exitUsage, "--threads: entry 2, 1, repeats entry 1, 1"},
		{nil, []string{"train", "--epsilon", "1,1", path}, exitUsage, "--epsilon: entry 2, 1, repeats entry 1, 1"},
		{nil, []string{"train", "--runs", "0", path}, exitUsage, "--runs 0: want an integer from 1 to 100"},
		{missing, []string{"train", path}, exitFailure, "config: open /nonexistent/discret.json"},
		{nil, []string{"quality", "--epsilon", "5,inf,5.0", path}, exitUsage, "--epsilon: entry 3, 5.0, repeats entry 1, 5"},
		{map[string]string{"DISCRET_DATASETS": dataDir}, []string{"quality", "ml-100k", "ml-100k"}, exitUsage, "DATASET ml-100k given twice"},
		{map[string]string{"DISCRET_DATASETS": dataDir}, []string{"quality", "ml-100k", filepath.Join(dataDir, "ml-100k", "u.data")}, exitUsage, "have the same label, ml-100k"},
		{nil, []string{"quality", path, path}, exitUsage, "given twice"},
		{missing, []string{"quality", path}, exitFailure, "config: open /nonexistent/discret.json"},
	} {
		code, _, stderr := runBench(t, tt.vars, tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("bench %s = exit %d, stderr %q; want exit %d and %q", strings.Join(tt.args, " "), code, stderr, tt.code, tt.want)
		}
	}
}

// TestBenchConfig: the configuration file's training section sets the
// defaults of bench train and bench quality, and the dataset label is the
// one eval uses.
func TestBenchConfig(t *testing.T) {
	path := synthEvents(t)
	conf := filepath.Join(t.TempDir(), "discret.json")
	if err := os.WriteFile(conf, []byte(`{"training": {"factors": 6, "iterations": 2, "delta": 1e-5}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"DISCRET_CONFIG": conf}
	code, stdout, stderr := runBench(t, vars, "train", "--threads", "1", "--epsilon", "inf,2", "--json", path)
	if code != exitOK {
		t.Fatalf("bench train with a config = exit %d, stderr:\n%s", code, stderr)
	}
	for _, r := range jsonRows(t, stdout) {
		if r["factors"] != 6.0 || r["iterations"] != 2.0 || r["dataset"] != "events" || r["path"] != path {
			t.Errorf("bench train row %v: want the configured 6 factors and 2 iterations, dataset events, path %s", r, path)
		}
		if r["epsilon"] != nil && r["delta"] != 1e-5 {
			t.Errorf("bench train row %v: want the configured δ 1e-5", r)
		}
	}
	code, stdout, stderr = runBench(t, vars, "quality", "--seeds", "1", "--epsilon", "inf", "--json", path)
	if code != exitOK {
		t.Fatalf("bench quality with a config = exit %d, stderr:\n%s", code, stderr)
	}
	if rows := jsonRows(t, stdout); rows[1]["factors"] != 6.0 || rows[1]["dataset"] != "events" || rows[1]["split"] != "test" {
		t.Errorf("bench quality row %v: want the configured 6 factors, dataset events, split test", rows[1])
	}
}
