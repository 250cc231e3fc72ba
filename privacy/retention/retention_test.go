package retention

import (
	"errors"
	"testing"
	"time"

	"github.com/discret-io/discret/privacy"
)

func TestParsePeriod(t *testing.T) {
	tests := []struct {
		in   string
		want Period
		err  bool
	}{
		{"13mo", Period{Months: 13}, false},
		{"3y", Period{Years: 3}, false},
		{"90d", Period{Days: 90}, false},
		{"2w", Period{Days: 14}, false},
		{"1y6mo10d", Period{Years: 1, Months: 6, Days: 10}, false},
		{"", Period{}, true},
		{"0d", Period{}, true},
		{"13", Period{}, true},
		{"m", Period{}, true},
		{"-1d", Period{}, true},
		{"3years", Period{}, true},
		{"1234567d", Period{}, true},
		{"999999d", Period{Days: 999999}, false},
		{"999991y9y", Period{}, true}, // 1000000y: String would not parse
		{"142857w1d", Period{}, true}, // 1000000d
		{"142857w", Period{Days: 999999}, false},
	}
	for _, tt := range tests {
		got, err := ParsePeriod(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParsePeriod(%q) = %v, %v; want %v, err %v", tt.in, got, err, tt.want, tt.err)
		}
		if err != nil && !errors.Is(err, ErrBadPeriod) {
			t.Errorf("ParsePeriod(%q) error %v is not ErrBadPeriod", tt.in, err)
		}
		if long := tt.in == "999991y9y" || tt.in == "142857w1d"; err != nil && errors.Is(err, ErrLongPeriod) != long {
			t.Errorf("ParsePeriod(%q) error %v: ErrLongPeriod %v, want %v", tt.in, err, !long, long)
		}
		if err == nil {
			if back, _ := ParsePeriod(got.String()); back != got {
				t.Errorf("ParsePeriod(%v.String()) = %v", got, back)
			}
		}
	}
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 12, 0, 0, 0, time.UTC) }

// TestAddTo: years and months are added first, as months, ending on the
// last day of a month that has no such date (Regulation 1182/71, art.
// 3(2)(c)), then days; the time of day is kept.
func TestAddTo(t *testing.T) {
	for _, tt := range []struct {
		from time.Time
		p    Period
		want time.Time
	}{
		{date(2026, 10, 31), Period{}, date(2026, 10, 31)},
		{date(2026, 10, 31), Period{Months: 4}, date(2027, 2, 28)}, // not 3 March
		{date(2026, 10, 31), Period{Months: 1}, date(2026, 11, 30)},
		{date(2026, 10, 30), Period{Months: 4}, date(2027, 2, 28)},
		{date(2026, 10, 28), Period{Months: 4}, date(2027, 2, 28)},
		{date(2026, 10, 27), Period{Months: 4}, date(2027, 2, 27)},
		{date(2027, 10, 31), Period{Months: 4}, date(2028, 2, 29)}, // leap year
		{date(2025, 1, 31), Period{Months: 13}, date(2026, 2, 28)}, // the default for views
		{date(2025, 1, 15), Period{Months: 13}, date(2026, 2, 15)},
		{date(2025, 12, 31), Period{Months: 2}, date(2026, 2, 28)}, // across a year
		{date(2025, 8, 31), Period{Months: 18}, date(2027, 2, 28)},
		{date(2028, 2, 29), Period{Years: 1}, date(2029, 2, 28)}, // not 1 March
		{date(2028, 2, 29), Period{Years: 4}, date(2032, 2, 29)},
		{date(2028, 2, 29), Period{Years: 3}, date(2031, 2, 28)}, // the default for purchases
		{date(2028, 2, 28), Period{Years: 1}, date(2029, 2, 28)},
		{date(2025, 1, 31), Period{Days: 30}, date(2025, 3, 2)}, // days: as AddDate
		{date(2024, 12, 31), Period{Days: 365}, date(2025, 12, 31)},
		{date(2024, 1, 1), Period{Days: 365}, date(2024, 12, 31)}, // a leap year
		// Combined: years and months, then days.
		{date(2025, 1, 31), Period{Months: 1, Days: 1}, date(2025, 3, 1)}, // 28 Feb + 1 day
		{date(2025, 1, 31), Period{Years: 1, Months: 1}, date(2026, 2, 28)},
		{date(2024, 8, 31), Period{Years: 1, Months: 6, Days: 10}, date(2026, 3, 10)},
		{date(2025, 3, 15), Period{Months: 1, Days: 20}, date(2025, 5, 5)}, // 15 Apr + 20 days
		{time.Date(2026, 10, 31, 23, 59, 59, 999, time.UTC), Period{Months: 4}, time.Date(2027, 2, 28, 23, 59, 59, 999, time.UTC)},
	} {
		if got := tt.p.AddTo(tt.from); !got.Equal(tt.want) {
			t.Errorf("%v.AddTo(%v) = %v, want %v", tt.p, tt.from, got, tt.want)
		}
	}
}

