package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchServeErrorMessage: with a refused API key, the report and the
// final error carry the server's message, not only the HTTP status.
func TestBenchServeErrorMessage(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"code":16,"message":"invalid API key","details":[]}`))
	}))
	t.Cleanup(s.Close)
	ids := filepath.Join(t.TempDir(), "ids.txt")
	os.WriteFile(ids, []byte("a\n"), 0o600)
	code, stdout, stderr := runBench(t, nil, "serve", "--target", s.URL, "--key", "wrong", "--customers", ids, "--requests", "5", "--warmup", "0")
	if want := "first http_401  HTTP 401 Unauthorized: invalid API key\n"; !strings.Contains(stdout, want) {
		t.Errorf("bench serve with a bad key: report lacks %q:\n%s", want, stdout)
	}
	if want := "discret bench serve: no successful request (5 measured): 5 http_401: HTTP 401 Unauthorized: invalid API key\n"; code != exitFailure || !strings.HasSuffix(stderr, want) {
		t.Errorf("bench serve with a bad key = exit %d, stderr %q; want exit %d and %q", code, stderr, exitFailure, want)
	}
}
