package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/discret-io/discret/features/eventfile"
	"github.com/discret-io/discret/model/als"
	"github.com/discret-io/discret/model/eval"
)

func evalCommand() *command {
	var (
		format, epsilons, plotPath string
		factors, seeds             int
		delta                      float64
		asJSON, validation         bool
	)
	return &command{
		name:    "eval",
		args:    "DATASET",
		summary: "measure recommendation quality on a public dataset file, with and without privacy",
		help: `Eval measures offline recommendation quality on a public research dataset
(any format 'discret import' reads; MovieLens, Online Retail, Retailrocket)
without touching a data directory. It follows the protocol of EVAL.md: every
(user, item) pair counts once; a seeded per-user 20 % holdout (splitmix64,
seed 42) is the test set; every item is ranked (full ranking) and the metrics
are Precision@10, Recall@10, Recall@20 (hits / min(20, |test|)), NDCG@10 and
catalogue coverage, averaged over users and then over seeds (mean ± std).

It compares ALS with the most-popular baseline, and for every finite ε in
--epsilon the private ALS with DP most-popular at the same budget. Private
runs use the production sampler with test seeds (one per seed). Their δ is
1/(10·users) rounded down to a power of ten (DP-ALS.md C6), the setting of
the published figures; 'discret train' uses at most 10⁻⁶, a smaller δ, so
for fewer than 100,000 customers pass --delta 1e-6 to measure exactly what
it ships. --validation evaluates on the validation split carved from the
training part (seed 43) instead: the split for tuning.

Output: a table on stdout, or one JSON array with --json (keys model,
epsilon (null when non-private), precision@10, recall@10, recall@20, ndcg@10,
coverage, train_seconds, …); --plot FILE.png|svg draws NDCG@10 against ε.`,
		flags: func(fs *flag.FlagSet, _ *env) {
			fs.StringVar(&format, "format", "", "input `FORMAT`: "+formatNames()+" (default: detect)")
			fs.StringVar(&epsilons, "epsilon", "", fmt.Sprintf("comma-separated privacy budgets `LIST`, numbers ≥ %g or inf (default 0.5,1,2,5,10,inf)", minEpsilon))
			fs.IntVar(&factors, "factors", als.DefaultFactors, "dimension `N` of the vectors, 1 to 1024 (the training default); private runs use at most N, by the private rank rule of 'discret train'")
			fs.IntVar(&seeds, "seeds", eval.DefaultSeeds, "repetitions `N` with different training seeds, 1 to 100")
			fs.BoolVar(&asJSON, "json", false, "print one JSON array instead of the table")
			fs.StringVar(&plotPath, "plot", "", "draw the privacy–utility curve to `FILE` (.png or .svg)")
			fs.BoolVar(&validation, "validation", false, "evaluate on the validation split of the training part (for tuning)")
			fs.Float64Var(&delta, "delta", 0, "`δ` of the private runs, 0 < δ < 1/users (default 1/(10·users) rounded down to a power of ten)")
		},
		run: func(ctx context.Context, e *env, args []string) error {
			if len(args) != 1 {
				return usagef("want exactly one DATASET file")
			}
			if err := e.checkRanges(flagRange{"factors", factorsRange}, flagRange{"seeds", intRange(1, 100)}, flagRange{"delta", probability}); err != nil {
				return err
			}
			var f eventfile.Format
			if format != "" {
				var err error
				if f, err = eventfile.ParseFormat(format); err != nil {
					return usagef("--format: %v", err)
				}
			}
			var eps []float64
			if e.isSet("epsilon") {
				var err error
				if eps, err = parseEpsilonList("epsilon", epsilons); err != nil {
					return err
				}
			}
			plotFormat := ""
			if plotPath != "" {
				var err error
				if plotFormat, err = checkPlot(plotPath); err != nil {
					return err
				}
			}
			path := args[0]
			start := time.Now()
			d, bad, err := eval.ReadFile(ctx, path, f)
			if err != nil {
				return err
			}
			if bad > 0 {
				fmt.Fprintf(e.stderr, "%s: %d bad rows skipped\n", path, bad)
			}
			fmt.Fprintf(e.stderr, "%s: %d users, %d items, %d pairs (read in %.1f s)\n", path, d.Users(), d.Items(), d.Pairs(), time.Since(start).Seconds())
			rows, err := eval.Run(ctx, eval.Config{
				Name: datasetName(path), Dataset: d, Epsilons: eps, Factors: factors, Seeds: seeds, Validation: validation,
				Privacy: &als.Privacy{Delta: delta}, Log: func(s string) { fmt.Fprintln(e.stderr, s) },
			})
			if err != nil {
				return err
			}
			// The results first: a plot that fails to write loses nothing.
			if asJSON {
				err = eval.WriteJSON(e.stdout, rows)
			} else {
				err = eval.WriteTable(e.stdout, rows)
			}
			if err != nil || plotPath == "" {
				return err
			}
			if err := writeOutputFile(plotPath, func(w io.Writer) error { return eval.WritePlot(w, plotFormat, rows) }); err != nil {
				return fmt.Errorf("plot: %w (the results above are complete)", err)
			}
			fmt.Fprintf(e.stderr, "wrote %s\n", plotPath)
			return nil
		},
	}
}

// datasetName names a dataset after its directory (ml-1m/ratings.dat →
// "ml-1m"), or its file name without extensions.
func datasetName(path string) string {
	if dir := filepath.Base(filepath.Dir(path)); dir != "." && dir != string(filepath.Separator) {
		return dir
	}
	base := filepath.Base(path)
	if i := strings.IndexByte(base, '.'); i > 0 {
		base = base[:i]
	}
	return base
}
