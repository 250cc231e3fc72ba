package store

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func testAPIKey(id string) APIKey {
	return APIKey{
		ID:      id,
		Name:    "web-frontend",
		Hash:    bytes.Repeat([]byte{0xab}, APIKeyHashSize),
		Scopes:  []string{"recommend", "events"},
		Created: time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.UTC),
	}
}

func TestAPIKeyValue(t *testing.T) {
	revoked := testAPIKey("k1")
	revoked.Revoked = time.Date(2027, 1, 1, 0, 0, 0, 1, time.UTC)
	epoch := testAPIKey("k2")
	epoch.Created = time.Unix(0, 0).UTC()
	epoch.Revoked = time.Unix(0, 0).UTC()
	for _, k := range []APIKey{testAPIKey("k0"), revoked, epoch} {
		got, err := decodeAPIKey(k.ID, encodeAPIKey(k))
		if err != nil || !reflect.DeepEqual(got, k) {
			t.Errorf("decodeAPIKey(encodeAPIKey(%+v)) = %+v, %v; want the key back", k, got, err)
		}
	}
	// Golden encoding of a small key, so that the format cannot drift.
	k := APIKey{ID: "a", Name: "n", Hash: make([]byte, 32), Scopes: []string{"admin"}, Created: time.Unix(0, 1).UTC()}
	want := "01" + strings.Repeat("00", 32) + "02" + "00" + "01" + "6e" + "01" + "05" + "61646d696e"
	if got := hexOf(encodeAPIKey(k)); got != want {
		t.Errorf("encodeAPIKey(%+v) = %s, want %s", k, got, want)
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	var sb strings.Builder
	for _, c := range b {
		sb.WriteByte(digits[c>>4])
		sb.WriteByte(digits[c&15])
	}
	return sb.String()
}

func TestAPIKeyValidate(t *testing.T) {
	mod := func(f func(*APIKey)) APIKey {
		k := testAPIKey("abc123")
		f(&k)
		return k
	}
	for _, tt := range []struct {
		name string
		k    APIKey
		want string // substring of the error; empty for valid
	}{
		{"valid", mod(func(*APIKey) {}), ""},
		{"empty id", mod(func(k *APIKey) { k.ID = "" }), "id must be"},
		{"upper-case id", mod(func(k *APIKey) { k.ID = "ABC" }), "id must be"},
		{"long id", mod(func(k *APIKey) { k.ID = strings.Repeat("a", 33) }), "id must be"},
		{"name with space", mod(func(k *APIKey) { k.Name = "web frontend" }), "name must be"},
		{"long name", mod(func(k *APIKey) { k.Name = strings.Repeat("n", 65) }), "name must be"},
		{"short hash", mod(func(k *APIKey) { k.Hash = k.Hash[:31] }), "hash must be 32 bytes"},
		{"no scope", mod(func(k *APIKey) { k.Scopes = nil }), "want 1-16 scopes"},
		{"bad scope", mod(func(k *APIKey) { k.Scopes = []string{"Admin"} }), "scope 0 must be"},
		{"repeated scope", mod(func(k *APIKey) { k.Scopes = []string{"admin", "admin"} }), `scope "admin" repeated`},
		{"zero created", mod(func(k *APIKey) { k.Created = time.Time{} }), "created time"},
		{"created after 2200", mod(func(k *APIKey) { k.Created = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) }), "created time"},
	} {
		err := tt.k.validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("validate(%s) = %v, want nil", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrAPIKeyInvalid)):
			t.Errorf("validate(%s) = %v, want ErrAPIKeyInvalid containing %q", tt.name, err, tt.want)
		}
	}
}

