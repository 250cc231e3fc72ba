// Package auth is Discret's API-key authentication and authorization: scoped
// keys, hashed at rest, checked in constant time against an in-memory table
// on every request.
//
// # Keys
//
// A key is the string
//
//	dsk_<id>_<secret>
//
// where id is 8 and secret 52 characters of lower-case base32: 40 random bits
// that name the key publicly (in logs and in `discret apikey list`) and 256
// random bits that prove possession. The key is shown once, when it is
// created. The store keeps only SHA-256 over a domain-separation label, the
// id and the secret. A fast hash is the right tool here: with 256 bits of
// entropy in the secret, neither brute force nor a dictionary can invert
// it, so the slow, salted KDFs made for low-entropy passwords (bcrypt,
// argon2) would only cost latency on every request. Hashes are compared with
// crypto/subtle in constant time.
//
// # Scopes
//
// Every gRPC method needs one Scope (MethodScope): Recommend for
// recommendations, similar and popular items, store entries and customer
// tokens; Events to write events; Consent to read and record consent; Admin
// for export, erasure, catalogue, coupons and models. A method missing from
// the table is refused to every key. Health checks and reflection are public
// (IsPublic).
//
// # Customer tokens
//
// An API key is a server-side secret: a device in a customer's hands (an
// in-store app, a browser) must not hold one, since a key with the
// Recommend scope answers for any customer it names. The retailer's back
// end, once it has authenticated its customer, mints a customer token for
// them with its Recommend key (MintCustomerToken, the CreateCustomerToken
// RPC) and hands it to the device. A token is
//
//	dct_<id>_<body>
//
// where id is the minting key's id and body (90 base32 characters) holds
// the expiry (Unix seconds), bind = HMAC-SHA256(token key, id, expiry,
// customer's pseudonym) and tag = HMAC-SHA256(token key, id, expiry,
// bind), truncated to 16 bytes. The token key comes from the master secret
// (secret.Master.TokenKey). A token holds neither the customer's id nor
// their pseudonym and is stored nowhere: Authorize checks the tag (a
// tampered or forged token is Unauthenticated), that the minting key is
// still valid and has the Recommend scope (revoking it revokes all its
// tokens at once), the expiry, the method (CustomerTokenMethod), and for
// Recommend and EnterStore that bind recomputed from the request's
// customer matches (otherwise PermissionDenied: bound to another
// customer). The caller is then the minting key, marked as a customer
// token (Caller), which logs name; the token's requests count against a
// rate limit of its own (Caller.Token), not the key's, so that one device
// cannot use up its back end's allowance.
//
// A token is revoked on its own (RevokeCustomerToken) by itself, when its
// device signs out, or by the key that minted it. The store then keeps the
// token's tag, which names no customer, until the token expires, and Keys
// a copy in memory: checking it is one more map lookup. A token is a pure
// function of its key, customer, and expiry in whole seconds, so tokens
// minted for one customer by one key in the same second with the same
// lifetime are one token.
//
// # The table and its cache
//
// Keys loads every key from the store when it opens and keeps them in an
// immutable map behind an atomic pointer: authenticating a request is one
// map lookup and one SHA-256 of 52 bytes, well under a microsecond, with no
// lock and no store access. Create and Revoke write the store first, then
// publish a new map, so a revocation takes effect for the next request. The
// map is only as fresh as this process's own changes: Badger lets one
// process at a time open a data directory, so no other process can change
// the keys of a running server; `discret apikey` works while it is stopped.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/serve/apierr"
)

