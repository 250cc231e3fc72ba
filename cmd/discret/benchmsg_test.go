package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestBenchServeErrorMessage: a key the server refuses from the start
// (401, 403) fails at once, with the server's message, before any load;
// one refused after the probe (revoked during the run) is reported with
// the server's message, not only the HTTP status.
func TestBenchServeErrorMessage(t *testing.T) {
	ids := filepath.Join(t.TempDir(), "ids.txt")
	os.WriteFile(ids, []byte("a\n"), 0o600)
	for _, tt := range []struct {
		name     string
		status   int
		message  string
		accepted int64  // requests answered 200 before the refusals
		stdout   string // in the report; "" for no report
		stderr   string // all of stderr
		requests int64  // requests the server saw
	}{
		{"wrong key", http.StatusUnauthorized, "invalid API key", 0, "",
			"discret bench serve: the server refused the API key: HTTP 401 Unauthorized: invalid API key; no load was sent\n", 1},
		{"scope missing", http.StatusForbidden, "API key k1 (bench) lacks scope recommend", 0, "",
			"discret bench serve: the server refused the API key for the recommend method: HTTP 403 Forbidden: API key k1 (bench) lacks scope recommend; no load was sent\n", 1},
		{"revoked after the probe", http.StatusUnauthorized, "API key revoked", 1, "first http_401  HTTP 401 Unauthorized: API key revoked\n",
			"discret bench serve: no successful request (5 measured): 5 http_401: HTTP 401 Unauthorized: API key revoked\n", 6},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var seen atomic.Int64
			s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if seen.Add(1) <= tt.accepted {
					w.Write([]byte(`{"items":[]}`))
					return
				}
				w.WriteHeader(tt.status)
				w.Write([]byte(`{"code":16,"message":"` + tt.message + `","details":[]}`))
			}))
			t.Cleanup(s.Close)
			code, stdout, stderr := runBench(t, nil, "serve", "--target", s.URL, "--api-key", "wrong-secret", "--customers", ids, "--requests", "5", "--warmup", "0")
			if code != exitFailure || stderr != tt.stderr && (tt.stdout == "" || !strings.HasSuffix(stderr, tt.stderr)) {
				t.Errorf("bench serve = exit %d, stderr %q; want exit %d and %q", code, stderr, exitFailure, tt.stderr)
			}
			if tt.stdout == "" && stdout != "" || !strings.Contains(stdout, tt.stdout) {
				t.Errorf("bench serve: stdout %q, want %q", stdout, tt.stdout)
			}
			if n := seen.Load(); n != tt.requests {
				t.Errorf("bench serve: the server saw %d requests, want %d", n, tt.requests)
			}
			if strings.Contains(stdout+stderr, "wrong-secret") {
				t.Errorf("bench serve: the output holds the API key:\n%s\n%s", stdout, stderr)
			}
		})
	}
}

// TestBenchServeErrorRate: a run with more than --max-error-rate percent of
// failed requests (1 % by default) fails after its report, with the errors
// by kind; rate-limited requests are named so, with the Retry-After the
// server sent, rounded up, and the server flags that set the limit.
func TestBenchServeErrorRate(t *testing.T) {
	ids := filepath.Join(t.TempDir(), "ids.txt")
	os.WriteFile(ids, []byte("a\n"), 0o600)
	// server refuses one request in every, with status and Retry-After.
	server := func(every, status int, retryAfter string) string {
		var n atomic.Int64
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if n.Add(1)%int64(every) != 0 {
				w.Write([]byte(`{"items":[]}`))
				return
			}
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			w.WriteHeader(status)
			w.Write([]byte(`{"code":8,"message":"rate limit of 1000 requests/s for API key k1 exceeded; retry in 0s"}`))
		}))
		t.Cleanup(s.Close)
		return s.URL
	}
	const limitNote = "the rate-limited requests were refused by the server's rate limit, which asked to retry after 1 s: 'discret serve --rate-limit' (per API key, 1000/s by default) or --token-rate-limit (per customer token); start the server with --rate-limit -1 to measure its capacity\n"
	for _, tt := range []struct {
		name   string
		target string
		flags  []string
		code   int
		want   string // the end of stderr; "" for success
		table  string // in the report
	}{
		{"all fine", server(1000, 0, ""), nil, exitOK, "", "errors      0\n"},
		{"1 % failed: at the limit", server(100, http.StatusTooManyRequests, "1"), nil, exitOK, "", "rate limited    2 requests, refused by the server's rate limit, which asked to retry after 1 s"},
		{"5 % rate limited", server(20, http.StatusTooManyRequests, "1"), nil, exitFailure,
			"discret bench serve: 10 of 200 requests failed (5.0 %), more than --max-error-rate 1 %: rate limited 10; " + limitNote, "  by kind         rate limited 10\n"},
		{"5 % under --max-error-rate 10", server(20, http.StatusTooManyRequests, "1"), []string{"--max-error-rate", "10"}, exitOK, "", "rate limited 10"},
		{"5 % server errors", server(20, http.StatusInternalServerError, ""), nil, exitFailure,
			"discret bench serve: 10 of 200 requests failed (5.0 %), more than --max-error-rate 1 %: server error 10\n", "by kind         server error 10\n"},
		{"every one rate limited", server(1, http.StatusTooManyRequests, "1"), []string{"--max-error-rate", "100"}, exitFailure,
			"discret bench serve: no successful request (200 measured): 200 http_429: HTTP 429 Too Many Requests: rate limit of 1000 requests/s for API key k1 exceeded; retry in 0s; " + limitNote, "rate limited 200"},
		{"--max-error-rate 0", server(100, http.StatusTooManyRequests, "1"), []string{"--max-error-rate", "0"}, exitFailure, "more than --max-error-rate 0 %: rate limited 2; " + limitNote, ""},
		{"--max-error-rate 101", server(100, http.StatusTooManyRequests, "1"), []string{"--max-error-rate", "101"}, exitUsage, "--max-error-rate 101: want a percentage from 0 to 100\nRun 'discret bench serve --help' for usage.\n", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"serve", "--target", tt.target, "--api-key", "k1", "--customers", ids, "--requests", "200", "--warmup", "0"}, tt.flags...)
			code, stdout, stderr := runBench(t, nil, args...)
			if code != tt.code || tt.want == "" && stderr != "" || !strings.HasSuffix(stderr, tt.want) {
				t.Errorf("bench %v = exit %d, stderr %q;\nwant exit %d, stderr ending %q", args, code, stderr, tt.code, tt.want)
			}
			if !strings.Contains(stdout, tt.table) {
				t.Errorf("bench %v: report lacks %q:\n%s", args, tt.table, stdout)
			}
		})
	}
}

