package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/discret-io/discret/bench"
	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/model/train"
)

// TestPluralOutputs: counts that can be 1 read "1 thing", not "1 things",
// in the outputs of train, privacy report, consent, forget, bench serve,
// bench train and eval.
func TestPluralOutputs(t *testing.T) {
	c := newCLI(t)
	c.mustRun("keygen")
	dir := t.TempDir()
	one := writeFile(t, "one.jsonl", `{"customer":"alice@example.com","item":"SKU-1","type":"purchase","time":"2026-01-02T10:00:00Z"}`)
	c.mustRun("consent", "set", "alice@example.com", "personalization=granted")
	c.mustRun("import", one)
	catalogue := filepath.Join(dir, "items.jsonl")
	os.WriteFile(catalogue, []byte(`{"item":"SKU-1","stores":["store-1"]}`+"\n"), 0o600)
	tiny := filepath.Join(dir, "tiny.jsonl")
	os.WriteFile(tiny, []byte(`{"customer":"bob","item":"SKU-1","type":"purchase","time":"2026-01-02T10:00:00Z"}`+"\n"), 0o600)

	// The cases run in order: "privacy report" finds the release of "train
	// catalogue".
	for _, tt := range []struct {
		name string
		out  func() string
		want string
	}{
		{"train report", func() string {
			var b bytes.Buffer
			printTrainReport(&b, &train.Report{ExcludedCustomers: 1, ExcludedEvents: 1})
			return b.String()
		}, "(1 customer and 1 event excluded: consent no longer allows them)\n"},
		{"train report model", func() string {
			var b bytes.Buffer
			printTrainReport(&b, &train.Report{Card: release.Card{Hyper: release.Hyper{Factors: 1, Iterations: 1}}})
			return b.String()
		}, "  model: 1 factor, 1 iteration, λ = 0, α = 0\n"},
		{"train report card", func() string {
			var b bytes.Buffer
			printTrainReport(&b, &train.Report{Card: release.Card{Privacy: &release.Privacy{}, Customers: release.Customers{Value: 1}}})
			return b.String()
		}, "card: about 1 training customer (noisy"},
		{"train catalogue", func() string {
			_, _, stderr := c.run("train", "--catalogue", catalogue, "--epsilon", "inf", "--iterations", "1")
			return stderr
		}, "catalogue: 1 item and 1 store, from " + catalogue + "\n"},
		{"privacy report", func() string { return c.mustRun("privacy", "report") }, "Privacy ledger (1 entry, oldest first):\n"},
		{"train catalogue, --stores", func() string {
			_, _, stderr := c.run("train", "--catalogue", catalogue, "--stores", "store-1,store-2", "--epsilon", "inf", "--iterations", "1")
			return stderr
		}, "catalogue: 1 item, from " + catalogue + "; stores: 2, from --stores\n"},
		{"consent withdrawal", func() string { return c.mustRun("consent", "set", "alice@example.com", "personalization=withdrawn") },
			"withdrawal erased 1 stored record ("},
		{"forget", func() string { return c.mustRun("forget", "alice@example.com") }, " (audit subject): 1 record (consent: 1)\n"},
		{"bench serve progress", func() string {
			var b bytes.Buffer
			printLoadProgress(&b, bench.LoadProgress{Elapsed: time.Second, Requests: 1, Errors: 1, RPS: 0})
			return b.String()
		}, "  1.0 s  1 request, 1 error, 0 req/s\n"},
		{"bench train", func() string {
			_, _, stderr := runBench(t, nil, "train", "--factors", "2", "--threads", "1", "--iterations", "1", tiny)
			return stderr
		}, "1 customer × 1 item, 1 pair, read in "},
		{"eval", func() string {
			pair := writeFile(t, "pair.tsv", "1\t1\t5\t881250949")
			_, _, stderr := c.run("eval", "--format", "movielens", pair)
			return stderr
		}, ": 1 user, 1 item, 1 pair (read in "},
	} {
		if got := tt.out(); !strings.Contains(got, tt.want) {
			t.Errorf("%s: output lacks %q:\n%s", tt.name, tt.want, got)
		}
	}
}
