// Package consent models a customer's consent per purpose and decides, as a
// pure function of the record, the policy and nothing else, whether a use of
// their data is allowed. Storage and the side effects of a withdrawal (erasure)
// live in features/.
package consent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/discret-io/discret/privacy"
)

// MaxSourceLen bounds Change.Source.
const MaxSourceLen = 64

// Errors returned by Validate and CheckTime.
var (
	ErrNoTime    = errors.New("consent: missing time")
	ErrFuture    = fmt.Errorf("consent: time in the future (at most %v ahead of the clock)", privacy.MaxClockSkew)
	ErrBadSource = errors.New("consent: source must be " + SourceWant + ", never free text")
)

// SourceWant describes a valid Change.Source, for error messages that name
// the field themselves ("field source: want " + SourceWant).
var SourceWant = fmt.Sprintf("1-%d characters from [A-Za-z0-9._:/-], a channel such as web-form or pos:store-12", MaxSourceLen)

// Change is one grant or withdrawal of one purpose.
type Change struct {
	Purpose privacy.Purpose `json:"purpose"`
	Granted bool            `json:"granted"`
	Time    time.Time       `json:"time"`
	// Source names the channel that collected the choice ("web-form",
	// "pos:store-12", "import:crm"). It is a token, not free text, so that no
	// personal data can be smuggled into it: no spaces, and no "@", which
	// would let an e-mail address (a raw customer identifier) in.
	Source string `json:"source"`
}

// Validate checks c.
func (c Change) Validate() error {
	if c.Purpose != privacy.Personalization && c.Purpose != privacy.InStore {
		return fmt.Errorf("consent: unknown purpose %d", c.Purpose)
	}
	if c.Time.IsZero() {
		return ErrNoTime
	}
	return ValidateSource(c.Source)
}

// CheckTime refuses a change dated more than privacy.MaxClockSkew after now with
// an error wrapping ErrFuture that gives the time.
func (c Change) CheckTime(now time.Time) error {
	if c.Time.After(now.Add(privacy.MaxClockSkew)) {
		return fmt.Errorf("%w: %s", ErrFuture, c.Time.UTC().Format(time.RFC3339))
	}
	return nil
}

// ValidateSource checks a Change.Source token.
func ValidateSource(s string) error {
	if s == "" || len(s) > MaxSourceLen {
		return ErrBadSource
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		ok := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
			b == '.' || b == '_' || b == ':' || b == '/' || b == '-'
		if !ok {
			return ErrBadSource
		}
	}
	return nil
}

// CappedAt returns c dated now if it is dated after now: a change takes
// effect when it is recorded at the latest (see Record.Apply).
func (c Change) CappedAt(now time.Time) Change {
	if c.Time.After(now) {
		c.Time = now
	}
	return c
}

// Same reports whether c and o record the same choice: purpose, decision,
// source and time to the second (the precision of every comparison of
// times in this package, though choices are stored to the nanosecond).
func (c Change) Same(o Change) bool {
	return c.Purpose == o.Purpose && c.Granted == o.Granted && c.Source == o.Source && c.Time.Unix() == o.Time.Unix()
}

// Record is a customer's consent history, oldest first in the order applied.
// The zero Record is a customer who never expressed a choice.
//
// ErasedAt is the time of the customer's last erasure (GDPR art. 17), zero if
// never erased. An erasure counts as a withdrawal of every purpose at that
// time that no choice dated at or before it can undo: Apply does not record
// such a choice (a consent file exported before the erasure and imported
// again), and the history starts afresh after it. A choice dated after the
// erasure (the customer came back) is recorded and decides as usual.
type Record struct {
	Changes  []Change  `json:"changes"`
	ErasedAt time.Time `json:"erased_at,omitzero"`
}

// PredatesErasure reports whether c is dated at or before r's erasure, to
// the second (the precision at which erasures are stored): such a choice
// belongs to the history that the erasure removed and is not recorded.
func (r Record) PredatesErasure(c Change) bool {
	return !r.ErasedAt.IsZero() && c.Time.Unix() <= r.ErasedAt.Unix()
}

// UntilAfterLatest returns how long after now a choice for the purposes ps
// must be dated to come after r's erasure and after the latest choice
// recorded for each of ps, to the second (the precision of every
// comparison here): when now falls in the second of one of them, the time to
// the next second; else 0. Dated in that second, the choice would be
// dropped as predating the erasure, or tie with the latest choice, where a
// withdrawal decides: a grant would be recorded and not count. A choice
// that its recorder dates itself, on a request made just after an erasure
// or another choice, waits that long (under a second) instead. One dated
// after now's second (a clock set back) gives 0 too: a choice dated now
// then predates or follows it, and is reported so.
func (r Record) UntilAfterLatest(now time.Time, ps ...privacy.Purpose) time.Duration {
	next := time.Unix(now.Unix()+1, 0).Sub(now)
	if !r.ErasedAt.IsZero() && now.Unix() == r.ErasedAt.Unix() {
		return next
	}
	for _, p := range ps {
		if c, ok := r.Latest(p); ok && now.Unix() == c.Time.Unix() {
			return next
		}
	}
	return 0
}

