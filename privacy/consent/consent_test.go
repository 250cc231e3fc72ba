package consent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/discret-io/discret/privacy"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func ch(p privacy.Purpose, granted bool, min int) Change {
	return Change{Purpose: p, Granted: granted, Time: t0.Add(time.Duration(min) * time.Minute), Source: "web-form"}
}

func TestAllows(t *testing.T) {
	P, S := privacy.Personalization, privacy.InStore
	tests := []struct {
		name    string
		changes []Change
		d       Defaults
		p       privacy.Purpose
		want    bool
	}{
		{"unknown opt-in", nil, Defaults{}, P, false},
		{"unknown opt-out default", nil, Defaults{Personalization: true}, P, true},
		{"unknown in_store default", nil, Defaults{Personalization: true}, S, false},
		{"granted", []Change{ch(P, true, 0)}, Defaults{}, P, true},
		{"granted other purpose", []Change{ch(S, true, 0)}, Defaults{}, P, false},
		{"withdrawn after grant", []Change{ch(P, true, 0), ch(P, false, 1)}, Defaults{}, P, false},
		{"regranted", []Change{ch(P, true, 0), ch(P, false, 1), ch(P, true, 2)}, Defaults{}, P, true},
		{"out of order: older grant applied last", []Change{ch(P, false, 5), ch(P, true, 1)}, Defaults{}, P, false},
		// Of equal times a withdrawal wins, in either order: an imported
		// file's rows come in any order.
		{"equal times: withdrawal applied last wins", []Change{ch(P, true, 1), ch(P, false, 1)}, Defaults{}, P, false},
		{"equal times: withdrawal applied first wins", []Change{ch(P, false, 1), ch(P, true, 1)}, Defaults{}, P, false},
		// Times are compared to the second, as stored: a record decides
		// the same before and after it is stored.
		{"same second: withdrawal wins", []Change{{Purpose: P, Time: t0.Add(100 * time.Millisecond), Source: "a"}, {Purpose: P, Granted: true, Time: t0.Add(900 * time.Millisecond), Source: "a"}}, Defaults{}, P, false},
		{"next second: grant wins", []Change{{Purpose: P, Time: t0.Add(900 * time.Millisecond), Source: "a"}, {Purpose: P, Granted: true, Time: t0.Add(1100 * time.Millisecond), Source: "a"}}, Defaults{}, P, true},
		{"equal times, both grants", []Change{ch(P, true, 1), ch(P, true, 1)}, Defaults{}, P, true},
		{"withdrawn beats opt-out default", []Change{ch(P, false, 0)}, Defaults{Personalization: true}, P, false},
	}
	for _, tt := range tests {
		if got := tt.d.Allows(Record{Changes: tt.changes}, tt.p); got != tt.want {
			t.Errorf("%s: Allows(%v) = %v, want %v", tt.name, tt.p, got, tt.want)
		}
	}
}

func TestApplyReportsWithdrawal(t *testing.T) {
	var r Record
	d := Defaults{}
	steps := []struct {
		c    Change
		want bool
	}{
		{ch(privacy.Personalization, false, 0), false}, // nothing to withdraw
		{ch(privacy.Personalization, true, 1), false},
		{ch(privacy.InStore, false, 2), false},
		{ch(privacy.Personalization, false, 3), true},
		{ch(privacy.Personalization, false, 4), false},
	}
	for i, s := range steps {
		got, err := r.Apply(s.c, d, t0.Add(time.Hour))
		if err != nil || got != s.want {
			t.Errorf("step %d: Apply = %v, %v; want %v, nil", i, got, err, s.want)
		}
	}
	if len(r.Changes) != len(steps) {
		t.Errorf("history has %d changes, want %d", len(r.Changes), len(steps))
	}
}

