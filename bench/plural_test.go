package bench

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/discret-io/discret/features/eventfile"
	"github.com/discret-io/discret/model/interact"
)

// TestPluralOutputs: counts that can be 1 read "1 thing", not "1 things".
func TestPluralOutputs(t *testing.T) {
	dir := t.TempDir()
	badRow := filepath.Join(dir, "bad.csv")
	os.WriteFile(badRow, []byte("customer,item,type,time\nc1,SKU-1,vew,2026-01-02T10:00:00Z\n"), 0o600)
	oneUser := filepath.Join(dir, "one.data")
	os.WriteFile(oneUser, []byte("1\t1\t5\t881250949\n1\t2\t5\t881250950\n"), 0o600)
	for _, tt := range []struct {
		name string
		out  func() string
		want string
	}{
		{"bench serve table", func() string {
			var b bytes.Buffer
			r := &LoadReport{Requests: 2, Errors: 1, ByCode: map[string]int64{"http_429": 1}, Samples: map[string]string{}, RateLimited: 1}
			if err := r.WriteTable(&b); err != nil {
				t.Fatal(err)
			}
			return b.String()
		}, "rate limited  1 request, refused by the server's rate limit"},
		{"bench train table", func() string {
			var b bytes.Buffer
			if err := (&TrainReport{Name: "x", Path: "x.csv", Users: 1, Items: 1, Pairs: 1}).WriteTable(&b); err != nil {
				t.Fatal(err)
			}
			return b.String()
		}, "x (x.csv): 1 customer × 1 item, 1 pair (read in"},
		{"no usable events", func() string {
			_, err := ReadEvents(t.Context(), badRow, eventfile.CSV, interact.Config{}, nil)
			return err.Error()
		}, ": no usable events (1 row, 1 bad; the first: "},
		{"quality dataset", func() string {
			var log strings.Builder
			Quality(context.Background(), QualityConfig{Datasets: []QualityDataset{{Name: "one", Path: oneUser, Format: eventfile.MovieLens}},
				Epsilons: []float64{math.Inf(1)}, Seeds: 1, Log: func(s string) { log.WriteString(s + "\n") }})
			return log.String()
		}, "one: 1 user, 2 items, 2 pairs, read in "},
	} {
		if got := tt.out(); !strings.Contains(got, tt.want) {
			t.Errorf("%s: output lacks %q:\n%s", tt.name, tt.want, got)
		}
	}
}