// DateAfterLatest returns the time to give choices for the purposes ps
// that their recorder dated itself, at dated, on a request made once r's
// erasure and choices were recorded: dated, unless it falls in the second
// of one of them (UntilAfterLatest), where the choices would be dropped or
// outranked; then it waits (sleep) until the clock (now) reaches the next
// second, and returns the clock's time, so that the choices are recorded
// and decide. It judges by dated, not by a later reading of the clock,
// which may already be in the next second. A nil sleep waits on a timer;
// it returns ctx.Err() if ctx is done first.
func (r Record) DateAfterLatest(ctx context.Context, dated time.Time, ps []privacy.Purpose, now func() time.Time, sleep func(context.Context, time.Duration) error) (time.Time, error) {
	if r.UntilAfterLatest(dated, ps...) == 0 {
		return dated, nil
	}
	if sleep == nil {
		sleep = sleepTimer
	}
	if wait := r.UntilAfterLatest(now(), ps...); wait > 0 {
		if err := sleep(ctx, wait); err != nil {
			return time.Time{}, err
		}
	}
	return now().UTC(), nil
}

// DateUndated dates the changes that their recorder dated itself (those
// for which undated(i) holds, all at the same time) as DateAfterLatest
// does for their purposes, and sets that time on them. It changes nothing
// when there are none.
func (r Record) DateUndated(ctx context.Context, changes []Change, undated func(i int) bool, now func() time.Time, sleep func(context.Context, time.Duration) error) error {
	first := -1
	var ps []privacy.Purpose
	for i, c := range changes {
		if undated(i) {
			if first < 0 {
				first = i
			}
			ps = append(ps, c.Purpose)
		}
	}
	if first < 0 {
		return nil
	}
	t, err := r.DateAfterLatest(ctx, changes[first].Time, ps, now, sleep)
	if err != nil {
		return err
	}
	for i := range changes {
		if undated(i) {
			changes[i].Time = t
		}
	}
	return nil
}

// sleepTimer waits d or until ctx is done.
func sleepTimer(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Latest returns the change that decides purpose p, and false if there is
// none: the one with the latest Time, to the second (consent files and
// the erasure record carry whole seconds, so a finer order would be
// arbitrary); of equal times, a withdrawal, so that the decision
// does not depend on the order in which the changes were applied (an
// imported file's rows are in any order); of equal times and decisions,
// the one applied last. Changes dated at or before r.ErasedAt do not count.
func (r Record) Latest(p privacy.Purpose) (Change, bool) {
	var best Change
	found := false
	for _, c := range r.Changes {
		if c.Purpose != p || r.PredatesErasure(c) {
			continue
		}
		t, bt := c.Time.Unix(), best.Time.Unix()
		if !found || t > bt || t == bt && (!c.Granted || best.Granted) {
			best, found = c, true
		}
	}
	return best, found
}

// Outranked reports whether c, a grant recorded in r, does not decide its
// purpose because a withdrawal dated the same second does (Latest: of a
// grant and a withdrawal in the same second, the withdrawal), so that the
// grant was recorded in vain. A withdrawal is never outranked so.
func (r Record) Outranked(c Change) bool {
	l, ok := r.Latest(c.Purpose)
	return ok && c.Granted && !l.Granted && l.Time.Unix() == c.Time.Unix() && !r.PredatesErasure(c)
}

// Apply validates c, records it at time now and appends it to the
// history. It reports whether the decision for c.Purpose changed from
// granted to withdrawn (withdrew), which callers use to trigger erasure,
// given the defaults for an unknown customer. A change already in the
// history (Same) is not appended again: importing a file twice records
// its choices once.
//
// A change takes effect when it is made and at the latest when it is
// recorded, so its time is capped at now: a change dated after now (up to
// privacy.MaxClockSkew; beyond, CheckTime's ErrFuture) is dated now, and so are
// changes already in the history that are dated after now (recorded before
// this rule). Otherwise a grant dated ahead would outrank, for good, a
// withdrawal recorded after it, since Latest orders by time.
func (r *Record) Apply(c Change, d Defaults, now time.Time) (withdrew bool, err error) {
	if err := c.Validate(); err != nil {
		return false, err
	}
	if err := c.CheckTime(now); err != nil {
		return false, err
	}
	cloned := false
	for i := range r.Changes {
		if r.Changes[i].Time.After(now) {
			if !cloned {
				r.Changes, cloned = slices.Clone(r.Changes), true // never write into the caller's array
			}
			r.Changes[i].Time = now
		}
	}
	c = c.CappedAt(now)
	if r.PredatesErasure(c) {
		return false, nil
	}
	for _, old := range r.Changes {
		if old.Same(c) {
			return false, nil
		}
	}
	before := d.Allows(*r, c.Purpose)
	r.Changes = append(r.Changes, c)
	return before && !d.Allows(*r, c.Purpose), nil
}

// Defaults is the decision for a purpose about which a customer never
// expressed a choice. The zero value is opt-in for everything: no consent.
type Defaults struct {
	Personalization bool
	InStore         bool
}

// Allows reports whether record r permits purpose p: the latest choice for
// p, or, without one, nothing after an erasure (r.ErasedAt) and the default
// otherwise.
func (d Defaults) Allows(r Record, p privacy.Purpose) bool {
	if c, ok := r.Latest(p); ok {
		return c.Granted
	}
	return r.ErasedAt.IsZero() && d.For(p)
}

// For returns the decision for purpose p of a customer who never expressed
// a choice for it (false for an unknown purpose).
func (d Defaults) For(p privacy.Purpose) bool {
	switch p {
	case privacy.Personalization:
		return d.Personalization
	case privacy.InStore:
		return d.InStore
	}
	return false
}

// AllowsAll reports whether r permits every purpose in ps.
func (d Defaults) AllowsAll(r Record, ps []privacy.Purpose) bool {
	for _, p := range ps {
		if !d.Allows(r, p) {
			return false
		}
	}
	return true
}
