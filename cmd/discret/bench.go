package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/discret-io/discret/bench"
	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/eventfile"
	"github.com/discret-io/discret/features/synth"
	"github.com/discret-io/discret/model/als"
	"github.com/discret-io/discret/model/eval"
)

func benchCommand() *command {
	return &command{
		name:    "bench",
		summary: "measure serving latency, training time and offline quality",
		help: `Bench measures Discret the way BENCHMARKS.md reports it:

  serve    load-test a running server over REST or gRPC: throughput, errors
           and latency percentiles (HDR histogram), closed or open loop
  train    time ALS training per iteration and in total, and its memory,
           on an event file, over a grid of factors, threads and ε
  quality  the offline evaluation of 'discret eval' over datasets × ε with
           several seeds: a Markdown table and privacy–utility plots

The micro-benchmarks of the hot path are Go benchmarks:
  go test -run='^$' -bench=. ./bench ./privacy/... ./features/... ./model/...`,
		sub: []*command{benchServeCommand(), benchTrainCommand(), benchQualityCommand()},
	}
}

// stringFlag is a flag.Value for a string.
type stringFlag struct{ p *string }

func (s stringFlag) String() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}
func (s stringFlag) Set(v string) error { *s.p = v; return nil }

func benchServeCommand() *command {
	var (
		cfg                  bench.LoadConfig
		apiKey, apiKeyFile   string
		oldKey, oldKeyFile   string // deprecated --key, --key-file
		customers            string
		synthN               int
		synthSeed            uint64
		demo, asJSON, timeln bool
		warmup               time.Duration
		plotFile             string
		maxErrorRate         float64
	)
	return &command{
		name:    "serve",
		args:    "--target URL --api-key KEY (--customers FILE | --demo | --synth-customers N)",
		summary: "load-test a running server (REST or gRPC)",
		help: `Serve sends recommendation requests to a running 'discret serve' and reports
throughput, errors by code and latency percentiles (p50, p90, p99, p99.9,
max) from an HDR histogram, as a table or --json.

  discret bench serve --target http://127.0.0.1:8080 --api-key KEY --customers ids.txt --clients 8 --duration 30s
  discret bench serve --target grpc://127.0.0.1:9090 --demo --rate 2000 --duration 1m --plot latency.png

Target: http://HOST:PORT or https:// for the REST gateway (net/http,
keep-alive connections), grpc://HOST:PORT or grpcs:// for gRPC (the
generated client, one connection per client). https:// and grpcs:// verify
the server's certificate against the system's roots; there is no --cacert:
for a certificate this machine does not trust (self-signed, a private CA),
name the file on Linux with SSL_CERT_FILE=cert.pem (it replaces the
system's root file; the certificate must name the target's host or IP).

Load: closed loop by default — each of --clients sends its next request as
soon as the previous one is answered, which measures latency at the
throughput the server sustains. With --rate R, open loop: requests are
scheduled at R per second whatever the answers, with at most --clients in
flight, and each latency is measured from its scheduled send time, so a
stalled server is charged for every request it delayed (no coordinated
omission). The run lasts --duration after --warmup, or ends after
--requests measured requests; warm-up requests are sent but not counted.

Customers: a data directory holds only pseudonyms, so the raw ids to ask
recommendations for come from --customers FILE (one id per line; for a
'discret gen' dataset: grep -o '"customer":"[^"]*"' DIR/events.jsonl |
cut -d'"' -f4 | sort -u), or --synth-customers N with --synth-seed S (the
customers of 'discret gen --customers N --seed S' with its default sizes),
or --demo: the customers of 'discret serve --demo' (2000 synthetic
customers, seed 1, and ` + demoCustomer + `), with the demo API key read
from DATA/` + demoKeyFile + ` unless --api-key or --api-key-file is given.

The API key (--api-key, env DISCRET_API_KEY, or --api-key-file) needs the
recommend scope. (--key and --key-file, their former names, still work and
print a notice: everywhere else --key is the master key file.) The server's
per-key rate limit (serve --rate-limit, 1000/s by default) applies: start it
with --rate-limit -1 to measure its capacity.
Errors are reported by code and by kind (rate limited, unauthenticated,
timeout, …); requests refused by the rate limit are named as such, with the
Retry-After the server sent. The command fails (exit 1), after printing
the report, when more than --max-error-rate percent of the measured
requests failed (1 % by default): figures from such a run measure the
errors, not the server.
Run the load generator on another machine when you can: on the same one it
takes CPU from the server. It first sends one request to the target with
the API key, and fails at once, before any load, if nothing answers there
(is 'discret serve' running?) or if the server refuses the key (HTTP 401
or 403, gRPC UNAUTHENTICATED or PERMISSION_DENIED). Progress goes to
stderr every second.`,
		flags: func(fs *flag.FlagSet, e *env) {
			fs.StringVar(&cfg.Target, "target", "", "server `URL`: http://HOST:PORT, https://…, grpc://HOST:PORT or grpcs://…")
			fs.StringVar(&apiKey, "api-key", "", "API `KEY` with the recommend scope (env DISCRET_API_KEY)")
			fs.StringVar(&apiKeyFile, "api-key-file", "", "read the API key from `FILE` (e.g. DATA/"+demoKeyFile+")")
			// --key is the global master key file elsewhere; here it is the
			// deprecated name of --api-key.
			if f := fs.Lookup("key"); f != nil {
				f.Value, f.DefValue = stringFlag{&oldKey}, ""
				f.Usage = "deprecated name of --api-key, the API `KEY` (elsewhere --key is the master key file)"
			}
			fs.StringVar(&oldKeyFile, "key-file", "", "deprecated name of --api-key-file: read the API key from `FILE`")
			fs.StringVar(&customers, "customers", "", "raw customer ids, one per line, from `FILE` (- for stdin)")
			fs.IntVar(&synthN, "synth-customers", 0, "use the `N` customers of the synthetic dataset of --synth-seed")
			fs.Uint64Var(&synthSeed, "synth-seed", 1, "seed of the synthetic dataset, `SEED`")
			fs.BoolVar(&demo, "demo", false, "use the customers (and, without --api-key, the API key) of 'discret serve --demo'")
			fs.StringVar(&cfg.Method, "method", bench.MethodRecommend, "`RPC` to call: recommend; popular (no customer data); consent (GetConsent, scope consent: transport, interceptors and one store read, no model)")
			fs.IntVar(&cfg.Limit, "limit", bench.DefaultLoadLimit, "items per request, `N`")
			fs.IntVar(&cfg.Clients, "clients", 1, "concurrent clients (connections), `N`")
			fs.Float64Var(&cfg.Rate, "rate", 0, "open loop at `R` requests/s (0: closed loop)")
			fs.DurationVar(&cfg.Duration, "duration", 0, "measure for `D` after the warm-up (default 10s unless --requests)")
			fs.Lookup("duration").DefValue = "" // the default depends on --requests; the usage says it
			fs.IntVar(&cfg.Requests, "requests", 0, "stop after `N` measured requests")
			fs.DurationVar(&warmup, "warmup", bench.DefaultWarmup, "warm-up `D` before measuring (0: none)")
			fs.DurationVar(&cfg.Timeout, "timeout", bench.DefaultLoadTimeout, "deadline of each request, `D`")
			fs.Uint64Var(&cfg.Seed, "seed", 1, "`SEED` of the draw of customers")
			fs.BoolVar(&asJSON, "json", false, "print one JSON object instead of the table")
			fs.BoolVar(&timeln, "timeline", false, "with --json, add the per-window figures")
			fs.StringVar(&plotFile, "plot", "", "write the latency over time to `FILE` (.png or .svg)")
			fs.Float64Var(&maxErrorRate, "max-error-rate", 1, "fail (exit 1) when more than `PERCENT` of the measured requests failed, 0 to 100")
		},
		noArgs: true,
		run: func(ctx context.Context, e *env, _ []string) error {
			if cfg.Target == "" {
				return usagef("--target URL is required")
			}
			// What the command line alone decides is checked before the
			// key file and the customers are read.
			if err := errors.Join(bench.CheckTarget(cfg.Target), bench.CheckMethod(cfg.Method)); err != nil {
				return usagef("%v", err)
			}
			if err := e.checkRanges(
				flagRange{"limit", intRange(1, 100)}, flagRange{"clients", intRange(1, 10_000)},
				flagRange{"duration", positiveTime}, flagRange{"requests", atLeast(1)},
				flagRange{"warmup", numRange{func(x float64) bool { return x >= 0 }, "a duration ≥ 0 (0: none)"}},
				flagRange{"timeout", positiveTime}, flagRange{"synth-customers", intRange(1, synth.MaxCustomers)},
				flagRange{"max-error-rate", numRange{func(x float64) bool { return x >= 0 && x <= 100 }, "a percentage from 0 to 100"}},
			); err != nil {
				return err
			}
			var plotFormat string
			if plotFile != "" {
				var perr error
				if plotFormat, perr = checkPlot(plotFile); perr != nil {
					return perr
				}
			}
			if warmup == 0 {
				warmup = -1 // none
			}
			cfg.Warmup = warmup
			key, err := deprecatedFlag(e, "api-key", apiKey, "key", oldKey, " (elsewhere --key is the master key file)")
			if err != nil {
				return err
			}
			keyFile, err := deprecatedFlag(e, "api-key-file", apiKeyFile, "key-file", oldKeyFile, "")
			if err != nil {
				return err
			}
			if key, err = benchAPIKey(e, key, keyFile, demo); err != nil {
				return err
			}
			cfg.APIKey = key
			if cfg.Method != bench.MethodPopular {
				if cfg.Customers, err = benchCustomers(ctx, customers, synthN, synthSeed, demo); err != nil {
					return err
				}
			}
			if err := cfg.Validate(); err != nil {
				return usagef("%v", err)
			}
			cfg.Progress = func(p bench.LoadProgress) { printLoadProgress(e.stderr, p) }
			if err := bench.Probe(ctx, cfg); err != nil {
				return err
			}
			rep, err := bench.Load(ctx, cfg)
			if rep == nil {
				return err
			}
			if err != nil {
				fmt.Fprintln(e.stderr, "interrupted: the figures cover the requests measured so far")
			}
			var werr error
			if asJSON {
				werr = rep.WriteJSON(e.stdout, timeln)
			} else {
				werr = rep.WriteTable(e.stdout)
			}
			if plotFile != "" && werr == nil {
				if werr = writeOutputFile(plotFile, func(w io.Writer) error { return rep.WritePlot(w, plotFormat) }); werr == nil {
					fmt.Fprintf(e.stderr, "wrote %s\n", plotFile)
				}
			}
			if err == nil && werr == nil {
				if err := errorRateError(rep, maxErrorRate); err != nil {
					return err
				}
			}
			return errors.Join(err, werr)
		},
	}
}

