package bench

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/discret-io/discret/privacy"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
)

// Methods a load run can call.
const (
	// MethodRecommend calls Recommend for customers drawn from
	// LoadConfig.Customers: GET /v1/customers/{customer}/recommendations.
	MethodRecommend = "recommend"
	// MethodPopular calls PopularItems (GET /v1/popular): no customer data,
	// a read of the release in memory.
	MethodPopular = "popular"
	// MethodConsent calls GetConsent (GET /v1/customers/{customer}/consent,
	// scope consent) for customers drawn from LoadConfig.Customers: a
	// pseudonymization and one store read, which measures the transport,
	// the interceptors and the store without the model.
	MethodConsent = "consent"
)

// Defaults of LoadConfig.
const (
	DefaultLoadDuration = 10 * time.Second
	DefaultWarmup       = 2 * time.Second
	DefaultLoadTimeout  = 10 * time.Second
	DefaultLoadLimit    = 10
)

// Histogram range: latencies are recorded in microseconds from 1 µs to one
// minute with three significant digits (relative error ≤ 0.1 %); slower
// responses are recorded as one minute.
const (
	histMin     = 1
	histMax     = int64(time.Minute / time.Microsecond)
	histDigits  = 3
	timeDigits  = 2 // per-window histograms of the timeline
	maxWindows  = 100_000
	progressGap = time.Second
)

// LoadConfig configures Load. The zero value of each optional field means
// its documented default.
type LoadConfig struct {
	// Target is the server: "http://HOST:PORT" or "https://HOST:PORT" for
	// the REST gateway, "grpc://HOST:PORT" or "grpcs://HOST:PORT" (TLS with
	// the system's roots) for gRPC. Required.
	Target string
	// APIKey is sent as "Authorization: Bearer KEY" (REST) or as the
	// "authorization" metadata (gRPC). It needs the recommend scope.
	APIKey string
	// Method is MethodRecommend (default), MethodPopular or MethodConsent.
	Method string
	// Customers are the raw customer ids Recommend (or GetConsent) is
	// called for, drawn uniformly at random. Required but for
	// MethodPopular. (A data directory
	// holds only pseudonyms, so it cannot supply them.)
	Customers []string
	// Limit is the number of items asked per request; default
	// DefaultLoadLimit.
	Limit int
	// Clients is the number of concurrent clients, each with its own
	// connection; default 1. In closed loop each sends its next request
	// when the previous one is answered.
	Clients int
	// Rate, when positive, runs open loop: requests are scheduled at Rate
	// per second regardless of the answers, and a request's latency is
	// measured from its scheduled send time, so that a stalled server is
	// charged for the requests it delayed (no coordinated omission).
	// Clients then bounds the requests in flight.
	Rate float64
	// Duration is the length of the measurement after the warm-up;
	// Requests, when positive, ends it after that many measured requests
	// instead (or when Duration, if also set, is over). Both zero means
	// DefaultLoadDuration.
	Duration time.Duration
	Requests int
	// Warmup is a period before the measurement whose requests are sent
	// but not counted (connections, caches, JIT-free but page-cache-full
	// servers); 0 means DefaultWarmup, negative means none.
	Warmup time.Duration
	// Timeout bounds each request; default DefaultLoadTimeout.
	Timeout time.Duration
	// Window is the width of the timeline's time buckets; 0 picks about a
	// hundred windows over the run (at least 100 ms).
	Window time.Duration
	// Seed seeds the draw of customers.
	Seed uint64
	// Progress, when non-nil, is called about once a second from a
	// separate goroutine.
	Progress func(LoadProgress)
}

// LoadProgress is a progress report of a running Load.
type LoadProgress struct {
	Warmup   bool          // still warming up
	Elapsed  time.Duration // since the start (warm-up included)
	Requests int64         // measured requests so far
	Errors   int64         // measured errors so far
	// RateLimited counts the errors that are the server's rate limit
	// (see LoadReport.RateLimited).
	RateLimited int64
	RPS         float64 // successful requests per second over the last report
}

