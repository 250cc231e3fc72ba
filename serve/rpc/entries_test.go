package rpc_test

import (
	"context"
	"testing"

	"github.com/discret-io/discret/features/ingest"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/privacy/consent"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/coupons"
	"github.com/discret-io/discret/serve/recommend"
	"github.com/discret-io/discret/serve/rpc"
	"google.golang.org/protobuf/proto"
)

// fixedEntries answers every store entry with the same result.
type fixedEntries coupons.Result

func (e fixedEntries) Enter(context.Context, coupons.Entry) (coupons.Result, error) {
	return coupons.Result(e), nil
}

// TestEnterStoreReason checks that EnterStore says why the coupon engine
// did not record a visit, for every reason of the API, and gives no reason
// for a recorded visit.
func TestEnterStoreReason(t *testing.T) {
	const (
		none            = discretv1.VisitNotRecordedReason_VISIT_NOT_RECORDED_REASON_UNSPECIFIED
		noInStore       = discretv1.VisitNotRecordedReason_VISIT_NOT_RECORDED_REASON_NO_IN_STORE_CONSENT
		noPersonalizing = discretv1.VisitNotRecordedReason_VISIT_NOT_RECORDED_REASON_NO_PERSONALIZATION_CONSENT
		withdrawn       = discretv1.VisitNotRecordedReason_VISIT_NOT_RECORDED_REASON_CONSENT_WITHDRAWN
	)
	tests := []struct {
		name string
		res  coupons.Result
		want discretv1.VisitNotRecordedReason
	}{
		{"recorded", coupons.Result{VisitRecorded: true, Personalized: true}, none},
		{"recorded, capped", coupons.Result{VisitRecorded: true, Capped: true, CapReason: "at most 1"}, none},
		{"recorded, capped, repeated", coupons.Result{VisitRecorded: true, Capped: true, CapReason: "at most 1", Repeated: true,
			Offers: []coupons.Offer{{Coupon: "c1", Item: "SKU-1", Value: "-5%"}}}, none},
		{"no in_store consent", coupons.Result{NotRecorded: coupons.NoInStoreConsent}, noInStore},
		{"no personalization consent", coupons.Result{NotRecorded: coupons.NoPersonalizationConsent}, noPersonalizing},
		{"consent withdrawn during the entry", coupons.Result{NotRecorded: coupons.ConsentWithdrawn}, withdrawn},
	}
	covered := map[discretv1.VisitNotRecordedReason]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(c *rpc.Config) { c.Entries = fixedEntries(tt.res) })
			resp, err := f.servers().EnterStore(t.Context(), &discretv1.EnterStoreRequest{Store: "s1", Customer: "dave"})
			if err != nil || resp.GetVisitNotRecordedReason() != tt.want || (resp.VisitNotRecordedReason == nil) != tt.res.VisitRecorded || resp.VisitRecorded != tt.res.VisitRecorded {
				t.Errorf("EnterStore = %v, %v; want visit_recorded %v, reason %v", resp, err, tt.res.VisitRecorded, tt.want)
			}
			if resp.GetCapped() != tt.res.Capped || resp.GetCapReason() != tt.res.CapReason || resp.GetRepeated() != tt.res.Repeated || len(resp.GetCoupons()) != len(tt.res.Offers) {
				t.Errorf("EnterStore = %v; want capped %v (%q), repeated %v, %d coupons", resp, tt.res.Capped, tt.res.CapReason, tt.res.Repeated, len(tt.res.Offers))
			}
		})
		covered[tt.want] = true
	}
	for v, name := range discretv1.VisitNotRecordedReason_name {
		if !covered[discretv1.VisitNotRecordedReason(v)] {
			t.Errorf("no test gives %s", name)
		}
	}
}