// printLoadProgress prints a progress line of `bench serve`.
func printLoadProgress(w io.Writer, p bench.LoadProgress) {
	if p.Warmup {
		fmt.Fprintf(w, "%5.1f s  warming up\n", p.Elapsed.Seconds())
		return
	}
	limited := ""
	if p.RateLimited > 0 {
		limited = fmt.Sprintf(" (%d rate-limited)", p.RateLimited)
	}
	fmt.Fprintf(w, "%5.1f s  %s, %s%s, %.0f req/s\n", p.Elapsed.Seconds(), features.Plural(int(p.Requests), "request"), features.Plural(int(p.Errors), "error"), limited, p.RPS)
}

// errorRateError is the error of a load run whose requests all failed, or
// more than maxRate percent of them, by kind and, when the server's rate
// limit refused some, saying so; nil for a run within maxRate.
func errorRateError(rep *bench.LoadReport, maxRate float64) error {
	var msg string
	switch share := 100 * rep.ErrorShare(); {
	case rep.Errors > 0 && rep.Errors == rep.Requests:
		msg = fmt.Sprintf("no successful request (%d measured)%s", rep.Requests, commonError(rep))
	case share > maxRate:
		msg = fmt.Sprintf("%d of %d requests failed (%.1f %%), more than --max-error-rate %g %%: %s", rep.Errors, rep.Requests, share, maxRate, rep.ErrorSummary())
	default:
		return nil
	}
	if note := rep.RateLimitNote(); note != "" {
		msg += "; the rate-limited requests were " + note
	}
	return errors.New(msg)
}

