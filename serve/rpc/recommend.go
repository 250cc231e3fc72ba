package rpc

import (
	"context"
	"fmt"

	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/apierr"
	"github.com/discret-io/discret/serve/recommend"
)

// MaxExclude bounds RecommendRequest.exclude.
const MaxExclude = 1000

var errNoRecommender = apierr.New(apierr.Unimplemented, "this server runs without a recommendation engine")

// Recommend returns personalized recommendations when the customer consents,
// the popular list otherwise.
func (s recommendationServer) Recommend(ctx context.Context, req *discretv1.RecommendRequest) (*discretv1.RecommendResponse, error) {
	r, err := decodeRecommend(req)
	if err != nil {
		return nil, err
	}
	if s.a.cfg.Recommender == nil {
		return nil, errNoRecommender
	}
	resp, err := s.a.cfg.Recommender.Recommend(ctx, r)
	if err != nil {
		return nil, apiError(err)
	}
	return &discretv1.RecommendResponse{
		Items:        scoredItems(resp.Items),
		ModelVersion: resp.ModelVersion,
		Personalized: resp.Reason == recommend.Personalized,
		Reason:       reason(resp.Reason),
	}, nil
}

// decodeRecommend converts and validates a RecommendRequest.
func decodeRecommend(req *discretv1.RecommendRequest) (recommend.Request, error) {
	var r recommend.Request
	var err error
	if r.Customer, err = parseCustomer("customer", req.GetCustomer()); err != nil {
		return r, err
	}
	if r.Limit, err = limit(req.GetLimit()); err != nil {
		return r, err
	}
	if err := checkID("store", req.GetStore(), false); err != nil {
		return r, err
	}
	if err := checkID("category", req.GetCategory(), false); err != nil {
		return r, err
	}
	r.Store, r.Category = req.GetStore(), req.GetCategory()
	if n := len(req.GetExclude()); n > MaxExclude {
		return r, apierr.Invalidf("exclude", "%d items; at most %d", n, MaxExclude)
	}
	for i, it := range req.GetExclude() {
		if err := checkID(fmt.Sprintf("exclude[%d]", i), it, true); err != nil {
			return r, err
		}
	}
	r.Exclude = req.GetExclude()
	r.ExcludePurchased = req.ExcludePurchased == nil || req.GetExcludePurchased()
	return r, nil
}

// reason says why a response is not personalized; nil when it is.
func reason(r recommend.Reason) *discretv1.NonPersonalizedReason {
	switch r {
	case recommend.NoConsent:
		return discretv1.NonPersonalizedReason_NON_PERSONALIZED_REASON_NO_CONSENT.Enum()
	case recommend.NoHistory:
		return discretv1.NonPersonalizedReason_NON_PERSONALIZED_REASON_NO_HISTORY.Enum()
	case recommend.NoModel:
		return discretv1.NonPersonalizedReason_NON_PERSONALIZED_REASON_NO_MODEL.Enum()
	}
	return nil
}

func scoredItems(items []recommend.Item) []*discretv1.ScoredItem {
	out := make([]*discretv1.ScoredItem, len(items))
	for i, it := range items {
		out[i] = &discretv1.ScoredItem{
			Item: it.ID, Score: it.Score, Category: it.Category,
			Explanation: it.Explanation, BecauseItem: it.Because,
		}
	}
	return out
}

// SimilarItems returns the items closest to an item; it uses no customer
// data.
func (s recommendationServer) SimilarItems(ctx context.Context, req *discretv1.SimilarItemsRequest) (*discretv1.SimilarItemsResponse, error) {
	r, err := decodeSimilar(req)
	if err != nil {
		return nil, err
	}
	if s.a.cfg.Recommender == nil {
		return nil, errNoRecommender
	}
	l, err := s.a.cfg.Recommender.Similar(ctx, r)
	if err != nil {
		return nil, apiError(err)
	}
	return &discretv1.SimilarItemsResponse{Items: scoredItems(l.Items), ModelVersion: l.ModelVersion}, nil
}

func decodeSimilar(req *discretv1.SimilarItemsRequest) (recommend.SimilarRequest, error) {
	if err := checkID("item", req.GetItem(), true); err != nil {
		return recommend.SimilarRequest{}, err
	}
	n, err := limit(req.GetLimit())
	return recommend.SimilarRequest{Item: req.GetItem(), Limit: n}, err
}

// PopularItems returns the differentially private popular items.
func (s recommendationServer) PopularItems(ctx context.Context, req *discretv1.PopularItemsRequest) (*discretv1.PopularItemsResponse, error) {
	r, err := decodePopular(req)
	if err != nil {
		return nil, err
	}
	if s.a.cfg.Recommender == nil {
		return nil, errNoRecommender
	}
	l, err := s.a.cfg.Recommender.Popular(ctx, r)
	if err != nil {
		return nil, apiError(err)
	}
	return &discretv1.PopularItemsResponse{Items: scoredItems(l.Items), ModelVersion: l.ModelVersion}, nil
}

func decodePopular(req *discretv1.PopularItemsRequest) (recommend.PopularRequest, error) {
	if err := checkID("store", req.GetStore(), false); err != nil {
		return recommend.PopularRequest{}, err
	}
	if err := checkID("category", req.GetCategory(), false); err != nil {
		return recommend.PopularRequest{}, err
	}
	n, err := limit(req.GetLimit())
	return recommend.PopularRequest{Store: req.GetStore(), Category: req.GetCategory(), Limit: n}, err
}
