package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

// Batch limits. A batch within them always fits in one Badger transaction,
// even with identifiers and counter names of maximal length: 4096 events of
// 555 bytes (key, value and Badger's overhead) plus 256 counters of 90 bytes
// take 2.3 MB of the 2.5 MB that a transaction may hold with MinMemTableSize
// (15%), and 4352 of its 26214 entries. TestMaxBatchFits checks it.
const (
	MaxBatchEvents   = 4096
	MaxBatchCounters = 256
)

// Errors returned by AppendEvents.
var (
	ErrBatchTooLarge = fmt.Errorf("store: batch too large for one transaction (at most %d events and %d counters)", MaxBatchEvents, MaxBatchCounters)
	ErrInvalidEvent  = errors.New("store: invalid event")
	ErrNoConsent     = errors.New("store: no consent")
)

// Entry is an event together with the time it must be gone by, as stored.
type Entry struct {
	features.Event
	// ExpiresAt is when the event stops being visible, truncated to the
	// second (Badger's TTL granularity). The caller computes it from the
	// retention policy (retention.Policy.ExpiresAt); the store keeps the
	// earlier of it and the expiry its own policy gives (Options.Retention).
	ExpiresAt time.Time
}

// Batch is what AppendEvents stores in one transaction.
type Batch struct {
	// Events to store. The caller has validated them
	// (features.RawEvent.Validate), checked consent and dropped expired ones.
	Events []Entry
	// Counters to add to (for example events dropped for lack of consent,
	// per reason and day).
	Counters map[CounterKey]uint64
	// Defaults is the consent policy for customers who never expressed a
	// choice, as used by the caller's consent check; AppendEvents repeats
	// the check inside its transaction (see RefusedError).
	Defaults consent.Defaults
}

// RefusedError is returned by AppendEvents when some events may not be
// stored: their customer does not consent to every purpose their kind needs
// (privacy.EventKind.Needs), or an erasure of their data is in progress. It
// happens when a withdrawal commits between the caller's consent check and
// the append; the caller drops the refused events and appends the rest again.
// It matches ErrNoConsent with errors.Is.
type RefusedError struct {
	Indices []int // into Batch.Events, ascending
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("store: %d events refused for lack of consent (first: event %d)", len(e.Indices), e.Indices[0])
}

// Is reports whether target is ErrNoConsent.
func (e *RefusedError) Is(target error) bool { return target == ErrNoConsent }

