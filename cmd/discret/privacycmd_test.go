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
	printLedger(&b, ledgerRows(entries, releases{"v1": true}), s)
	out := b.String()
	for _, want := range []string{"v2       failed", "v2 stopped before its release was stored", "no item passed the DP selection threshold", "private releases: 2",
		"customers z=45 ρ=0.0002", "als (every planned step) ρ=0.01", "v1       current"} {
		if !strings.Contains(out, want) {
			t.Errorf("ledger output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "z=0") {
		t.Errorf("a component without its multiplier shows z=0:\n%s", out)
	}
}

// TestLedgerStatus: each charged run says what became of it, and a pending
// charge shows only while nothing replaces it.
func TestLedgerStatus(t *testing.T) {
	now := time.Date(2035, 1, 2, 0, 0, 0, 0, time.UTC)
	entry := func(v string, pending bool, failed string) budget.Entry {
		return budget.Entry{Time: now, Version: v, Private: true, Rho: 0.02, Epsilon: 1, Delta: 1e-6, RNG: "crypto", Pending: pending, Failed: failed}
	}
	entries := []budget.Entry{
		entry("cur", true, ""), entry("cur", false, ""),
		entry("kept", true, ""), entry("kept", false, ""),
		{Time: now, Version: "np", RNG: "crypto"},
		entry("gone", true, ""), entry("gone", false, ""),
		entry("bad", true, ""), entry("bad", false, "train: context canceled"),
		entry("dead", true, ""),
	}
	rows := ledgerRows(budget.Effective(entries), releases{"cur": true, "kept": false, "np": false})
	want := map[string]string{"cur": statusCurrent, "kept": statusStored, "np": statusStored, "gone": statusDeleted, "bad": statusFailed, "dead": statusInterrupted}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d: %+v", len(rows), len(want), rows)
	}
	for _, r := range rows {
		if r.Status != want[r.Version] {
			t.Errorf("%s: status %q, want %q", r.Version, r.Status, want[r.Version])
		}
	}
	var b strings.Builder
	printLedger(&b, rows, budget.Spend{Cap: budget.Cap{}.WithDefaults()})
	if !strings.Contains(b.String(), "dead ended before it could record its release or its failure") {
		t.Errorf("report does not explain the interrupted run:\n%s", b.String())
	}
}
