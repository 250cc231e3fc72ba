package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/discret-io/discret/bench"
	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/eventfile"
	"github.com/discret-io/discret/model/als"
	"github.com/discret-io/discret/model/eval"
	"github.com/discret-io/discret/model/train"
)

// evalProtocol describes the offline evaluation protocol in the help of
// `discret eval` and `discret bench quality`.
const evalProtocol = `Protocol: every (user, item) pair counts once (ratings, times and event
types are ignored); a seeded per-user 20 % holdout (splitmix64, seed 42) is
the test set, and the split is the same for every model and seed; every
item seen in training is ranked for every user (full ranking, no sampled
negatives) with the user's training items removed; the metrics are
Precision@10, Recall@10 (hits / |test|), Recall@20 (hits / min(20, |test|)),
NDCG@10 and catalogue coverage, averaged over users, then over seeds
(mean ± std). The baselines are the most popular items and, for every
finite ε, a DP most-popular list at the same (ε, δ). Private ALS is the
algorithm of 'discret train' with its private rank rule, run with the
production sampler and test seeds (one per seed), so a rerun gives the
same figures. Details: go doc github.com/discret-io/discret/model/eval.`

// datasetLabelHelp says how `discret eval`, `discret bench train` and
// `discret bench quality` label a dataset file (bench.DatasetName).
const datasetLabelHelp = `A dataset file is labelled with the name of its
directory when that is a public dataset's (ml-100k, ml-1m, online-retail)
or when the file has the generic name of a public dataset's file (u.data,
ratings.dat, ratings.csv, ratings_pairs.csv, online_retail.csv), else with
its file name without extensions (.gz, .csv, .jsonl, .data, …)`

// badRowsHelp says what `discret eval`, `discret bench quality` and
// `discret bench train` do with a dataset's bad rows (eval.BadRows).
var badRowsHelp = fmt.Sprintf(`Bad rows are skipped (a public dataset with a few stray lines is still
usable); their count and the first %d, each with its row number and what
is wrong, go to stderr. A file without a usable row fails, naming what is
wrong with its first.`, eval.ReportedBadRows)

// evalConfigHelp says what `discret eval` and `discret bench quality` take
// from the configuration file.
const evalConfigHelp = `With --config FILE (env DISCRET_CONFIG) the file is read and checked as for
every command, and its "training" section sets the defaults of the models
evaluated, as for 'discret train': factors, iterations, lambda, rank, clip,
max_items_per_user and delta; flags override them. Its epsilon (a sweep is
evaluated instead), weights, strength_cap and alpha (the protocol uses
(user, item) pairs, each with confidence 1) do not apply.`

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
without touching a data directory. It compares ALS with the most-popular
baseline, and for every finite ε in --epsilon the private ALS with DP
most-popular at the same budget. DATASET is a file, or - for standard input
(gzip or not; read once, as it streams in; labelled stdin).

` + badRowsHelp + `

` + evalProtocol + `

