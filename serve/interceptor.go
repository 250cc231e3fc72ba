package serve

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/tap"

	"github.com/discret-io/discret/serve/apierr"
	"github.com/discret-io/discret/serve/auth"
)

// Metadata the gateway and the gRPC server exchange about a REST request.
const (
	// gatewayHeader carries Server.marker on the gateway's calls.
	gatewayHeader = "discret-gateway"
	// keyIDHeader and keyNameHeader tell the gateway which API key made a
	// call, for its log line, and credentialHeader that it was through a
	// customer token that key minted. They are never sent to REST clients
	// (the gateway forwards no gRPC metadata).
	keyIDHeader      = "discret-key-id"
	keyNameHeader    = "discret-key-name"
	credentialHeader = "discret-credential"
	customerToken    = "customer token"
)

// unaryInterceptor is the one interceptor of every unary RPC (see the
// package documentation for what it does, in order).
func (s *Server) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	start := time.Now()
	method := info.FullMethod
	viaGateway := s.fromGateway(ctx)
	var caller auth.Caller
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in handler", "method", method, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			resp, err = nil, apierr.New(apierr.Internal, "panic")
		}
		st := apierr.Status(err)
		code := st.Code()
		elapsed := time.Since(start)
		s.metrics.rpc.WithLabelValues(method, code.String()).Observe(elapsed.Seconds())
		if err == nil {
			s.metrics.observe(resp)
		}
		if viaGateway {
			if caller.Key.ID != "" {
				md := metadata.Pairs(keyIDHeader, caller.Key.ID, keyNameHeader, caller.Key.Name)
				if caller.CustomerToken {
					md.Set(credentialHeader, customerToken)
				}
				_ = grpc.SetHeader(ctx, md) // best effort: only a log line depends on it
			}
			if code == codes.Internal || code == codes.Unknown {
				s.log.LogAttrs(ctx, slog.LevelError, "internal error", slog.String("method", method), slog.String("error", err.Error()))
			}
		} else {
			s.logRPC(ctx, method, code, elapsed, caller, err)
		}
		if err != nil {
			err = st.Err()
		}
	}()
	// As on REST, a client without a valid key learns that before
	// anything else about its request. A customer token is bound to the
	// customer of the request: every call, the gateway's included, is
	// authorized here with the decoded request. A request refused as not
	// UTF-8 was not decoded; it is authorized without that check, since it
	// goes no further.
	invalid := s.codec.rejected(req)
	public := auth.IsPublic(method)
	switch {
	case public:
	case invalid != nil:
		caller, err = s.cfg.Keys.Preauthorize(ctx, method)
	default:
		caller, err = s.cfg.Keys.Authorize(ctx, method, req)
	}
	switch {
	case err != nil:
		return nil, err
	case invalid != nil:
		return nil, invalid
	case public:
		return handler(ctx, req)
	}
	if err := s.rateLimit(caller); err != nil {
		return nil, err
	}
	hctx, cancel := s.deadline(auth.NewContext(ctx, caller), method)
	defer cancel()
	return handler(hctx, req)
}

// checkCredential is the server's tap (grpc.InTapHandle): it refuses a call
// to a method of the API that comes without a valid API key or customer
// token (auth.Keys.Identify) as soon as its header arrives, before its
// message is read, with the status unaryInterceptor would answer: grpc-go
// reads a whole message, up to MaxRequestBytes, before any interceptor
// runs, so that a client without a key could make the server hold one per
// call. The refusal is observed and logged as the interceptor does. The
// tap runs in the connection's reader goroutine: it only looks the
// credential up (a map lookup and a hash); what the caller may call is the
// interceptor's to check. Only the listener's server has it: the gateway's
// requests are authorized before their body is read (Server.readBody).
func (s *Server) checkCredential(ctx context.Context, info *tap.Info) (context.Context, error) {
	method := info.FullMethodName
	if !s.guarded[method] {
		return ctx, nil
	}
	start := time.Now()
	caller, err := s.cfg.Keys.Identify(ctx)
	if err == nil {
		return ctx, nil
	}
	st := apierr.Status(err)
	elapsed := time.Since(start)
	s.metrics.rpc.WithLabelValues(method, st.Code().String()).Observe(elapsed.Seconds())
	s.logRPC(ctx, method, st.Code(), elapsed, caller, err)
	return ctx, st.Err()
}

