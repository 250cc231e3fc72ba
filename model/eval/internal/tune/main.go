// Command tune runs eval.Run over grids of hyper-parameters and prints one
// line per (setting, model, ε). By default it evaluates on the validation
// split (seed 43, carved from the training part of the EVAL.md split), which
// is how the defaults of package als were chosen (model/eval/TUNING.md);
// -test evaluates on the test split. A flag left at 0 (or empty) means the
// package default, so
//
//	go run ./model/eval/internal/tune -data $DISCRET_DATASETS -dataset ml-1m -test -seeds 3 \
//	    -eps 1,5,10,inf -table -plot ml-1m.png
//
// reproduces the reported figures. Grid flags take comma-separated lists.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/discret-io/discret/model/als"
	"github.com/discret-io/discret/model/eval"
)

func floats(s string) []float64 {
	var xs []float64
	for _, f := range strings.Split(s, ",") {
		if f == "inf" {
			xs = append(xs, math.Inf(1))
			continue
		}
		x, err := strconv.ParseFloat(f, 64)
		if err != nil {
			log.Fatalf("tune: bad number %q", f)
		}
		xs = append(xs, x)
	}
	return xs
}

func main() {
	dir := flag.String("data", cmp.Or(os.Getenv("DISCRET_DATASETS"), os.Getenv("DISCRET_DATA_DIR")), "data directory (DISCRET_DATASETS layout)")
	name := flag.String("dataset", "ml-100k", "dataset: ml-100k, ml-1m or online-retail")
	test := flag.Bool("test", false, "evaluate on the test split instead of the validation split")
	factors := flag.Int("factors", 0, "factors")
	iters := flag.String("iters", "0", "iterations (T for private runs)")
	lambda := flag.String("lambda", "0", "λ values")
	w0 := flag.String("w0", "0", "w0 values")
	nu := flag.String("nu", "0", "ν values")
	clip := flag.String("R", "0", "private: clip norm R values")
	beta := flag.String("beta", "0", "private: budget β values")
	frac := flag.String("frac", "0", "private: item fraction values")
	rank := flag.Int("rank", 0, "private: rank (0: the PrivateRank rule)")
	kmax := flag.Int("k", 0, "private: max items k (0: ⌈β⌉)")
	policy := flag.String("policy", "uniform", "private: uniform, tail, strongest or all")
	gram := flag.String("gram", "proxy", "private: proxy or noisy")
	noShrink := flag.Bool("noshrink", false, "private: no James–Stein shrinkage")
	share := flag.String("share", "0", "private: share of ρ spent on the item counts")
	kp := flag.Int("kp", 0, "dp-popular k_p")
	seeds := flag.Int("seeds", 1, "seeds")
	eps := flag.String("eps", "inf", "ε values (inf: non-private)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile")
	plotFile := flag.String("plot", "", "write the plot of the last grid point to this .png or .svg file")
	table := flag.Bool("table", false, "print the table and JSON of every grid point")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	files := map[string]string{"ml-100k": "ml-100k/u.data", "ml-1m": "ml-1m/ratings_pairs.csv.gz", "online-retail": "online-retail/online_retail.csv.gz"}
	if files[*name] == "" {
		log.Fatalf("unknown dataset %q (want ml-100k, ml-1m or online-retail)", *name)
	}
	d, _, err := eval.ReadFile(ctx, filepath.Join(*dir, files[*name]), "")
	if err != nil {
		log.Fatal(err)
	}
	pol := map[string]als.Policy{"uniform": als.PolicyUniform, "tail": als.PolicyTail, "strongest": als.PolicyStrongest, "all": als.PolicyAll}[*policy]
	gm := map[string]als.Gram{"proxy": als.GramProxy, "noisy": als.GramNoisy}[*gram]
	first := true
	for _, it := range floats(*iters) {
		for _, l := range floats(*lambda) {
			for _, w := range floats(*w0) {
				for _, n := range floats(*nu) {
					for _, rc := range floats(*clip) {
						for _, b := range floats(*beta) {
							for _, fr := range floats(*frac) {
								for _, sh := range floats(*share) {
									cfg := eval.Config{
										Name: *name, Dataset: d, Seeds: *seeds, Validation: !*test, Epsilons: floats(*eps),
										ALS: als.Config{Factors: *factors, Iterations: int(it), Lambda: l, Unobserved: w, RegExponent: n},
										Privacy: &als.Privacy{ClipNorm: rc, Budget: b, MaxItems: *kmax, Rank: *rank, Policy: pol, ItemFraction: fr,
											Gram: gm, NoShrinkage: *noShrink, CountShare: sh},
										PopularItems: *kp,
									}
									rows, err := eval.Run(ctx, cfg)
									if err != nil {
										log.Print(err)
										return
									}
									if *table {
										_ = eval.WriteTable(os.Stdout, rows)
										_ = eval.WriteJSON(os.Stdout, rows)
									}
									if *plotFile != "" {
										writePlot(*plotFile, rows)
									}
									for _, r := range rows {
										if r.Model == eval.ModelPopular && !first {
											continue
										}
										fmt.Printf("%-8s %-10s d=%-2d eps=%-4v T=%v λ=%v w0=%v ν=%v R=%v β=%v frac=%v share=%v  NDCG@10 %.4f±%.4f (SE %.4f) P@10 %.4f R@10 %.4f R@20 %.4f cov %.3f %.2fs\n",
											*name, r.Model, r.Factors, r.Epsilon, it, l, w, n, rc, b, fr, sh, r.NDCG10.Mean, r.NDCG10.Std, r.NDCG10SE.Mean,
											r.Precision10.Mean, r.Recall10.Mean, r.Recall20.Mean, r.Coverage.Mean, r.TrainSeconds.Mean)
									}
									first = false
								}
							}
						}
					}
				}
			}
		}
	}
}

func writePlot(path string, rows []eval.Row) {
	format, err := eval.PlotFormat(path)
	if err != nil {
		log.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	if err := eval.WritePlot(f, format, rows); err != nil {
		log.Fatal(err)
	}
}
