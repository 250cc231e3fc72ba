package main

import (
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
