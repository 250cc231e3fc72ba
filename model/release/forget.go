package release

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

// Eraser is what ForgetCustomer needs of the store (*store.DB).
type Eraser interface {
	Source
	ExportRecords(ctx context.Context, p privacy.PseudoID) (store.CustomerData, error)
	Forget(ctx context.Context, p privacy.PseudoID) (store.Removed, error)
	RetireRelease(ctx context.Context, version, successor string, p privacy.PseudoID) error
}

var _ Eraser = (*store.DB)(nil)

// Forgotten is what ForgetCustomer erased.
type Forgotten struct {
	// Removed counts the customer's records erased, per table.
	Removed store.Removed
	// Retired lists the non-private releases deleted, oldest first.
	Retired []string
	// CurrentRetired reports that the current release was among them;
	// Current is then the release made current instead ("" for none).
	CurrentRetired bool
	Current        string
}

// ForgetCustomer erases customer p (a GDPR erasure) together with what was
// derived from their data without a privacy guarantee.
//
// A private release stays: its (ε, δ) bound holds for every customer,
// whether or not their data is later erased, so it is not retrained (the
// note of Derived says so). A non-private release (ε = ∞) has no such
// bound, so every one whose training window covers an event of p
// (DerivedFrom) is deleted. If the current release is one of them, the
// newest remaining private release becomes current in the same step, or
// none is current if there is none; a server then serves that release or
// no model (recommend.Engine.Refresh).
//
// The releases are retired before the records are erased, so that a
// failure leaves p's events in place and a retry finds the same releases.
// Each retirement has its own audit entry about p (store.AuditModelRetire,
// naming the release and, if it was current, its successor), written
// before the erasure's.
func ForgetCustomer(ctx context.Context, db Eraser, p privacy.PseudoID) (Forgotten, error) {
	sums, err := List(ctx, db)
	if err != nil {
		return Forgotten{}, fmt.Errorf("forget: %w", err)
	}
	out, err := retireDerived(ctx, db, p, sums)
	if err != nil {
		return out, fmt.Errorf("forget: %w", err)
	}
	if out.Removed, err = db.Forget(ctx, p); err != nil {
		return out, err
	}
	return out, nil
}

// Withdrawer is what UpdateConsent needs of the store (*store.DB).
type Withdrawer interface {
	Eraser
	Consent(ctx context.Context, p privacy.PseudoID) (consent.Record, error)
	UpdateConsent(ctx context.Context, p privacy.PseudoID, changes []consent.Change, d consent.Defaults) (store.ConsentResult, error)
}

var _ Withdrawer = (*store.DB)(nil)

// UpdateConsent records consent changes of customer p
// (store.DB.UpdateConsent, which erases at once what the new record no
// longer allows). A withdrawal of personalization erases p's events, the
// only trace of which releases may have used them: so, first, it deletes
// the non-private releases whose window covers one of those events, as
// ForgetCustomer does (Forgotten.Retired; Removed stays empty, the store's
// result says what was erased). Otherwise a later `forget` could no longer
// find them.
//
// Any change that withdraws personalization while it is allowed counts as
// a withdrawal here, even one dated before the choice that decides (a
// history imported out of order), on the safe side. Without non-private
// releases, this is store.DB.UpdateConsent.
func UpdateConsent(ctx context.Context, db Withdrawer, p privacy.PseudoID, changes []consent.Change, d consent.Defaults) (store.ConsentResult, Forgotten, error) {
	out, err := retireForWithdrawal(ctx, db, p, changes, d, nil)
	if err != nil {
		return store.ConsentResult{}, out, err
	}
	res, err := db.UpdateConsent(ctx, p, changes, d)
	return res, out, err
}

// Exporter is what ExportCustomer needs of the store (*store.DB).
type Exporter interface {
	Source
	Export(ctx context.Context, p privacy.PseudoID) (store.CustomerData, error)
	RecordAudit(ctx context.Context, e store.AuditEntry) error
}

var _ Exporter = (*store.DB)(nil)

// ExportCustomer returns everything held about customer p (GDPR access,
// store.DB.Export) and the releases derived from their events
// (DerivedFrom), once the export is recorded in the audit trail
// (store.ExportAudit): nothing leaves unaudited, so if the entry cannot be
// written it returns an error and no data.
func ExportCustomer(ctx context.Context, db Exporter, p privacy.PseudoID) (store.CustomerData, Derived, error) {
	data, err := db.Export(ctx, p)
	if err != nil {
		return store.CustomerData{}, Derived{}, err
	}
	derived, err := DerivedFrom(ctx, db, data)
	if err != nil {
		return store.CustomerData{}, Derived{}, err
	}
	if err := db.RecordAudit(ctx, store.ExportAudit(p, data)); err != nil {
		return store.CustomerData{}, Derived{}, fmt.Errorf("nothing exported: the export could not be recorded in the audit trail: %w", err)
	}
	return data, derived, nil
}