func (c LoadConfig) withDefaults() LoadConfig {
	c.Method = cmp.Or(c.Method, MethodRecommend)
	c.Limit = cmp.Or(c.Limit, DefaultLoadLimit)
	c.Clients = cmp.Or(c.Clients, 1)
	if c.Duration == 0 && c.Requests == 0 {
		c.Duration = DefaultLoadDuration
	}
	c.Warmup = cmp.Or(c.Warmup, DefaultWarmup)
	if c.Warmup < 0 {
		c.Warmup = 0
	}
	c.Timeout = cmp.Or(c.Timeout, DefaultLoadTimeout)
	return c
}

// Validate reports every problem of c.
func (c LoadConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("bench: "+format, args...)) }
	if err := CheckTarget(c.Target); err != nil {
		errs = append(errs, err)
	}
	if err := CheckMethod(c.Method); err != nil {
		errs = append(errs, err)
	}
	switch c.Method {
	case "", MethodRecommend, MethodConsent:
		if len(c.Customers) == 0 {
			bad("%s needs customers (raw ids, e.g. from a file with one id per line)", cmp.Or(c.Method, MethodRecommend))
		}
		for i, id := range c.Customers {
			if err := privacy.ValidateID(id); err != nil {
				bad("customer %d: %v", i+1, err)
				break
			}
		}
	}
	if c.Limit < 0 || c.Limit > 100 {
		bad("limit %d, want 1 to 100", c.Limit)
	}
	if c.Clients < 0 || c.Clients > 10_000 {
		bad("clients %d, want 1 to 10000", c.Clients)
	}
	if c.Rate < 0 || c.Rate > 1e7 {
		bad("rate %g, want 0 (closed loop) or up to 10⁷ requests/s", c.Rate)
	}
	if c.Duration < 0 {
		bad("duration %v, want ≥ 0", c.Duration)
	}
	if c.Requests < 0 {
		bad("requests %d, want ≥ 0", c.Requests)
	}
	if c.Timeout < 0 {
		bad("timeout %v, want ≥ 0", c.Timeout)
	}
	if c.Window < 0 {
		bad("window %v, want ≥ 0", c.Window)
	}
	return errors.Join(errs...)
}

// CheckTarget reports whether target is a server URL Load can reach
// (http://, https://, grpc:// or grpcs:// HOST:PORT), so that a command can
// refuse a bad one before it reads anything else.
func CheckTarget(target string) error {
	_, _, err := parseTarget(target)
	return err
}

// Probe checks, before a load run, what would make every request of it
// fail. It connects once to the server of cfg.Target within cfg.Timeout,
// so that a target where nothing listens fails at once, then sends one
// request of cfg.Method (for the first of cfg.Customers) with cfg.APIKey,
// so that a key the server refuses (HTTP 401 or 403, gRPC UNAUTHENTICATED
// or PERMISSION_DENIED) fails at once too, rather than after a run of
// such errors. Any other answer is left to the run, which reports it.
func Probe(ctx context.Context, cfg LoadConfig) error {
	cfg, transport, u, err := prepare(cfg)
	if err != nil {
		return err
	}
	d := net.Dialer{Timeout: cfg.Timeout}
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("connection refused at %s; is 'discret serve' running, and listening there?", u.Host)
	case err != nil:
		return fmt.Errorf("cannot connect to %s: %w; is 'discret serve' running, and listening there?", u.Host, err)
	}
	conn.Close()
	hc := newHTTPClient(1)
	defer hc.CloseIdleConnections()
	c, err := newCaller(transport, u, cfg, hc)
	if err != nil {
		return err
	}
	defer c.close()
	customer := ""
	if len(cfg.Customers) > 0 {
		customer = cfg.Customers[0]
	}
	rctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	err = c.call(rctx, customer)
	if err == nil || ctx.Err() != nil {
		return ctx.Err()
	}
	code := errorCode(err)
	answer := sampleText(err) // "HTTP 401 Unauthorized: invalid API key"
	if !strings.HasPrefix(code, "http_") {
		answer = code + ": " + answer // the gRPC status code, then its message
	}
	switch ErrorKind(code) {
	case KindUnauthenticated:
		return fmt.Errorf("the server refused the API key: %s; no load was sent", answer)
	case KindPermissionDenied:
		return fmt.Errorf("the server refused the API key for the %s method: %s; no load was sent", cfg.Method, answer)
	}
	return nil
}

