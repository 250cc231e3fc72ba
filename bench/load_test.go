package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
)

const testKey = "dsk_test_secret"

// fakeBackend is the behaviour shared by the fake REST and gRPC servers:
// it counts requests per customer, refuses customers named "refused" and
// stalls once, when stall is set, for the given time.
type fakeBackend struct {
	mu        sync.Mutex // guards customers
	customers map[string]int
	requests  atomic.Int64
	badAuth   atomic.Int64
	popular   atomic.Int64
	stall     atomic.Int64 // nanoseconds; swapped to 0 by the stalled request
}

func newFakeBackend() *fakeBackend { return &fakeBackend{customers: map[string]int{}} }

// serve handles one request and reports whether the customer is refused.
func (f *fakeBackend) serve(auth, customer string, popular bool) (refused bool) {
	f.requests.Add(1)
	if auth != "Bearer "+testKey {
		f.badAuth.Add(1)
	}
	if d := f.stall.Swap(0); d > 0 {
		time.Sleep(time.Duration(d))
	}
	if popular {
		f.popular.Add(1)
		return false
	}
	f.mu.Lock()
	f.customers[customer]++
	f.mu.Unlock()
	return customer == "refused"
}

func (f *fakeBackend) seen() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[string]int{}
	for k, v := range f.customers {
		m[k] = v
	}
	return m
}

