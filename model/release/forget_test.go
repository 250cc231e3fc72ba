package release_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/store/storetest"
	"github.com/discret-io/discret/model/budget"
	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

// eraser is a store whose customer records are faked: ExportRecords
// returns data, Forget records the call.
type eraser struct {
	*store.DB
	data      store.CustomerData
	exportErr error
	forgot    []privacy.PseudoID
}

func (e *eraser) ExportRecords(_ context.Context, p privacy.PseudoID) (store.CustomerData, error) {
	return e.data, e.exportErr
}

func (e *eraser) Forget(_ context.Context, p privacy.PseudoID) (store.Removed, error) {
	e.forgot = append(e.forgot, p)
	return store.Removed{"events": len(e.data.Events)}, nil
}

func nonPrivate(r *release.Release) *release.Release {
	r.Card.Private, r.Card.Privacy = false, nil
	return r
}

func TestForgetCustomer(t *testing.T) {
	ctx := t.Context()
	inWindow := created.AddDate(0, -1, 0)
	data := store.CustomerData{Events: []store.EventData{{Type: "purchase", Item: "apple", Time: inWindow}}}
	p := storetest.Pseudo(1)
	at := func(r *release.Release, h int) *release.Release {
		r.Card.Created = created.Add(time.Duration(h) * time.Hour)
		return r
	}
	outside := budget.Window{From: created.AddDate(-3, 0, 0), To: created.AddDate(-2, 0, 0)}

	for _, tt := range []struct {
		name        string
		releases    []*release.Release // stored oldest first; the last is current
		wantRetired []string
		wantCurrent string // after the erasure; "" for none
		wantKept    []string
	}{
		{
			name:     "private releases stay",
			releases: []*release.Release{at(sample("p1"), 0), at(sample("p2"), 1)},
			wantKept: []string{"p1", "p2"}, wantCurrent: "p2",
		},
		{
			name: "a current non-private release gives way to the newest private one",
			releases: []*release.Release{
				at(sample("p-old"), 0), at(sample("p-new"), 1),
				func() *release.Release {
					r := at(nonPrivate(sample("np-outside")), 2)
					r.Card.Window = outside
					return r
				}(),
				at(nonPrivate(sample("np")), 3),
			},
			wantRetired: []string{"np"},
			wantCurrent: "p-new",
			wantKept:    []string{"p-old", "p-new", "np-outside"},
		},
		{
			name:        "no private release left: none is current",
			releases:    []*release.Release{at(nonPrivate(sample("np1")), 0), at(nonPrivate(sample("np2")), 1)},
			wantRetired: []string{"np1", "np2"},
			wantKept:    []string{},
		},
		{
			name:        "a non-private release that is not current goes too",
			releases:    []*release.Release{at(nonPrivate(sample("np")), 0), at(sample("p"), 1)},
			wantRetired: []string{"np"}, wantCurrent: "p",
			wantKept: []string{"p"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := &eraser{DB: storetest.OpenMemory(t, nil), data: data}
			var before string
			for i, r := range tt.releases {
				current := i == len(tt.releases)-1
				put(t, db.DB, r, current)
				if current {
					before = r.Card.Version
				}
			}
			got, err := release.ForgetCustomer(ctx, db, p)
			if err != nil {
				t.Fatalf("ForgetCustomer = %v", err)
			}
			if !slices.Equal(got.Retired, tt.wantRetired) {
				t.Errorf("Retired = %v, want %v", got.Retired, tt.wantRetired)
			}
			if wantCurRetired := slices.Contains(tt.wantRetired, before); got.CurrentRetired != wantCurRetired || got.CurrentRetired && got.Current != tt.wantCurrent {
				t.Errorf("CurrentRetired, Current = %v, %q; want %v, %q", got.CurrentRetired, got.Current, wantCurRetired, tt.wantCurrent)
			}
			cur, err := db.CurrentRelease(ctx)
			if errors.Is(err, store.ErrNoCurrentRelease) {
				cur, err = "", nil
			}
			if err != nil || cur != tt.wantCurrent {
				t.Errorf("current release after = %q, %v; want %q", cur, err, tt.wantCurrent)
			}
			sums, err := release.List(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			kept := []string{}
			for _, s := range sums {
				kept = append(kept, s.Card.Version)
			}
			if !slices.Equal(kept, tt.wantKept) {
				t.Errorf("releases kept = %v, want %v", kept, tt.wantKept)
			}
			// Each retirement is in the audit trail, about p.
			entries, _, err := db.Audit(ctx, store.AuditQuery{Actions: []store.AuditAction{store.AuditModelRetire}, Subject: store.SubjectOf(p)})
			if err != nil {
				t.Fatal(err)
			}
			var audited []string
			for _, e := range entries {
				v, _, _ := strings.Cut(e.Object, " ")
				audited = append(audited, v)
			}
			slices.Sort(audited)
			if want := slices.Sorted(slices.Values(tt.wantRetired)); !slices.Equal(audited, want) {
				t.Errorf("model.retire entries name %v, want %v", audited, want)
			}
			if !slices.Equal(db.forgot, []privacy.PseudoID{p}) || got.Removed["events"] != 1 {
				t.Errorf("Forget calls %v, Removed %v; want one call for %s", db.forgot, got.Removed, p)
			}
			// What an export shows afterwards: no non-private release.
			d, err := release.DerivedFrom(ctx, db, data)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range d.Releases {
				if !r.Private {
					t.Errorf("after the erasure, DerivedFrom still lists non-private release %s", r.Version)
				}
			}
		})
	}

	t.Run("a failed export erases nothing", func(t *testing.T) {
		db := &eraser{DB: storetest.OpenMemory(t, nil), data: data, exportErr: errors.New("disk on fire")}
		put(t, db.DB, nonPrivate(sample("np")), true)
		if _, err := release.ForgetCustomer(ctx, db, p); err == nil {
			t.Fatal("ForgetCustomer with a failing export = nil error")
		}
		if len(db.forgot) != 0 {
			t.Error("ForgetCustomer erased records after a failed export")
		}
		if cur, err := db.CurrentRelease(ctx); err != nil || cur != "np" {
			t.Errorf("current release = %q, %v; want np untouched", cur, err)
		}
	})
}

func TestDerivedNoteNonPrivate(t *testing.T) {
	db := storetest.OpenMemory(t, nil)
	data := store.CustomerData{Events: []store.EventData{{Type: "view", Item: "apple", Time: created.AddDate(0, -1, 0)}}}
	put(t, db, sample("p"), true)
	d, err := release.DerivedFrom(t.Context(), db, data)
	if err != nil || d.Note != release.DerivedNote {
		t.Fatalf("DerivedFrom with private releases: note %q, %v; want DerivedNote", d.Note, err)
	}
	put(t, db, nonPrivate(sample("np")), false)
	d, err = release.DerivedFrom(t.Context(), db, data)
	if err != nil || d.Note != release.DerivedNote+release.NonPrivateNote {
		t.Errorf("DerivedFrom with a non-private release: note %q, %v; want the non-private sentence too", d.Note, err)
	}
}

// TestUpdateConsentRetires: a withdrawal of personalization erases the
// customer's events, so it deletes first the non-private releases whose
// window covers one of them; a later forget would no longer find them.
func TestUpdateConsentRetires(t *testing.T) {
	ctx := t.Context()
	p, q := storetest.Pseudo(1), storetest.Pseudo(2)
	grant := func(granted bool) []consent.Change {
		return []consent.Change{{Purpose: privacy.Personalization, Granted: granted, Time: created.Add(-time.Hour), Source: "test"}}
	}
	for _, tt := range []struct {
		name        string
		customer    privacy.PseudoID // p has an event in the windows, q none
		changes     []consent.Change
		wantRetired []string
	}{
		{"withdrawal", p, grant(false), []string{"np"}},
		{"withdrawal with no event in a window", q, grant(false), nil},
		{"grant", p, grant(true), nil},
		{"in_store withdrawal", p, []consent.Change{{Purpose: privacy.InStore, Granted: false, Time: created.Add(-time.Hour), Source: "test"}}, nil},
	} {
		for _, bulk := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/bulk=%v", tt.name, bulk), func(t *testing.T) {
				db := storetest.OpenMemory(t, func() time.Time { return created })
				for _, c := range []privacy.PseudoID{p, q} {
					if _, err := db.UpdateConsent(ctx, c, grant(true), consent.Defaults{}); err != nil {
						t.Fatal(err)
					}
				}
				ev := features.Event{Customer: p, Kind: privacy.Purchase, Item: "apple", Time: created.AddDate(0, -1, 0), Quantity: 1}
				if err := db.AppendEvents(ctx, store.Batch{Events: []store.Entry{{Event: ev, ExpiresAt: created.AddDate(1, 0, 0)}}}); err != nil {
					t.Fatal(err)
				}
				put(t, db, sample("p"), false)
				put(t, db, nonPrivate(sample("np")), true)

				var res store.ConsentResult
				var got release.Forgotten
				var err error
				if bulk {
					var rs []store.ConsentResult
					ups := []store.ConsentUpdate{{Customer: tt.customer, Changes: tt.changes}}
					if rs, _, got, err = release.UpdateConsents(ctx, db, ups, consent.Defaults{}); err == nil {
						res = rs[0]
					}
				} else {
					res, got, err = release.UpdateConsent(ctx, db, tt.customer, tt.changes, consent.Defaults{})
				}
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got.Retired, tt.wantRetired) {
					t.Errorf("Retired = %v, want %v", got.Retired, tt.wantRetired)
				}
				wantCurrent := "np"
				if len(tt.wantRetired) > 0 {
					wantCurrent = "p"
					if !got.CurrentRetired || got.Current != "p" || res.Removed.Total() != 1 {
						t.Errorf("CurrentRetired, Current, Removed = %v, %q, %v; want true, p, the event", got.CurrentRetired, got.Current, res.Removed)
					}
				}
				if cur, err := db.CurrentRelease(ctx); err != nil || cur != wantCurrent {
					t.Errorf("current release = %q, %v; want %q", cur, err, wantCurrent)
				}
			})
		}
	}
}
