package serve_test

import (
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/discret-io/discret/features/store/storetest"
	"github.com/discret-io/discret/serve"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
)

// tokenCall is one use of a customer token, over both transports.
type tokenCall struct {
	name   string
	method string
	req    proto.Message
	resp   func() proto.Message
	// REST form.
	httpMethod, path, body string
	want                   codes.Code
	writes                 string // what the engine must have received
}

// mintREST mints a customer token over REST with key and returns it and
// its expiry.
func (h *harness) mintREST(t *testing.T, key, customerPath, body string) (string, string) {
	t.Helper()
	r := h.rest(t.Context(), "POST", "/v1/customers/"+customerPath+"/tokens", key, body)
	var got struct {
		Token      string `json:"token"`
		ExpireTime string `json:"expire_time"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &got) != nil || got.Token == "" {
		t.Fatalf("POST /v1/customers/%s/tokens %s = %d %s, want a token", customerPath, body, r.status, r.body)
	}
	return got.Token, got.ExpireTime
}

// TestCustomerTokens: a token minted by the back end's recommend key, over
// REST or gRPC, gets its own customer's recommendations and store entries
// and the non-personal lists, over both transports; another customer's are
// PERMISSION_DENIED, and nothing reaches the engine for them; every other
// method is refused.
func TestCustomerTokens(t *testing.T) {
	h := start(t, nil)
	ctx := t.Context()
	restToken, exp := h.mintREST(t, h.tokens["recommend"], "alice%40example.com", `{"ttl_seconds":600}`)
	if want := storetest.Epoch.Add(10 * time.Minute).Format(time.RFC3339); exp != want {
		t.Errorf("REST token expires %s, want %s", exp, want)
	}
	var ct discretv1.CustomerToken
	if st := h.invoke(ctx, discretv1.RecommendationService_CreateCustomerToken_FullMethodName, h.tokens["all"],
		&discretv1.CreateCustomerTokenRequest{Customer: "alice@example.com"}, &ct); st.Code() != codes.OK {
		t.Fatalf("CreateCustomerToken over gRPC = %v", st)
	}
	if got := ct.GetExpireTime().AsTime(); !got.Equal(storetest.Epoch.Add(15 * time.Minute)) {
		t.Errorf("gRPC token (no ttl_seconds) expires %v, want 15 minutes after %v", got, storetest.Epoch)
	}
	for _, tok := range []string{restToken, ct.GetToken()} {
		if !strings.HasPrefix(tok, "dct_") || strings.Contains(tok, "alice") {
			t.Errorf("token %q: want dct_… without the customer id", tok)
		}
	}

	const other = "this customer token is bound to another customer"
	calls := []tokenCall{
		{"Recommend, own customer", discretv1.RecommendationService_Recommend_FullMethodName,
			&discretv1.RecommendRequest{Customer: "alice@example.com", Limit: 5}, func() proto.Message { return &discretv1.RecommendResponse{} },
			"GET", "/v1/customers/alice%40example.com/recommendations?limit=5", "", codes.OK, ""},
		{"Recommend, another customer", discretv1.RecommendationService_Recommend_FullMethodName,
			&discretv1.RecommendRequest{Customer: "bob@example.com", ExcludePurchased: proto.Bool(false)}, func() proto.Message { return &discretv1.RecommendResponse{} },
			"GET", "/v1/customers/bob%40example.com/recommendations?exclude_purchased=false", "", codes.PermissionDenied, ""},
		{"EnterStore, own customer", discretv1.StoreService_EnterStore_FullMethodName,
			&discretv1.EnterStoreRequest{Store: "s1", Customer: "alice@example.com"}, func() proto.Message { return &discretv1.EnterStoreResponse{} },
			"POST", "/v1/stores/s1/entries", `{"customer":"alice@example.com"}`, codes.OK, "entry s1"},
		{"EnterStore, another customer", discretv1.StoreService_EnterStore_FullMethodName,
			&discretv1.EnterStoreRequest{Store: "s1", Customer: "bob@example.com"}, func() proto.Message { return &discretv1.EnterStoreResponse{} },
			"POST", "/v1/stores/s1/entries", `{"customer":"bob@example.com"}`, codes.PermissionDenied, ""},
		{"SimilarItems", discretv1.RecommendationService_SimilarItems_FullMethodName,
			&discretv1.SimilarItemsRequest{Item: "SKU-1"}, func() proto.Message { return &discretv1.SimilarItemsResponse{} },
			"GET", "/v1/items/SKU-1/similar", "", codes.OK, ""},
		{"PopularItems", discretv1.RecommendationService_PopularItems_FullMethodName,
			&discretv1.PopularItemsRequest{Store: "s1"}, func() proto.Message { return &discretv1.PopularItemsResponse{} },
			"GET", "/v1/popular?store=s1", "", codes.OK, ""},
		{"CreateCustomerToken", discretv1.RecommendationService_CreateCustomerToken_FullMethodName,
			&discretv1.CreateCustomerTokenRequest{Customer: "alice@example.com"}, func() proto.Message { return &discretv1.CustomerToken{} },
			"POST", "/v1/customers/alice%40example.com/tokens", "", codes.PermissionDenied, ""},
		{"GetConsent", discretv1.ConsentService_GetConsent_FullMethodName,
			&discretv1.GetConsentRequest{Customer: "alice@example.com"}, func() proto.Message { return &discretv1.ConsentState{} },
			"GET", "/v1/customers/alice%40example.com/consent", "", codes.PermissionDenied, ""},
		{"SetConsent", discretv1.ConsentService_SetConsent_FullMethodName,
			&discretv1.SetConsentRequest{Customer: "alice@example.com", Changes: []*discretv1.ConsentChange{{Purpose: "personalization", Granted: proto.Bool(false)}}},
			func() proto.Message { return &discretv1.SetConsentResponse{} },
			"PUT", "/v1/customers/alice%40example.com/consent", `{"changes":[{"purpose":"personalization","granted":false}]}`, codes.PermissionDenied, ""},
		{"WriteEvents", discretv1.EventService_WriteEvents_FullMethodName,
			&discretv1.WriteEventsRequest{Events: []*discretv1.Event{{Customer: "alice@example.com", Item: "SKU-1", Type: "view", Time: eventTime}}},
			func() proto.Message { return &discretv1.WriteEventsResponse{} },
			"POST", "/v1/events", `{"events":[{"customer":"alice@example.com","item":"SKU-1","type":"view","time":"` + eventTime + `"}]}`, codes.PermissionDenied, ""},
		{"ExportCustomer", discretv1.AdminService_ExportCustomer_FullMethodName,
			&discretv1.ExportCustomerRequest{Customer: "alice@example.com"}, func() proto.Message { return &discretv1.ExportCustomerResponse{} },
			"GET", "/v1/customers/alice%40example.com:export", "", codes.PermissionDenied, ""},
		{"ForgetCustomer", discretv1.AdminService_ForgetCustomer_FullMethodName,
			&discretv1.ForgetCustomerRequest{Customer: "alice@example.com"}, func() proto.Message { return &discretv1.ForgetCustomerResponse{} },
			"DELETE", "/v1/customers/alice%40example.com", "", codes.PermissionDenied, ""},
		{"ListApiKeys", discretv1.AdminService_ListApiKeys_FullMethodName,
			&discretv1.ListApiKeysRequest{}, func() proto.Message { return &discretv1.ListApiKeysResponse{} },
			"GET", "/v1/apikeys", "", codes.PermissionDenied, ""},
	}
	for _, tok := range []struct{ name, token string }{{"minted over REST", restToken}, {"minted over gRPC", ct.GetToken()}} {
		for _, c := range calls {
			st := h.invoke(ctx, c.method, tok.token, c.req, c.resp())
			if st.Code() != c.want {
				t.Errorf("token %s, %s over gRPC = %v %q, want %v", tok.name, c.name, st.Code(), st.Message(), c.want)
			}
			if w := strings.Join(h.eng.takeWrites(), ", "); w != c.writes {
				t.Errorf("token %s, %s over gRPC: the engine got %q, want %q", tok.name, c.name, w, c.writes)
			}
			r := h.rest(ctx, c.httpMethod, c.path, tok.token, c.body)
			if r.status != httpStatus(c.want) {
				t.Errorf("token %s, %s %s = %d %s, want %d", tok.name, c.httpMethod, c.path, r.status, r.body, httpStatus(c.want))
			}
			if w := strings.Join(h.eng.takeWrites(), ", "); w != c.writes {
				t.Errorf("token %s, %s %s: the engine got %q, want %q", tok.name, c.httpMethod, c.path, w, c.writes)
			}
			if strings.Contains(c.name, "another customer") && (st.Message() != other || r.json(t)["message"] != other) {
				t.Errorf("token %s, %s: messages %q and %s, want %q", tok.name, c.name, st.Message(), r.body, other)
			}
			if strings.Contains(st.Message()+string(r.body), "example.com") {
				t.Errorf("token %s, %s: an error echoes a customer id: %q, %s", tok.name, c.name, st.Message(), r.body)
			}
		}
	}
	// The back end's key still answers for any customer.
	if r := h.rest(ctx, "GET", "/v1/customers/bob%40example.com/recommendations", h.tokens["recommend"], ""); r.status != http.StatusOK {
		t.Errorf("recommend key for bob = %d %s, want 200", r.status, r.body)
	}
}

// TestCustomerTokenLifetime: the TTL is bounded; a token is refused with
// 401 from its expiry, at once when its minting key is revoked, and when
// it was tampered with; over both transports.
func TestCustomerTokenLifetime(t *testing.T) {
	h := start(t, nil)
	ctx := t.Context()
	rec := h.tokens["recommend"]

	for _, tt := range []struct {
		name, body string
		status     int
		expires    time.Duration // after now, if 200
		msg        string        // in the error, if not
	}{
		{"default", ``, 200, 15 * time.Minute, ""},
		{"zero", `{"ttl_seconds":0}`, 200, 15 * time.Minute, ""},
		{"one second", `{"ttl_seconds":1}`, 200, time.Second, ""},
		{"24 hours", `{"ttl_seconds":86400}`, 200, 24 * time.Hour, ""},
		{"over 24 hours", `{"ttl_seconds":86401}`, 400, 0, "ttl_seconds: must be 1-86400 (24 hours; 0 means 900), got 86401"},
		{"negative", `{"ttl_seconds":-5}`, 400, 0, "ttl_seconds: must be 1-86400"},
		{"out of int32", `{"ttl_seconds":99999999999}`, 400, 0, "ttl_seconds: want a whole number from -2147483648 to 2147483647"},
		{"body names another customer", `{"customer":"bob"}`, 400, 0, "customer: the body's customer differs from the path's"},
	} {
		r := h.rest(ctx, "POST", "/v1/customers/alice/tokens", rec, tt.body)
		if r.status != tt.status {
			t.Errorf("%s: POST /v1/customers/alice/tokens %s = %d %s, want %d", tt.name, tt.body, r.status, r.body, tt.status)
			continue
		}
		m := r.json(t)
		if tt.status == 200 && m["expire_time"] != h.clock.Now().Add(tt.expires).Format(time.RFC3339) {
			t.Errorf("%s: expire_time %v, want now + %v", tt.name, m["expire_time"], tt.expires)
		}
		if tt.status != 200 && !strings.Contains(string(r.body), tt.msg) {
			t.Errorf("%s: %s, want a message containing %q", tt.name, r.body, tt.msg)
		}
	}
	if st := h.invoke(ctx, discretv1.RecommendationService_CreateCustomerToken_FullMethodName, rec,
		&discretv1.CreateCustomerTokenRequest{Customer: "alice", TtlSeconds: 86401}, &discretv1.CustomerToken{}); st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), "ttl_seconds: ") {
		t.Errorf("CreateCustomerToken(ttl_seconds 86401) over gRPC = %v, want InvalidArgument naming ttl_seconds", st)
	}
	for _, k := range []string{"events", "consent", "admin"} {
		if r := h.rest(ctx, "POST", "/v1/customers/alice/tokens", h.tokens[k], ""); r.status != http.StatusForbidden {
			t.Errorf("minting with the %s key = %d %s, want 403", k, r.status, r.body)
		}
	}

	// use calls Recommend for alice over both transports and returns the
	// gRPC code, the HTTP status and the REST message.
	use := func(token string) (codes.Code, int, string) {
		st := h.invoke(ctx, discretv1.RecommendationService_Recommend_FullMethodName, token, &discretv1.RecommendRequest{Customer: "alice"}, &discretv1.RecommendResponse{})
		r := h.rest(ctx, "GET", "/v1/customers/alice/recommendations", token, "")
		msg, _ := r.json(t)["message"].(string)
		if r.status == http.StatusUnauthorized && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("401 without a Bearer challenge")
		}
		return st.Code(), r.status, msg
	}
	refused := func(name, token, msg string) {
		t.Helper()
		if code, status, got := use(token); code != codes.Unauthenticated || status != http.StatusUnauthorized || got != msg {
			t.Errorf("%s: gRPC %v, REST %d %q; want Unauthenticated, 401 %q", name, code, status, got, msg)
		}
	}

	// Tampering.
	token, _ := h.mintREST(t, rec, "alice", `{"ttl_seconds":600}`)
	if code, status, _ := use(token); code != codes.OK || status != http.StatusOK {
		t.Fatalf("fresh token: gRPC %v, REST %d", code, status)
	}
	for _, i := range []int{4, 13, 20, 60, len(token) - 2} {
		b := []byte(token)
		b[i] = map[bool]byte{true: 'b', false: 'a'}[b[i] == 'a']
		refused("character "+string(rune('0'+i%10))+" changed", string(b), "invalid customer token")
	}
	id, enc, _ := strings.Cut(strings.TrimPrefix(token, "dct_"), "_")
	b32 := base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
	body, err := b32.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint64(body[:8], binary.BigEndian.Uint64(body[:8])+86400)
	refused("expiry moved a day later", "dct_"+id+"_"+b32.EncodeToString(body), "invalid customer token")

	// Expiry, on the harness clock.
	h.clock.Advance(10*time.Minute - time.Second)
	if code, status, _ := use(token); code != codes.OK || status != http.StatusOK {
		t.Errorf("1 s before expiry: gRPC %v, REST %d; want OK, 200", code, status)
	}
	h.clock.Advance(time.Second)
	refused("expired", token, "customer token expired")

	// Revocation of the minting key revokes its tokens at once.
	r := h.rest(ctx, "POST", "/v1/apikeys", h.tokens["admin"], `{"name":"shop-backend","scopes":["recommend"]}`)
	var created struct {
		Key   struct{ ID string } `json:"key"`
		Token string              `json:"token"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &created) != nil {
		t.Fatalf("POST /v1/apikeys = %d %s", r.status, r.body)
	}
	token, _ = h.mintREST(t, created.Token, "alice", "")
	if code, status, _ := use(token); code != codes.OK || status != http.StatusOK {
		t.Fatalf("token of the new key: gRPC %v, REST %d", code, status)
	}
	if r := h.rest(ctx, "POST", "/v1/apikeys/"+created.Key.ID+":revoke", h.tokens["admin"], ""); r.status != http.StatusOK {
		t.Fatalf("revoke = %d %s", r.status, r.body)
	}
	refused("minting key revoked", token, "the API key that minted this customer token is revoked")
}