// TestEnterStoreNotRecorded checks the reason EnterStore gives for each
// consent state, with the real coupon engine, consent recorded through
// SetConsent, and that a recorded visit has no reason.
func TestEnterStoreNotRecorded(t *testing.T) {
	const (
		none            = discretv1.VisitNotRecordedReason_VISIT_NOT_RECORDED_REASON_UNSPECIFIED
		noInStore       = discretv1.VisitNotRecordedReason_VISIT_NOT_RECORDED_REASON_NO_IN_STORE_CONSENT
		noPersonalizing = discretv1.VisitNotRecordedReason_VISIT_NOT_RECORDED_REASON_NO_PERSONALIZATION_CONSENT
	)
	grantBoth := []*discretv1.ConsentChange{{Purpose: "personalization", Granted: proto.Bool(true)}, {Purpose: "in_store", Granted: proto.Bool(true)}}
	tests := []struct {
		name     string
		defaults consent.Defaults
		// changes are recorded in order, one SetConsent each.
		changes [][]*discretv1.ConsentChange
		want    discretv1.VisitNotRecordedReason
	}{
		{"both granted", consent.Defaults{}, [][]*discretv1.ConsentChange{grantBoth}, none},
		{"never chose", consent.Defaults{}, nil, noInStore},
		{"personalization only", consent.Defaults{}, [][]*discretv1.ConsentChange{{{Purpose: "personalization", Granted: proto.Bool(true)}}}, noInStore},
		{"in_store only", consent.Defaults{}, [][]*discretv1.ConsentChange{{{Purpose: "in_store", Granted: proto.Bool(true)}}}, noPersonalizing},
		{"in_store refused", consent.Defaults{}, [][]*discretv1.ConsentChange{{{Purpose: "personalization", Granted: proto.Bool(true)}, {Purpose: "in_store", Granted: proto.Bool(false)}}}, noInStore},
		{"in_store withdrawn", consent.Defaults{}, [][]*discretv1.ConsentChange{grantBoth, {{Purpose: "in_store", Granted: proto.Bool(false)}}}, noInStore},
		{"personalization withdrawn", consent.Defaults{}, [][]*discretv1.ConsentChange{grantBoth, {{Purpose: "personalization", Granted: proto.Bool(false)}}}, noPersonalizing},
		{"never chose, defaults grant both", consent.Defaults{Personalization: true, InStore: true}, nil, none},
		{"never chose, default grants in_store only", consent.Defaults{InStore: true}, nil, noPersonalizing},
		{"in_store withdrawn, defaults grant both", consent.Defaults{Personalization: true, InStore: true}, [][]*discretv1.ConsentChange{{{Purpose: "in_store", Granted: proto.Bool(false)}}}, noInStore},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(c *rpc.Config) {
				db := c.Store.(*store.DB)
				in, err := ingest.New(ingest.Config{Pseudonyms: c.Pseudonyms, Consent: tt.defaults, Now: c.Now}, db)
				if err != nil {
					t.Fatal(err)
				}
				rec, err := recommend.New(recommend.Config{Pseudonyms: c.Pseudonyms, Customers: db, Catalogue: db, Now: c.Now})
				if err != nil {
					t.Fatal(err)
				}
				eng, err := coupons.New(coupons.Config{Pseudonyms: c.Pseudonyms, Customers: db, Visits: in, Pushes: db, Coupons: db, Model: rec, ConsentDefaults: tt.defaults, Now: c.Now})
				if err != nil {
					t.Fatal(err)
				}
				c.Events, c.ConsentDefaults, c.Entries = in, tt.defaults, eng
			})
			s := f.servers()
			ctx := t.Context()
			for _, ch := range tt.changes {
				if _, err := s.SetConsent(ctx, &discretv1.SetConsentRequest{Customer: "erin", Changes: ch}); err != nil {
					t.Fatal(err)
				}
			}
			resp, err := s.EnterStore(ctx, &discretv1.EnterStoreRequest{Store: "s1", Customer: "erin"})
			recorded := tt.want == none
			if err != nil || resp.GetVisitNotRecordedReason() != tt.want || (resp.VisitNotRecordedReason == nil) != recorded || resp.VisitRecorded != recorded {
				t.Fatalf("EnterStore = %v, %v; want visit_recorded %v, reason %v", resp, err, recorded, tt.want)
			}
			want := 0
			if recorded {
				want = 1
			}
			if events, err := f.db.CustomerEvents(ctx, f.pseudo("erin")); err != nil || len(events) != want {
				t.Errorf("stored events = %+v, %v; want %d (the visit)", events, err, want)
			}
		})
	}
}
