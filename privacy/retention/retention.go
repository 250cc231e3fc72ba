// Package retention decides how long an event may be kept: a period per event
// kind, counted in calendar units from the event's own time. It is pure: the
// current time is always passed in, so callers inject their clock.
package retention

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/discret-io/discret/privacy"
)

// Period is a calendar duration: years, months and days, so that "13
// months" means thirteen calendar months. AddTo adds the years and months
// first, as 12 × Years + Months months, then the days; a period in months
// or years ends on the same date in its last month or, if that month has
// no such date, on its last day, as under Regulation (EEC, Euratom) No
// 1182/71, art. 3(2)(c): 4 months from 31 October end on 28 February (29
// in a leap year), 1 year from 29 February on 28 February, where
// time.Time.AddDate would run on into March. Unlike that regulation, which
// counts whole days, a period keeps the time of day it starts at.
type Period struct {
	Years, Months, Days int
}

// IsZero reports whether p is empty.
func (p Period) IsZero() bool { return p == Period{} }

// Negative reports whether any part of p is negative.
func (p Period) Negative() bool { return p.Years < 0 || p.Months < 0 || p.Days < 0 }

// AddTo returns t plus p: the end of the period p that starts at t.
func (p Period) AddTo(t time.Time) time.Time {
	return addMonths(t, 12*p.Years+p.Months).AddDate(0, 0, p.Days)
}

// Before returns t minus p: the start of the period p that ends at t,
// counted back in the reverse order of AddTo, days first, then years and
// months, ending on the month's last day where it has no such date (1
// month before 31 March is 28 February). Whatever starts at or before
// Before(t) has its period p ended by t (p.AddTo of it is not after t), so
// anything whose period still runs at t started after Before(t).
func (p Period) Before(t time.Time) time.Time {
	return addMonths(t.AddDate(0, 0, -p.Days), -(12*p.Years + p.Months))
}

// addMonths returns t plus n calendar months (n may be negative), at the
// same time of day, on the same day of the month or, if the month
// reached is shorter, on its last day.
func addMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	// Day 0 of the next month is the last day of the month reached.
	last := time.Date(y, m+time.Month(n)+1, 0, 0, 0, 0, 0, t.Location())
	hh, mm, ss := t.Clock()
	return time.Date(last.Year(), last.Month(), min(d, last.Day()), hh, mm, ss, t.Nanosecond(), t.Location())
}

// String formats p as ParsePeriod accepts it ("3y", "13mo", "1y6mo10d").
func (p Period) String() string {
	var b strings.Builder
	if p.Years != 0 {
		fmt.Fprintf(&b, "%dy", p.Years)
	}
	if p.Months != 0 {
		fmt.Fprintf(&b, "%dmo", p.Months)
	}
	if p.Days != 0 || b.Len() == 0 {
		fmt.Fprintf(&b, "%dd", p.Days)
	}
	return b.String()
}

// ErrBadPeriod is returned by ParsePeriod.
var ErrBadPeriod = errors.New(`retention: bad period (want a sequence of <n>y, <n>mo, <n>w or <n>d, e.g. "13mo", "3y", "90d")`)

// ErrLongPeriod is returned by ParsePeriod for a period with more than
// 999999 years, months or days in all; it wraps ErrBadPeriod.
var ErrLongPeriod = fmt.Errorf("%w: more than 999999 of a unit in all", ErrBadPeriod)

// The numbers of a period: at most maxDigits digits each, and at most
// maxPart years, months or days in all (weeks count as days).
const (
	maxDigits = 6
	maxPart   = 999999
)

// ParsePeriod parses "3y", "13mo", "2w", "90d" and concatenations such as
// "1y6mo". Each number is a positive integer of at most 6 digits; the total
// must be positive, and have at most 999999 of each unit (a week is 7 days).
func ParsePeriod(s string) (Period, error) {
	var p Period
	rest := s
	if rest == "" {
		return p, ErrBadPeriod
	}
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i > maxDigits {
			return Period{}, fmt.Errorf("%w: %q", ErrBadPeriod, s)
		}
		n, _ := strconv.Atoi(rest[:i])
		rest = rest[i:]
		switch {
		case strings.HasPrefix(rest, "mo"):
			p.Months += n
			rest = rest[2:]
		case strings.HasPrefix(rest, "y"):
			p.Years += n
			rest = rest[1:]
		case strings.HasPrefix(rest, "w"):
			p.Days += 7 * n
			rest = rest[1:]
		case strings.HasPrefix(rest, "d"):
			p.Days += n
			rest = rest[1:]
		default:
			return Period{}, fmt.Errorf("%w: %q", ErrBadPeriod, s)
		}
	}
	if p.IsZero() {
		return Period{}, fmt.Errorf("%w: %q is zero", ErrBadPeriod, s)
	}
	// Each part, summed, is written back with at most maxDigits digits
	// (String), so that what was parsed parses again.
	if max(p.Years, p.Months, p.Days) > maxPart {
		return Period{}, fmt.Errorf("%w: %q is %s", ErrLongPeriod, s, p)
	}
	return p, nil
}

// Default retention periods.
var (
	DefaultBrowsing     = Period{Months: 13} // views and store visits
	DefaultTransactions = Period{Years: 3}   // carts and purchases
	// DefaultAudit is how long audit entries (exports, erasures) are kept:
	// 5 years, the limitation period of many EU countries.
	DefaultAudit = Period{Years: 5}
)

// Policy is the retention period per event kind. A zero field means its
// default: 13 months for views and store visits, 3 years for carts and
// purchases.
type Policy struct {
	View, AddToCart, Purchase, StoreVisit Period
}

// Period returns the retention period for kind k.
func (p Policy) Period(k privacy.EventKind) Period {
	var v Period
	def := DefaultTransactions
	switch k {
	case privacy.View:
		v, def = p.View, DefaultBrowsing
	case privacy.StoreVisit:
		v, def = p.StoreVisit, DefaultBrowsing
	case privacy.AddToCart:
		v = p.AddToCart
	case privacy.Purchase:
		v = p.Purchase
	}
	if v.IsZero() {
		return def
	}
	return v
}

// ExpiresAt returns when an event of kind k that happened at t must be gone.
func (p Policy) ExpiresAt(k privacy.EventKind, t time.Time) time.Time {
	return p.Period(k).AddTo(t)
}

// Expired reports whether an event of kind k at t is past retention at now.
func (p Policy) Expired(k privacy.EventKind, t, now time.Time) bool {
	return !now.Before(p.ExpiresAt(k, t))
}

// Set sets the period of the kind named by its wire name ("view", ...), for
// configuration flags of the form kind=period.
func (p *Policy) Set(kind string, period Period) error {
	k, err := privacy.ParseEventKind(kind)
	if err != nil {
		return err
	}
	switch k {
	case privacy.View:
		p.View = period
	case privacy.AddToCart:
		p.AddToCart = period
	case privacy.Purchase:
		p.Purchase = period
	case privacy.StoreVisit:
		p.StoreVisit = period
	}
	return nil
}
