package main

import (
	"strings"
	"testing"
	"time"

	"github.com/discret-io/discret/model/budget"
)

// TestPrintLedgerFailedRun: a failed run's charge is shown as such, with
// its reason.
func TestPrintLedgerFailedRun(t *testing.T) {
	now := time.Date(2035, 1, 2, 0, 0, 0, 0, time.UTC)
	entries := []budget.Entry{
		{Time: now.Add(-time.Hour), Version: "v1", Private: true, Rho: 0.02, Epsilon: 1, Delta: 1e-6, RNG: "crypto"},
		{Time: now, Version: "v2", Private: true, Rho: 0.0102, Epsilon: 0.6, Delta: 1e-6, RNG: "crypto",
			Components: []budget.Component{{Name: "customers", Multiplier: 45, Releases: 1, RhoEach: 0.0002, Rho: 0.0002},
				{Name: "als", Releases: 1, RhoEach: 0.01, Rho: 0.01}},
			Failed: "train: no item passed the DP selection threshold"},
	}
	c := budget.Cap{}.WithDefaults()
	s, err := c.Spent(entries, now)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	printLedger(&b, entries, s)
	out := b.String()
	for _, want := range []string{"v2 (failed run)", "v2 stopped before its release was stored", "no item passed the DP selection threshold", "private releases: 2",
		"customers z=45 ρ=0.0002", "als (every planned step) ρ=0.01"} {
		if !strings.Contains(out, want) {
			t.Errorf("ledger output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "v1 (failed run)") || strings.Contains(out, "z=0") {
		t.Errorf("a stored release is marked failed:\n%s", out)
	}
}
