package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/ingest"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/store/storetest"
	"github.com/discret-io/discret/model/budget"
	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/model/train"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
	"github.com/discret-io/discret/privacy/pseudonym"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/apierr"
	"github.com/discret-io/discret/serve/coupons"
	"github.com/discret-io/discret/serve/recommend"
	"github.com/discret-io/discret/serve/rpc"
)

// fixture is an API over an in-memory store, with a fake clock and a
// recording cache.
type fixture struct {
	api    *rpc.API
	db     *store.DB
	ps     *pseudonym.Keyed
	clock  *storetest.Clock
	cache  *recordingCache
	events *ingest.Ingester
	slept  time.Duration // what the API's Sleep waited, on the fake clock
}

type recordingCache struct {
	mu  sync.Mutex // guards got
	got []privacy.PseudoID
}

func (c *recordingCache) Invalidate(p privacy.PseudoID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, p)
}

func (c *recordingCache) take() []privacy.PseudoID {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.got
	c.got = nil
	return got
}

func newFixture(t *testing.T, edit func(*rpc.Config)) *fixture {
	t.Helper()
	clock := storetest.NewClock(storetest.Epoch)
	db := storetest.OpenMemory(t, clock.Now)
	ps, err := pseudonym.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	in, err := ingest.New(ingest.Config{Pseudonyms: ps, Now: clock.Now, BatchSize: 10}, db)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: db, ps: ps, clock: clock, cache: &recordingCache{}, events: in}
	cfg := rpc.Config{Pseudonyms: ps, Store: db, Events: in, Cache: f.cache, Now: clock.Now,
		Sleep: func(_ context.Context, d time.Duration) error {
			f.slept += d
			clock.Advance(d)
			return nil
		}}
	if edit != nil {
		edit(&cfg)
	}
	if f.api, err = rpc.New(cfg); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) pseudo(c string) privacy.PseudoID {
	id, err := privacy.ParseCustomerID(c)
	if err != nil {
		panic(err)
	}
	return f.ps.Pseudonymize(id)
}

// Servers, as the gRPC runtime sees them.
type servers struct {
	discretv1.RecommendationServiceServer
	discretv1.StoreServiceServer
	discretv1.EventServiceServer
	discretv1.ConsentServiceServer
	discretv1.AdminServiceServer
}

// registrar captures the services Register registers.
type registrar struct{ s servers }

func (r *registrar) RegisterService(_ *grpc.ServiceDesc, impl any) {
	switch v := impl.(type) {
	case discretv1.RecommendationServiceServer:
		r.s.RecommendationServiceServer = v
	case discretv1.StoreServiceServer:
		r.s.StoreServiceServer = v
	case discretv1.EventServiceServer:
		r.s.EventServiceServer = v
	case discretv1.ConsentServiceServer:
		r.s.ConsentServiceServer = v
	case discretv1.AdminServiceServer:
		r.s.AdminServiceServer = v
	}
}

func (f *fixture) servers() servers {
	var r registrar
	f.api.Register(&r)
	return r.s
}

func grant(f *fixture, t *testing.T, customer string, purposes ...string) {
	t.Helper()
	var changes []*discretv1.ConsentChange
	for _, p := range purposes {
		changes = append(changes, &discretv1.ConsentChange{Purpose: p, Granted: proto.Bool(true)})
	}
	if _, err := f.servers().SetConsent(t.Context(), &discretv1.SetConsentRequest{Customer: customer, Changes: changes}); err != nil {
		t.Fatal(err)
	}
}

func event(customer, item, at string) *discretv1.Event {
	return &discretv1.Event{Customer: customer, Item: item, Type: "purchase", Time: at}
}

