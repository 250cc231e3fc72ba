package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestGenStores: --stores is at most --items, and the error says so in
// flags, with the fix; left unset, it defaults to 8 or the items if fewer.
func TestGenStores(t *testing.T) {
	c := newCLI(t)
	for _, tt := range []struct {
		args   []string
		code   int
		output string // substring of stdout (exit 0) or stderr
	}{
		{[]string{"--items", "1"}, exitOK, "items 1, stores 1"},
		{[]string{"--items", "20"}, exitOK, "items 20, stores 8"},
		{[]string{"--items", "1", "--stores", "8"}, exitUsage, "--stores 8 is more than --items 1: a store stocks at least one item; lower --stores or raise --items"},
		{[]string{"--stores", "1001"}, exitUsage, "--stores 1001: want an integer from 1 to 1000"},
		{[]string{"--items", "1000000", "--stores", "100"}, exitUsage, "--items 1000000 × --stores 100 = 100000000 stock entries, above the limit of 50000000; lower --items or --stores"},
	} {
		args := append([]string{"gen", "--out", filepath.Join(t.TempDir(), "g"), "--customers", "5", "--events", "50"}, tt.args...)
		code, stdout, stderr := c.run(args...)
		out := stderr
		if tt.code == exitOK {
			out = stdout
		}
		if code != tt.code || !strings.Contains(out, tt.output) {
			t.Errorf("discret %s = exit %d, stdout %q, stderr %q; want exit %d and %q", strings.Join(args, " "), code, stdout, stderr, tt.code, tt.output)
		}
	}
	if _, out, _ := c.run("gen", "--help"); !strings.Contains(out, "--stores is at most --items") {
		t.Errorf("discret gen --help = %q, want it to say --stores is at most --items", out)
	}
}