// fakeREST serves the two REST routes of the load generator.
func fakeREST(t *testing.T, f *fakeBackend) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/customers/{customer}/recommendations", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("limit") != "7" {
			http.Error(w, "bad limit", http.StatusBadRequest)
			return
		}
		if f.serve(r.Header.Get("Authorization"), r.PathValue("customer"), false) {
			http.Error(w, `{"code":8,"message":"slow down"}`, http.StatusTooManyRequests)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"items":[{"item":"sku-1","score":1}],"personalized":true}`))
	})
	mux.HandleFunc("GET /v1/customers/{customer}/consent", func(w http.ResponseWriter, r *http.Request) {
		f.serve(r.Header.Get("Authorization"), "consent:"+r.PathValue("customer"), false)
		w.Write([]byte(`{"personalization":true}`))
	})
	mux.HandleFunc("GET /v1/popular", func(w http.ResponseWriter, r *http.Request) {
		f.serve(r.Header.Get("Authorization"), "", true)
		w.Write([]byte(`{"items":[]}`))
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s.URL
}

type fakeRecommender struct {
	discretv1.UnimplementedRecommendationServiceServer
	f *fakeBackend
}

func authOf(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("authorization"); len(v) == 1 {
		return v[0]
	}
	return ""
}

func (s fakeRecommender) Recommend(ctx context.Context, r *discretv1.RecommendRequest) (*discretv1.RecommendResponse, error) {
	if r.GetLimit() != 7 {
		return nil, status.Error(codes.InvalidArgument, "bad limit")
	}
	if s.f.serve(authOf(ctx), r.GetCustomer(), false) {
		return nil, status.Error(codes.ResourceExhausted, "slow down")
	}
	return &discretv1.RecommendResponse{Items: []*discretv1.ScoredItem{{Item: "sku-1", Score: 1}}, Personalized: true}, nil
}

func (s fakeRecommender) PopularItems(ctx context.Context, _ *discretv1.PopularItemsRequest) (*discretv1.PopularItemsResponse, error) {
	s.f.serve(authOf(ctx), "", true)
	return &discretv1.PopularItemsResponse{}, nil
}

type fakeConsent struct {
	discretv1.UnimplementedConsentServiceServer
	f *fakeBackend
}

func (s fakeConsent) GetConsent(ctx context.Context, r *discretv1.GetConsentRequest) (*discretv1.ConsentState, error) {
	s.f.serve(authOf(ctx), "consent:"+r.GetCustomer(), false)
	return &discretv1.ConsentState{}, nil
}

// fakeGRPC serves RecommendationService and ConsentService on a loopback
// listener, with opts.
func fakeGRPC(t *testing.T, f *fakeBackend, opts ...grpc.ServerOption) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(opts...)
	discretv1.RegisterRecommendationServiceServer(s, fakeRecommender{f: f})
	discretv1.RegisterConsentServiceServer(s, fakeConsent{f: f})
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return "grpc://" + lis.Addr().String()
}

// targets starts both fake servers over one backend each.
func targets(t *testing.T) map[string]struct {
	url string
	f   *fakeBackend
} {
	fr, fg := newFakeBackend(), newFakeBackend()
	return map[string]struct {
		url string
		f   *fakeBackend
	}{
		"rest": {fakeREST(t, fr), fr},
		"grpc": {fakeGRPC(t, fg), fg},
	}
}

func TestLoadRequests(t *testing.T) {
	customers := []string{"LOY-10000001", "ada.lovelace.7@example.org", "a/b c+d"}
	for name, tg := range targets(t) {
		t.Run(name, func(t *testing.T) {
			rep, err := Load(t.Context(), LoadConfig{
				Target: tg.url, APIKey: testKey, Customers: customers, Limit: 7,
				Clients: 3, Requests: 120, Warmup: 100 * time.Millisecond, Seed: 1,
			})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Requests != 120 || rep.Errors != 0 {
				t.Errorf("Load(requests=120) = %d requests, %d errors (%v), want 120, 0", rep.Requests, rep.Errors, rep.ByCode)
			}
			if rep.Transport != name {
				t.Errorf("Transport = %q, want %q", rep.Transport, name)
			}
			// Warm-up requests reach the server but are not counted.
			if got := tg.f.requests.Load(); got <= 120 {
				t.Errorf("server saw %d requests, want more than the 120 measured (warm-up)", got)
			}
			if n := tg.f.badAuth.Load(); n != 0 {
				t.Errorf("%d requests without the API key", n)
			}
			seen := tg.f.seen()
			for _, c := range customers {
				if seen[c] == 0 {
					t.Errorf("customer %q never requested (seen %v)", c, seen)
				}
			}
			if len(seen) != len(customers) {
				t.Errorf("server saw customers %v, want exactly %v", seen, customers)
			}
			if !(rep.P50 > 0 && rep.P50 <= rep.P90 && rep.P90 <= rep.P99 && rep.P99 <= rep.P999 && rep.P999 <= rep.Max+time.Millisecond) {
				t.Errorf("percentiles not ordered: p50 %v p90 %v p99 %v p99.9 %v max %v", rep.P50, rep.P90, rep.P99, rep.P999, rep.Max)
			}
			if rep.RPS <= 0 || rep.Elapsed <= 0 {
				t.Errorf("RPS = %v over %v, want > 0", rep.RPS, rep.Elapsed)
			}
			var n int64
			for _, w := range rep.Timeline {
				n += w.Requests + w.Errors
			}
			if n != rep.Requests {
				t.Errorf("timeline holds %d requests, want %d", n, rep.Requests)
			}
		})
	}
}

func TestLoadErrorsByCode(t *testing.T) {
	want := map[string]string{"rest": "http_429", "grpc": "ResourceExhausted"}
	for name, tg := range targets(t) {
		t.Run(name, func(t *testing.T) {
			rep, err := Load(t.Context(), LoadConfig{
				Target: tg.url, APIKey: testKey, Customers: []string{"refused", "fine"}, Limit: 7,
				Clients: 2, Requests: 200, Warmup: -1, Seed: 3,
			})
			if err != nil {
				t.Fatal(err)
			}
			refused := int64(tg.f.seen()["refused"])
			if rep.Errors != refused || rep.ByCode[want[name]] != refused || len(rep.ByCode) != 1 {
				t.Errorf("Errors = %d by code %v, want %d %s", rep.Errors, rep.ByCode, refused, want[name])
			}
			if msg := rep.Samples[want[name]]; msg == "" {
				t.Errorf("no sample message for %s (samples %v)", want[name], rep.Samples)
			}
			if refused == 0 || refused == 200 {
				t.Errorf("refused %d of 200 requests, want some", refused)
			}
		})
	}
}

func TestLoadMethods(t *testing.T) {
	for name, tg := range targets(t) {
		t.Run(name, func(t *testing.T) {
			rep, err := Load(t.Context(), LoadConfig{Target: tg.url, APIKey: testKey, Method: MethodPopular, Limit: 7, Requests: 20, Warmup: -1})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Requests != 20 || rep.Errors != 0 || tg.f.popular.Load() != 20 {
				t.Errorf("Load(popular) = %d requests, %d errors; server saw %d popular, want 20, 0, 20", rep.Requests, rep.Errors, tg.f.popular.Load())
			}
			rep, err = Load(t.Context(), LoadConfig{Target: tg.url, APIKey: testKey, Method: MethodConsent, Customers: []string{"x@y"}, Requests: 30, Warmup: -1})
			if err != nil {
				t.Fatal(err)
			}
			if got := tg.f.seen()["consent:x@y"]; rep.Requests != 30 || rep.Errors != 0 || got != 30 {
				t.Errorf("Load(consent) = %d requests, %d errors %v; server saw %d consent reads, want 30, 0, 30", rep.Requests, rep.Errors, rep.ByCode, got)
			}
		})
	}
}

// TestLoadCoordinatedOmission stalls the server once for 300 ms. In open
// loop at 200 requests/s the 60 requests scheduled during the stall wait
// for it and their latency counts from their scheduled time (300 ms down
// to 0), so the p90 of about 200 requests is near 200 ms; in closed loop
// only the stalled request is slow.
func TestLoadCoordinatedOmission(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	const stall = 300 * time.Millisecond
	for _, tc := range []struct {
		name string
		rate float64
		slow bool // want p90 ≥ 100 ms
	}{
		{"open", 200, true},
		{"closed", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeBackend()
			url := fakeGRPC(t, f)
			f.stall.Store(int64(stall))
			rep, err := Load(t.Context(), LoadConfig{
				Target: url, APIKey: testKey, Customers: []string{"c"}, Limit: 7,
				Clients: 1, Rate: tc.rate, Duration: time.Second, Warmup: -1,
			})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Max < stall {
				t.Errorf("max = %v, want ≥ the %v stall", rep.Max, stall)
			}
			if got := rep.P90 >= 100*time.Millisecond; got != tc.slow {
				t.Errorf("%s loop: p90 = %v (max %v, %d requests); want p90 ≥ 100 ms: %v", tc.name, rep.P90, rep.Max, rep.Requests, tc.slow)
			}
			if tc.rate > 0 && (rep.Requests < 150 || rep.Requests > 201) {
				t.Errorf("open loop at 200/s for 1 s sent %d requests, want about 200", rep.Requests)
			}
		})
	}
}

func TestLoadDuration(t *testing.T) {
	f := newFakeBackend()
	url := fakeREST(t, f)
	start := time.Now()
	rep, err := Load(t.Context(), LoadConfig{Target: url, APIKey: testKey, Customers: []string{"x"}, Limit: 7, Duration: 300 * time.Millisecond, Warmup: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if took < 500*time.Millisecond || took > 3*time.Second {
		t.Errorf("Load(duration 300 ms, warm-up 200 ms) took %v, want about 500 ms", took)
	}
	if rep.Elapsed < 250*time.Millisecond || rep.Elapsed > 2*time.Second {
		t.Errorf("Elapsed = %v, want about 300 ms", rep.Elapsed)
	}
	if rep.Requests == 0 || f.requests.Load() <= rep.Requests {
		t.Errorf("measured %d of %d requests, want some, and fewer than sent", rep.Requests, f.requests.Load())
	}
}

func TestLoadCancel(t *testing.T) {
	f := newFakeBackend()
	url := fakeGRPC(t, f)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	var progress atomic.Int64
	rep, err := Load(ctx, LoadConfig{
		Target: url, APIKey: testKey, Customers: []string{"x"}, Limit: 7, Duration: time.Minute, Warmup: -1,
		Progress: func(LoadProgress) { progress.Add(1) },
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Load(cancelled) error = %v, want context.DeadlineExceeded", err)
	}
	if rep == nil || rep.Requests == 0 {
		t.Fatalf("Load(cancelled) report = %+v, want the partial measurement", rep)
	}
}

func TestLoadValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  LoadConfig
		want string
	}{
		{LoadConfig{}, "no target"},
		{LoadConfig{Target: "ftp://h:1", Method: MethodPopular}, `scheme "ftp"`},
		{LoadConfig{Target: "http://localhost", Method: MethodPopular}, "HOST:PORT"},
		{LoadConfig{Target: "grpc://h:1/x", Method: MethodPopular}, "no path"},
		{LoadConfig{Target: "http://h:1"}, "needs customers"},
		{LoadConfig{Target: "http://h:1", Customers: []string{""}}, "customer 1"},
		{LoadConfig{Target: "http://h:1", Method: "similar"}, `method "similar"`},
		{LoadConfig{Target: "http://h:1", Method: MethodConsent}, "consent needs customers"},
		{LoadConfig{Target: "http://h:1", Method: MethodPopular, Limit: 101}, "limit 101"},
		{LoadConfig{Target: "http://h:1", Method: MethodPopular, Rate: -1}, "rate -1"},
		{LoadConfig{Target: "http://h:1", Method: MethodPopular, Clients: -2}, "clients -2"},
		{LoadConfig{Target: "http://h:1", Method: MethodPopular, Duration: -time.Second}, "duration"},
		{LoadConfig{Target: "http://h:1", Method: MethodPopular, Requests: -1}, "requests -1"},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "bench: ") {
			t.Errorf("LoadConfig%+v.Validate() = %v, want an error containing %q", tc.cfg, err, tc.want)
		}
	}
	if err := (LoadConfig{Target: "grpcs://h:443", Method: MethodPopular}).Validate(); err != nil {
		t.Errorf("Validate(valid) = %v, want nil", err)
	}
}

// TestLoadCallerError: a target that parses but that grpc.NewClient
// refuses is an error of Load, not a crash.
func TestLoadCallerError(t *testing.T) {
	for _, target := range []string{"grpc://a%25b:1", "grpcs://[fe80::1%25en0]:443"} {
		rep, err := Load(t.Context(), LoadConfig{Target: target, Method: MethodPopular, Requests: 1, Warmup: -1})
		if rep != nil || err == nil || !strings.HasPrefix(err.Error(), "bench: connect ") {
			t.Errorf("Load(%s) = %v, %v; want no report and a connect error", target, rep, err)
		}
	}
}

func TestLoadOutputs(t *testing.T) {
	rep := &LoadReport{
		Target: "http://127.0.0.1:8080", Transport: "rest", Method: MethodRecommend, Limit: 10, Clients: 8,
		Warmup: 2 * time.Second, Elapsed: 10 * time.Second, Requests: 1000, Errors: 3, ByCode: map[string]int64{"http_429": 3},
		RPS: 99.7, Mean: 1200 * time.Microsecond, P50: time.Millisecond, P90: 2 * time.Millisecond, P99: 5 * time.Millisecond,
		P999: 9 * time.Millisecond, Max: 12 * time.Millisecond, Window: time.Second,
	}
	for i := range 10 {
		rep.Timeline = append(rep.Timeline, LoadWindow{Start: time.Duration(i) * time.Second, Requests: 100, P50: time.Millisecond, P99: 5 * time.Millisecond, Max: 8 * time.Millisecond})
	}
	rep.Timeline[4].Errors = 3

	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf, false); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]float64{"requests": 1000, "errors": 3, "rps": 99.7, "p50_ms": 1, "p90_ms": 2, "p99_ms": 5, "p999_ms": 9, "max_ms": 12} {
		if v, ok := got[key].(float64); !ok || v != want {
			t.Errorf("WriteJSON key %q = %v, want %v", key, got[key], want)
		}
	}
	if _, ok := got["timeline"]; ok {
		t.Errorf("WriteJSON(timeline=false) has a timeline")
	}

	buf.Reset()
	if err := rep.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"closed loop, 8 client(s)", "http_429 3", "99.7 successful requests/s", "p99.9", "9.000", "12.000"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("WriteTable output lacks %q:\n%s", want, buf.String())
		}
	}

	buf.Reset()
	if err := rep.WritePlot(&buf, "png"); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("WritePlot(png) does not decode: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 200 {
		t.Errorf("plot is %v, want a readable size", b)
	}
	buf.Reset()
	if err := rep.WritePlot(&buf, "svg"); err != nil {
		t.Fatal(err)
	}
	if s := buf.String(); !strings.Contains(s, "<svg") || !strings.Contains(s, "latency (ms, log scale)") || !strings.Contains(s, "p99") {
		t.Errorf("WritePlot(svg) lacks the svg element, the axis label or the legend")
	}
	if err := rep.WritePlot(&buf, "gif"); err == nil {
		t.Errorf("WritePlot(gif) = nil, want an error")
	}
}

// FuzzParseTarget: parseTarget never panics, and accepts only targets with
// a known scheme, a host and a port.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:8080", "grpc://[::1]:9090", "grpcs://h:1/x", "ftp://h:1", "http://h", "", "://"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		transport, u, err := parseTarget(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "bench: ") {
				t.Fatalf("parseTarget(%q) error %q lacks the package prefix", s, err)
			}
			return
		}
		if (transport != "rest" && transport != "grpc") || u.Host == "" || u.Port() == "" {
			t.Fatalf("parseTarget(%q) = %q, %v: want rest or grpc with HOST:PORT", s, transport, u)
		}
	})
}

// TestLoadTransportErrorNoCustomer: a REST request that gets no answer
// reports its error without the raw customer id that its URL holds.
func TestLoadTransportErrorNoCustomer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	target := "http://" + srv.Listener.Addr().String()
	srv.Close() // connection refused from now on
	for _, method := range []string{MethodRecommend, MethodConsent} {
		rep, err := Load(t.Context(), LoadConfig{
			Target: target, APIKey: testKey, Method: method, Customers: []string{"jane.secret@example.com"},
			Requests: 3, Warmup: -1, Timeout: 5 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		msg := rep.Samples["transport"]
		if rep.ByCode["transport"] != 3 || msg == "" {
			t.Fatalf("%s: by code %v, samples %v; want 3 transport errors", method, rep.ByCode, rep.Samples)
		}
		if strings.Contains(msg, "jane.secret") || !strings.Contains(msg, "{customer}") {
			t.Errorf("%s: sample %q: want the route with {customer}, not the raw id", method, msg)
		}
	}
}