// Key format.
const (
	// Prefix starts every key, so that secret scanners can recognize one.
	Prefix    = "dsk_"
	idBytes   = 5  // 8 base32 characters
	idLen     = 8  //
	secBytes  = 32 // 52 base32 characters
	secretLen = 52
	// tokenLen is the length of a key string.
	tokenLen = len(Prefix) + idLen + 1 + secretLen
	// hashLabel separates these hashes from any other use of SHA-256.
	hashLabel = "discret-api-key/v1\x00"
)

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Errors. Authenticate and Authorize return them inside an *apierr.Error
// of kind Unauthenticated or PermissionDenied; test with errors.Is.
var (
	ErrNoKey       = errors.New(`auth: missing API key (send "authorization: Bearer KEY")`)
	ErrInvalidKey  = errors.New("auth: invalid API key")
	ErrRevoked     = errors.New("auth: API key revoked")
	ErrScope       = errors.New("auth: API key lacks the scope this method needs")
	ErrNotFound    = errors.New("auth: no API key with this id")
	ErrNameTaken   = errors.New("auth: a key that is not revoked has this name")
	ErrInvalidName = fmt.Errorf("auth: key name must be 1-%d characters from [A-Za-z0-9._:/-] (no '@': names reach the logs and the audit trail, which hold no e-mail address)", store.MaxAPIKeyNameLen)
)

// Key describes an API key. It never holds the key's secret.
type Key struct {
	ID      string
	Name    string
	Scope   Scope
	Created time.Time
	Revoked time.Time // zero while the key is valid
}

// LogValue logs a key as its id and name.
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", k.ID), slog.String("name", k.Name))
}

// Store is where keys are kept. *store.DB implements it.
type Store interface {
	CreateAPIKey(ctx context.Context, k store.APIKey) error
	APIKeys(ctx context.Context) ([]store.APIKey, error)
	RevokeAPIKey(ctx context.Context, id string, at time.Time) (store.APIKey, error)
	RevokeCustomerToken(ctx context.Context, tag [store.CustomerTokenTagSize]byte, expiry time.Time) error
	RevokedCustomerTokens(ctx context.Context) ([]store.RevokedToken, error)
}

var _ Store = (*store.DB)(nil)

// Config configures Open.
type Config struct {
	// Store keeps the keys. Required.
	Store Store
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the source of key ids and secrets; nil means crypto/rand.
	// Anything else is for tests only.
	Rand io.Reader
	// TokenKey is the HMAC key of customer tokens
	// (secret.Master.TokenKey), at least MinTokenKeySize bytes. Nil
	// disables customer tokens: none is minted and every one is refused.
	TokenKey []byte
	// Pseudonyms pseudonymizes the customers of customer tokens; required
	// with TokenKey.
	Pseudonyms Pseudonymizer
}

// Keys authenticates API keys and manages them. It is safe for concurrent
// use. Open at most one Keys per store (see the package documentation).
type Keys struct {
	st   Store
	now  func() time.Time
	rand io.Reader
	// tokenMACs (under Config.TokenKey) and pseudonyms serve customer
	// tokens; tokenMACs is nil without them.
	tokenMACs  *macPool
	pseudonyms Pseudonymizer

	// mu serializes Create, Revoke and RevokeCustomerToken, the writers
	// of table and revoked.
	mu sync.Mutex
	// table maps key ids to entries; the map is never modified once
	// published, so readers need no lock.
	table atomic.Pointer[map[string]entry]
	// revoked maps the customer tokens revoked before their expiry to that
	// expiry (Unix seconds), published like table.
	revoked atomic.Pointer[map[TokenID]int64]
}

type entry struct {
	key  Key
	hash [sha256.Size]byte
}

