package bench

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
)

// refusingRecommender refuses every Recommend with its status.
type refusingRecommender struct {
	discretv1.UnimplementedRecommendationServiceServer
	st func(customer string) *status.Status
}

func (s refusingRecommender) Recommend(_ context.Context, r *discretv1.RecommendRequest) (*discretv1.RecommendResponse, error) {
	return nil, s.st(r.GetCustomer()).Err()
}

// TestLoadErrorSamples: a refused request's sample has the server's own
// message (the REST error body's "message", the gRPC status message) on
// one line, bounded, without the customer identifier.
func TestLoadErrorSamples(t *testing.T) {
	const customer = "jane.secret@example.com"
	long := strings.Repeat("x", 5000)
	for _, tt := range []struct {
		name   string
		status int    // REST status; 0: a gRPC server
		body   string // REST body, or the gRPC status message
		code   string // the sample's code
		want   string // the sample
	}{
		{"REST gateway JSON", http.StatusUnauthorized, `{"code":16,"message":"invalid API key","details":[]}`, "http_401", "HTTP 401 Unauthorized: invalid API key"},
		{"REST plain text", http.StatusBadGateway, "upstream\n  is down\n", "http_502", "HTTP 502 Bad Gateway: upstream is down"},
		{"REST empty body", http.StatusServiceUnavailable, "", "http_503", "HTTP 503 Service Unavailable"},
		{"REST long body", http.StatusUnauthorized, `{"message":"` + long + `"}`, "http_401", "HTTP 401 Unauthorized: " + strings.Repeat("x", 199) + "…"},
		{"REST quoting the customer", http.StatusForbidden, `{"message":"no consent from jane.secret@example.com (jane.secret%40example.com)"}`, "http_403", "HTTP 403 Forbidden: no consent from {customer} ({customer})"},
		{"gRPC", 0, "invalid API key", "Unauthenticated", "invalid API key"},
		{"gRPC quoting the customer", 0, "no consent from jane.secret@example.com", "Unauthenticated", "no consent from {customer}"},
		{"gRPC long message", 0, long, "Unauthenticated", strings.Repeat("x", maxSample-1) + "…"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var target string
			if tt.status != 0 {
				s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					w.WriteHeader(tt.status)
					w.Write([]byte(tt.body))
				}))
				t.Cleanup(s.Close)
				target = s.URL
			} else {
				lis, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				s := grpc.NewServer()
				discretv1.RegisterRecommendationServiceServer(s, refusingRecommender{st: func(string) *status.Status {
					return status.New(codes.Unauthenticated, tt.body)
				}})
				go s.Serve(lis)
				t.Cleanup(s.Stop)
				target = "grpc://" + lis.Addr().String()
			}
			rep, err := Load(t.Context(), LoadConfig{Target: target, APIKey: "wrong", Customers: []string{customer}, Requests: 3, Warmup: -1})
			if err != nil {
				t.Fatal(err)
			}
			if got := rep.Samples[tt.code]; rep.ByCode[tt.code] != 3 || got != tt.want {
				t.Errorf("Load against %s: by code %v, sample %q; want 3 %s with sample %q", tt.name, rep.ByCode, got, tt.code, tt.want)
			}
		})
	}
}

// TestRedact: the customer is replaced where it stands alone, raw or
// escaped, not inside a longer word or number.
func TestRedact(t *testing.T) {
	for _, tt := range []struct{ msg, customer, want string }{
		{"customer 4 unknown (HTTP 401, 4/4)", "4", "customer {customer} unknown (HTTP 401, {customer}/{customer})"},
		{"a/b c+d and a%2Fb%20c+d and a%2Fb+c%2Bd", "a/b c+d", "{customer} and {customer} and {customer}"},
		{"nothing here", "", "nothing here"},
		{"ann@example.org.", "ann@example.org", "{customer}."},
	} {
		if got := redact(tt.msg, tt.customer); got != tt.want {
			t.Errorf("redact(%q, %q) = %q, want %q", tt.msg, tt.customer, got, tt.want)
		}
	}
}

