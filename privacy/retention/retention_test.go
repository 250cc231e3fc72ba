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

// TestBefore: a period before t is counted in calendar units, as AddTo
// counts it after, with AddDate's normalization.
func TestBefore(t *testing.T) {
	at := time.Date(2025, 3, 31, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		p    Period
		want time.Time
	}{
		{Period{}, at},
		{Period{Days: 30}, time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)},
		{Period{Months: 1}, time.Date(2025, 3, 3, 12, 0, 0, 0, time.UTC)},  // Feb 31, normalized
		{Period{Months: 13}, time.Date(2024, 3, 2, 12, 0, 0, 0, time.UTC)}, // Feb 31 2024, a leap year
		{Period{Years: 1, Months: 6, Days: 10}, time.Date(2023, 9, 21, 12, 0, 0, 0, time.UTC)},
	} {
		if got := tt.p.Before(at); !got.Equal(tt.want) {
			t.Errorf("%v.Before(%v) = %v, want %v", tt.p, at, got, tt.want)
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
		{def, privacy.View, time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC)}, // Jan 31 + 13 months, normalized
		{def, privacy.StoreVisit, time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC)},
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
