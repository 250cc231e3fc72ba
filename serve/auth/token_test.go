package auth_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/store/storetest"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/pseudonym"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/apierr"
	"github.com/discret-io/discret/serve/auth"
)

var tokenB32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// tokenFixture is a Keys that mints customer tokens, with a Recommend key,
// an Events key and the pseudonymizer.
type tokenFixture struct {
	keys      *auth.Keys
	db        *store.DB
	clock     *storetest.Clock
	ps        *pseudonym.Keyed
	recommend auth.Key
	events    auth.Key
}

func newTokenFixture(t testing.TB, tokenKey []byte) *tokenFixture {
	t.Helper()
	f := &tokenFixture{clock: storetest.NewClock(storetest.Epoch)}
	var err error
	if f.ps, err = pseudonym.New(bytes.Repeat([]byte{3}, 32)); err != nil {
		t.Fatal(err)
	}
	f.db = storetest.OpenMemory(t, f.clock.Now)
	if f.keys, err = auth.Open(t.Context(), auth.Config{Store: f.db, Now: f.clock.Now, TokenKey: tokenKey, Pseudonyms: f.ps}); err != nil {
		t.Fatal(err)
	}
	if _, f.recommend, err = f.keys.Create(t.Context(), "backend", auth.Recommend); err != nil {
		t.Fatal(err)
	}
	if _, f.events, err = f.keys.Create(t.Context(), "events", auth.Events); err != nil {
		t.Fatal(err)
	}
	return f
}

var testTokenKey = bytes.Repeat([]byte{5}, 32)