func TestWriteEvents(t *testing.T) {
	f := newFixture(t, nil)
	s := f.servers()
	ctx := t.Context()
	at := storetest.Epoch.Add(-time.Hour).Format(time.RFC3339)
	grant(f, t, "alice@example.com", "personalization")
	f.cache.take()

	// One bad event: nothing is stored, the bad row is reported.
	resp, err := s.WriteEvents(ctx, &discretv1.WriteEventsRequest{Events: []*discretv1.Event{
		event("alice@example.com", "SKU-1", at),
		{Customer: "alice@example.com", Item: "SKU-2", Type: "purchase", Time: "not a time"},
	}})
	if err != nil || resp.Received != 2 || resp.Stored != 0 || len(resp.Errors) != 1 || resp.Errors[0].Index != 1 || resp.Errors[0].Field != "time" {
		t.Fatalf("WriteEvents(one bad) = %v, %v; want 2 received, 0 stored, row 1 field time", resp, err)
	}
	if evs, _ := f.db.CustomerEvents(ctx, f.pseudo("alice@example.com")); len(evs) != 0 {
		t.Errorf("after a rejected batch the store holds %d events, want 0", len(evs))
	}
	if got := f.cache.take(); len(got) != 0 {
		t.Errorf("a rejected batch invalidated %d customers, want 0", len(got))
	}

	// allow_partial stores the good ones; the customer without consent is
	// counted, not stored.
	resp, err = s.WriteEvents(ctx, &discretv1.WriteEventsRequest{AllowPartial: true, Events: []*discretv1.Event{
		event("alice@example.com", "SKU-1", at),
		{Customer: "alice@example.com", Type: "purchase", Time: at},
		event("bob", "SKU-3", at),
		event("alice@example.com", "SKU-old", storetest.Epoch.AddDate(-10, 0, 0).Format(time.RFC3339)),
	}})
	if err != nil || resp.Received != 4 || resp.Stored != 1 || resp.NoConsent != 1 || resp.Expired != 1 || len(resp.Errors) != 1 || resp.Errors[0].Field != "item" {
		t.Fatalf("WriteEvents(partial) = %v, %v; want 4 received, 1 stored, 1 no consent, 1 expired, 1 error on item", resp, err)
	}
	evs, _ := f.db.CustomerEvents(ctx, f.pseudo("alice@example.com"))
	if len(evs) != 1 || evs[0].Item != "SKU-1" {
		t.Errorf("stored events = %+v, want SKU-1", evs)
	}
	got := f.cache.take()
	if !slices.Contains(got, f.pseudo("alice@example.com")) || !slices.Contains(got, f.pseudo("bob")) || len(got) != 2 {
		t.Errorf("invalidated %v, want alice and bob once each", got)
	}

	// The same event twice in one request is counted once as stored and
	// once as a duplicate.
	resp, err = s.WriteEvents(ctx, &discretv1.WriteEventsRequest{Events: []*discretv1.Event{
		event("alice@example.com", "SKU-4", at), event("alice@example.com", "SKU-4", at),
	}})
	if err != nil || resp.Received != 2 || resp.Stored != 1 || resp.Duplicates != 1 {
		t.Fatalf("WriteEvents(duplicate) = %v, %v; want 2 received, 1 stored, 1 duplicate", resp, err)
	}
	f.cache.take()

	// Re-sent events are stored again over themselves: counted as stored
	// (new or already held, the response and the counter alike), with no
	// copy added.
	counted := func() uint64 {
		n, err := f.db.Counter(ctx, store.CounterKey{Name: ingest.CounterStored, Day: store.DayOf(f.clock.Now())})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := counted()
	resp, err = s.WriteEvents(ctx, &discretv1.WriteEventsRequest{Events: []*discretv1.Event{
		event("alice@example.com", "SKU-1", at), event("alice@example.com", "SKU-4", at),
	}})
	if err != nil || resp.Received != 2 || resp.Stored != 2 || resp.Duplicates != 0 || counted()-before != 2 {
		t.Fatalf("WriteEvents(re-sent) = %v, %v, counter +%d; want 2 received, 2 stored, counter +2", resp, err, counted()-before)
	}
	if evs, _ := f.db.CustomerEvents(ctx, f.pseudo("alice@example.com")); len(evs) != 2 {
		t.Errorf("after re-sending, the store holds %d events, want 2 (SKU-1, SKU-4)", len(evs))
	}
	f.cache.take()

	// Beyond the batch size (10 here): refused whole.
	var many []*discretv1.Event
	for i := range 11 {
		many = append(many, event("alice@example.com", fmt.Sprint("SKU-", i), at))
	}
	_, err = s.WriteEvents(ctx, &discretv1.WriteEventsRequest{Events: many})
	if apierr.KindOf(err) != apierr.InvalidArgument || err.Error() != "events: 11 events; at most 10 per request (split the batch)" {
		t.Errorf("WriteEvents(11 events) = %v, want InvalidArgument naming the limit", err)
	}
}

func TestConsentAndErasure(t *testing.T) {
	f := newFixture(t, nil)
	s := f.servers()
	ctx := t.Context()
	const c = "carol/1@example.com"
	st, err := s.GetConsent(ctx, &discretv1.GetConsentRequest{Customer: c})
	if err != nil || len(st.Purposes) != 2 || st.Purposes[0].Allowed || st.Purposes[0].Expressed || len(st.History) != 0 || st.ErasedAt != nil {
		t.Fatalf("GetConsent(new customer) = %v, %v; want nothing allowed or expressed", st, err)
	}
	when := storetest.Epoch.Add(-time.Minute)
	set, err := s.SetConsent(ctx, &discretv1.SetConsentRequest{Customer: c, Changes: []*discretv1.ConsentChange{
		{Purpose: "personalization", Granted: proto.Bool(true), Time: timestamppb.New(when), Source: "web-form"},
		{Purpose: "in_store", Granted: proto.Bool(true)},
	}})
	if err != nil || !set.State.Purposes[0].Allowed || !set.State.Purposes[1].Allowed || set.Erased != 0 {
		t.Fatalf("SetConsent(grant both) = %v, %v", set, err)
	}
	if p := set.State.Purposes[0]; !p.Expressed || p.Source != "web-form" || !p.Time.AsTime().Equal(when) {
		t.Errorf("personalization state = %v, want expressed via web-form at %v", p, when)
	}
	if p := set.State.Purposes[1]; p.Source != rpc.DefaultConsentSource || !p.Time.AsTime().Equal(storetest.Epoch) {
		t.Errorf("in_store state = %v, want source %q at the server's time", p, rpc.DefaultConsentSource)
	}
	at := storetest.Epoch.Add(-time.Hour).Format(time.RFC3339)
	if _, err := s.WriteEvents(ctx, &discretv1.WriteEventsRequest{Events: []*discretv1.Event{
		event(c, "SKU-1", at), event(c, "SKU-2", at), {Customer: c, Type: "store_visit", Store: "s1", Time: at},
	}}); err != nil {
		t.Fatal(err)
	}
	exp, err := s.ExportCustomer(ctx, &discretv1.ExportCustomerRequest{Customer: c})
	if err != nil || len(exp.Events) != 3 || len(exp.Consent) != 2 || exp.Pseudonym != f.pseudo(c).String() {
		t.Fatalf("ExportCustomer = %v, %v; want 3 events and 2 consent changes", exp, err)
	}
	for _, e := range exp.Events {
		if e.ExpiresAt == nil || !e.ExpiresAt.AsTime().After(storetest.Epoch) {
			t.Errorf("exported event %v has no future expiry", e)
		}
	}
	f.cache.take()

	// Withdrawing personalization erases the events at once.
	set, err = s.SetConsent(ctx, &discretv1.SetConsentRequest{Customer: c, Changes: []*discretv1.ConsentChange{{Purpose: "personalization", Granted: proto.Bool(false)}}})
	if err != nil || set.Erased != 3 || set.State.Purposes[0].Allowed {
		t.Fatalf("SetConsent(withdraw) = %v, %v; want 3 erased", set, err)
	}
	if got := f.cache.take(); !slices.Equal(got, []privacy.PseudoID{f.pseudo(c)}) {
		t.Errorf("withdrawal invalidated %v, want the customer", got)
	}
	if exp, _ := s.ExportCustomer(ctx, &discretv1.ExportCustomerRequest{Customer: c}); len(exp.Events) != 0 || len(exp.Consent) != 3 {
		t.Errorf("after withdrawal the export holds %d events and %d consent changes, want 0 and 3", len(exp.Events), len(exp.Consent))
	}

	forgot, err := s.ForgetCustomer(ctx, &discretv1.ForgetCustomerRequest{Customer: c})
	if err != nil || forgot.Removed[store.TableConsent] != 1 {
		t.Fatalf("ForgetCustomer = %v, %v; want the consent record removed", forgot, err)
	}
	if got := f.cache.take(); !slices.Equal(got, []privacy.PseudoID{f.pseudo(c)}) {
		t.Errorf("forget invalidated %v, want the customer", got)
	}
	exp, err = s.ExportCustomer(ctx, &discretv1.ExportCustomerRequest{Customer: c})
	if err != nil || len(exp.Events)+len(exp.Consent) != 0 || exp.ErasedAt == nil || exp.ErasurePending {
		t.Errorf("after forget the export is %v, %v; want empty but for erased_at", exp, err)
	}
	// Every export states the processing, with the retention in force (the
	// fixture's: the defaults, the audit trail's included).
	if p := exp.GetProcessing(); len(p.GetPurposes()) != 2 || p.GetRecipients() == "" || len(p.GetRetention()) < 4 ||
		p.GetRetention()[2].GetData() != "purchases" || p.GetRetention()[2].GetPeriod() != "3 years from the event's date" ||
		!strings.HasPrefix(p.GetRetention()[len(p.GetRetention())-1].GetPeriod(), "5 years from the action") {
		t.Errorf("export processing = %v; want both purposes, recipients, purchases kept 3 years and audit entries 5 years", p)
	}
	// The grant from before the erasure, sent again, is not recorded.
	set, err = s.SetConsent(ctx, &discretv1.SetConsentRequest{Customer: c, Changes: []*discretv1.ConsentChange{
		{Purpose: "personalization", Granted: proto.Bool(true), Time: timestamppb.New(when), Source: "web-form"},
	}})
	if err != nil || set.PredatingErasure != 1 || set.State.Purposes[0].Allowed || !set.State.GetErasedAt().AsTime().Equal(storetest.Epoch) {
		t.Errorf("SetConsent(a grant from before the erasure) = %v, %v; want 1 predating the erasure, nothing allowed, erased_at %v", set, err, storetest.Epoch)
	}
	// A choice the server dates itself comes after the erasure, even when
	// sent in its second (the fixture's clock stands still until Sleep):
	// the server waits for the next second and records it then.
	set, err = s.SetConsent(ctx, &discretv1.SetConsentRequest{Customer: c, Changes: []*discretv1.ConsentChange{
		{Purpose: "personalization", Granted: proto.Bool(true)},
	}})
	next := storetest.Epoch.Add(time.Second)
	if err != nil || set.PredatingErasure != 0 || !set.State.Purposes[0].Allowed || !set.State.Purposes[0].Time.AsTime().Equal(next) || f.slept != time.Second {
		t.Errorf("SetConsent(a grant dated by the server in the erasure's second) = %v, %v after waiting %v; want it recorded at %v after waiting 1s", set, err, f.slept, next)
	}
	if _, err := s.ForgetCustomer(ctx, &discretv1.ForgetCustomerRequest{}); apierr.KindOf(err) != apierr.InvalidArgument {
		t.Errorf("ForgetCustomer(no customer) = %v, want InvalidArgument", err)
	}
}

// fakeEngines answer with fixed, recognizable values and record requests.
type fakeEngines struct {
	mu   sync.Mutex // guards last
	last any
	err  error
}

func (e *fakeEngines) record(r any) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.last = r
	return e.err
}

