// Package serve runs Discret's API server: gRPC on one listener and the
// REST/JSON gateway (grpc-gateway) on another, with API-key authentication,
// per-key rate limits, request size limits, default deadlines, Prometheus
// metrics, request logs and graceful shutdown.
//
// # Transports
//
// The gateway reaches the gRPC services through a gRPC client connection,
// in process, to a gRPC server with the same services and interceptors as
// the gRPC listener's, never by calling the services directly, so that
// every interceptor (authentication, scopes, limits, deadlines, metrics,
// logs) applies to REST exactly as to gRPC. Only the limits on a
// connection from the network (calls in flight, metadata size, idle time,
// keepalive; remoteLimits) are the listener's alone. The HTTP listener also serves
// /healthz (the process is up), /readyz (a model is loaded and the server is
// not draining), /metrics (Prometheus) and /openapi.json, none of which
// needs a key. The gRPC listener serves the health service (grpc.health.v1)
// and server reflection. With a certificate, both listeners use TLS; the
// gateway then dials gRPC over TLS, trusting exactly that certificate.
// Listen opens the listeners before the server is set up, and a stand-in
// answers on them until Serve takes them over (see listen.go): clients
// that come early get "starting" (/healthz 200, /readyz 503, UNAVAILABLE)
// within a quarter of a second instead of no answer.
//
// # Requests
//
// A call to the API without a valid API key or customer token is refused
// (UNAUTHENTICATED) as soon as its header arrives, before its message is
// read (see checkCredential); the interceptor would refuse it the same way.
// One interceptor handles every RPC, in this order: refuse a request with a
// string field that is not UTF-8 (INVALID_ARGUMENT naming the field, where
// grpc-go alone would answer INTERNAL; see requestCodec), authenticate the
// API key and check its scope, or the customer token and its customer
// (serve/auth), take a token from the bucket of the key (RateLimit,
// RateBurst) or of the customer token (TokenRateLimit, TokenRateBurst), apply a
// deadline if the client set none (DefaultTimeout, MethodTimeouts) and cap
// the one it set (MaxTimeout), call
// the handler, turn its error into a gRPC status (serve/apierr), observe the
// latency, and log one line. A REST request is logged once, by the HTTP
// layer, with its route pattern ("GET /v1/customers/{customer}/consent") and
// never its path, which may carry a customer id; request and response bodies
// are never logged. Before its RPC, a REST request's key and scope are
// checked by the same serve/auth code, so that a client without a valid key
// gets 401 (and a key without the scope 403) whatever else is wrong with
// the request; its body is not read before. Then the body is read, and
// refused if it is over MaxRequestBytes, as sent or once decompressed
// (413), in a Content-Encoding other than gzip and identity (415), gzip
// that does not decompress (400), or not received within a minute of the
// header (400). Then the request is refused if its path or query is not
// UTF-8, if its query has a parameter the route does not take, or if its
// body sets a field of the path to another value than the path's.
//
// # Shutdown
//
// When the context passed to Serve is cancelled, the server reports itself
// not ready, stops accepting requests and lets those in flight finish
// within ShutdownTimeout (http.Server.Shutdown, then grpc GracefulStop),
// after which it cancels what remains. Serve returns only then, so the
// caller can close the store safely.
package serve

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/http"
	goruntime "runtime"
	"slices"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/test/bufconn"

	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/auth"
)

// Defaults of Config.
const (
	DefaultGRPCAddr        = "127.0.0.1:9090"
	DefaultHTTPAddr        = "127.0.0.1:8080"
	DefaultMaxRequestBytes = 4 << 20
	DefaultTimeout         = 10 * time.Second
	DefaultMaxTimeout      = 10 * time.Minute
	DefaultRateLimit       = 1000 // requests per second per API key
	DefaultTokenRateLimit  = 5    // requests per second per customer token
	DefaultShutdownTimeout = 15 * time.Second

	// maxResponseBytes bounds what the gateway accepts from the gRPC
	// server: an export of a customer with years of events can exceed
	// gRPC's default of 4 MiB.
	maxResponseBytes = 256 << 20

	// maxHeaderBytes bounds the header of a request, REST or gRPC.
	maxHeaderBytes = 64 << 10

	// bodyTimeout bounds the time a REST request's body takes to arrive,
	// from the end of its header: a body of DefaultMaxRequestBytes at 70
	// KB/s, a slow shop's uplink. A client that stalls is refused then,
	// rather than holding what it sent.
	bodyTimeout = time.Minute
)