// Open loads every key of cfg.Store.
func Open(ctx context.Context, cfg Config) (*Keys, error) {
	if cfg.Store == nil {
		return nil, errors.New("auth: Config.Store is required")
	}
	if cfg.TokenKey != nil && len(cfg.TokenKey) < MinTokenKeySize {
		return nil, fmt.Errorf("auth: Config.TokenKey has %d bytes, want at least %d", len(cfg.TokenKey), MinTokenKeySize)
	}
	if cfg.TokenKey != nil && cfg.Pseudonyms == nil {
		return nil, errors.New("auth: Config.Pseudonyms is required with a TokenKey")
	}
	k := &Keys{st: cfg.Store, now: cfg.Now, rand: cfg.Rand, pseudonyms: cfg.Pseudonyms}
	if cfg.TokenKey != nil {
		k.tokenMACs = newMACPool(cfg.TokenKey)
	}
	if k.now == nil {
		k.now = time.Now
	}
	if k.rand == nil {
		k.rand = rand.Reader
	}
	stored, err := cfg.Store.APIKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth: load keys: %w", err)
	}
	table := make(map[string]entry, len(stored))
	for _, s := range stored {
		e, err := fromStore(s)
		if err != nil {
			return nil, err
		}
		table[s.ID] = e
	}
	k.table.Store(&table)
	tokens, err := cfg.Store.RevokedCustomerTokens(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth: load revoked customer tokens: %w", err)
	}
	revoked := make(map[TokenID]int64, len(tokens))
	for _, t := range tokens {
		revoked[TokenID(t.Tag)] = t.Expiry.Unix()
	}
	k.revoked.Store(&revoked)
	return k, nil
}

func fromStore(s store.APIKey) (entry, error) {
	var sc Scope
	for _, name := range s.Scopes {
		one, err := ParseScope(name)
		if err != nil || name == "all" {
			return entry{}, fmt.Errorf("auth: key %s: stored scope %q unknown to this release", s.ID, name)
		}
		sc |= one
	}
	e := entry{key: Key{ID: s.ID, Name: s.Name, Scope: sc, Created: s.Created, Revoked: s.Revoked}}
	if len(s.Hash) != len(e.hash) {
		return entry{}, fmt.Errorf("auth: key %s: stored hash has %d bytes", s.ID, len(s.Hash))
	}
	copy(e.hash[:], s.Hash)
	return e, nil
}

// hashSecret returns the stored hash of a key's secret.
func hashSecret(id, secret string) [sha256.Size]byte {
	var buf [len(hashLabel) + idLen + 1 + secretLen]byte
	b := append(buf[:0], hashLabel...)
	b = append(b, id...)
	b = append(b, 0)
	b = append(b, secret...)
	return sha256.Sum256(b)
}

// ValidName reports whether name can label a new key: 1-64 characters
// from [A-Za-z0-9._:/-]. Names are written in request logs and the audit
// trail, so an e-mail address (a staff login, or a customer id pasted by
// mistake) is refused; a key created under an earlier rule, with an '@',
// keeps its name (the store's rule).
func ValidName(name string) bool {
	return store.ValidAPIKeyName(name) && strings.IndexByte(name, '@') < 0
}

// maxIDAttempts bounds the retries when a random id is already taken.
const maxIDAttempts = 5

