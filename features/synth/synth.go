// Package synth generates seeded synthetic retail data: an item catalogue,
// customer events (views, carts, purchases, store visits) and consent
// changes, in the formats features/eventfile reads.
//
// The data has the structure a recommender needs to find and the skew real
// retail data has:
//
//   - Items belong to categories, each split into a few styles; a (category,
//     style) pair is a taste group. Item popularity follows a Zipf law
//     (weight ∝ 1/rank^Skew) over a random ranking.
//   - Each customer has latent tastes: a mixture of one to three favourite
//     taste groups, sometimes straying to sibling styles of the same
//     category, and an exploration share drawn from global popularity.
//     Items a customer interacts with therefore co-occur with items of the
//     same groups, which collaborative filtering can learn and a
//     most-popular baseline cannot.
//   - Customer activity is heavy-tailed (log-normal), so a few customers are
//     very active and many are occasional.
//   - Online sessions follow a funnel (views, then carts for some viewed
//     items, then purchases for some carted ones); store sessions are a
//     store visit followed by purchases of items stocked in that store. Some
//     purchases repeat earlier ones.
//   - Customers grant or decline consent per purpose (ConsentMix), and some
//     withdraw later; a customer sends no events after withdrawing.
//
// Generation is deterministic: the same Config (including Seed) gives
// byte-identical output on the same platform. Each customer draws from a
// random stream of its own (math/rand/v2 PCG keyed by the seed and the
// customer number), and output is streamed customer by customer, so memory
// does not grow with the number of events.
package synth

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/discret-io/discret/features/eventfile"
)

// DefaultEnd is the end of the generated period when Config.End is zero: a
// fixed date, so that output does not depend on when it is generated.
var DefaultEnd = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// DefaultPeriod is the length of the generated period when Config.Start is
// zero.
const DefaultPeriod = 90 * 24 * time.Hour

// Limits on Config.
const (
	MaxCustomers = 50_000_000
	MaxItems     = 1_000_000
	MaxStores    = 1000
	MaxEvents    = 1_000_000_000
	// MaxStocking bounds Items × Stores, the size of the stock table.
	MaxStocking = 50_000_000
)

// Config describes a dataset. The zero value of each field means its
// documented default.
type Config struct {
	Customers  int     // default 2,000
	Items      int     // default 1,000
	Stores     int     // default 8, or Items if fewer; at most Items (a store stocks at least one item)
	Events     int     // total events, exactly; default 100,000
	Categories int     // default 12, or Items if fewer; at most Items
	Skew       float64 // Zipf exponent of item popularity; default 1.0
	Seed       uint64  // any value, 0 included
	// Start and End bound event and consent times: End defaults to
	// DefaultEnd, Start to End - DefaultPeriod.
	Start, End time.Time
	// Consent is the consent mix; nil means DefaultConsent.
	Consent *ConsentMix
}

// ConsentMix gives the shares of customers per consent choice. Every share
// is in [0, 1].
type ConsentMix struct {
	// Personalization is the share of customers who grant personalization.
	// Half of the others decline explicitly; the rest never answer.
	Personalization float64
	// InStore is the share of those granting personalization who also
	// grant in_store.
	InStore float64
	// Withdraw is the share of those granting personalization who withdraw
	// it during the period.
	Withdraw float64
}

// DefaultConsent is the consent mix when Config.Consent is nil.
var DefaultConsent = ConsentMix{Personalization: 0.85, InStore: 0.6, Withdraw: 0.05}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	c.Customers = cmp.Or(c.Customers, 2000)
	c.Items = cmp.Or(c.Items, 1000)
	c.Stores = cmp.Or(c.Stores, min(8, max(c.Items, 1)))
	c.Events = cmp.Or(c.Events, 100_000)
	c.Categories = cmp.Or(c.Categories, min(12, max(c.Items, 1)))
	c.Skew = cmp.Or(c.Skew, 1)
	if c.End.IsZero() {
		c.End = DefaultEnd
	}
	if c.Start.IsZero() {
		c.Start = c.End.Add(-DefaultPeriod)
	}
	if c.Consent == nil {
		mix := DefaultConsent
		c.Consent = &mix
	}
	return c
}

// Validate reports every problem with c (after defaults) at once.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf("synth: "+format, args...))
		}
	}
	check(c.Customers > 0 && c.Customers <= MaxCustomers, "customers %d out of range 1..%d", c.Customers, MaxCustomers)
	itemsOK := c.Items > 0 && c.Items <= MaxItems
	check(itemsOK, "items %d out of range 1..%d", c.Items, MaxItems)
	storesOK := c.Stores > 0 && c.Stores <= MaxStores
	check(storesOK, "stores %d out of range 1..%d", c.Stores, MaxStores)
	// The rules between fields hold only when each field is in its range.
	check(!itemsOK || !storesOK || c.Stores <= c.Items, "stores %d is more than items %d: a store stocks at least one item; lower Stores or raise Items", c.Stores, c.Items)
	check(!itemsOK || !storesOK || c.Items*c.Stores <= MaxStocking, "items %d × stores %d = %d stock entries, above the limit of %d; lower Items or Stores", c.Items, c.Stores, c.Items*c.Stores, MaxStocking)
	check(c.Events > 0 && c.Events <= MaxEvents, "events %d out of range 1..%d", c.Events, MaxEvents)
	check(c.Categories > 0, "categories %d out of range: want at least 1", c.Categories)
	check(!itemsOK || c.Categories <= c.Items, "categories %d is more than items %d: a category holds at least one item; lower Categories or raise Items", c.Categories, c.Items)
	check(c.Skew > 0 && c.Skew <= 5, "skew %g out of range (0, 5]", c.Skew)
	check(c.End.After(c.Start.Add(time.Minute)), "period %v – %v shorter than a minute", c.Start.Format(time.RFC3339), c.End.Format(time.RFC3339))
	check(c.Start.Year() >= 1970 && c.End.Year() < 2200, "period %v – %v outside 1970–2199", c.Start.Format(time.RFC3339), c.End.Format(time.RFC3339))
	for _, s := range []struct {
		name string
		v    float64
	}{{"personalization", c.Consent.Personalization}, {"in_store", c.Consent.InStore}, {"withdraw", c.Consent.Withdraw}} {
		check(s.v >= 0 && s.v <= 1, "consent share %s %g out of range [0, 1]", s.name, s.v)
	}
	return errors.Join(errs...)
}

