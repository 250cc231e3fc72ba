package eventfile_test

import (
	"cmp"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/discret-io/discret/features/eventfile"
	"github.com/discret-io/discret/privacy"
)

// TestRealDatasets decodes the shared real datasets when DISCRET_DATASETS
// points at them (see its README.md). The expected figures are the ones the
// README documents; the Online Retail breakdown was computed independently
// with Python's csv module, applying the same rules in the same order:
//
//	cancellation (InvoiceNo starts with C), then no customer id (empty
//	CustomerID), then non-positive Quantity, then non-product code
//	(StockCode not starting with five digits).
func TestRealDatasets(t *testing.T) {
	dir := cmp.Or(os.Getenv("DISCRET_DATASETS"), os.Getenv("DISCRET_DATA_DIR"))
	if dir == "" {
		t.Skip("DISCRET_DATASETS not set")
	}
	tests := []struct {
		path                   string
		opts                   eventfile.Options
		valid                  int
		skipped                map[string]int
		customers, items, stor int
		first, last            time.Time
	}{
		{
			path: "ml-100k/u.data", valid: 100_000, customers: 943, items: 1682,
			first: time.Date(1997, 9, 20, 3, 5, 10, 0, time.UTC), last: time.Date(1998, 4, 22, 23, 10, 38, 0, time.UTC),
		},
		{
			path: "ml-1m/ratings_pairs.csv.gz", opts: eventfile.Options{DefaultTime: time.Date(2003, 3, 1, 0, 0, 0, 0, time.UTC)},
			valid: 1_000_209, customers: 6040, items: 3706,
			first: time.Date(2003, 3, 1, 0, 0, 0, 0, time.UTC), last: time.Date(2003, 3, 1, 0, 0, 0, 0, time.UTC),
		},
		{
			path: "online-retail/online_retail.csv.gz", valid: 386_359,
			skipped: map[string]int{eventfile.SkipCancellation: 9288, eventfile.SkipNoCustomer: 134_697, eventfile.SkipNonProduct: 1554,
				eventfile.SkipMerged: 10_011},
			customers: 4335, items: 3659, stor: 37,
			// 2010-12-01 08:26 and 2011-12-09 12:50, London winter time (UTC).
			first: time.Date(2010, 12, 1, 8, 26, 0, 0, time.UTC), last: time.Date(2011, 12, 9, 12, 50, 0, 0, time.UTC),
		},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			f, err := eventfile.Open(filepath.Join(dir, tt.path))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			opts := tt.opts
			opts.Name = tt.path
			var c eventfile.Counts
			customers := make(map[privacy.CustomerID]bool)
			items, stores := make(map[string]bool), make(map[string]bool)
			var first, last time.Time
			start := time.Now()
			for r, err := range eventfile.Read(context.Background(), f, opts) {
				if err != nil {
					t.Fatal(err)
				}
				c.Add(r)
				if r.Err != nil {
					t.Errorf("line %d: %v", r.Line, r.Err)
					continue
				}
				if r.Skip != "" {
					continue
				}
				customers[r.Event.Customer] = true
				items[r.Event.Item] = true
				if r.Event.Store != "" {
					stores[r.Event.Store] = true
				}
				if first.IsZero() || r.Event.Time.Before(first) {
					first = r.Event.Time
				}
				if r.Event.Time.After(last) {
					last = r.Event.Time
				}
			}
			elapsed := time.Since(start)
			t.Logf("%s: %d rows (%d valid, skipped %v) in %v: %.0f rows/s", tt.path, c.Rows, c.Valid, c.Skipped, elapsed.Round(time.Millisecond), float64(c.Rows)/elapsed.Seconds())
			if c.Valid != tt.valid || len(c.Errors) != 0 {
				t.Errorf("valid = %d, errors %v; want %d, none", c.Valid, c.Errors, tt.valid)
			}
			total := c.Valid
			for reason, n := range tt.skipped {
				if c.Skipped[reason] != n {
					t.Errorf("skipped %q = %d, want %d", reason, c.Skipped[reason], n)
				}
				total += n
			}
			if c.Rows != total || len(c.Skipped) != len(tt.skipped) {
				t.Errorf("rows = %d (skipped %v), want %d", c.Rows, c.Skipped, total)
			}
			if len(customers) != tt.customers || len(items) != tt.items || len(stores) != tt.stor {
				t.Errorf("distinct customers, items, stores = %d, %d, %d; want %d, %d, %d",
					len(customers), len(items), len(stores), tt.customers, tt.items, tt.stor)
			}
			if !first.Equal(tt.first) || !last.Equal(tt.last) {
				t.Errorf("times %v – %v, want %v – %v", first, last, tt.first, tt.last)
			}
		})
	}
}