// TestLoadRateLimited: answers of the server's rate limit are counted as
// rate limited, with the longest delay they asked for (REST Retry-After,
// gRPC RetryInfo), and the note rounds it up to whole seconds, never "0 s".
func TestLoadRateLimited(t *testing.T) {
	for _, tt := range []struct {
		name       string
		status     int    // REST status; 0: a gRPC server
		header     string // REST Retry-After
		grpcCode   codes.Code
		grpcDelay  time.Duration // RetryInfo; 0: none
		limited    int64
		retryAfter time.Duration
		note       string // in RateLimitNote; "": no note
	}{
		{name: "REST 429 Retry-After 2", status: http.StatusTooManyRequests, header: "2", limited: 3, retryAfter: 2 * time.Second, note: "which asked to retry after 2 s: 'discret serve --rate-limit'"},
		{name: "REST 429 without Retry-After", status: http.StatusTooManyRequests, limited: 3, note: "which did not say when to retry"},
		{name: "REST 503 Retry-After 5", status: http.StatusServiceUnavailable, header: "5"},
		{name: "gRPC RetryInfo 300µs", grpcCode: codes.ResourceExhausted, grpcDelay: 300 * time.Microsecond, limited: 3, retryAfter: 300 * time.Microsecond, note: "which asked to retry after 1 s: "},
		{name: "gRPC RetryInfo 1.2s", grpcCode: codes.ResourceExhausted, grpcDelay: 1200 * time.Millisecond, limited: 3, retryAfter: 1200 * time.Millisecond, note: "which asked to retry after 2 s: "},
		{name: "gRPC unavailable", grpcCode: codes.Unavailable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var target string
			if tt.status != 0 {
				s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					if tt.header != "" {
						w.Header().Set("Retry-After", tt.header)
					}
					w.WriteHeader(tt.status)
				}))
				t.Cleanup(s.Close)
				target = s.URL
			} else {
				lis, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				s := grpc.NewServer()
				discretv1.RegisterRecommendationServiceServer(s, refusingRecommender{st: func(string) *status.Status {
					st := status.New(tt.grpcCode, "slow down")
					if tt.grpcDelay > 0 {
						st, _ = st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(tt.grpcDelay)})
					}
					return st
				}})
				go s.Serve(lis)
				t.Cleanup(s.Stop)
				target = "grpc://" + lis.Addr().String()
			}
			rep, err := Load(t.Context(), LoadConfig{Target: target, APIKey: "k", Customers: []string{"c"}, Requests: 3, Warmup: -1})
			if err != nil {
				t.Fatal(err)
			}
			if rep.RateLimited != tt.limited || rep.RetryAfter != tt.retryAfter {
				t.Errorf("rate limited %d, retry after %v; want %d, %v", rep.RateLimited, rep.RetryAfter, tt.limited, tt.retryAfter)
			}
			note := rep.RateLimitNote()
			if tt.note == "" && note != "" || !strings.Contains(note, tt.note) || strings.Contains(note, "0 s") {
				t.Errorf("RateLimitNote() = %q, want it to contain %q", note, tt.note)
			}
		})
	}
}

func TestErrorKind(t *testing.T) {
	for code, want := range map[string]string{
		"http_429": KindRateLimited, "ResourceExhausted": KindRateLimited,
		"http_401": KindUnauthenticated, "Unauthenticated": KindUnauthenticated,
		"http_403": KindPermissionDenied, "PermissionDenied": KindPermissionDenied,
		"timeout": KindTimeout, "http_504": KindTimeout, "DeadlineExceeded": KindTimeout,
		"http_503": KindUnavailable, "Unavailable": KindUnavailable,
		"transport": KindTransport,
		"http_500":  KindServer, "http_502": KindServer, "Internal": KindServer,
		"http_400": KindRefused, "http_404": KindRefused, "InvalidArgument": KindRefused,
	} {
		if got := ErrorKind(code); got != want {
			t.Errorf("ErrorKind(%q) = %q, want %q", code, got, want)
		}
	}
	rep := &LoadReport{Requests: 100, Errors: 9, ByCode: map[string]int64{"http_429": 5, "timeout": 1, "http_504": 1, "http_400": 2}}
	if got, want := rep.ErrorSummary(), "rate limited 5, refused 2, timeout 2"; got != want {
		t.Errorf("ErrorSummary() = %q, want %q", got, want)
	}
}
