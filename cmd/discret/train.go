package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/eventfile"
	"github.com/discret-io/discret/model/als"
	"github.com/discret-io/discret/model/interact"
	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/model/train"
	"github.com/discret-io/discret/serve/recommend"
)

func trainCommand() *command {
	var (
		epsilon, catalogue string
		stores             string
		delta, lambda      float64
		alpha, clip        float64
		itemFraction       float64
		allowNonPrivate    bool
		acceptCapChange    bool
		iterations         int
		factors, maxItems  int
		rank               int
	)
	return &command{
		name:    "train",
		args:    "",
		summary: "train a differentially private model on the stored events and make it current",
		help: `Train reads one snapshot of the stored events of customers who consent to
personalization now, trains the recommendation model (implicit ALS with
user-level differential privacy: clipped user vectors, bounded per-customer
contributions, exact discrete Gaussian noise on the item side), releases the
DP popularity lists (overall and per store), and stores the release
atomically as the current one. User vectors are never stored: they are
recomputed from each customer's own history when serving.

The privacy budget (ε, δ) covers the whole release; every release is charged
to the privacy ledger, and a release that would take the cumulative ε over
the configured window above the cap is refused (see 'discret privacy
report'). A run under a looser cap than the one recorded with the latest
release (a larger ε or δ, or a shorter window: typically a command run
without the --config that set privacy.cap_*) is refused before it spends
anything, unless --accept-cap-change says the change is meant. --epsilon inf
trains a non-private model, for evaluation only: servers refuse it unless
explicitly allowed, so it is stored without becoming current unless
--allow-non-private is given ('discret models use VERSION' makes it current
later); privacy.non_private = "refuse" in the configuration file refuses
such a run (exit status 1).

The items that get vectors are those of the catalogue stored in the data
directory ('discret items import', or the API's PUT /v1/items/{item}), or
of --catalogue FILE, which overrides it (JSON Lines with "item" and optional
"stores", as 'discret gen' writes items.jsonl, or one item identifier per
line); without a catalogue, item and store identifiers are selected from the
data by a DP threshold, which keeps only items used by many customers; a
release in which fewer than 10 items pass it is stored (its budget is
spent) but not made current, and train exits with status 1. A private model
trains the share --item-fraction of the catalogue (default 10 %), the items
with the largest noisy counts: fewer items, less noise on each; the other
items get no vector and are recommended by popularity only, so a customer
whose history holds only such items gets non-personalized recommendations.
Stores of the per-store popularity come from --stores, else from the
catalogue, else the same DP selection; --stores none, alone, skips
per-store popularity (for data without stores).

A running 'discret serve' holds the data directory: retrain it through its
API (POST /v1/models:train, or its --train-interval).

Flags left unset take the configuration file's "training" values, then the
built-in defaults. The last releases are kept (training.keep_releases,
default 5); older ones are deleted.`,
		flags: func(fs *flag.FlagSet, _ *env) {
			fs.StringVar(&epsilon, "epsilon", "", fmt.Sprintf("privacy budget `ε`: a number from %g to %g, or inf for a non-private model (default 1)", minEpsilon, float64(maxEpsilon)))
			fs.Float64Var(&delta, "delta", 0, fmt.Sprintf("privacy parameter `δ`, %g ≤ δ ≤ %g and below 1/n for n customers (default 1e-6, or 1/(10·n) rounded down to a power of ten for n > 100,000 customers)", train.MinDelta, train.MaxDelta))
			fs.IntVar(&iterations, "iterations", 0, fmt.Sprintf("ALS iterations `N`, 1 to 1000 (default %d private, %d non-private)", als.DefaultPrivateIterations, als.DefaultIterations))
			fs.IntVar(&factors, "factors", 0, fmt.Sprintf("dimension `N` of the item vectors, 1 to 1024 (default %d; a private model uses at most N, see --rank)", als.DefaultFactors))
			fs.IntVar(&rank, "rank", 0, fmt.Sprintf("factors `N` of a private model, at most --factors; 0: automatic, the default (from the noisy number of customers and the noise of ε: fewer factors when the data cannot support more, at least %d)", als.MinPrivateRank))
			fs.Float64Var(&lambda, "lambda", 0, fmt.Sprintf("regularization `λ` > 0 (default %g)", als.DefaultLambda))
			fs.Float64Var(&alpha, "alpha", 0, fmt.Sprintf("confidence weight `α` > 0 in c = 1 + α·strength (default %g)", interact.DefaultAlpha))
			fs.IntVar(&maxItems, "max-items-per-user", 0, fmt.Sprintf("most items `K` ≥ 1 of a customer in the private item statistics (default %d: ⌈β⌉, where β = %g bounds the squared norm of a customer's item weights)", int(math.Ceil(als.DefaultBudget)), als.DefaultBudget))
			fs.Float64Var(&clip, "clip", 0, fmt.Sprintf("clip norm `R` > 0 of user vectors in private training (default %g)", als.DefaultClipNorm))
			fs.Float64Var(&itemFraction, "item-fraction", 0, fmt.Sprintf("share `F` in (0, 1] of the catalogue that a private model trains: the items with the largest noisy counts (default %g; the others are served by popularity; 1 when the items were selected from the data)", als.DefaultItemFraction))
			fs.BoolVar(&allowNonPrivate, "allow-non-private", false, "make a non-private release (--epsilon inf) current; without it, it is stored but the current release stays (servers refuse non-private releases unless started with --allow-non-private)")
			fs.BoolVar(&acceptCapChange, "accept-cap-change", false, "train under a privacy cap looser than the one recorded with the latest release (a larger ε or δ, or a shorter window); without it such a run is refused, so that a command run without the --config that set the cap cannot spend under the built-in default")
			fs.StringVar(&catalogue, "catalogue", "", "public item catalogue `FILE`, overriding the stored one (default: the stored catalogue, else select items from the data)")
			fs.StringVar(&stores, "stores", "", "public store identifiers `LIST` (comma-separated), or none alone for no per-store popularity (default: the catalogue's stores, else select them from the data)")
		},
		noArgs: true,
		run: func(ctx context.Context, e *env, _ []string) error {
			conf := e.conf
			cfg := trainConfig(conf)
			var err error
			if err := e.checkRanges(
				flagRange{"delta", deltaRange}, flagRange{"iterations", iterationsRange}, flagRange{"factors", factorsRange},
				flagRange{"rank", rankRange}, flagRange{"lambda", positiveNumber}, flagRange{"alpha", positiveNumber},
				flagRange{"max-items-per-user", maxItemsRange}, flagRange{"clip", positiveNumber},
				flagRange{"item-fraction", fractionRange},
			); err != nil {
				return err
			}
			// Flags set on the command line override the configuration.
			if e.isSet("epsilon") {
				if epsilon == "" {
					return usagef("--epsilon: empty; want %s", epsilonRange)
				}
				if cfg.Epsilon, err = parseTrainEpsilon(epsilon); err != nil {
					return usagef("--epsilon %s: %v", epsilon, err)
				}
			}
			for _, f := range []struct {
				name  string
				apply func()
			}{
				{"delta", func() { cfg.Delta = delta }},
				{"iterations", func() { cfg.ALS.Iterations = iterations }},
				{"factors", func() { cfg.ALS.Factors = factors }},
				{"rank", func() { cfg.Privacy.Rank = rank }},
				{"lambda", func() { cfg.ALS.Lambda = lambda }},
				{"alpha", func() { cfg.Interactions.Alpha = alpha }},
				{"max-items-per-user", func() { cfg.Privacy.MaxItems = maxItems }},
				{"clip", func() { cfg.Privacy.ClipNorm = clip }},
				{"item-fraction", func() { cfg.Privacy.ItemFraction = itemFraction }},
			} {
				if e.isSet(f.name) {
					f.apply()
				}
			}
			if err := checkTrainFlags(e, cfg); err != nil {
				return err
			}
			if math.IsInf(cfg.Epsilon, 1) && cfg.RefuseNonPrivate {
				// Before the data directory is opened; train.Run refuses
				// it too (the server's training goes through it).
				return fmt.Errorf("%w (privacy.non_private is %q in %s); train with a finite --epsilon", train.ErrNonPrivateRefused, nonPrivateRefuse, e.global.config)
			}
			path := conf.training.catalogue
			if e.isSet("catalogue") {
				if path = catalogue; path == "" {
					return usagef("--catalogue: empty file name")
				}
			}
			var storeList []string
			if e.isSet("stores") {
				if storeList, err = parseStores(stores); err != nil {
					return err
				}
			}
			d, err := openData(ctx, e, false)
			if err != nil {
				return err
			}
			defer d.Close()
			from := ""
			if path != "" {
				if cfg.Catalogue, cfg.Stores, err = readCatalogue(path); err != nil {
					return err
				}
				from = path
			} else {
				items, err := d.db.Items(ctx)
				if err != nil {
					return err
				}
				if len(items) > 0 {
					cfg.Catalogue, cfg.Stores = recommend.Universe(items)
					from = "the data directory"
				}
			}
			if storeList != nil {
				// Checked against the public catalogue only: the data is
				// not read to warn.
				if len(cfg.Stores) > 0 {
					for _, st := range storeList {
						if _, ok := slices.BinarySearch(cfg.Stores, st); !ok {
							fmt.Fprintf(e.stderr, "warning: --stores %s: no catalogue item is available there; its popularity list is noise unless events name it\n", st)
						}
					}
				}
				cfg.Stores = storeList
			}
			switch {
			case from != "" && storeList != nil:
				fmt.Fprintf(e.stderr, "catalogue: %s, from %s; stores: %d, from --stores\n", features.Plural(len(cfg.Catalogue), "item"), from, len(cfg.Stores))
			case from != "":
				fmt.Fprintf(e.stderr, "catalogue: %s and %s, from %s\n", features.Plural(len(cfg.Catalogue), "item"), features.Plural(len(cfg.Stores), "store"), from)
			case storeList != nil:
				fmt.Fprintf(e.stderr, "no catalogue: items selected from the data by a DP threshold; stores: %d, from --stores\n", len(cfg.Stores))
			}
			cfg.Progress = trainProgress(e)
			cfg.AllowNonPrivateCurrent = allowNonPrivate
			cfg.AcceptCapChange = acceptCapChange
			rep, err := train.Run(ctx, d.db, cfg)
			if err != nil {
				if errors.As(err, new(*train.CapLoosenedError)) {
					err = fmt.Errorf("%w; to accept the looser cap, pass --accept-cap-change", err)
				}
				return err
			}
			printTrainReport(e.stdout, rep)
			if !rep.Current && rep.Card.Privacy != nil {
				// A private release that is too poor to serve: the run did
				// not do what it was asked to.
				return fmt.Errorf("release %s not made current: %s", rep.Version, rep.NotCurrent)
			}
			return nil
		},
	}
}

