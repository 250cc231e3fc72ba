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
	}
	for _, tt := range tests {
		got, err := ParsePeriod(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParsePeriod(%q) = %v, %v; want %v, err %v", tt.in, got, err, tt.want, tt.err)
		}
		if err != nil && !errors.Is(err, ErrBadPeriod) {
			t.Errorf("ParsePeriod(%q) error %v is not ErrBadPeriod", tt.in, err)
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