func customer(t testing.TB, s string) privacy.CustomerID {
	t.Helper()
	c, err := privacy.ParseCustomerID(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mint mints a token for c with the fixture's Recommend key.
func (f *tokenFixture) mint(t testing.TB, c string, ttl time.Duration) (string, time.Time) {
	t.Helper()
	tok, exp, err := f.keys.MintCustomerToken(auth.Caller{Key: f.recommend}, customer(t, c), ttl)
	if err != nil {
		t.Fatalf("MintCustomerToken(%s, %v) = %v", c, ttl, err)
	}
	return tok, exp
}

// message is the message of err's status, as clients see it.
func message(err error) string { return apierr.Status(err).Message() }

func bearerCtx(ctx context.Context, token string) context.Context {
	return metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", "Bearer "+token))
}

// Full method names.
var (
	mRecommend = discretv1.RecommendationService_Recommend_FullMethodName
	mEnter     = discretv1.StoreService_EnterStore_FullMethodName
	mSimilar   = discretv1.RecommendationService_SimilarItems_FullMethodName
	mPopular   = discretv1.RecommendationService_PopularItems_FullMethodName
	mMint      = discretv1.RecommendationService_CreateCustomerToken_FullMethodName
)

// TestCustomerTokenAuthorize: a customer token calls Recommend and
// EnterStore for its own customer only, SimilarItems and PopularItems, and
// nothing else; it acts as the key that minted it, marked as a token.
func TestCustomerTokenAuthorize(t *testing.T) {
	f := newTokenFixture(t, testTokenKey)
	token, exp := f.mint(t, "alice@example.com", 0)
	if want := storetest.Epoch.Add(auth.DefaultTokenTTL); !exp.Equal(want) {
		t.Errorf("MintCustomerToken(ttl 0) expires %v, want %v (the default TTL)", exp, want)
	}
	if !strings.HasPrefix(token, auth.TokenPrefix+f.recommend.ID+"_") {
		t.Errorf("token %q: want the prefix %s and the minting key's id", token, auth.TokenPrefix)
	}
	// Neither the raw id nor the pseudonym is in the token.
	p := f.ps.Pseudonymize(customer(t, "alice@example.com"))
	for _, s := range []string{"alice", p.String(), tokenB32.EncodeToString(p[:])[:20]} {
		if strings.Contains(token, s) {
			t.Errorf("token %q contains %q", token, s)
		}
	}
	ctx := bearerCtx(t.Context(), token)
	for _, tt := range []struct {
		name   string
		method string
		req    any
		want   error // nil: allowed
	}{
		{"Recommend, own customer", mRecommend, &discretv1.RecommendRequest{Customer: "alice@example.com", Limit: 5}, nil},
		{"EnterStore, own customer", mEnter, &discretv1.EnterStoreRequest{Store: "s1", Customer: "alice@example.com"}, nil},
		{"SimilarItems", mSimilar, &discretv1.SimilarItemsRequest{Item: "SKU-1"}, nil},
		{"PopularItems", mPopular, &discretv1.PopularItemsRequest{}, nil},
		{"Recommend, another customer", mRecommend, &discretv1.RecommendRequest{Customer: "bob@example.com"}, auth.ErrOtherCustomer},
		{"EnterStore, another customer", mEnter, &discretv1.EnterStoreRequest{Store: "s1", Customer: "bob@example.com"}, auth.ErrOtherCustomer},
		{"Recommend, case differs", mRecommend, &discretv1.RecommendRequest{Customer: "Alice@example.com"}, auth.ErrOtherCustomer},
		{"Recommend, no customer", mRecommend, &discretv1.RecommendRequest{}, auth.ErrOtherCustomer},
		{"Recommend, invalid customer", mRecommend, &discretv1.RecommendRequest{Customer: "alice\x00"}, auth.ErrOtherCustomer},
		{"Recommend, no request", mRecommend, nil, auth.ErrOtherCustomer},
		{"Recommend, a request without customer", mRecommend, &discretv1.SimilarItemsRequest{Item: "alice@example.com"}, auth.ErrOtherCustomer},
		{"CreateCustomerToken", mMint, &discretv1.CreateCustomerTokenRequest{Customer: "alice@example.com"}, auth.ErrTokenMethod},
		{"GetConsent", discretv1.ConsentService_GetConsent_FullMethodName, &discretv1.GetConsentRequest{Customer: "alice@example.com"}, auth.ErrTokenMethod},
		{"SetConsent", discretv1.ConsentService_SetConsent_FullMethodName, &discretv1.SetConsentRequest{Customer: "alice@example.com"}, auth.ErrTokenMethod},
		{"WriteEvents", discretv1.EventService_WriteEvents_FullMethodName, &discretv1.WriteEventsRequest{}, auth.ErrTokenMethod},
		{"ExportCustomer", discretv1.AdminService_ExportCustomer_FullMethodName, &discretv1.ExportCustomerRequest{Customer: "alice@example.com"}, auth.ErrTokenMethod},
		{"ForgetCustomer", discretv1.AdminService_ForgetCustomer_FullMethodName, &discretv1.ForgetCustomerRequest{Customer: "alice@example.com"}, auth.ErrTokenMethod},
		{"ListApiKeys", discretv1.AdminService_ListApiKeys_FullMethodName, &discretv1.ListApiKeysRequest{}, auth.ErrTokenMethod},
		{"method outside the table", "/discret.v1.AdminService/Nope", nil, auth.ErrTokenMethod},
	} {
		c, err := f.keys.Authorize(ctx, tt.method, tt.req)
		switch {
		case tt.want == nil && err != nil:
			t.Errorf("Authorize(token, %s) = %v, want it allowed", tt.name, err)
		case tt.want != nil && (!errors.Is(err, tt.want) || apierr.KindOf(err) != apierr.PermissionDenied):
			t.Errorf("Authorize(token, %s) = %v (kind %v), want %v of kind PermissionDenied", tt.name, err, apierr.KindOf(err), tt.want)
		}
		if c.Key.ID != f.recommend.ID || !c.CustomerToken || c.Token == (auth.TokenID{}) || !c.TokenExpiry.Equal(exp) {
			t.Errorf("Authorize(token, %s) caller = %+v, want the minting key %s as a customer token, with its id and expiry %v", tt.name, c, f.recommend.ID, exp)
		}
		if err != nil && (strings.Contains(err.Error(), "alice") || strings.Contains(err.Error(), "bob") || strings.Contains(err.Error(), auth.TokenPrefix)) {
			t.Errorf("Authorize(token, %s) error %q echoes a customer id or the token", tt.name, err)
		}
		if errors.Is(tt.want, auth.ErrOtherCustomer) && message(err) != "this customer token is bound to another customer" {
			t.Errorf("Authorize(token, %s) message %q", tt.name, message(err))
		}
		// Before the request is decoded, only the customer is unchecked.
		c, err = f.keys.Preauthorize(ctx, tt.method)
		if wantPre := tt.want == nil || errors.Is(tt.want, auth.ErrOtherCustomer); (err == nil) != wantPre || !c.CustomerToken {
			t.Errorf("Preauthorize(token, %s) = %+v, %v; want allowed %v", tt.name, c, err, wantPre)
		}
	}
}

// TestTokenID: each customer token has its own TokenID, the one it has
// whenever it is used, which names neither the customer nor the token
// itself; an API key has none.
func TestTokenID(t *testing.T) {
	f := newTokenFixture(t, testTokenKey)
	id := func(token string, req any) auth.TokenID {
		t.Helper()
		c, err := f.keys.Authorize(bearerCtx(t.Context(), token), mRecommend, req)
		if err != nil {
			t.Fatal(err)
		}
		return c.Token
	}
	alice := &discretv1.RecommendRequest{Customer: "alice@example.com"}
	t1, _ := f.mint(t, "alice@example.com", time.Minute)
	t2, _ := f.mint(t, "alice@example.com", time.Hour) // same customer, another token
	t3, _ := f.mint(t, "bob@example.com", time.Minute)
	id1 := id(t1, alice)
	if id1 != id(t1, alice) {
		t.Errorf("one token, two TokenIDs")
	}
	if id2, id3 := id(t2, alice), id(t3, &discretv1.RecommendRequest{Customer: "bob@example.com"}); id1 == id2 || id1 == id3 || id2 == id3 {
		t.Errorf("TokenIDs %x %x %x of three tokens are not distinct", id1, id2, id3)
	}
	p := f.ps.Pseudonymize(customer(t, "alice@example.com"))
	if bytes.Contains(id1[:], p[:4]) {
		t.Errorf("TokenID %x holds the pseudonym %x", id1, p)
	}
	key, _, err := f.keys.Create(t.Context(), "key", auth.Recommend)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := f.keys.Authorize(bearerCtx(t.Context(), key), mRecommend, alice); err != nil || c.Token != (auth.TokenID{}) || !c.TokenExpiry.IsZero() {
		t.Errorf("Authorize(API key) = %+v, %v; want no TokenID nor expiry", c, err)
	}
}

// TestCustomerTokenRefused: a token is refused as unauthenticated once it
// expires, once its key is revoked, and when any character of it is
// changed; minting is refused outside its bounds.
func TestCustomerTokenRefused(t *testing.T) {
	f := newTokenFixture(t, testTokenKey)
	alice := &discretv1.RecommendRequest{Customer: "alice@example.com"}
	authorize := func(token string) error {
		_, err := f.keys.Authorize(bearerCtx(t.Context(), token), mRecommend, alice)
		return err
	}
	unauthenticated := func(name string, err, want error) {
		t.Helper()
		if !errors.Is(err, want) || apierr.KindOf(err) != apierr.Unauthenticated {
			t.Errorf("%s: Authorize = %v (kind %v), want %v of kind Unauthenticated", name, err, apierr.KindOf(err), want)
		}
	}

	t.Run("expiry", func(t *testing.T) {
		token, exp := f.mint(t, "alice@example.com", time.Minute)
		if want := f.clock.Now().Add(time.Minute); !exp.Equal(want) {
			t.Errorf("expiry %v, want %v", exp, want)
		}
		f.clock.Advance(time.Minute - time.Second)
		if err := authorize(token); err != nil {
			t.Errorf("1 s before expiry: %v, want allowed", err)
		}
		f.clock.Advance(time.Second)
		unauthenticated("at expiry", authorize(token), auth.ErrTokenExpired)
		if got := message(authorize(token)); got != "customer token expired" {
			t.Errorf("expired message %q", got)
		}
		_, err := f.keys.Preauthorize(bearerCtx(t.Context(), token), mPopular)
		unauthenticated("expired, Preauthorize", err, auth.ErrTokenExpired)
	})

	t.Run("tampered", func(t *testing.T) {
		token, _ := f.mint(t, "alice@example.com", 0)
		if err := authorize(token); err != nil {
			t.Fatal(err)
		}
		// Every single-character change is refused.
		for i := range len(token) {
			for _, c := range []byte{'a', '7', 'A'} {
				if token[i] == c {
					continue
				}
				tampered := token[:i] + string(c) + token[i+1:]
				if err := authorize(tampered); apierr.KindOf(err) != apierr.Unauthenticated {
					t.Errorf("token with character %d changed to %q: Authorize = %v, want Unauthenticated", i, c, err)
				}
			}
		}
		// A later expiry, re-encoded.
		id, enc, _ := strings.Cut(strings.TrimPrefix(token, auth.TokenPrefix), "_")
		body, err := tokenB32.DecodeString(enc)
		if err != nil || len(body) != 56 {
			t.Fatalf("token body %q: %v, %d bytes", enc, err, len(body))
		}
		binary.BigEndian.PutUint64(body[:8], binary.BigEndian.Uint64(body[:8])+3600)
		unauthenticated("expiry changed", authorize(auth.TokenPrefix+id+"_"+tokenB32.EncodeToString(body)), auth.ErrInvalidToken)
		// Another key's id.
		unauthenticated("key id changed", authorize(auth.TokenPrefix+f.events.ID+"_"+enc), auth.ErrInvalidToken)
		for name, s := range map[string]string{
			"truncated": token[:len(token)-1], "extended": token + "a", "upper case": strings.ToUpper(token),
			"no body": auth.TokenPrefix + id + "_", "prefix only": auth.TokenPrefix,
		} {
			if err := authorize(s); apierr.KindOf(err) != apierr.Unauthenticated {
				t.Errorf("%s: Authorize = %v, want Unauthenticated", name, err)
			}
		}
		// The same token is worthless to a server with another token key.
		other := newTokenFixture(t, bytes.Repeat([]byte{6}, 32))
		_, err = other.keys.Authorize(bearerCtx(t.Context(), token), mRecommend, alice)
		unauthenticated("another server", err, auth.ErrInvalidToken)
	})

	t.Run("revoked key", func(t *testing.T) {
		_, key, err := f.keys.Create(t.Context(), "backend-2", auth.Recommend)
		if err != nil {
			t.Fatal(err)
		}
		token, _, err := f.keys.MintCustomerToken(auth.Caller{Key: key}, customer(t, "alice@example.com"), 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := authorize(token); err != nil {
			t.Fatalf("before revocation: %v", err)
		}
		if _, err := f.keys.Revoke(t.Context(), key.ID); err != nil {
			t.Fatal(err)
		}
		unauthenticated("key revoked", authorize(token), auth.ErrTokenRevoked)
		_, err = f.keys.Preauthorize(bearerCtx(t.Context(), token), mPopular)
		unauthenticated("key revoked, Preauthorize", err, auth.ErrTokenRevoked)
		_, _, err = f.keys.MintCustomerToken(auth.Caller{Key: key}, customer(t, "alice@example.com"), 0)
		unauthenticated("minting with a revoked key", err, auth.ErrRevoked)
	})

	t.Run("mint", func(t *testing.T) {
		alice := customer(t, "alice@example.com")
		rec := auth.Caller{Key: f.recommend}
		for _, tt := range []struct {
			name   string
			caller auth.Caller
			ttl    time.Duration
			want   apierr.Kind // Internal stands for success
		}{
			{"default", rec, 0, apierr.Internal},
			{"1 s", rec, time.Second, apierr.Internal},
			{"24 h", rec, auth.MaxTokenTTL, apierr.Internal},
			{"over 24 h", rec, auth.MaxTokenTTL + time.Second, apierr.InvalidArgument},
			{"negative", rec, -time.Second, apierr.InvalidArgument},
			{"under 1 s", rec, time.Millisecond, apierr.InvalidArgument},
			{"key without recommend", auth.Caller{Key: f.events}, 0, apierr.PermissionDenied},
			{"a customer token", auth.Caller{Key: f.recommend, CustomerToken: true}, 0, apierr.PermissionDenied},
			{"unknown key", auth.Caller{Key: auth.Key{ID: "aaaaaaaa", Scope: auth.All}}, 0, apierr.Unauthenticated},
		} {
			token, exp, err := f.keys.MintCustomerToken(tt.caller, alice, tt.ttl)
			if got := apierr.KindOf(err); (tt.want == apierr.Internal) != (err == nil) || err != nil && got != tt.want {
				t.Errorf("MintCustomerToken(%s) = %v (kind %v), want kind %v", tt.name, err, got, tt.want)
				continue
			}
			if want := f.clock.Now().Add(cmp.Or(tt.ttl, auth.DefaultTokenTTL)); err == nil && !exp.Equal(want) {
				t.Errorf("MintCustomerToken(%s) expires %v, want %v", tt.name, exp, want)
			}
			if err != nil && token != "" {
				t.Errorf("MintCustomerToken(%s) = %q with an error", tt.name, token)
			}
		}
	})

	t.Run("no token key", func(t *testing.T) {
		token, _ := f.mint(t, "alice@example.com", 0)
		off := newTokenFixture(t, nil)
		if _, _, err := off.keys.MintCustomerToken(auth.Caller{Key: off.recommend}, customer(t, "alice@example.com"), 0); !errors.Is(err, auth.ErrNoTokens) || apierr.KindOf(err) != apierr.Unimplemented {
			t.Errorf("MintCustomerToken without a token key = %v, want ErrNoTokens of kind Unimplemented", err)
		}
		_, err := off.keys.Authorize(bearerCtx(t.Context(), token), mRecommend, alice)
		unauthenticated("a server without a token key", err, auth.ErrInvalidToken)
	})
}

func TestOpenTokenConfig(t *testing.T) {
	db := storetest.OpenMemory(t, nil)
	ps, _ := pseudonym.New(bytes.Repeat([]byte{3}, 32))
	for _, tt := range []struct {
		name string
		cfg  auth.Config
		want string
	}{
		{"short key", auth.Config{Store: db, TokenKey: make([]byte, 31), Pseudonyms: ps}, "TokenKey has 31 bytes"},
		{"no pseudonyms", auth.Config{Store: db, TokenKey: testTokenKey}, "Pseudonyms is required"},
	} {
		if _, err := auth.Open(t.Context(), tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%s) = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}

// TestCustomerTokenMethods: the methods open to customer tokens need the
// Recommend scope, and every one whose request names a customer is bound to
// the token's customer.
func TestCustomerTokenMethods(t *testing.T) {
	services := discretv1.File_discret_v1_discret_proto.Services()
	var open []string
	for i := range services.Len() {
		sd := services.Get(i)
		for j := range sd.Methods().Len() {
			md := sd.Methods().Get(j)
			full := "/" + string(sd.FullName()) + "/" + string(md.Name())
			allowed, bound := auth.CustomerTokenMethod(full)
			if !allowed {
				continue
			}
			open = append(open, string(md.Name()))
			if s, _ := auth.MethodScope(full); s != auth.Recommend {
				t.Errorf("%s is open to customer tokens but needs scope %v", full, s)
			}
			if md.Input().Fields().ByName("customer") != nil && !bound {
				t.Errorf("%s takes a customer and is open to customer tokens, but not bound to theirs", full)
			}
		}
	}
	if got := strings.Join(open, ","); got != "Recommend,SimilarItems,PopularItems,RevokeCustomerToken,EnterStore" {
		t.Errorf("methods open to customer tokens: %s", got)
	}
}

// FuzzCustomerToken: no string but the exact token authorizes its
// customer's recommendations, and no input panics.
func FuzzCustomerToken(f *testing.F) {
	fx := newTokenFixture(f, testTokenKey)
	token, _ := fx.mint(f, "alice@example.com", 0)
	f.Add(token)
	f.Add(token[:50])
	f.Add(auth.TokenPrefix + fx.recommend.ID + "_" + strings.Repeat("a", 90))
	f.Add("")
	req := &discretv1.RecommendRequest{Customer: "alice@example.com"}
	f.Fuzz(func(t *testing.T, s string) {
		_, err := fx.keys.Authorize(metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+s)), mRecommend, req)
		if (err == nil) != (strings.TrimSpace(s) == token) {
			t.Fatalf("Authorize(%q) = %v; only the token itself may authorize", s, err)
		}
	})
}

// TestRevokeCustomerToken: a token revokes itself, or the key that minted
// it revokes it; nobody else can. A revoked token is refused from then on,
// by this Keys and by one opened later on the same store, while the
// customer's other tokens keep working; revoking a token no longer valid
// changes nothing.
func TestRevokeCustomerToken(t *testing.T) {
	f := newTokenFixture(t, testTokenKey)
	ctx := t.Context()
	_, other, err := f.keys.Create(ctx, "other-backend", auth.Recommend)
	if err != nil {
		t.Fatal(err)
	}
	alice := func() (string, auth.Caller) {
		t.Helper()
		// Tokens minted in the same second for the same customer, key
		// and lifetime are the same token.
		f.clock.Advance(time.Second)
		tok, _ := f.mint(t, "alice@example.com", time.Hour)
		c, err := f.keys.Authorize(bearerCtx(ctx, tok), mRecommend, &discretv1.RecommendRequest{Customer: "alice@example.com"})
		if err != nil {
			t.Fatalf("Authorize(fresh token) = %v", err)
		}
		return tok, c
	}
	revoked := func(tok string) bool {
		t.Helper()
		_, err := f.keys.Authorize(bearerCtx(ctx, tok), mRecommend, &discretv1.RecommendRequest{Customer: "alice@example.com"})
		if err != nil && !errors.Is(err, auth.ErrTokenWithdrawn) {
			t.Fatalf("Authorize = %v, want nil or ErrTokenWithdrawn", err)
		}
		return err != nil
	}
	bystander, _ := alice()
	a, aCaller := alice()
	b, bCaller := alice()
	c, _ := alice()
	expired, _ := f.mint(t, "alice@example.com", time.Second)
	for _, tt := range []struct {
		name   string
		caller auth.Caller
		token  string
		kind   apierr.Kind // of the error; 0: none
		was    bool        // the answer's "revoked"
		gone   string      // the token refused after the call
	}{
		{"not a token", auth.Caller{Key: f.recommend}, "dsk_x", apierr.InvalidArgument, false, ""},
		{"a forged tag", auth.Caller{Key: f.recommend}, a[:len(a)-2] + "aa", apierr.InvalidArgument, false, ""},
		{"another customer token", bCaller, a, apierr.PermissionDenied, false, ""},
		{"another recommend key", auth.Caller{Key: other}, a, apierr.PermissionDenied, false, ""},
		{"the token itself, empty", aCaller, "", 0, true, a},
		{"the token itself, again", aCaller, a, 0, false, a},
		{"the token itself, by value", bCaller, b, 0, true, b},
		{"the minting key", auth.Caller{Key: f.recommend}, c, 0, true, c},
		{"an expired token", auth.Caller{Key: f.recommend}, expired, 0, false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.token == expired {
				f.clock.Advance(2 * time.Second)
			}
			exp, was, err := f.keys.RevokeCustomerToken(ctx, tt.caller, tt.token)
			if got := apierr.KindOf(err); (err == nil) != (tt.kind == 0) || err != nil && got != tt.kind || was != tt.was {
				t.Fatalf("RevokeCustomerToken = %v, %v, %v; want kind %v, revoked %v", exp, was, err, tt.kind, tt.was)
			}
			if err == nil && exp.IsZero() {
				t.Errorf("RevokeCustomerToken: no expiry")
			}
			if tt.gone != "" && !revoked(tt.gone) {
				t.Errorf("the token still authorizes")
			}
		})
	}
	if revoked(bystander) {
		t.Errorf("revoking some of a customer's tokens revoked another")
	}
	// The store keeps the revocations until their tokens expire.
	again, err := auth.Open(ctx, auth.Config{Store: f.db, Now: f.clock.Now, TokenKey: testTokenKey, Pseudonyms: f.ps})
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{a, b, c, bystander} {
		_, err := again.Authorize(bearerCtx(ctx, tok), mRecommend, &discretv1.RecommendRequest{Customer: "alice@example.com"})
		if want := tok != bystander; errors.Is(err, auth.ErrTokenWithdrawn) != want {
			t.Errorf("after a restart, Authorize = %v; want revoked %v", err, want)
		}
	}
	f.clock.Advance(time.Hour)
	if got, err := f.db.RevokedCustomerTokens(ctx); err != nil || len(got) != 0 {
		t.Errorf("after the tokens' expiry, the store holds %d revocations (%v), want none", len(got), err)
	}
}

// TestIdentify: Identify refuses exactly the credentials that Authorize
// refuses as unauthenticated, whatever the method and request, with the
// same error, and otherwise returns the caller Authorize does, leaving
// what it may call to Authorize (scope, method, the token's customer).
func TestIdentify(t *testing.T) {
	f := newTokenFixture(t, testTokenKey)
	ctx := t.Context()
	recommendKey, _, err := f.keys.Create(ctx, "backend-2", auth.Recommend)
	if err != nil {
		t.Fatal(err)
	}
	revokedKey, k, err := f.keys.Create(ctx, "gone", auth.All)
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := f.mint(t, "alice@example.com", 0)
	expired, _ := f.mint(t, "alice@example.com", time.Second)
	withdrawn, _ := f.mint(t, "alice@example.com", time.Hour)
	if _, _, err := f.keys.RevokeCustomerToken(ctx, auth.Caller{Key: f.recommend}, withdrawn); err != nil {
		t.Fatal(err)
	}
	orphan, _, err := f.keys.MintCustomerToken(auth.Caller{Key: k}, customer(t, "alice@example.com"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.keys.Revoke(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Second)
	with := func(vals ...string) context.Context {
		md := metadata.MD{}
		for _, v := range vals {
			md.Append("authorization", v)
		}
		return metadata.NewIncomingContext(ctx, md)
	}
	creds := []struct {
		name string
		ctx  context.Context
	}{
		{"no metadata", ctx},
		{"no authorization", with()},
		{"two authorizations", with("Bearer "+recommendKey, "Bearer "+recommendKey)},
		{"basic scheme", with("Basic " + recommendKey)},
		{"unknown key", with("Bearer dsk_aaaaaaaa_" + strings.Repeat("a", 52))},
		{"revoked key", with("Bearer " + revokedKey)},
		{"recommend key", with("Bearer " + recommendKey)},
		{"token", with("Bearer " + alice)},
		{"tampered token", with("Bearer " + alice[:len(alice)-3] + "aaa")},
		{"expired token", with("Bearer " + expired)},
		{"withdrawn token", with("Bearer " + withdrawn)},
		{"token of a revoked key", with("Bearer " + orphan)},
	}
	calls := []struct {
		method string
		req    any
	}{
		{mRecommend, &discretv1.RecommendRequest{Customer: "alice@example.com"}},
		{mRecommend, &discretv1.RecommendRequest{Customer: "bob@example.com"}},
		{discretv1.AdminService_ForgetCustomer_FullMethodName, &discretv1.ForgetCustomerRequest{Customer: "alice@example.com"}},
	}
	var identified, refused int
	for _, c := range creds {
		got, err := f.keys.Identify(c.ctx)
		for _, call := range calls {
			want, werr := f.keys.Authorize(c.ctx, call.method, call.req)
			if apierr.KindOf(werr) == apierr.Unauthenticated {
				if err == nil || message(err) != message(werr) || apierr.KindOf(err) != apierr.Unauthenticated || got != want {
					t.Errorf("Identify(%s) = %+v, %v; want %+v, %v as Authorize(%s)", c.name, got, err, want, werr, call.method)
				}
				continue
			}
			if err != nil || got != want {
				t.Errorf("Identify(%s) = %+v, %v; want %+v as Authorize(%s), which gives %v", c.name, got, err, want, call.method, werr)
			}
		}
		if err == nil {
			identified++
		} else {
			refused++
		}
	}
	if identified != 2 || refused != len(creds)-2 {
		t.Errorf("Identify accepted %d credentials and refused %d, want the key and the token only", identified, refused)
	}
}
