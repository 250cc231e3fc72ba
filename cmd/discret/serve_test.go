package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/privacy/secret"
	"github.com/discret-io/discret/serve"
	"github.com/discret-io/discret/serve/auth"
)

// serveEnv is a temporary data directory and key for the serve and apikey
// commands, run through runCommand (independent of commands.go).
type serveEnv struct {
	t         *testing.T
	data, key string
}

func newServeEnv(t *testing.T, withKey bool) *serveEnv {
	dir := t.TempDir()
	s := &serveEnv{t: t, data: filepath.Join(dir, "data"), key: filepath.Join(dir, "discret.key")}
	if withKey {
		m, err := secret.Generate()
		if err != nil {
			t.Fatal(err)
		}
		if err := m.WriteFile(s.key); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func (s *serveEnv) getenv(name string) string {
	switch name {
	case "DISCRET_DATA":
		return s.data
	case "DISCRET_KEY":
		return s.key
	}
	return ""
}

// syncWriter is a buffer safe for a command writing while the test reads.
type syncWriter struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// run runs c with args to completion.
func (s *serveEnv) run(ctx context.Context, c *command, args ...string) (code int, stdout, stderr string) {
	s.t.Helper()
	var out, errOut syncWriter
	code = s.start(ctx, c, &out, &errOut, args...)
	return code, out.String(), errOut.String()
}

func (s *serveEnv) start(ctx context.Context, c *command, out, errOut io.Writer, args ...string) int {
	e := &env{stdout: out, stderr: errOut, getenv: s.getenv}
	e.global.defaults(s.getenv)
	return runCommand(ctx, e, "discret", c, args)
}

var tokenRE = regexp.MustCompile(`dsk_[a-z2-7]{8}_[a-z2-7]{52}`)

func TestAPIKeyCommands(t *testing.T) {
	s := newServeEnv(t, true)
	ctx := t.Context()
	code, out, errOut := s.run(ctx, apikeyCommand(), "create", "--name", "web-frontend", "--scope", "recommend,events")
	token := tokenRE.FindString(out)
	if code != exitOK || token == "" || strings.Count(out, token) != 1 {
		t.Fatalf("apikey create = %d, %q, %q; want the key printed once", code, out, errOut)
	}
	id := token[4:12]
	code, out, _ = s.run(ctx, apikeyCommand(), "list")
	if code != exitOK || !strings.Contains(out, id) || !strings.Contains(out, "web-frontend") || !strings.Contains(out, "recommend,events") || strings.Contains(out, token[13:]) {
		t.Errorf("apikey list = %d, %q; want the id, name and scopes and never the secret", code, out)
	}
	if key := authenticate(t, s, token); key.Scope != auth.Recommend|auth.Events {
		t.Errorf("created key scope = %v", key.Scope)
	}
	for _, args := range [][]string{
		{"create", "--scope", "admin"},                        // no name
		{"create", "--name", "x"},                             // no scope
		{"create", "--name", "x", "--scope", "superuser"},     // unknown scope
		{"create", "--name", "has space", "--scope", "admin"}, // bad name
		{"revoke"},
	} {
		if code, _, _ := s.run(ctx, apikeyCommand(), args...); code != exitUsage {
			t.Errorf("apikey %v = %d, want %d", args, code, exitUsage)
		}
	}
	if code, _, errOut := s.run(ctx, apikeyCommand(), "revoke", "nosuchid"); code != exitFailure || !strings.Contains(errOut, "no API key") {
		t.Errorf("apikey revoke nosuchid = %d, %q", code, errOut)
	}
	if code, out, _ := s.run(ctx, apikeyCommand(), "revoke", id); code != exitOK || !strings.Contains(out, "revoked API key "+id) {
		t.Errorf("apikey revoke = %d, %q", code, out)
	}
	if key := authenticate(t, s, token); key.ID != "" {
		t.Errorf("revoked key still authenticates: %+v", key)
	}
}

// authenticate opens the store and authenticates token; the zero Key if it
// does not authenticate.
func authenticate(t *testing.T, s *serveEnv, token string) auth.Key {
	t.Helper()
	m, err := secret.Load(s.key)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(store.Options{Dir: s.data, EncryptionKey: m.StorageKey(), KeyCheck: m.CheckValue()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	keys, err := auth.Open(t.Context(), auth.Config{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := keys.Authenticate(token)
	return k
}

var servingRE = regexp.MustCompile(`serving gRPC on (\S+) and REST on (\S+) `)

// serveInBackground starts `discret serve` with args and returns the REST
// address, the output so far, and a stop function returning the exit
// status.
func (s *serveEnv) serveInBackground(args ...string) (httpAddr string, out *syncWriter, stop func() int) {
	s.t.Helper()
	srv := s.startServer(args...)
	return srv.httpAddr, srv.out, srv.stop
}

// server is a `discret serve` running in the background.
type server struct {
	grpcAddr, httpAddr string
	out, errOut        *syncWriter // its stdout and stderr (the log)
	stop               func() int  // stops it and returns its exit status
}

// startServer starts `discret serve` with args, on free loopback ports,
// and returns once it serves.
func (s *serveEnv) startServer(args ...string) server {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv := server{out: &syncWriter{}, errOut: &syncWriter{}}
	done := make(chan int, 1)
	go func() {
		done <- s.start(ctx, serveCommand(), srv.out, srv.errOut, append([]string{"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}, args...)...)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m := servingRE.FindStringSubmatch(srv.out.String()); m != nil {
			srv.grpcAddr, srv.httpAddr = m[1], m[2]
			break
		}
		select {
		case code := <-done:
			cancel()
			s.t.Fatalf("serve exited with %d: %s\n%s", code, srv.out, srv.errOut)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			s.t.Fatalf("serve did not start: %s\n%s", srv.out, srv.errOut)
		}
	}
	srv.stop = func() int {
		cancel()
		return <-done
	}
	return srv
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeCommand(t *testing.T) {
	s := newServeEnv(t, true)
	ctx := t.Context()
	if code, _, errOut := s.run(ctx, serveCommand(), "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"); code != exitFailure || !strings.Contains(errOut, "data directory") {
		t.Errorf("serve without a data directory = %d, %q; want a failure naming it", code, errOut)
	}
	_, out, _ := s.run(ctx, apikeyCommand(), "create", "--name", "crm", "--scope", "consent")
	token := tokenRE.FindString(out)
	// A directory that a restore replaced is named in a warning.
	replaced := s.data + replacedMark + "20261125T000000Z"
	if err := os.Mkdir(replaced, 0o700); err != nil {
		t.Fatal(err)
	}
	srv := s.startServer()
	addr, stop := srv.httpAddr, srv.stop
	if log := srv.errOut.String(); !strings.Contains(log, "level=WARN") || !strings.Contains(log, replaced) {
		t.Errorf("serve log:\n%s\nwant a warning naming %s", log, replaced)
	}
	if code, body := get(t, "http://"+addr+"/v1/customers/"+url.PathEscape("a/b@c")+"/consent", token); code != 200 || !strings.Contains(body, "personalization") {
		t.Errorf("GET consent = %d %s", code, body)
	}
	if code, _ := get(t, "http://"+addr+"/v1/customers/x:export", token); code != http.StatusForbidden {
		t.Errorf("export with a consent key = %d, want 403", code)
	}
	if code, body := get(t, "http://"+addr+"/readyz", ""); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz without a model = %d %s, want 503", code, body)
	}
	if code := stop(); code != exitOK {
		t.Errorf("serve after SIGTERM = %d, want 0", code)
	}
	for _, args := range [][]string{{"--rate-limit", "0"}, {"--rate-limit", "NaN"}, {"--rate-limit", "-0.5"}, {"--token-rate-limit", "0"}, {"--token-rate-limit", "-2"}, {"--train-interval", "30s"}, {"--compact-interval", "59s"}, {"--compact-interval", "-1h"}, {"--log-level", "loud"}, {"--log-format", "xml"}, {"--timeout", "0s"}, {"extra"}} {
		if code, _, _ := s.run(ctx, serveCommand(), args...); code != exitUsage {
			t.Errorf("serve %v = %d, want %d", args, code, exitUsage)
		}
	}
}

// TestServeFlagsBeforeWork: bad listen addresses and TLS flags are usage
// errors, and an address in use a failure, all found before the data
// directory or the key is created (here by --demo).
func TestServeFlagsBeforeWork(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not PEM\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free := []string{"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--http-addr", "localhost"}, exitUsage, `--http-addr "localhost": want HOST:PORT, e.g. 127.0.0.1:8080 (missing port in address)`},
		{[]string{"--grpc-addr", "127.0.0.1:99999"}, exitUsage, `--grpc-addr "127.0.0.1:99999": port "99999": want a number from 0 to 65535`},
		{[]string{"--grpc-addr", "127.0.0.1:nope"}, exitUsage, `--grpc-addr "127.0.0.1:nope": port "nope"`},
		{[]string{"--grpc-addr", "127.0.0.1:18999", "--http-addr", "127.0.0.1:18999"}, exitUsage, "--grpc-addr and --http-addr are both 127.0.0.1:18999"},
		{append([]string{"--tls-cert", garbage}, free...), exitUsage, "--tls-cert and --tls-key go together"},
		{append([]string{"--tls-key", garbage}, free...), exitUsage, "--tls-cert and --tls-key go together"},
		{append([]string{"--tls-cert", missing, "--tls-key", garbage}, free...), exitUsage, "--tls-cert " + missing + ": no such file or directory"},
		{append([]string{"--tls-cert", garbage, "--tls-key", missing}, free...), exitUsage, "--tls-key " + missing + ": no such file or directory"},
		{append([]string{"--tls-cert", garbage, "--tls-key", garbage}, free...), exitUsage, "--tls-cert " + garbage + " and --tls-key " + garbage + ": tls: "},
		{[]string{"--grpc-addr", "127.0.0.1:0", "--http-addr", busy.Addr().String()}, exitFailure, "HTTP listener: listen tcp " + busy.Addr().String()},
		{[]string{"--grpc-addr", busy.Addr().String(), "--http-addr", "127.0.0.1:0"}, exitFailure, "address already in use: another process (a discret serve already running?) listens there; stop it, or choose other addresses (--grpc-addr, --http-addr)"},
	} {
		s := newServeEnv(t, false)
		code, _, stderr := s.run(t.Context(), serveCommand(), append([]string{"--demo"}, tt.args...)...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("serve --demo %s = exit %d, stderr %q; want exit %d and %q", strings.Join(tt.args, " "), code, stderr, tt.code, tt.want)
		}
		for _, p := range []string{s.data, s.key} {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("serve --demo %s created %s before refusing", strings.Join(tt.args, " "), p)
			}
		}
	}
}

func TestServeDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("generates, ingests and trains a dataset")
	}
	s := newServeEnv(t, false)
	addr, out, stop := s.serveInBackground("--demo")
	keyFile := filepath.Join(s.data, demoKeyFile)
	st, err := os.Stat(keyFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("demo key file: %v, mode %v; want mode 0600", err, st.Mode())
	}
	raw, _ := os.ReadFile(keyFile)
	token := strings.TrimSpace(string(raw))
	for _, want := range []string{token, demoCustomer, "curl -s", "grpcurl", "trained release"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if code, body := get(t, "http://"+addr+"/v1/customers/"+url.PathEscape(demoCustomer)+":export", token); code != 200 || strings.Count(body, `"purchase"`) < 4 {
		t.Errorf("demo customer export = %d %s; want their purchases", code, body)
	}
	if code, _ := get(t, "http://"+addr+"/readyz", ""); code != 200 {
		t.Errorf("/readyz after the demo trained = %d, want 200", code)
	}
	if code := stop(); code != exitOK {
		t.Fatalf("demo serve = %d", code)
	}
	// A second run reuses the data, the model and the key.
	_, out, stop = s.serveInBackground("--demo")
	if code := stop(); code != exitOK || !strings.Contains(out.String(), "reusing") || strings.Contains(out.String(), "created demo API key") || !strings.Contains(out.String(), token) {
		t.Errorf("second demo run = %d:\n%s\nwant the data, model and key reused", code, out)
	}
	// Erasure takes effect at once, and for good: a demo customer erased
	// is not created again by the next run.
	if code, out, errOut := s.run(t.Context(), forgetCommand(), demoCustomer); code != exitOK || !strings.Contains(out, "erased customer") {
		t.Fatalf("forget %s = %d, %q, %q", demoCustomer, code, out, errOut)
	}
	addr, out, stop = s.serveInBackground("--demo")
	code, body := get(t, "http://"+addr+"/v1/customers/"+url.PathEscape(demoCustomer)+":export", token)
	if code != 200 || strings.Contains(body, `"purchase"`) || strings.Contains(body, `"granted"`) {
		t.Errorf("export of the erased demo customer after a restart = %d %s; want nothing held", code, body)
	}
	// The similar-items example printed still names an item of the model.
	if m := regexp.MustCompile(`/v1/items/([^/]+)/similar`).FindStringSubmatch(out.String()); m == nil {
		t.Errorf("demo output without the erased customer lacks a similar-items example:\n%s", out)
	} else if code, body := get(t, "http://"+addr+m[0]+"?limit=2", token); code != 200 || !strings.Contains(body, `"item"`) {
		t.Errorf("the demo's similar-items example %s = %d %s; want similar items", m[0], code, body)
	}
	if code := stop(); code != exitOK || !strings.Contains(out.String(), "demo customer "+demoCustomer+": nothing held (erased") || strings.Contains(out.String(), "consent granted") {
		t.Errorf("demo run after forget = %d:\n%s\nwant the erased customer not created again, and said so", code, out)
	}
}

// TestDemoDataOnlyInNewDirectory: `discret demo` and `discret serve --demo`
// put demo data only into a new data directory (a demo set-up that
// `discret demo` began is finished by `serve --demo`), never into one that
// holds a store already.
func TestDemoDataOnlyInNewDirectory(t *testing.T) {
	if testing.Short() {
		t.Skip("generates, ingests and trains a dataset")
	}
	// A store that is not a demo's: serve --demo adds no data to it.
	s := newServeEnv(t, true)
	if code, _, errOut := s.run(t.Context(), apikeyCommand(), "create", "--name", "crm", "--scope", "admin"); code != exitOK {
		t.Fatalf("apikey create = %d, %s", code, errOut)
	}
	_, out, stop := s.serveInBackground("--demo")
	stop()
	if !strings.Contains(out.String(), "exists: reusing what it holds (demo data goes only into a new data directory)") || strings.Contains(out.String(), "importing events") || strings.Contains(out.String(), "consent granted") {
		t.Errorf("serve --demo on an existing store:\n%s\nwant no demo data added", out)
	}
	// discret demo begins the set-up; serve --demo finishes it, once.
	s = newServeEnv(t, false)
	if code, out, errOut := s.run(t.Context(), demoCommand(), "--customers", "200", "--events", "5000", "--items", "100"); code != exitOK || !strings.Contains(out, "importing events") {
		t.Fatalf("demo = %d:\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(s.data, demoPendingFile)); err != nil {
		t.Errorf("after discret demo: %v; want the set-up marked unfinished", err)
	}
	_, out, stop = s.serveInBackground("--demo")
	stop()
	if !strings.Contains(out.String(), "demo customer "+demoCustomer+": consent granted") {
		t.Errorf("serve --demo after discret demo:\n%s\nwant the demo customer created", out)
	}
	if _, err := os.Stat(filepath.Join(s.data, demoPendingFile)); !os.IsNotExist(err) {
		t.Errorf("after serve --demo: %v; want the set-up marked finished", err)
	}
	if code, out, _ := s.run(t.Context(), demoCommand()); code != exitOK || strings.Contains(out, "importing events") || !strings.Contains(out, "exists: reusing what it holds") {
		t.Errorf("demo on a finished demo directory = %d:\n%s\nwant nothing added", code, out)
	}
}

// fakeReloader answers ReloadTLS with err, or with exp.
type fakeReloader struct {
	exp   time.Time
	err   error
	calls int
}

func (f *fakeReloader) ReloadTLS() (time.Time, error) {
	f.calls++
	return f.exp, f.err
}

// TestReloadOnHangup: each SIGHUP reloads the TLS files once and logs what
// came of it; without TLS it is ignored, never fatal.
func TestReloadOnHangup(t *testing.T) {
	exp := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		r    *fakeReloader
		want string
	}{
		{"reloaded", &fakeReloader{exp: exp}, `level=INFO msg="SIGHUP: TLS certificate reloaded" not_after=2027-03-01T00:00:00Z`},
		{"no TLS", &fakeReloader{err: serve.ErrNoTLS}, `level=INFO msg="SIGHUP ignored: the server has no TLS files to reload"`},
		{"bad files", &fakeReloader{err: errors.New("serve: reload TLS: no such file")}, `level=ERROR msg="SIGHUP: TLS files not reloaded" err="serve: reload TLS: no such file"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&buf, nil))
			ctx, cancel := context.WithCancel(t.Context())
			hup := make(chan os.Signal)
			done := make(chan struct{})
			go func() {
				defer close(done)
				reloadOnHangup(ctx, hup, tt.r, logger)
			}()
			hup <- syscall.SIGHUP
			hup <- syscall.SIGHUP // received only once the first is handled
			cancel()
			<-done
			if tt.r.calls < 1 || !strings.Contains(buf.String(), tt.want) {
				t.Errorf("after SIGHUP: %d reloads, log\n%s\nwant a reload and %s", tt.r.calls, buf.String(), tt.want)
			}
		})
	}
}

// TestDemoCommandsTLS: the demo's printed commands work against its
// server: plain HTTP, or TLS with verification skipped (-k, -insecure),
// since the certificate may not name the address.
func TestDemoCommandsTLS(t *testing.T) {
	g, h := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9090}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	for _, tt := range []struct {
		tls        bool
		want, flag string
	}{
		{false, "  curl -s -H \"Authorization: Bearer K\" 'http://127.0.0.1:8080/v1/popular", "grpcurl -plaintext "},
		{true, "  curl -s -k -H \"Authorization: Bearer K\" 'https://127.0.0.1:8080/v1/popular", "grpcurl -insecure "},
	} {
		var buf bytes.Buffer
		printDemoCommands(&buf, "K", "SKU-1", g, h, tt.tls)
		out := buf.String()
		if !strings.Contains(out, tt.want) || !strings.Contains(out, tt.flag) || tt.tls != (strings.Count(out, "  curl -s -k ") == strings.Count(out, "  curl ")) {
			t.Errorf("TLS %v: demo commands\n%s\nwant every curl as %q and %q", tt.tls, out, tt.want, tt.flag)
		}
	}
}

// TestServeLogFormatJSON: with --log-format json, every line the server
// logs is one JSON object with time, level and msg, request logs included.
func TestServeLogFormatJSON(t *testing.T) {
	s := newServeEnv(t, true)
	_, out, _ := s.run(t.Context(), apikeyCommand(), "create", "--name", "crm", "--scope", "consent")
	srv := s.startServer("--log-format", "json")
	if code, _ := get(t, "http://"+srv.httpAddr+"/v1/customers/c1/consent", tokenRE.FindString(out)); code != 200 {
		t.Errorf("GET consent = %d, want 200", code)
	}
	if code := srv.stop(); code != exitOK {
		t.Errorf("serve after SIGTERM = %d, want 0", code)
	}
	lines := strings.Split(strings.TrimSpace(srv.errOut.String()), "\n")
	requests := 0
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["time"] == nil || rec["level"] == nil || rec["msg"] == nil {
			t.Errorf("log line %q: not a JSON object with time, level and msg (%v)", line, err)
		}
		if rec["msg"] == "request" {
			requests++
		}
	}
	if requests == 0 {
		t.Errorf("no request logged:\n%s", srv.errOut)
	}
}

// fakeSchedule is a scheduledTrainer whose Every is one run that lasts
// until its context is cancelled (ended) or done is closed.
type fakeSchedule struct {
	started, ended, done chan struct{}
	stopped              bool // stop was closed when the run ended
	actor                store.AuditActor
	interval             time.Duration
	running              sync.Mutex
}

func (f *fakeSchedule) Every(ctx context.Context, interval time.Duration, stop <-chan struct{}) {
	f.running.Lock()
	defer f.running.Unlock()
	f.interval = interval
	f.actor = store.AuditActorFrom(ctx)
	close(f.started)
	select {
	case <-ctx.Done():
		close(f.ended)
	case <-f.done:
	}
	select {
	case <-stop:
		f.stopped = true
	default:
	}
}

func (f *fakeSchedule) Running() bool {
	if f.running.TryLock() {
		f.running.Unlock()
		return false
	}
	return true
}

// TestScheduleTraining: a scheduled run in progress at the shutdown signal
// has the grace period to finish, not a cancellation at once; without a
// signal (serving failed), it is cancelled at once.
func TestScheduleTraining(t *testing.T) {
	for _, tt := range []struct {
		name      string
		signal    bool
		grace     time.Duration
		cancelled bool // within 10 s, else not within 100 ms
		log       string
	}{
		{"signal, long grace", true, time.Hour, false, `msg="waiting for the training run in progress to finish" at_most="1h0m0s from the signal"`},
		{"signal, short grace", true, 10 * time.Millisecond, true, "waiting for the training run"},
		{"serving failed", false, time.Hour, true, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&buf, nil))
			ctx, signal := context.WithCancel(t.Context())
			defer signal()
			f := &fakeSchedule{started: make(chan struct{}), ended: make(chan struct{}), done: make(chan struct{})}
			var wg sync.WaitGroup
			finish := scheduleTraining(ctx, &wg, f, time.Minute, tt.grace, logger)
			<-f.started
			if tt.signal {
				signal()
			}
			finish()
			wait := 100 * time.Millisecond
			if tt.cancelled {
				wait = 10 * time.Second
			}
			select {
			case <-f.ended:
				if !tt.cancelled {
					t.Error("the run was cancelled at once, within its grace period")
				}
			case <-time.After(wait):
				if tt.cancelled {
					t.Errorf("the run was not cancelled within %v", wait)
				}
				close(f.done) // the run ends by itself
			}
			wg.Wait()
			if f.stopped != tt.signal || f.interval != time.Minute || f.actor.Via != store.ViaSchedule {
				t.Errorf("Every saw stop %v, interval %v, actor %+v; want stop %v, 1m, the schedule's", f.stopped, f.interval, f.actor, tt.signal)
			}
			if got := buf.String(); tt.log != "" && !strings.Contains(got, tt.log) || tt.log == "" && got != "" {
				t.Errorf("log:\n%s\nwant %q", got, tt.log)
			}
		})
	}
}