func TestAPIKeys(t *testing.T) {
	db := mustOpen(t, Options{InMemory: true, EncryptionKey: testKey})
	ctx := t.Context()
	if keys, err := db.APIKeys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("APIKeys(empty store) = %v, %v; want none", keys, err)
	}
	b, a := testAPIKey("bbb"), testAPIKey("aaa")
	a.Scopes = []string{"admin"}
	for _, k := range []APIKey{b, a} {
		if err := db.CreateAPIKey(ctx, k); err != nil {
			t.Fatalf("CreateAPIKey(%s) = %v", k.ID, err)
		}
	}
	if err := db.CreateAPIKey(ctx, testAPIKey("aaa")); !errors.Is(err, ErrAPIKeyExists) {
		t.Errorf("CreateAPIKey(existing id) = %v, want ErrAPIKeyExists", err)
	}
	if err := db.CreateAPIKey(ctx, testAPIKey("BAD")); !errors.Is(err, ErrAPIKeyInvalid) {
		t.Errorf("CreateAPIKey(bad id) = %v, want ErrAPIKeyInvalid", err)
	}
	keys, err := db.APIKeys(ctx)
	if err != nil || !reflect.DeepEqual(keys, []APIKey{a, b}) {
		t.Fatalf("APIKeys = %+v, %v; want [aaa bbb] as created", keys, err)
	}
	if got, err := db.APIKey(ctx, "bbb"); err != nil || !reflect.DeepEqual(got, b) {
		t.Errorf("APIKey(bbb) = %+v, %v; want %+v", got, err, b)
	}
	for _, id := range []string{"zzz", "", "no way"} {
		if _, err := db.APIKey(ctx, id); !errors.Is(err, ErrAPIKeyNotFound) {
			t.Errorf("APIKey(%q) = %v, want ErrAPIKeyNotFound", id, err)
		}
		if _, err := db.RevokeAPIKey(ctx, id, time.Now()); !errors.Is(err, ErrAPIKeyNotFound) {
			t.Errorf("RevokeAPIKey(%q) = %v, want ErrAPIKeyNotFound", id, err)
		}
	}
	first := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	got, err := db.RevokeAPIKey(ctx, "aaa", first)
	if err != nil || !got.Revoked.Equal(first) {
		t.Fatalf("RevokeAPIKey(aaa) = %+v, %v; want revoked at %v", got, err, first)
	}
	got, err = db.RevokeAPIKey(ctx, "aaa", first.Add(time.Hour))
	if err != nil || !got.Revoked.Equal(first) {
		t.Errorf("RevokeAPIKey(aaa) again = %+v, %v; want the first revocation time %v kept", got, err, first)
	}
	if got, _ := db.APIKey(ctx, "aaa"); !got.Revoked.Equal(first) {
		t.Errorf("APIKey(aaa).Revoked = %v after revocation, want %v", got.Revoked, first)
	}
	if got, _ := db.APIKey(ctx, "bbb"); !got.Revoked.IsZero() {
		t.Errorf("APIKey(bbb).Revoked = %v, want zero: revoking aaa must not touch bbb", got.Revoked)
	}
	// API keys are not customer data: Export and Forget ignore them.
	if _, err := db.Forget(ctx, testPseudo); err != nil {
		t.Fatal(err)
	}
	if keys, _ := db.APIKeys(ctx); len(keys) != 2 {
		t.Errorf("APIKeys after Forget = %d keys, want 2", len(keys))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.APIKeys(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("APIKeys after Close = %v, want ErrClosed", err)
	}
}

// FuzzAPIKeyValue checks the API key codec: any value it decodes re-encodes
// to a value that decodes to the same key, and valid keys round-trip.
func FuzzAPIKeyValue(f *testing.F) {
	f.Add(encodeAPIKey(testAPIKey("k")), "k", "name", "scope", int64(1), int64(0))
	f.Add([]byte{valueV1}, "id", "n", "s", int64(-5), int64(7))
	f.Fuzz(func(t *testing.T, raw []byte, id, name, scope string, created, revoked int64) {
		if k, err := decodeAPIKey(id, raw); err == nil {
			back, err := decodeAPIKey(id, encodeAPIKey(k))
			if err != nil || !reflect.DeepEqual(back, k) {
				t.Fatalf("decodeAPIKey(%x) = %+v; re-encoded and decoded = %+v, %v", raw, k, back, err)
			}
		}
		k := APIKey{ID: id, Name: name, Hash: bytes.Repeat([]byte{1}, 32), Scopes: []string{scope},
			Created: time.Unix(0, created).UTC()}
		if revoked != 0 {
			k.Revoked = time.Unix(0, revoked).UTC()
		}
		if k.validate() != nil {
			return
		}
		back, err := decodeAPIKey(id, encodeAPIKey(k))
		if err != nil || !reflect.DeepEqual(back, k) {
			t.Fatalf("decodeAPIKey(encodeAPIKey(%+v)) = %+v, %v", k, back, err)
		}
	})
}
