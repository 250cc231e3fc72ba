package bench

import (
	"bytes"
	"cmp"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/discret-io/discret/features/eventfile"
	"github.com/discret-io/discret/features/synth"
	"github.com/discret-io/discret/model/eval"
)

func TestQuality(t *testing.T) {
	a := synthFile(t, synth.Config{Customers: 300, Items: 120, Events: 15000, Seed: 3})
	b := synthFile(t, synth.Config{Customers: 200, Items: 80, Events: 8000, Seed: 4})
	var logs int
	rows, err := Quality(t.Context(), QualityConfig{
		Datasets: []QualityDataset{{Name: "a", Path: a}, {Name: "b", Path: b, Format: eventfile.Discret}},
		Epsilons: []float64{math.Inf(1), 5}, Seeds: 2, Factors: 8,
		Log: func(string) { logs++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	// Per dataset: popular, als ∞, dp-popular 5, als 5.
	if len(rows) != 8 {
		t.Fatalf("Quality(2 datasets, ε ∈ {∞, 5}) = %d rows, want 8", len(rows))
	}
	for i, want := range []struct {
		dataset, model string
		eps            float64
	}{{"a", eval.ModelPopular, math.Inf(1)}, {"a", eval.ModelALS, math.Inf(1)}, {"a", eval.ModelDPPopular, 5}, {"a", eval.ModelALS, 5}, {"b", eval.ModelPopular, math.Inf(1)}} {
		r := rows[i]
		if r.Dataset != want.dataset || r.Model != want.model || r.Epsilon != want.eps {
			t.Errorf("row %d = %s %s ε=%v, want %s %s ε=%v", i, r.Dataset, r.Model, r.Epsilon, want.dataset, want.model, want.eps)
		}
	}
	if als := rows[1]; als.Seeds != 2 || als.NDCG10.Mean <= 0 || als.Factors != 8 {
		t.Errorf("als row %+v: want 2 seeds, 8 factors, NDCG@10 > 0", als)
	}
	if logs < 2+2*4 {
		t.Errorf("Log called %d times, want a line per dataset and per run", logs)
	}

	var md bytes.Buffer
	if err := WriteQualityMarkdown(&md, rows); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(md.String(), "\n| "); got != 8 { // the data rows
		t.Errorf("Markdown has %d table lines after the header, want 8:\n%s", got, md.String())
	}
	if !strings.Contains(md.String(), " ± ") || !strings.Contains(md.String(), "| a | als | ∞ | – |") {
		t.Errorf("Markdown lacks mean ± std or the non-private row:\n%s", md.String())
	}

	files, err := WriteQualityPlots(filepath.Join(t.TempDir(), "q.png"), rows)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || !strings.HasSuffix(files[0], "q-a.png") || !strings.HasSuffix(files[1], "q-b.png") {
		t.Fatalf("WriteQualityPlots = %v, want q-a.png and q-b.png", files)
	}
	for _, f := range files {
		r, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(r); err != nil {
			t.Errorf("%s does not decode as PNG: %v", f, err)
		}
		r.Close()
	}
	if _, err := WriteQualityPlots(filepath.Join(t.TempDir(), "q.gif"), rows); err == nil {
		t.Errorf("WriteQualityPlots(.gif) = nil error")
	}
	// Two datasets with one name would mix their rows and plots.
	_, err = Quality(t.Context(), QualityConfig{Datasets: []QualityDataset{{Name: "a", Path: a}, {Name: "a", Path: b}}})
	if err == nil || !strings.Contains(err.Error(), "dataset name a given twice") {
		t.Errorf("Quality(two datasets named a) error = %v, want one naming a", err)
	}
}

func TestDatasetName(t *testing.T) {
	for _, tt := range []struct{ path, want string }{
		{"/work/shared/data/ml-100k/u.data", "ml-100k"},
		{"ml-1m/ratings.dat", "ml-1m"},
		{"/data/ml-1m/ratings_pairs.csv.gz", "ml-1m"},
		{"online-retail/online_retail.csv.gz", "online-retail"},
		{"/tmp/x/rev-bad.data", "rev-bad"},
		{"/tmp/ml-100k-copy/u.data", "ml-100k-copy"},
		{"toy/ratings.dat", "toy"},
		{"/data/a/ratings_pairs.csv.gz", "a"},
		{"/data/ml-1m/other.csv", "ml-1m"},
		{"/data/synth/events.jsonl", "events"},
		{"events.jsonl", "events"},
		{"events.JSONL.gz", "events"},
		{"sales.2024.csv", "sales.2024"},
		{"retail.xlsx", "retail.xlsx"},
		{"/x/.gz", ".gz"},
		{"/u.data", "u"},
	} {
		if got := DatasetName(tt.path); got != tt.want {
			t.Errorf("DatasetName(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestResolveDataset(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "ml-100k"), 0o755)
	os.WriteFile(filepath.Join(dir, "ml-100k", "u.data"), []byte("1\t2\t5\t881250949\n"), 0o644)
	file := filepath.Join(dir, "retail.csv.gz")
	os.WriteFile(file, nil, 0o644)
	for _, tc := range []struct {
		dir, arg string
		want     QualityDataset
		err      string
	}{
		{dir, "ml-100k", QualityDataset{Name: "ml-100k", Path: filepath.Join(dir, "ml-100k", "u.data"), Format: eventfile.MovieLens}, ""},
		{"", "ml-100k", QualityDataset{}, "set DISCRET_DATASETS (or --datasets)"},
		{dir, "ml-1m", QualityDataset{}, "ml-1m"},
		{dir, file, QualityDataset{Name: "retail", Path: file}, ""},
		{dir, filepath.Join(dir, "nope"), QualityDataset{}, "neither a file nor one of"},
	} {
		got, err := ResolveDataset(tc.dir, tc.arg, "")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ResolveDataset(%q) error = %v, want one containing %q", tc.arg, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ResolveDataset(%q) = %+v, %v; want %+v", tc.arg, got, err, tc.want)
		}
	}
}

// TestLoadPublicDatasets checks the sizes of the shared datasets read
// through eventfile.ReadPairs against EVAL.md (skipped without
// DISCRET_DATASETS, or its former name DISCRET_DATA_DIR).
func TestLoadPublicDatasets(t *testing.T) {
	dir := cmp.Or(os.Getenv("DISCRET_DATASETS"), os.Getenv("DISCRET_DATA_DIR"))
	if dir == "" {
		t.Skip("DISCRET_DATASETS not set")
	}
	for _, tc := range []struct {
		name                string
		users, items, pairs int
	}{
		{"ml-100k", 943, 1682, 100_000},
		{"ml-1m", 6040, 3706, 1_000_209},
	} {
		d, err := ResolveDataset(dir, tc.name, "")
		if err != nil {
			t.Fatal(err)
		}
		ds, bad, err := LoadDataset(t.Context(), d)
		if err != nil {
			t.Fatal(err)
		}
		if bad.Count != 0 || ds.Users() != tc.users || ds.Items() != tc.items || ds.Pairs() != tc.pairs {
			t.Errorf("LoadDataset(%s) = %d users, %d items, %d pairs, %d bad; want %d, %d, %d, 0",
				tc.name, ds.Users(), ds.Items(), ds.Pairs(), bad.Count, tc.users, tc.items, tc.pairs)
		}
	}
}