// defaultMethodTimeouts are the deadlines of slow methods called without
// one; never modified.
var defaultMethodTimeouts = map[string]time.Duration{
	discretv1.AdminService_TrainModel_FullMethodName: DefaultMaxTimeout,
}

// API is the set of services the server serves. *rpc.API implements it.
type API interface {
	// Register registers the gRPC services. It is called once per gRPC
	// server: that of the listener, and that of the gateway's connection.
	Register(s grpc.ServiceRegistrar)
	// RegisterGateway registers their REST handlers, which call the gRPC
	// server through conn.
	RegisterGateway(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error
}

// Config configures a Server. The zero value of each optional field means
// its documented default.
type Config struct {
	// API is what is served. Required.
	API API
	// Keys authenticates API keys. Required.
	Keys *auth.Keys

	// GRPCAddr and HTTPAddr are the listen addresses used by Run; defaults
	// DefaultGRPCAddr and DefaultHTTPAddr.
	GRPCAddr string
	HTTPAddr string

	// TLSCertFile and TLSKeyFile, both or neither, are a PEM certificate
	// chain and its key: with them both listeners serve TLS.
	TLSCertFile string
	TLSKeyFile  string

	// Ready reports whether the server can answer recommendations (a model
	// is loaded); /readyz and the health service follow it. Nil means
	// always ready.
	Ready func() bool
	// Collectors are more series for /metrics: the release served
	// (ModelMetrics), the store's disk (StoreMetrics), the trainer's
	// (*recommend.Trainer is a collector).
	Collectors []prometheus.Collector

	// Logger receives request logs and server events; nil discards them.
	Logger *slog.Logger
	// Registry receives the server's metrics and is served at /metrics;
	// nil means a new registry with the Go, process and build-information
	// collectors.
	Registry *prometheus.Registry

	// MaxRequestBytes bounds a request: a gRPC message or a REST body,
	// both as sent and, gzip-compressed, once decompressed. Default
	// DefaultMaxRequestBytes.
	MaxRequestBytes int
	// DefaultTimeout is the deadline of a request that came without one;
	// default DefaultTimeout. MethodTimeouts overrides it per method (full
	// gRPC name); nil means that TrainModel gets DefaultMaxTimeout.
	DefaultTimeout time.Duration
	MethodTimeouts map[string]time.Duration
	// MaxTimeout caps the deadline a client may ask for; default
	// DefaultMaxTimeout.
	MaxTimeout time.Duration
	// RateLimit is the sustained number of requests per second each API
	// key may make, RateBurst the number it may make at once. RateLimit 0
	// means DefaultRateLimit, negative means no limit; RateBurst 0 means
	// twice the rate (at least 1).
	RateLimit float64
	RateBurst int
	// TokenRateLimit and TokenRateBurst are the same for each customer
	// token, whose requests count against a bucket of their own, not
	// against the key that minted it: one device cannot use up its back
	// end's allowance. TokenRateLimit 0 means DefaultTokenRateLimit,
	// negative means no limit; TokenRateBurst 0 means twice the rate (at
	// least 1).
	TokenRateLimit float64
	TokenRateBurst int
	// ShutdownTimeout bounds the drain of in-flight requests at shutdown;
	// default DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// Now is the clock of the rate limiter; nil means time.Now.
	Now func() time.Time
}

// Validate reports every problem with c.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("serve: "+format, args...)) }
	if c.API == nil {
		add("Config.API is required")
	}
	if c.Keys == nil {
		add("Config.Keys is required")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		add("TLS needs both a certificate file and a key file")
	}
	if c.MaxRequestBytes < 0 || c.MaxRequestBytes > 1<<30 {
		add("MaxRequestBytes must be from 1 B to 1 GiB, got %d", c.MaxRequestBytes)
	}
	for _, t := range []struct {
		name string
		d    time.Duration
	}{{"DefaultTimeout", c.DefaultTimeout}, {"MaxTimeout", c.MaxTimeout}, {"ShutdownTimeout", c.ShutdownTimeout}} {
		if t.d < 0 {
			add("%s must not be negative, got %v", t.name, t.d)
		}
	}
	for _, m := range slices.Sorted(maps.Keys(c.MethodTimeouts)) {
		if d := c.MethodTimeouts[m]; d <= 0 {
			add("MethodTimeouts[%s] must be positive, got %v", m, d)
		}
	}
	for _, r := range []struct {
		name  string
		rate  float64
		burst int
	}{{"Rate", c.RateLimit, c.RateBurst}, {"TokenRate", c.TokenRateLimit, c.TokenRateBurst}} {
		if math.IsNaN(r.rate) || math.IsInf(r.rate, 0) {
			add("%sLimit must be a finite number, got %v", r.name, r.rate)
		}
		if r.burst < 0 {
			add("%sBurst must not be negative, got %d", r.name, r.burst)
		}
	}
	return errors.Join(errs...)
}

