package serve_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/discret-io/discret/features/ingest"
	"github.com/discret-io/discret/features/store/storetest"
	"github.com/discret-io/discret/serve"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/auth"
	"github.com/discret-io/discret/serve/rpc"
)

// newServer returns a server of a minimal API, edited by edit.
func newServer(t *testing.T, edit func(*serve.Config)) *serve.Server {
	t.Helper()
	clock := storetest.NewClock(storetest.Epoch)
	db := storetest.OpenMemory(t, clock.Now)
	keys, err := auth.Open(t.Context(), auth.Config{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	ps := newPseudonyms(t)
	in, err := ingest.New(ingest.Config{Pseudonyms: ps}, db)
	if err != nil {
		t.Fatal(err)
	}
	api, err := rpc.New(rpc.Config{Pseudonyms: ps, Store: db, Events: in})
	if err != nil {
		t.Fatal(err)
	}
	cfg := serve.Config{API: api, Keys: keys}
	if edit != nil {
		edit(&cfg)
	}
	srv, err := serve.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// serveOn runs srv on gl and hl until the test ends.
func serveOn(t *testing.T, srv *serve.Server, gl, hl net.Listener) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, gl, hl) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v", err)
		}
	})
}

// TestListenAnswersWhileStarting: between Listen and Serve (while discret
// serve sets up), the listeners answer at once: /healthz 200, /readyz and
// the API 503 UNAVAILABLE, gRPC health NOT_SERVING and the API
// UNAVAILABLE, once the stand-in's grace (250 ms) is over; once Serve
// runs, the same clients reach the server. Each call has 2 s: without a
// stand-in, nothing answers before Serve.
func TestListenAnswersWhileStarting(t *testing.T) {
	gl, hl, err := serve.Listen("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	get := func(path string) (int, http.Header, string) {
		t.Helper()
		resp, err := client.Get("http://" + hl.Addr().String() + path)
		if err != nil {
			t.Fatalf("GET %s while starting: %v", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(body)
	}
	for _, tt := range []struct {
		path   string
		status int
		body   string
	}{
		{"/healthz", 200, "ok\n"},
		{"/readyz", 503, "not ready: starting\n"},
		{"/v1/popular", 503, `"message":"the server is starting; retry in a moment"`},
		{"/v1/customers/c1/recommendations", 503, `"code":14`},
		{"/metrics", 503, `"code":14`},
	} {
		code, header, body := get(tt.path)
		if code != tt.status || !strings.Contains(body, tt.body) {
			t.Errorf("GET %s while starting = %d %q, want %d with %q", tt.path, code, body, tt.status, tt.body)
		}
		if code == 503 && tt.path != "/readyz" && header.Get("Retry-After") != "1" {
			t.Errorf("GET %s while starting: Retry-After %q, want 1", tt.path, header.Get("Retry-After"))
		}
	}

	conn, err := grpc.NewClient(gl.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	call := func() (context.Context, context.CancelFunc) { return context.WithTimeout(t.Context(), 2*time.Second) }
	health := healthpb.NewHealthClient(conn)
	for _, svc := range []string{"", discretv1.RecommendationService_ServiceDesc.ServiceName, discretv1.EventService_ServiceDesc.ServiceName} {
		ctx, cancel := call()
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		cancel()
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Errorf("health Check(%q) while starting = %v, %v; want NOT_SERVING", svc, resp, err)
		}
	}
	ctx, cancel := call()
	err = conn.Invoke(ctx, discretv1.ConsentService_GetConsent_FullMethodName, &discretv1.GetConsentRequest{Customer: "c1"}, &discretv1.ConsentState{})
	cancel()
	if s := status.Convert(err); s.Code() != codes.Unavailable || s.Message() != "the server is starting; retry in a moment" {
		t.Errorf("GetConsent while starting = %v, want UNAVAILABLE saying the server is starting", err)
	}

	serveOn(t, newServer(t, nil), gl, hl)
	// The stand-in's gRPC connection is sent away (GOAWAY): the client
	// reconnects to the server.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := call()
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("health Check after Serve = %v, %v; want SERVING", resp, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel = call()
	err = conn.Invoke(ctx, discretv1.ConsentService_GetConsent_FullMethodName, &discretv1.GetConsentRequest{Customer: "c1"}, &discretv1.ConsentState{})
	cancel()
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("GetConsent without a key after Serve = %v, want UNAUTHENTICATED from the server", err)
	}
	if code, _, body := get("/readyz"); code != 200 {
		t.Errorf("GET /readyz after Serve = %d %q, want 200", code, body)
	}
	var e struct{ Code int }
	if code, _, body := get("/v1/popular"); code != 401 || json.Unmarshal([]byte(body), &e) != nil || e.Code != int(codes.Unauthenticated) {
		t.Errorf("GET /v1/popular without a key after Serve = %d %q, want 401 from the server", code, body)
	}
}

// TestListenServesEarlyRequests: a request made just before Serve (a
// client that connects as soon as discret serve says it serves) is
// answered by the server, not by the stand-in.
func TestListenServesEarlyRequests(t *testing.T) {
	gl, hl, err := serve.Listen("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", hl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /v1/popular HTTP/1.1\r\nHost: discret\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // well within the stand-in's grace
	serveOn(t, newServer(t, nil), gl, hl)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /v1/popular sent just before Serve = %d %s, want 401 from the server", resp.StatusCode, body)
	}
}

// TestListenTLSWaits: a TLS connection made before Serve cannot be
// answered by the stand-in, which has no certificate: it waits, and is
// served once Serve runs.
func TestListenTLSWaits(t *testing.T) {
	certPEM, keyPEM := selfSigned(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	gl, hl, err := serve.Listen("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	tlsConfig := &tls.Config{RootCAs: pool, ServerName: "discret.test"}
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig}}
	defer client.CloseIdleConnections()
	type result struct {
		status int
		at     time.Time
		err    error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := client.Get("https://" + hl.Addr().String() + "/healthz")
		if err != nil {
			got <- result{err: err}
			return
		}
		resp.Body.Close()
		got <- result{status: resp.StatusCode, at: time.Now()}
	}()
	conn, err := grpc.NewClient(gl.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	gotRPC := make(chan error, 1)
	go func() {
		// Waits for the connection (the default), here for the server.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
		if err == nil && resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			err = status.Errorf(codes.Unknown, "status %v", resp.GetStatus())
		}
		gotRPC <- err
	}()
	time.Sleep(300 * time.Millisecond)
	served := time.Now()
	serveOn(t, newServer(t, func(c *serve.Config) { c.TLSCertFile, c.TLSKeyFile = certFile, keyFile }), gl, hl)
	r := <-got
	if r.err != nil || r.status != 200 || r.at.Before(served) {
		t.Errorf("GET https /healthz made before Serve = %d, %v (at %v, Serve at %v); want 200 from the server", r.status, r.err, r.at, served)
	}
	if err := <-gotRPC; err != nil {
		t.Errorf("gRPC health Check over TLS made before Serve = %v, want SERVING", err)
	}
}

// TestListenClose: closing the listeners of Listen without Serve (discret
// serve fails to set up) frees the addresses and ends the connections
// waiting in them.
func TestListenClose(t *testing.T) {
	gl, hl, err := serve.Listen("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// A TLS handshake waits for a server that will not come.
	c, err := net.Dial("tcp", hl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte{0x16, 3, 1, 0, 1, 0}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	gl.Close()
	hl.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil || os.IsTimeout(err) {
		t.Errorf("a waiting connection after Close: read %d, %v; want it closed", n, err)
	}
	for _, l := range []net.Listener{gl, hl} {
		again, err := net.Listen("tcp", l.Addr().String())
		if err != nil {
			t.Errorf("listening again on %s after Close: %v", l.Addr(), err)
			continue
		}
		again.Close()
	}
}
