package main

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/discret-io/discret/features/synth"
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
