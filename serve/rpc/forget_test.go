package rpc_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/store/storetest"
	"github.com/discret-io/discret/model/budget"
	"github.com/discret-io/discret/model/release"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/auth"
	"github.com/discret-io/discret/serve/rpc"
	"google.golang.org/protobuf/proto"
)

type recordingFollower struct {
	mu  sync.Mutex
	got [][]string
}

func (r *recordingFollower) Retired(_ context.Context, versions []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, versions)
	return nil
}

// putRelease stores a minimal valid release whose window ends at the
// fixture's clock; private releases have ε = 1.
func putRelease(t *testing.T, db *store.DB, version string, private bool, created time.Time, current bool) {
	t.Helper()
	r := &release.Release{
		Card: release.Card{
			Format: release.CardFormat, Version: version, Created: created, Private: private, RNG: release.RNGCrypto,
			Window: budget.Window{From: storetest.Epoch.AddDate(0, -1, 0), To: storetest.Epoch},
			Items:  2, Trained: 2, Universe: release.UniverseCatalogue,
			Hyper: release.Hyper{
				Factors: 1, Iterations: 1, Lambda: 0.1, RegExponent: 0.5, Unobserved: 0.1, InitScale: 0.1,
				Weights: map[string]float64{"view": 0.1, "add_to_cart": 0.5, "purchase": 1}, StrengthCap: 10, Alpha: 1,
			},
		},
		Items: []string{"SKU-1", "SKU-2"}, Vectors: []float32{1, 0.5}, Trained: []bool{true, true}, Popular: []float32{2, 1},
	}
	if private {
		r.Card.Privacy = &release.Privacy{Neighbouring: budget.Neighbouring, Epsilon: 1, Delta: 1e-6, TargetEpsilon: 1}
	}
	meta, parts, err := release.Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutRelease(t.Context(), store.ReleaseWrite{
		Manifest: store.ReleaseManifest{Version: version, Created: created, Meta: meta}, Parts: parts, MakeCurrent: current,
	}); err != nil {
		t.Fatal(err)
	}
}

// withDerivedReleases makes customer c consent to personalization with one
// purchase an hour before storetest.Epoch, and stores two releases whose
// training windows cover it: private "p1" and non-private "np1".
func withDerivedReleases(t *testing.T, f *fixture, c string) {
	t.Helper()
	grant(f, t, c, "personalization")
	at := storetest.Epoch.Add(-time.Hour).Format(time.RFC3339)
	if _, err := f.servers().WriteEvents(t.Context(), &discretv1.WriteEventsRequest{Events: []*discretv1.Event{event(c, "SKU-1", at)}}); err != nil {
		t.Fatal(err)
	}
	putRelease(t, f.db, "p1", true, storetest.Epoch, false)
	putRelease(t, f.db, "np1", false, storetest.Epoch.Add(time.Hour), true)
}

// TestExportAndForgetDerivedReleases: the API's export lists the releases
// derived from a customer's events, and erasure deletes the non-private
// ones and tells the serving engine.
func TestExportAndForgetDerivedReleases(t *testing.T) {
	follower := &recordingFollower{}
	f := newFixture(t, func(c *rpc.Config) { c.Releases = follower })
	s := f.servers()
	ctx := t.Context()
	const c = "dora@example.com"
	withDerivedReleases(t, f, c)

	exp, err := s.ExportCustomer(ctx, &discretv1.ExportCustomerRequest{Customer: c})
	if err != nil {
		t.Fatal(err)
	}
	var versions []string
	for _, r := range exp.DerivedReleases {
		versions = append(versions, r.Version)
		if r.Private != (r.Epsilon != nil) || r.Events != 1 || !r.WindowTo.AsTime().Equal(storetest.Epoch) {
			t.Errorf("derived release %v: want ε exactly when private, 1 event, the window", r)
		}
	}
	if !slices.Equal(versions, []string{"p1", "np1"}) || exp.DerivedNote != release.DerivedNote+release.NonPrivateNote {
		t.Errorf("export derived = %v, note %q; want p1 and np1 with the non-private sentence", versions, exp.DerivedNote)
	}

	forgot, err := s.ForgetCustomer(ctx, &discretv1.ForgetCustomerRequest{Customer: c})
	if err != nil || forgot.Removed[rpc.RemovedReleases] != 1 || forgot.Removed[store.TableConsent] != 1 {
		t.Fatalf("ForgetCustomer = %v, %v; want one release and the consent record removed", forgot, err)
	}
	if !slices.EqualFunc(follower.got, [][]string{{"np1"}}, slices.Equal) {
		t.Errorf("the serving engine was told %v, want [[np1]]", follower.got)
	}
	if cur, err := f.db.CurrentRelease(ctx); err != nil || cur != "p1" {
		t.Errorf("current release after the erasure = %q, %v; want p1", cur, err)
	}
	exp, err = s.ExportCustomer(ctx, &discretv1.ExportCustomerRequest{Customer: c})
	if err != nil || len(exp.DerivedReleases) != 0 || exp.DerivedNote != release.DerivedNote {
		t.Errorf("export after forget = %v, %v; want no derived release", exp, err)
	}
	// Nothing non-private left: a second erasure tells nobody.
	if _, err := s.ForgetCustomer(ctx, &discretv1.ForgetCustomerRequest{Customer: c}); err != nil || len(follower.got) != 1 {
		t.Errorf("second ForgetCustomer = %v; follower told %v", err, follower.got)
	}
}

