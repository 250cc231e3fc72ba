package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestConsentSetSameSecond: `consent set` without --time right after a
// choice for the same purpose, in the same second (commands a few
// milliseconds apart nearly always are), dates the new choice the next
// second, so that it decides: a grant after a withdrawal was recorded in
// that second and lost to it, silently. With a --time in a withdrawal's
// second, the grant is recorded, does not decide, and set says so.
func TestConsentSetSameSecond(t *testing.T) {
	c := newCLI(t)
	c.mustRun("keygen")
	state := regexp.MustCompile(`(?m)^  personalization  (yes|no) `)
	for i, tt := range []struct{ first, second, want string }{
		{"withdrawn", "granted", "yes"},
		{"granted", "withdrawn", "no"},
		{"withdrawn", "granted", "yes"},
		{"withdrawn", "granted", "yes"},
	} {
		customer := fmt.Sprintf("same-second-%d", i)
		c.mustRun("consent", "set", customer, "personalization="+tt.first)
		out := c.mustRun("consent", "set", customer, "personalization="+tt.second)
		if m := state.FindStringSubmatch(out); m == nil || m[1] != tt.want || strings.Contains(out, "does not decide") {
			t.Errorf("consent set personalization=%s right after %s:\n%s\nwant personalization %s", tt.second, tt.first, out, tt.want)
		}
		if m := state.FindStringSubmatch(c.mustRun("consent", "get", customer)); m == nil || m[1] != tt.want {
			t.Errorf("consent get after %s then %s = %v, want %s", tt.first, tt.second, m, tt.want)
		}
	}
	at := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	c.mustRun("consent", "set", "dated", "personalization=withdrawn", "--time", at)
	out := c.mustRun("consent", "set", "dated", "personalization=granted", "in_store=granted", "--time", at)
	want := "personalization=granted recorded but does not decide: a withdrawal dated the same second does"
	if m := state.FindStringSubmatch(out); m == nil || m[1] != "no" || !strings.Contains(out, want) || strings.Contains(out, "in_store=granted recorded") {
		t.Errorf("consent set personalization=granted --time %s, a withdrawal's second:\n%s\nwant personalization no and %q", at, out, want)
	}
}
