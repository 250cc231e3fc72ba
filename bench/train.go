package bench

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/model/als"
)

// TrainConfig configures Train: a grid of training runs over one matrix.
// The zero value of each optional field means its documented default.
type TrainConfig struct {
	// Events is the training data (see ReadEvents). Required.
	Events *Events
	// Factors lists the dimensions d to run; default {als.DefaultFactors}.
	Factors []int
	// Threads lists the worker counts (als.Config.Workers); default
	// {runtime.GOMAXPROCS(0)}.
	Threads []int
	// Epsilons lists the privacy budgets; math.Inf(1) is non-private
	// training. Default {+Inf}. Private runs use the production noise
	// (crypto-seeded) and Privacy for everything but ε and the rank.
	Epsilons []float64
	// Iterations overrides the number of iterations when > 0 (defaults:
	// ALS.Iterations, else als.DefaultIterations, or
	// als.DefaultPrivateIterations under privacy).
	Iterations int
	// ALS holds the other hyper-parameters (λ, …); the zero value means
	// the als defaults. Factors, Workers, Seed, Privacy and Progress are
	// set per run.
	ALS als.Config
	// Privacy holds the private-training settings (δ, clip norm, most
	// items per user, …) of the finite-ε runs; the zero value means the
	// als defaults. Epsilon is set per run, and Rank to the run's factors.
	Privacy als.Privacy
	// Runs is the number of repetitions of each grid point; default 1.
	// Figures are medians over runs.
	Runs int
	// Log, when non-nil, receives a progress line per iteration.
	Log func(string)
}

// TrainResult is one grid point of Train.
type TrainResult struct {
	Factors, Threads int
	Epsilon          float64 // +Inf for non-private training
	Delta            float64 // 0 for non-private training
	Iterations       int
	Runs             int
	// Medians over runs of the setup time (before the first iteration),
	// the time of one iteration (over every iteration of every run) and
	// the total wall time of als.Train.
	Setup, Iteration, Total time.Duration
	// Totals holds the total time of each run.
	Totals []time.Duration
	// HeapBase is the Go heap in use before training (the matrix and the
	// process), HeapPeak the largest Go heap (live and not yet collected
	// objects) sampled every 5 ms during the runs.
	HeapBase, HeapPeak uint64
	// ProcessPeak is the process's resident high-water mark (VmHWM) after
	// the runs: it includes every earlier grid point and the data loading.
	// 0 where /proc is not available.
	ProcessPeak uint64
}

// TrainReport is the result of Train.
type TrainReport struct {
	Name                string // the dataset's label, DatasetName of its path
	Path                string
	Users, Items, Pairs int
	Read                time.Duration
	GOMAXPROCS          int
	Results             []TrainResult
}

func (c TrainConfig) withDefaults() TrainConfig {
	if len(c.Factors) == 0 {
		c.Factors = []int{als.DefaultFactors}
	}
	if len(c.Threads) == 0 {
		c.Threads = []int{runtime.GOMAXPROCS(0)}
	}
	if len(c.Epsilons) == 0 {
		c.Epsilons = []float64{math.Inf(1)}
	}
	c.Runs = cmp.Or(c.Runs, 1)
	return c
}

// Validate reports every problem of c.
func (c TrainConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("bench: "+format, args...)) }
	if c.Events == nil || c.Events.Matrix == nil {
		bad("no training data")
	}
	for i, d := range c.Factors {
		if d < 1 || d > 1024 {
			bad("factors %d, want 1 to 1024", d)
		} else if slices.Contains(c.Factors[:i], d) {
			bad("factors %d repeated", d)
		}
	}
	for i, t := range c.Threads {
		if t < 1 || t > 1024 {
			bad("threads %d, want 1 to 1024", t)
		} else if slices.Contains(c.Threads[:i], t) {
			bad("threads %d repeated", t)
		}
	}
	for i, e := range c.Epsilons {
		if !(e > 0) {
			bad("epsilon %v, want > 0 or inf", e)
		} else if slices.Contains(c.Epsilons[:i], e) {
			bad("epsilon %v repeated", e)
		}
	}
	if c.Iterations < 0 || c.Iterations > 1000 {
		bad("iterations %d, want 0 (default) to 1000", c.Iterations)
	}
	if c.Runs < 0 || c.Runs > 100 {
		bad("runs %d, want 1 to 100", c.Runs)
	}
	return errors.Join(errs...)
}

