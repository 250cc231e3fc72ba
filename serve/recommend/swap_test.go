package recommend

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/privacy"
)

// TestHotSwap swaps releases while requests run: every request succeeds,
// answers from one release, and requests after the last swap see it.
func TestHotSwap(t *testing.T) {
	f := newFixture(t, nil).withCatalogue()
	ctx := context.Background()
	// v-a and v-b rank differently: in v-b, A goes with D.
	a := tinyRelease("v-a")
	b := newRelease("v-b", a.Items, []float32{1, 0, 0, 1, 0.1, 0.9, 0.9, 0.1, 0.2, 0.8, 0, 0}, 2, a.Popular, nil)
	if err := f.eng.Swap(a); err != nil {
		t.Fatal(err)
	}
	customers := []string{"ann", "bob", "cat"}
	for _, c := range customers {
		f.grant(c)
		f.events(c, privacy.Purchase, "A")
	}
	want := map[string]string{"v-a": "B", "v-b": "D"} // top item for a buyer of A
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var requests, failures atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r := Request{Customer: customer(customers[(i+w)%len(customers)]), Limit: 1, ExcludePurchased: true}
				if i%3 == 0 {
					_, err := f.eng.Similar(ctx, SimilarRequest{Item: "A", Limit: 2})
					if err != nil {
						failures.Add(1)
					}
					continue
				}
				resp, err := f.eng.Recommend(ctx, r)
				requests.Add(1)
				if err != nil || resp.Reason != Personalized || len(resp.Items) != 1 || resp.Items[0].ID != want[resp.ModelVersion] {
					failures.Add(1)
					t.Errorf("Recommend during swaps = %+v, %v", resp, err)
				}
			}
		})
	}
	for i := range 50 {
		next := a
		if i%2 == 0 {
			next = b
		}
		if err := f.eng.Swap(next); err != nil {
			t.Error(err)
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if requests.Load() == 0 || failures.Load() != 0 {
		t.Errorf("%d requests, %d failures during swaps", requests.Load(), failures.Load())
	}
	if resp := f.recommend(Request{Customer: customer("ann"), Limit: 1, ExcludePurchased: true}); resp.ModelVersion != "v-a" || resp.Items[0].ID != "B" {
		t.Errorf("after the last swap: %+v, want v-a's answer", resp)
	}
}

func TestSwapRefused(t *testing.T) {
	nonPrivate := tinyRelease("np")
	nonPrivate.Card.Private, nonPrivate.Card.Privacy = false, nil
	seeded := tinyRelease("seeded")
	seeded.Card.RNG = release.RNGTestSeeded
	tests := []struct {
		name  string
		allow bool
		r     *release.Release
		ok    bool
	}{
		{"private", false, tinyRelease("v1"), true},
		{"non-private refused", false, nonPrivate, false},
		{"non-private allowed", true, nonPrivate, true},
		{"test-seeded", false, seeded, false},
		{"test-seeded, non-private allowed", true, seeded, false},
	}
	for _, tt := range tests {
		f := newFixture(t, func(c *Config) { c.AllowNonPrivate = tt.allow })
		err := f.eng.Swap(tt.r)
		if (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrRefused) {
			t.Errorf("%s: Swap = %v, want ok = %v (else ErrRefused)", tt.name, err, tt.ok)
		}
		if f.eng.Ready() != tt.ok {
			t.Errorf("%s: Ready() = %v after Swap", tt.name, f.eng.Ready())
		}
	}
}

// putRelease stores r in the store and makes it current.
func putRelease(t *testing.T, db *store.DB, r *release.Release) {
	t.Helper()
	meta, parts, err := release.Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.PutRelease(context.Background(), store.ReleaseWrite{
		Manifest:    store.ReleaseManifest{Version: r.Card.Version, Created: r.Card.Created, Meta: meta},
		Parts:       parts,
		MakeCurrent: true,
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRefresh(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	if swapped, err := f.eng.Refresh(ctx); swapped || err != nil || f.eng.Ready() {
		t.Errorf("Refresh without a release = %v, %v; want nothing, not ready", swapped, err)
	}
	putRelease(t, f.db, tinyRelease("v1"))
	if swapped, err := f.eng.Refresh(ctx); !swapped || err != nil || !f.eng.Ready() {
		t.Fatalf("Refresh = %v, %v; want the release served", swapped, err)
	}
	if swapped, err := f.eng.Refresh(ctx); swapped || err != nil {
		t.Errorf("second Refresh = %v, %v; want nothing to do", swapped, err)
	}
	bad := tinyRelease("v2")
	bad.Card.Private, bad.Card.Privacy = false, nil
	bad.Card.Created = bad.Card.Created.Add(time.Hour)
	putRelease(t, f.db, bad)
	if swapped, err := f.eng.Refresh(ctx); swapped || !errors.Is(err, ErrRefused) {
		t.Errorf("Refresh to a non-private release = %v, %v; want ErrRefused", swapped, err)
	}
	if c, err := f.eng.Current(ctx); err != nil || c.Version != "v1" {
		t.Errorf("Current after a refused release = %q, %v; want v1 still served", c.Version, err)
	}

	// Watch picks up a new release.
	putRelease(t, f.db, func() *release.Release {
		r := tinyRelease("v3")
		r.Card.Created = r.Card.Created.Add(2 * time.Hour)
		return r
	}())
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { f.eng.Watch(wctx, time.Millisecond); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, _ := f.eng.Current(ctx); c.Version == "v3" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Watch did not load v3")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if versions := func() []string {
		sums, _ := release.List(ctx, f.db)
		var v []string
		for _, s := range sums {
			v = append(v, s.Card.Version)
		}
		return v
	}(); !slices.Equal(versions, []string{"v1", "v2", "v3"}) {
		t.Errorf("stored releases = %v", versions)
	}
}

// TestWatchLogs: a refused current release is logged once at WARN, not at
// every tick, and again only for another release or reason; other
// failures are logged at ERROR when they are new.
func TestWatchLogs(t *testing.T) {
	logs := &capture{}
	src := &steppedSource{steps: make(chan step)}
	f := newFixture(t, func(c *Config) { c.Releases, c.Logger = src, slog.New(logs) })
	src.Source = f.db
	nonPrivate := func(r *release.Release) *release.Release {
		r.Card.Private, r.Card.Privacy = false, nil
		return r
	}
	seeded := tinyRelease("seeded")
	seeded.Card.RNG = release.RNGTestSeeded
	for _, r := range []*release.Release{tinyRelease("ok"), nonPrivate(tinyRelease("np1")), nonPrivate(tinyRelease("np2")), seeded} {
		putRelease(t, f.db, r)
	}
	errStore := errors.New("store: disk on fire")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { f.eng.Watch(ctx, time.Millisecond); close(done) }()
	// Each step is what CurrentRelease answers to one refresh; once the
	// next is taken, the refresh before has logged.
	for _, st := range []step{
		{"np1", nil}, {"np1", nil}, {"np1", nil},
		{"", errStore}, {"", errStore},
		{"np1", nil}, // the same refusal, after a failure
		{"seeded", nil},
		{"np2", nil}, {"np2", nil},
		{"", errStore}, // a failure again, after the store answered
		{"ok", nil},
		{"np1", nil}, // refused again, after a release was served
		{"np1", nil},
	} {
		src.steps <- st
	}
	cancel()
	<-done
	want := []string{
		"WARN current release refused; no model is served until a servable one is trained (POST /v1/models:train) err=recommend: release refused: release np1 is not differentially private (ε = ∞); start the server with --allow-non-private to serve it",
		"ERROR model refresh failed err=recommend: current release: store: disk on fire",
		"WARN current release refused; no model is served until a servable one is trained (POST /v1/models:train) err=recommend: release refused: release seeded was made with test-seeded randomness; only releases made with cryptographic randomness (rng \"crypto\") are served",
		"WARN current release refused; no model is served until a servable one is trained (POST /v1/models:train) err=recommend: release refused: release np2 is not differentially private (ε = ∞); start the server with --allow-non-private to serve it",
		"ERROR model refresh failed err=recommend: current release: store: disk on fire",
		"INFO serving release version=ok",
		"WARN current release refused; the previous release stays served until a servable one is trained (POST /v1/models:train) err=recommend: release refused: release np1 is not differentially private (ε = ∞); start the server with --allow-non-private to serve it serving=ok",
	}
	got := logs.lines()
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if !strings.HasPrefix(g, w) || w == "" {
			t.Errorf("log line %d = %q, want %q", i, g, w)
		}
	}
}

// steppedSource is a release source whose current release the test sets
// for each refresh: CurrentRelease answers the next step it is sent.
type steppedSource struct {
	release.Source
	steps chan step
}

type step struct {
	version string
	err     error
}

func (s *steppedSource) CurrentRelease(ctx context.Context) (string, error) {
	select {
	case st := <-s.steps:
		return st.version, st.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// capture is a slog.Handler that keeps each record as "LEVEL msg k=v …"
// (the engine logs no With attributes, so capture drops them).
type capture struct {
	mu   sync.Mutex // guards recs
	recs []string
}

func (c *capture) Enabled(context.Context, slog.Level) bool { return true }
func (c *capture) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *capture) WithGroup(string) slog.Handler            { return c }

func (c *capture) Handle(_ context.Context, r slog.Record) error {
	line := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool {
		line += " " + a.String()
		return true
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recs = append(c.recs, line)
	return nil
}

func (c *capture) lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.recs)
}

func TestRetired(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.AllowNonPrivate = true })
	ctx := t.Context()
	at := func(r *release.Release, h int) *release.Release {
		r.Card.Created = r.Card.Created.Add(time.Duration(h) * time.Hour)
		return r
	}
	nonPrivate := func(r *release.Release) *release.Release {
		r.Card.Private, r.Card.Privacy = false, nil
		return r
	}
	served := func() string {
		t.Helper()
		c, err := f.eng.Current(ctx)
		if errors.Is(err, ErrNoModel) {
			return ""
		}
		if err != nil {
			t.Fatal(err)
		}
		return c.Version
	}
	putRelease(t, f.db, at(tinyRelease("v1"), 0))
	putRelease(t, f.db, at(nonPrivate(tinyRelease("np1")), 1))
	if _, err := f.eng.Refresh(ctx); err != nil || served() != "np1" {
		t.Fatalf("Refresh = %v, serving %q; want np1", err, served())
	}
	if err := f.eng.Retired(ctx, []string{"other"}); err != nil || served() != "np1" {
		t.Errorf("Retired(other) = %v, serving %q; want np1 kept", err, served())
	}
	// The erasure made v1 current again: the engine switches to it.
	if err := f.db.RetireRelease(ctx, "np1", "v1", privacy.PseudoID{}); err != nil {
		t.Fatal(err)
	}
	if err := f.eng.Retired(ctx, []string{"np1"}); err != nil || served() != "v1" {
		t.Errorf("Retired(np1) = %v, serving %q; want v1", err, served())
	}
	// No release is current after the erasure: the engine serves no model.
	putRelease(t, f.db, at(nonPrivate(tinyRelease("np2")), 2))
	if _, err := f.eng.Refresh(ctx); err != nil || served() != "np2" {
		t.Fatalf("Refresh = %v, serving %q; want np2", err, served())
	}
	if err := f.db.RetireRelease(ctx, "np2", "", privacy.PseudoID{}); err != nil {
		t.Fatal(err)
	}
	if err := f.eng.Retired(ctx, []string{"np2"}); err != nil || served() != "" || f.eng.Ready() {
		t.Errorf("Retired(np2) = %v, serving %q, ready %v; want no model", err, served(), f.eng.Ready())
	}
	resp, err := f.eng.Recommend(ctx, Request{Customer: customer("someone")})
	if err != nil || resp.Reason != NoModel || len(resp.Items) != 0 {
		t.Errorf("Recommend after the retirement = %+v, %v; want no model", resp, err)
	}
}