// commonError describes the most frequent error of rep, for the message
// of a run without a successful request: ": 40 http_401: HTTP 401
// Unauthorized: invalid API key" ("" if rep has no error).
func commonError(rep *bench.LoadReport) string {
	code := ""
	for _, c := range slices.Sorted(maps.Keys(rep.ByCode)) {
		if code == "" || rep.ByCode[c] > rep.ByCode[code] {
			code = c
		}
	}
	if code == "" {
		return ""
	}
	return fmt.Sprintf(": %d %s: %s", rep.ByCode[code], code, rep.Samples[code])
}

// deprecatedFlag returns the value of the flag --name, or, when the
// command line sets its deprecated former name --old instead, the value of
// --old (oldValue), with a one-line notice on stderr; setting both is a
// usage error. why is added to the notice.
func deprecatedFlag(e *env, name, value, old, oldValue, why string) (string, error) {
	if !e.isSet(old) {
		return value, nil
	}
	if e.isSet(name) {
		return "", usagef("give --%s, not --%s as well (its deprecated name)", name, old)
	}
	fmt.Fprintf(e.stderr, "warning: --%s is deprecated here; use --%s%s\n", old, name, why)
	return oldValue, nil
}

// benchAPIKey returns the API key of `bench serve`: key (--api-key, else
// DISCRET_API_KEY), or the content of file (--api-key-file), or with demo
// that of the demo's key file.
func benchAPIKey(e *env, key, file string, demo bool) (string, error) {
	if key != "" && file != "" {
		return "", usagef("give --api-key or --api-key-file, not both")
	}
	if key == "" && file == "" {
		key = e.getenv("DISCRET_API_KEY")
	}
	if file == "" && key == "" && demo {
		file = filepath.Join(e.global.data, demoKeyFile)
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("API key: %w", err)
		}
		key = strings.TrimSpace(string(b))
	}
	if key == "" {
		return "", usagef("no API key: pass --api-key KEY, --api-key-file FILE or set DISCRET_API_KEY (or use --demo)")
	}
	return key, nil
}