// deltaRange is the range of the δ of a training run (--delta, and
// training.delta for every command that reads it: train, serve's training,
// eval's default): a larger δ would be refused by the training only after
// it has spent ε on the noisy customer count; a smaller one than
// train.MinDelta is refused by the training too. It bounds the cap's δ
// (privacy.cap_delta) too: the spend is stated at the smallest of the
// cap's and the releases' δ, so a larger cap δ would be stated and never
// used.
var deltaRange = numRange{func(x float64) bool { return x >= train.MinDelta && x <= train.MaxDelta }, fmt.Sprintf("a number with %g ≤ δ ≤ %g", train.MinDelta, train.MaxDelta)}

// checkTrainFlags checks what the flags of `discret train` set against the
// rest of the configuration cfg: the rank of a private model is at most its
// factors, and the flags of private training are refused for a non-private
// one. (δ is checked where it is read: --delta with the other flags,
// training.delta by loadSettings.)
func checkTrainFlags(e *env, cfg train.Config) error {
	// source names where a value comes from: its flag, else the
	// configuration file, else the default.
	source := func(flagName, key string, configured bool) string {
		switch {
		case e.isSet(flagName):
			return "--" + flagName
		case configured:
			return "training." + key
		}
		return "the default --" + flagName
	}
	if f := cmp.Or(cfg.ALS.Factors, als.DefaultFactors); cfg.Privacy.Rank > f && (e.isSet("rank") || e.isSet("factors")) {
		return usagef("%s %d exceeds %s %d: a private model has at most --factors factors (--rank 0: automatic)",
			source("rank", "rank", true), cfg.Privacy.Rank, source("factors", "factors", cfg.ALS.Factors != 0), f)
	}
	if math.IsInf(cfg.Epsilon, 1) {
		for _, name := range []string{"delta", "rank", "clip", "max-items-per-user", "item-fraction"} {
			if e.isSet(name) {
				return usagef("--%s applies only to private training, and %s inf trains a non-private model", name, source("epsilon", "epsilon", true))
			}
		}
	} else if e.isSet("allow-non-private") {
		return usagef("--allow-non-private applies only to a non-private model (--epsilon inf); every private release becomes current")
	}
	return nil
}