func (e *fakeEngines) Recommend(_ context.Context, r recommend.Request) (recommend.Response, error) {
	return recommend.Response{
		Items:        []recommend.Item{{ID: "SKU-9", Score: 0.5, Category: "shoes", Explanation: "because you bought SKU-1", Because: "SKU-1"}},
		ModelVersion: "v7", Reason: recommend.Personalized,
	}, e.record(r)
}

func (e *fakeEngines) Similar(_ context.Context, r recommend.SimilarRequest) (recommend.List, error) {
	return recommend.List{Items: []recommend.Item{{ID: "SKU-2", Score: 0.9}}, ModelVersion: "v7"}, e.record(r)
}

func (e *fakeEngines) Popular(_ context.Context, r recommend.PopularRequest) (recommend.List, error) {
	return recommend.List{Items: []recommend.Item{{ID: "SKU-3", Score: 1234}}, ModelVersion: "v7"}, e.record(r)
}

func (e *fakeEngines) Enter(_ context.Context, en coupons.Entry) (coupons.Result, error) {
	return coupons.Result{
		Offers:       []coupons.Offer{{Coupon: "C1", Item: "SKU-9", Value: "-20%", ValidUntil: storetest.Epoch.Add(time.Hour), Explanation: "because you bought SKU-1", Score: 2}},
		Personalized: true, VisitRecorded: true, ModelVersion: "v7",
	}, e.record(en)
}