func TestValidate(t *testing.T) {
	good := ch(privacy.InStore, true, 0)
	tests := []struct {
		name string
		mod  func(*Change)
		want error
	}{
		{"ok", func(*Change) {}, nil},
		{"no time", func(c *Change) { c.Time = time.Time{} }, ErrNoTime},
		{"empty source", func(c *Change) { c.Source = "" }, ErrBadSource},
		{"free text source", func(c *Change) { c.Source = "card 4970 1234" }, ErrBadSource},
		{"long source", func(c *Change) { c.Source = string(make([]byte, 65)) }, ErrBadSource},
		{"pos source", func(c *Change) { c.Source = "pos:store-12" }, nil},
		{"e-mail source", func(c *Change) { c.Source = "by:hank@example.com" }, ErrBadSource},
	}
	for _, tt := range tests {
		c := good
		tt.mod(&c)
		if err := c.Validate(); !errors.Is(err, tt.want) {
			t.Errorf("%s: Validate() = %v, want %v", tt.name, err, tt.want)
		}
	}
	c := good
	c.Purpose = 9
	if err := c.Validate(); err == nil {
		t.Error("Validate(purpose 9) = nil, want error")
	}
}

func TestDefaultsFor(t *testing.T) {
	d := Defaults{Personalization: true, InStore: false}
	tests := []struct {
		p    privacy.Purpose
		want bool
	}{
		{privacy.Personalization, true},
		{privacy.InStore, false},
		{privacy.Purpose(0), false},
		{privacy.Purpose(99), false},
	}
	for _, tt := range tests {
		if got := d.For(tt.p); got != tt.want {
			t.Errorf("Defaults%+v.For(%v) = %v, want %v", d, tt.p, got, tt.want)
		}
	}
	if got := (Defaults{InStore: true}).For(privacy.InStore); !got {
		t.Errorf("Defaults{InStore: true}.For(InStore) = false, want true")
	}
}

// TestApplyCapsFutureTimes: a change takes effect when recorded at the
// latest, so a grant dated ahead of the clock cannot outrank a withdrawal
// recorded after it, whether the grant came with this rule or before it.
func TestApplyCapsFutureTimes(t *testing.T) {
	P := privacy.Personalization
	now := t0.Add(time.Hour)
	later := now.Add(time.Second)
	var r Record
	// A grant dated 4 minutes ahead (within the skew), then a withdrawal
	// without a time of its own, recorded a second later.
	if _, err := r.Apply(Change{Purpose: P, Granted: true, Time: now.Add(4 * time.Minute), Source: "app"}, Defaults{}, now); err != nil {
		t.Fatal(err)
	}
	if got := r.Changes[0].Time; !got.Equal(now) {
		t.Errorf("grant dated ahead recorded at %v, want capped at %v", got, now)
	}
	withdrew, err := r.Apply(Change{Purpose: P, Granted: false, Time: later, Source: "app"}, Defaults{}, later)
	if err != nil || !withdrew || (Defaults{}).Allows(r, P) {
		t.Errorf("withdrawal after a grant dated ahead: withdrew %v, err %v, allowed %v; want true, nil, false", withdrew, err, (Defaults{}).Allows(r, P))
	}

	// A record stored before the rule, with a grant dated in 2030: the next
	// change caps it, without writing into the caller's array.
	old := []Change{{Purpose: P, Granted: true, Time: t0.AddDate(4, 0, 0), Source: "cli"}}
	legacy := Record{Changes: old}
	withdrew, err = legacy.Apply(Change{Purpose: P, Granted: false, Time: now, Source: "cli"}, Defaults{}, now)
	if err != nil || !withdrew || (Defaults{}).Allows(legacy, P) {
		t.Errorf("withdrawal after a stored grant dated 2030: withdrew %v, err %v; want true, nil and not allowed", withdrew, err)
	}
	if !old[0].Time.Equal(t0.AddDate(4, 0, 0)) {
		t.Errorf("Apply wrote into the caller's array: %v", old[0].Time)
	}

	// Beyond the skew: refused, nothing appended.
	far := Change{Purpose: P, Granted: true, Time: now.Add(privacy.MaxClockSkew + time.Second), Source: "cli"}
	n := len(r.Changes)
	if _, err := r.Apply(far, Defaults{}, now); !errors.Is(err, ErrFuture) || len(r.Changes) != n {
		t.Errorf("Apply(%v ahead) = %v with %d changes, want ErrFuture and %d", privacy.MaxClockSkew+time.Second, err, len(r.Changes), n)
	}
	if err := far.CheckTime(now); !errors.Is(err, ErrFuture) {
		t.Errorf("CheckTime = %v, want ErrFuture", err)
	}
	if err := far.CheckTime(now.Add(time.Second)); err != nil {
		t.Errorf("CheckTime at the edge = %v, want nil", err)
	}
}

