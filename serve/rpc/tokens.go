package rpc

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/discret-io/discret/privacy"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/apierr"
	"github.com/discret-io/discret/serve/auth"
)

// TokenMinter mints and revokes customer tokens. It is the server's own
// *auth.Keys, which authorizes requests made with them.
type TokenMinter interface {
	MintCustomerToken(caller auth.Caller, customer privacy.CustomerID, ttl time.Duration) (token string, expires time.Time, err error)
	RevokeCustomerToken(ctx context.Context, caller auth.Caller, token string) (expires time.Time, revoked bool, err error)
}

var _ TokenMinter = (*auth.Keys)(nil)

var errNoTokens = apierr.New(apierr.Unimplemented, "this server issues no customer tokens")

// CreateCustomerToken mints a customer token for the request's customer,
// on behalf of the API key that called (the server's interceptor puts it
// in ctx).
func (s recommendationServer) CreateCustomerToken(ctx context.Context, req *discretv1.CreateCustomerTokenRequest) (*discretv1.CustomerToken, error) {
	c, err := parseCustomer("customer", req.GetCustomer())
	if err != nil {
		return nil, err
	}
	ttl, err := tokenTTL(req.GetTtlSeconds())
	if err != nil {
		return nil, err
	}
	if s.a.cfg.Tokens == nil {
		return nil, errNoTokens
	}
	caller, ok := auth.FromContext(ctx)
	if !ok {
		return nil, apierr.New(apierr.Unauthenticated, "no API key: customer tokens are minted for the key that asks for them")
	}
	token, expires, err := s.a.cfg.Tokens.MintCustomerToken(caller, c, ttl)
	if err != nil {
		return nil, apiError(err)
	}
	return &discretv1.CustomerToken{Token: token, ExpireTime: timestamppb.New(expires)}, nil
}

// RevokeCustomerToken revokes the request's customer token, or the one
// that called, on behalf of that token or of the API key that minted it.
func (s recommendationServer) RevokeCustomerToken(ctx context.Context, req *discretv1.RevokeCustomerTokenRequest) (*discretv1.RevokeCustomerTokenResponse, error) {
	if s.a.cfg.Tokens == nil {
		return nil, errNoTokens
	}
	caller, ok := auth.FromContext(ctx)
	if !ok {
		return nil, apierr.New(apierr.Unauthenticated, "no API key or customer token: a token is revoked by itself or by the key that minted it")
	}
	if req.GetToken() == "" && !caller.CustomerToken {
		return nil, apierr.Invalidf("token", "required with an API key (a customer token may leave it empty to revoke itself)")
	}
	expires, revoked, err := s.a.cfg.Tokens.RevokeCustomerToken(ctx, caller, req.GetToken())
	if err != nil {
		return nil, apiError(err)
	}
	return &discretv1.RevokeCustomerTokenResponse{Revoked: revoked, ExpireTime: timestamppb.New(expires)}, nil
}

// tokenTTL converts CreateCustomerTokenRequest.ttl_seconds.
func tokenTTL(n int32) (time.Duration, error) {
	const maxSeconds = int32(auth.MaxTokenTTL / time.Second)
	switch {
	case n == 0:
		return auth.DefaultTokenTTL, nil
	case n < 0 || n > maxSeconds:
		return 0, apierr.Invalidf("ttl_seconds", "must be 1-%d (24 hours; 0 means %d), got %d", maxSeconds, int32(auth.DefaultTokenTTL/time.Second), n)
	}
	return time.Duration(n) * time.Second, nil
}