// withDefaults returns c with every zero optional field set to its default.
func (c Config) withDefaults() Config {
	c.GRPCAddr = cmp.Or(c.GRPCAddr, DefaultGRPCAddr)
	c.HTTPAddr = cmp.Or(c.HTTPAddr, DefaultHTTPAddr)
	if c.Ready == nil {
		c.Ready = func() bool { return true }
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
		c.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewBuildInfoCollector())
	}
	c.MaxRequestBytes = cmp.Or(c.MaxRequestBytes, DefaultMaxRequestBytes)
	c.DefaultTimeout = cmp.Or(c.DefaultTimeout, DefaultTimeout)
	if c.MethodTimeouts == nil {
		c.MethodTimeouts = defaultMethodTimeouts
	}
	c.MaxTimeout = cmp.Or(c.MaxTimeout, DefaultMaxTimeout)
	c.RateLimit = cmp.Or(c.RateLimit, DefaultRateLimit)
	c.RateBurst = cmp.Or(c.RateBurst, max(1, int(2*c.RateLimit)))
	c.TokenRateLimit = cmp.Or(c.TokenRateLimit, DefaultTokenRateLimit)
	c.TokenRateBurst = cmp.Or(c.TokenRateBurst, max(1, int(2*c.TokenRateLimit)))
	c.ShutdownTimeout = cmp.Or(c.ShutdownTimeout, DefaultShutdownTimeout)
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Server is the API server. It serves once: call Serve or Run one time.
type Server struct {
	cfg Config
	log *slog.Logger
	// cert is the TLS certificate served, nil without TLS; ReloadTLS
	// replaces it.
	cert atomic.Pointer[tls.Certificate]
	// grpc serves the gRPC listener, inProcess the gateway's connection:
	// the same services and interceptors, without the limits on a remote
	// connection (remoteLimits).
	grpc      *grpc.Server
	inProcess *grpc.Server
	health    *health.Server
	metrics   *metrics
	// limits and tokenLimits are the rate limits of API keys and of
	// customer tokens; nil without one.
	limits      *limiter[string]
	tokenLimits *limiter[auth.TokenID]
	// marker authenticates the gateway's own calls to the gRPC server (a
	// random value it sends as metadata), so that they are logged once, by
	// the HTTP layer.
	marker string
	// mux is the REST gateway (gatewayMux); its middlewares answer
	// through its error handler.
	mux *runtime.ServeMux
	// codec decodes gRPC requests (requestCodec).
	codec *requestCodec
	// guarded are the methods whose calls need a valid credential before
	// their message is read (checkCredential).
	guarded map[string]bool
	// bodyTimeout is the const of that name; shorter in tests.
	bodyTimeout time.Duration
	started     atomic.Bool
	draining    atomic.Bool
}

// New validates cfg and builds a server; it loads the TLS certificate, if
// any, and registers the API and the metrics.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger, health: health.NewServer(), bodyTimeout: bodyTimeout}
	var m [16]byte
	if _, err := rand.Read(m[:]); err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	s.marker = hex.EncodeToString(m[:])
	if cfg.RateLimit > 0 {
		s.limits = newLimiter[string](cfg.RateLimit, cfg.RateBurst, cfg.Now)
	}
	if cfg.TokenRateLimit > 0 {
		s.tokenLimits = newLimiter[auth.TokenID](cfg.TokenRateLimit, cfg.TokenRateBurst, cfg.Now)
	}
	var err error
	if s.metrics, err = newMetrics(cfg); err != nil {
		return nil, err
	}
	s.codec = newRequestCodec()
	opts := []grpc.ServerOption{
		s.codec.serverOption(),
		grpc.MaxRecvMsgSize(cfg.MaxRequestBytes),
		grpc.ChainUnaryInterceptor(s.unaryInterceptor),
		grpc.ChainStreamInterceptor(s.streamInterceptor),
		// Reuse a goroutine per core for requests instead of starting one
		// per request: fewer scheduler hand-offs on small machines.
		grpc.NumStreamWorkers(uint32(goruntime.GOMAXPROCS(0))),
	}
	if cfg.TLSCertFile != "" {
		if _, err := s.loadCert(); err != nil {
			return nil, fmt.Errorf("serve: TLS certificate: %w", err)
		}
		opts = append(opts, grpc.Creds(credentials.NewTLS(s.serverTLS())))
	}
	s.grpc = grpc.NewServer(slices.Concat(opts, s.remoteLimits())...)
	s.inProcess = grpc.NewServer(opts...)
	cfg.API.Register(s.grpc)
	cfg.API.Register(s.inProcess)
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)
	s.guarded = guardedMethods(s.grpc)
	return s, nil
}