func TestSourceWantStatesTheLimit(t *testing.T) {
	if want := fmt.Sprintf("1-%d characters", MaxSourceLen); !strings.Contains(SourceWant, want) {
		t.Errorf("SourceWant = %q, want it to say %q", SourceWant, want)
	}
}

// TestApplyRecordsOnce: a change already in the history (same purpose,
// decision, source and second) is not appended again, so importing a file
// twice leaves the history as once; a change differing in any of them is.
func TestApplyRecordsOnce(t *testing.T) {
	var r Record
	now := t0.Add(time.Hour)
	first := ch(privacy.Personalization, true, 1)
	for _, c := range []Change{
		first,
		{Purpose: first.Purpose, Granted: true, Time: first.Time.Add(300 * time.Millisecond), Source: first.Source}, // same second
		first,
	} {
		if _, err := r.Apply(c, Defaults{}, now); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.Changes) != 1 {
		t.Fatalf("history after the same change three times: %v, want it once", r.Changes)
	}
	other := first
	other.Source = "pos:store-1"
	for _, c := range []Change{ch(privacy.InStore, true, 1), ch(privacy.Personalization, false, 1), ch(privacy.Personalization, true, 2), other} {
		if _, err := r.Apply(c, Defaults{}, now); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.Changes) != 5 {
		t.Errorf("history: %d changes, want 5 (each differs from the first in one respect)", len(r.Changes))
	}
}

// TestChangeJSON: a change in JSON names its purpose, as the import
// formats and the API do, and reads back.
func TestChangeJSON(t *testing.T) {
	c := ch(privacy.InStore, true, 0)
	b, err := json.Marshal(c)
	if err != nil || !strings.Contains(string(b), `"purpose":"in_store"`) {
		t.Fatalf("json.Marshal = %s, %v; want the purpose by name", b, err)
	}
	var back Change
	if err := json.Unmarshal(b, &back); err != nil || back != c {
		t.Errorf("round trip = %+v, %v; want %+v", back, err, c)
	}
	if err := json.Unmarshal([]byte(`{"purpose":"marketing"}`), &back); err == nil {
		t.Error("unknown purpose decoded without error")
	}
	if _, err := json.Marshal(Change{Purpose: 9}); err == nil {
		t.Error("invalid purpose encoded without error")
	}
}

// TestErasure: after an erasure nothing is allowed, whatever the defaults,
// until a choice dated after it; a choice dated at or before it (a consent
// file exported before the erasure, imported again) is not recorded.
func TestErasure(t *testing.T) {
	P, S := privacy.Personalization, privacy.InStore
	erased := Record{ErasedAt: t0.Add(10 * time.Minute)}
	optOut := Defaults{Personalization: true, InStore: true}
	for _, p := range privacy.Purposes {
		if optOut.Allows(erased, p) {
			t.Errorf("erased customer, opt-out defaults: Allows(%v) = true, want false", p)
		}
	}
	now := t0.Add(time.Hour)
	for _, tc := range []struct {
		name   string
		c      Change
		record bool
	}{
		{"grant before the erasure", ch(P, true, 5), false},
		{"grant in the erasure's second", Change{Purpose: P, Granted: true, Time: erased.ErasedAt.Add(999 * time.Millisecond), Source: "crm"}, false},
		{"grant one second after", Change{Purpose: P, Granted: true, Time: erased.ErasedAt.Add(time.Second), Source: "crm"}, true},
		{"in-store grant after", ch(S, true, 30), true},
	} {
		r := erased
		if _, err := r.Apply(tc.c, optOut, now); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := len(r.Changes) == 1; got != tc.record {
			t.Errorf("%s: recorded %v, want %v", tc.name, got, tc.record)
		}
		if got := optOut.Allows(r, tc.c.Purpose); got != tc.record {
			t.Errorf("%s: Allows(%v) = %v, want %v", tc.name, tc.c.Purpose, got, tc.record)
		}
		if r.PredatesErasure(tc.c) == tc.record {
			t.Errorf("%s: PredatesErasure = %v", tc.name, !tc.record)
		}
	}
	// A record holding changes from before its erasure (never written by
	// the store, which erases the history) decides without them.
	r := Record{Changes: []Change{ch(P, true, 5)}, ErasedAt: erased.ErasedAt}
	if _, ok := r.Latest(P); ok || (Defaults{}).Allows(r, P) {
		t.Errorf("a grant before the erasure still decides: %+v", r)
	}
	b, err := json.Marshal(Record{})
	if err != nil || string(b) != `{"changes":null}` {
		t.Errorf("json of a never-erased record = %s, %v: want no erased_at", b, err)
	}
}

