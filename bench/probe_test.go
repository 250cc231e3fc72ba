package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// answering starts a REST and a gRPC server that answer every request
// with httpStatus or code (and message), counting the requests that carry
// testKey; codes.OK serves the fake backend.
func answering(t *testing.T, httpStatus int, code codes.Code, message string) (restURL, grpcURL string, keyed *atomic.Int64) {
	t.Helper()
	keyed = new(atomic.Int64)
	rest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer "+testKey {
			keyed.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(httpStatus)
		fmt.Fprintf(w, `{"code":%d,"message":%q}`, code, message)
	}))
	t.Cleanup(rest.Close)
	grpcURL = fakeGRPC(t, newFakeBackend(), grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if authOf(ctx) == "Bearer "+testKey {
			keyed.Add(1)
		}
		if code != codes.OK {
			return nil, status.Error(code, message)
		}
		return h(ctx, req)
	}))
	return rest.URL, grpcURL, keyed
}

// TestProbe: the probe sends one request with the key; a key the server
// refuses (401/403, UNAUTHENTICATED/PERMISSION_DENIED) fails at once with
// the server's answer, never the key; any other answer is left to the run.
func TestProbe(t *testing.T) {
	for _, tt := range []struct {
		name       string
		httpStatus int
		code       codes.Code
		message    string
		method     string
		rest, grpc string // the error; "" for none
	}{
		{"accepted", http.StatusOK, codes.OK, "", MethodRecommend, "", ""},
		{"unauthenticated", http.StatusUnauthorized, codes.Unauthenticated, "invalid API key", MethodRecommend,
			"the server refused the API key: HTTP 401 Unauthorized: invalid API key; no load was sent",
			"the server refused the API key: Unauthenticated: invalid API key; no load was sent"},
		{"revoked", http.StatusUnauthorized, codes.Unauthenticated, "API key revoked", MethodPopular,
			"the server refused the API key: HTTP 401 Unauthorized: API key revoked; no load was sent",
			"the server refused the API key: Unauthenticated: API key revoked; no load was sent"},
		{"scope missing", http.StatusForbidden, codes.PermissionDenied, "API key k1 (bench) lacks scope consent", MethodConsent,
			"the server refused the API key for the consent method: HTTP 403 Forbidden: API key k1 (bench) lacks scope consent; no load was sent",
			"the server refused the API key for the consent method: PermissionDenied: API key k1 (bench) lacks scope consent; no load was sent"},
		// Left to the run, which counts and reports them.
		{"starting", http.StatusServiceUnavailable, codes.Unavailable, "the server is starting", MethodRecommend, "", ""},
		{"rate limited", http.StatusTooManyRequests, codes.ResourceExhausted, "slow down", MethodRecommend, "", ""},
	} {
		restURL, grpcURL, keyed := answering(t, tt.httpStatus, tt.code, tt.message)
		for _, target := range []struct{ url, want string }{{restURL, tt.rest}, {grpcURL, tt.grpc}} {
			cfg := LoadConfig{Target: target.url, APIKey: testKey, Method: tt.method, Customers: []string{"LOY-1"}, Limit: 7}
			before := keyed.Load()
			err := Probe(context.Background(), cfg)
			if target.want == "" && err != nil || target.want != "" && (err == nil || err.Error() != target.want) {
				t.Errorf("%s: Probe(%s) = %v, want %q", tt.name, target.url, err, target.want)
			}
			if err != nil && strings.Contains(err.Error(), testKey) {
				t.Errorf("%s: Probe(%s) = %v: the error holds the API key", tt.name, target.url, err)
			}
			if n := keyed.Load() - before; n != 1 {
				t.Errorf("%s: Probe(%s) sent %d requests with the key, want 1", tt.name, target.url, n)
			}
		}
	}
}