// Train times als.Train on every point of the grid factors × threads × ε,
// Runs times each, and measures memory. Grid points run one after another,
// in that order.
func Train(ctx context.Context, cfg TrainConfig) (*TrainReport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m := cfg.Events.Matrix
	rep := &TrainReport{Name: DatasetName(cfg.Events.Path), Path: cfg.Events.Path, Users: m.Users(), Items: m.Items(), Pairs: m.Len(), Read: cfg.Events.Read, GOMAXPROCS: runtime.GOMAXPROCS(0)}
	for _, d := range cfg.Factors {
		for _, threads := range cfg.Threads {
			for _, eps := range cfg.Epsilons {
				r, err := trainPoint(ctx, cfg, d, threads, eps)
				if err != nil {
					return rep, err
				}
				rep.Results = append(rep.Results, r)
			}
		}
	}
	return rep, nil
}

func trainPoint(ctx context.Context, cfg TrainConfig, d, threads int, eps float64) (TrainResult, error) {
	res := TrainResult{Factors: d, Threads: threads, Epsilon: eps, Runs: cfg.Runs}
	var setups, iters []time.Duration
	runtime.GC()
	res.HeapBase = heapBytes()
	peak := startPeak()
	for run := 1; run <= cfg.Runs; run++ {
		c := cfg.ALS
		c.Factors, c.Workers, c.Seed, c.Privacy, c.Progress = d, threads, uint64(run), nil, nil
		if cfg.Iterations > 0 {
			c.Iterations = cfg.Iterations
		}
		if !math.IsInf(eps, 1) {
			// The point measures d factors: the automatic private rank
			// (als.PrivateRank) would pick fewer on small data.
			p := cfg.Privacy
			p.Epsilon, p.Rank = eps, d
			c.Privacy = &p
		}
		label := fmt.Sprintf("factors=%d threads=%d ε=%s run %d/%d", d, threads, fmtEps(eps), run, cfg.Runs)
		if cfg.Log != nil {
			c.Progress = func(p als.Progress) {
				cfg.Log(fmt.Sprintf("%s: iteration %d/%d in %.2f s (total %.1f s)", label, p.Iteration, p.Iterations, p.Step.Seconds(), p.Elapsed.Seconds()))
			}
		}
		_, tr, err := als.Train(ctx, cfg.Events.Matrix, c)
		if err != nil {
			peak.stop()
			return res, fmt.Errorf("bench: train %s: %w", label, err)
		}
		res.Iterations = tr.Iterations
		if tr.Privacy != nil {
			res.Delta = tr.Privacy.Delta
		}
		setups = append(setups, tr.Setup)
		iters = append(iters, tr.IterationTimes...)
		res.Totals = append(res.Totals, tr.Total)
		if cfg.Log != nil {
			cfg.Log(fmt.Sprintf("%s: done in %.2f s", label, tr.Total.Seconds()))
		}
	}
	res.HeapPeak = peak.stop()
	res.ProcessPeak = processHWM()
	res.Setup, res.Iteration, res.Total = median(setups), median(iters), median(res.Totals)
	return res, nil
}

// median returns the median of ds (the mean of the middle two for an even
// count), 0 for none.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

const heapMetric = "/memory/classes/heap/objects:bytes"

// heapBytes returns the bytes of the Go heap occupied by objects, live or
// not yet swept.
func heapBytes() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// peakSampler samples heapBytes every 5 ms until stop.
type peakSampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	max  uint64
}

func startPeak() *peakSampler {
	p := &peakSampler{done: make(chan struct{}), max: heapBytes()}
	p.wg.Go(func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				p.max = max(p.max, heapBytes())
			}
		}
	})
	return p
}

