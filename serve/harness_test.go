package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/ingest"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/store/storetest"
	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/model/train"
	"github.com/discret-io/discret/privacy/pseudonym"
	"github.com/discret-io/discret/serve"
	"github.com/discret-io/discret/serve/auth"
	"github.com/discret-io/discret/serve/coupons"
	"github.com/discret-io/discret/serve/recommend"
	"github.com/discret-io/discret/serve/rpc"
)

// harness is the whole server over an in-memory store, with gRPC served on
// an in-memory listener (bufconn), which the gateway dials as it dials the
// TCP listener in production, and REST on loopback.
type harness struct {
	t      testing.TB
	db     *store.DB
	keys   *auth.Keys
	clock  *storetest.Clock
	ps     *pseudonym.Keyed
	eng    *fakeEngine
	logs   *syncBuffer
	conn   *grpc.ClientConn // a gRPC client
	http   *http.Client     // a REST client; URLs start with baseURL
	tokens map[string]string
	done   chan error
	cancel context.CancelFunc
	ready  *readyFlag
	// dialGRPC opens a connection to the gRPC listener, for a client of
	// its own.
	dialGRPC func(context.Context) (net.Conn, error)
}

const baseURL = "http://discret.test"

// Key names of harness.tokens: one key per scope, one with every scope, and
// a revoked one.
var keyNames = []string{"recommend", "events", "consent", "admin", "all", "revoked"}

type readyFlag struct {
	mu sync.Mutex // guards v
	v  bool
}

func (r *readyFlag) get() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.v
}

func (r *readyFlag) set(v bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.v = v
}

// start serves a fresh harness; edit, if not nil, changes the server
// configuration. The server is shut down when the test ends.
func start(t testing.TB, edit func(*serve.Config)) *harness {
	t.Helper()
	return startOn(t, edit, false)
}

