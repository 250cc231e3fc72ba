package bench_test

import (
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/discret-io/discret/bench"
	"github.com/discret-io/discret/model/eval"
)

// The customers of a load test come from a list of raw ids, one per line.
func ExampleReadCustomers() {
	ids, err := bench.ReadCustomers(strings.NewReader("# MovieLens users\n1\n2\n\n3\n"))
	fmt.Println(ids, err)
	// Output: [1 2 3] <nil>
}

// Quality rows, as bench.Quality returns them, become a Markdown table.
func ExampleWriteQualityMarkdown() {
	rows := []eval.Row{
		{Dataset: "ml-1m", Model: eval.ModelPopular, Epsilon: math.Inf(1), Seeds: 1,
			Precision10: eval.Stat{Mean: 0.181}, Recall10: eval.Stat{Mean: 0.067}, Recall20: eval.Stat{Mean: 0.189}, NDCG10: eval.Stat{Mean: 0.203}, Coverage: eval.Stat{Mean: 0.018}},
		{Dataset: "ml-1m", Model: eval.ModelALS, Epsilon: 1, Delta: 1e-5, Factors: 11, Seeds: 3,
			Precision10: eval.Stat{Mean: 0.221, Std: 0.004}, Recall10: eval.Stat{Mean: 0.092, Std: 0.001}, Recall20: eval.Stat{Mean: 0.221, Std: 0.002},
			NDCG10: eval.Stat{Mean: 0.254, Std: 0.004}, Coverage: eval.Stat{Mean: 0.034, Std: 0.002}, TrainSeconds: eval.Stat{Mean: 0.18, Std: 0.01}},
	}
	bench.WriteQualityMarkdown(os.Stdout, rows)
	// Output:
	// | dataset | model | ε | δ | factors | P@10 | R@10 | R@20* | NDCG@10 | coverage | train s |
	// |---|---|---|---|---|---|---|---|---|---|---|
	// | ml-1m | popular | ∞ | – | – | 0.181 | 0.067 | 0.189 | 0.203 | 0.018 | 0.00 |
	// | ml-1m | als | 1 | 1e-05 | 11 | 0.221 ± 0.004 | 0.092 ± 0.001 | 0.221 ± 0.002 | 0.254 ± 0.004 | 0.034 ± 0.002 | 0.18 ± 0.01 |
	//
	// Split: test, per-user 20 % holdout (splitmix64, seed 42). Full ranking of the catalogue (items seen in training), the user's training items removed. R@10 = hits/|T_u|; R@20* = hits/min(20, |T_u|); mean ± std over 3 training seed(s), the split fixed. Private rows have the factors of the private rank rule of 'discret train' (at most the factors asked for). Protocol: go doc github.com/discret-io/discret/model/eval.
}