// stop ends the sampling and returns the peak.
func (p *peakSampler) stop() uint64 {
	close(p.done)
	p.wg.Wait()
	return max(p.max, heapBytes())
}

// processHWM returns the process's peak resident set size (VmHWM in
// /proc/self/status), 0 if unknown.
func processHWM() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

func fmtEps(e float64) string {
	if math.IsInf(e, 1) {
		return "∞"
	}
	return strconv.FormatFloat(e, 'g', -1, 64)
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// WriteTable writes r as an aligned text table.
func (r *TrainReport) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "%s (%s): %s × %s, %s (read in %.1f s); GOMAXPROCS %d\n\n",
		r.Name, r.Path, features.Plural(r.Users, "customer"), features.Plural(r.Items, "item"), features.Plural(r.Pairs, "pair"), r.Read.Seconds(), r.GOMAXPROCS)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "factors\tthreads\tε\titerations\truns\tsetup s\ts/iteration\ttotal s\theap MiB (base → peak)\tprocess peak MiB\t")
	for _, x := range r.Results {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%d\t%d\t%.2f\t%.3f\t%.2f\t%.0f → %.0f\t%.0f\t\n", x.Factors, x.Threads, fmtEps(x.Epsilon),
			x.Iterations, x.Runs, x.Setup.Seconds(), x.Iteration.Seconds(), x.Total.Seconds(), mib(x.HeapBase), mib(x.HeapPeak), mib(x.ProcessPeak))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "Medians over runs; s/iteration over every iteration of every run. Heap peak sampled every 5 ms; process peak is VmHWM (cumulative).")
	return err
}

type trainJSON struct {
	Dataset     string    `json:"dataset"`
	Path        string    `json:"path"`
	Users       int       `json:"users"`
	Items       int       `json:"items"`
	Pairs       int       `json:"pairs"`
	Factors     int       `json:"factors"`
	Threads     int       `json:"threads"`
	Epsilon     *float64  `json:"epsilon"`
	Delta       *float64  `json:"delta"`
	Iterations  int       `json:"iterations"`
	Runs        int       `json:"runs"`
	SetupS      float64   `json:"setup_s"`
	IterationS  float64   `json:"iteration_s"`
	TotalS      float64   `json:"total_s"`
	TotalsS     []float64 `json:"total_s_runs"`
	HeapBaseMiB float64   `json:"heap_base_mib"`
	HeapPeakMiB float64   `json:"heap_peak_mib"`
	ProcPeakMiB float64   `json:"process_peak_mib"`
}

// WriteJSON writes r as a JSON array, one object per grid point, with the
// keys dataset (its label, DatasetName), path, users, items, pairs, factors, threads, epsilon and delta
// (null when non-private), iterations, runs, setup_s, iteration_s and
// total_s (medians), total_s_runs, heap_base_mib, heap_peak_mib and
// process_peak_mib.
func (r *TrainReport) WriteJSON(w io.Writer) error {
	out := make([]trainJSON, 0, len(r.Results))
	for _, x := range r.Results {
		j := trainJSON{
			Dataset: r.Name, Path: r.Path, Users: r.Users, Items: r.Items, Pairs: r.Pairs, Factors: x.Factors, Threads: x.Threads,
			Iterations: x.Iterations, Runs: x.Runs, SetupS: x.Setup.Seconds(), IterationS: x.Iteration.Seconds(), TotalS: x.Total.Seconds(),
			HeapBaseMiB: mib(x.HeapBase), HeapPeakMiB: mib(x.HeapPeak), ProcPeakMiB: mib(x.ProcessPeak),
		}
		for _, t := range x.Totals {
			j.TotalsS = append(j.TotalsS, t.Seconds())
		}
		if !math.IsInf(x.Epsilon, 1) {
			e, d := x.Epsilon, x.Delta
			j.Epsilon, j.Delta = &e, &d
		}
		out = append(out, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