The δ of the private runs is 1/(10·users) rounded down to a power of ten,
the setting of the published figures; 'discret train' uses at most 10⁻⁶, a
smaller δ, so for fewer than 100,000 customers pass --delta 1e-6 (or set
training.delta) to measure exactly what it ships; a δ not below 1/users is
refused (exit 2 for --delta) once the file is read, before anything is
trained. --validation evaluates on the validation split instead (20 % of
each user's training items, seed 43; the test items are never seen): the
split for tuning. The table says which split it shows, and every JSON row
has "split": "test" or "validation".

Eval fails, rather than print figures that are 0 whatever the model, when
the split leaves nothing to rank: when no user has 2 or more distinct items
(3 with --validation), so none has a held-out item, or when no held-out
item was seen in training by any user (a single user, or users with too
few items in common).

` + evalConfigHelp + `

Output: a table on stdout, or one JSON array with --json (keys dataset,
split, model, epsilon and delta (null when non-private), factors, seeds,
users, precision@10, recall@10, recall@20, ndcg@10, coverage,
train_seconds, each with a _std key, and ndcg@10_se); --plot FILE.png|svg
draws NDCG@10 against ε. ` + datasetLabelHelp + `.
Progress goes to stderr: a line after each ALS iteration and after each
model.`,
		flags: func(fs *flag.FlagSet, _ *env) {
			fs.StringVar(&format, "format", "", "input `FORMAT`: "+formatNames()+" (default: detect)")
			fs.StringVar(&epsilons, "epsilon", "", fmt.Sprintf("comma-separated privacy budgets `LIST`, distinct, numbers from %g to %g or inf (default 0.5,1,2,5,10,inf)", minEpsilon, float64(maxEpsilon)))
			fs.IntVar(&factors, "factors", 0, fmt.Sprintf("dimension `N` of the vectors, 1 to 1024 (default: training.factors of --config, else %d, the training default); private runs use at most N, by the private rank rule of 'discret train'", als.DefaultFactors))
			fs.IntVar(&seeds, "seeds", eval.DefaultSeeds, "repetitions `N` with different training seeds, 1 to 100")
			fs.BoolVar(&asJSON, "json", false, "print one JSON array instead of the table")
			fs.StringVar(&plotPath, "plot", "", "draw the privacy–utility curve to `FILE` (.png or .svg)")
			fs.BoolVar(&validation, "validation", false, "evaluate on the validation split of the training part (for tuning)")
			fs.Float64Var(&delta, "delta", 0, "`δ` of the private runs, 1e-12 ≤ δ < 1/users (default: training.delta of --config, else 1/(10·users) rounded down to a power of ten)")
		},
		run: func(ctx context.Context, e *env, args []string) error {
			if len(args) != 1 {
				return usagef("want exactly one DATASET file")
			}
			if err := e.checkRanges(flagRange{"factors", factorsRange}, flagRange{"seeds", intRange(1, 100)}, flagRange{"delta", evalDeltaRange}); err != nil {
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
				if err := checkDistinct("epsilon", epsilons, eps); err != nil {
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
			alsCfg, priv, err := evalSettings(e, factors, delta)
			if err != nil {
				return err
			}
			path, label := args[0], bench.DatasetName(args[0])
			start := time.Now()
			// Read once, as it streams in: unlike import, which reads its
			// input twice, eval needs no copy of standard input.
			var d *eval.Dataset
			var bad eval.BadRows
			if path == "-" {
				path, label = "standard input", "stdin"
				var in io.ReadCloser
				if in, err = eventfile.NewReader(io.NopCloser(os.Stdin), path); err != nil {
					return err
				}
				d, bad, err = eval.Read(ctx, in, path, f)
				in.Close() // read-only: all it had was read
			} else {
				d, bad, err = eval.ReadFile(ctx, path, f)
			}
			if err != nil {
				return err
			}
			for _, l := range bad.Lines(path) {
				fmt.Fprintln(e.stderr, l)
			}
			fmt.Fprintf(e.stderr, "%s: %s, %s, %s (read in %.1f s)\n", path, features.Plural(d.Users(), "user"), features.Plural(d.Items(), "item"), features.Plural(d.Pairs(), "pair"), time.Since(start).Seconds())
			if err := checkEvalDelta(e, priv.Delta, d.Users(), path); err != nil {
				return err
			}
			rows, err := eval.Run(ctx, eval.Config{
				Name: label, Dataset: d, Epsilons: eps, Seeds: seeds, Validation: validation,
				ALS: alsCfg, Privacy: &priv, Log: func(s string) { fmt.Fprintln(e.stderr, s) },
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

// evalDeltaRange is the range of eval's --delta known before the data is
// read (it must also be below 1/users): the lower bound of a training run's.
var evalDeltaRange = numRange{func(x float64) bool { return x >= train.MinDelta && x < 1 }, fmt.Sprintf("a number with %g ≤ δ < 1", train.MinDelta)}

// checkEvalDelta refuses a δ (of --delta, a usage error, or of the
// configuration's training.delta; 0: the default) that is not below 1/users
// for the users of the dataset file path, before anything is trained: the
// private runs come after the non-private ones, and would fail only then.
func checkEvalDelta(e *env, delta float64, users int, path string) error {
	if delta == 0 || delta < 1/float64(max(1, users)) {
		return nil
	}
	if e.isSet("delta") {
		return usagef("--delta %g: want δ < 1/users = %.3g for the %d users of %s", delta, 1/float64(max(1, users)), users, path)
	}
	return fmt.Errorf("training.delta %g of %s: want δ < 1/users = %.3g for the %d users of %s; pass a smaller --delta", delta, e.global.config, 1/float64(max(1, users)), users, path)
}

// evalSettings returns the ALS hyper-parameters and private-training
// settings of `discret eval` and `discret bench quality` (evalConfigHelp):
// the configuration file's "training" values (--config, read and checked
// as every command does), overridden by --factors and --delta when the
// command line sets them. Zero values mean the built-in defaults.
func evalSettings(e *env, factors int, delta float64) (als.Config, als.Privacy, error) {
	tc := trainConfig(e.conf)
	a := als.Config{Factors: tc.ALS.Factors, Iterations: tc.ALS.Iterations, Lambda: tc.ALS.Lambda}
	p := als.Privacy{Delta: tc.Delta, MaxItems: tc.Privacy.MaxItems, ClipNorm: tc.Privacy.ClipNorm, Rank: tc.Privacy.Rank}
	if e.isSet("factors") {
		a.Factors = factors
		if f := cmp.Or(a.Factors, als.DefaultFactors); p.Rank > f {
			return a, p, usagef("training.rank %d of %s exceeds --factors %d: a private model has at most --factors factors", p.Rank, e.global.config, f)
		}
	}
	if e.isSet("delta") {
		p.Delta = delta
	}
	return a, p, nil
}

// checkDistinct returns a usage error naming the flag --name if two
// entries of its comma-separated list have the same value: values holds
// the parsed entries of list, one per entry (as parseEpsilonList and
// parseIntList return them). A repeated value would be evaluated twice or
// merged without a word.
func checkDistinct[T comparable](name, list string, values []T) error {
	entries := strings.Split(list, ",")
	for i, v := range values {
		for j := range i {
			if values[j] == v {
				return usagef("--%s: entry %d, %s, repeats entry %d, %s; give each value once", name, i+1, strings.TrimSpace(entries[i]), j+1, strings.TrimSpace(entries[j]))
			}
		}
	}
	return nil
}