func (e *fakeEngines) UpsertItem(_ context.Context, it features.Item) error    { return e.record(it) }
func (e *fakeEngines) UpsertCoupon(_ context.Context, c features.Coupon) error { return e.record(c) }

func (e *fakeEngines) Current(context.Context) (release.Card, error) {
	return release.Card{Version: "v7", Private: true, Privacy: &release.Privacy{Epsilon: 1}}, e.record(nil)
}

func (e *fakeEngines) Train(_ context.Context, cfg train.Config) (release.Card, error) {
	return release.Card{Version: "v8", Private: true, Privacy: &release.Privacy{Epsilon: cfg.Epsilon}}, e.record(cfg)
}

func TestEngines(t *testing.T) {
	eng := &fakeEngines{}
	f := newFixture(t, func(c *rpc.Config) { c.Recommender, c.Entries, c.Catalogue, c.Models = eng, eng, eng, eng })
	s := f.servers()
	ctx := t.Context()

	rec, err := s.Recommend(ctx, &discretv1.RecommendRequest{Customer: "dave", Limit: 3, Exclude: []string{"SKU-1"}})
	if err != nil || !rec.Personalized || rec.Reason != nil ||
		len(rec.Items) != 1 || rec.Items[0].BecauseItem != "SKU-1" || rec.ModelVersion != "v7" {
		t.Errorf("Recommend = %v, %v", rec, err)
	}
	if r := eng.last.(recommend.Request); r.Limit != 3 || !r.ExcludePurchased || !slices.Equal(r.Exclude, []string{"SKU-1"}) {
		t.Errorf("engine got %+v", r)
	}
	sim, err := s.SimilarItems(ctx, &discretv1.SimilarItemsRequest{Item: "SKU-1"})
	if err != nil || len(sim.Items) != 1 || sim.Items[0].Item != "SKU-2" || eng.last.(recommend.SimilarRequest).Limit != recommend.DefaultLimit {
		t.Errorf("SimilarItems = %v, %v (engine got %+v)", sim, err, eng.last)
	}
	pop, err := s.PopularItems(ctx, &discretv1.PopularItemsRequest{Store: "s1", Limit: 2})
	if err != nil || pop.Items[0].Score != 1234 || eng.last.(recommend.PopularRequest) != (recommend.PopularRequest{Store: "s1", Limit: 2}) {
		t.Errorf("PopularItems = %v, %v (engine got %+v)", pop, err, eng.last)
	}
	ent, err := s.EnterStore(ctx, &discretv1.EnterStoreRequest{Store: "s1", Customer: "dave"})
	if err != nil || len(ent.Coupons) != 1 || ent.Coupons[0].ValidUntil.AsTime() != storetest.Epoch.Add(time.Hour) || !ent.VisitRecorded || !ent.Personalized {
		t.Errorf("EnterStore = %v, %v", ent, err)
	}
	item, err := s.UpsertItem(ctx, &discretv1.UpsertItemRequest{Item: "SKU-1", Category: "shoes", Active: proto.Bool(true)})
	if err != nil || item.Item != "SKU-1" || item.Stores == nil || eng.last.(features.Item).Category != "shoes" {
		t.Errorf("UpsertItem = %v, %v", item, err)
	}
	from := timestamppb.New(storetest.Epoch)
	until := timestamppb.New(storetest.Epoch.Add(24 * time.Hour))
	cp, err := s.UpsertCoupon(ctx, &discretv1.UpsertCouponRequest{Coupon: "C1", Item: "SKU-1", Stores: []string{"s1"}, Value: "-20%", ValidFrom: from, ValidUntil: until, Active: proto.Bool(true)})
	if err != nil || cp.Coupon != "C1" || !cp.ValidUntil.AsTime().Equal(until.AsTime()) {
		t.Errorf("UpsertCoupon = %v, %v", cp, err)
	}

	card, err := s.GetCurrentModel(ctx, &discretv1.GetCurrentModelRequest{})
	if err != nil || card.Version != "v7" || card.Epsilon != 1 {
		t.Errorf("GetCurrentModel = %v, %v", card, err)
	}
	card, err = s.TrainModel(ctx, &discretv1.TrainModelRequest{Epsilon: 2, Factors: 16})
	if cfg := eng.last.(train.Config); err != nil || card.Version != "v8" || card.Epsilon != 2 || cfg.ALS.Factors != 16 {
		t.Errorf("TrainModel = %v, %v (engine got %+v)", card, err, eng.last)
	}

	// Engine errors are classified.
	for _, tt := range []struct {
		err  error
		want apierr.Kind
	}{
		{recommend.ErrUnknownItem, apierr.NotFound},
		{fmt.Errorf("engine: %w", recommend.ErrNoModel), apierr.FailedPrecondition},
		{errors.New("boom"), apierr.Internal},
		{apierr.New(apierr.ResourceExhausted, "privacy budget spent"), apierr.ResourceExhausted},
		{recommend.ErrTraining, apierr.Aborted},
		{recommend.ErrNonPrivate, apierr.FailedPrecondition},
		{fmt.Errorf("%w: release v1 is test-seeded", recommend.ErrRefused), apierr.FailedPrecondition},
		{fmt.Errorf("train: %w", &budget.ExceededError{}), apierr.FailedPrecondition},
		{recommend.ErrNoCatalogue, apierr.Unimplemented},
	} {
		eng.err = tt.err
		if _, err := s.SimilarItems(ctx, &discretv1.SimilarItemsRequest{Item: "SKU-1"}); apierr.KindOf(err) != tt.want {
			t.Errorf("SimilarItems with engine error %v = %v, want kind %v", tt.err, err, tt.want)
		}
	}
	eng.err = fmt.Errorf("engine: %w", recommend.ErrNoModel)
	if _, err := s.GetCurrentModel(ctx, &discretv1.GetCurrentModelRequest{}); apierr.KindOf(err) != apierr.FailedPrecondition {
		t.Errorf("GetCurrentModel without a model = %v, want FailedPrecondition", err)
	}
	eng.err = fmt.Errorf("engine: %w", train.ErrNoData)
	if _, err := s.TrainModel(ctx, &discretv1.TrainModelRequest{}); apierr.KindOf(err) != apierr.FailedPrecondition {
		t.Errorf("TrainModel without data = %v, want FailedPrecondition", err)
	}
	eng.err = &train.CapLoosenedError{Cap: budget.Cap{Epsilon: 10}, Recorded: train.CapChange{Version: "v7", Recorded: budget.Cap{Epsilon: 3}}}
	if _, err := s.TrainModel(ctx, &discretv1.TrainModelRequest{}); apierr.KindOf(err) != apierr.FailedPrecondition || !strings.Contains(err.Error(), "privacy budget: the cap in force, ε = 10") || !strings.Contains(err.Error(), "restart the server with --accept-cap-change") {
		t.Errorf("TrainModel under a looser cap = %v, want FailedPrecondition naming the caps and serve --accept-cap-change", err)
	}
}

