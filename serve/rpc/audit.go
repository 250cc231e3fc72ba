package rpc

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/discret-io/discret/features/store"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/apierr"
)

// Audit trail page sizes.
const (
	DefaultAuditPageSize = 100
	MaxAuditPageSize     = 1000
)

// ListAuditEntries lists the audit trail, newest first.
func (s adminServer) ListAuditEntries(ctx context.Context, req *discretv1.ListAuditEntriesRequest) (*discretv1.ListAuditEntriesResponse, error) {
	q, err := decodeAuditQuery(req.GetSince(), req.GetUntil(), req.GetActions(), req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return s.a.audit(ctx, q)
}

// SearchAuditEntries lists the audit entries about one customer, newest
// first.
func (s adminServer) SearchAuditEntries(ctx context.Context, req *discretv1.SearchAuditEntriesRequest) (*discretv1.ListAuditEntriesResponse, error) {
	c, err := parseCustomer("customer", req.GetCustomer())
	if err != nil {
		return nil, err
	}
	q, err := decodeAuditQuery(req.GetSince(), req.GetUntil(), req.GetActions(), req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	q.Subject = store.SubjectOf(s.a.cfg.Pseudonyms.Pseudonymize(c))
	return s.a.audit(ctx, q)
}

func (a *API) audit(ctx context.Context, q store.AuditQuery) (*discretv1.ListAuditEntriesResponse, error) {
	entries, more, err := a.cfg.Store.Audit(ctx, q)
	if err != nil {
		return nil, apiError(err)
	}
	resp := &discretv1.ListAuditEntriesResponse{Entries: make([]*discretv1.AuditEntry, len(entries))}
	for i, e := range entries {
		resp.Entries[i] = &discretv1.AuditEntry{
			Id: e.ID, Time: timestamppb.New(e.Time), Action: e.Action.String(),
			Actor:   &discretv1.AuditActor{Via: e.Actor.Via.String(), KeyId: e.Actor.KeyID, Name: e.Actor.Name},
			Subject: e.Subject.Short(), Object: e.Object, Counts: e.Counts,
		}
	}
	if more {
		resp.NextPageToken = entries[len(entries)-1].ID
	}
	return resp, nil
}

// decodeAuditQuery converts and validates the filters and page of a
// listing of the audit trail.
func decodeAuditQuery(since, until *timestamppb.Timestamp, actions []string, size int32, token string) (store.AuditQuery, error) {
	var q store.AuditQuery
	var err error
	if since != nil {
		if q.Since, err = timestamp("since", since); err != nil {
			return q, err
		}
	}
	if until != nil {
		if q.Until, err = timestamp("until", until); err != nil {
			return q, err
		}
	}
	if since != nil && until != nil && !q.Since.Before(q.Until) {
		return q, apierr.Invalidf("until", "must be after since")
	}
	for i, name := range actions {
		a, err := store.ParseAuditAction(name)
		if err != nil {
			field := fmt.Sprintf("actions[%d]", i)
			return q, apierr.Invalidf(field, "unknown action %s (want %s)", apierr.Quote("an action", name), store.AuditActionNames())
		}
		q.Actions = append(q.Actions, a)
	}
	switch {
	case size == 0:
		q.Limit = DefaultAuditPageSize
	case size < 0 || size > MaxAuditPageSize:
		return q, apierr.Invalidf("page_size", "must be 1-%d (0 means %d), got %d", MaxAuditPageSize, DefaultAuditPageSize, size)
	default:
		q.Limit = int(size)
	}
	if token != "" && !store.ValidAuditID(token) {
		return q, apierr.Invalidf("page_token", "not a token of this listing (pass next_page_token unchanged)")
	}
	q.Before = token
	return q, nil
}