// startOn is start, on loopback TCP listeners if tcp is set.
func startOn(t testing.TB, edit func(*serve.Config), tcp bool) *harness {
	t.Helper()
	h := &harness{t: t, clock: storetest.NewClock(storetest.Epoch), logs: &syncBuffer{}, eng: newFakeEngine(), tokens: map[string]string{}, ready: &readyFlag{v: true}}
	h.db = storetest.OpenMemory(t, h.clock.Now)
	h.ps = newPseudonyms(t)
	in, err := ingest.New(ingest.Config{Pseudonyms: h.ps, Now: h.clock.Now}, h.db)
	if err != nil {
		t.Fatal(err)
	}
	if h.keys, err = auth.Open(context.Background(), auth.Config{Store: h.db, Now: h.clock.Now, TokenKey: bytes.Repeat([]byte{5}, 32), Pseudonyms: h.ps}); err != nil {
		t.Fatal(err)
	}
	for _, name := range keyNames {
		scope, err := auth.ParseScope(name)
		if name == "revoked" {
			scope, err = auth.All, nil
		}
		if err != nil {
			t.Fatal(err)
		}
		tok, key, err := h.keys.Create(context.Background(), "key-"+name, scope)
		if err != nil {
			t.Fatal(err)
		}
		h.tokens[name] = tok
		if name == "revoked" {
			if _, err := h.keys.Revoke(context.Background(), key.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	api, err := rpc.New(rpc.Config{Pseudonyms: h.ps, Store: h.db, Events: in, Recommender: h.eng, Entries: h.eng, Catalogue: h.eng, Models: h.eng, Keys: h.keys, Tokens: h.keys, Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	cfg := serve.Config{
		API:    api,
		Keys:   h.keys,
		Ready:  h.ready.get,
		Logger: slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    h.clock.Now,
	}
	if edit != nil {
		edit(&cfg)
	}
	srv, err := serve.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var gl, hl net.Listener
	var dialGRPC, dialHTTP func(context.Context) (net.Conn, error)
	if tcp {
		if gl, hl, err = serve.Listen("127.0.0.1:0", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		var d net.Dialer
		dialGRPC = func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", gl.Addr().String()) }
		dialHTTP = func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", hl.Addr().String()) }
	} else {
		// gRPC in memory; HTTP on loopback TCP as httptest does, because
		// bufconn mishandles the past read deadlines net/http sets after
		// each request (a late timer can cancel the next request).
		bg := bufconn.Listen(1 << 20)
		if hl, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		var d net.Dialer
		gl, dialGRPC = bg, bg.DialContext
		dialHTTP = func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", hl.Addr().String()) }
	}
	h.dialGRPC = dialGRPC
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.done = make(chan error, 1)
	go func() { h.done <- srv.Serve(ctx, gl, hl) }()
	if h.conn, err = grpc.NewClient("passthrough:///discret",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return dialGRPC(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		t.Fatal(err)
	}
	h.http = &http.Client{Transport: &http.Transport{
		DialContext:         func(ctx context.Context, _, _ string) (net.Conn, error) { return dialHTTP(ctx) },
		MaxIdleConnsPerHost: 64,
	}}
	t.Cleanup(func() {
		h.conn.Close()
		h.http.CloseIdleConnections()
		if err := h.stop(); err != nil {
			t.Errorf("Serve = %v, want nil after a shutdown", err)
		}
	})
	return h
}

func newPseudonyms(t testing.TB) *pseudonym.Keyed {
	t.Helper()
	ps, err := pseudonym.New(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// stop shuts the server down and returns what Serve returned.
func (h *harness) stop() error {
	h.cancel()
	select {
	case err := <-h.done:
		h.done <- err // stop may be called again
		return err
	case <-time.After(30 * time.Second):
		h.t.Fatal("Serve did not return 30 s after the shutdown")
		return nil
	}
}

// keyID returns the id of the harness's API key named name.
func (h *harness) keyID(name string) string {
	h.t.Helper()
	for _, k := range h.keys.List() {
		if k.Name == name {
			return k.ID
		}
	}
	h.t.Fatalf("no API key is named %q", name)
	return ""
}

// invoke calls a gRPC method with key (none if empty) and returns the
// response and its status.
func (h *harness) invoke(ctx context.Context, method, key string, req, resp proto.Message) *status.Status {
	if key != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
	}
	err := h.conn.Invoke(ctx, method, req, resp)
	return status.Convert(err)
}

// restResponse is a REST response with its body read.
type restResponse struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body.
func (r restResponse) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response %d %q is not JSON: %v", r.status, r.body, err)
	}
	return m
}

// rest makes a REST request with key (none if empty).
func (h *harness) rest(ctx context.Context, method, path, key, body string) restResponse {
	h.t.Helper()
	header := http.Header{}
	if body != "" {
		header.Set("Content-Type", "application/json")
	}
	return h.restRaw(ctx, method, path, key, []byte(body), header)
}

// restRaw makes a REST request with key (none if empty), body (none if
// empty) and header.
func (h *harness) restRaw(ctx context.Context, method, path, key string, body []byte, header http.Header) restResponse {
	h.t.Helper()
	var rd io.Reader
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, baseURL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := h.http.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return restResponse{resp.StatusCode, resp.Header, b}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers (the logger).
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Special ids that make the fake engine block until released or until the
// request's context ends.
const blockItem = "block"

// fakeEngine answers every engine call with a fixed answer, and blocks on
// blockItem.
type fakeEngine struct {
	release chan struct{} // closed to release blocked calls

	mu        sync.Mutex // guards the fields below
	entered   chan struct{}
	deadlines []time.Duration // time left before the deadline, per blocked call
	lastRec   recommend.Request
	writes    []string        // catalogue writes and store entries, as "item SKU-1 shoes"
	entry     *coupons.Result // the answer to store entries, if set
	// trainActors are the audit actors of the Train calls' contexts: the
	// store audits a release made current under that actor.
	trainActors []store.AuditActor
}

func newFakeEngine() *fakeEngine {
	return &fakeEngine{release: make(chan struct{}), entered: make(chan struct{}, 16)}
}

// block waits until the engine is released (nil) or ctx ends (its error).
func (e *fakeEngine) block(ctx context.Context) error {
	e.mu.Lock()
	left := time.Duration(-1)
	if d, ok := ctx.Deadline(); ok {
		left = time.Until(d)
	}
	e.deadlines = append(e.deadlines, left)
	e.mu.Unlock()
	e.entered <- struct{}{}
	select {
	case <-e.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *fakeEngine) Recommend(ctx context.Context, r recommend.Request) (recommend.Response, error) {
	e.mu.Lock()
	e.lastRec = r
	e.mu.Unlock()
	return recommend.Response{Items: []recommend.Item{{ID: "SKU-9", Score: 1}}, ModelVersion: "v1", Reason: recommend.NoConsent}, nil
}

func (e *fakeEngine) Similar(ctx context.Context, r recommend.SimilarRequest) (recommend.List, error) {
	if r.Item == blockItem {
		if err := e.block(ctx); err != nil {
			return recommend.List{}, err
		}
	}
	return recommend.List{Items: []recommend.Item{{ID: "SKU-2", Score: 0.5}}, ModelVersion: "v1"}, nil
}

func (e *fakeEngine) Popular(context.Context, recommend.PopularRequest) (recommend.List, error) {
	return recommend.List{Items: []recommend.Item{{ID: "SKU-3", Score: 10}}, ModelVersion: "v1"}, nil
}

func (e *fakeEngine) Enter(_ context.Context, en coupons.Entry) (coupons.Result, error) {
	e.wrote("entry " + en.Store)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.entry != nil {
		return *e.entry, nil
	}
	return coupons.Result{VisitRecorded: true, Capped: true, CapReason: "1 per store per day"}, nil
}

// answerEntries makes res the answer to store entries.
func (e *fakeEngine) answerEntries(res coupons.Result) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.entry = &res
}

func (e *fakeEngine) UpsertItem(_ context.Context, it features.Item) error {
	e.wrote("item " + it.ID + " " + it.Category)
	return nil
}

func (e *fakeEngine) UpsertCoupon(_ context.Context, c features.Coupon) error {
	e.wrote("coupon " + c.ID + " " + c.Item)
	return nil
}

func (e *fakeEngine) wrote(w string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.writes = append(e.writes, w)
}

// takeWrites returns the writes since the last call.
func (e *fakeEngine) takeWrites() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	w := e.writes
	e.writes = nil
	return w
}

func (e *fakeEngine) Current(context.Context) (release.Card, error) {
	return release.Card{Version: "v1", Private: true, Privacy: &release.Privacy{Epsilon: 1}}, nil
}

// busyFactors is a number of factors that makes the fake engine's Train
// fail as when another run is in progress.
const busyFactors = 13

func (e *fakeEngine) Train(ctx context.Context, cfg train.Config) (release.Card, error) {
	e.mu.Lock()
	e.trainActors = append(e.trainActors, store.AuditActorFrom(ctx))
	e.mu.Unlock()
	if cfg.ALS.Factors == busyFactors {
		return release.Card{}, recommend.ErrTraining
	}
	return release.Card{Version: "v2", Private: true, Privacy: &release.Privacy{Epsilon: 1}}, nil
}
