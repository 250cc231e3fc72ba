package serve_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/discret-io/discret/serve"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
)

// BenchmarkRoundTrip measures a cheap RPC (PopularItems from a fake engine)
// end to end on loopback TCP: client, transport, gateway (for REST),
// interceptor, handler and back. Logging goes to a discarding handler at
// the info level, so the log line is formatted; metrics are on.
func BenchmarkRoundTrip(b *testing.B) {
	h := startOn(b, func(c *serve.Config) {
		c.Logger = slog.New(slog.DiscardHandler)
		c.RateLimit = -1
	}, true)
	key := h.tokens["recommend"]
	b.Run("grpc", func(b *testing.B) {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+key)
		req, resp := &discretv1.PopularItemsRequest{Limit: 10}, &discretv1.PopularItemsResponse{}
		b.ReportAllocs()
		for b.Loop() {
			if err := h.conn.Invoke(ctx, discretv1.RecommendationService_PopularItems_FullMethodName, req, resp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rest", func(b *testing.B) {
		req, err := http.NewRequest("GET", baseURL+"/v1/popular?limit=10", nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		b.ReportAllocs()
		for b.Loop() {
			resp, err := h.http.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatal(resp.Status)
			}
		}
	})
}