// parseStores parses the --stores list: "none" (no per-store popularity,
// an empty non-nil list) or comma-separated store identifiers, none of
// them "none".
func parseStores(list string) ([]string, error) {
	switch list {
	case "":
		return nil, usagef("--stores: empty list; want comma-separated store identifiers, or none")
	case "none":
		return []string{}, nil
	}
	ids := strings.Split(list, ",")
	seen := make(map[string]int, len(ids))
	for i, id := range ids {
		switch id {
		case "":
			return nil, usagef("--stores: entry %d is empty", i+1)
		case "none":
			return nil, usagef("--stores: entry %d is none, which means no per-store popularity and stands alone: give none, or store identifiers", i+1)
		}
		if err := features.ValidateKey(id); err != nil {
			return nil, usagef("--stores: entry %d: %v", i+1, err)
		}
		if j, ok := seen[id]; ok {
			return nil, usagef("--stores: entry %d repeats entry %d (%q)", i+1, j, id)
		}
		seen[id] = i + 1
	}
	return ids, nil
}

// rankNote explains the factor count of a private release.
func rankNote(h release.Hyper) string {
	switch {
	case h.MaxFactors == 0:
		return ""
	case h.RankRule:
		return fmt.Sprintf(" (of at most %d, chosen by the private rank rule for this many customers and ε)", h.MaxFactors)
	default:
		return fmt.Sprintf(" (of at most %d, set by --rank or training.rank)", h.MaxFactors)
	}
}

