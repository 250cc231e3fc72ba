package rpc

import (
	"context"

	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/apierr"
	"github.com/discret-io/discret/serve/coupons"
)

// EnterStore records a customer's visit (with in_store and personalization
// consent) and returns the coupons chosen for it, or says why the visit was
// not recorded.
func (s storeServer) EnterStore(ctx context.Context, req *discretv1.EnterStoreRequest) (*discretv1.EnterStoreResponse, error) {
	e, err := decodeEntry(req)
	if err != nil {
		return nil, err
	}
	if s.a.cfg.Entries == nil {
		return nil, apierr.New(apierr.Unimplemented, "this server runs without a coupon engine")
	}
	res, err := s.a.cfg.Entries.Enter(ctx, e)
	if err != nil {
		return nil, apiError(err)
	}
	resp := &discretv1.EnterStoreResponse{
		Coupons:                make([]*discretv1.OfferedCoupon, len(res.Offers)),
		Personalized:           res.Personalized,
		VisitRecorded:          res.VisitRecorded,
		Capped:                 res.Capped,
		CapReason:              res.CapReason,
		Repeated:               res.Repeated,
		ModelVersion:           res.ModelVersion,
		VisitNotRecordedReason: notRecorded(res),
	}
	for i, o := range res.Offers {
		resp.Coupons[i] = &discretv1.OfferedCoupon{
			Coupon: o.Coupon, Item: o.Item, Value: o.Value, ValidUntil: optTimestamp(o.ValidUntil),
			Explanation: o.Explanation, Score: o.Score,
		}
	}
	return resp, nil
}

// notRecorded says why res's visit was not recorded; nil when it was.
func notRecorded(res coupons.Result) *discretv1.VisitNotRecordedReason {
	if res.VisitRecorded {
		return nil
	}
	switch res.NotRecorded {
	case coupons.NoInStoreConsent:
		return discretv1.VisitNotRecordedReason_VISIT_NOT_RECORDED_REASON_NO_IN_STORE_CONSENT.Enum()
	case coupons.NoPersonalizationConsent:
		return discretv1.VisitNotRecordedReason_VISIT_NOT_RECORDED_REASON_NO_PERSONALIZATION_CONSENT.Enum()
	case coupons.ConsentWithdrawn:
		return discretv1.VisitNotRecordedReason_VISIT_NOT_RECORDED_REASON_CONSENT_WITHDRAWN.Enum()
	}
	return nil
}

func decodeEntry(req *discretv1.EnterStoreRequest) (coupons.Entry, error) {
	if err := checkID("store", req.GetStore(), true); err != nil {
		return coupons.Entry{}, err
	}
	c, err := parseCustomer("customer", req.GetCustomer())
	if err != nil {
		return coupons.Entry{}, err
	}
	return coupons.Entry{Store: req.GetStore(), Customer: c}, nil
}