// TestBenchRenamedFlags: bench serve's API key flags are --api-key and
// --api-key-file, bench quality's datasets directory --datasets
// (DISCRET_DATASETS), apart from the global --key (master key file) and
// --data (data directory); the former names still work, with a one-line
// notice, and a former name with its new one is a usage error.
func TestBenchRenamedFlags(t *testing.T) {
	url, authed := fakeRecommendations(t, "k1", http.StatusOK)
	dir := t.TempDir()
	ids := filepath.Join(dir, "ids.txt")
	os.WriteFile(ids, []byte("a\n"), 0o600)
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, []byte("k1\n"), 0o600)
	datasets := filepath.Join(dir, "datasets")
	pairsFile(t, filepath.Join(datasets, "ml-100k"), "u.data")
	serve := []string{"serve", "--target", url, "--customers", ids, "--requests", "3", "--warmup", "0"}
	quality := []string{"quality", "--seeds", "1", "--factors", "4", "--epsilon", "inf", "ml-100k"}
	const (
		keyNotice     = "warning: --key is deprecated here; use --api-key (elsewhere --key is the master key file)\n"
		keyFileNotice = "warning: --key-file is deprecated here; use --api-key-file\n"
		dirNotice     = "warning: --data-dir is deprecated here; use --datasets (--data is the data directory)\n"
		envNotice     = "warning: DISCRET_DATA_DIR is deprecated; use DISCRET_DATASETS (DISCRET_DATA is the data directory)\n"
	)
	for _, tt := range []struct {
		vars   map[string]string
		args   []string
		code   int
		notice string // the warning on stderr, "" for none
		want   string // in stderr
	}{
		{nil, append(serve, "--api-key", "k1"), exitOK, "", ""},
		{nil, append(serve, "--api-key-file", keyFile), exitOK, "", ""},
		{map[string]string{"DISCRET_API_KEY": "k1"}, serve, exitOK, "", ""},
		{nil, append(serve, "--key", "k1"), exitOK, keyNotice, ""},
		{nil, append(serve, "--key-file", keyFile), exitOK, keyFileNotice, ""},
		{nil, append(serve, "--key", "k1", "--api-key", "k1"), exitUsage, "", "give --api-key, not --key as well (its deprecated name)"},
		{nil, append(serve, "--key-file", keyFile, "--api-key-file", keyFile), exitUsage, "", "give --api-key-file, not --key-file as well"},
		{nil, append(serve, "--api-key", "k1", "--api-key-file", keyFile), exitUsage, "", "give --api-key or --api-key-file, not both"},
		{nil, serve, exitUsage, "", "no API key: pass --api-key KEY, --api-key-file FILE or set DISCRET_API_KEY"},
		{nil, append(quality, "--datasets", datasets), exitOK, "", ""},
		{map[string]string{"DISCRET_DATASETS": datasets}, quality, exitOK, "", ""},
		{nil, append(quality, "--data-dir", datasets), exitOK, dirNotice, ""},
		{map[string]string{"DISCRET_DATA_DIR": datasets}, quality, exitOK, envNotice, ""},
		{map[string]string{"DISCRET_DATASETS": datasets, "DISCRET_DATA_DIR": "/nonexistent"}, quality, exitOK, "", ""},
		{nil, append(quality, "--data-dir", datasets, "--datasets", datasets), exitUsage, "", "give --datasets, not --data-dir as well"},
		{nil, quality, exitUsage, "", "set DISCRET_DATASETS (or --datasets)"},
	} {
		before := authed.Load()
		code, _, stderr := runBench(t, tt.vars, tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("bench %v (env %v) = exit %d, stderr %q; want exit %d and %q", tt.args, tt.vars, code, stderr, tt.code, tt.want)
		}
		if got := strings.Count(stderr, "warning:"); tt.notice == "" && got > 0 || tt.notice != "" && (got != 1 || !strings.HasPrefix(stderr, tt.notice)) {
			t.Errorf("bench %v (env %v): stderr %q; want the notice %q once, first", tt.args, tt.vars, stderr, tt.notice)
		}
		if tt.code == exitOK && tt.args[0] == "serve" && authed.Load()-before != 4 {
			t.Errorf("bench %v: the server saw %d requests with the key, want 4 (the probe and 3)", tt.args, authed.Load()-before)
		}
	}
}