func TestUntilAfterLatest(t *testing.T) {
	P, S := privacy.Personalization, privacy.InStore
	at := time.Date(2030, 5, 1, 12, 0, 0, 300e6, time.UTC) // 12:00:00.3
	erased := Record{ErasedAt: at}
	withdrawn := Record{Changes: []Change{{Purpose: P, Time: at, Source: "crm"}}}
	for _, tt := range []struct {
		name string
		r    Record
		ps   []privacy.Purpose
		now  time.Time
		want time.Duration
	}{
		{"never erased, no choice", Record{}, []privacy.Purpose{P}, at, 0},
		{"in the erasure's second, after it", erased, nil, at.Add(500 * time.Millisecond), 200 * time.Millisecond},
		{"in the erasure's second, at its start", erased, nil, at.Truncate(time.Second), time.Second},
		{"the erasure's next second", erased, nil, at.Add(700 * time.Millisecond), 0},
		{"a minute after the erasure", erased, nil, at.Add(time.Minute), 0},
		{"clock set back before the erasure", erased, nil, at.Add(-time.Minute), 0},
		{"in the second of the purpose's latest choice", withdrawn, []privacy.Purpose{P}, at.Add(100 * time.Millisecond), 600 * time.Millisecond},
		{"in that second, among other purposes", withdrawn, []privacy.Purpose{S, P}, at, 700 * time.Millisecond},
		{"in the second of another purpose's choice", withdrawn, []privacy.Purpose{S}, at, 0},
		{"in that second, no purpose given", withdrawn, nil, at, 0},
		{"the choice's next second", withdrawn, []privacy.Purpose{P}, at.Add(700 * time.Millisecond), 0},
		{"clock set back before the choice", withdrawn, []privacy.Purpose{P}, at.Add(-time.Minute), 0},
		{"in the second of a choice that is not the latest", Record{Changes: []Change{{Purpose: P, Time: at, Source: "crm"}, {Purpose: P, Granted: true, Time: at.Add(time.Hour), Source: "crm"}}}, []privacy.Purpose{P}, at, 0},
	} {
		got := tt.r.UntilAfterLatest(tt.now, tt.ps...)
		if got != tt.want {
			t.Errorf("%s: UntilAfterLatest(%v, %v) = %v, want %v", tt.name, tt.now, tt.ps, got, tt.want)
		}
		if got == 0 {
			continue
		}
		c := Change{Purpose: P, Granted: true, Time: tt.now.Add(got), Source: "app"}
		r := tt.r
		if _, err := r.Apply(c, Defaults{}, c.Time); err != nil || r.PredatesErasure(c) || !(Defaults{}).Allows(r, P) {
			t.Errorf("%s: a grant dated %v after %v does not decide", tt.name, got, tt.now)
		}
	}
}

