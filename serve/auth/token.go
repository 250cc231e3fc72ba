package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/serve/apierr"
)

// Customer tokens.
const (
	// TokenPrefix starts every customer token, as Prefix starts every API
	// key.
	TokenPrefix = "dct_"
	// DefaultTokenTTL is the lifetime of a customer token minted without
	// one, MaxTokenTTL the longest that may be asked for.
	DefaultTokenTTL = 15 * time.Minute
	MaxTokenTTL     = 24 * time.Hour
	// MinTokenKeySize is the shortest Config.TokenKey accepted, in bytes.
	MinTokenKeySize = 32

	bindSize     = sha256.Size // the MAC binding a token to its customer
	tagSize      = 16          // the MAC authenticating the rest of the token
	tokenBody    = 8 + bindSize + tagSize
	tokenBodyLen = (tokenBody*8 + 4) / 5 // in base32 characters, unpadded
	// customerTokenLen is the length of a token string.
	customerTokenLen = len(TokenPrefix) + idLen + 1 + tokenBodyLen
	// The labels that separate the two MACs of a token from each other.
	bindLabel = "discret-customer-token/v1 bind\x00"
	tagLabel  = "discret-customer-token/v1 tag\x00"
)

// Errors about customer tokens, inside an *apierr.Error of kind
// Unauthenticated or PermissionDenied (Authorize), or of the kind named
// (MintCustomerToken); test with errors.Is.
var (
	ErrInvalidToken = errors.New("auth: invalid customer token")
	ErrTokenExpired = errors.New("auth: customer token expired")
	ErrTokenRevoked = errors.New("auth: the API key that minted this customer token is revoked")
	// ErrTokenWithdrawn is the error of a token revoked on its own
	// (RevokeCustomerToken).
	ErrTokenWithdrawn = errors.New("auth: customer token revoked")
	ErrOtherCustomer  = errors.New("auth: this customer token is bound to another customer")
	ErrTokenMethod    = errors.New("auth: customer tokens may call Recommend and EnterStore for their own customer, SimilarItems and PopularItems, and RevokeCustomerToken for themselves, and nothing else")
	ErrNoTokens       = errors.New("auth: this server issues no customer tokens")
)

// Pseudonymizer turns a customer's raw id into their pseudonym.
// *pseudonym.Keyed implements it.
type Pseudonymizer interface {
	Pseudonymize(privacy.CustomerID) privacy.PseudoID
}

// Caller is who sent a request: an API key, or a customer token that an
// API key minted.
type Caller struct {
	// Key is the API key sent, or the one that minted the customer token
	// sent.
	Key Key
	// CustomerToken is set when the request came with a customer token.
	CustomerToken bool
	// Token identifies the customer token sent, and TokenExpiry is when it
	// expires; both are zero for an API key. A customer token's requests
	// count against a rate limit of its own, kept under Token.
	Token       TokenID
	TokenExpiry time.Time
}

// TokenID identifies a customer token: its tag, which tells it from every
// other token. It holds neither the customer's id nor their pseudonym, nor
// what the token needs to be accepted (bind), and is never logged.
type TokenID [tagSize]byte

// LogValue logs a caller as its key's id and name, and says "customer
// token" when the request came with one. Neither the token nor its
// customer is logged.
func (c Caller) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("id", c.Key.ID), slog.String("name", c.Key.Name)}
	if c.CustomerToken {
		attrs = append(attrs, slog.String("credential", "customer token"))
	}
	return slog.GroupValue(attrs...)
}

type callerKey struct{}

// NewContext returns ctx carrying the caller that Authorize returned, and
// its API key (id and name, never its secret; a customer token's minting
// key) as the actor of every audit entry the store writes under ctx.
func NewContext(ctx context.Context, c Caller) context.Context {
	ctx = store.WithAuditActor(ctx, store.AuditActor{Via: store.ViaAPI, KeyID: c.Key.ID, Name: c.Key.Name})
	return context.WithValue(ctx, callerKey{}, c)
}