// Create makes a new key with the given name and scope, stores its hash and
// returns the key string, which is shown to no one else and cannot be
// recovered, with its description. Names tell keys apart in logs, so a
// name that a key not revoked holds is refused with a *NameTakenError.
func (k *Keys) Create(ctx context.Context, name string, scope Scope) (string, Key, error) {
	if !ValidName(name) {
		return "", Key{}, ErrInvalidName
	}
	if scope == 0 || scope&^All != 0 {
		return "", Key{}, fmt.Errorf("auth: invalid scope %#x", uint8(scope))
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, e := range *k.table.Load() {
		if e.key.Name == name && e.key.Revoked.IsZero() {
			return "", Key{}, &NameTakenError{Holder: e.key}
		}
	}
	for attempt := 0; ; attempt++ {
		var raw [idBytes + secBytes]byte
		if _, err := io.ReadFull(k.rand, raw[:]); err != nil {
			return "", Key{}, fmt.Errorf("auth: random: %w", err)
		}
		id, secret := b32.EncodeToString(raw[:idBytes]), b32.EncodeToString(raw[idBytes:])
		key := Key{ID: id, Name: name, Scope: scope, Created: k.now().UTC()}
		h := hashSecret(id, secret)
		err := k.st.CreateAPIKey(ctx, store.APIKey{ID: id, Name: name, Hash: h[:], Scopes: scope.Names(), Created: key.Created})
		if errors.Is(err, store.ErrAPIKeyExists) && attempt < maxIDAttempts {
			continue
		}
		if err != nil {
			return "", Key{}, fmt.Errorf("auth: create key: %w", err)
		}
		publish(&k.table, func(t map[string]entry) { t[id] = entry{key: key, hash: h} })
		return Prefix + id + "_" + secret, key, nil
	}
}

// NameTakenError is Create's error for a name that a key not revoked
// holds. It wraps ErrNameTaken.
type NameTakenError struct{ Holder Key }

func (e *NameTakenError) Error() string {
	return fmt.Sprintf("auth: API key %s is already named %q", e.Holder.ID, e.Holder.Name)
}

func (e *NameTakenError) Unwrap() error { return ErrNameTaken }

// publish replaces the map that p points to by a copy changed by edit
// (copy on write: readers load the pointer without locking). The caller
// holds Keys.mu.
func publish[K comparable, V any](p *atomic.Pointer[map[K]V], edit func(map[K]V)) {
	m := maps.Clone(*p.Load()) // never nil: Open makes both maps
	edit(m)
	p.Store(&m)
}

// List returns every key, revoked ones included, oldest first.
func (k *Keys) List() []Key {
	t := *k.table.Load()
	keys := make([]Key, 0, len(t))
	for _, e := range t {
		keys = append(keys, e.key)
	}
	slices.SortFunc(keys, func(a, b Key) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return keys
}

// Revoke revokes the key with the given id. Requests with it fail from the
// moment Revoke returns. Revoking a revoked key changes nothing.
func (k *Keys) Revoke(ctx context.Context, id string) (Key, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := (*k.table.Load())[id]; !ok {
		return Key{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	s, err := k.st.RevokeAPIKey(ctx, id, k.now().UTC())
	if err != nil {
		return Key{}, fmt.Errorf("auth: revoke %s: %w", id, err)
	}
	e, err := fromStore(s)
	if err != nil {
		return Key{}, err
	}
	publish(&k.table, func(t map[string]entry) { t[id] = e })
	return e.key, nil
}

// Authenticate checks a key string and returns the key it names. Errors
// are of kind Unauthenticated and wrap ErrNoKey, ErrInvalidKey or
// ErrRevoked.
func (k *Keys) Authenticate(token string) (Key, error) {
	if token == "" {
		return Key{}, unauthenticated(ErrNoKey)
	}
	id, secret, ok := parseToken(token)
	if !ok {
		return Key{}, unauthenticated(ErrInvalidKey)
	}
	// The id is public, so whether it exists may leak through timing; the
	// secret is compared in constant time.
	e, found := (*k.table.Load())[id]
	h := hashSecret(id, secret)
	if !found || subtle.ConstantTimeCompare(h[:], e.hash[:]) != 1 {
		return Key{}, unauthenticated(ErrInvalidKey)
	}
	if !e.key.Revoked.IsZero() {
		return Key{}, unauthenticated(ErrRevoked)
	}
	return e.key, nil
}

func unauthenticated(err error) error {
	return &apierr.Error{Kind: apierr.Unauthenticated, Msg: strings.TrimPrefix(err.Error(), "auth: "), Err: err}
}

// parseToken splits a key string into its id and secret, checking its
// shape.
func parseToken(t string) (id, secret string, ok bool) {
	return splitCredential(t, Prefix, tokenLen)
}

// splitCredential splits s, an API key or a customer token of n
// characters: prefix, an id of idLen characters, "_" and the rest, both in
// lower-case base32.
func splitCredential(s, prefix string, n int) (id, rest string, ok bool) {
	if len(s) != n || !strings.HasPrefix(s, prefix) || s[len(prefix)+idLen] != '_' {
		return "", "", false
	}
	id, rest = s[len(prefix):len(prefix)+idLen], s[len(prefix)+idLen+1:]
	return id, rest, isBase32(id) && isBase32(rest)
}

func isBase32(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; !(b >= 'a' && b <= 'z' || b >= '2' && b <= '7') {
			return false
		}
	}
	return true
}

// Authorize authenticates the API key or customer token in ctx's incoming
// gRPC metadata ("authorization: Bearer KEY") and checks that it may call
// fullMethod with req, the decoded request: an API key needs the scope that
// fullMethod needs; a customer token needs a method open to it
// (CustomerTokenMethod) and, on a method bound to its customer, req must be
// a CustomerRequest naming that customer. It returns the caller, or an
// *apierr.Error of kind Unauthenticated (no, invalid or revoked key; an
// invalid or expired customer token, or one whose key is revoked) or
// PermissionDenied (a method outside the table, a scope the key lacks, a
// method closed to customer tokens, another customer). The caller is
// returned with PermissionDenied too, for the logs.
func (k *Keys) Authorize(ctx context.Context, fullMethod string, req any) (Caller, error) {
	return k.authorize(ctx, fullMethod, req, true)
}

// Preauthorize is Authorize before the request is decoded: it checks
// everything but whether a customer token is bound to the request's
// customer. It lets a REST request be refused before its query and body
// are looked at; Authorize must still be called with the request before it
// is served.
func (k *Keys) Preauthorize(ctx context.Context, fullMethod string) (Caller, error) {
	return k.authorize(ctx, fullMethod, nil, false)
}

// Identify authenticates the API key or customer token in ctx's incoming
// gRPC metadata, as Authorize does, and returns the caller; it checks
// nothing of what the caller may call (scope, method, a token's customer).
// Its errors are those Authorize returns for the same metadata when the
// credential is no valid credential at all (missing, malformed, unknown,
// revoked, expired; kind Unauthenticated), so that a server can refuse
// such a request before it reads the request, with the same answer. It
// costs a map lookup and a SHA-256, or an HMAC for a customer token.
func (k *Keys) Identify(ctx context.Context) (Caller, error) {
	c, _, err := k.identify(ctx)
	return c, err
}

// identify is Identify, and returns a customer token parsed too.
func (k *Keys) identify(ctx context.Context) (Caller, customerToken, error) {
	token, err := bearer(metadata.ValueFromIncomingContext(ctx, "authorization"))
	if err != nil {
		return Caller{}, customerToken{}, err
	}
	if strings.HasPrefix(token, TokenPrefix) {
		return k.identifyToken(token)
	}
	key, err := k.Authenticate(token)
	if err != nil {
		return Caller{}, customerToken{}, err
	}
	return Caller{Key: key}, customerToken{}, nil
}

func (k *Keys) authorize(ctx context.Context, fullMethod string, req any, bind bool) (Caller, error) {
	c, t, err := k.identify(ctx)
	switch {
	case err != nil:
		return c, err
	case c.CustomerToken:
		return k.authorizeToken(c, t, fullMethod, req, bind)
	}
	key := c.Key
	need, ok := MethodScope(fullMethod)
	if !ok {
		return c, &apierr.Error{Kind: apierr.PermissionDenied, Msg: "method " + fullMethod + " is not open to API keys", Err: ErrScope}
	}
	if !key.Scope.Has(need) {
		return c, &apierr.Error{Kind: apierr.PermissionDenied,
			Msg: fmt.Sprintf("API key %s (%s) lacks scope %s, which %s needs", key.ID, key.Name, need, fullMethod), Err: ErrScope}
	}
	return c, nil
}

// bearer extracts the key from the values of the authorization header.
func bearer(values []string) (string, error) {
	switch len(values) {
	case 0:
		return "", unauthenticated(ErrNoKey)
	case 1:
	default:
		return "", &apierr.Error{Kind: apierr.Unauthenticated, Msg: "more than one authorization header", Err: ErrInvalidKey}
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", &apierr.Error{Kind: apierr.Unauthenticated, Msg: `authorization must be "Bearer KEY"`, Err: ErrInvalidKey}
	}
	return strings.TrimSpace(token), nil
}
