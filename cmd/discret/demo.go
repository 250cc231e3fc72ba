package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/eventfile"
	"github.com/discret-io/discret/features/ingest"
	"github.com/discret-io/discret/features/synth"
	"github.com/discret-io/discret/privacy/secret"
)

func demoCommand() *command {
	var cfg synth.Config
	return &command{
		name:    "demo",
		args:    "",
		summary: "generate a synthetic dataset, ingest it and show what was stored",
		help: `Demo sets up a local Discret in one step: it creates the master key (--key)
if it does not exist, generates a synthetic retail dataset, imports its
consent choices and events into the data directory (--data) under the
consent and retention rules, stores its item catalogue (which training
uses as the public item universe), and prints what was stored and what was
not. It does so only in a new data directory: in one that holds a store, it
prints what is there. 'discret serve --demo' then finishes the set-up (a
model, coupons, the demo customer, a demo API key).`,
		flags: func(fs *flag.FlagSet, _ *env) {
			fs.IntVar(&cfg.Customers, "customers", 2000, "number of customers `N`")
			fs.IntVar(&cfg.Items, "items", 1000, "number of items `N`")
			fs.IntVar(&cfg.Events, "events", 100_000, "number of events `N`")
			fs.Uint64Var(&cfg.Seed, "seed", 1, "random `SEED`")
		},
		noArgs: true,
		run: func(ctx context.Context, e *env, _ []string) error {
			if err := e.checkRanges(synthRanges...); err != nil {
				return err
			}
			d, _, err := setupDemo(ctx, e, cfg)
			if err != nil {
				return err
			}
			defer d.Close()
			return printStored(ctx, e.stdout, d)
		},
	}
}

// demoPendingFile, in the data directory, marks a demo set-up that has not
// finished: setupDemo writes it when it creates the store, and `discret
// serve --demo` removes it once the demo customer exists.
const demoPendingFile = "demo-setup-pending"

// setupDemo creates the key if absent and opens the data directory. Demo
// data (the synthetic dataset, its catalogue, and later the demo customer)
// goes only into a new data directory, or one whose demo set-up has not
// finished (demoPendingFile): a customer erased since, or a directory of
// real data, is never filled again. It reports whether the set-up is
// under way (seeding). The caller closes the returned data environment.
func setupDemo(ctx context.Context, e *env, cfg synth.Config) (d *dataEnv, seeding bool, err error) {
	if err := checkKeyOutsideData(e.global.key, e.global.data); err != nil {
		return nil, false, err
	}
	if _, err := os.Stat(e.global.key); errors.Is(err, fs.ErrNotExist) {
		m, err := secret.Generate()
		if err != nil {
			return nil, false, err
		}
		if err := m.WriteFile(e.global.key); err != nil {
			return nil, false, err
		}
		fmt.Fprintf(e.stdout, "created master key %s (mode 0600); keep it outside the data directory and its backups\n", e.global.key)
	}
	held, err := hasStore(e.global.data)
	if err != nil {
		return nil, false, err
	}
	fresh := !held
	if d, err = openData(ctx, e, true); err != nil {
		return nil, false, err
	}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	pending := filepath.Join(e.global.data, demoPendingFile)
	if fresh {
		if err := os.WriteFile(pending, []byte("the demo set-up of this data directory has not finished: 'discret serve --demo' finishes it\n"), 0o600); err != nil {
			return nil, false, err
		}
	} else if _, err := os.Stat(pending); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, false, err
		}
		fmt.Fprintf(e.stdout, "data directory %s exists: reusing what it holds (demo data goes only into a new data directory)\n", e.global.data)
		return d, false, nil
	}
	counts, err := d.db.CountEvents(ctx)
	if err != nil {
		return nil, false, err
	}
	if counts.Events > 0 {
		fmt.Fprintf(e.stdout, "data directory %s already holds %d events; reusing it\n", e.global.data, counts.Events)
	} else if err := ingestDemo(ctx, e, d, cfg); err != nil {
		return nil, false, err
	}
	if err := ensureDemoCatalogue(ctx, e, d, cfg); err != nil {
		return nil, false, err
	}
	return d, true, nil
}

