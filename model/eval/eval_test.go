package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/discret-io/discret/model/als"
)

// TestSplitmix64 pins the generator of EVAL.md step 3 to values computed
// with Python integers:
//
//	M = 2**64 - 1; s = 42
//	s = (s + 0x9E3779B97F4A7C15) & M; z = s
//	z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
//	z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
//	print(hex(z ^ (z >> 31)))   # and twice more
func TestSplitmix64(t *testing.T) {
	r := splitmix64{state: 42}
	for i, want := range []uint64{0xbdd732262feb6e95, 0x28efe333b266f103, 0x47526757130f9f52} {
		if got := r.next(); got != want {
			t.Errorf("splitmix64(42) output %d = %#x, want %#x", i, got, want)
		}
	}
}

// TestSplitRows pins the split on a hand-made case. Reference (Python 3,
// with the splitmix64 of TestSplitmix64 as r.next()):
//
//	rows = [[0,1,2,3,4],[5],[6,7],[0,2,4,6,8,9,10,11,12,13],[]]
//	r = SM(42)
//	for row in rows:
//	    b = list(row); n = len(b)
//	    for i in range(n-1, 0, -1):
//	        j = r.next() % (i+1); b[i], b[j] = b[j], b[i]
//	    k = math.floor(0.2*n)
//	    if k == 0 and n >= 2: k = 1
//	    test, train = sorted(b[:k]), sorted(b[k:])
func TestSplitRows(t *testing.T) {
	rows := [][]int32{{0, 1, 2, 3, 4}, {5}, {6, 7}, {0, 2, 4, 6, 8, 9, 10, 11, 12, 13}, {}}
	s := SplitRows(rows, 42, 0.2)
	wantTrain := [][]int32{{0, 2, 3, 4}, {5}, {6}, {2, 4, 6, 8, 9, 10, 11, 13}, {}}
	wantTest := [][]int32{{1}, {}, {7}, {0, 12}, {}}
	for u := range rows {
		if !slices.Equal(s.Train[u], wantTrain[u]) || !slices.Equal(s.Test[u], wantTest[u]) {
			t.Errorf("SplitRows row %d = train %v test %v, want train %v test %v", u, s.Train[u], s.Test[u], wantTrain[u], wantTest[u])
		}
	}
}

func pairs(ps ...string) func(func(string, string) bool) {
	return func(yield func(string, string) bool) {
		for i := 0; i+1 < len(ps); i += 2 {
			if !yield(ps[i], ps[i+1]) {
				return
			}
		}
	}
}

func TestDatasetOrder(t *testing.T) {
	tests := []struct {
		name         string
		pairs        []string
		users, items []string
		rows         [][]int32
	}{
		{
			name:  "numeric ids",
			pairs: []string{"10", "100", "9", "20", "10", "3", "10", "100"},
			users: []string{"9", "10"}, items: []string{"3", "20", "100"},
			rows: [][]int32{{1}, {0, 2}},
		},
		{
			name:  "lexicographic when one id is not an integer",
			pairs: []string{"b", "10", "10", "9", "9", "a1"},
			users: []string{"10", "9", "b"}, items: []string{"10", "9", "a1"},
			rows: [][]int32{{1}, {2}, {0}},
		},
	}
	for _, tt := range tests {
		d, err := NewDataset(pairs(tt.pairs...))
		if err != nil {
			t.Fatal(err)
		}
		var users, items []string
		for u := range d.Users() {
			users = append(users, d.User(u))
		}
		for j := range d.Items() {
			items = append(items, d.Item(j))
		}
		if !slices.Equal(users, tt.users) || !slices.Equal(items, tt.items) {
			t.Errorf("%s: users %v items %v, want %v %v", tt.name, users, items, tt.users, tt.items)
		}
		for u, want := range tt.rows {
			if !slices.Equal(d.Row(u), want) {
				t.Errorf("%s: Row(%d) = %v, want %v", tt.name, u, d.Row(u), want)
			}
		}
	}
	if d, _ := NewDataset(pairs("1", "2", "1", "2")); d.Pairs() != 1 {
		t.Errorf("duplicate pairs: Pairs() = %d, want 1", d.Pairs())
	}
	if _, err := NewDataset(pairs("1", "")); err == nil {
		t.Error("NewDataset(empty item) = nil error, want an error")
	}
	if _, err := NewDataset(pairs()); err == nil {
		t.Error("NewDataset(no pairs) = nil error, want an error")
	}
}

