package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/discret-io/discret/features"
)

// TestWriteBadRows: the bad rows are listed one per line up to
// ingestMaxListed, then counted.
func TestWriteBadRows(t *testing.T) {
	rows := func(n int) []error {
		var errs []error
		for i := range n {
			errs = append(errs, &features.RowError{Row: i + 1, Err: features.ErrFuture})
		}
		return errs
	}
	for _, tt := range []struct {
		bad       int
		lines     int
		lastWants string
	}{
		{0, 0, ""},
		{2, 2, "  row 2: "},
		{ingestMaxListed, ingestMaxListed, fmt.Sprintf("  row %d: ", ingestMaxListed)},
		{ingestMaxListed + 5, ingestMaxListed + 1, "  … and 5 more bad rows"},
	} {
		var b strings.Builder
		writeBadRows(&b, rows(tt.bad))
		lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
		if tt.lines == 0 {
			lines = lines[:0]
			if b.Len() != 0 {
				t.Errorf("no bad rows: wrote %q", b.String())
			}
		}
		if len(lines) != tt.lines || (tt.lines > 0 && !strings.HasPrefix(lines[len(lines)-1], tt.lastWants)) {
			t.Errorf("%d bad rows: %d lines, the last %q; want %d, the last starting %q", tt.bad, len(lines), lines[len(lines)-1:], tt.lines, tt.lastWants)
		}
	}
}