func TestDateAfterLatest(t *testing.T) {
	P := privacy.Personalization
	erased := time.Date(2030, 5, 1, 12, 0, 0, 300e6, time.UTC) // 12:00:00.3
	for _, tt := range []struct {
		name       string
		r          Record
		dated, now time.Time // now: the clock once the record is read
		want       time.Time
		wantSlept  time.Duration
	}{
		{"dated after the erasure's second", Record{ErasedAt: erased}, erased.Add(time.Second), erased.Add(time.Second), erased.Add(time.Second), 0},
		{"in its second: waits for the next", Record{ErasedAt: erased}, erased.Add(200 * time.Millisecond), erased.Add(500 * time.Millisecond), erased.Truncate(time.Second).Add(time.Second), 200 * time.Millisecond},
		{"in its second, the clock past it: no wait, redated", Record{ErasedAt: erased}, erased.Add(600 * time.Millisecond), erased.Add(800 * time.Millisecond), erased.Add(800 * time.Millisecond), 0},
		{"clock set back: kept, and reported as predating", Record{ErasedAt: erased}, erased.Add(-time.Minute), erased.Add(-time.Minute), erased.Add(-time.Minute), 0},
		{"in the second of the latest choice: waits for the next", Record{Changes: []Change{{Purpose: P, Time: erased, Source: "crm"}}}, erased, erased.Add(100 * time.Millisecond), erased.Truncate(time.Second).Add(time.Second), 600 * time.Millisecond},
	} {
		clock, slept := tt.now, time.Duration(0)
		sleep := func(_ context.Context, d time.Duration) error { slept += d; clock = clock.Add(d); return nil }
		got, err := tt.r.DateAfterLatest(context.Background(), tt.dated, []privacy.Purpose{P}, func() time.Time { return clock }, sleep)
		if err != nil || !got.Equal(tt.want) || slept != tt.wantSlept {
			t.Errorf("%s: DateAfterLatest(%v) = %v, %v after sleeping %v; want %v after %v", tt.name, tt.dated, got, err, slept, tt.want, tt.wantSlept)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (Record{ErasedAt: erased}).DateAfterLatest(ctx, erased, nil, func() time.Time { return erased }, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("DateAfterLatest with a cancelled context = %v, want context.Canceled", err)
	}
}

// TestDateUndated: only the changes their recorder dated itself are
// redated, together, past the latest choice of their own purposes.
func TestDateUndated(t *testing.T) {
	P, S := privacy.Personalization, privacy.InStore
	at := time.Date(2030, 5, 1, 12, 0, 0, 300e6, time.UTC)
	given := at.Add(-time.Hour)
	r := Record{Changes: []Change{{Purpose: P, Time: at, Source: "crm"}}}
	clock := at.Add(100 * time.Millisecond)
	sleep := func(_ context.Context, d time.Duration) error { clock = clock.Add(d); return nil }
	next := at.Truncate(time.Second).Add(time.Second)
	for _, tt := range []struct {
		name    string
		changes []Change
		undated []bool
		want    []time.Time
	}{
		{"none undated", []Change{{Purpose: P, Time: given}}, []bool{false}, []time.Time{given}},
		{"undated, in the second of P's latest", []Change{{Purpose: P, Time: at}, {Purpose: S, Time: given}}, []bool{true, false}, []time.Time{next, given}},
		{"undated, S has no choice in that second", []Change{{Purpose: P, Time: given}, {Purpose: S, Time: at}}, []bool{false, true}, []time.Time{given, at}},
	} {
		clock = at.Add(100 * time.Millisecond)
		err := r.DateUndated(context.Background(), tt.changes, func(i int) bool { return tt.undated[i] }, func() time.Time { return clock }, sleep)
		for i, c := range tt.changes {
			if err != nil || !c.Time.Equal(tt.want[i]) {
				t.Errorf("%s: change %d dated %v (err %v), want %v", tt.name, i, c.Time, err, tt.want[i])
			}
		}
	}
}

// TestOutranked: a grant dated in the second of a withdrawal of its purpose
// is recorded and does not decide; nothing else is outranked so.
func TestOutranked(t *testing.T) {
	P, S := privacy.Personalization, privacy.InStore
	w := Change{Purpose: P, Time: t0.Add(300 * time.Millisecond), Source: "crm"}
	grant := func(p privacy.Purpose, d time.Duration) Change {
		return Change{Purpose: p, Granted: true, Time: t0.Add(d), Source: "app"}
	}
	for _, tt := range []struct {
		name string
		r    Record
		c    Change
		want bool
	}{
		{"grant in the withdrawal's second", Record{Changes: []Change{w}}, grant(P, 900*time.Millisecond), true},
		{"grant the next second", Record{Changes: []Change{w}}, grant(P, time.Second), false},
		{"grant of the other purpose", Record{Changes: []Change{w}}, grant(S, 0), false},
		{"withdrawal in a grant's second", Record{Changes: []Change{grant(P, 0)}}, Change{Purpose: P, Time: t0, Source: "crm"}, false},
		{"grant in the second of a withdrawal that a later grant overrides", Record{Changes: []Change{w, grant(P, time.Minute)}}, grant(P, 0), false},
		{"grant in an erasure's second", Record{ErasedAt: w.Time}, grant(P, 0), false},
	} {
		r := tt.r
		if _, err := r.Apply(tt.c, Defaults{}, t0.Add(time.Hour)); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := r.Outranked(tt.c); got != tt.want {
			t.Errorf("%s: Outranked(%+v) = %v, want %v", tt.name, tt.c, got, tt.want)
		}
	}
}
