package rpc

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/discret-io/discret/features"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/apierr"
	"github.com/discret-io/discret/serve/auth"
)

// KeyManager serves the API-key RPCs. It is the server's own *auth.Keys, so
// that a key created or revoked through the API takes effect at once: the
// data directory belongs to the server while it runs, and `discret apikey`
// cannot open it then.
type KeyManager interface {
	Create(ctx context.Context, name string, scope auth.Scope) (token string, key auth.Key, err error)
	List() []auth.Key
	Revoke(ctx context.Context, id string) (auth.Key, error)
}

var _ KeyManager = (*auth.Keys)(nil)

var errNoKeys = apierr.New(apierr.Unimplemented, "this server runs without API-key management")

// CreateApiKey creates an API key and returns it, once.
func (s adminServer) CreateApiKey(ctx context.Context, req *discretv1.CreateApiKeyRequest) (*discretv1.CreateApiKeyResponse, error) {
	if !auth.ValidName(req.GetName()) {
		return nil, apierr.Invalid("name", errors.New(strings.TrimPrefix(auth.ErrInvalidName.Error(), "auth: ")))
	}
	if len(req.GetScopes()) == 0 {
		return nil, apierr.Invalidf("scopes", "required: recommend, events, consent, admin or all")
	}
	scope, err := auth.ParseScope(strings.Join(req.GetScopes(), ","))
	if err != nil {
		return nil, apierr.Invalid("scopes", errors.New(strings.TrimPrefix(err.Error(), "auth: ")))
	}
	if s.a.cfg.Keys == nil {
		return nil, errNoKeys
	}
	token, key, err := s.a.cfg.Keys.Create(ctx, req.GetName(), scope)
	var taken *auth.NameTakenError
	if errors.As(err, &taken) {
		// The request is well formed; it conflicts with a key that exists
		// (409 on REST), as a retry would.
		return nil, &apierr.Error{Kind: apierr.AlreadyExists, Field: "name",
			Msg: "name: API key " + taken.Holder.ID + " already has this name; choose another, or revoke that key first", Err: err}
	}
	if err != nil {
		return nil, apiError(err)
	}
	return &discretv1.CreateApiKeyResponse{Key: apiKey(key), Token: token}, nil
}

// ListApiKeys lists every API key, oldest first.
func (s adminServer) ListApiKeys(context.Context, *discretv1.ListApiKeysRequest) (*discretv1.ListApiKeysResponse, error) {
	if s.a.cfg.Keys == nil {
		return nil, errNoKeys
	}
	keys := s.a.cfg.Keys.List()
	resp := &discretv1.ListApiKeysResponse{Keys: make([]*discretv1.ApiKey, len(keys))}
	for i, k := range keys {
		resp.Keys[i] = apiKey(k)
	}
	return resp, nil
}

// RevokeApiKey revokes an API key.
func (s adminServer) RevokeApiKey(ctx context.Context, req *discretv1.RevokeApiKeyRequest) (*discretv1.ApiKey, error) {
	if req.GetId() == "" {
		return nil, apierr.Invalidf("id", "required")
	}
	if s.a.cfg.Keys == nil {
		return nil, errNoKeys
	}
	k, err := s.a.cfg.Keys.Revoke(ctx, req.GetId())
	if errors.Is(err, auth.ErrNotFound) {
		// The id is not a secret: it is in every key and in the logs.
		return nil, &apierr.Error{Kind: apierr.NotFound, Msg: "no API key with id " + features.FieldLabel(req.GetId()), Err: err}
	}
	if err != nil {
		return nil, apiError(err)
	}
	return apiKey(k), nil
}

// apiKey converts a key's description.
func apiKey(k auth.Key) *discretv1.ApiKey {
	out := &discretv1.ApiKey{Id: k.ID, Name: k.Name, Scopes: k.Scope.Names(), Created: timestamppb.New(k.Created)}
	if !k.Revoked.IsZero() {
		out.Revoked = timestamppb.New(k.Revoked)
	}
	return out
}
