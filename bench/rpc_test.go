package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/discret-io/discret/features/ingest"
	"github.com/discret-io/discret/serve"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/auth"
	"github.com/discret-io/discret/serve/rpc"
)

// loopbackServer is the real server (serve.Server with rpc.API over an
// encrypted on-disk store, every interceptor on, rate limits off) serving
// gRPC and REST on loopback listeners.
type loopbackServer struct {
	grpcAddr, httpURL string
	key               string
}

// startLoopback starts a server whose store holds consent records of the
// customers "customer-0" … "customer-(n−1)".
func startLoopback(b *testing.B, customers int) *loopbackServer {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	db, ps, _ := consentStore(b, customers) // closed after the server stops: cleanups run last first
	in, err := ingest.New(ingest.Config{Pseudonyms: ps}, db)
	if err != nil {
		b.Fatal(err)
	}
	api, err := rpc.New(rpc.Config{Pseudonyms: ps, Store: db, Events: in})
	if err != nil {
		b.Fatal(err)
	}
	keys, err := auth.Open(ctx, auth.Config{Store: db})
	if err != nil {
		b.Fatal(err)
	}
	token, _, err := keys.Create(ctx, "bench", auth.All)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := serve.New(serve.Config{API: api, Keys: keys, RateLimit: -1})
	if err != nil {
		b.Fatal(err)
	}
	gl, hl, err := serve.Listen("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, gl, hl) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	})
	return &loopbackServer{grpcAddr: gl.Addr().String(), httpURL: "http://" + hl.Addr().String(), key: token}
}

// BenchmarkRoundTrip measures a cheap RPC, GetConsent (pseudonymize, one
// consent read), end to end through the real server on loopback: client
// encoding, TCP, authentication and the other interceptors, the handler,
// and for REST the gateway's JSON translation and its own gRPC hop. With
// clients=8, ns/op is wall time per request of all clients together, and
// req/s the combined throughput. The client shares the two cores with the
// server.
func BenchmarkRoundTrip(b *testing.B) {
	const customers = 1000
	s := startLoopback(b, customers)
	for _, clients := range []int{1, 8} {
		b.Run(fmt.Sprintf("transport=grpc/rpc=GetConsent/clients=%d", clients), func(b *testing.B) {
			conn, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			c := discretv1.NewConsentServiceClient(conn)
			md := metadata.Pairs("authorization", "Bearer "+s.key)
			parallel(b, clients, func(r *rand.Rand) error {
				ctx := metadata.NewOutgoingContext(context.Background(), md)
				_, err := c.GetConsent(ctx, &discretv1.GetConsentRequest{Customer: fmt.Sprintf("customer-%d", r.IntN(customers))})
				return err
			})
		})
		b.Run(fmt.Sprintf("transport=rest/rpc=GetConsent/clients=%d", clients), func(b *testing.B) {
			hc := newHTTPClient(clients)
			defer hc.CloseIdleConnections()
			parallel(b, clients, func(r *rand.Rand) error {
				u := s.httpURL + "/v1/customers/" + url.PathEscape(fmt.Sprintf("customer-%d", r.IntN(customers))) + "/consent"
				req, err := http.NewRequest(http.MethodGet, u, nil)
				if err != nil {
					return err
				}
				req.Header.Set("Authorization", "Bearer "+s.key)
				resp, err := hc.Do(req)
				if err != nil {
					return err
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("HTTP %d", resp.StatusCode)
				}
				return err
			})
		})
	}
}

// parallel runs call b.N times from the given number of goroutines and
// reports the combined throughput.
func parallel(b *testing.B, clients int, call func(*rand.Rand) error) {
	b.Helper()
	var seed atomic.Uint64
	// Warm the connections outside the timer.
	r := rand.New(rand.NewPCG(0, 0))
	for range clients {
		if err := call(r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((clients + procs - 1) / procs) // goroutines: GOMAXPROCS × this ≥ clients
	if clients == 1 {
		for b.Loop() {
			if err := call(r); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		b.RunParallel(func(pb *testing.PB) {
			r := rand.New(rand.NewPCG(seed.Add(1), 1))
			for pb.Next() {
				if err := call(r); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