// prepare validates cfg and returns it with its defaults, with the
// transport and URL of its target (see parseTarget).
func prepare(cfg LoadConfig) (LoadConfig, string, *url.URL, error) {
	if err := cfg.Validate(); err != nil {
		return cfg, "", nil, err
	}
	cfg = cfg.withDefaults()
	transport, u, _ := parseTarget(cfg.Target) // checked by Validate
	return cfg, transport, u, nil
}

// CheckMethod reports whether m names an RPC Load can call ("" is
// MethodRecommend).
func CheckMethod(m string) error {
	switch m {
	case "", MethodRecommend, MethodPopular, MethodConsent:
		return nil
	}
	return fmt.Errorf("bench: method %q, want %s, %s or %s", m, MethodRecommend, MethodPopular, MethodConsent)
}

// parseTarget returns the transport ("rest" or "grpc") and the base URL or
// the gRPC address of a target, with whether it uses TLS in u.Scheme.
func parseTarget(target string) (transport string, u *url.URL, err error) {
	if target == "" {
		return "", nil, errors.New("bench: no target (want http://HOST:PORT or grpc://HOST:PORT)")
	}
	u, err = url.Parse(target)
	if err != nil {
		return "", nil, fmt.Errorf("bench: target %q: %w", target, err)
	}
	switch u.Scheme {
	case "http", "https":
		transport = "rest"
	case "grpc", "grpcs":
		transport = "grpc"
	default:
		return "", nil, fmt.Errorf("bench: target %q: scheme %q, want http, https, grpc or grpcs", target, u.Scheme)
	}
	if u.Host == "" || u.Port() == "" {
		return "", nil, fmt.Errorf("bench: target %q: want SCHEME://HOST:PORT", target)
	}
	if transport == "grpc" && u.Path != "" && u.Path != "/" {
		return "", nil, fmt.Errorf("bench: target %q: a gRPC target has no path", target)
	}
	return transport, u, nil
}

// LoadReport is the result of Load.
type LoadReport struct {
	Target    string
	Transport string // "rest" or "grpc"
	Method    string
	Limit     int
	Clients   int
	Rate      float64 // 0 for closed loop
	Warmup    time.Duration
	// Elapsed is the measured wall time: from the end of the warm-up to the
	// last measured answer.
	Elapsed time.Duration
	// Requests counts the measured requests, answered or failed; Errors
	// the failed ones, by code: the gRPC status code name
	// ("Unavailable"), "http_STATUS" for a REST status other than 200,
	// "timeout" or "transport" for a REST request that got no answer.
	Requests int64
	Errors   int64
	ByCode   map[string]int64
	// Samples holds the first error message of each code, with the
	// server's own message when it sent one (the "message" of a REST
	// error body, the gRPC status message), at most maxSample characters
	// on one line; a customer identifier in it reads {customer}.
	Samples map[string]string
	// RateLimited counts the errors that are the server's rate limit
	// refusing the request (HTTP 429, gRPC RESOURCE_EXHAUSTED), and
	// RetryAfter is the longest delay such an answer asked to wait (REST
	// Retry-After, in whole seconds; gRPC RetryInfo), 0 if none said.
	RateLimited int64
	RetryAfter  time.Duration
	// RPS is the throughput of successful requests per second of Elapsed.
	RPS float64
	// Latency of the successful requests (from the scheduled send time in
	// open loop).
	Mean, P50, P90, P99, P999, Max time.Duration
	// Timeline holds the successful requests per window of Window, by
	// send time, from the end of the warm-up.
	Window   time.Duration
	Timeline []LoadWindow
}

// LoadWindow summarizes the requests sent in one window of the timeline.
type LoadWindow struct {
	Start            time.Duration // since the end of the warm-up
	Requests, Errors int64
	P50, P99, Max    time.Duration
}

// caller sends one request.
type caller interface {
	call(ctx context.Context, customer string) error
	close()
}

