package main

import (
	"strings"
	"testing"
)

// TestFlagErrors: a flag value that does not parse, an unknown flag and a
// flag without its value are refused as the other usage errors are (the
// flag with two dashes, its value, what it wants), not in the package
// flag's words ("invalid value "abc" for flag -factors: parse error").
func TestFlagErrors(t *testing.T) {
	c := newCLI(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--factors", "abc"}, `discret train: --factors "abc": want a whole number` + "\n"},
		{[]string{"train", "--factors", "99999999999999999999"}, `discret train: --factors "99999999999999999999": want a whole number (out of range)` + "\n"},
		{[]string{"eval", "--delta", "1e-6x", "u.data"}, `discret eval: --delta "1e-6x": want a number` + "\n"},
		{[]string{"train", "--allow-non-private=maybe"}, `discret train: --allow-non-private "maybe": want true or false` + "\n"},
		{[]string{"serve", "--compact-interval", "5x"}, `discret serve: --compact-interval "5x": want a duration such as 90s, 15m or 24h` + "\n"},
		{[]string{"train", "--bogus"}, "discret train: unknown flag --bogus\n"},
		{[]string{"train", "--data"}, "discret train: --data needs a value\n"},
		{[]string{"--data"}, "discret: --data needs a value\n"},
		{[]string{"--bogus", "train"}, "discret: unknown flag --bogus\n"},
	} {
		code, _, errOut := c.run(tt.args...)
		if code != exitUsage || !strings.HasPrefix(errOut, tt.want) || strings.Contains(errOut, "invalid value") {
			t.Errorf("discret %s = exit %d, stderr %q; want exit %d and %q", strings.Join(tt.args, " "), code, errOut, exitUsage, tt.want)
		}
	}
}