// Summary counts what Generate wrote.
type Summary struct {
	Customers, Items, Stores int
	Events                   int // Views + Carts + Purchases + Visits
	Views, Carts, Purchases  int
	Visits                   int // store visits
	ConsentRecords           int // consent changes (written if Output.Consent is set)
	// Customers granting each purpose at the start, and withdrawing
	// personalization later.
	Personalization, InStore, Withdrawn int
	Start, End                          time.Time
}

// Output holds the writers Generate writes to. Events is required; a nil
// Consent or Items writer skips that file.
type Output struct {
	Events  io.Writer // JSON Lines, format eventfile.Discret
	Consent io.Writer // JSON Lines, read by eventfile.ReadConsent
	Items   io.Writer // JSON Lines of Item
}

// ProgressEvery is how many events pass between calls of Generate's
// progress callback (which is also called once at the end).
const ProgressEvery = 1 << 16

// Generate writes the dataset cfg describes. progress, if not nil, is called
// with the number of events written so far and cfg's total. Writers are
// written through buffers that are flushed before Generate returns.
func Generate(ctx context.Context, cfg Config, out Output, progress func(done, total int)) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	if out.Events == nil {
		return Summary{}, errors.New("synth: no events writer")
	}
	cfg = cfg.withDefaults()
	cat := newCatalogue(cfg)
	sum := Summary{Customers: cfg.Customers, Items: cfg.Items, Stores: cfg.Stores, Start: cfg.Start, End: cfg.End}
	if out.Items != nil {
		if err := WriteItems(out.Items, cat.items()); err != nil {
			return sum, err
		}
	}
	events, err := eventfile.NewEncoder(out.Events, eventfile.Discret)
	if err != nil {
		return sum, err
	}
	var consent *eventfile.ConsentEncoder
	if out.Consent != nil {
		if consent, err = eventfile.NewConsentEncoder(out.Consent, eventfile.Discret); err != nil {
			return sum, err
		}
	}
	g := newGenerator(cfg, cat, events, consent, &sum)
	next := ProgressEvery
	for i := range cfg.Customers {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return sum, err
			}
		}
		if err := g.customer(i); err != nil {
			return sum, err
		}
		if progress != nil && sum.Events >= next {
			progress(sum.Events, cfg.Events)
			next = (sum.Events/ProgressEvery + 1) * ProgressEvery
		}
	}
	if err := events.Flush(); err != nil {
		return sum, err
	}
	if consent != nil {
		if err := consent.Flush(); err != nil {
			return sum, err
		}
	}
	if sum.Events != cfg.Events {
		return sum, fmt.Errorf("synth: internal error: wrote %d events, want %d", sum.Events, cfg.Events)
	}
	if progress != nil {
		progress(sum.Events, cfg.Events)
	}
	return sum, nil
}

// Names of the files WriteDir writes.
const (
	EventsFile  = "events.jsonl"
	ConsentFile = "consent.jsonl"
	ItemsFile   = "items.jsonl"
)

// WriteDir generates the dataset cfg describes into dir (created if need
// be): EventsFile, ConsentFile and ItemsFile. Each file is written under a
// temporary name and renamed when complete.
func WriteDir(ctx context.Context, dir string, cfg Config, progress func(done, total int)) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Summary{}, fmt.Errorf("synth: %w", err)
	}
	names := []string{EventsFile, ConsentFile, ItemsFile}
	var files []*os.File
	var bufs []*bufio.Writer
	defer func() {
		for _, f := range files {
			f.Close()
			os.Remove(f.Name()) // fails harmlessly once renamed
		}
	}()
	for _, name := range names {
		f, err := os.CreateTemp(dir, "."+name+".*")
		if err != nil {
			return Summary{}, fmt.Errorf("synth: %w", err)
		}
		files = append(files, f)
		bufs = append(bufs, bufio.NewWriterSize(f, 256<<10))
	}
	sum, err := Generate(ctx, cfg, Output{Events: bufs[0], Consent: bufs[1], Items: bufs[2]}, progress)
	if err != nil {
		return sum, err
	}
	for i, f := range files {
		if err := bufs[i].Flush(); err != nil {
			return sum, fmt.Errorf("synth: write %s: %w", names[i], err)
		}
		if err := f.Chmod(0o644); err != nil {
			return sum, fmt.Errorf("synth: %w", err)
		}
		if err := f.Close(); err != nil {
			return sum, fmt.Errorf("synth: write %s: %w", names[i], err)
		}
		if err := os.Rename(f.Name(), filepath.Join(dir, names[i])); err != nil {
			return sum, fmt.Errorf("synth: %w", err)
		}
	}
	return sum, nil
}
