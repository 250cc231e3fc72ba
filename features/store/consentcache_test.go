package store

import (
	"errors"
	"testing"
	"time"

	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

func TestConsentCacheFill(t *testing.T) {
	c := newConsentCache(2)
	a, b, d := privacy.PseudoID{1}, privacy.PseudoID{2}, privacy.PseudoID{3}
	v := c.currentVersion()
	c.invalidate(b) // a consent write after v was read
	c.fill(a, decision{bits: 3}, v)
	if _, ok := c.get(a); ok {
		t.Errorf("fill after an invalidation since its version: cached, want not")
	}
	v = c.currentVersion()
	c.fill(a, decision{bits: 3}, v)
	c.fill(b, decision{bits: 1}, v)
	if dc, ok := c.get(a); !ok || dc != (decision{bits: 3}) {
		t.Errorf("get(a) = %+v, %v; want bits 3, true", dc, ok)
	}
	c.fill(d, decision{erasedAt: 7}, v) // full: cleared first
	if _, ok := c.get(a); ok {
		t.Errorf("get(a) after the cache filled up = cached, want cleared")
	}
	if dc, ok := c.get(d); !ok || dc != (decision{erasedAt: 7}) {
		t.Errorf("get(d) = %+v, %v; want erased at 7, true", dc, ok)
	}
	c.invalidate(d)
	if _, ok := c.get(d); ok {
		t.Errorf("get(d) after invalidate = cached, want not")
	}
	off := newConsentCache(0)
	off.fill(a, decision{bits: 1}, off.currentVersion())
	if _, ok := off.get(a); ok {
		t.Errorf("disabled cache cached an entry")
	}
}

func TestDecisionAllows(t *testing.T) {
	granted := func(ps ...privacy.Purpose) decision {
		var dc decision
		for _, p := range ps {
			dc.set(p, true)
		}
		return dc
	}
	withdrawn := func(p privacy.Purpose) decision {
		var dc decision
		dc.set(p, false)
		return dc
	}
	erased := erasedDecision(testNow)
	erasedThenGranted := erased
	erasedThenGranted.set(privacy.Personalization, true)
	optOut := consent.Defaults{Personalization: true, InStore: true}
	for _, tt := range []struct {
		dc   decision
		d    consent.Defaults
		want kindSet
	}{
		{decision{}, consent.Defaults{}, 0},
		{decision{}, optOut, allKinds},
		{granted(privacy.Personalization), consent.Defaults{}, allKinds &^ (1 << privacy.StoreVisit)},
		{granted(privacy.Personalization, privacy.InStore), consent.Defaults{}, allKinds},
		{erased, optOut, 0}, // an erasure withdraws everything, defaults or not
		{erasedThenGranted, optOut, allKinds &^ (1 << privacy.StoreVisit)},
		{withdrawn(privacy.Personalization), optOut, 0},
		{withdrawn(privacy.InStore), optOut, allKinds &^ (1 << privacy.StoreVisit)},
	} {
		if got := tt.dc.kinds(tt.d); got != tt.want {
			t.Errorf("decision(%+v).kinds(%+v) = %05b, want %05b", tt.dc, tt.d, got, tt.want)
		}
	}
}

// TestConsentCacheCoherent checks that AppendEvents sees consent changes at
// once though it caches decisions.
func TestConsentCacheCoherent(t *testing.T) {
	now := testNow
	db := smallStore(t, "", func(o *Options) { o.Now = func() time.Time { return now } })
	defer db.Close()
	ctx := t.Context()
	a := privacy.PseudoID{1}
	if err := appendOne(t, db, a); !errors.Is(err, ErrNoConsent) { // caches "no choice"
		t.Fatalf("AppendEvents(no consent) = %v, want ErrNoConsent", err)
	}
	if _, ok := db.consents.get(a); !ok {
		t.Fatalf("decision not cached after AppendEvents")
	}
	grant(t, db, a)
	if err := appendOne(t, db, a); err != nil {
		t.Errorf("AppendEvents after a grant = %v, want nil", err)
	}
	ch := []consent.Change{{Purpose: privacy.Personalization, Time: testNow, Source: "t"}}
	if _, err := db.UpdateConsent(ctx, a, ch, consent.Defaults{}); err != nil {
		t.Fatal(err)
	}
	if err := appendOne(t, db, a); !errors.Is(err, ErrNoConsent) {
		t.Errorf("AppendEvents after a withdrawal = %v, want ErrNoConsent", err)
	}
	// A grant in the same second as the withdrawal would lose to it
	// (consent.Record.Latest): grant a second later.
	now = now.Add(time.Second)
	regrant := []consent.Change{{Purpose: privacy.Personalization, Granted: true, Time: now, Source: "t"}}
	if _, err := db.UpdateConsent(ctx, a, regrant, consent.Defaults{}); err != nil {
		t.Fatal(err)
	}
	if err := appendOne(t, db, a); err != nil { // caches the grant
		t.Fatalf("AppendEvents after a second grant = %v, want nil", err)
	}
	if _, err := db.Forget(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := appendOne(t, db, a); !errors.Is(err, ErrNoConsent) {
		t.Errorf("AppendEvents after Forget = %v, want ErrNoConsent", err)
	}
}
