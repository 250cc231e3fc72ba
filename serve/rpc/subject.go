package rpc

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
)

// ExportCustomer returns everything held about a customer (GDPR access).
func (s adminServer) ExportCustomer(ctx context.Context, req *discretv1.ExportCustomerRequest) (*discretv1.ExportCustomerResponse, error) {
	a := s.a
	c, err := parseCustomer("customer", req.GetCustomer())
	if err != nil {
		return nil, err
	}
	d, err := a.cfg.Store.Export(ctx, a.cfg.Pseudonyms.Pseudonymize(c))
	if err != nil {
		return nil, apiError(err)
	}
	resp := &discretv1.ExportCustomerResponse{
		Pseudonym:    d.Customer,
		Consent:      make([]*discretv1.ConsentChange, 0, len(d.Consent)),
		Events:       make([]*discretv1.StoredEvent, 0, len(d.Events)),
		CouponPushes: make([]*discretv1.CouponPush, 0, len(d.Pushes)),
	}
	for _, c := range d.Consent {
		resp.Consent = append(resp.Consent, &discretv1.ConsentChange{
			Purpose: c.Purpose, Granted: c.Granted, Time: timestamppb.New(c.Time), Source: c.Source,
		})
	}
	for _, e := range d.Events {
		resp.Events = append(resp.Events, &discretv1.StoredEvent{
			Type: e.Type, Item: e.Item, Store: e.Store, Time: timestamppb.New(e.Time),
			Quantity: int32(e.Quantity), ExpiresAt: optTimestamp(e.ExpiresAt),
		})
	}
	for _, p := range d.Pushes {
		resp.CouponPushes = append(resp.CouponPushes, &discretv1.CouponPush{Coupon: p.Coupon, Store: p.Store, Time: timestamppb.New(p.Time)})
	}
	return resp, nil
}

// ForgetCustomer erases everything held about a customer (GDPR erasure),
// atomically for readers, and drops their cached state.
func (s adminServer) ForgetCustomer(ctx context.Context, req *discretv1.ForgetCustomerRequest) (*discretv1.ForgetCustomerResponse, error) {
	a := s.a
	c, err := parseCustomer("customer", req.GetCustomer())
	if err != nil {
		return nil, err
	}
	p := a.cfg.Pseudonyms.Pseudonymize(c)
	removed, err := a.cfg.Store.Forget(ctx, p)
	a.invalidate(p) // even on error: the erasure may have committed in part
	if err != nil {
		return nil, apiError(err)
	}
	resp := &discretv1.ForgetCustomerResponse{Removed: make(map[string]int64, len(removed))}
	for table, n := range removed {
		resp.Removed[table] = int64(n)
	}
	return resp, nil
}