// Load runs a load test against a running server and reports throughput,
// errors and the latency distribution (an HDR histogram). On cancellation
// of ctx it stops, and returns what it measured so far with ctx's error.
func Load(ctx context.Context, cfg LoadConfig) (*LoadReport, error) {
	cfg, transport, u, err := prepare(cfg)
	if err != nil {
		return nil, err
	}
	callers := make([]caller, cfg.Clients)
	defer func() {
		for _, c := range callers {
			if c != nil {
				c.close()
			}
		}
	}()
	shared := newHTTPClient(cfg.Clients)
	defer shared.CloseIdleConnections()
	for i := range callers {
		if callers[i], err = newCaller(transport, u, cfg, shared); err != nil {
			return nil, err
		}
	}
	r := newRun(cfg)
	r.exec(ctx, callers)
	rep := r.report(cfg, transport)
	return rep, ctx.Err()
}

// run is the shared state of one Load.
type run struct {
	cfg      LoadConfig
	start    time.Time
	warmEnd  time.Time
	end      time.Time // zero: until Requests
	interval time.Duration
	window   time.Duration

	tickets   atomic.Int64 // measured requests issued
	scheduled atomic.Int64 // open loop: next slot
	done      atomic.Int64 // measured requests answered or failed
	failed    atomic.Int64
	limited   atomic.Int64 // measured rate-limited errors
	succeeded atomic.Int64 // measured successes, for progress

	stop     chan struct{}
	stopOnce sync.Once

	mu       sync.Mutex // guards the fields below
	hist     *hdrhistogram.Histogram
	maxLat   time.Duration
	byCode   map[string]int64
	samples  map[string]string
	retry    time.Duration // longest delay a rate-limited answer asked for
	last     time.Time     // latest measured answer
	timeline []*windowStats
}

type windowStats struct {
	hist     *hdrhistogram.Histogram
	requests int64
	errors   int64
	max      time.Duration
}

func newRun(cfg LoadConfig) *run {
	r := &run{cfg: cfg, stop: make(chan struct{}), byCode: map[string]int64{}, samples: map[string]string{}}
	r.hist = hdrhistogram.New(histMin, histMax, histDigits)
	if cfg.Rate > 0 {
		r.interval = time.Duration(float64(time.Second) / cfg.Rate)
		if r.interval <= 0 {
			r.interval = 1
		}
	}
	r.window = cfg.Window
	if r.window == 0 {
		span := cfg.Duration
		span = cmp.Or(span, time.Minute)
		r.window = max(100*time.Millisecond, (span / 100).Truncate(100*time.Millisecond))
	}
	return r
}

func (r *run) halt() { r.stopOnce.Do(func() { close(r.stop) }) }

func (r *run) stopped() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}

// exec runs the clients until the measurement is over or ctx is done.
func (r *run) exec(ctx context.Context, callers []caller) {
	r.start = time.Now()
	r.warmEnd = r.start.Add(r.cfg.Warmup)
	if r.cfg.Duration > 0 {
		r.end = r.warmEnd.Add(r.cfg.Duration)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-ctx.Done():
			r.halt()
		case <-r.stop:
		}
	}()
	var progress sync.WaitGroup
	if r.cfg.Progress != nil {
		progress.Go(func() { r.report1s(ctx) })
	}
	var wg sync.WaitGroup
	for i, c := range callers {
		rng := rand.New(rand.NewPCG(r.cfg.Seed, uint64(i)+1))
		wg.Go(func() { r.client(ctx, c, rng) })
	}
	wg.Wait()
	r.halt()
	cancel()
	progress.Wait()
}

// next returns when the client should send its next request and whether
// that request is measured; ok is false when the run is over.
func (r *run) next() (at time.Time, measured, ok bool) {
	if r.stopped() {
		return time.Time{}, false, false
	}
	if r.interval > 0 {
		n := r.scheduled.Add(1) - 1
		at = r.start.Add(time.Duration(n) * r.interval)
		if d := time.Until(at); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.stop:
				t.Stop()
				return time.Time{}, false, false
			}
		}
	} else {
		at = time.Now()
	}
	if !r.end.IsZero() && !at.Before(r.end) {
		r.halt()
		return time.Time{}, false, false
	}
	if at.Before(r.warmEnd) {
		return at, false, true
	}
	if r.cfg.Requests > 0 && r.tickets.Add(1) > int64(r.cfg.Requests) {
		r.halt()
		return time.Time{}, false, false
	}
	return at, true, true
}