func TestWithoutEngines(t *testing.T) {
	s := newFixture(t, nil).servers()
	ctx := t.Context()
	for name, call := range map[string]func() error{
		"Recommend":    func() error { _, err := s.Recommend(ctx, &discretv1.RecommendRequest{Customer: "c"}); return err },
		"SimilarItems": func() error { _, err := s.SimilarItems(ctx, &discretv1.SimilarItemsRequest{Item: "i"}); return err },
		"PopularItems": func() error { _, err := s.PopularItems(ctx, &discretv1.PopularItemsRequest{}); return err },
		"EnterStore": func() error {
			_, err := s.EnterStore(ctx, &discretv1.EnterStoreRequest{Store: "s", Customer: "c"})
			return err
		},
		"UpsertItem": func() error { _, err := s.UpsertItem(ctx, &discretv1.UpsertItemRequest{Item: "i"}); return err },
		"GetCurrentModel": func() error {
			_, err := s.GetCurrentModel(ctx, &discretv1.GetCurrentModelRequest{})
			return err
		},
		"TrainModel": func() error { _, err := s.TrainModel(ctx, &discretv1.TrainModelRequest{}); return err },
		"CreateCustomerToken": func() error {
			_, err := s.CreateCustomerToken(ctx, &discretv1.CreateCustomerTokenRequest{Customer: "c"})
			return err
		},
	} {
		if err := call(); apierr.KindOf(err) != apierr.Unimplemented {
			t.Errorf("%s without engine = %v, want Unimplemented", name, err)
		}
	}
	// Validation comes first: a bad request is InvalidArgument even then.
	if _, err := s.Recommend(ctx, &discretv1.RecommendRequest{}); apierr.KindOf(err) != apierr.InvalidArgument {
		t.Errorf("Recommend(no customer) without engine = %v, want InvalidArgument", err)
	}
	for _, req := range []*discretv1.CreateCustomerTokenRequest{{}, {Customer: "c", TtlSeconds: -1}, {Customer: "c", TtlSeconds: 86401}} {
		if _, err := s.CreateCustomerToken(ctx, req); apierr.KindOf(err) != apierr.InvalidArgument {
			t.Errorf("CreateCustomerToken(%v) without minter = %v, want InvalidArgument", req, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	var c rpc.Config
	err := c.Validate()
	for _, want := range []string{"Pseudonyms", "Store", "Events"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Config{}.Validate() = %v, want it to name %s", err, want)
		}
	}
}

func TestExportCouponPushes(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	p := f.pseudo("erin")
	grant := []consent.Change{
		{Purpose: privacy.Personalization, Granted: true, Time: storetest.Epoch, Source: "t"},
		{Purpose: privacy.InStore, Granted: true, Time: storetest.Epoch, Source: "t"},
	}
	if _, err := f.db.UpdateConsent(ctx, p, grant, consent.Defaults{}); err != nil {
		t.Fatal(err)
	}
	at := storetest.Epoch.Add(time.Minute)
	if err := f.db.AddPushes(ctx, p, []store.Push{{Time: at, Store: "s1", Coupon: "C1", ExpiresAt: at.Add(time.Hour)}}, consent.Defaults{}); err != nil {
		t.Fatal(err)
	}
	s := f.servers()
	exp, err := s.ExportCustomer(ctx, &discretv1.ExportCustomerRequest{Customer: "erin"})
	if err != nil || len(exp.CouponPushes) != 1 || exp.CouponPushes[0].Coupon != "C1" || exp.CouponPushes[0].Store != "s1" || !exp.CouponPushes[0].Time.AsTime().Equal(at) ||
		!exp.CouponPushes[0].ExpiresAt.AsTime().Equal(at.Add(time.Hour)) {
		t.Fatalf("ExportCustomer().CouponPushes = %v, %v; want the push", exp.GetCouponPushes(), err)
	}
	fg, err := s.ForgetCustomer(ctx, &discretv1.ForgetCustomerRequest{Customer: "erin"})
	if err != nil || fg.Removed[store.TablePushes] != 1 {
		t.Errorf("ForgetCustomer = %v, %v; want 1 coupon push removed", fg, err)
	}
	if exp, _ := s.ExportCustomer(ctx, &discretv1.ExportCustomerRequest{Customer: "erin"}); len(exp.GetCouponPushes()) != 0 {
		t.Errorf("export after forget = %v", exp.GetCouponPushes())
	}
}

// TestSetConsentAcrossASecond: a change dated by the server in the second
// of the customer's erasure is recorded even when the clock reaches the
// next second while the request is handled (no wait is then needed, but
// the change must not keep its first date).
func TestSetConsentAcrossASecond(t *testing.T) {
	var reads []time.Time // what the API's clock answers, in turn
	f := newFixture(t, func(c *rpc.Config) {
		c.Now = func() time.Time {
			now := reads[0]
			if len(reads) > 1 {
				reads = reads[1:]
			}
			return now
		}
	})
	s := f.servers()
	ctx := t.Context()
	const c = "across-a-second"
	f.clock.Set(storetest.Epoch.Add(500 * time.Millisecond))
	if _, err := s.ForgetCustomer(ctx, &discretv1.ForgetCustomerRequest{Customer: c}); err != nil {
		t.Fatal(err)
	}
	// Dated in the erasure's second, then the next second has come.
	reads = []time.Time{storetest.Epoch.Add(900 * time.Millisecond), storetest.Epoch.Add(1050 * time.Millisecond)}
	f.clock.Set(storetest.Epoch.Add(1050 * time.Millisecond))
	set, err := s.SetConsent(ctx, &discretv1.SetConsentRequest{Customer: c, Changes: []*discretv1.ConsentChange{
		{Purpose: "personalization", Granted: proto.Bool(true)},
	}})
	if err != nil || set.PredatingErasure != 0 || !set.State.Purposes[0].Allowed {
		t.Errorf("SetConsent across a second after the erasure = %v, %v; want the grant recorded", set, err)
	}
}
