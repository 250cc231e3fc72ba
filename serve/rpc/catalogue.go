package rpc

import (
	"context"
	"errors"
	"fmt"

	"github.com/discret-io/discret/features"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/apierr"
)

var errNoCatalogue = apierr.New(apierr.Unimplemented, "this server runs without a catalogue")

// UpsertItem creates or updates a catalogue item and returns it as stored.
func (s adminServer) UpsertItem(ctx context.Context, req *discretv1.UpsertItemRequest) (*discretv1.Item, error) {
	it, err := decodeItem(req)
	if err != nil {
		return nil, err
	}
	if s.a.cfg.Catalogue == nil {
		return nil, errNoCatalogue
	}
	if err := s.a.cfg.Catalogue.UpsertItem(ctx, it); err != nil {
		return nil, apiError(err)
	}
	return &discretv1.Item{Item: it.ID, Category: it.Category, Stores: nonNil(it.Stores), Active: it.Active}, nil
}

func decodeItem(req *discretv1.UpsertItemRequest) (features.Item, error) {
	it := features.Item{ID: req.GetItem(), Category: req.GetCategory(), Stores: req.GetStores(), Active: req.Active == nil || req.GetActive()}
	return it, validationError(it.Validate())
}

// UpsertCoupon creates or updates a coupon and returns it as stored.
func (s adminServer) UpsertCoupon(ctx context.Context, req *discretv1.UpsertCouponRequest) (*discretv1.Coupon, error) {
	c, err := decodeCoupon(req)
	if err != nil {
		return nil, err
	}
	if s.a.cfg.Catalogue == nil {
		return nil, errNoCatalogue
	}
	if err := s.a.cfg.Catalogue.UpsertCoupon(ctx, c); err != nil {
		return nil, apiError(err)
	}
	return &discretv1.Coupon{
		Coupon: c.ID, Item: c.Item, Stores: nonNil(c.Stores), Value: c.Value,
		ValidFrom: optTimestamp(c.ValidFrom), ValidUntil: optTimestamp(c.ValidUntil), Active: c.Active,
	}, nil
}

func decodeCoupon(req *discretv1.UpsertCouponRequest) (features.Coupon, error) {
	c := features.Coupon{ID: req.GetCoupon(), Item: req.GetItem(), Stores: req.GetStores(), Value: req.GetValue(), Active: req.Active == nil || req.GetActive()}
	var err error
	if c.ValidFrom, err = timestamp("valid_from", req.GetValidFrom()); err != nil {
		return c, err
	}
	if c.ValidUntil, err = timestamp("valid_until", req.GetValidUntil()); err != nil {
		return c, err
	}
	c.ValidFrom, c.ValidUntil = c.ValidFrom.UTC(), c.ValidUntil.UTC()
	return c, validationError(c.Validate())
}

// validationError turns a catalogue validation error into an API error.
func validationError(err error) error {
	var fe *features.FieldError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe):
		return fieldError(fe.Field, fe)
	}
	return apierr.Wrap(apierr.InvalidArgument, fmt.Errorf("invalid request: %w", err))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