func (r *run) client(ctx context.Context, c caller, rng *rand.Rand) {
	customers := r.cfg.Customers
	for {
		at, measured, ok := r.next()
		if !ok {
			return
		}
		customer := ""
		if len(customers) > 0 {
			customer = customers[rng.IntN(len(customers))]
		}
		rctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
		err := c.call(rctx, customer)
		cancel()
		end := time.Now()
		if ctx.Err() != nil {
			return // interrupted: the answer says nothing about the server
		}
		if measured {
			r.record(at, end, err)
		}
	}
}

func (r *run) record(at, end time.Time, err error) {
	lat := end.Sub(at)
	us := min(max(lat.Microseconds(), histMin), histMax)
	w := int(at.Sub(r.warmEnd) / r.window)
	r.mu.Lock()
	defer r.mu.Unlock()
	if end.After(r.last) {
		r.last = end
	}
	var ws *windowStats
	if w >= 0 && w < maxWindows {
		for len(r.timeline) <= w {
			r.timeline = append(r.timeline, nil)
		}
		if ws = r.timeline[w]; ws == nil {
			ws = &windowStats{hist: hdrhistogram.New(histMin, histMax, timeDigits)}
			r.timeline[w] = ws
		}
	}
	r.done.Add(1)
	if err != nil {
		r.failed.Add(1)
		code := errorCode(err)
		r.byCode[code]++
		if _, ok := r.samples[code]; !ok {
			r.samples[code] = sampleText(err)
		}
		if ErrorKind(code) == KindRateLimited {
			r.limited.Add(1)
			r.retry = max(r.retry, retryDelay(err))
		}
		if ws != nil {
			ws.errors++
		}
		return
	}
	r.succeeded.Add(1)
	_ = r.hist.RecordValue(us) // in range by construction
	r.maxLat = max(r.maxLat, lat)
	if ws != nil {
		ws.requests++
		_ = ws.hist.RecordValue(us)
		ws.max = max(ws.max, lat)
	}
}

// report1s calls Progress about once a second until ctx is done.
func (r *run) report1s(ctx context.Context) {
	t := time.NewTicker(progressGap)
	defer t.Stop()
	prev, prevAt := int64(0), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			ok := r.succeeded.Load()
			rps := float64(ok-prev) / now.Sub(prevAt).Seconds()
			prev, prevAt = ok, now
			r.cfg.Progress(LoadProgress{
				Warmup:      now.Before(r.warmEnd),
				Elapsed:     now.Sub(r.start),
				Requests:    r.done.Load(),
				Errors:      r.failed.Load(),
				RateLimited: r.limited.Load(),
				RPS:         rps,
			})
		}
	}
}

func (r *run) report(cfg LoadConfig, transport string) *LoadReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := &LoadReport{
		Target: cfg.Target, Transport: transport, Method: cfg.Method, Limit: cfg.Limit,
		Clients: cfg.Clients, Rate: cfg.Rate, Warmup: cfg.Warmup,
		Requests: r.done.Load(), Errors: r.failed.Load(), ByCode: r.byCode, Samples: r.samples, Window: r.window,
		RateLimited: r.limited.Load(), RetryAfter: r.retry,
	}
	if r.last.After(r.warmEnd) {
		rep.Elapsed = r.last.Sub(r.warmEnd)
	}
	ok := rep.Requests - rep.Errors
	if rep.Elapsed > 0 {
		rep.RPS = float64(ok) / rep.Elapsed.Seconds()
	}
	if ok > 0 {
		q := func(p float64) time.Duration {
			return time.Duration(r.hist.ValueAtQuantile(p)) * time.Microsecond
		}
		rep.Mean = time.Duration(r.hist.Mean() * float64(time.Microsecond))
		rep.P50, rep.P90, rep.P99, rep.P999 = q(50), q(90), q(99), q(99.9)
		rep.Max = r.maxLat
	}
	for i, ws := range r.timeline {
		lw := LoadWindow{Start: time.Duration(i) * r.window}
		if ws != nil {
			lw.Requests, lw.Errors, lw.Max = ws.requests, ws.errors, ws.max
			if ws.requests > 0 {
				lw.P50 = time.Duration(ws.hist.ValueAtQuantile(50)) * time.Microsecond
				lw.P99 = time.Duration(ws.hist.ValueAtQuantile(99)) * time.Microsecond
			}
		}
		rep.Timeline = append(rep.Timeline, lw)
	}
	return rep
}

