package rpc

import (
	"context"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/privacy/notice"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
)

// ExportCustomer returns everything held about a customer (GDPR access),
// with the releases derived from their events (release.DerivedFrom), as
// `discret export` does, once the export is recorded in the audit trail
// (release.ExportCustomer): an export whose entry cannot be written fails.
func (s adminServer) ExportCustomer(ctx context.Context, req *discretv1.ExportCustomerRequest) (*discretv1.ExportCustomerResponse, error) {
	a := s.a
	c, err := parseCustomer("customer", req.GetCustomer())
	if err != nil {
		return nil, err
	}
	p := a.cfg.Pseudonyms.Pseudonymize(c)
	d, derived, err := release.ExportCustomer(ctx, a.cfg.Store, p)
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
			Purpose: c.Purpose, Granted: proto.Bool(c.Granted), Time: timestamppb.New(c.Time), Source: c.Source,
		})
	}
	for _, e := range d.Events {
		resp.Events = append(resp.Events, &discretv1.StoredEvent{
			Type: e.Type, Item: e.Item, Store: e.Store, Time: timestamppb.New(e.Time),
			Quantity: int32(e.Quantity), ExpiresAt: optTimestamp(e.ExpiresAt),
		})
	}
	for _, p := range d.Pushes {
		resp.CouponPushes = append(resp.CouponPushes, &discretv1.CouponPush{Coupon: p.Coupon, Store: p.Store, Time: timestamppb.New(p.Time), ExpiresAt: timestamppb.New(p.ExpiresAt)})
	}
	resp.DerivedNote = derived.Note
	resp.ErasedAt, resp.ErasurePending = optTimestamp(d.ErasedAt), d.ErasurePending
	resp.Processing = processingNotice(notice.For(a.cfg.Retention, a.cfg.ConsentDefaults, a.cfg.AuditRetention))
	resp.DerivedReleases = make([]*discretv1.DerivedRelease, 0, len(derived.Releases))
	for _, r := range derived.Releases {
		resp.DerivedReleases = append(resp.DerivedReleases, &discretv1.DerivedRelease{
			Version: r.Version, Created: timestamppb.New(r.Created), Current: r.Current, Private: r.Private,
			Epsilon: r.Epsilon, Delta: r.Delta, Events: int32(r.Events),
			WindowFrom: timestamppb.New(r.Window.From), WindowTo: timestamppb.New(r.Window.To),
		})
	}
	resp.Audit = make([]*discretv1.CustomerAuditEntry, len(d.Audit))
	for i, e := range d.Audit {
		resp.Audit[i] = &discretv1.CustomerAuditEntry{Time: timestamppb.New(e.Time), Action: e.Action, Actor: e.Actor}
	}
	return resp, nil
}

// ForgetCustomer erases everything held about a customer (GDPR erasure),
// atomically for readers, with the non-private releases trained on their
// events (release.ForgetCustomer), and drops their cached state. Removed
// counts the records per table and the deleted releases under "releases".
func (s adminServer) ForgetCustomer(ctx context.Context, req *discretv1.ForgetCustomerRequest) (*discretv1.ForgetCustomerResponse, error) {
	a := s.a
	c, err := parseCustomer("customer", req.GetCustomer())
	if err != nil {
		return nil, err
	}
	p := a.cfg.Pseudonyms.Pseudonymize(c)
	got, err := release.ForgetCustomer(ctx, a.cfg.Store, p)
	// Even if the erasure then failed: the releases are gone.
	err = a.retired(ctx, got.Retired, err)
	a.invalidate(p) // even on error: the erasure may have committed in part
	if err != nil {
		return nil, apiError(err)
	}
	resp := &discretv1.ForgetCustomerResponse{Removed: make(map[string]int64, len(got.Removed)+1)}
	for table, n := range got.Removed {
		resp.Removed[table] = int64(n)
	}
	if len(got.Retired) > 0 {
		resp.Removed[RemovedReleases] = int64(len(got.Retired))
	}
	return resp, nil
}

// RemovedReleases is the key of ForgetCustomerResponse.removed that counts
// the non-private releases an erasure deleted.
const RemovedReleases = "releases"

// retired tells the serving engine (Config.Releases) that the releases
// versions are gone, as an erasure or a withdrawal deleted them, even if
// that request then failed: the releases are gone either way. It returns
// err, or the engine's error if err is nil.
func (a *API) retired(ctx context.Context, versions []string, err error) error {
	if len(versions) == 0 || a.cfg.Releases == nil {
		return err
	}
	if rerr := a.cfg.Releases.Retired(ctx, versions); rerr != nil && err == nil {
		return rerr
	}
	return err
}

// processingNotice is the API form of n.
func processingNotice(n notice.Notice) *discretv1.ProcessingNotice {
	pn := &discretv1.ProcessingNotice{
		Controller: n.Controller, Categories: n.Categories, Recipients: n.Recipients,
		Source: n.Source, Rights: n.Rights, Profiling: n.Profiling,
	}
	for _, p := range n.Purposes {
		pn.Purposes = append(pn.Purposes, &discretv1.ProcessingNotice_Purpose{Name: p.Name, Description: p.Description, Default: p.Default})
	}
	for _, r := range n.Retention {
		pn.Retention = append(pn.Retention, &discretv1.ProcessingNotice_Rule{Data: r.Data, Period: r.Period})
	}
	return pn
}
