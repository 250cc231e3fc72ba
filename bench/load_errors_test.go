package bench

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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
