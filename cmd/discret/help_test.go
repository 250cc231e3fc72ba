package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUsageLines checks the first line of every command's --help: one
// "[flags]", no trailing blank.
func TestUsageLines(t *testing.T) {
	c := newCLI(t)
	var walk func(path []string, cmds []*command)
	walk = func(path []string, cmds []*command) {
		for _, cmd := range cmds {
			p := append(append([]string(nil), path...), cmd.name)
			if len(cmd.sub) > 0 {
				walk(p, cmd.sub)
				continue
			}
			code, out, _ := c.run(append(p, "--help")...)
			if code != exitOK {
				t.Errorf("discret %s --help: exit %d", strings.Join(p, " "), code)
				continue
			}
			line, _, _ := strings.Cut(out, "\n")
			want := "Usage: discret " + strings.Join(p, " ") + " [flags]"
			if !strings.HasPrefix(line, want) || strings.Count(line, "[flags]") != 1 || line != strings.TrimSpace(line) {
				t.Errorf("discret %s --help: usage line %q, want %q followed by the arguments, once, without a trailing blank", strings.Join(p, " "), line, want)
			}
		}
	}
	walk(nil, commands())
}

// TestKeygenInsideData: keygen and demo refuse to create a key that every
// other command would refuse, inside the data directory, and write nothing.
func TestKeygenInsideData(t *testing.T) {
	c := newCLI(t)
	if err := os.MkdirAll(c.data, 0o700); err != nil {
		t.Fatal(err)
	}
	inside := filepath.Join(c.data, "k.key")
	for _, tt := range []struct {
		args []string
		code int
	}{
		{[]string{"keygen", "--out", inside}, exitUsage},
		{[]string{"keygen", "--key", inside}, exitUsage},
		{[]string{"demo", "--key", inside, "--events", "10", "--customers", "2"}, exitFailure},
	} {
		code, _, stderr := c.run(tt.args...)
		if code != tt.code || !strings.Contains(stderr, "inside the data directory") {
			t.Errorf("discret %s = exit %d, stderr %q; want exit %d and \"inside the data directory\"", strings.Join(tt.args, " "), code, stderr, tt.code)
		}
		if _, err := os.Stat(inside); err == nil {
			t.Fatalf("discret %s wrote %s", strings.Join(tt.args, " "), inside)
		}
	}
}