// remoteLimits are the options of the gRPC listener's server: what one
// connection from the network may hold, and how long it stays. A call
// without a valid credential is refused before its message is read
// (checkCredential; a REST request is authorized before its body is read,
// by the gateway's middleware). Calls in
// flight are bounded per connection (100, the least RFC 9113 recommends;
// a client queues the others), and so is a call's metadata (as a REST
// request's header; grpc-go would accept 16 MiB). The server pings a
// connection silent for a minute and closes it if no answer comes within
// 20 s, and closes one without a call for 5 minutes (clients reconnect
// when they next call); clients may ping every 30 s, idle or not, and a
// client that pings more often is sent away (GOAWAY), as grpc-go does
// below its default of 5 minutes. The gateway's in-process connection
// carries every REST request at once and is the server's own: it has none
// of these limits.
func (s *Server) remoteLimits() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.InTapHandle(s.checkCredential),
		grpc.MaxConcurrentStreams(100),
		grpc.MaxHeaderListSize(maxHeaderBytes),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: 5 * time.Minute, Time: time.Minute, Timeout: 20 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 30 * time.Second, PermitWithoutStream: true}),
	}
}

// serverTLS is the listeners' TLS configuration: each handshake gets the
// certificate current at that moment (ReloadTLS).
func (s *Server) serverTLS() *tls.Config {
	return &tls.Config{
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.cert.Load(), nil },
		MinVersion:     tls.VersionTLS12,
	}
}

// ErrNoTLS is ReloadTLS's error on a server without TLS.
var ErrNoTLS = errors.New("serve: the server has no TLS certificate to reload")

// ReloadTLS reads the certificate and key files of Config again and, if
// they are a valid pair, serves the new certificate to every connection
// made from then on (connections open keep theirs), on both listeners:
// a renewed certificate without a restart. On an error the certificate
// served stays as it was. It returns the new certificate's expiry.
func (s *Server) ReloadTLS() (time.Time, error) {
	if s.cert.Load() == nil {
		return time.Time{}, ErrNoTLS
	}
	cert, err := s.loadCert()
	if err != nil {
		return time.Time{}, fmt.Errorf("serve: reload TLS (the certificate served is unchanged): %w", err)
	}
	return cert.Leaf.NotAfter, nil
}

// loadCert reads the certificate and key files of Config and, if they are
// a valid pair, makes it the certificate served and returns it.
func (s *Server) loadCert() (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
	if err != nil {
		return nil, err
	}
	s.cert.Store(&cert)
	return &cert, nil
}

// Run listens on cfg.GRPCAddr and cfg.HTTPAddr and serves until ctx is
// cancelled, then drains (see Server.Serve).
func Run(ctx context.Context, cfg Config) error {
	s, err := New(cfg)
	if err != nil {
		return err
	}
	gl, hl, err := listenTCP(s.cfg.GRPCAddr, s.cfg.HTTPAddr) // no set-up: no stand-in
	if err != nil {
		return err
	}
	return s.Serve(ctx, gl, hl)
}