// errorCode classifies a failed request for LoadReport.ByCode.
func errorCode(err error) string {
	var he *httpStatusError
	switch {
	case errors.As(err, &he):
		return "http_" + strconv.Itoa(he.status)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	if s, ok := status.FromError(err); ok {
		return s.Code().String()
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "transport"
}

// retryDelay returns the delay a rate-limit refusal (ErrorKind
// KindRateLimited) asked to wait before retrying: Retry-After on HTTP, the
// RetryInfo detail on gRPC; 0 if it said none.
func retryDelay(err error) time.Duration {
	var he *httpStatusError
	if errors.As(err, &he) {
		return he.retryAfter
	}
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			return ri.GetRetryDelay().AsDuration()
		}
	}
	return 0
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date
// (RFC 9110 10.2.3); 0 if absent or malformed.
func retryAfter(h string) time.Duration {
	if n, err := strconv.ParseInt(h, 10, 32); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(0, time.Until(t))
	}
	return 0
}

// maxSample bounds the characters of a LoadReport sample message.
const maxSample = 300

// sampleText is the message of err for LoadReport.Samples: the server's
// message as the server wrote it (the code it goes under already names
// the gRPC status or the HTTP status), on one line, at most maxSample
// characters.
func sampleText(err error) string {
	var he *httpStatusError
	msg := err.Error()
	if errors.As(err, &he) {
		msg = strings.TrimPrefix(he.Error(), "bench: ")
	} else if s, ok := status.FromError(err); ok && s.Message() != "" {
		msg = s.Message()
	}
	return bound(msg, maxSample)
}

// bound returns s on one line (runs of white space become one space), cut
// to at most n characters with a trailing "…".
func bound(s string, n int) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "�")), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// httpStatusError is a REST answer other than 200 OK, with the message of
// its error body, if any.
type httpStatusError struct {
	status     int
	msg        string
	retryAfter time.Duration // of a 429's Retry-After header
}

func (e *httpStatusError) Error() string {
	s := fmt.Sprintf("bench: HTTP %d %s", e.status, http.StatusText(e.status))
	if e.msg != "" {
		s += ": " + e.msg
	}
	return s
}

// maxErrorBody bounds the bytes of an error body read for its message.
const maxErrorBody = 64 << 10

// errorMessage returns the message of a REST error body: its "message"
// field if it is a JSON object with one (the gateway's {"code",
// "message", "details"}), else the text of the body, at most 200
// characters on one line, with the customer identifier, which the server
// may quote, replaced by {customer}.
func errorMessage(body []byte, customer string) string {
	var e struct {
		Message string `json:"message"`
	}
	msg := string(body)
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		msg = e.Message
	}
	return bound(redact(msg, customer), 200)
}

// redact replaces the customer identifier, raw or escaped for a URL,
// with {customer}: a server may quote it in an error message, and the
// report must not hold it. Only whole occurrences are replaced, not
// those inside a longer word or number (customer "4" in "HTTP 401").
func redact(msg, customer string) string {
	if customer == "" {
		return msg
	}
	for _, c := range []string{customer, url.PathEscape(customer), url.QueryEscape(customer)} {
		var b strings.Builder
		rest := msg
		for {
			i := strings.Index(rest, c)
			if i < 0 {
				b.WriteString(rest)
				break
			}
			end := i + len(c)
			if i > 0 && isWordByte(rest[i-1]) || end < len(rest) && isWordByte(rest[end]) {
				b.WriteString(rest[:i+1])
				rest = rest[i+1:]
				continue
			}
			b.WriteString(rest[:i])
			b.WriteString("{customer}")
			rest = rest[end:]
		}
		msg = b.String()
	}
	return msg
}