// finishDemo removes demoPendingFile: the demo set-up is complete, and no
// demo data will be added to the data directory again.
func finishDemo(e *env) error {
	err := os.Remove(filepath.Join(e.global.data, demoPendingFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// ensureDemoCatalogue stores the synthetic dataset's catalogue, every item
// active, unless the store has a catalogue.
func ensureDemoCatalogue(ctx context.Context, e *env, d *dataEnv, cfg synth.Config) error {
	items, err := d.db.Items(ctx)
	if err != nil || len(items) > 0 {
		return err
	}
	cat, err := synth.Catalogue(cfg)
	if err != nil {
		return err
	}
	items = make([]features.Item, len(cat))
	for i, it := range cat {
		items[i] = features.Item{ID: it.ID, Category: it.Category, Stores: it.Stores, Active: true}
	}
	if err := d.db.PutItems(ctx, items); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "stored the catalogue: %d items\n", len(items))
	return nil
}

func ingestDemo(ctx context.Context, e *env, d *dataEnv, cfg synth.Config) error {
	tmp, err := os.MkdirTemp("", "discret-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cfg.End = time.Now().UTC().Truncate(time.Second)
	if err := cfg.Validate(); err != nil {
		return usagef("%v", err)
	}
	fmt.Fprintln(e.stdout, "generating a synthetic dataset…")
	sum, err := synth.WriteDir(ctx, tmp, cfg, genProgress(e, cfg.Events))
	if err != nil {
		return err
	}
	printSynthSummary(e, sum)
	fmt.Fprintln(e.stdout, "importing consent choices…")
	if err := importConsentFile(ctx, e, d, filepath.Join(tmp, synth.ConsentFile), 0); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "importing events…")
	in, err := ingest.New(ingest.Config{Pseudonyms: d.pseudonyms, Consent: d.settings.consent, Retention: d.settings.retention}, d.db)
	if err != nil {
		return err
	}
	path := filepath.Join(tmp, synth.EventsFile)
	rep, err := in.Import(ctx, func() (io.ReadCloser, error) { return eventfile.Open(path) }, ingest.ImportOptions{
		Format: eventfile.Discret, Name: path, Progress: progressPrinter(e, path),
	})
	printImportReport(e.stdout, synth.EventsFile, rep)
	return err
}

// printStored summarizes what the data directory holds.
func printStored(ctx context.Context, w io.Writer, d *dataEnv) error {
	c, err := d.db.CountEvents(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nThe data directory holds:\n")
	byKind := map[string]int{}
	for k, n := range c.ByKind {
		byKind[k.String()] = n
	}
	fmt.Fprintf(w, "  %d events of %d consenting customers%s\n", c.Events, c.Customers, byReason(byKind))
	if items, err := d.db.Items(ctx); err == nil {
		fmt.Fprintf(w, "  a catalogue of %d items (public: no customer data)\n", len(items))
	}
	if c.Events > 0 {
		fmt.Fprintf(w, "  event times from %s to %s\n", c.Oldest.Format(time.RFC3339), c.Newest.Format(time.RFC3339))
	}
	dropped, err := d.db.Counters(ctx, "ingest.")
	if err != nil {
		return err
	}
	totals := map[string]int{}
	for _, ctr := range dropped {
		totals[ctr.Name] += int(ctr.Value)
	}
	fmt.Fprintf(w, "  aggregate counters only (no customer data): %d events not stored for lack of consent, %d rejected as expired\n",
		totals[ingest.CounterNoConsent], totals[ingest.CounterExpired])
	fmt.Fprintf(w, "  customer ids are stored only as keyed HMAC pseudonyms; everything is encrypted at rest\n")
	return nil
}