// TestWithdrawalDeletesNonPrivateReleases: a withdrawal of personalization
// erases the customer's events, so it deletes first the non-private
// releases that may have used them and tells the serving engine; the
// response counts them.
func TestWithdrawalDeletesNonPrivateReleases(t *testing.T) {
	follower := &recordingFollower{}
	f := newFixture(t, func(c *rpc.Config) { c.Releases = follower })
	s := f.servers()
	ctx := t.Context()
	const c = "erin@example.com"
	personalization := func(granted bool) *discretv1.SetConsentRequest {
		return &discretv1.SetConsentRequest{Customer: c, Changes: []*discretv1.ConsentChange{{Purpose: "personalization", Granted: proto.Bool(granted)}}}
	}
	withDerivedReleases(t, f, c)

	res, err := s.SetConsent(ctx, personalization(false))
	if err != nil || res.GetErased() != 1 || res.GetDeletedReleases() != 1 {
		t.Fatalf("SetConsent(withdraw) = %v, %v; want 1 event erased and 1 release deleted", res, err)
	}
	if !slices.EqualFunc(follower.got, [][]string{{"np1"}}, slices.Equal) {
		t.Errorf("the serving engine was told %v, want [[np1]]", follower.got)
	}
	if cur, err := f.db.CurrentRelease(ctx); err != nil || cur != "p1" {
		t.Errorf("current release after the withdrawal = %q, %v; want p1", cur, err)
	}
	// Withdrawing again finds nothing more to delete.
	if res, err := s.SetConsent(ctx, personalization(false)); err != nil || res.GetDeletedReleases() != 0 || len(follower.got) != 1 {
		t.Errorf("second withdrawal = %v, %v; follower told %v", res, err, follower.got)
	}
}

// failingAudit is a store whose audit trail cannot be written.
type failingAudit struct{ rpc.Store }

func (failingAudit) RecordAudit(context.Context, store.AuditEntry) error {
	return errors.New("disk full")
}

// TestExportNeedsItsAuditEntry: an export whose audit entry cannot be
// written fails, and returns none of the customer's data.
func TestExportNeedsItsAuditEntry(t *testing.T) {
	f := newFixture(t, func(c *rpc.Config) { c.Store = failingAudit{c.Store} })
	s := f.servers()
	ctx := t.Context()
	const c = "audited-export"
	if _, err := s.SetConsent(ctx, &discretv1.SetConsentRequest{Customer: c, Changes: []*discretv1.ConsentChange{{Purpose: "personalization", Granted: proto.Bool(true)}}}); err != nil {
		t.Fatal(err)
	}
	exp, err := s.ExportCustomer(ctx, &discretv1.ExportCustomerRequest{Customer: c})
	if err == nil || exp != nil {
		t.Errorf("ExportCustomer with an audit trail that cannot be written = %v, %v; want an error and no data", exp, err)
	}
}

// TestWithdrawalRetireNamesKey: the model.retire entry of a release that a
// SetConsent withdrawal deletes names the API key that sent it, as every
// audit entry written under an authenticated request does.
func TestWithdrawalRetireNamesKey(t *testing.T) {
	f := newFixture(t, nil)
	s := f.servers()
	key := auth.Key{ID: "k7q2", Name: "crm", Scope: auth.Admin}
	ctx := auth.NewContext(t.Context(), auth.Caller{Key: key})
	const c = "gina@example.com"
	withDerivedReleases(t, f, c)
	req := &discretv1.SetConsentRequest{Customer: c, Changes: []*discretv1.ConsentChange{{Purpose: "personalization", Granted: proto.Bool(false)}}}
	if res, err := s.SetConsent(ctx, req); err != nil || res.GetDeletedReleases() != 1 {
		t.Fatalf("SetConsent(withdraw) = %v, %v; want 1 release deleted", res, err)
	}
	list, err := s.ListAuditEntries(ctx, &discretv1.ListAuditEntriesRequest{Actions: []string{"model.retire"}})
	if err != nil || len(list.GetEntries()) != 1 {
		t.Fatalf("ListAuditEntries(model.retire) = %v, %v; want the one retirement", list, err)
	}
	if got := list.GetEntries()[0].GetActor(); got.GetVia() != "api" || got.GetKeyId() != key.ID || got.GetName() != key.Name {
		t.Errorf("model.retire actor = %v, want key %s (%s) through the API", got, key.ID, key.Name)
	}
}