// baseTrainConfig is the training configuration of the data directory's
// settings (the configuration file's "training" and "privacy" sections),
// without a catalogue: `discret train`, the server's TrainModel and the
// demo start from it.
func baseTrainConfig(d *dataEnv) train.Config { return trainConfig(d.settings) }

// trainConfig is the training configuration of settings s, without a
// catalogue.
func trainConfig(s settings) train.Config {
	ts := s.training
	cfg := train.Config{
		Epsilon: ts.epsilon, Delta: ts.delta,
		ALS:     als.Config{Factors: ts.factors, Iterations: ts.iterations, Lambda: ts.lambda},
		Privacy: als.Privacy{MaxItems: ts.maxItems, ClipNorm: ts.clip, Rank: ts.rank, ItemFraction: ts.itemFraction},
		Consent: s.consent, Retention: s.retention, Cap: s.cap, Keep: ts.keep, RefuseNonPrivate: s.refuseNonPrivate,
	}
	cfg.Interactions.Weights, cfg.Interactions.Cap, cfg.Interactions.Alpha = ts.weights, ts.strengthCap, ts.alpha
	return cfg
}

func trainProgress(e *env) func(train.Progress) {
	return func(p train.Progress) {
		switch p.Stage {
		case train.StageTraining:
			fmt.Fprintf(e.stderr, "iteration %d/%d  %6.2f s  ε spent %s\n", p.Iteration, p.Iterations, p.Elapsed.Seconds(), formatEpsilon(p.Epsilon))
		default:
			fmt.Fprintf(e.stderr, "%-10s %6.2f s  ε spent %s\n", p.Stage, p.Elapsed.Seconds(), formatEpsilon(p.Epsilon))
		}
	}
}

func formatEpsilon(eps float64) string {
	if math.IsInf(eps, 1) {
		return "∞ (non-private)"
	}
	return fmt.Sprintf("%.4g", eps)
}

