package main

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestPrintVersion(t *testing.T) {
	platform := " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	stamped := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/discret-io/discret", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-11-24T10:00:00Z"}, {Key: "vcs.modified", Value: "false"}}}
	modified := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-11-24T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	for _, tt := range []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want string
	}{
		{"stamped", stamped, true, "discret v1.2.3\n  revision  0123abcd\n  time      2026-11-24T10:00:00Z\n  go        go1.26.0" + platform},
		{"modified tree", modified, true, "discret (devel)\n  revision  0123abcd (modified: built with uncommitted changes)\n  time      2026-11-24T10:00:00Z\n  go        go1.26.0" + platform},
		{"no VCS information", &debug.BuildInfo{GoVersion: "go1.26.0"}, true,
			"discret (devel)\n  revision  unknown (not recorded in this build)\n  time      unknown (not recorded in this build)\n  go        go1.26.0" + platform},
		{"no build information", nil, false,
			"discret (devel)\n  revision  unknown (not recorded in this build)\n  time      unknown (not recorded in this build)\n  go        " + runtime.Version() + platform},
	} {
		var b strings.Builder
		printVersion(&b, tt.bi, tt.ok)
		if b.String() != tt.want {
			t.Errorf("%s: printVersion =\n%s\nwant\n%s", tt.name, b.String(), tt.want)
		}
	}
}

// TestVersionCommand: `discret version` and `discret --version` print the
// same, with this binary's Go version; an argument is a usage error.
func TestVersionCommand(t *testing.T) {
	c := newCLI(t)
	out := c.mustRun("version")
	if !strings.HasPrefix(out, "discret ") || !strings.Contains(out, "  go        "+runtime.Version()) || !strings.Contains(out, "  revision  ") {
		t.Errorf("discret version = %q; want the version, the revision and %s", out, runtime.Version())
	}
	if got := c.mustRun("--version"); got != out {
		t.Errorf("discret --version = %q, want the output of discret version, %q", got, out)
	}
	if code, _, stderr := c.run("version", "x"); code != exitUsage || !strings.Contains(stderr, `unexpected argument "x"`) {
		t.Errorf("discret version x = exit %d, %q; want a usage error", code, stderr)
	}
}
