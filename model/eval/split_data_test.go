package eval_test

import (
	"cmp"
	"context"
	"crypto/md5"
	"encoding/hex"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/discret-io/discret/model/eval"
)

// dataDir returns DISCRET_DATASETS (or its former name DISCRET_DATA_DIR)
// or skips the test.
func dataDir(t testing.TB) string {
	t.Helper()
	dir := cmp.Or(os.Getenv("DISCRET_DATASETS"), os.Getenv("DISCRET_DATA_DIR"))
	if dir == "" {
		t.Skip("DISCRET_DATASETS is not set")
	}
	return dir
}

// sortedMD5 returns the line count and md5 of "user<TAB>item" lines sorted
// byte-wise, as `LC_ALL=C sort | md5sum` computes it.
func sortedMD5(d *eval.Dataset, rows [][]int32) (int, string) {
	var lines []string
	for u, row := range rows {
		for _, j := range row {
			lines = append(lines, d.User(u)+"\t"+d.Item(int(j))+"\n")
		}
	}
	slices.Sort(lines)
	sum := md5.Sum([]byte(strings.Join(lines, "")))
	return len(lines), hex.EncodeToString(sum[:])
}

// TestSplitChecksums checks the split against the checksums of EVAL.md.
func TestSplitChecksums(t *testing.T) {
	dir := dataDir(t)
	tests := []struct {
		name       string
		trainLines int
		trainMD5   string
		testLines  int
		testMD5    string
	}{
		{"ml-100k", 80367, "2e09731a88c8154893dd9951774797eb", 19633, "8fe549033389843130e6bc5ae5f92240"},
		{"ml-1m", 802553, "b995b2ad3923aeab3357f9ac84818813", 197656, "19af171c9783979f9a2ac5627628353c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := loadPublic(dir, tt.name)
			if err != nil {
				t.Fatal(err)
			}
			s := d.Split(eval.TestSeed)
			if n, sum := sortedMD5(d, s.Train); n != tt.trainLines || sum != tt.trainMD5 {
				t.Errorf("train = %d lines, md5 %s; want %d, %s", n, sum, tt.trainLines, tt.trainMD5)
			}
			if n, sum := sortedMD5(d, s.Test); n != tt.testLines || sum != tt.testMD5 {
				t.Errorf("test = %d lines, md5 %s; want %d, %s", n, sum, tt.testLines, tt.testMD5)
			}
		})
	}
}

// TestQuality guards the reported figures (model/eval/TUNING.md) on the
// real datasets with the default hyper-parameters, one seed.
func TestQuality(t *testing.T) {
	dir := dataDir(t)
	tests := []struct {
		name     string
		eps      float64
		minNDCG  float64 // non-private ALS
		minRatio float64 // private ALS at eps over DP most-popular
	}{
		{"ml-100k", 5, 0.43, 1.4},
		{"ml-1m", 1, 0.42, 1.15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "ml-1m" && testing.Short() {
				t.Skip("short mode")
			}
			d, err := loadPublic(dir, tt.name)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := eval.Run(context.Background(), eval.Config{Name: tt.name, Dataset: d, Seeds: 1,
				Epsilons: []float64{tt.eps, math.Inf(1)}})
			if err != nil {
				t.Fatal(err)
			}
			// popular, als ∞, dp-popular ε, als ε
			if got := rows[1].NDCG10.Mean; got < tt.minNDCG {
				t.Errorf("non-private NDCG@10 = %.4f, want ≥ %.2f", got, tt.minNDCG)
			}
			if got, floor := rows[3].NDCG10.Mean, rows[2].NDCG10.Mean; got < tt.minRatio*floor {
				t.Errorf("private NDCG@10 at ε = %v = %.4f, want ≥ %.2f × DP most-popular %.4f", tt.eps, got, tt.minRatio, floor)
			}
		})
	}
}

// publicFiles locates the public datasets under DISCRET_DATASETS.
var publicFiles = map[string]string{
	"ml-100k":       "ml-100k/u.data",
	"ml-1m":         "ml-1m/ratings_pairs.csv.gz",
	"online-retail": "online-retail/online_retail.csv.gz",
}

func loadPublic(dir, name string) (*eval.Dataset, error) {
	d, _, err := eval.ReadFile(context.Background(), filepath.Join(dir, publicFiles[name]), "")
	return d, err
}