// TestCustomerTokenRateLimit: a customer token's requests count against a
// bucket of its own (TokenRateLimit, TokenRateBurst), over both transports,
// not against the key that minted it, which they used to exhaust: another
// token of the same customer, and the key itself, are not slowed down.
func TestCustomerTokenRateLimit(t *testing.T) {
	h := start(t, func(c *serve.Config) { c.RateLimit, c.RateBurst, c.TokenRateLimit, c.TokenRateBurst = 1, 3, 1, 2 })
	ctx := t.Context()
	rec := h.tokens["recommend"]
	token, _ := h.mintREST(t, rec, "alice", "")                   // the key's 1st request
	other, _ := h.mintREST(t, rec, "alice", `{"ttl_seconds":60}`) // 2nd: another expiry, another token
	popular := func(credential string) (int, restResponse) {
		st := h.invoke(ctx, discretv1.RecommendationService_PopularItems_FullMethodName, credential, &discretv1.PopularItemsRequest{}, &discretv1.PopularItemsResponse{})
		return httpStatus(st.Code()), h.rest(ctx, "GET", "/v1/popular", credential, "")
	}
	if g, r := popular(token); g != http.StatusOK || r.status != http.StatusOK { // the burst of 2
		t.Fatalf("token within its burst: gRPC %d, REST %d %s", g, r.status, r.body)
	}
	g, r := popular(token)
	if g != http.StatusTooManyRequests || r.status != http.StatusTooManyRequests {
		t.Errorf("token over its burst: gRPC %d, REST %d %s; want 429", g, r.status, r.body)
	}
	if want := "rate limit of 1 requests/s per customer token exceeded; retry in 1 s"; !strings.Contains(string(r.body), want) || r.header.Get("Retry-After") != "1" {
		t.Errorf("token over its burst: %s with Retry-After %q, want %q and 1", r.body, r.header.Get("Retry-After"), want)
	}
	if strings.Contains(string(r.body), token[len(token)-20:]) || strings.Contains(string(r.body), "alice") {
		t.Errorf("429 %s names the token or its customer", r.body)
	}
	if g, r := popular(other); g != http.StatusOK || r.status != http.StatusOK {
		t.Errorf("another token of the same customer: gRPC %d, REST %d %s; want its own bucket", g, r.status, r.body)
	}
	if r := h.rest(ctx, "GET", "/v1/popular", rec, ""); r.status != http.StatusOK { // the key's 3rd
		t.Errorf("the minting key after its tokens used theirs = %d %s, want 200", r.status, r.body)
	}
	h.clock.Advance(time.Second)
	if r := h.rest(ctx, "GET", "/v1/customers/alice/recommendations", token, ""); r.status != http.StatusOK {
		t.Errorf("token 1 s later = %d %s, want 200 (one request back)", r.status, r.body)
	}
	if r := h.rest(ctx, "GET", "/v1/customers/alice/recommendations", token, ""); r.status != http.StatusTooManyRequests {
		t.Errorf("token's second request 1 s later = %d %s, want 429", r.status, r.body)
	}
}