// isWordByte reports whether c is an ASCII letter or digit.
func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// newCaller returns a caller of cfg.Method at u: for the "rest" transport
// one that sends over hc, for "grpc" one with its own connection.
func newCaller(transport string, u *url.URL, cfg LoadConfig, hc *http.Client) (caller, error) {
	if transport == "rest" {
		return newRESTCaller(hc, u, cfg), nil
	}
	c, err := newGRPCCaller(u, cfg)
	if err != nil {
		return nil, err // not a nil *grpcCaller, which close would dereference
	}
	return c, nil
}

func newHTTPClient(clients int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil, // loopback and LAN targets: never through a proxy
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        clients,
		MaxIdleConnsPerHost: clients,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
	}}
}

// restCaller sends REST requests over a keep-alive connection pool.
type restCaller struct {
	client *http.Client
	base   string // scheme://host:port
	query  string // "?limit=N"
	method string
	auth   string
}

func newRESTCaller(c *http.Client, u *url.URL, cfg LoadConfig) *restCaller {
	return &restCaller{
		client: c,
		base:   u.Scheme + "://" + u.Host,
		query:  "?limit=" + strconv.Itoa(cfg.Limit),
		method: cfg.Method,
		auth:   "Bearer " + cfg.APIKey,
	}
}

func (c *restCaller) call(ctx context.Context, customer string) error {
	var u, route string
	switch c.method {
	case MethodPopular:
		u = c.base + "/v1/popular" + c.query
		route = u
	case MethodConsent:
		u = c.base + "/v1/customers/" + url.PathEscape(customer) + "/consent"
		route = c.base + "/v1/customers/{customer}/consent"
	default:
		u = c.base + "/v1/customers/" + url.PathEscape(customer) + "/recommendations" + c.query
		route = c.base + "/v1/customers/{customer}/recommendations" + c.query
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("bench: request %s: %w", route, errors.Unwrap(err))
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		// A *url.Error quotes the URL, and with it the raw customer id,
		// into the report's sample message: name the route instead.
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			ue.URL = route
		}
		return err
	}
	// Read the whole body so that the connection is reused, keeping the
	// start of an error body for its message.
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		io.Copy(io.Discard, resp.Body)
		return &httpStatusError{status: resp.StatusCode, msg: errorMessage(body, customer), retryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

func (c *restCaller) close() {}

// grpcCaller sends gRPC requests over its own connection.
type grpcCaller struct {
	conn    *grpc.ClientConn
	client  discretv1.RecommendationServiceClient
	consent discretv1.ConsentServiceClient
	md      metadata.MD
	limit   int32
	method  string
}

func newGRPCCaller(u *url.URL, cfg LoadConfig) (*grpcCaller, error) {
	creds := insecure.NewCredentials()
	if u.Scheme == "grpcs" {
		creds = credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})
	}
	conn, err := grpc.NewClient(u.Host, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, fmt.Errorf("bench: connect %s: %w", u.Host, err)
	}
	return &grpcCaller{
		conn:    conn,
		client:  discretv1.NewRecommendationServiceClient(conn),
		consent: discretv1.NewConsentServiceClient(conn),
		md:      metadata.Pairs("authorization", "Bearer "+cfg.APIKey),
		limit:   int32(cfg.Limit),
		method:  cfg.Method,
	}, nil
}

func (c *grpcCaller) call(ctx context.Context, customer string) error {
	ctx = metadata.NewOutgoingContext(ctx, c.md)
	var err error
	switch c.method {
	case MethodPopular:
		_, err = c.client.PopularItems(ctx, &discretv1.PopularItemsRequest{Limit: c.limit})
	case MethodConsent:
		_, err = c.consent.GetConsent(ctx, &discretv1.GetConsentRequest{Customer: customer})
	default:
		_, err = c.client.Recommend(ctx, &discretv1.RecommendRequest{Customer: customer, Limit: c.limit})
	}
	// The status message may quote the customer: keep it out of the report.
	if s, ok := status.FromError(err); err != nil && ok && customer != "" && strings.Contains(s.Message(), customer) {
		return status.Error(s.Code(), redact(s.Message(), customer))
	}
	return err
}

func (c *grpcCaller) close() { c.conn.Close() }