// TestEvaluate checks the metrics on a case computed by hand: 14 items with
// fixed scores (items 2 and 3 tie), user 0 trains on {0} and is tested on
// {1, 5}; user 1 trains on {2, 3} and is tested on {0, 4} plus one item
// outside the catalogue; users 2 and 3 are skipped (no training or no test
// item).
//
//	user 0: top 10 = 1..10, hits at ranks 1 and 5: NDCG = (1 + 1/log2 6)/(1 + 1/log2 3)
//	user 1: top 10 = 0,1,4,…,11, hits at ranks 1 and 3, |T| = 3:
//	        NDCG = (1 + 1/log2 4)/(1 + 1/log2 3 + 1/log2 4)
//	P@10 = 0.2, R@10 = R@20 = (1 + 2/3)/2, coverage = 12/14
//
// (math.log2 in Python 3 gives NDCG 0.8503449055347546 and 0.7039180890341347;
// statistics.stdev of the two over √2 gives the standard error
// 0.07321340825030997.)
func TestEvaluate(t *testing.T) {
	scores := []float64{9, 8, 7, 7, 1, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.04, 0.03, 0.02}
	train := [][]int32{{0}, {2, 3}, {}, {5}}
	test := [][]int32{{1, 5}, {0, 4, -1}, {1}, {}}
	for _, workers := range []int{1, 3} {
		m, err := Evaluate(context.Background(), train, test, len(scores), workers, func() Scorer {
			return func(_ int, s []float64) { copy(s, scores) }
		})
		if err != nil {
			t.Fatal(err)
		}
		want := Metrics{Users: 2, Precision10: 0.2, Recall10: 0.8333333333333333, Recall20: 0.8333333333333333,
			NDCG10: 0.7771314972844446, Coverage: 0.8571428571428571, NDCG10SE: 0.07321340825030997}
		if m.Users != want.Users || !near(m.Precision10, want.Precision10) || !near(m.Recall10, want.Recall10) ||
			!near(m.Recall20, want.Recall20) || !near(m.NDCG10, want.NDCG10) || !near(m.Coverage, want.Coverage) ||
			!near(m.NDCG10SE, want.NDCG10SE) {
			t.Errorf("Evaluate(workers=%d) = %+v, want %+v", workers, m, want)
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

// TestRecall20Denominator: R@20 divides by min(20, |T|), R@10 by |T|.
func TestRecall20Denominator(t *testing.T) {
	const items = 60
	scores := make([]float64, items)
	for j := range scores {
		scores[j] = float64(items - j)
	}
	test := make([]int32, 30) // items 0..29: the top 20 are all hits
	for j := range test {
		test[j] = int32(j)
	}
	m, err := Evaluate(context.Background(), [][]int32{{59}}, [][]int32{test}, items, 1, func() Scorer {
		return func(_ int, s []float64) { copy(s, scores) }
	})
	if err != nil {
		t.Fatal(err)
	}
	if !near(m.Recall20, 1) || !near(m.Recall10, 10.0/30) || !near(m.NDCG10, 1) || !near(m.Precision10, 1) || m.NDCG10SE != 0 {
		t.Errorf("Evaluate = %+v, want R@20 1, R@10 1/3, NDCG 1, P@10 1, NDCG SE 0 (one user)", m)
	}
}

func TestTopK(t *testing.T) {
	tests := []struct {
		scores   []float64
		excluded []int
		k        int
		want     []int32
	}{
		{[]float64{1, 3, 3, 2}, nil, 2, []int32{1, 2}},
		{[]float64{1, 3, 3, 2}, []int{1}, 2, []int32{2, 3}},
		{[]float64{5, 5, 5, 5}, nil, 3, []int32{0, 1, 2}},
		{[]float64{math.NaN(), 1, 2}, nil, 3, []int32{2, 1}},
		{[]float64{0, 1, 2, 3, 4, 5}, []int{5}, 3, []int32{4, 3, 2}},
	}
	for _, tt := range tests {
		ex := make([]bool, len(tt.scores))
		for _, j := range tt.excluded {
			ex[j] = true
		}
		if got := topK(tt.scores, ex, make([]int32, 0, tt.k), tt.k); !slices.Equal(got, tt.want) {
			t.Errorf("topK(%v, excluded %v, %d) = %v, want %v", tt.scores, tt.excluded, tt.k, got, tt.want)
		}
	}
}

// FuzzTopK compares topK with a full stable sort.
func FuzzTopK(f *testing.F) {
	f.Add(uint64(1), 30, 10)
	f.Fuzz(func(t *testing.T, seed uint64, n, k int) {
		n, k = 1+abs(n)%200, 1+abs(k)%25
		r := rand.New(rand.NewPCG(seed, 0))
		scores := make([]float64, n)
		ex := make([]bool, n)
		for j := range scores {
			scores[j] = float64(r.IntN(8)) // many ties
			ex[j] = r.IntN(5) == 0
		}
		var order []int32
		for j := range n {
			if !ex[j] {
				order = append(order, int32(j))
			}
		}
		slices.SortStableFunc(order, func(a, b int32) int { return cmpFloat(scores[b], scores[a]) })
		want := order[:min(k, len(order))]
		if got := topK(scores, ex, make([]int32, 0, k), k); !slices.Equal(got, want) {
			t.Errorf("topK = %v, want %v", got, want)
		}
	})
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// synthetic returns a small dataset with a cluster structure.
func synthetic(users, items, perUser int) *Dataset {
	r := rand.New(rand.NewPCG(1, 2))
	var ps []string
	for u := range users {
		for range perUser {
			j := r.IntN(items)
			if r.Float64() < 0.7 {
				j = (j/4)*4 + u%4
			}
			ps = append(ps, fmt.Sprint(u+1), fmt.Sprint(min(j, items-1)+1))
		}
	}
	d, err := NewDataset(pairs(ps...))
	if err != nil {
		panic(err)
	}
	return d
}

func TestRun(t *testing.T) {
	d := synthetic(300, 80, 20)
	cfg := Config{Name: "synthetic", Dataset: d, Epsilons: []float64{math.Inf(1), 2, 8}, Seeds: 2,
		ALS: als.Config{Factors: 8, Iterations: 4}}
	rows, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		model string
		eps   float64
	}
	var got []key
	for _, r := range rows {
		got = append(got, key{r.Model, r.Epsilon})
	}
	want := []key{{ModelPopular, math.Inf(1)}, {ModelALS, math.Inf(1)}, {ModelDPPopular, 2}, {ModelALS, 2}, {ModelDPPopular, 8}, {ModelALS, 8}}
	if !slices.Equal(got, want) {
		t.Fatalf("Run rows = %v, want %v", got, want)
	}
	pop, nonPrivate := rows[0], rows[1]
	if !(nonPrivate.NDCG10.Mean > pop.NDCG10.Mean) {
		t.Errorf("non-private ALS NDCG@10 %v is not above most-popular %v", nonPrivate.NDCG10.Mean, pop.NDCG10.Mean)
	}
	for _, r := range rows {
		if r.Users == 0 || r.Dataset != "synthetic" {
			t.Errorf("row %+v: no users or wrong dataset", r)
		}
		if r.Model != ModelPopular && r.Seeds != 2 {
			t.Errorf("row %s ε=%v: %d seeds, want 2", r.Model, r.Epsilon, r.Seeds)
		}
		if !math.IsInf(r.Epsilon, 1) && r.Delta != 1e-4 { // 1/(10·300) rounded down
			t.Errorf("row %s ε=%v: δ = %v, want 1e-4", r.Model, r.Epsilon, r.Delta)
		}
	}
	// An explicit δ reaches both private models.
	cfg.Privacy = &als.Privacy{Delta: 1e-6}
	cfg.Epsilons = []float64{2}
	drows, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range drows[1:] {
		if r.Delta != 1e-6 {
			t.Errorf("with Privacy.Delta = 1e-6, row %s ε=%v: δ = %v", r.Model, r.Epsilon, r.Delta)
		}
	}
	cfg.Privacy = nil
	// The validation split gives other (lower) figures from the training part only.
	cfg.Validation = true
	cfg.Epsilons = []float64{math.Inf(1)}
	vrows, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if vrows[1].NDCG10.Mean == nonPrivate.NDCG10.Mean {
		t.Error("validation and test runs gave identical figures")
	}
}

func TestRunErrors(t *testing.T) {
	d := synthetic(20, 10, 5)
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no dataset", Config{}},
		{"negative seeds", Config{Dataset: d, Seeds: -1}},
		{"zero epsilon", Config{Dataset: d, Epsilons: []float64{0}}},
		{"bad ALS config", Config{Dataset: d, ALS: als.Config{Lambda: -1}}},
		{"δ not below 1/n", Config{Dataset: d, Epsilons: []float64{1}, Privacy: &als.Privacy{Delta: 0.1}}},
	}
	for _, tt := range tests {
		if _, err := Run(context.Background(), tt.cfg); err == nil {
			t.Errorf("Run(%s) = nil error, want an error", tt.name)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, Config{Dataset: d}); err == nil {
		t.Error("Run(cancelled) = nil error, want an error")
	}
}

func sampleRows() []Row {
	return []Row{
		{Dataset: "ml-1m", Model: ModelPopular, Epsilon: math.Inf(1), Seeds: 1, Users: 6040, NDCG10: Stat{0.2, 0}},
		{Dataset: "ml-1m", Model: ModelALS, Epsilon: math.Inf(1), Factors: 64, Seeds: 3, Users: 6040, NDCG10: Stat{0.42, 0.001}, TrainSeconds: Stat{2.5, 0.1}},
		{Dataset: "ml-1m", Model: ModelDPPopular, Epsilon: 1, Delta: 1e-5, Seeds: 3, Users: 6040, NDCG10: Stat{0.19, 0.002}},
		{Dataset: "ml-1m", Model: ModelALS, Epsilon: 1, Delta: 1e-5, Factors: 64, Seeds: 3, Users: 6040, NDCG10: Stat{0.25, 0.01}},
		{Dataset: "ml-1m", Model: ModelDPPopular, Epsilon: 10, Delta: 1e-5, Seeds: 3, Users: 6040, NDCG10: Stat{0.2, 0.001}},
		{Dataset: "ml-1m", Model: ModelALS, Epsilon: 10, Delta: 1e-5, Factors: 64, Seeds: 3, Users: 6040, NDCG10: Stat{0.33, 0.004}},
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, sampleRows()); err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	if err := json.Unmarshal(b.Bytes(), &out); err != nil {
		t.Fatalf("WriteJSON output is not one JSON array: %v", err)
	}
	if len(out) != 6 {
		t.Fatalf("WriteJSON wrote %d objects, want 6", len(out))
	}
	for _, k := range []string{"model", "epsilon", "precision@10", "recall@10", "recall@20", "ndcg@10", "ndcg@10_se", "train_seconds"} {
		if _, ok := out[3][k]; !ok {
			t.Errorf("WriteJSON object lacks key %q", k)
		}
	}
	if out[1]["epsilon"] != nil || out[3]["epsilon"] != 1.0 || out[3]["model"] != "als" || out[3]["ndcg@10"] != 0.25 {
		t.Errorf("WriteJSON objects 1 and 3 = %v, %v; want epsilon null then 1, model als, ndcg@10 0.25", out[1], out[3])
	}
	// Every row has every key: a baseline's factors are null, not absent.
	if f, ok := out[0]["factors"]; !ok || f != nil || out[3]["factors"] != 64.0 {
		t.Errorf("WriteJSON factors = %v (present %v) for most-popular, %v for ALS; want null, 64", f, ok, out[3]["factors"])
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, sampleRows()); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, want := range []string{"NDCG@10", "dp-popular", "0.420 ± 0.001", "∞", "1e-05", "R@20* = hits/min(20, |T_u|)"} {
		if !strings.Contains(s, want) {
			t.Errorf("WriteTable output lacks %q:\n%s", want, s)
		}
	}
}

func TestWritePlot(t *testing.T) {
	for _, format := range []string{"png", "svg"} {
		var b bytes.Buffer
		if err := WritePlot(&b, format, sampleRows()); err != nil {
			t.Fatal(err)
		}
		if format == "png" {
			img, err := png.Decode(&b)
			if err != nil {
				t.Fatalf("WritePlot(png) is not a PNG: %v", err)
			}
			if r := img.Bounds(); r.Dx() < 400 || r.Dy() < 250 {
				t.Errorf("WritePlot(png) is %v, want a readable size", r)
			}
		} else if s := b.String(); !strings.Contains(s, "<svg") || !strings.Contains(s, "NDCG@10") {
			t.Errorf("WritePlot(svg) lacks an svg element or the axis label")
		}
	}
	if err := WritePlot(&bytes.Buffer{}, "gif", sampleRows()); err == nil {
		t.Error("WritePlot(gif) = nil error, want an error")
	}
	for path, want := range map[string]string{"a.png": "png", "b.SVG": "svg", "c.pdf": ""} {
		got, err := PlotFormat(path)
		if got != want || (err != nil) != (want == "") {
			t.Errorf("PlotFormat(%q) = %q, %v; want %q", path, got, err, want)
		}
	}
}

// TestRunReproducible: with the same seeds, Run gives the same figures to
// the last bit, whatever the scheduling of its workers (the DP baselines
// draw from test-seeded streams; Go's map order and the order in which
// workers finish must not leak in). Run it with -count=5.
func TestRunReproducible(t *testing.T) {
	d := synthetic(200, 300, 25)
	cfg := Config{Name: "synthetic", Dataset: d, Epsilons: []float64{1, math.Inf(1)}, Seeds: 1, Workers: 4, PopularItems: 5,
		ALS: als.Config{Factors: 4, Iterations: 2}}
	clean := func(rows []Row) []Row {
		for i := range rows {
			rows[i].TrainSeconds = Stat{}
		}
		return rows
	}
	want, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	clean(want)
	for i := range 3 {
		cfg.Workers = 1 + i*3
		got, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if clean(got); !slices.Equal(got, want) {
			t.Fatalf("Run with %d workers = %+v, want %+v (as the first run)", cfg.Workers, got, want)
		}
	}
}

func TestRowSplit(t *testing.T) {
	d := synthetic(60, 30, 10)
	for _, tt := range []struct {
		validation bool
		want       string
	}{{false, SplitTest}, {true, SplitValidation}} {
		rows, err := Run(context.Background(), Config{Dataset: d, Epsilons: []float64{math.Inf(1)}, Seeds: 1, Validation: tt.validation, ALS: als.Config{Factors: 2, Iterations: 1}})
		if err != nil {
			t.Fatal(err)
		}
		var table, js bytes.Buffer
		if err := WriteTable(&table, rows); err != nil {
			t.Fatal(err)
		}
		if err := WriteJSON(&js, rows); err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r.Split != tt.want {
				t.Errorf("Run(Validation %v) row split = %q, want %q", tt.validation, r.Split, tt.want)
			}
		}
		if n := strings.Count(js.String(), `"split": "`+tt.want+`"`); n != len(rows) {
			t.Errorf("WriteJSON(Validation %v): %d rows with split %q, want %d", tt.validation, n, tt.want, len(rows))
		}
		if got := strings.HasPrefix(table.String(), "VALIDATION split"); got != tt.validation {
			t.Errorf("WriteTable(Validation %v) starts with the VALIDATION line: %v\n%s", tt.validation, got, table.String())
		}
		if !strings.Contains(table.String(), "Split: "+tt.want) {
			t.Errorf("WriteTable(Validation %v) footer does not name the split:\n%s", tt.validation, table.String())
		}
	}
}

// TestRunLogEpsilon: the progress lines write ε as the table does (∞ for
// a non-private run, as the flags' "inf"), never Go's "+Inf".
func TestRunLogEpsilon(t *testing.T) {
	var lines []string
	cfg := Config{Name: "synthetic", Dataset: synthetic(100, 40, 10), Epsilons: []float64{0.5, math.Inf(1)}, Seeds: 1,
		ALS: als.Config{Factors: 4, Iterations: 2}, Log: func(s string) { lines = append(lines, s) }}
	rows, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	log := strings.Join(lines, "\n")
	for _, tt := range []struct{ model, eps string }{
		{ModelALS, "∞"},
		{ModelALS, "0.5"},
		{ModelDPPopular, "0.5"},
	} {
		if want := "synthetic " + tt.model + " ε=" + tt.eps + " seed 1: "; !strings.Contains(log, want) {
			t.Errorf("progress lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "Inf") {
		t.Errorf("progress writes ε as Go's Inf:\n%s", log)
	}
	for _, r := range rows {
		if got := r.Cells()[2]; !strings.Contains(log, " ε="+got+" ") && r.Model != ModelPopular {
			t.Errorf("row %s shows ε %q, which no progress line shows:\n%s", r.Model, got, log)
		}
	}
}

// TestServedScores checks that the evaluation ranks a model's catalogue in
// serve/recommend's order (Engine.Recommend): items with a vector and a
// positive score, then items without a vector by released count (ties to
// the lower index), then items with a vector and a score ≤ 0; an item
// without a vector or a positive count last; and by count alone for a user
// whose vector is zero.
func TestServedScores(t *testing.T) {
	// Item:            0  1  2   3  4  5  6   7
	// vector·u:        1  –  -1  –  2  –  0   –
	// trained:         y  y  y   n  y  y  y   y (zero vector: 1, 5, 7)
	// count:           2  5  8   9  1  9  3   0
	m := &als.Model{
		Factors: 1, Items: 8,
		V:          []float64{1, 0, -1, 0, 2, 0, 0.25, 0},
		InUniverse: []bool{true, true, true, false, true, true, true, true},
		Counts:     []float64{2, 5, 8, 9, 1, 9, 3, 0},
	}
	m.V[6] = 1e-300 // a vector whose score rounds to 0 is still a vector
	none := withoutVector(m)
	order := func(personal bool) []int32 {
		scores := make([]float64, m.Items)
		for j := range scores {
			scores[j] = m.V[j]
			if j == 6 {
				scores[j] = 0
			}
		}
		servedScores(scores, m.Counts, none, personal)
		return topK(scores, make([]bool, m.Items), nil, m.Items)
	}
	if got, want := order(true), []int32{4, 0, 3, 5, 1, 6, 2, 7}; !slices.Equal(got, want) {
		t.Errorf("personal order = %v, want %v", got, want)
	}
	if got, want := order(false), []int32{3, 5, 2, 1, 6, 0, 4, 7}; !slices.Equal(got, want) {
		t.Errorf("popular order = %v, want %v", got, want)
	}

	// A model whose items all have vectors is ranked by its scores alone.
	full := &als.Model{Factors: 1, Items: 3, V: []float64{1, -1, 0.5}, InUniverse: []bool{true, true, true}, Counts: []float64{1, 2, 3}}
	if withoutVector(full) != nil {
		t.Fatal("withoutVector of a model without zero vectors is not nil")
	}
	scores := []float64{1, -1, 0.5}
	servedScores(scores, full.Counts, nil, true)
	if !slices.Equal(scores, []float64{1, -1, 0.5}) {
		t.Errorf("scores of a full model changed to %v", scores)
	}
}

// TestRunLogIterations: Log receives a line after every ALS iteration of
// every run, before the run's result line (eval was silent while a large
// model trained).
func TestRunLogIterations(t *testing.T) {
	d := synthetic(100, 40, 10)
	for _, tt := range []struct {
		name       string
		eps        float64
		iterations int
		seeds      int
	}{
		{"non-private", math.Inf(1), 3, 1},
		{"private, two seeds", 2, 2, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var lines []string
			cfg := Config{Name: "syn", Dataset: d, Epsilons: []float64{tt.eps}, Seeds: tt.seeds,
				ALS: als.Config{Factors: 4, Iterations: tt.iterations}, Log: func(s string) { lines = append(lines, s) }}
			if _, err := Run(context.Background(), cfg); err != nil {
				t.Fatal(err)
			}
			var want []string // the ALS lines, iteration lines with their time cut
			for seed := 1; seed <= tt.seeds; seed++ {
				for it := 1; it <= tt.iterations; it++ {
					want = append(want, fmt.Sprintf("syn als ε=%s seed %d: iteration %d/%d (", epsilonText(tt.eps), seed, it, tt.iterations))
				}
				want = append(want, fmt.Sprintf("syn als ε=%s seed %d: 4 factors", epsilonText(tt.eps), seed))
			}
			var got []string
			for _, l := range lines {
				if !strings.HasPrefix(l, "syn als ") {
					continue
				}
				if i := strings.Index(l, " ("); strings.Contains(l, ": iteration ") && i > 0 && strings.HasSuffix(l, " s)") {
					l = l[:i+2]
				} else if i := strings.Index(l, " factors"); i > 0 {
					l = l[:i+len(" factors")]
				}
				got = append(got, l)
			}
			if !slices.Equal(got, want) {
				t.Errorf("Run logged\n%s\nwant ALS lines\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}
