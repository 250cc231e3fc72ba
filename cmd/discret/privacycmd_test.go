package main

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/discret-io/discret/features/synth"
	"github.com/discret-io/discret/model/budget"
	"github.com/discret-io/discret/privacy/dp"
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
	r, err := newLedgerReport(entries, releases{"v1": true}, budget.Cap{}, "", now)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	printLedger(&b, r, false)
	out := b.String()
	// Entries of format 1 (no cap, no event days recorded) are shown as such.
	for _, want := range []string{"v2       failed", "v2 stopped before its release was stored", "no item passed the DP selection threshold", "private releases: 2",
		"v2: 2.0 % number of training customers; 98.0 % model training, every planned step", "v1       current",
		"not recorded          not recorded", "no entry records the cap it was checked against", "their own ε add up to 1.6;"} {
		if !strings.Contains(out, want) {
			t.Errorf("ledger output lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	printLedger(&b, r, true)
	out = b.String()
	for _, want := range []string{"number of training customers [customers]: noise multiplier z = 45, ρ = 0.0002 (ε = ",
		"model training, every planned step [als]: charged whole, its steps not recorded one by one, ρ = 0.01 (ε = "} {
		if !strings.Contains(out, want) {
			t.Errorf("verbose ledger output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "z = 0") {
		t.Errorf("a component without its multiplier shows z = 0:\n%s", out)
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
	printLedger(&b, &ledgerReport{rows: rows, spend: budget.Spend{Cap: budget.Cap{}.WithDefaults()}}, false)
	if !strings.Contains(b.String(), "dead ended before it could record its release or its failure") {
		t.Errorf("report does not explain the interrupted run:\n%s", b.String())
	}
}

// reportJSON is the part of 'privacy report --json' the tests read.
type reportJSON struct {
	Ledger      []map[string]any `json:"ledger"`
	Spend       map[string]any   `json:"spend"`
	RecordedCap map[string]any   `json:"recorded_cap"`
}

func decodeReport(t *testing.T, out string) reportJSON {
	t.Helper()
	var r reportJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("privacy report --json: %v\n%s", err, out)
	}
	return r
}

// checkComponents checks that every component of a ledger row states the
// ε of its own ρ at the row's δ less δ_τ, and that ε > 0 where ρ > 0.
func checkComponents(t *testing.T, row map[string]any) {
	t.Helper()
	delta, _ := row["delta"].(float64)
	tau, _ := row["delta_threshold"].(float64)
	comps, _ := row["components"].([]any)
	if len(comps) == 0 {
		t.Errorf("%v: no components", row["version"])
	}
	for _, c := range comps {
		c := c.(map[string]any)
		rho, eps := c["rho"].(float64), c["epsilon"].(float64)
		want, err := dp.Epsilon(rho, delta-tau, dp.RDP)
		if err != nil || math.Abs(eps-want) > 1e-9*want || (rho > 0 && !(eps > 0)) {
			t.Errorf("%v: component %v ρ = %v has ε = %v, want %v at δ = %v − %v (%v)", row["version"], c["name"], rho, eps, want, delta, tau, err)
		}
	}
}

// TestPrivacyJSON: a non-private release has no ε (null, not 0), δ or ρ,
// and claims no mechanism or neighbouring relation; a component's ε is
// that of its ρ at its entry's δ, also for a failed run, whose ledger
// entry stores 0; a private entry keeps every field of budget.Entry.
func TestPrivacyJSON(t *testing.T) {
	now := time.Date(2035, 1, 2, 0, 0, 0, 0, time.UTC)
	entries := []budget.Entry{
		{Time: now.Add(-2 * time.Hour), Version: "np", Mechanism: "dp-als", Neighbouring: budget.Neighbouring, RNG: "crypto"},
		{Time: now.Add(-time.Hour), Version: "bad", Private: true, Mechanism: "dp-als", Neighbouring: budget.Neighbouring,
			Rho: 0.000241, Epsilon: 0.1, Delta: 1e-6, RNG: "crypto", Failed: "train: δ = 0.001 is not below 1/n",
			Components: []budget.Component{{Name: "customers", Multiplier: 45.5, Releases: 1, RhoEach: 0.000241, Rho: 0.000241}}},
		{Time: now, Version: "ok", Private: true, Mechanism: "dp-als", Neighbouring: budget.Neighbouring,
			Rho: 0.3, Epsilon: 3.94, Delta: 1e-6, DeltaThreshold: 1e-7, RNG: "crypto",
			Window:     budget.Window{From: now.Add(-time.Hour), To: now},
			Components: []budget.Component{{Name: "selection", Multiplier: 2, Releases: 1, RhoEach: 0.125, Rho: 0.125, DeltaThreshold: 1e-7}, {Name: "als", Releases: 1, RhoEach: 0.175, Rho: 0.175}},
			Parameters: map[string]float64{"steps": 10}, Pending: true},
	}
	lr, err := newLedgerReport(entries, releases{"np": true}, budget.Cap{}, "", now)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := writeJSON(&b, privacyJSON(lr)); err != nil {
		t.Fatal(err)
	}
	r := decodeReport(t, b.String())
	if len(r.Ledger) != 3 {
		t.Fatalf("ledger has %d rows, want 3:\n%s", len(r.Ledger), b.String())
	}
	np, failed, ok := r.Ledger[0], r.Ledger[1], r.Ledger[2]
	for _, k := range []string{"epsilon", "delta", "rho"} {
		if v, in := np[k]; !in || v != nil {
			t.Errorf("non-private release: %s = %v (present %v), want null", k, v, in)
		}
	}
	for _, k := range []string{"mechanism", "neighbouring"} {
		if v, in := np[k]; in {
			t.Errorf("non-private release: %s = %v, want none", k, v)
		}
	}
	if np["private"] != false || np["status"] != statusCurrent || np["version"] != "np" {
		t.Errorf("non-private release = %v", np)
	}
	checkComponents(t, failed)
	checkComponents(t, ok)
	if failed["epsilon"] != 0.1 || failed["status"] != statusFailed || failed["mechanism"] != "dp-als" {
		t.Errorf("failed run = %v", failed)
	}
	// Every field of a private entry is in its row.
	raw, err := json.Marshal(entries[2])
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	for k := range fields {
		if _, in := ok[k]; !in {
			t.Errorf("row of a private entry lacks the entry's field %q: %v", k, ok)
		}
	}
	if ok["status"] != statusInterrupted || ok["epsilon"] != 3.94 || ok["delta_threshold"] != 1e-7 {
		t.Errorf("private row = %v", ok)
	}
}

// TestPrivacyReportRuns: the report of the runs 'discret train' charges.
// A δ above train.MaxDelta, from the flag or the configuration file, is
// refused before anything is charged; a run that fails after the noisy
// customer count states that component's ε; a non-private release reads
// null ε in JSON and ∞ NON-PRIVATE in text.
func TestPrivacyReportRuns(t *testing.T) {
	c := newCLI(t)
	// More than 1,000 customers: δ = 10⁻³ is not below 1/n.
	gen := c.synthStore(1500, 30, 4500, 3)
	// With a catalogue, no key selection spends a share of δ, which the
	// cap's δ would refuse before any noise for δ = 10⁻³.
	c.mustRun("items", "import", filepath.Join(gen, synth.ItemsFile))
	empty := func(when string) {
		t.Helper()
		if r := decodeReport(t, c.mustRun("privacy", "report", "--json")); len(r.Ledger) != 0 {
			t.Errorf("%s: the ledger has %d entries, want none: %v", when, len(r.Ledger), r.Ledger)
		}
	}

	code, _, errOut := c.run("train", "--delta", "0.5")
	if code != exitUsage || !strings.Contains(errOut, "--delta 0.5: want a number with 1e-12 ≤ δ ≤ 0.001") {
		t.Errorf("train --delta 0.5 = exit %d, stderr %q; want exit %d naming --delta and its limit", code, errOut, exitUsage)
	}
	empty("after train --delta 0.5")
	c.config = writeFile(t, "c.json", `{"training":{"delta":0.5}}`)
	if code, _, errOut := c.run("train"); code == exitOK || !strings.Contains(errOut, "training.delta = 0.5: want a number with 1e-12 ≤ δ ≤ 0.001") {
		t.Errorf("train with training.delta 0.5 = exit %d, stderr %q; want a refusal naming training.delta and its limit", code, errOut)
	}
	c.config = ""
	empty("after train with training.delta 0.5")

	code, _, errOut = c.run("train", "--delta", "1e-3")
	if code != exitFailure || !strings.Contains(errOut, "is not below 1/n") || !strings.Contains(errOut, "is charged to the privacy ledger") {
		t.Fatalf("train --delta 1e-3 on 1500 customers = exit %d, stderr %q; want a failure charged to the ledger", code, errOut)
	}
	c.mustRun("train", "--epsilon", "inf", "--allow-non-private", "--factors", "4", "--iterations", "1")

	r := decodeReport(t, c.mustRun("privacy", "report", "--json"))
	if len(r.Ledger) != 2 {
		t.Fatalf("ledger = %v, want the failed run and the non-private release", r.Ledger)
	}
	failed, np := r.Ledger[0], r.Ledger[1]
	if failed["status"] != statusFailed || !(failed["epsilon"].(float64) > 0) {
		t.Errorf("failed run = %v", failed)
	}
	checkComponents(t, failed)
	if np["private"] != false || np["epsilon"] != nil || np["rho"] != nil || np["delta"] != nil || np["mechanism"] != nil || np["neighbouring"] != nil {
		t.Errorf("non-private release = %v, want null ε, ρ, δ and no mechanism", np)
	}
	if r.Spend["non_private"] != 1.0 || r.Spend["releases"] != 1.0 {
		t.Errorf("spend = %v", r.Spend)
	}
	out := c.mustRun("privacy", "report")
	for _, want := range []string{"∞ NON-PRIVATE", "failed", "is not below 1/n", "100.0 % number of training customers"} {
		if !strings.Contains(out, want) {
			t.Errorf("privacy report lacks %q:\n%s", want, out)
		}
	}
	// --verbose claims no mechanism for the non-private release.
	out = c.mustRun("privacy", "report", "--verbose")
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "  "+np["version"].(string)+", charged") && strings.Contains(line, "mechanism") {
			t.Errorf("privacy report --verbose claims a mechanism for a non-private release: %q", line)
		}
	}
	if !strings.Contains(out, "not differentially private: no noise, no bound on the privacy loss") || !strings.Contains(out, "number of training customers [customers]: noise multiplier z = ") {
		t.Errorf("privacy report --verbose lacks the non-private note or the customer count's figures:\n%s", out)
	}
}

// TestPrivacyReportCap runs the commands a data-protection officer audits.
// Each entry shows the cap it was checked against and the days of the
// events it used; a report computed with another cap (--config) says that
// it differs from the cap recorded with the latest release and gives the
// spend against that one (a larger cap turned "95 % used" into "9.5 %
// used" without a trace); privacy.non_private = "refuse" refuses a
// non-private run at no cost; without a cap (cap_epsilon "inf"), the report
// and train say so plainly; 'models show' of a deleted release points to
// the ledger.
func TestPrivacyReportCap(t *testing.T) {
	c := newCLI(t)
	gen := c.synthStore(300, 30, 3000, 5)
	c.mustRun("items", "import", filepath.Join(gen, synth.ItemsFile))
	recorded := writeFile(t, "recorded.json", `{"privacy":{"cap_epsilon":4},"training":{"keep_releases":1}}`)
	big := writeFile(t, "big.json", `{"privacy":{"cap_epsilon":40}}`)
	refuse := writeFile(t, "refuse.json", `{"privacy":{"cap_epsilon":4,"non_private":"refuse"}}`)
	trained := regexp.MustCompile(`trained release (\S+)`)
	var versions []string
	c.config = recorded
	for range 2 {
		out := c.mustRun("train", "--iterations", "1", "--factors", "4")
		m := trained.FindStringSubmatch(out)
		if m == nil {
			t.Fatal("train did not name its release")
		}
		if strings.Contains(out, "WARNING") {
			t.Errorf("train under the cap recorded before warns:\n%s", out)
		}
		versions = append(versions, m[1])
	}

	c.config = refuse
	code, _, errOut := c.run("train", "--epsilon", "inf", "--iterations", "1")
	if code != exitFailure || !strings.Contains(errOut, "a non-private run (ε = ∞) is refused") || !strings.Contains(errOut, `privacy.non_private is "refuse" in `+refuse) {
		t.Errorf("train --epsilon inf with non_private refuse = exit %d, stderr %q; want exit %d, a refusal naming the setting", code, errOut, exitFailure)
	}

	c.config = recorded
	r := decodeReport(t, c.mustRun("privacy", "report", "--json"))
	if len(r.Ledger) != 2 {
		t.Fatalf("ledger = %v, want the two private releases (the refused run charges nothing)", r.Ledger)
	}
	out := c.mustRun("privacy", "report")
	for _, row := range r.Ledger {
		ev, _ := row["events"].(map[string]any)
		first, _ := ev["first"].(string)
		last, _ := ev["last"].(string)
		if len(first) < 10 || len(last) < 10 {
			t.Fatalf("ledger entry %v records no event days", row["version"])
		}
		want := regexp.MustCompile(regexp.QuoteMeta(row["version"].(string)) + `\s.*\s4 / 1e-06 / 365d\s+` + first[:10] + " – " + last[:10])
		if !want.MatchString(out) {
			t.Errorf("report row of %v lacks its cap 4 / 1e-06 / 365d and event days %s – %s:\n%s", row["version"], first[:10], last[:10], out)
		}
		if cp, _ := row["cap"].(map[string]any); cp["epsilon"] != 4.0 || cp["window"] != "365d" {
			t.Errorf("JSON entry %v: cap %v, want ε 4 over 365d", row["version"], row["cap"])
		}
	}
	eps := r.Spend["epsilon"].(float64)
	for _, want := range []string{"deleted", "current", "cap: ε = 4 at δ = 1e-06 over 365d (configuration " + recorded + fmt.Sprintf("): %.1f %% used", 100*eps/4),
		"their own ε add up to 2;", "How to read this report:", "% number of training customers"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "WARNING") || r.RecordedCap["differs"] != false {
		t.Errorf("report with the recorded cap warns, or its JSON says the caps differ (%v):\n%s", r.RecordedCap, out)
	}

	c.config = big
	out = c.mustRun("privacy", "report")
	for _, want := range []string{
		fmt.Sprintf("cap: ε = 40 at δ = 1e-06 over 365d (configuration %s): %.1f %% used", big, 100*eps/40),
		fmt.Sprintf("WARNING: this cap differs from the one recorded with the latest release, %s: ε = 4 at δ = 1e-06 over 365d; against that cap, ε = %.4g at δ = 1e-06 over the last 365d: %.1f %% used", versions[1], eps, 100*eps/4),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report with a larger cap lacks %q:\n%s", want, out)
		}
	}
	r = decodeReport(t, c.mustRun("privacy", "report", "--json"))
	if rc := r.RecordedCap; rc["differs"] != true || rc["version"] != versions[1] || rc["epsilon"] != eps || rc["cap"].(map[string]any)["epsilon"] != 4.0 {
		t.Errorf("JSON recorded_cap = %v, want the cap of %s (ε 4), differing, with the spend ε %v", rc, versions[1], eps)
	}

	// privacy.cap_epsilon "inf": the report and train say plainly that no
	// cap is in force.
	c.config = writeFile(t, "none.json", `{"privacy":{"cap_epsilon":"inf"}}`)
	if out := c.mustRun("privacy", "report"); !strings.Contains(out, `cap: NONE: no cap is in force (privacy.cap_epsilon is "inf" in configuration `+c.config+`): training refuses no private release`) {
		t.Errorf("report without a cap does not say so:\n%s", out)
	}
	// Training under it, looser than the cap recorded, needs
	// --accept-cap-change; without it nothing is charged.
	before := len(decodeReport(t, c.mustRun("privacy", "report", "--json")).Ledger)
	code, _, errOut = c.run("train", "--iterations", "1", "--factors", "4")
	if want := "the cap in force, none (ε = ∞) over 365d, is looser than the one recorded with release " + versions[1] + ", ε = 4 at δ = 1e-06 over 365d"; code != exitFailure || !strings.Contains(errOut, want) || !strings.Contains(errOut, "nothing was charged; to accept the looser cap, pass --accept-cap-change") {
		t.Errorf("train under a looser cap = %d %q; want exit 1 with %q, nothing charged, naming --accept-cap-change", code, errOut, want)
	}
	if after := len(decodeReport(t, c.mustRun("privacy", "report", "--json")).Ledger); after != before {
		t.Errorf("ledger after the refused run has %d entries, want %d as before", after, before)
	}
	out = c.mustRun("train", "--iterations", "1", "--factors", "4", "--accept-cap-change")
	if !strings.Contains(out, `(no cap is in force: privacy.cap_epsilon is "inf") over the last 365d`) {
		t.Errorf("train without a cap does not say so:\n%s", out)
	}
	// A command run without the configuration that set the cap is told.
	if want := "WARNING: the cap in force, none (ε = ∞) over 365d, differs from the one recorded with release " + versions[1] + ", ε = 4 at δ = 1e-06 over 365d"; !strings.Contains(out, want) {
		t.Errorf("train under another cap than the recorded one lacks %q:\n%s", want, out)
	}
	c.config = recorded

	for _, tt := range []struct{ version, want string }{
		{versions[0], fmt.Sprintf(`release %q was deleted; its privacy parameters stay in the ledger: discret privacy report`, versions[0])},
		{"20990101T000000Z-00000000", `release "20990101T000000Z-00000000" not found ('discret models list' shows the stored releases)`},
	} {
		for _, cmd := range []string{"show", "use"} {
			if code, _, errOut := c.run("models", cmd, tt.version); code != exitFailure || !strings.Contains(errOut, tt.want) {
				t.Errorf("models %s %s = exit %d, stderr %q; want %q", cmd, tt.version, code, errOut, tt.want)
			}
		}
	}
}
