package main

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/store/storetest"
	"github.com/discret-io/discret/features/synth"
	"github.com/discret-io/discret/model/budget"
)

// TestModelsUse: models use applies train's rule to a release too poor to
// serve (too few items selected from the data): refused unless --force,
// and then with a warning; a non-private release is made current with a
// warning, as before.
func TestModelsUse(t *testing.T) {
	c := newCLI(t)
	gen := c.synthStore(300, 40, 9000, 4)
	good := versionRE.FindStringSubmatch(c.mustRun("train", "--epsilon", "2", "--factors", "4", "--catalogue", filepath.Join(gen, synth.ItemsFile)))
	if good == nil {
		t.Fatal("the release trained on the catalogue is not current")
	}
	stored := regexp.MustCompile(`trained release (\S+) \(stored, NOT current`)
	// 300 customers: at ε = 2 the DP selection keeps 2 to 5 of the 40
	// items (TestTrainNotCurrent).
	_, out, _ := c.run("train", "--epsilon", "2", "--factors", "4", "--stores", "none")
	poor := stored.FindStringSubmatch(out)
	if poor == nil || !strings.Contains(out, "passed the DP selection") {
		t.Fatalf("train without a catalogue: want a release stored, not current, for too few items; stdout:\n%s", out)
	}
	nonPrivate := stored.FindStringSubmatch(c.mustRun("train", "--epsilon", "inf", "--factors", "4", "--iterations", "1"))
	if nonPrivate == nil {
		t.Fatal("the non-private release is current")
	}

	const (
		poorWarning       = "warning: this release would recommend the same few items to everyone: only "
		nonPrivateWarning = "warning: this release is NOT differentially private"
	)
	for _, tt := range []struct {
		args    []string
		code    int
		stdout  []string // in stdout
		stderr  string   // stderr matches this regular expression ("": empty)
		current string   // the current release afterwards
	}{
		{[]string{"models", "use", poor[1]}, exitFailure, nil,
			"^discret models use: release " + poor[1] + ` not made current: only \d items? passed the DP selection \(fewer than 10\): the data has too few customers per item at this ε; store the public catalogue \('discret items import'\) or train with a larger ε; --force makes it current anyway\n$`, good[1]},
		{[]string{"models", "use", "--force", poor[1]}, exitOK, []string{"release " + poor[1] + " is now current\n", poorWarning}, "", poor[1]},
		{[]string{"models", "use", good[1]}, exitOK, []string{"release " + good[1] + " is now current\n"}, "", good[1]},
		{[]string{"models", "use", nonPrivate[1]}, exitOK, []string{"is now current\n", nonPrivateWarning}, "", nonPrivate[1]},
		{[]string{"models", "use", "--force", good[1]}, exitOK, []string{"release " + good[1] + " is now current\n"}, "", good[1]},
	} {
		code, stdout, stderr := c.run(tt.args...)
		if code != tt.code || !regexp.MustCompile(tt.stderr).MatchString(stderr) || tt.stderr == "" && stderr != "" {
			t.Errorf("discret %s = exit %d, stderr %q; want exit %d and %q", strings.Join(tt.args, " "), code, stderr, tt.code, tt.stderr)
		}
		for _, want := range tt.stdout {
			if !strings.Contains(stdout, want) {
				t.Errorf("discret %s: stdout %q lacks %q", strings.Join(tt.args, " "), stdout, want)
			}
		}
		if tt.code != exitOK && stdout != "" {
			t.Errorf("discret %s: stdout %q, want none", strings.Join(tt.args, " "), stdout)
		}
		warned := strings.Contains(stdout, poorWarning)
		if want := slices.Contains(tt.stdout, poorWarning); warned != want {
			t.Errorf("discret %s: poor-release warning %v, want %v; stdout %q", strings.Join(tt.args, " "), warned, want, stdout)
		}
		if list := c.mustRun("models", "list"); !regexp.MustCompile(`\*\s+` + tt.current).MatchString(list) {
			t.Errorf("after discret %s, the current release is not %s:\n%s", strings.Join(tt.args, " "), tt.current, list)
		}
	}
}

// TestNoRelease: a release missing from the store is said to be so from
// its latest ledger entry: interrupted (a pending charge alone), failed,
// deleted, or unknown to the ledger.
func TestNoRelease(t *testing.T) {
	now := time.Date(2035, 1, 2, 0, 0, 0, 0, time.UTC)
	db := storetest.OpenMemory(t, nil)
	cp := budget.Cap{}.WithDefaults()
	for _, en := range []budget.Entry{
		{Version: "gone", Pending: true}, {Version: "gone"},
		{Version: "bad", Pending: true}, {Version: "bad", Failed: "train: context canceled"},
		{Version: "dead", Pending: true},
	} {
		en.Time, en.Private, en.Rho, en.Epsilon, en.Delta, en.RNG, en.Cap = now, true, 0.02, 1, 1e-6, "crypto", &cp
		b, err := en.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.AppendLedger(t.Context(), store.LedgerCharge{Time: now, Data: b}); err != nil {
			t.Fatal(err)
		}
	}
	d := &dataEnv{db: db}
	for _, tt := range []struct {
		err     error
		version string
		want    string
	}{
		{store.ErrNoCurrentRelease, "", "no current release; run 'discret train' or 'discret models use VERSION'"},
		{store.ErrReleaseNotFound, "none", `release "none" not found ('discret models list' shows the stored releases)`},
		{store.ErrReleaseNotFound, "gone", `release "gone" was deleted; its privacy parameters stay in the ledger: discret privacy report`},
		{store.ErrReleaseNotFound, "bad", `release "bad" was never stored: its training run failed (train: context canceled); what it spent stays in the ledger: discret privacy report`},
		{store.ErrReleaseNotFound, "dead", `release "dead" was never stored: its training run ended before recording its release; its charge stays in the ledger: discret privacy report`},
	} {
		if got := noRelease(t.Context(), d, tt.err, tt.version); got == nil || got.Error() != tt.want {
			t.Errorf("noRelease(%v, %q) = %v, want %q", tt.err, tt.version, got, tt.want)
		}
	}
}