// Serve serves gRPC on grpcLis and REST on httpLis until ctx is cancelled
// or a listener fails, then drains in-flight requests within
// ShutdownTimeout and returns. It closes both listeners. The result is nil
// after a shutdown asked for by ctx. It takes listeners of Listen over
// from their stand-in.
// The gateway reaches the gRPC services through a client connection over
// an in-process listener, served by a grpc.Server of its own with the same
// services and interceptors (see remoteLimits).
func (s *Server) Serve(ctx context.Context, grpcLis, httpLis net.Listener) error {
	grpcLis, httpLis = takeOver(grpcLis), takeOver(httpLis)
	if !s.started.CompareAndSwap(false, true) {
		grpcLis.Close()
		httpLis.Close()
		return errors.New("serve: Serve called twice")
	}
	inproc := bufconn.Listen(inProcessBuffer)
	conn, err := s.dialGateway(inproc)
	if err != nil {
		grpcLis.Close()
		httpLis.Close()
		return err
	}
	defer conn.Close()
	mux := s.gatewayMux()
	if err := s.cfg.API.RegisterGateway(ctx, mux, conn); err != nil {
		grpcLis.Close()
		httpLis.Close()
		return fmt.Errorf("serve: register gateway: %w", err)
	}
	hs := &http.Server{
		Handler:           s.httpHandler(mux),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if s.cert.Load() != nil {
		hs.TLSConfig = s.serverTLS()
	}

	s.updateHealth()
	errc := make(chan error, 3)
	for gs, l := range map[*grpc.Server]net.Listener{s.grpc: grpcLis, s.inProcess: inproc} {
		go func() {
			if err := gs.Serve(l); err != nil {
				errc <- fmt.Errorf("serve: gRPC: %w", err)
			}
		}()
	}
	go func() {
		var err error
		if s.cert.Load() != nil {
			err = hs.ServeTLS(httpLis, "", "")
		} else {
			err = hs.Serve(httpLis)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("serve: HTTP: %w", err)
		}
	}()
	watchCtx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		s.watchReadiness(watchCtx)
	}()
	s.log.Info("serving", "grpc", grpcLis.Addr().String(), "http", httpLis.Addr().String(), "tls", s.cert.Load() != nil)

	var failure error
	select {
	case <-ctx.Done():
	case failure = <-errc:
		s.log.Error("listener failed; shutting down", "err", failure)
	}
	stopWatch()
	<-watched
	s.shutdown(hs)
	return failure
}

// shutdown drains in-flight requests: REST first (its requests are gRPC
// calls in flight, on the in-process server), then gRPC, within one
// ShutdownTimeout.
func (s *Server) shutdown(hs *http.Server) {
	start := time.Now()
	s.draining.Store(true)
	s.health.Shutdown()
	// A fresh context: the one that asked for the shutdown is cancelled.
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	cleanHTTP := stopHTTP(ctx, hs)
	cleanGateway := stopGRPC(ctx, s.inProcess)
	if stopGRPC(ctx, s.grpc) && cleanHTTP && cleanGateway {
		s.log.Info("drained", "duration", time.Since(start))
	} else {
		s.log.Warn("shutdown timeout: in-flight requests were cancelled", "timeout", s.cfg.ShutdownTimeout)
	}
}

// stopHTTP shuts hs down, letting its requests finish until ctx is done,
// then closing it; it reports whether they all finished.
func stopHTTP(ctx context.Context, hs *http.Server) (clean bool) {
	if hs.Shutdown(ctx) != nil {
		hs.Close()
		return false
	}
	return true
}

// stopGRPC stops gs gracefully, then at once when ctx is done; it reports
// whether its calls all finished.
func stopGRPC(ctx context.Context, gs *grpc.Server) (clean bool) {
	done := make(chan struct{})
	go func() {
		gs.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		gs.Stop()
		<-done
		return false
	}
}

// The services of the gRPC health statuses: those that follow Ready (with
// "", the overall status), and those that only need the store.
var (
	readyServices = []string{"", discretv1.RecommendationService_ServiceDesc.ServiceName, discretv1.StoreService_ServiceDesc.ServiceName}
	storeServices = []string{discretv1.EventService_ServiceDesc.ServiceName, discretv1.ConsentService_ServiceDesc.ServiceName, discretv1.AdminService_ServiceDesc.ServiceName}
)

// readinessInterval is how often the health service follows Config.Ready.
const readinessInterval = time.Second

// watchReadiness keeps the gRPC health statuses in line with Ready until
// ctx is done (see updateHealth).
func (s *Server) watchReadiness(ctx context.Context) {
	t := time.NewTicker(readinessInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.updateHealth()
		}
	}
}

// updateHealth sets the gRPC health statuses: the overall status and the
// recommendation and store services follow Ready; the others only need the
// store.
func (s *Server) updateHealth() {
	status := healthpb.HealthCheckResponse_NOT_SERVING
	if s.ready() {
		status = healthpb.HealthCheckResponse_SERVING
	}
	for _, svc := range readyServices {
		s.health.SetServingStatus(svc, status)
	}
	for _, svc := range storeServices {
		s.health.SetServingStatus(svc, healthpb.HealthCheckResponse_SERVING)
	}
}

// ready reports whether the server is ready for traffic.
func (s *Server) ready() bool { return !s.draining.Load() && s.cfg.Ready() }
