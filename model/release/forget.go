package release

import (
	"context"
	"fmt"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/privacy"
)

// Eraser is what ForgetCustomer needs of the store (*store.DB).
type Eraser interface {
	Source
	Export(ctx context.Context, p privacy.PseudoID) (store.CustomerData, error)
	Forget(ctx context.Context, p privacy.PseudoID) (store.Removed, error)
	RetireRelease(ctx context.Context, version, successor string) error
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
func ForgetCustomer(ctx context.Context, db Eraser, p privacy.PseudoID) (Forgotten, error) {
	var out Forgotten
	data, err := db.Export(ctx, p)
	if err != nil {
		return out, fmt.Errorf("forget: %w", err)
	}
	sums, err := List(ctx, db)
	if err != nil {
		return out, fmt.Errorf("forget: %w", err)
	}
	retire := map[string]bool{}
	for _, r := range derivedFrom(sums, data).Releases {
		if !r.Private {
			retire[r.Version] = true
		}
	}
	if len(retire) > 0 {
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
			if err := db.RetireRelease(ctx, v, next); err != nil {
				return out, fmt.Errorf("forget: non-private release %s: %w", v, err)
			}
			out.Retired = append(out.Retired, v)
			if s.Current {
				out.CurrentRetired, out.Current = true, next
			}
		}
	}
	if out.Removed, err = db.Forget(ctx, p); err != nil {
		return out, err
	}
	return out, nil
}
