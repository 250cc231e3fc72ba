package serve_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/discret-io/discret/features/ingest"
	"github.com/discret-io/discret/features/store/storetest"
	"github.com/discret-io/discret/serve"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/auth"
	"github.com/discret-io/discret/serve/rpc"
)

// TestLogsHoldNoSecrets makes requests of every kind with distinctive
// customer ids — valid, invalid, in paths, bodies and queries, failing and
// succeeding — and checks that the logs name routes, methods and keys but
// never a customer id, an API key or its secret.
func TestLogsHoldNoSecrets(t *testing.T) {
	h := start(t, nil)
	ctx := t.Context()
	const marker = "zq-secret-customer-"
	ids := []string{marker + "1@example.com", marker + "2/with/slashes", marker + "3 space", marker + strings.Repeat("x", 300)}
	all := h.tokens["all"]
	for _, id := range ids {
		esc := url.PathEscape(id)
		h.rest(ctx, "GET", "/v1/customers/"+esc+"/recommendations?store="+url.QueryEscape(id), all, "")
		h.rest(ctx, "PUT", "/v1/customers/"+esc+"/consent", all, `{"changes":[{"purpose":"personalization","granted":true}]}`)
		h.rest(ctx, "POST", "/v1/events", all, `{"events":[{"customer":`+quote(id)+`,"item":"SKU-1","type":"purchase","time":"`+eventTime+`"},{"customer":`+quote(id)+`,"type":"bad"}]}`)
		h.rest(ctx, "GET", "/v1/customers/"+esc+":export", all, "")
		h.rest(ctx, "GET", "/v1/customers/"+esc+":export", h.tokens["recommend"], "") // 403
		h.rest(ctx, "DELETE", "/v1/customers/"+esc, "", "")                           // 401
		h.rest(ctx, "POST", "/v1/stores/s1/entries", all, `{"customer":`+quote(id)+`}`)
		h.rest(ctx, "GET", "/v1/no/such/"+esc, all, "") // 404
		h.invoke(ctx, discretv1.ConsentService_GetConsent_FullMethodName, all, &discretv1.GetConsentRequest{Customer: id}, &discretv1.ConsentState{})
		h.invoke(ctx, discretv1.AdminService_ForgetCustomer_FullMethodName, all, &discretv1.ForgetCustomerRequest{Customer: id}, &discretv1.ForgetCustomerResponse{})
		h.invoke(ctx, discretv1.RecommendationService_Recommend_FullMethodName, "dsk_bad_"+id, &discretv1.RecommendRequest{Customer: id}, &discretv1.RecommendResponse{})
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	logs := h.logs.String()
	for _, secret := range append([]string{marker, "secret-customer", url.PathEscape(marker)}, tokenParts(h.tokens)...) {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
	// The logs are useful: one line per request, with route or method, the
	// outcome and the key.
	var requests, withKey int
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(nil, 1<<20)
	routes := map[string]bool{}
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if line["msg"] != "request" {
			continue
		}
		requests++
		if r, ok := line["route"].(string); ok {
			routes[r] = true
		}
		if k, ok := line["key"].(map[string]any); ok && k["name"] == "key-all" && k["id"] != "" {
			withKey++
		}
	}
	if want := len(ids) * 11; requests != want {
		t.Errorf("logged %d requests, want %d (one line each)", requests, want)
	}
	if withKey < len(ids)*7 {
		t.Errorf("only %d request lines name the key-all key", withKey)
	}
	for _, r := range []string{"GET /v1/customers/{customer}/recommendations", "PUT /v1/customers/{customer}/consent", "GET /v1/customers/{customer}:export", "unmatched"} {
		if !routes[r] {
			t.Errorf("no request logged with route %q (routes: %v)", r, routes)
		}
	}
}

// TestRefusedRESTRequestsLogged: a REST request that a gateway middleware
// refuses before it reaches the gRPC server (no key, a query parameter the
// route does not take, a path that is not UTF-8, a body that contradicts
// the path) is logged like the others, with its route, the method it was
// for and the status code.
func TestRefusedRESTRequestsLogged(t *testing.T) {
	h := start(t, nil)
	ctx := t.Context()
	all := h.tokens["all"]
	for _, tt := range []struct {
		method, path, key, body string
		status                  int
	}{
		{"GET", "/v1/popular", "", "", http.StatusUnauthorized},
		{"GET", "/v1/popular?categroy=shoes", all, "", http.StatusBadRequest},
		{"GET", "/v1/items/%FF/similar", all, "", http.StatusBadRequest},
		{"PUT", "/v1/items/A", all, `{"item":"B"}`, http.StatusBadRequest},
	} {
		if got := h.rest(ctx, tt.method, tt.path, tt.key, tt.body); got.status != tt.status {
			t.Errorf("%s %s: status %d, want %d (%s)", tt.method, tt.path, got.status, tt.status, got.body)
		}
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	var got []string
	sc := bufio.NewScanner(strings.NewReader(h.logs.String()))
	for sc.Scan() {
		var line struct{ Msg, Route, Method, Code string }
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if line.Msg == "request" {
			got = append(got, line.Route+" "+line.Method+" "+line.Code)
		}
	}
	want := []string{
		"GET /v1/popular /discret.v1.RecommendationService/PopularItems Unauthenticated",
		"GET /v1/popular /discret.v1.RecommendationService/PopularItems InvalidArgument",
		"GET /v1/items/{item}/similar /discret.v1.RecommendationService/SimilarItems InvalidArgument",
		"PUT /v1/items/{item} /discret.v1.AdminService/UpsertItem InvalidArgument",
	}
	if !slices.Equal(got, want) {
		t.Errorf("request log lines (route method code):\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// tokenParts returns every key and its secret half.
func tokenParts(tokens map[string]string) []string {
	var out []string
	for _, tok := range tokens {
		out = append(out, tok, tok[len(tok)-52:])
	}
	return out
}

// TestTLS serves on loopback TCP with a self-signed certificate: REST and
// gRPC clients trusting it get through, and the gateway reaches the gRPC
// listener over TLS.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	clock := storetest.NewClock(storetest.Epoch)
	db := storetest.OpenMemory(t, clock.Now)
	keys, err := auth.Open(t.Context(), auth.Config{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := keys.Create(t.Context(), "tls", auth.Consent)
	if err != nil {
		t.Fatal(err)
	}
	ps := newPseudonyms(t)
	in, err := ingest.New(ingest.Config{Pseudonyms: ps, Now: clock.Now}, db)
	if err != nil {
		t.Fatal(err)
	}
	api, err := rpc.New(rpc.Config{Pseudonyms: ps, Store: db, Events: in})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serve.New(serve.Config{API: api, Keys: keys, TLSCertFile: certFile, TLSKeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	gl, hl, err := serve.Listen("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, gl, hl) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v", err)
		}
	}()

	// trusting is a client's TLS configuration that trusts roots only.
	trusting := func(roots []byte) *tls.Config {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(roots)
		return &tls.Config{RootCAs: pool, ServerName: "discret.test"}
	}
	// get reads the customer's consent over REST, trusting roots only.
	get := func(roots []byte) (int, string, error) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: trusting(roots)}}
		defer c.CloseIdleConnections()
		req, _ := http.NewRequestWithContext(t.Context(), "GET", "https://"+hl.Addr().String()+"/v1/customers/c1/consent", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := c.Do(req)
		if err != nil {
			return 0, "", err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(body), nil
	}
	code, body, err := get(certPEM)
	if err != nil {
		t.Fatalf("REST over TLS: %v", err)
	}
	if code != 200 || !strings.Contains(body, "personalization") {
		t.Errorf("REST over TLS = %d %s", code, body)
	}
	// Plain HTTP is refused.
	if resp, err := http.Get("http://" + hl.Addr().String() + "/healthz"); err == nil {
		if resp.StatusCode == 200 {
			t.Error("plain HTTP on the TLS listener = 200")
		}
		resp.Body.Close()
	}

	conn, err := grpc.NewClient(gl.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(trusting(certPEM))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	octx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+token)
	var st discretv1.ConsentState
	if err := conn.Invoke(octx, discretv1.ConsentService_GetConsent_FullMethodName, &discretv1.GetConsentRequest{Customer: "c1"}, &st); err != nil {
		t.Errorf("gRPC over TLS: %v", err)
	}
	// A key without the scope is refused over TLS too.
	if err := conn.Invoke(octx, discretv1.AdminService_ForgetCustomer_FullMethodName, &discretv1.ForgetCustomerRequest{Customer: "c1"}, &discretv1.ForgetCustomerResponse{}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("ForgetCustomer with a consent key over TLS = %v, want PermissionDenied", err)
	}

	// A renewed certificate: files that are not a pair are refused and the
	// old certificate is still served; a new pair is served to the
	// connections made after ReloadTLS, on both listeners, and the gateway
	// still reaches the gRPC listener.
	newCert, newKey := selfSigned(t)
	if err := os.WriteFile(certFile, newCert, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.ReloadTLS(); err == nil {
		t.Error("ReloadTLS with the new certificate and the old key = nil, want an error")
	}
	if code, _, err := get(certPEM); code != 200 {
		t.Errorf("after a failed reload, REST trusting the old certificate = %d, %v; want 200", code, err)
	}
	if err := os.WriteFile(keyFile, newKey, 0o600); err != nil {
		t.Fatal(err)
	}
	if exp, err := srv.ReloadTLS(); err != nil || exp.Before(time.Now()) {
		t.Fatalf("ReloadTLS = %v, %v; want the new certificate's future expiry", exp, err)
	}
	if code, _, err := get(newCert); code != 200 {
		t.Errorf("after the reload, REST trusting the new certificate = %d, %v; want 200 (the gateway reaching gRPC over TLS)", code, err)
	}
	if _, _, err := get(certPEM); err == nil {
		t.Error("after the reload, a client trusting only the old certificate got through")
	}
	conn2, err := grpc.NewClient(gl.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(trusting(newCert))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	if err := conn2.Invoke(octx, discretv1.ConsentService_GetConsent_FullMethodName, &discretv1.GetConsentRequest{Customer: "c1"}, &st); err != nil {
		t.Errorf("gRPC over TLS with the reloaded certificate: %v", err)
	}
}

// selfSigned returns a PEM certificate for discret.test (and no IP
// address: the gateway must not rely on names to reach its own listener)
// and its key.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "discret.test"},
		DNSNames:     []string{"discret.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// TestListenerFailure: Serve returns an error (and shuts down cleanly) when a
// listener fails.
func TestListenerFailure(t *testing.T) {
	clock := storetest.NewClock(storetest.Epoch)
	db := storetest.OpenMemory(t, clock.Now)
	keys, _ := auth.Open(t.Context(), auth.Config{Store: db})
	ps := newPseudonyms(t)
	in, _ := ingest.New(ingest.Config{Pseudonyms: ps}, db)
	api, _ := rpc.New(rpc.Config{Pseudonyms: ps, Store: db, Events: in})
	srv, err := serve.New(serve.Config{API: api, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	gl, hl, err := serve.Listen("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hl.Close() // the HTTP listener dies at once
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), gl, hl) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "HTTP") {
			t.Errorf("Serve with a closed HTTP listener = %v, want an HTTP error", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return after its listener failed")
	}
	if _, err := net.Dial("tcp", gl.Addr().String()); err == nil {
		t.Error("the gRPC listener still accepts after Serve returned")
	}
	// Serve runs once.
	gl2, hl2, _ := serve.Listen("127.0.0.1:0", "127.0.0.1:0")
	if err := srv.Serve(context.Background(), gl2, hl2); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("second Serve = %v, want an error", err)
	}
}