// DateUndated dates the changes of customer p that their recorder dated
// itself (those for which undated(i) holds) after p's erasure and latest
// choices for their purposes, waiting for the next second if need be
// (consent.Record.DateUndated), before UpdateConsent records them: dated in
// the second of one of those, they would be dropped as predating the
// erasure, or a grant outranked by a withdrawal. It reads p's record only
// if a change is undated. An erasure or a choice that commits between this
// read and the update still wins (store.ConsentResult says so).
func DateUndated(ctx context.Context, db Withdrawer, p privacy.PseudoID, changes []consent.Change, undated func(i int) bool, now func() time.Time, sleep func(context.Context, time.Duration) error) error {
	some := false
	for i := range changes {
		some = some || undated(i)
	}
	if !some {
		return nil
	}
	rec, err := db.Consent(ctx, p)
	if err != nil {
		return err
	}
	return rec.DateUndated(ctx, changes, undated, now, sleep)
}

// BulkWithdrawer is what UpdateConsents needs of the store (*store.DB).
type BulkWithdrawer interface {
	Withdrawer
	UpdateConsents(ctx context.Context, ups []store.ConsentUpdate, d consent.Defaults) ([]store.ConsentResult, int, error)
}

var _ BulkWithdrawer = (*store.DB)(nil)

// UpdateConsents is UpdateConsent for many customers, as a bulk import
// does (store.DB.UpdateConsents): the non-private releases that any of the
// withdrawals concerns are deleted first, then the updates are applied.
// Forgotten.Current is the release current after the last deletion.
func UpdateConsents(ctx context.Context, db BulkWithdrawer, ups []store.ConsentUpdate, d consent.Defaults) ([]store.ConsentResult, int, Forgotten, error) {
	var out Forgotten
	sums, err := List(ctx, db)
	if err != nil {
		return nil, 0, out, fmt.Errorf("consent: %w", err)
	}
	for _, u := range ups {
		if !slices.ContainsFunc(sums, nonPrivate) {
			break // none (left) to retire
		}
		got, err := retireForWithdrawal(ctx, db, u.Customer, u.Changes, d, sums)
		out.Retired = append(out.Retired, got.Retired...)
		if got.CurrentRetired {
			out.CurrentRetired, out.Current = true, got.Current
		}
		if err != nil {
			return nil, 0, out, err
		}
		if len(got.Retired) > 0 {
			if sums, err = List(ctx, db); err != nil {
				return nil, 0, out, fmt.Errorf("consent: %w", err)
			}
		}
	}
	res, n, err := db.UpdateConsents(ctx, ups, d)
	return res, n, out, err
}

// retireForWithdrawal retires the releases derived from p's events
// (retireDerived, over sums, or the stored releases if sums is nil) if
// changes withdraw personalization that d allows now.
func retireForWithdrawal(ctx context.Context, db Withdrawer, p privacy.PseudoID, changes []consent.Change, d consent.Defaults, sums []Summary) (Forgotten, error) {
	withdraws := false
	for _, c := range changes {
		withdraws = withdraws || (c.Purpose == privacy.Personalization && !c.Granted)
	}
	if !withdraws {
		return Forgotten{}, nil
	}
	rec, err := db.Consent(ctx, p)
	if err != nil {
		return Forgotten{}, fmt.Errorf("consent: %w", err)
	}
	if !d.Allows(rec, privacy.Personalization) {
		return Forgotten{}, nil
	}
	if sums == nil {
		if sums, err = List(ctx, db); err != nil {
			return Forgotten{}, fmt.Errorf("consent: %w", err)
		}
	}
	out, err := retireDerived(ctx, db, p, sums)
	if err != nil {
		return out, fmt.Errorf("consent: %w", err)
	}
	return out, nil
}

// retireDerived deletes the non-private releases among sums (the stored
// releases, as List returns them) whose training window covers an event of
// p (derivedFrom). If the current release is one of them, the newest
// remaining private release becomes current in the same step, or none is
// current if there is none.
func retireDerived(ctx context.Context, db Eraser, p privacy.PseudoID, sums []Summary) (Forgotten, error) {
	var out Forgotten
	if !slices.ContainsFunc(sums, nonPrivate) {
		return out, nil // nothing to retire: no need to read p's events
	}
	data, err := db.ExportRecords(ctx, p) // p's events; the audit trail is not needed
	if err != nil {
		return out, err
	}
	retire := map[string]bool{}
	for _, r := range derivedFrom(sums, data).Releases {
		if !r.Private {
			retire[r.Version] = true
		}
	}
	if len(retire) == 0 {
		return out, nil
	}
	successor := ""
	for _, s := range sums { // oldest first: the last private one wins
		if s.Card.Private && !retire[s.Card.Version] {
			successor = s.Card.Version
		}
	}
	for _, s := range sums {
		v := s.Card.Version
		if !retire[v] {
			continue
		}
		next := ""
		if s.Current {
			next = successor
		}
		if err := db.RetireRelease(ctx, v, next, p); err != nil {
			return out, fmt.Errorf("non-private release %s: %w", v, err)
		}
		out.Retired = append(out.Retired, v)
		if s.Current {
			out.CurrentRetired, out.Current = true, next
		}
	}
	return out, nil
}

func nonPrivate(s Summary) bool { return !s.Card.Private }