// FromContext returns the caller that NewContext put in ctx.
func FromContext(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// CustomerRequest is a request that names a customer. A request that a
// customer token makes to a method bound to its customer must be one.
type CustomerRequest interface {
	GetCustomer() string
}

// customerToken is a parsed customer token:
//
//	dct_<id>_<body>
//
// where id is the minting key's id (8 base32 characters) and body is the
// unpadded lower-case base32 encoding of 56 bytes: the expiry (Unix
// seconds, 8 bytes big-endian), bind (32 bytes) and tag (16 bytes).
type customerToken struct {
	keyID  string
	expiry int64
	bind   [bindSize]byte
	tag    [tagSize]byte
}

// String encodes t.
func (t customerToken) String() string {
	var body [tokenBody]byte
	binary.BigEndian.PutUint64(body[:8], uint64(t.expiry))
	copy(body[8:], t.bind[:])
	copy(body[8+bindSize:], t.tag[:])
	return TokenPrefix + t.keyID + "_" + b32.EncodeToString(body[:])
}

// parseCustomerToken parses a token string. It accepts exactly the strings
// that String returns: one encoding per token, so that a token cannot be
// varied without changing what it decodes to.
func parseCustomerToken(s string) (customerToken, bool) {
	var t customerToken
	id, enc, ok := splitCredential(s, TokenPrefix, customerTokenLen)
	if !ok {
		return t, false
	}
	var body [tokenBody]byte
	if n, err := b32.Decode(body[:], []byte(enc)); err != nil || n != tokenBody {
		return t, false
	}
	// The last character carries bits beyond the body's; they must be
	// zero.
	if b32.EncodeToString(body[:]) != enc {
		return t, false
	}
	exp := binary.BigEndian.Uint64(body[:8])
	if exp>>63 != 0 { // not an int64
		return t, false
	}
	t.keyID, t.expiry = id, int64(exp)
	copy(t.bind[:], body[8:])
	copy(t.tag[:], body[8+bindSize:])
	return t, true
}

// bindMAC is HMAC-SHA256 under key over the minting key's id, the expiry
// and the customer's pseudonym: what binds a token to its customer.
func bindMAC(key *macPool, keyID string, expiry int64, p privacy.PseudoID) [bindSize]byte {
	return tokenMAC(key, bindLabel, keyID, expiry, p[:])
}

// tagMAC is HMAC-SHA256 under key over the rest of the token, truncated to
// 16 bytes: it tells a token that Discret minted from any other string
// without knowing its customer, so that a tampered token is refused as
// invalid (UNAUTHENTICATED), and a genuine one used for another customer as
// such (PERMISSION_DENIED).
func tagMAC(key *macPool, keyID string, expiry int64, bind [bindSize]byte) [tagSize]byte {
	sum := tokenMAC(key, tagLabel, keyID, expiry, bind[:])
	return [tagSize]byte(sum[:tagSize])
}

// tokenMAC is HMAC-SHA256 under key over label, the minting key's id, the
// expiry (8 bytes, big-endian) and data.
func tokenMAC(key *macPool, label, keyID string, expiry int64, data []byte) [sha256.Size]byte {
	var buf [64 + idLen + 8]byte
	b := append(buf[:0], label...)
	b = append(b, keyID...)
	b = binary.BigEndian.AppendUint64(b, uint64(expiry))
	return key.sum(b, data)
}

// macPool computes HMAC-SHA256 under one key with pooled states, as
// privacy/pseudonym.Keyed does: hmac.New hashes the padded key into two
// fresh states at every call, and a request with a customer token needs up
// to three MACs. It is safe for concurrent use.
type macPool struct{ pool sync.Pool }

func newMACPool(key []byte) *macPool {
	k := slices.Clone(key)
	p := &macPool{}
	p.pool.New = func() any { return hmac.New(sha256.New, k) }
	return p
}

// sum returns the HMAC-SHA256 of parts, written in order, under p's key.
func (p *macPool) sum(parts ...[]byte) [sha256.Size]byte {
	h := p.pool.Get().(hash.Hash)
	h.Reset()
	for _, b := range parts {
		h.Write(b)
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	p.pool.Put(h)
	return out
}

// MintCustomerToken returns a customer token bound to customer, minted by
// caller's API key, valid for ttl (0 means DefaultTokenTTL; at most
// MaxTokenTTL), and when it expires. The caller must be an API key with the
// Recommend scope, valid now; a customer token cannot mint another. Errors
// are *apierr.Error values (ErrNoTokens is Unimplemented).
func (k *Keys) MintCustomerToken(caller Caller, customer privacy.CustomerID, ttl time.Duration) (string, time.Time, error) {
	if k.tokenMACs == nil {
		return "", time.Time{}, &apierr.Error{Kind: apierr.Unimplemented, Msg: "this server issues no customer tokens (it has no token key)", Err: ErrNoTokens}
	}
	if ttl == 0 {
		ttl = DefaultTokenTTL
	}
	if ttl < time.Second || ttl > MaxTokenTTL {
		return "", time.Time{}, apierr.New(apierr.InvalidArgument, "customer token lifetime %v: want 1s to %v", ttl, MaxTokenTTL)
	}
	if caller.CustomerToken {
		return "", time.Time{}, &apierr.Error{Kind: apierr.PermissionDenied, Msg: "a customer token cannot mint customer tokens", Err: ErrTokenMethod}
	}
	e, found := (*k.table.Load())[caller.Key.ID]
	switch {
	case !found:
		return "", time.Time{}, unauthenticated(ErrInvalidKey)
	case !e.key.Revoked.IsZero():
		return "", time.Time{}, unauthenticated(ErrRevoked)
	case !e.key.Scope.Has(Recommend):
		return "", time.Time{}, &apierr.Error{Kind: apierr.PermissionDenied,
			Msg: fmt.Sprintf("API key %s (%s) lacks scope %s, which customer tokens need", e.key.ID, e.key.Name, Recommend), Err: ErrScope}
	}
	t := customerToken{keyID: e.key.ID, expiry: k.now().Add(ttl).Unix()}
	t.bind = bindMAC(k.tokenMACs, t.keyID, t.expiry, k.pseudonyms.Pseudonymize(customer))
	t.tag = tagMAC(k.tokenMACs, t.keyID, t.expiry, t.bind)
	return t.String(), time.Unix(t.expiry, 0).UTC(), nil
}

// identifyToken authenticates the customer token s: this server minted it,
// and neither it nor its key is revoked, nor is it expired. It returns the
// caller, with the parsed token.
func (k *Keys) identifyToken(s string) (Caller, customerToken, error) {
	t, e, ok := k.verifyToken(s)
	if !ok {
		return Caller{}, customerToken{}, unauthenticated(ErrInvalidToken)
	}
	c := Caller{Key: e.key, CustomerToken: true, Token: TokenID(t.tag), TokenExpiry: time.Unix(t.expiry, 0)}
	if !e.key.Revoked.IsZero() {
		return c, t, unauthenticated(ErrTokenRevoked)
	}
	if !k.now().Before(time.Unix(t.expiry, 0)) {
		return c, t, unauthenticated(ErrTokenExpired)
	}
	if _, ok := (*k.revoked.Load())[c.Token]; ok {
		return c, t, unauthenticated(ErrTokenWithdrawn)
	}
	return c, t, nil
}

// authorizeToken authorizes the caller c, identified by the customer token
// t, for fullMethod. With bind set, a method bound to a customer needs req
// to name the token's customer; without, that check is left to a later
// call.
func (k *Keys) authorizeToken(c Caller, t customerToken, fullMethod string, req any, bind bool) (Caller, error) {
	allowed, bound := CustomerTokenMethod(fullMethod)
	if !allowed {
		return c, &apierr.Error{Kind: apierr.PermissionDenied, Msg: "method " + fullMethod + " is not open to customer tokens", Err: ErrTokenMethod}
	}
	// Every method open to customer tokens needs Recommend (tested).
	if !c.Key.Scope.Has(Recommend) {
		return c, &apierr.Error{Kind: apierr.PermissionDenied,
			Msg: fmt.Sprintf("API key %s (%s), which minted this customer token, lacks scope %s", c.Key.ID, c.Key.Name, Recommend), Err: ErrScope}
	}
	if !bound || !bind {
		return c, nil
	}
	// The binding: the request's customer must be the one whose pseudonym
	// the token's MAC was computed over. A request that names none, or an
	// invalid id, is not that customer.
	other := &apierr.Error{Kind: apierr.PermissionDenied, Msg: "this customer token is bound to another customer", Err: ErrOtherCustomer}
	r, ok := req.(CustomerRequest)
	if !ok {
		return c, other
	}
	id, err := privacy.ParseCustomerID(r.GetCustomer())
	if err != nil {
		return c, other
	}
	want := bindMAC(k.tokenMACs, t.keyID, t.expiry, k.pseudonyms.Pseudonymize(id))
	if !hmac.Equal(want[:], t.bind[:]) {
		return c, other
	}
	return c, nil
}

// verifyToken parses the customer token s and checks that this server
// minted it: its tag is right and its key is in the table, whose entry it
// returns. It says nothing of the token's expiry, its revocation or its
// key's.
func (k *Keys) verifyToken(s string) (customerToken, entry, bool) {
	t, ok := parseCustomerToken(s)
	if !ok || k.tokenMACs == nil {
		return customerToken{}, entry{}, false
	}
	tag := tagMAC(k.tokenMACs, t.keyID, t.expiry, t.bind)
	e, found := (*k.table.Load())[t.keyID]
	if !hmac.Equal(tag[:], t.tag[:]) || !found {
		return customerToken{}, entry{}, false
	}
	return t, e, true
}

// RevokeCustomerToken revokes the customer token s before its expiry, for
// caller: the token itself (s empty or the caller's own token: a device
// signing out), or the API key that minted it (its back end, when the
// device is lost or its customer signs out elsewhere). Requests with the
// token fail from the moment it returns, with ErrTokenWithdrawn, across
// restarts: the store keeps the token's tag (which names no customer)
// until the token expires. It returns the token's expiry, and whether it
// was valid until now: revoking a token that has expired, that was
// revoked, or whose key is revoked changes nothing. Errors are
// *apierr.Error values: InvalidArgument for a string that is not a token
// this server minted, PermissionDenied for any other caller.
func (k *Keys) RevokeCustomerToken(ctx context.Context, caller Caller, s string) (time.Time, bool, error) {
	if k.tokenMACs == nil {
		return time.Time{}, false, &apierr.Error{Kind: apierr.Unimplemented, Msg: "this server issues no customer tokens (it has no token key)", Err: ErrNoTokens}
	}
	var (
		id     TokenID
		keyID  string
		expiry time.Time
	)
	if s == "" && caller.CustomerToken {
		id, keyID, expiry = caller.Token, caller.Key.ID, caller.TokenExpiry
	} else {
		t, _, ok := k.verifyToken(s)
		if !ok {
			return time.Time{}, false, apierr.Invalidf("token", "not a customer token of this server (want the whole \"dct_...\" string CreateCustomerToken returned)")
		}
		id, keyID, expiry = TokenID(t.tag), t.keyID, time.Unix(t.expiry, 0)
	}
	switch {
	case caller.CustomerToken && id != caller.Token:
		return time.Time{}, false, &apierr.Error{Kind: apierr.PermissionDenied, Msg: "a customer token can revoke only itself", Err: ErrTokenMethod}
	case !caller.CustomerToken && keyID != caller.Key.ID:
		return time.Time{}, false, &apierr.Error{Kind: apierr.PermissionDenied,
			Msg: fmt.Sprintf("this customer token was minted by API key %s: only that key, or the token itself, can revoke it", keyID), Err: ErrScope}
	}
	expiry = expiry.UTC()
	k.mu.Lock()
	defer k.mu.Unlock()
	e := (*k.table.Load())[keyID]
	old := *k.revoked.Load()
	_, revoked := old[id]
	now := k.now()
	if revoked || !e.key.Revoked.IsZero() || !now.Before(expiry) {
		return expiry, false, nil
	}
	if err := k.st.RevokeCustomerToken(ctx, id, expiry); err != nil {
		return time.Time{}, false, fmt.Errorf("auth: revoke customer token: %w", err)
	}
	// Dropping the expired tokens, which need no record.
	publish(&k.revoked, func(m map[TokenID]int64) {
		maps.DeleteFunc(m, func(_ TokenID, exp int64) bool { return now.Unix() >= exp })
		m[id] = expiry.Unix()
	})
	return expiry, true, nil
}
