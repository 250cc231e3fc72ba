package rpc

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/apierr"
)

// Consent request limits.
const (
	// MaxConsentChanges bounds SetConsentRequest.changes.
	MaxConsentChanges = 64
	// DefaultConsentSource is the source of changes that name none.
	DefaultConsentSource = "api"
)

// GetConsent returns the customer's decision per purpose and the history.
func (s consentServer) GetConsent(ctx context.Context, req *discretv1.GetConsentRequest) (*discretv1.ConsentState, error) {
	a := s.a
	c, err := parseCustomer("customer", req.GetCustomer())
	if err != nil {
		return nil, err
	}
	rec, err := a.cfg.Store.Consent(ctx, a.cfg.Pseudonyms.Pseudonymize(c))
	if err != nil {
		return nil, apiError(err)
	}
	return consentState(rec, a.cfg.ConsentDefaults), nil
}

// SetConsent records grants and withdrawals; a withdrawal erases at once
// what the customer's consent no longer allows.
func (s consentServer) SetConsent(ctx context.Context, req *discretv1.SetConsentRequest) (*discretv1.SetConsentResponse, error) {
	a := s.a
	c, err := parseCustomer("customer", req.GetCustomer())
	if err != nil {
		return nil, err
	}
	changes, err := decodeConsentChanges(req.GetChanges(), a.cfg.Now())
	if err != nil {
		return nil, err
	}
	p := a.cfg.Pseudonyms.Pseudonymize(c)
	// The changes sent without a time are dated now by the server, after
	// the customer's erasure and latest choices: the request came after
	// them, and dated in their second, the changes would be answered 200
	// with nothing recorded or, for a grant, outranked by a withdrawal.
	undated := func(i int) bool { return req.GetChanges()[i].GetTime() == nil }
	if err := release.DateUndated(ctx, a.cfg.Store, p, changes, undated, a.cfg.Now, a.cfg.Sleep); err != nil {
		return nil, apiError(err)
	}
	res, got, err := release.UpdateConsent(ctx, a.cfg.Store, p, changes, a.cfg.ConsentDefaults)
	// Even if the update then failed: the releases are gone.
	err = a.retired(ctx, got.Retired, err)
	a.invalidate(p) // even on error: part of an erasure may have committed
	if err != nil {
		return nil, apiError(err)
	}
	return &discretv1.SetConsentResponse{
		State:            consentState(res.Record, a.cfg.ConsentDefaults),
		Erased:           int64(res.Removed.Total()),
		DeletedReleases:  int64(len(got.Retired)),
		PredatingErasure: int64(res.PredatingErasure),
		Outranked:        int64(len(res.Outranked)),
	}, nil
}

// decodeConsentChanges converts and validates consent changes; now dates
// those without a time.
func decodeConsentChanges(in []*discretv1.ConsentChange, now time.Time) ([]consent.Change, error) {
	switch {
	case len(in) == 0:
		return nil, apierr.Invalidf("changes", "at least one change is required")
	case len(in) > MaxConsentChanges:
		return nil, apierr.Invalidf("changes", "%d changes; at most %d per request", len(in), MaxConsentChanges)
	}
	out := make([]consent.Change, len(in))
	for i, pc := range in {
		field := func(name string) string { return fmt.Sprintf("changes[%d].%s", i, name) }
		p, err := privacy.ParsePurpose(pc.GetPurpose())
		if err != nil {
			return nil, apierr.Invalidf(field("purpose"), "want personalization or in_store")
		}
		if pc.Granted == nil {
			return nil, apierr.Invalidf(field("granted"), "required: true to grant, false to withdraw")
		}
		at := now.UTC()
		if pc.GetTime() != nil {
			if at, err = timestamp(field("time"), pc.GetTime()); err != nil {
				return nil, err
			}
			if at.After(now.Add(privacy.MaxClockSkew)) {
				return nil, apierr.Invalidf(field("time"), "%s is in the future (at most %v ahead of the server's clock)", at.Format(time.RFC3339), privacy.MaxClockSkew)
			}
			if at.Before(time.Unix(0, 0)) {
				return nil, apierr.Invalidf(field("time"), "%s is before 1970", at.Format(time.RFC3339))
			}
		}
		src := pc.GetSource()
		src = cmp.Or(src, DefaultConsentSource)
		if err := consent.ValidateSource(src); err != nil {
			return nil, apierr.Invalidf(field("source"), "want %s", consent.SourceWant)
		}
		out[i] = consent.Change{Purpose: p, Granted: pc.GetGranted(), Time: at, Source: src}
	}
	return out, nil
}

// consentState describes a consent record under defaults d.
func consentState(r consent.Record, d consent.Defaults) *discretv1.ConsentState {
	st := &discretv1.ConsentState{
		Purposes: make([]*discretv1.PurposeState, 0, len(privacy.Purposes)),
		History:  make([]*discretv1.ConsentChange, 0, len(r.Changes)),
	}
	for _, p := range privacy.Purposes {
		ps := &discretv1.PurposeState{Purpose: p.String(), Allowed: d.Allows(r, p)}
		if c, ok := r.Latest(p); ok {
			ps.Expressed, ps.Time, ps.Source = true, timestamppb.New(c.Time), c.Source
		}
		st.Purposes = append(st.Purposes, ps)
	}
	st.ErasedAt = optTimestamp(r.ErasedAt)
	for _, c := range r.Changes {
		st.History = append(st.History, &discretv1.ConsentChange{
			Purpose: c.Purpose.String(), Granted: proto.Bool(c.Granted), Time: timestamppb.New(c.Time), Source: c.Source,
		})
	}
	return st
}