// benchCustomers returns the raw customer ids of `bench serve`.
func benchCustomers(ctx context.Context, file string, synthN int, synthSeed uint64, demo bool) ([]string, error) {
	set := 0
	for _, b := range []bool{file != "", synthN > 0, demo} {
		if b {
			set++
		}
	}
	switch {
	case set == 0:
		return nil, usagef("this method needs customers: --customers FILE, --synth-customers N or --demo (a data directory holds only pseudonyms, not raw ids)")
	case set > 1:
		return nil, usagef("give one of --customers, --synth-customers and --demo")
	case synthN < 0 || synthN > synth.MaxCustomers:
		return nil, usagef("--synth-customers: want 1 to %d", synth.MaxCustomers)
	}
	if file != "" {
		var r io.Reader = os.Stdin
		if file != "-" {
			f, err := os.Open(file)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			r = f
		}
		return bench.ReadCustomers(r)
	}
	cfg := synth.Config{Customers: synthN, Seed: synthSeed}
	if demo {
		cfg = synth.Config{Seed: 1} // as `discret serve --demo`
	}
	ids, err := bench.SynthCustomers(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if demo {
		ids = append(ids, demoCustomer)
	}
	return ids, nil
}

func benchTrainCommand() *command {
	var (
		format                    string
		factors, threads, epsilon string
		iterations, runs          int
		asJSON                    bool
	)
	return &command{
		name:    "train",
		args:    "DATASET",
		summary: "time ALS training and measure its memory on an event file",
		help: `Train reads an event file (any format 'discret import' reads, gzip or not),
turns it into the matrix training uses — customers pseudonymized with a
throw-away key, confidences from the event weights — and trains ALS on it
for every point of the grid --factors × --threads × --epsilon, --runs
times each, reporting the median setup time, time per iteration and total
time, and memory: the Go heap before and at its peak (sampled every 5 ms)
and the process's resident high-water mark (VmHWM, cumulative over the run).
Finite ε values train with differential privacy and production noise, at
exactly --factors factors (the automatic private rank of 'discret train' is
turned off so that every run has the size it names); "inf" is non-private
training. Each list takes distinct values. Progress goes to stderr after
each iteration.

` + badRowsHelp + `

With --config FILE (env DISCRET_CONFIG) the file is read and checked as for
every command, and its "training" section sets the defaults, as for
'discret train': factors (the default --factors), iterations, lambda, alpha,
weights, strength_cap, clip, max_items_per_user and delta; flags override
them. Its epsilon (--epsilon is the grid) and rank (each run has its
--factors) do not apply.

` + datasetLabelHelp + `;
--json also gives the path.

  discret bench train --factors 32,64,128 --threads 1,2 $DISCRET_DATASETS/ml-1m/ratings_pairs.csv.gz
  discret bench train --epsilon 1,inf --runs 3 --json events.jsonl`,
		flags: func(fs *flag.FlagSet, _ *env) {
			fs.StringVar(&format, "format", "", "input `FORMAT`: "+formatNames()+" (default: detect)")
			fs.StringVar(&factors, "factors", "", fmt.Sprintf("comma-separated `LIST` of distinct factor counts, each 1 to 1024 (default: training.factors of --config, else %d)", als.DefaultFactors))
			fs.StringVar(&threads, "threads", strconv.Itoa(runtime.GOMAXPROCS(0)), "comma-separated `LIST` of distinct worker counts, each 1 to 1024")
			fs.StringVar(&epsilon, "epsilon", "inf", fmt.Sprintf("comma-separated `LIST` of distinct ε values, each from %g to %g, or inf for non-private", minEpsilon, float64(maxEpsilon)))
			fs.IntVar(&iterations, "iterations", 0, fmt.Sprintf("iterations `N`, 1 to 1000 (default: training.iterations of --config, else %d, or %d under privacy)", als.DefaultIterations, als.DefaultPrivateIterations))
			fs.IntVar(&runs, "runs", 1, "repetitions `N` of each grid point, 1 to 100 (medians are reported)")
			fs.BoolVar(&asJSON, "json", false, "print a JSON array instead of the table")
		},
		run: func(ctx context.Context, e *env, args []string) error {
			if len(args) != 1 {
				return usagef("want exactly one DATASET file")
			}
			f, err := parseFormatFlag(format)
			if err != nil {
				return err
			}
			if err := e.checkRanges(flagRange{"iterations", iterationsRange}, flagRange{"runs", intRange(1, 100)}); err != nil {
				return err
			}
			tc := trainConfig(e.conf)
			var cfg bench.TrainConfig
			if !e.isSet("factors") {
				factors = strconv.Itoa(cmp.Or(tc.ALS.Factors, als.DefaultFactors))
			}
			if cfg.Factors, err = parseIntList("factors", factors, factorsRange); err != nil {
				return err
			}
			if cfg.Threads, err = parseIntList("threads", threads, threadsRange); err != nil {
				return err
			}
			if cfg.Epsilons, err = parseEpsilonList("epsilon", epsilon); err != nil {
				return err
			}
			for _, err := range []error{
				checkDistinct("factors", factors, cfg.Factors),
				checkDistinct("threads", threads, cfg.Threads),
				checkDistinct("epsilon", epsilon, cfg.Epsilons),
			} {
				if err != nil {
					return err
				}
			}
			cfg.Iterations, cfg.Runs = iterations, runs
			cfg.ALS = als.Config{Iterations: tc.ALS.Iterations, Lambda: tc.ALS.Lambda}
			cfg.Privacy = als.Privacy{Delta: tc.Delta, MaxItems: tc.Privacy.MaxItems, ClipNorm: tc.Privacy.ClipNorm}
			fmt.Fprintf(e.stderr, "reading %s…\n", args[0])
			ev, err := bench.ReadEvents(ctx, args[0], f, tc.Interactions, func(rows int) {
				fmt.Fprintf(e.stderr, "  %d rows read\n", rows)
			})
			if err != nil {
				return err
			}
			for _, l := range ev.Bad.Lines(args[0]) {
				fmt.Fprintln(e.stderr, l)
			}
			m := ev.Matrix
			fmt.Fprintf(e.stderr, "%s × %s, %s, read in %.1f s\n", features.Plural(m.Users(), "customer"), features.Plural(m.Items(), "item"), features.Plural(m.Len(), "pair"), ev.Read.Seconds())
			cfg.Events = ev
			cfg.Log = func(s string) { fmt.Fprintln(e.stderr, s) }
			if err := cfg.Validate(); err != nil {
				return usagef("%v", err)
			}
			rep, err := bench.Train(ctx, cfg)
			if err != nil {
				return err
			}
			if asJSON {
				return rep.WriteJSON(e.stdout)
			}
			return rep.WriteTable(e.stdout)
		},
	}
}

// threadsRange is the range of the worker counts of `discret bench train`.
var threadsRange = intRange(1, 1024)

func benchQualityCommand() *command {
	var (
		format, epsilon, out, plotFile string
		datasets, oldDataDir           string // --datasets, deprecated --data-dir
		seeds, factors                 int
		asJSON                         bool
	)
	return &command{
		name:    "quality",
		args:    "DATASET...",
		summary: "offline quality over datasets × ε with several seeds",
		help: `Quality runs the offline evaluation of 'discret eval' for every DATASET
over the --epsilon sweep, training --seeds times per model and ε, and
reports mean ± std. Nothing is tuned per dataset: the built-in defaults
are evaluated, or the training settings of --config.

` + evalProtocol + `

` + evalConfigHelp + `

A DATASET is an event file (any format 'discret import' reads) or one of
the public datasets by name — ml-100k, ml-1m, online-retail — found under
--datasets DIR (env DISCRET_DATASETS, the layout of the shared data
folder), and labelled with that name. (--data-dir and DISCRET_DATA_DIR,
their former names, still work and print a notice: --data and
DISCRET_DATA are the data directory.)
` + datasetLabelHelp + `.
Two DATASETs with the same label are refused (their rows and plots would
mix).

` + badRowsHelp + `

  discret bench quality --out quality.md --plot quality.png ml-100k ml-1m online-retail

The table goes to stdout (or --json) and, with --out, to a Markdown file.
--plot writes a privacy–utility plot (NDCG@10 against ε) per dataset: to
FILE for one dataset, else FILE-DATASET.png|svg. Progress goes to stderr
after each ALS iteration and each training run. A run that stops early
(Ctrl-C, a dataset that fails) still prints and writes the rows of the
datasets it finished, with a note that they are partial (on stderr with
--json), then exits 1.`,
		flags: func(fs *flag.FlagSet, e *env) {
			fs.StringVar(&format, "format", "", "input `FORMAT` of dataset files: "+formatNames()+" (default: detect)")
			fs.StringVar(&epsilon, "epsilon", "1,5,10,inf", fmt.Sprintf("comma-separated `LIST` of distinct ε values, each from %g to %g, or inf for non-private", minEpsilon, float64(maxEpsilon)))
			fs.IntVar(&seeds, "seeds", eval.DefaultSeeds, "training seeds `N` per model and ε, 1 to 100")
			fs.IntVar(&factors, "factors", 0, fmt.Sprintf("ALS factors `N`, 1 to 1024 (default: training.factors of --config, else %d)", als.DefaultFactors))
			fs.StringVar(&out, "out", "", "also write the Markdown table to `FILE`")
			fs.StringVar(&plotFile, "plot", "", "write privacy–utility plots to `FILE` (.png or .svg)")
			fs.StringVar(&datasets, "datasets", e.getenv("DISCRET_DATASETS"), "`DIR` holding the public datasets (env DISCRET_DATASETS)")
			fs.StringVar(&oldDataDir, "data-dir", "", "deprecated name of --datasets, the `DIR` of the public datasets")
			fs.BoolVar(&asJSON, "json", false, "print the rows as a JSON array (as 'discret eval --json')")
		},
		run: func(ctx context.Context, e *env, args []string) error {
			if len(args) == 0 {
				return usagef("no DATASET given (a file, or one of %s)", strings.Join(bench.PublicDatasets(), ", "))
			}
			f, err := parseFormatFlag(format)
			if err != nil {
				return err
			}
			cfg := bench.QualityConfig{Seeds: seeds}
			if cfg.Epsilons, err = parseEpsilonList("epsilon", epsilon); err != nil {
				return err
			}
			if err := checkDistinct("epsilon", epsilon, cfg.Epsilons); err != nil {
				return err
			}
			if err := e.checkRanges(flagRange{"seeds", intRange(1, 100)}, flagRange{"factors", factorsRange}); err != nil {
				return err
			}
			if plotFile != "" {
				if _, err := checkPlot(plotFile); err != nil {
					return err
				}
			}
			if out != "" {
				if err := checkOutput("out", out); err != nil {
					return err
				}
			}
			alsCfg, priv, err := evalSettings(e, factors, 0)
			if err != nil {
				return err
			}
			cfg.ALS, cfg.Privacy = alsCfg, &priv
			dir, err := datasetsDir(e, datasets, oldDataDir)
			if err != nil {
				return err
			}
			labels := map[string]string{} // dataset label → the argument that gave it
			for _, a := range args {
				d, err := bench.ResolveDataset(dir, a, f)
				if err != nil {
					return usagef("%v", err)
				}
				if prev, ok := labels[d.Name]; ok {
					if prev == a {
						return usagef("DATASET %s given twice; give each dataset once", a)
					}
					return usagef("DATASETs %s and %s have the same label, %s; give each dataset once (or rename a file)", prev, a, d.Name)
				}
				labels[d.Name] = a
				cfg.Datasets = append(cfg.Datasets, d)
			}
			cfg.Log = func(s string) { fmt.Fprintln(e.stderr, s) }
			rows, runErr := bench.Quality(ctx, cfg)
			if len(rows) == 0 {
				return runErr
			}
			// A run stopped early (interrupted, or a dataset that failed)
			// still gives the rows of the datasets it finished, marked as
			// partial, and then fails.
			note := ""
			if runErr != nil {
				note = partialNote(cfg.Datasets, rows)
			}
			markdown := func(w io.Writer) error {
				if err := bench.WriteQualityMarkdown(w, rows); err != nil || note == "" {
					return err
				}
				_, err := fmt.Fprintf(w, "\n%s\n", note)
				return err
			}
			if asJSON {
				err = eval.WriteJSON(e.stdout, rows)
				if note != "" {
					fmt.Fprintln(e.stderr, note)
				}
			} else {
				err = markdown(e.stdout)
			}
			if err != nil {
				return errors.Join(runErr, err)
			}
			if out != "" {
				if err := writeOutputFile(out, markdown); err != nil {
					return errors.Join(runErr, err)
				}
				fmt.Fprintf(e.stderr, "wrote %s\n", out)
			}
			if plotFile != "" {
				files, err := bench.WriteQualityPlots(plotFile, rows)
				for _, f := range files {
					fmt.Fprintf(e.stderr, "wrote %s\n", f)
				}
				return errors.Join(runErr, err)
			}
			return runErr
		},
	}
}

// partialNote says which datasets of a quality run that stopped early the
// rows are of (Quality returns the rows of the datasets it finished, in
// order) and during which it stopped.
func partialNote(datasets []bench.QualityDataset, rows []eval.Row) string {
	var done []string
	for _, r := range rows {
		if !slices.Contains(done, r.Dataset) {
			done = append(done, r.Dataset)
		}
	}
	return fmt.Sprintf("Partial: the run stopped during %s; these are the rows of the datasets it finished: %s.", datasets[len(done)].Name, strings.Join(done, ", "))
}

// datasetsDir returns the directory of the public datasets of `bench
// quality`: --datasets (default DISCRET_DATASETS), or the deprecated
// --data-dir (oldDir) or DISCRET_DATA_DIR, with a notice.
func datasetsDir(e *env, dir, oldDir string) (string, error) {
	dir, err := deprecatedFlag(e, "datasets", dir, "data-dir", oldDir, " (--data is the data directory)")
	if err != nil || e.isSet("data-dir") || dir != "" {
		return dir, err
	}
	if old := e.getenv("DISCRET_DATA_DIR"); old != "" {
		fmt.Fprintln(e.stderr, "warning: DISCRET_DATA_DIR is deprecated; use DISCRET_DATASETS (DISCRET_DATA is the data directory)")
		return old, nil
	}
	return "", nil
}

func parseFormatFlag(s string) (eventfile.Format, error) {
	if s == "" {
		return "", nil
	}
	f, err := eventfile.ParseFormat(s)
	if err != nil {
		return "", usagef("--format: %v", err)
	}
	return f, nil
}

// parseIntList parses the comma-separated integers of the flag --name,
// each in the range r (see parseList).
func parseIntList(name, list string, r numRange) ([]int, error) {
	return parseList(name, list, r.want, func(s string) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil || !r.ok(float64(n)) {
			return 0, fmt.Errorf("want %s", r.want)
		}
		return n, nil
	})
}

// checkPlot checks the --plot file name before a long run: its image
// format (eval.PlotFormat) and that it can be written (checkOutput).
func checkPlot(path string) (format string, err error) {
	if format, err = eval.PlotFormat(path); err != nil {
		return "", usagef("--plot: %v", strings.TrimPrefix(err.Error(), "eval: "))
	}
	return format, checkOutput("plot", path)
}

// checkOutput fails fast, before a long run, if the output file path of
// the flag --name cannot be written: its directory must take a new file
// (a temporary one is created and removed) and an existing file must open
// for writing (it is not truncated).
func checkOutput(name, path string) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".discret-check-*")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("--%s %s: cannot create a file in %s: %w", name, path, dir, err)
	}
	f.Close()
	os.Remove(f.Name())
	f, err = os.OpenFile(path, os.O_WRONLY, 0)
	switch {
	case err == nil:
		f.Close()
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("--%s: %w", name, err)
	}
	return nil
}

// writeOutputFile writes a file through fn, removing it if fn fails.
func writeOutputFile(path string, fn func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = fn(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
