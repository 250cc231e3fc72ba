// Package ingest is Discret's write path for events: validated raw events are
// pseudonymized, checked against consent and retention, and appended to the
// store in all-or-nothing commit units that are durable before they are
// acknowledged.
//
// The raw customer identifier stops here: privacy/pseudonym turns it into a
// PseudoID, and only that reaches the store. Events of customers without the
// consent their kind needs (personalization; for store visits, in_store too)
// are not stored at all; only aggregate counters record that they arrived.
// Events already past their retention period are rejected as expired.
//
// Write ingests a request's events (the API path); Import streams a file in
// any eventfile format (the CLI path), validating the whole file first so that
// a file with bad rows is rejected whole unless the caller allows some.
package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
	"github.com/discret-io/discret/privacy/pseudonym"
	"github.com/discret-io/discret/privacy/retention"
)

// Store is what ingest needs from storage. *store.DB implements it.
type Store interface {
	// AppendEvents stores a batch atomically and durably, refusing with a
	// *store.RefusedError the events that consent does not allow.
	AppendEvents(ctx context.Context, b store.Batch) error
}

var _ Store = (*store.DB)(nil)

// Counter names recorded with each commit (per day of ingestion). They hold
// no customer data. CounterStored counts the events stored, new or already
// held: the store overwrites an event it holds (re-sending is idempotent)
// without telling, so a re-sent event is counted again.
const (
	CounterNoConsent = "ingest.dropped.no_consent"
	CounterExpired   = "ingest.rejected.expired"
	CounterStored    = "ingest.stored"
	CounterDuplicate = "ingest.duplicate"
)

// Config configures an Ingester.
type Config struct {
	// Pseudonyms turns raw identifiers into pseudonyms. Required.
	Pseudonyms *pseudonym.Keyed
	// Consent is the decision for customers who never expressed a choice;
	// the zero value is opt-in (no consent).
	Consent consent.Defaults
	// Retention gives each event's expiry; the zero value means the defaults.
	Retention retention.Policy
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// BatchSize is the number of events per commit unit; 0 means
	// store.MaxBatchEvents, which is also the maximum.
	BatchSize int
}

// Validate reports every problem with c.
func (c *Config) Validate() error {
	var errs []error
	if c.Pseudonyms == nil {
		errs = append(errs, errors.New("ingest: Config.Pseudonyms is required"))
	}
	if c.BatchSize < 0 || c.BatchSize > store.MaxBatchEvents {
		errs = append(errs, fmt.Errorf("ingest: batch size %d out of range 1-%d", c.BatchSize, store.MaxBatchEvents))
	}
	return errors.Join(errs...)
}

// Ingester ingests events into a Store. It is safe for concurrent use.
type Ingester struct {
	cfg Config
	st  Store
}

// New returns an Ingester writing to st.
func New(cfg Config, st Store) (*Ingester, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.BatchSize = cmp.Or(cfg.BatchSize, store.MaxBatchEvents)
	return &Ingester{cfg: cfg, st: st}, nil
}

// BatchSize is the largest commit unit, in events.
func (in *Ingester) BatchSize() int { return in.cfg.BatchSize }

// Counts tallies what happened to valid events.
type Counts struct {
	Stored    int // durably committed, new or already held (the store keeps one copy)
	NoConsent int // not stored: the customer does not consent
	Expired   int // not stored: already past retention
	// Duplicates were not stored on their own: a later event of the same
	// batch has the same identity (customer, time, type, item, store) and
	// replaces them, as re-sending an event does (store.AppendEvents).
	Duplicates int
}

func (c *Counts) add(o Counts) {
	c.Stored += o.Stored
	c.NoConsent += o.NoConsent
	c.Expired += o.Expired
	c.Duplicates += o.Duplicates
}

// Total is the number of events counted.
func (c Counts) Total() int { return c.Stored + c.NoConsent + c.Expired + c.Duplicates }

// ErrTooMany is returned by Write for more events than one commit unit holds.
var ErrTooMany = errors.New("ingest: too many events for one batch")