// TestBefore: a period before t is counted back in the reverse order of
// AddTo, days first, then years and months, ending on the month's last day
// where it has no such date.
func TestBefore(t *testing.T) {
	at := date(2025, 3, 31)
	for _, tt := range []struct {
		at   time.Time
		p    Period
		want time.Time
	}{
		{at, Period{}, at},
		{at, Period{Days: 30}, date(2025, 3, 1)},
		{at, Period{Months: 1}, date(2025, 2, 28)},  // not 3 March
		{at, Period{Months: 13}, date(2024, 2, 29)}, // a leap year
		{at, Period{Years: 1, Months: 6, Days: 10}, date(2023, 9, 21)},
		{date(2029, 2, 28), Period{Years: 1}, date(2028, 2, 28)},
		{date(2028, 2, 29), Period{Years: 1}, date(2027, 2, 28)},
		{date(2025, 5, 5), Period{Months: 1, Days: 20}, date(2025, 3, 15)}, // 15 Apr, then 1 month
		{date(2025, 3, 1), Period{Months: 1, Days: 1}, date(2025, 1, 28)},  // 28 Feb, then 1 month
	} {
		if got := tt.p.Before(tt.at); !got.Equal(tt.want) {
			t.Errorf("%v.Before(%v) = %v, want %v", tt.p, tt.at, got, tt.want)
		}
	}
}

// TestBeforeBound: whatever started before p.Before(t) has its period p
// ended by t, and p.Before(t) itself too, for t on every day of four
// years and starts at each hour of the 5 days before Before(t): a period
// in months can end on the same day from several starts, whatever their
// time of day (28 to 31 October plus 4 months all end on 28 February).
func TestBeforeBound(t *testing.T) {
	periods := []Period{{Months: 1}, {Months: 4}, {Months: 13}, {Years: 1}, {Years: 3}, {Days: 30}, {Months: 1, Days: 20}, {Years: 1, Months: 6, Days: 10}}
	for day := date(2027, 1, 1); day.Year() < 2031; day = day.AddDate(0, 0, 1) {
		for _, p := range periods {
			b := p.Before(day)
			if p.AddTo(b).After(day) {
				t.Fatalf("%v.AddTo(%v.Before(%v)) = %v, after %v", p, p, day, p.AddTo(b), day)
			}
			for s := b.Add(-5 * 24 * time.Hour); s.Before(b); s = s.Add(time.Hour) {
				if p.AddTo(s).After(day) {
					t.Fatalf("%v.AddTo(%v) = %v, after %v, although it starts before %v.Before(%v) = %v", p, s, p.AddTo(s), day, p, day, b)
				}
			}
		}
	}
}

func TestPolicy(t *testing.T) {
	at := time.Date(2025, 1, 31, 12, 0, 0, 0, time.UTC)
	var def Policy
	custom := Policy{View: Period{Days: 30}}
	tests := []struct {
		p    Policy
		k    privacy.EventKind
		want time.Time
	}{
		{def, privacy.View, time.Date(2026, 2, 28, 12, 0, 0, 0, time.UTC)}, // Jan 31 + 13 months: February's last day
		{def, privacy.StoreVisit, time.Date(2026, 2, 28, 12, 0, 0, 0, time.UTC)},
		{def, privacy.AddToCart, time.Date(2028, 1, 31, 12, 0, 0, 0, time.UTC)},
		{def, privacy.Purchase, time.Date(2028, 1, 31, 12, 0, 0, 0, time.UTC)},
		{custom, privacy.View, time.Date(2025, 3, 2, 12, 0, 0, 0, time.UTC)},
		{custom, privacy.Purchase, time.Date(2028, 1, 31, 12, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		if got := tt.p.ExpiresAt(tt.k, at); !got.Equal(tt.want) {
			t.Errorf("%+v.ExpiresAt(%v) = %v, want %v", tt.p, tt.k, got, tt.want)
		}
	}
	exp := def.ExpiresAt(privacy.Purchase, at)
	if def.Expired(privacy.Purchase, at, exp.Add(-time.Second)) {
		t.Error("expired one second before expiry")
	}
	if !def.Expired(privacy.Purchase, at, exp) {
		t.Error("not expired at expiry")
	}
}

func TestSet(t *testing.T) {
	var p Policy
	if err := p.Set("purchase", Period{Years: 1}); err != nil {
		t.Fatal(err)
	}
	if p.Period(privacy.Purchase) != (Period{Years: 1}) {
		t.Errorf("Set purchase: got %v", p.Period(privacy.Purchase))
	}
	if err := p.Set("comment", Period{Years: 1}); err == nil {
		t.Error("Set(comment) = nil, want error")
	}
}

// FuzzParsePeriod: every input is a period or ErrBadPeriod; a period is
// positive (it ends after the time it starts from, and starts before the
// time it ends at) and prints as text that parses back to it.
func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"13mo", "3y", "2w", "90d", "1y6mo10d", "0d", "0y1d", "-1d", "999999y", "1mo1mo", "12", "1m", "1yo"} {
		f.Add(s)
	}
	at := time.Date(2026, 2, 28, 23, 59, 59, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePeriod(s)
		if err != nil {
			if !errors.Is(err, ErrBadPeriod) || p != (Period{}) {
				t.Fatalf("ParsePeriod(%q) = %v, %v; want the zero period and ErrBadPeriod", s, p, err)
			}
			return
		}
		if p.IsZero() || p.Negative() {
			t.Fatalf("ParsePeriod(%q) = %v: not positive", s, p)
		}
		if !p.AddTo(at).After(at) || !p.Before(at).Before(at) {
			t.Fatalf("ParsePeriod(%q) = %v: from %v it ends at %v and starts at %v", s, p, at, p.AddTo(at), p.Before(at))
		}
		if back, err := ParsePeriod(p.String()); err != nil || back != p {
			t.Fatalf("ParsePeriod(%q) = %v, whose String %q parses as %v, %v", s, p, p.String(), back, err)
		}
	})
}