// guardedMethods returns the methods checkCredential checks: those that gs
// serves through unaryInterceptor and that need a key. The streaming ones
// are left to streamInterceptor, which admits only public methods, and a
// method gs does not serve to grpc-go, which answers UNIMPLEMENTED.
func guardedMethods(gs *grpc.Server) map[string]bool {
	m := map[string]bool{}
	for service, info := range gs.GetServiceInfo() {
		for _, md := range info.Methods {
			full := "/" + service + "/" + md.Name
			if !md.IsClientStream && !md.IsServerStream && !auth.IsPublic(full) {
				m[full] = true
			}
		}
	}
	return m
}

// rateLimit takes a token from the caller's bucket: its customer token's,
// which counts apart from the key that minted it, or its API key's. Out of
// tokens, it returns the refusal, with the delay after which to retry.
func (s *Server) rateLimit(caller auth.Caller) *apierr.Error {
	var wait time.Duration
	var ok bool
	var err *apierr.Error
	switch {
	case caller.CustomerToken && s.tokenLimits != nil:
		if wait, ok = s.tokenLimits.allow(caller.Token, caller.TokenExpiry); !ok {
			// Neither the token nor its customer is named.
			err = apierr.New(apierr.ResourceExhausted,
				"rate limit of %g requests/s per customer token exceeded; retry in %s s", s.cfg.TokenRateLimit, retryAfter(wait))
		}
	case !caller.CustomerToken && s.limits != nil:
		if wait, ok = s.limits.allow(caller.Key.ID, time.Time{}); !ok {
			err = apierr.New(apierr.ResourceExhausted,
				"rate limit of %g requests/s for API key %s exceeded; retry in %s s", s.cfg.RateLimit, caller.Key.ID, retryAfter(wait))
		}
	}
	if err != nil {
		err.RetryAfter = wait // a RetryInfo detail; Retry-After on REST
	}
	return err
}

// streamInterceptor admits only the public streaming methods (health
// watch, reflection): the API itself has no streams, and deny by default
// covers any that would be added without an entry in the scope table.
func (s *Server) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if !auth.IsPublic(info.FullMethod) {
		return apierr.Status(apierr.New(apierr.PermissionDenied, "method %s is not open to API keys", info.FullMethod)).Err()
	}
	return handler(srv, &checkedStream{ss, s.codec})
}

// checkedStream refuses the stream messages that requestCodec decoded as
// empty, as unaryInterceptor does for unary requests.
type checkedStream struct {
	grpc.ServerStream
	codec *requestCodec
}

func (c *checkedStream) RecvMsg(m any) error {
	if err := c.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if err := c.codec.rejected(m); err != nil {
		return apierr.Status(err).Err()
	}
	return nil
}

// fromGateway reports whether the call came from this server's gateway.
func (s *Server) fromGateway(ctx context.Context) bool {
	v := metadata.ValueFromIncomingContext(ctx, gatewayHeader)
	return len(v) == 1 && subtle.ConstantTimeCompare([]byte(v[0]), []byte(s.marker)) == 1
}

// deadline applies the default deadline of method if ctx has none, and caps
// the one it has at MaxTimeout.
func (s *Server) deadline(ctx context.Context, method string) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok {
		if time.Until(d) <= s.cfg.MaxTimeout {
			return ctx, func() {}
		}
		return context.WithTimeout(ctx, s.cfg.MaxTimeout)
	}
	t, ok := s.cfg.MethodTimeouts[method]
	if !ok {
		t = s.cfg.DefaultTimeout
	}
	return context.WithTimeout(ctx, min(t, s.cfg.MaxTimeout))
}

// logRPC logs a gRPC request. It never logs the request, the response or
// the API key or customer token itself, only the key's id and name and
// whether it came through a customer token. Internal errors are logged
// with their cause, which never contains customer data; client errors only
// with their code.
func (s *Server) logRPC(ctx context.Context, method string, code codes.Code, elapsed time.Duration, caller auth.Caller, err error) {
	level := slog.LevelInfo
	switch {
	case code == codes.Internal || code == codes.Unknown:
		level = slog.LevelError
	case auth.IsPublic(method):
		level = slog.LevelDebug
	}
	if !s.log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("transport", "grpc"),
		slog.String("method", method),
		slog.String("code", code.String()),
		slog.Duration("duration", elapsed),
	}
	if caller.Key.ID != "" {
		attrs = append(attrs, slog.Any("key", caller))
	}
	if level == slog.LevelError {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	s.log.LogAttrs(ctx, level, "request", attrs...)
}
