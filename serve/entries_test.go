package serve_test

import (
	"testing"

	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/coupons"
)

// TestEnterStoreVisitReason checks that both transports say why a store
// visit was not recorded, REST as the enum's name, and that a recorded
// visit carries the UNSPECIFIED reason.
func TestEnterStoreVisitReason(t *testing.T) {
	h := start(t, nil)
	ctx := t.Context()
	key := h.tokens["recommend"]
	for _, tt := range []struct {
		res  coupons.Result
		want discretv1.VisitNotRecordedReason
	}{
		{coupons.Result{VisitRecorded: true, Personalized: true}, discretv1.VisitNotRecordedReason_VISIT_NOT_RECORDED_REASON_UNSPECIFIED},
		{coupons.Result{NotRecorded: coupons.NoInStoreConsent}, discretv1.VisitNotRecordedReason_VISIT_NOT_RECORDED_REASON_NO_IN_STORE_CONSENT},
		{coupons.Result{NotRecorded: coupons.NoPersonalizationConsent}, discretv1.VisitNotRecordedReason_VISIT_NOT_RECORDED_REASON_NO_PERSONALIZATION_CONSENT},
		{coupons.Result{NotRecorded: coupons.ConsentWithdrawn}, discretv1.VisitNotRecordedReason_VISIT_NOT_RECORDED_REASON_CONSENT_WITHDRAWN},
	} {
		h.eng.answerEntries(tt.res)
		r := h.rest(ctx, "POST", "/v1/stores/s1/entries", key, `{"customer":"c1"}`)
		m := r.json(t)
		wantREST := any(tt.want.String())
		if tt.res.VisitRecorded {
			wantREST = nil // absent: a recorded visit has no reason
		}
		if r.status != 200 || m["visit_not_recorded_reason"] != wantREST || m["visit_recorded"] != tt.res.VisitRecorded {
			t.Errorf("REST entry answered %+v = %d %s; want visit_recorded %v, visit_not_recorded_reason %s", tt.res, r.status, r.body, tt.res.VisitRecorded, tt.want)
		}
		var resp discretv1.EnterStoreResponse
		st := h.invoke(ctx, discretv1.StoreService_EnterStore_FullMethodName, key, &discretv1.EnterStoreRequest{Store: "s1", Customer: "c1"}, &resp)
		if st.Err() != nil || resp.GetVisitNotRecordedReason() != tt.want || (resp.VisitNotRecordedReason == nil) != tt.res.VisitRecorded || resp.VisitRecorded != tt.res.VisitRecorded {
			t.Errorf("gRPC entry answered %+v = %v, %v; want visit_recorded %v, reason %s", tt.res, &resp, st.Err(), tt.res.VisitRecorded, tt.want)
		}
	}
}
