package auth_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/store/storetest"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/apierr"
	"github.com/discret-io/discret/serve/auth"
)

func TestParseScope(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    auth.Scope
		wantStr string
		wantErr bool
	}{
		{"recommend", auth.Recommend, "recommend", false},
		{"events, consent", auth.Events | auth.Consent, "events,consent", false},
		{"admin,recommend", auth.Admin | auth.Recommend, "recommend,admin", false},
		{"all", auth.All, "recommend,events,consent,admin", false},
		{"all,admin", auth.All, "recommend,events,consent,admin", false},
		{"", 0, "", true},
		{"read", 0, "", true},
		{"recommend,", 0, "", true},
		{"Admin", 0, "", true},
	} {
		got, err := auth.ParseScope(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseScope(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err == nil && got.String() != tt.wantStr {
			t.Errorf("ParseScope(%q).String() = %q, want %q", tt.in, got.String(), tt.wantStr)
		}
	}
}

// TestEveryMethodHasAScope: deny by default is only safe if every method of
// the API is in the table, so that none is refused by accident and none is
// forgotten; and the table names no method the API lacks.
func TestEveryMethodHasAScope(t *testing.T) {
	seen := map[string]bool{}
	services := discretv1.File_discret_v1_discret_proto.Services()
	for i := range services.Len() {
		sd := services.Get(i)
		methods := sd.Methods()
		for j := range methods.Len() {
			m := methods.Get(j)
			full := "/" + string(sd.FullName()) + "/" + string(m.Name())
			seen[full] = true
			s, ok := auth.MethodScope(full)
			if !ok {
				t.Errorf("MethodScope(%s) missing: add the method to the scope table", full)
				continue
			}
			if s == 0 || s&(s-1) != 0 {
				t.Errorf("MethodScope(%s) = %v, want exactly one scope", full, s)
			}
			if auth.IsPublic(full) {
				t.Errorf("IsPublic(%s) = true, want false: API methods need a key", full)
			}
			if m.IsStreamingClient() || m.IsStreamingServer() {
				t.Errorf("%s streams: the server's stream interceptor admits only public methods", full)
			}
		}
	}
	if len(seen) < 13 {
		t.Fatalf("found %d methods in the descriptors; the walk is broken", len(seen))
	}
	// Scope per method, as documented in discret.proto and the issue.
	want := map[string]auth.Scope{
		"Recommend": auth.Recommend, "SimilarItems": auth.Recommend, "PopularItems": auth.Recommend, "EnterStore": auth.Recommend,
		"CreateCustomerToken": auth.Recommend,
		"WriteEvents":         auth.Events, "GetConsent": auth.Consent, "SetConsent": auth.Consent,
		"ExportCustomer": auth.Admin, "ForgetCustomer": auth.Admin, "UpsertItem": auth.Admin, "UpsertCoupon": auth.Admin,
		"GetCurrentModel": auth.Admin, "TrainModel": auth.Admin,
		"CreateApiKey": auth.Admin, "ListApiKeys": auth.Admin, "RevokeApiKey": auth.Admin,
		"ListAuditEntries": auth.Admin, "SearchAuditEntries": auth.Admin, "RevokeCustomerToken": auth.Recommend,
	}
	for full := range seen {
		name := full[strings.LastIndexByte(full, '/')+1:]
		if got, _ := auth.MethodScope(full); got != want[name] {
			t.Errorf("MethodScope(%s) = %v, want %v", full, got, want[name])
		}
	}
	if _, ok := auth.MethodScope("/discret.v1.AdminService/DropEverything"); ok {
		t.Error("MethodScope(unknown method) found, want deny by default")
	}
}

func newKeys(t *testing.T) (*auth.Keys, *store.DB, *storetest.Clock) {
	t.Helper()
	clock := storetest.NewClock(storetest.Epoch)
	db := storetest.OpenMemory(t, clock.Now)
	keys, err := auth.Open(t.Context(), auth.Config{Store: db, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return keys, db, clock
}

func TestKeysLifecycle(t *testing.T) {
	keys, db, clock := newKeys(t)
	ctx := t.Context()
	token, key, err := keys.Create(ctx, "web-frontend", auth.Recommend|auth.Events)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(token, "dsk_"+key.ID+"_") || len(token) != 4+8+1+52 {
		t.Errorf("Create token = %q, want dsk_%s_ followed by 52 characters", token, key.ID)
	}
	if key.Name != "web-frontend" || key.Scope != auth.Recommend|auth.Events || !key.Created.Equal(clock.Now()) {
		t.Errorf("Create key = %+v", key)
	}
	got, err := keys.Authenticate(token)
	if err != nil || got != key {
		t.Fatalf("Authenticate(new key) = %+v, %v; want %+v", got, err, key)
	}

	// Only a hash is stored: nothing in the record contains the secret.
	stored, err := db.APIKey(ctx, key.ID)
	if err != nil {
		t.Fatal(err)
	}
	secret := token[len(token)-52:]
	if bytes.Contains(stored.Hash, []byte(secret)) || strings.Contains(stored.Name, secret) || len(stored.Hash) != 32 {
		t.Errorf("stored key %+v reveals the secret", stored)
	}

	// Keys survive a restart.
	reopened, err := auth.Open(ctx, auth.Config{Store: db, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := reopened.Authenticate(token); err != nil || got != key {
		t.Errorf("Authenticate after reopening = %+v, %v; want %+v", got, err, key)
	}

	clock.Advance(time.Hour)
	revoked, err := keys.Revoke(ctx, key.ID)
	if err != nil || !revoked.Revoked.Equal(clock.Now()) {
		t.Fatalf("Revoke = %+v, %v; want revoked now", revoked, err)
	}
	if _, err := keys.Authenticate(token); !errors.Is(err, auth.ErrRevoked) || apierr.KindOf(err) != apierr.Unauthenticated {
		t.Errorf("Authenticate(revoked key) = %v, want ErrRevoked of kind Unauthenticated", err)
	}
	if list := keys.List(); len(list) != 1 || list[0].Revoked.IsZero() {
		t.Errorf("List = %+v, want the revoked key", list)
	}
	reopened, err = auth.Open(ctx, auth.Config{Store: db, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reopened.Authenticate(token); !errors.Is(err, auth.ErrRevoked) {
		t.Errorf("Authenticate(revoked key) after reopening = %v, want ErrRevoked", err)
	}
	if _, err := keys.Revoke(ctx, "nosuchid"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("Revoke(unknown) = %v, want ErrNotFound", err)
	}
}

func TestCreateRefuses(t *testing.T) {
	keys, _, _ := newKeys(t)
	for _, tt := range []struct {
		name  string
		scope auth.Scope
	}{
		{"", auth.Admin},
		{"has space", auth.Admin},
		{"alice@retailer.example", auth.Admin}, // names reach logs and the audit trail
		{strings.Repeat("n", 65), auth.Admin},
		{"ok", 0},
		{"ok", 1 << 6},
	} {
		if _, _, err := keys.Create(t.Context(), tt.name, tt.scope); err == nil {
			t.Errorf("Create(%q, %#x) = nil error, want a refusal", tt.name, uint8(tt.scope))
		}
	}
	if n := len(keys.List()); n != 0 {
		t.Errorf("List after refused creations = %d keys, want 0", n)
	}
	// A name is refused while a key that is not revoked holds it.
	_, first, err := keys.Create(t.Context(), "pos", auth.Recommend)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = keys.Create(t.Context(), "pos", auth.Events)
	var taken *auth.NameTakenError
	if !errors.As(err, &taken) || taken.Holder.ID != first.ID || !errors.Is(err, auth.ErrNameTaken) {
		t.Errorf("Create(taken name) = %v, want a NameTakenError naming %s", err, first.ID)
	}
	if _, err := keys.Revoke(t.Context(), first.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := keys.Create(t.Context(), "pos", auth.Events); err != nil {
		t.Errorf("Create(name of a revoked key) = %v, want it accepted", err)
	}
}

// TestCreateRetriesTakenID feeds the same randomness twice: the second key
// gets the same id, which the store refuses, and Create draws again.
func TestCreateRetriesTakenID(t *testing.T) {
	clock := storetest.NewClock(storetest.Epoch)
	db := storetest.OpenMemory(t, clock.Now)
	same := bytes.Repeat([]byte{7}, 37)
	next := bytes.Repeat([]byte{9}, 37)
	r := bytes.NewReader(append(append(append([]byte{}, same...), same...), next...))
	keys, err := auth.Open(t.Context(), auth.Config{Store: db, Now: clock.Now, Rand: r})
	if err != nil {
		t.Fatal(err)
	}
	_, k1, err := keys.Create(t.Context(), "one", auth.Admin)
	if err != nil {
		t.Fatal(err)
	}
	_, k2, err := keys.Create(t.Context(), "two", auth.Admin)
	if err != nil || k2.ID == k1.ID {
		t.Fatalf("second Create = %+v, %v; want a new id (first %s)", k2, err, k1.ID)
	}
	if _, _, err := keys.Create(t.Context(), "three", auth.Admin); err == nil {
		t.Error("Create with exhausted randomness = nil error, want one")
	}
}

func TestAuthenticateRefuses(t *testing.T) {
	keys, _, _ := newKeys(t)
	token, _, err := keys.Create(t.Context(), "k", auth.Admin)
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := keys.Create(t.Context(), "other", auth.Admin)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	for _, tt := range []struct {
		name, token string
		want        error
	}{
		{"empty", "", auth.ErrNoKey},
		{"garbage", "hello", auth.ErrInvalidKey},
		{"last secret character changed", flip(token, len(token)-1), auth.ErrInvalidKey},
		{"first secret character changed", flip(token, 13), auth.ErrInvalidKey},
		{"id changed", flip(token, 4), auth.ErrInvalidKey},
		{"secret of another key", token[:13] + other[13:], auth.ErrInvalidKey},
		{"upper case", strings.ToUpper(token), auth.ErrInvalidKey},
		{"trailing space", token + " ", auth.ErrInvalidKey},
		{"truncated", token[:len(token)-1], auth.ErrInvalidKey},
		{"wrong prefix", "dsx_" + token[4:], auth.ErrInvalidKey},
		{"bad separator", token[:12] + "-" + token[13:], auth.ErrInvalidKey},
		{"padding character", token[:len(token)-1] + "=", auth.ErrInvalidKey},
	} {
		_, err := keys.Authenticate(tt.token)
		if !errors.Is(err, tt.want) || apierr.KindOf(err) != apierr.Unauthenticated {
			t.Errorf("Authenticate(%s) = %v, want %v of kind Unauthenticated", tt.name, err, tt.want)
		}
	}
}

func TestAuthorize(t *testing.T) {
	keys, _, _ := newKeys(t)
	ctx := t.Context()
	tokens := map[auth.Scope]string{}
	for _, s := range []auth.Scope{auth.Recommend, auth.Events, auth.Consent, auth.Admin, auth.All} {
		tok, _, err := keys.Create(ctx, "k-"+strings.ReplaceAll(s.String(), ",", "-"), s)
		if err != nil {
			t.Fatal(err)
		}
		tokens[s] = tok
	}
	with := func(vals ...string) context.Context {
		md := metadata.MD{}
		for _, v := range vals {
			md.Append("authorization", v)
		}
		return metadata.NewIncomingContext(ctx, md)
	}
	forget := discretv1.AdminService_ForgetCustomer_FullMethodName
	recommend := discretv1.RecommendationService_Recommend_FullMethodName
	for _, tt := range []struct {
		name   string
		ctx    context.Context
		method string
		want   apierr.Kind // Internal stands for success
	}{
		{"recommend key, Recommend", with("Bearer " + tokens[auth.Recommend]), recommend, apierr.Internal},
		{"lower-case scheme", with("bearer " + tokens[auth.Recommend]), recommend, apierr.Internal},
		{"recommend key, ForgetCustomer", with("Bearer " + tokens[auth.Recommend]), forget, apierr.PermissionDenied},
		{"events key, ForgetCustomer", with("Bearer " + tokens[auth.Events]), forget, apierr.PermissionDenied},
		{"consent key, ForgetCustomer", with("Bearer " + tokens[auth.Consent]), forget, apierr.PermissionDenied},
		{"admin key, ForgetCustomer", with("Bearer " + tokens[auth.Admin]), forget, apierr.Internal},
		{"admin key, Recommend", with("Bearer " + tokens[auth.Admin]), recommend, apierr.PermissionDenied},
		{"all key, ForgetCustomer", with("Bearer " + tokens[auth.All]), forget, apierr.Internal},
		{"all key, method outside the table", with("Bearer " + tokens[auth.All]), "/discret.v1.AdminService/Nope", apierr.PermissionDenied},
		{"no metadata", ctx, recommend, apierr.Unauthenticated},
		{"no authorization", with(), recommend, apierr.Unauthenticated},
		{"two authorizations", with("Bearer "+tokens[auth.All], "Bearer "+tokens[auth.All]), recommend, apierr.Unauthenticated},
		{"basic scheme", with("Basic " + tokens[auth.All]), recommend, apierr.Unauthenticated},
		{"bare key", with(tokens[auth.All]), recommend, apierr.Unauthenticated},
		{"bad key", with("Bearer dsk_aaaaaaaa_" + strings.Repeat("a", 52)), recommend, apierr.Unauthenticated},
	} {
		_, err := keys.Authorize(tt.ctx, tt.method, nil)
		got := apierr.KindOf(err)
		if (tt.want == apierr.Internal) != (err == nil) || (err != nil && got != tt.want) {
			t.Errorf("Authorize(%s) = %v (kind %v), want kind %v", tt.name, err, got, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "dsk_") {
			t.Errorf("Authorize(%s) error %q contains a key", tt.name, err)
		}
	}
}

// FuzzAuthenticate: no string but the exact key authenticates, and no
// input panics.
func FuzzAuthenticate(f *testing.F) {
	clock := storetest.NewClock(storetest.Epoch)
	db, err := store.Open(store.Options{InMemory: true, EncryptionKey: storetest.TestKey, Now: clock.Now})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	keys, err := auth.Open(context.Background(), auth.Config{Store: db, Now: clock.Now})
	if err != nil {
		f.Fatal(err)
	}
	token, _, err := keys.Create(context.Background(), "fuzz", auth.All)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(token)
	f.Add(token[:40])
	f.Add("dsk_aaaaaaaa_" + strings.Repeat("7", 52))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		_, err := keys.Authenticate(s)
		if (err == nil) != (s == token) {
			t.Fatalf("Authenticate(%q) = %v; only the key itself may authenticate", s, err)
		}
		if err != nil && apierr.KindOf(err) != apierr.Unauthenticated {
			t.Fatalf("Authenticate(%q) kind = %v, want Unauthenticated", s, apierr.KindOf(err))
		}
	})
}

func BenchmarkAuthorize(b *testing.B) {
	clock := storetest.NewClock(storetest.Epoch)
	db := storetest.OpenMemory(b, clock.Now)
	keys, err := auth.Open(b.Context(), auth.Config{Store: db, Now: clock.Now})
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 1000} {
		var token string
		for i := range n {
			if token, _, err = keys.Create(b.Context(), fmt.Sprintf("bench-%d-%d", n, i), auth.All); err != nil {
				b.Fatal(i, err)
			}
		}
		ctx := metadata.NewIncomingContext(b.Context(), metadata.Pairs("authorization", "Bearer "+token))
		b.Run("keys="+strconv.Itoa(len(keys.List())), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := keys.Authorize(ctx, discretv1.RecommendationService_Recommend_FullMethodName, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