// Write ingests valid events (RawEvent.Validate returned nil for each) as
// ONE commit unit: when it returns nil, every storable event is durable; on
// error nothing was stored. It fails with ErrTooMany beyond BatchSize events.
func (in *Ingester) Write(ctx context.Context, events []features.RawEvent) (Counts, error) {
	if len(events) > in.cfg.BatchSize {
		return Counts{}, fmt.Errorf("%w: %d events, at most %d", ErrTooMany, len(events), in.cfg.BatchSize)
	}
	for i := range events {
		if err := events[i].Validate(); err != nil {
			return Counts{}, fmt.Errorf("ingest: event %d: %w", i, err)
		}
	}
	return in.commit(ctx, in.pseudonymize(events, nil))
}

// pseudonymize converts raw events, appending to dst.
func (in *Ingester) pseudonymize(raw []features.RawEvent, dst []features.Event) []features.Event {
	for i := range raw {
		r := &raw[i]
		dst = append(dst, features.Event{
			Customer: in.cfg.Pseudonyms.Pseudonymize(r.Customer),
			Item:     r.Item,
			Kind:     r.Kind,
			Store:    r.Store,
			Time:     r.Time,
			Quantity: r.Quantity,
		})
	}
	return dst
}

// commit applies consent and retention to events and appends the storable
// ones, with the counters, as one store batch. The store checks consent
// inside its transaction (from its consent cache) and refuses the events
// that consent does not allow; they are dropped, counted, and the rest is
// appended again.
func (in *Ingester) commit(ctx context.Context, events []features.Event) (Counts, error) {
	if len(events) == 0 {
		return Counts{}, nil
	}
	now := in.cfg.Now()
	day := store.DayOf(now)
	var c Counts
	last := lastOfIdentity(events)
	entries := make([]store.Entry, 0, len(events))
	for i := range events {
		e := &events[i]
		if last[identity(e)] != i {
			c.Duplicates++
			continue
		}
		exp := in.cfg.Retention.ExpiresAt(e.Kind, e.Time)
		if !now.Before(exp) {
			c.Expired++
			continue
		}
		entries = append(entries, store.Entry{Event: *e, ExpiresAt: exp})
	}
	for {
		c.Stored = len(entries)
		counters := map[store.CounterKey]uint64{}
		for name, n := range map[string]int{CounterStored: c.Stored, CounterNoConsent: c.NoConsent, CounterExpired: c.Expired, CounterDuplicate: c.Duplicates} {
			if n > 0 {
				counters[store.CounterKey{Name: name, Day: day}] = uint64(n)
			}
		}
		err := in.st.AppendEvents(ctx, store.Batch{Events: entries, Counters: counters, Defaults: in.cfg.Consent})
		var refused *store.RefusedError
		if !errors.As(err, &refused) {
			if err != nil {
				return Counts{}, fmt.Errorf("ingest: %w", err)
			}
			return c, nil
		}
		entries = dropIndices(entries, refused.Indices)
		c.NoConsent += len(refused.Indices)
	}
}

// eventID is an event's identity, the part of its store key that
// re-sending it repeats. Its time has the key's precision, Unix
// milliseconds (store/keys.go): two events less than a millisecond apart
// are one event to the store, so they are one here too.
type eventID struct {
	customer    privacy.PseudoID
	unixMilli   int64
	kind        privacy.EventKind
	item, store string
}

func identity(e *features.Event) eventID {
	return eventID{e.Customer, e.Time.UnixMilli(), e.Kind, e.Item, e.Store}
}

// lastOfIdentity maps each identity in events to its last index.
func lastOfIdentity(events []features.Event) map[eventID]int {
	last := make(map[eventID]int, len(events))
	for i := range events {
		last[identity(&events[i])] = i
	}
	return last
}

// dropIndices removes the elements at the ascending indices idx.
func dropIndices[T any](s []T, idx []int) []T {
	out := s[:0]
	j := 0
	for i := range s {
		if j < len(idx) && idx[j] == i {
			j++
			continue
		}
		out = append(out, s[i])
	}
	return out
}
