package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"time"

	"github.com/discret-io/discret/features/synth"
)

func genCommand() *command {
	var (
		out string
		cfg synth.Config
	)
	return &command{
		name:    "gen",
		args:    "--out DIR",
		summary: "write a seeded synthetic retail dataset (events, consent, catalogue)",
		help: `Gen writes a synthetic retail dataset in Discret's JSON Lines format:

  DIR/events.jsonl   views, carts, purchases and store visits
  DIR/consent.jsonl  consent choices per customer and purpose
  DIR/items.jsonl    the item catalogue (category, stores where available)

Customers have latent tastes over categories, item popularity is skewed,
online sessions follow a view → cart → purchase funnel, store sessions start
with a visit, and a share of customers declines or later withdraws consent.
The same --seed gives the same files. Event times end now and span 90 days.
Every store stocks at least one item, so --stores is at most --items (and
--items × --stores at most 50,000,000).
Output is streamed: any size up to hundreds of millions of events runs in
constant memory.

Import it with:
  discret consent import DIR/consent.jsonl
  discret import DIR/events.jsonl`,
		flags: func(fs *flag.FlagSet, _ *env) {
			fs.StringVar(&out, "out", "", "output directory `DIR` (required; created if absent)")
			fs.IntVar(&cfg.Customers, "customers", 2000, "number of customers `N`")
			fs.IntVar(&cfg.Items, "items", 1000, "number of items `N`")
			fs.IntVar(&cfg.Stores, "stores", 0, "number of stores `N`, at most --items (default 8, or --items if fewer)")
			fs.IntVar(&cfg.Events, "events", 100_000, "number of events `N`")
			fs.Uint64Var(&cfg.Seed, "seed", 1, "random `SEED`")
		},
		noArgs: true,
		run: func(ctx context.Context, e *env, _ []string) error {
			if out == "" {
				return usagef("--out DIR is required")
			}
			if err := e.checkRanges(synthRanges...); err != nil {
				return err
			}
			if err := checkStores(cfg); err != nil {
				return err
			}
			cfg.End = time.Now().UTC().Truncate(time.Second)
			if err := cfg.Validate(); err != nil {
				return usagef("%v", err)
			}
			start := time.Now()
			sum, err := synth.WriteDir(ctx, out, cfg, genProgress(e, cfg.Events))
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "wrote %s, %s and %s in %.1f s\n", filepath.Join(out, synth.EventsFile),
				filepath.Join(out, synth.ConsentFile), filepath.Join(out, synth.ItemsFile), time.Since(start).Seconds())
			printSynthSummary(e, sum)
			return nil
		},
	}
}

// synthRanges are the ranges of the flags of `discret gen` and `discret
// demo` that size a synthetic dataset.
var synthRanges = []flagRange{
	{"customers", intRange(1, synth.MaxCustomers)},
	{"items", intRange(1, synth.MaxItems)},
	{"stores", intRange(1, synth.MaxStores)},
	{"events", intRange(1, synth.MaxEvents)},
}

// checkStores refuses --stores and --items that are each in range but not
// together, naming the flags: synth.Config.Validate checks the same rules,
// in terms of its fields. A --stores left unset (0) is synth's default,
// which never exceeds the items.
func checkStores(cfg synth.Config) error {
	items := cmp.Or(cfg.Items, 1000)
	if cfg.Stores > items {
		return usagef("--stores %d is more than --items %d: a store stocks at least one item; lower --stores or raise --items", cfg.Stores, items)
	}
	if n := items * cfg.Stores; n > synth.MaxStocking {
		return usagef("--items %d × --stores %d = %d stock entries, above the limit of %d; lower --items or --stores", items, cfg.Stores, n, synth.MaxStocking)
	}
	return nil
}

func genProgress(e *env, total int) func(done, _ int) {
	last := time.Now()
	return func(done, _ int) {
		if time.Since(last) >= 2*time.Second {
			last = time.Now()
			fmt.Fprintf(e.stderr, "generated %d of %d events\n", done, total)
		}
	}
}

func printSynthSummary(e *env, s synth.Summary) {
	fmt.Fprintf(e.stdout, "  customers %d, items %d, stores %d\n", s.Customers, s.Items, s.Stores)
	fmt.Fprintf(e.stdout, "  events %d: %d views, %d carts, %d purchases, %d store visits (%s to %s)\n",
		s.Events, s.Views, s.Carts, s.Purchases, s.Visits, s.Start.Format(time.DateOnly), s.End.Format(time.DateOnly))
	fmt.Fprintf(e.stdout, "  consent: %d records; %d customers grant personalization, %d in_store, %d withdraw later\n",
		s.ConsentRecords, s.Personalization, s.InStore, s.Withdrawn)
}