// TestCustomerTokenLogs: the logs name the minting key and say "customer
// token", over both transports, and never hold a token or the customer.
func TestCustomerTokenLogs(t *testing.T) {
	h := start(t, nil)
	ctx := t.Context()
	const marker = "zq-secret-customer@example.com"
	token, _ := h.mintREST(t, h.tokens["recommend"], "zq-secret-customer%40example.com", "")
	var ct discretv1.CustomerToken
	if st := h.invoke(ctx, discretv1.RecommendationService_CreateCustomerToken_FullMethodName, h.tokens["recommend"],
		&discretv1.CreateCustomerTokenRequest{Customer: marker}, &ct); st.Code() != codes.OK {
		t.Fatal(st)
	}
	for _, tok := range []string{token, ct.GetToken(), token[:len(token)-1] + "q"} {
		h.rest(ctx, "GET", "/v1/customers/zq-secret-customer%40example.com/recommendations", tok, "")
		h.rest(ctx, "GET", "/v1/customers/zq-other%40example.com/recommendations", tok, "")
		h.rest(ctx, "POST", "/v1/stores/s1/entries", tok, `{"customer":"`+marker+`"}`)
		h.rest(ctx, "GET", "/v1/customers/zq-secret-customer%40example.com:export", tok, "")
		h.invoke(ctx, discretv1.RecommendationService_Recommend_FullMethodName, tok, &discretv1.RecommendRequest{Customer: marker}, &discretv1.RecommendResponse{})
		h.invoke(ctx, discretv1.StoreService_EnterStore_FullMethodName, tok, &discretv1.EnterStoreRequest{Store: "s1", Customer: "zq-other@example.com"}, &discretv1.EnterStoreResponse{})
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	logs := h.logs.String()
	for _, secret := range []string{"dct_", token[13:40], ct.GetToken()[13:40], "zq-", "secret-customer"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
	var lines = map[string]int{}
	for _, l := range strings.Split(logs, "\n") {
		var line struct {
			Msg       string
			Transport string
			Status    int
			Code      string
			Key       struct{ Name, Credential string }
		}
		if json.Unmarshal([]byte(l), &line) != nil || line.Msg != "request" || line.Key.Credential == "" {
			continue
		}
		if line.Key.Name != "key-recommend" || line.Key.Credential != "customer token" {
			t.Errorf("log line %s: want the minting key key-recommend and credential \"customer token\"", l)
		}
		lines[line.Transport+" "+line.Code]++
	}
	// Per transport: the own customer's call (OK), another customer's and
	// the export (PermissionDenied), for the two valid tokens.
	for _, want := range []string{"http OK", "http PermissionDenied", "grpc OK", "grpc PermissionDenied"} {
		if lines[want] == 0 {
			t.Errorf("no %s request logged with a customer token (%v):\n%s", want, lines, logs)
		}
	}
}

// TestRevokeCustomerTokenOverTheAPI: a device signs out by revoking its
// own token over REST, and the back end revokes another of its tokens over
// gRPC; both are refused from then on, as "customer token revoked", while
// a token the back end did not revoke keeps working.
func TestRevokeCustomerTokenOverTheAPI(t *testing.T) {
	h := start(t, nil)
	ctx := t.Context()
	device, _ := h.mintREST(t, h.tokens["recommend"], "alice%40example.com", `{"ttl_seconds":600}`)
	h.clock.Advance(time.Second) // a token minted in another second is another token
	lost, _ := h.mintREST(t, h.tokens["recommend"], "alice%40example.com", `{"ttl_seconds":600}`)
	h.clock.Advance(time.Second)
	kept, _ := h.mintREST(t, h.tokens["recommend"], "alice%40example.com", `{"ttl_seconds":600}`)

	r := h.rest(ctx, "POST", "/v1/tokens:revoke", device, `{}`)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"revoked":true`) {
		t.Errorf("POST /v1/tokens:revoke {} with the token = %d %s, want 200 and revoked", r.status, r.body)
	}
	var resp discretv1.RevokeCustomerTokenResponse
	if st := h.invoke(ctx, discretv1.RecommendationService_RevokeCustomerToken_FullMethodName, h.tokens["recommend"],
		&discretv1.RevokeCustomerTokenRequest{Token: lost}, &resp); st.Code() != codes.OK || !resp.GetRevoked() {
		t.Errorf("RevokeCustomerToken by the minting key over gRPC = %v, %v; want OK and revoked", st, &resp)
	}
	// Without a token, a key has nothing to revoke.
	if st := h.invoke(ctx, discretv1.RecommendationService_RevokeCustomerToken_FullMethodName, h.tokens["recommend"],
		&discretv1.RevokeCustomerTokenRequest{}, &resp); st.Code() != codes.InvalidArgument {
		t.Errorf("RevokeCustomerToken {} with an API key = %v, want InvalidArgument", st)
	}
	for tok, want := range map[string]int{device: http.StatusUnauthorized, lost: http.StatusUnauthorized, kept: http.StatusOK} {
		r := h.rest(ctx, "GET", "/v1/customers/alice%40example.com/recommendations", tok, "")
		if r.status != want || want != http.StatusOK && !strings.Contains(string(r.body), "customer token revoked") {
			t.Errorf("recommendations with a token = %d %s, want %d", r.status, r.body, want)
		}
	}
	if logs := h.logs.String(); strings.Contains(logs, device) || strings.Contains(logs, lost) || strings.Contains(logs, "alice") {
		t.Errorf("the log holds a token or the customer:\n%s", logs)
	}
}