// AppendEvents stores b atomically: all its events and counter additions, or
// nothing. When it returns nil the batch is durable (synced to disk), so the
// caller may acknowledge it. Appending an event again (same customer, time,
// kind, item and store) overwrites it, so re-importing a file is idempotent.
//
// It fails with ErrBatchTooLarge beyond MaxBatchEvents or MaxBatchCounters,
// with ErrInvalidEvent for an event that cannot be stored (zero customer,
// invalid kind, zero time or outside years 1-9999, quantity out of range,
// identifier too long or containing 0x00, or ExpiresAt not after
// Options.Now), and with a
// *RefusedError if consent does not allow some events.
func (db *DB) AppendEvents(ctx context.Context, b Batch) error {
	if len(b.Events) > MaxBatchEvents || len(b.Counters) > MaxBatchCounters {
		return fmt.Errorf("%w: got %d events and %d counters", ErrBatchTooLarge, len(b.Events), len(b.Counters))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	now := db.now()
	// Encode everything before the transaction: a bad event fails the
	// batch before anything is written.
	keys := make([][]byte, len(b.Events))
	vals := make([][]byte, len(b.Events))
	buf := make([]byte, 0, len(b.Events)*72)
	ends := make([]int, 0, 2*len(b.Events))
	var pseudos []privacy.PseudoID
	for i := range b.Events {
		e := &b.Events[i]
		if err := checkEntry(e, now); err != nil {
			return fmt.Errorf("%w: event %d: %v", ErrInvalidEvent, i, err)
		}
		var err error
		if buf, err = appendEventKey(buf, &e.Event); err != nil {
			return fmt.Errorf("%w: event %d: %v", ErrInvalidEvent, i, err)
		}
		ends = append(ends, len(buf))
		buf = appendEventValue(buf, e.Quantity)
		ends = append(ends, len(buf))
		pseudos = append(pseudos, e.Customer)
	}
	start := 0
	for i := range b.Events {
		keys[i] = buf[start:ends[2*i]:ends[2*i]]
		vals[i] = buf[ends[2*i]:ends[2*i+1]:ends[2*i+1]]
		start = ends[2*i+1]
	}
	counters := make([][]byte, 0, len(b.Counters))
	deltas := make([]uint64, 0, len(b.Counters))
	for c, n := range b.Counters {
		if err := c.validate(); err != nil {
			return err
		}
		counters = append(counters, counterKey(c))
		deltas = append(deltas, n)
	}
	slices.SortFunc(pseudos, func(a, b privacy.PseudoID) int { return bytes.Compare(a[:], b[:]) })
	pseudos = slices.Compact(pseudos)

	if len(counters) > 0 {
		db.counterMu.Lock()
		defer db.counterMu.Unlock()
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	ents := make([]badger.Entry, len(b.Events))
	// What each customer's consent and pending erasures allow, and their
	// decision, which also refuses events that predate an erasure.
	type admission struct {
		kinds kindSet
		dc    decision
	}
	allowed := make(map[privacy.PseudoID]admission, len(pseudos))
	version := db.consents.currentVersion()
	err := db.update(ctx, func(txn *badger.Txn) error {
		// The consent check, again, inside the transaction, against the
		// records of this snapshot or the cache (see consentCache). A
		// withdrawal cannot commit meanwhile: it takes db.mu exclusively.
		// Pending erasures (rare) are read in one scan: markers are only
		// written under db.mu held exclusively too.
		markers, err := loadMarkers(txn)
		if err != nil {
			return err
		}
		for _, p := range pseudos {
			dc, ok := db.consents.get(p)
			if !ok {
				if dc, err = getDecision(txn, p); err != nil {
					return err
				}
				db.consents.fill(p, dc, version)
			}
			allowed[p] = admission{kinds: dc.kinds(b.Defaults) &^ markers[p].kinds, dc: dc}
		}
		var refused []int
		for i := range b.Events {
			e := &b.Events[i]
			if a := allowed[e.Customer]; !a.kinds.has(e.Kind) || a.dc.predates(e.Time) {
				refused = append(refused, i)
			}
		}
		if refused != nil {
			return &RefusedError{Indices: refused}
		}
		for i := range b.Events {
			// At most the policy's expiry (eventExpiry), so that Badger's
			// TTL alone expires every event written under the policy in
			// force, and DeleteExpired has only the older ones to delete.
			exp := db.eventExpiry(keys[i], uint64(b.Events[i].ExpiresAt.Unix()))
			ents[i] = badger.Entry{Key: keys[i], Value: vals[i], ExpiresAt: exp}
			if err := txn.SetEntry(&ents[i]); err != nil {
				return err
			}
		}
		return addCounters(txn, counters, deltas)
	})
	if errors.Is(err, badger.ErrTxnTooBig) {
		return fmt.Errorf("%w: %d events and %d counters", ErrBatchTooLarge, len(b.Events), len(b.Counters))
	}
	if err != nil {
		var re *RefusedError
		if errors.As(err, &re) || errors.Is(err, ErrClosed) || errors.Is(err, ctx.Err()) {
			return err
		}
		return wrapf(err, "append %d events", len(b.Events))
	}
	return nil
}

// getDecision returns the decision of p's consent record or, without one,
// of their erasure record.
func getDecision(txn *badger.Txn, p privacy.PseudoID) (decision, error) {
	item, err := txn.Get(consentKey(p))
	if errors.Is(err, badger.ErrKeyNotFound) {
		t, err := getErased(txn, p)
		return erasedDecision(t), err
	}
	if err != nil {
		return decision{}, err
	}
	var dc decision
	err = item.Value(func(v []byte) error {
		dc, err = consentDecision(v)
		return err
	})
	return dc, err
}

// checkEntry checks what appendEventKey does not.
func checkEntry(e *Entry, now time.Time) error {
	switch {
	case e.Customer.IsZero():
		return errors.New("zero customer pseudonym")
	case e.Time.IsZero():
		return errors.New("zero time")
	case e.Time.Year() < 1 || e.Time.Year() > 9999:
		return fmt.Errorf("time %s out of range", e.Time.Format(time.RFC3339))
	case e.Quantity < 1 || e.Quantity > features.MaxQuantity:
		return fmt.Errorf("quantity %d out of range 1-%d", e.Quantity, features.MaxQuantity)
	case e.ExpiresAt.Unix() <= 0 || expired(uint64(e.ExpiresAt.Unix()), now):
		return fmt.Errorf("expires at %s, not after now (%s)", e.ExpiresAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// allowedKinds returns the kinds of events that r allows to store.
func allowedKinds(r consent.Record, d consent.Defaults) kindSet {
	var s kindSet
	for _, k := range privacy.EventKinds {
		if d.AllowsAll(r, k.Needs()) {
			s.add(k)
		}
	}
	return s
}

// CustomerEvents returns the unexpired events of customer p, oldest first.
func (db *DB) CustomerEvents(ctx context.Context, p privacy.PseudoID) ([]features.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := db.now()
	var out []features.Event
	err := db.view(func(txn *badger.Txn) error {
		pending, err := getMarker(txn, p)
		if err != nil {
			return err
		}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: customerPrefix(tagEvent, p)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			e, ok, err := db.readEvent(it.Item(), now, pending)
			if err != nil {
				return err
			}
			if ok {
				out = append(out, e)
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrapf(err, "customer events")
	}
	return out, nil
}

// readEvent decodes an event item. It reports false for an event that is
// expired at now (see eventExpiry) or hidden by a pending erasure.
func (db *DB) readEvent(item *badger.Item, now time.Time, pending scope) (features.Event, bool, error) {
	var e features.Event
	if expired(db.eventExpiry(item.Key(), item.ExpiresAt()), now) {
		return e, false, nil
	}
	if k, ok := eventKeyKind(item.Key()); ok && pending.kinds.has(k) {
		return e, false, nil
	}
	if err := decodeEventKey(item.Key(), &e); err != nil {
		return e, false, fmt.Errorf("%w: event key", ErrCorrupt)
	}
	err := item.Value(func(v []byte) error {
		q, err := decodeEventValue(v)
		e.Quantity = q
		return err
	})
	return e, err == nil, err
}

// Events returns every unexpired event from one consistent snapshot, in key
// order: grouped by customer (in pseudonym byte order), oldest first within
// a customer. Events whose erasure is pending are left out. The iteration
// stops at the first error, which it yields with a zero Event; cancelling ctx
// stops it with ctx's error. It holds a read snapshot open until it returns,
// which delays compaction, so consume it promptly.
func (db *DB) Events(ctx context.Context) iter.Seq2[features.Event, error] {
	return func(yield func(features.Event, error) bool) {
		if db.bdb.IsClosed() {
			yield(features.Event{}, ErrClosed)
			return
		}
		now := db.now()
		txn := db.bdb.NewTransaction(false)
		defer txn.Discard()
		markers, err := loadMarkers(txn)
		if err != nil {
			yield(features.Event{}, err)
			return
		}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagEvent}})
		defer it.Close()
		var last privacy.PseudoID
		var pending scope
		n := 0
		for it.Rewind(); it.Valid(); it.Next() {
			if n++; n%1024 == 0 {
				if err := ctx.Err(); err != nil {
					yield(features.Event{}, err)
					return
				}
			}
			item := it.Item()
			if len(markers) > 0 {
				if p, _ := keyPseudo(item.Key()); p != last {
					last, pending = p, markers[p]
				}
			}
			e, ok, err := db.readEvent(item, now, pending)
			if err != nil {
				yield(features.Event{}, err)
				return
			}
			if ok && !yield(e, nil) {
				return
			}
		}
	}
}

// EventCounts summarizes the unexpired events (see CountEvents).
type EventCounts struct {
	Events         int
	Customers      int // with at least one event
	ByKind         map[privacy.EventKind]int
	Oldest, Newest time.Time // event times; zero when there is no event
}

// CountEvents counts the unexpired events, in total, per kind and per
// customer, from one snapshot, reading keys only.
func (db *DB) CountEvents(ctx context.Context) (EventCounts, error) {
	c := EventCounts{ByKind: make(map[privacy.EventKind]int)}
	now := db.now()
	err := db.view(func(txn *badger.Txn) error {
		markers, err := loadMarkers(txn)
		if err != nil {
			return err
		}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagEvent}})
		defer it.Close()
		var last privacy.PseudoID
		first := true
		n := 0
		for it.Rewind(); it.Valid(); it.Next() {
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			item := it.Item()
			key := item.Key()
			k, ok := eventKeyKind(key)
			t, _ := eventKeyTime(key)
			p, _ := keyPseudo(key)
			if !ok {
				return fmt.Errorf("%w: event key", ErrCorrupt)
			}
			if expired(db.eventExpiry(key, item.ExpiresAt()), now) || markers[p].kinds.has(k) {
				continue
			}
			c.Events++
			c.ByKind[k]++
			if first || p != last {
				c.Customers++
				last, first = p, false
			}
			if c.Oldest.IsZero() || t.Before(c.Oldest) {
				c.Oldest = t
			}
			if t.After(c.Newest) {
				c.Newest = t
			}
		}
		return nil
	})
	if err != nil {
		return EventCounts{}, wrapf(err, "count events")
	}
	return c, nil
}
