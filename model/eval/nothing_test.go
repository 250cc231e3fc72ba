package eval

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/discret-io/discret/features/eventfile"
	"github.com/discret-io/discret/model/als"
)

// TestRunNothingToEvaluate: a dataset whose split leaves no held-out item
// a model could rank is refused with ErrNothingToEvaluate and the reason,
// instead of giving a table of zeros.
func TestRunNothingToEvaluate(t *testing.T) {
	for _, tt := range []struct {
		name       string
		pairs      []string
		validation bool
		want       string // the error; "": evaluated
	}{
		{"one user", []string{"1", "a", "1", "b", "1", "c", "1", "d", "1", "e"}, false,
			"eval: nothing to evaluate: no held-out item of the one user evaluated is among the items seen in training (a single user, or users with too few items in common), so every figure would be 0"},
		{"users without items in common", []string{"1", "a", "1", "b", "2", "c", "2", "d"}, false,
			"eval: nothing to evaluate: no held-out item of the 2 users evaluated is among the items seen in training (a single user, or users with too few items in common), so every figure would be 0"},
		{"one item per user", []string{"1", "a", "2", "a", "3", "b"}, false,
			"eval: nothing to evaluate: no user has 2 or more distinct items, so none has both a training and a held-out item after the 20 % holdout"},
		{"two items per user, validation", []string{"1", "a", "1", "b", "2", "a", "2", "b"}, true,
			"eval: nothing to evaluate: no user has 3 or more distinct items, so none has both a training and a held-out item after the 20 % holdout"},
		{"two users holding out the same item", []string{"1", "a", "1", "b", "2", "a", "2", "b"}, false,
			"eval: nothing to evaluate: no held-out item of the 2 users evaluated is among the items seen in training (a single user, or users with too few items in common), so every figure would be 0"},
		{"users sharing items", []string{"1", "a", "1", "b", "1", "c", "2", "a", "2", "b", "2", "c", "3", "a", "3", "b", "3", "c"}, false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewDataset(pairs(tt.pairs...))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Run(context.Background(), Config{Dataset: d, Epsilons: []float64{math.Inf(1)}, Seeds: 1, Validation: tt.validation, ALS: als.Config{Factors: 2, Iterations: 1}})
			if tt.want == "" {
				if err != nil {
					t.Errorf("Run(%v) = %v, want no error", tt.pairs, err)
				}
				return
			}
			if err == nil || err.Error() != tt.want || !errors.Is(err, ErrNothingToEvaluate) {
				t.Errorf("Run(%v) = %v,\nwant %q (ErrNothingToEvaluate)", tt.pairs, err, tt.want)
			}
		})
	}
}

// TestReadFileNoPairs: a file without (user, item) pairs names itself once
// and says why, without repeating the package prefix after the file name.
func TestReadFileNoPairs(t *testing.T) {
	visit := `{"customer":"u1","type":"store_visit","store":"s1","time":"2025-01-01T00:00:00Z"}`
	for _, tt := range []struct {
		name    string
		format  eventfile.Format
		content string
		want    string
	}{
		{"empty.jsonl", "", "", "empty.jsonl: no (user, item) pairs: the file has no event rows"},
		// The first bad row's error says what is wrong: a wrong --format, say.
		{"bad.jsonl", "", visit + "\n{\"customer\":\"u1\"}\n", "bad.jsonl: no usable (user, item) pairs: of 2 rows, 1 bad, 1 without an item (store visits) (the first: row 2: field type: required; field time: required)"},
		{"pairs.jsonl", eventfile.Discret, "1\t2\t5\t881250949\n1\t3\t5\t881250949\n", "pairs.jsonl: no usable (user, item) pairs: of 2 rows, 2 bad (the first: row 1: malformed JSON: want an object at byte 1)"},
	} {
		dir := t.TempDir()
		p := filepath.Join(dir, tt.name)
		if err := os.WriteFile(p, []byte(tt.content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err := ReadFile(context.Background(), p, tt.format)
		if err == nil {
			t.Fatalf("ReadFile(%s) = nil error, want %q", tt.name, tt.want)
		}
		if got := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), ""); got != tt.want {
			t.Errorf("ReadFile(%s) = %v, want %q", tt.name, err, tt.want)
		}
	}
	if _, err := NewDataset(pairs()); !errors.Is(err, ErrNoPairs) {
		t.Errorf("NewDataset(no pairs) = %v, want ErrNoPairs", err)
	}
}

// TestReadFileBadRows: bad rows are left out and counted, and the first
// ReportedBadRows are kept with their row number and what is wrong, which
// Lines lists under their count (eval printed only the count).
func TestReadFileBadRows(t *testing.T) {
	const good = "1\t10\t5\t881250949\n1\t11\t5\t881250949\n2\t10\t5\t881250949\n"
	for _, tt := range []struct {
		name    string
		content string
		pairs   int
		want    []string // Lines("u.data")
	}{
		{"no bad row", good, 3, nil},
		{"one", good + "3\t12\n", 3, []string{
			"u.data: 1 bad row skipped:",
			"  row 4: wrong number of columns: 2, want 4",
		}},
		{"three", good + "x\n3\t12\t5\n4 13 5 881250949\n", 3, []string{
			"u.data: 3 bad rows skipped:",
			"  row 4: wrong number of columns: 1, want 4",
			"  row 5: wrong number of columns: 3, want 4",
			"  row 6: wrong number of columns: 1, want 4",
		}},
		{"more than reported", good + strings.Repeat("x\n", 7), 3, []string{
			"u.data: 7 bad rows skipped, the first 5:",
			"  row 4: wrong number of columns: 1, want 4",
			"  row 5: wrong number of columns: 1, want 4",
			"  row 6: wrong number of columns: 1, want 4",
			"  row 7: wrong number of columns: 1, want 4",
			"  row 8: wrong number of columns: 1, want 4",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "u.data")
			if err := os.WriteFile(p, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			d, bad, err := ReadFile(context.Background(), p, eventfile.MovieLens)
			if err != nil {
				t.Fatal(err)
			}
			if got := bad.Lines("u.data"); d.Pairs() != tt.pairs || !slices.Equal(got, tt.want) {
				t.Errorf("ReadFile = %d pairs, bad rows\n%s\nwant %d pairs,\n%s", d.Pairs(), strings.Join(got, "\n"), tt.pairs, strings.Join(tt.want, "\n"))
			}
		})
	}
}
