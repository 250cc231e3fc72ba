package rpc_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/discret-io/discret/features/store/storetest"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
)

// TestSetConsentSameSecond: a choice sent without a time in the second of
// the customer's latest choice for its purpose is dated the next second
// (the server waits for it), so that it decides; one sent with a time
// keeps it, and a grant so tied with a withdrawal is counted as outranked.
func TestSetConsentSameSecond(t *testing.T) {
	at := func(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(storetest.Epoch.Add(d)) }
	change := func(purpose string, granted bool, when *timestamppb.Timestamp) *discretv1.ConsentChange {
		return &discretv1.ConsentChange{Purpose: purpose, Granted: proto.Bool(granted), Time: when}
	}
	const P, S = "personalization", "in_store"
	for _, tt := range []struct {
		name          string
		first, second *discretv1.ConsentChange
		allowed       bool          // personalization, after the second
		decided       time.Duration // the time of its deciding choice, after Epoch
		slept         time.Duration
		outranked     int64
	}{
		{"undated grant after a withdrawal", change(P, false, nil), change(P, true, nil), true, time.Second, 700 * time.Millisecond, 0},
		{"undated withdrawal after a grant", change(P, true, nil), change(P, false, nil), false, time.Second, 700 * time.Millisecond, 0},
		{"undated grant after a withdrawal of the other purpose", change(S, false, nil), change(P, true, nil), true, 300 * time.Millisecond, 0, 0},
		{"undated grant after a withdrawal of an earlier second", change(P, false, at(-time.Second)), change(P, true, nil), true, 300 * time.Millisecond, 0, 0},
		{"grant dated in a withdrawal's second", change(P, false, nil), change(P, true, at(100*time.Millisecond)), false, 300 * time.Millisecond, 0, 1},
		{"grant dated ahead, recorded now, in a withdrawal's second", change(P, false, nil), change(P, true, at(2*time.Minute)), false, 300 * time.Millisecond, 0, 1},
		{"grant dated after a withdrawal's second", change(P, false, at(-time.Second)), change(P, true, at(0)), true, 0, 0, 0},
	} {
		f := newFixture(t, nil)
		s := f.servers()
		f.clock.Set(storetest.Epoch.Add(300 * time.Millisecond))
		const c = "same-second"
		if _, err := s.SetConsent(t.Context(), &discretv1.SetConsentRequest{Customer: c, Changes: []*discretv1.ConsentChange{tt.first}}); err != nil {
			t.Fatalf("%s: first SetConsent: %v", tt.name, err)
		}
		set, err := s.SetConsent(t.Context(), &discretv1.SetConsentRequest{Customer: c, Changes: []*discretv1.ConsentChange{tt.second}})
		if err != nil {
			t.Fatalf("%s: second SetConsent: %v", tt.name, err)
		}
		var got *discretv1.PurposeState
		for _, ps := range set.GetState().GetPurposes() {
			if ps.GetPurpose() == P {
				got = ps
			}
		}
		want := storetest.Epoch.Add(tt.decided)
		if got.GetAllowed() != tt.allowed || !got.GetTime().AsTime().Equal(want) || f.slept != tt.slept || set.GetOutranked() != tt.outranked {
			t.Errorf("%s: SetConsent = allowed %v, decided at %v, outranked %d, after waiting %v; want %v, %v, %d, %v",
				tt.name, got.GetAllowed(), got.GetTime().AsTime(), set.GetOutranked(), f.slept, tt.allowed, want, tt.outranked, tt.slept)
		}
	}
}