func printTrainReport(w io.Writer, rep *train.Report) {
	c := rep.Card
	current := " (current)"
	if !rep.Current {
		current = " (stored, NOT current: " + rep.NotCurrent + ")"
	}
	fmt.Fprintf(w, "trained release %s%s\n", rep.Version, current)
	fmt.Fprintf(w, "  customers: %d consenting with events in the window", rep.Customers)
	if rep.ExcludedCustomers > 0 || rep.ExcludedEvents > 0 {
		fmt.Fprintf(w, " (%s and %s excluded: consent no longer allows them)", features.Plural(rep.ExcludedCustomers, "customer"), features.Plural(rep.ExcludedEvents, "event"))
	}
	fmt.Fprintf(w, "\n  users %d, items %d (%s, %d trained), stores %d, pairs %d\n", rep.Users, rep.Items, c.Universe, c.Trained, rep.Stores, rep.Pairs)
	fmt.Fprintf(w, "  model: %s%s, %s, λ = %g, α = %g\n", features.Plural(c.Hyper.Factors, "factor"), rankNote(c.Hyper), features.Plural(c.Hyper.Iterations, "iteration"), c.Hyper.Lambda, c.Hyper.Alpha)
	if p := c.Privacy; p != nil {
		fmt.Fprintf(w, "  privacy: ε = %.4g, δ = %g (ρ = %.4g; exact-Gaussian ε %.4g); randomness %s\n", p.Epsilon, p.Delta, p.Rho, p.EpsilonGaussian, c.RNG)
		fmt.Fprintf(w, "  card: about %s (noisy, σ = %.3g)\n", features.Plural(int(c.Customers.Value), "training customer"), c.Customers.Sigma)
	} else {
		fmt.Fprintf(w, "  privacy: NONE (ε = ∞): for evaluation only; servers refuse this release unless allowed\n")
	}
	s := rep.Spend
	capped := fmt.Sprintf("of the cap %g", s.Cap.Epsilon)
	if math.IsInf(s.Cap.Epsilon, 1) {
		capped = "(no cap is in force: privacy.cap_epsilon is \"inf\")"
	}
	fmt.Fprintf(w, "  budget: ε = %.4g %s over the last %v (δ = %g; private releases: %d", s.Epsilon, capped, s.Cap.Window, s.Delta, s.Releases)
	if s.NonPrivate > 0 {
		fmt.Fprintf(w, ", non-private: %d", s.NonPrivate)
	}
	fmt.Fprintln(w, ")")
	if cc := rep.CapChange; cc != nil {
		fmt.Fprintf(w, "  WARNING: the cap in force, %v, differs from the one recorded with release %s, %v: give every command the configuration file that sets privacy.cap_* (--config), unless the change is meant; 'discret privacy report' shows the spend against both\n", s.Cap, cc.Version, cc.Recorded)
	}
	fmt.Fprintf(w, "  time: %.2f s (snapshot %.2f s, training %.2f s, storing %.2f s)\n", rep.Total.Seconds(), rep.Snapshot.Seconds(), rep.Training.Seconds(), rep.Storing.Seconds())
	if len(rep.Pruned) > 0 {
		fmt.Fprintf(w, "  deleted old releases: %s\n", strings.Join(rep.Pruned, ", "))
	}
}

// readCatalogue reads a public catalogue: JSON Lines of items ({"item":
// ID, "stores": [...]}, decoded as features.Item: its other fields are
// allowed and unused, unknown ones refused) or one item identifier per
// line; gzip-compressed when the name ends in .gz. It returns the items
// and, if any item lists stores, the stores (nil otherwise: they are then
// selected from the data). A file that repeats an item is refused, as
// `discret items import` refuses one.
func readCatalogue(path string) (items, stores []string, err error) {
	f, err := eventfile.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("catalogue: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	line := 0
	seen := map[string]int{}
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var it features.Item
		if b[0] == '{' {
			if err := json.Unmarshal(b, &it); err != nil {
				return nil, nil, fmt.Errorf("catalogue %s: %w", path, &features.RowError{Row: line, Err: err})
			}
		} else {
			it.ID = string(b)
		}
		if err := features.ValidateKey(it.ID); err != nil {
			return nil, nil, fmt.Errorf("catalogue %s: %w", path, &features.RowError{Row: line, Err: &features.FieldError{Field: "item", Err: err}})
		}
		for _, s := range it.Stores {
			if err := features.ValidateKey(s); err != nil {
				return nil, nil, fmt.Errorf("catalogue %s: %w", path, &features.RowError{Row: line, Err: &features.FieldError{Field: "stores", Err: err}})
			}
		}
		if first, ok := seen[it.ID]; ok {
			return nil, nil, fmt.Errorf("catalogue %s: %w", path, &features.RowError{Row: line, Err: &features.FieldError{Field: "item", Err: fmt.Errorf("%w: repeats row %d", features.ErrInvalid, first)}})
		}
		seen[it.ID] = line
		items = append(items, it.ID)
		stores = append(stores, it.Stores...)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("catalogue %s: %w", path, err)
	}
	if len(items) == 0 {
		return nil, nil, fmt.Errorf("catalogue %s: no items", path)
	}
	if len(stores) > 0 {
		slices.Sort(stores)
		stores = slices.Compact(stores)
	}
	return items, stores, nil
}
