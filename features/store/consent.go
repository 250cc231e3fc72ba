package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

// Consent returns the consent record of customer p: the zero Record if they
// never expressed a choice.
func (db *DB) Consent(ctx context.Context, p privacy.PseudoID) (consent.Record, error) {
	if err := ctx.Err(); err != nil {
		return consent.Record{}, err
	}
	var r consent.Record
	err := db.view(func(txn *badger.Txn) error {
		var err error
		r, err = getConsent(txn, p)
		return err
	})
	if err != nil {
		return consent.Record{}, wrapf(err, "consent")
	}
	return r, nil
}

// Consents returns the consent records of ps, in order, from one snapshot:
// the fast path for checking a batch of events. A customer without a
// consent record costs a second lookup, for their erasure record
// (getConsent).
func (db *DB) Consents(ctx context.Context, ps []privacy.PseudoID) ([]consent.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]consent.Record, len(ps))
	err := db.view(func(txn *badger.Txn) error {
		for i, p := range ps {
			if i%1024 == 1023 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			var err error
			if out[i], err = getConsent(txn, p); err != nil {
				return fmt.Errorf("customer %d: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrapf(err, "consents")
	}
	return out, nil
}

// getConsent returns p's consent record or, without one, a record of their
// erasure (consent.Record.ErasedAt) if they were erased, or the zero Record.
func getConsent(txn *badger.Txn, p privacy.PseudoID) (consent.Record, error) {
	item, err := txn.Get(consentKey(p))
	if errors.Is(err, badger.ErrKeyNotFound) {
		t, err := getErased(txn, p)
		return consent.Record{ErasedAt: t}, err
	}
	if err != nil {
		return consent.Record{}, err
	}
	var r consent.Record
	err = item.Value(func(v []byte) error {
		r, err = decodeConsent(v)
		return err
	})
	return r, err
}

// getMarker returns the scope of the erasure pending for p, empty if none.
func getMarker(txn *badger.Txn, p privacy.PseudoID) (scope, error) {
	item, err := txn.Get(erasureKey(p))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return scope{}, nil
	}
	if err != nil {
		return scope{}, err
	}
	var s scope
	err = item.Value(func(v []byte) error {
		s, err = decodeMarker(v)
		return err
	})
	return s, err
}

// loadMarkers returns every pending erasure. There are few: an erasure is
// pending only while it runs, or after a crash until the next Open.
func loadMarkers(txn *badger.Txn) (map[privacy.PseudoID]scope, error) {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagErasure}})
	defer it.Close()
	var m map[privacy.PseudoID]scope
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		p, ok := keyPseudo(item.Key())
		if !ok {
			return nil, fmt.Errorf("%w: erasure key", ErrCorrupt)
		}
		var s scope
		if err := item.Value(func(v []byte) error {
			var err error
			s, err = decodeMarker(v)
			return err
		}); err != nil {
			return nil, err
		}
		if m == nil {
			m = make(map[privacy.PseudoID]scope)
		}
		m[p] = s
	}
	return m, nil
}

// ConsentResult is the outcome of UpdateConsent.
type ConsentResult struct {
	// Record is the customer's consent record after the changes.
	Record consent.Record
	// Withdrawn lists the purposes the changes withdrew (allowed before,
	// not after), in privacy.Purposes order.
	Withdrawn []privacy.Purpose
	// Removed counts the keys erased because consent no longer allows them.
	Removed Removed
	// Recorded counts the changes added to the history: those already in
	// it (consent.Change.Same) are not recorded again.
	Recorded int
	// PredatingErasure counts the changes not recorded because they are
	// dated at or before the customer's erasure
	// (consent.Record.PredatesErasure): choices that the erasure removed,
	// sent again.
	PredatingErasure int
	// Outranked lists the purposes of the grants that do not decide
	// because a withdrawal dated the same second does
	// (consent.Record.Outranked), in the order of the changes.
	Outranked []privacy.Purpose
}

// UpdateConsent applies changes to customer p's consent record
// (consent.Record.Apply) and, in the same atomic operation, erases whatever
// the new record does not allow: when personalization is not allowed, every
// event and every other customer table except the consent record; when only
// in-store consent is missing, the store visits. Reads see the withdrawal and
// the erasure at once. d is the policy for purposes without a recorded choice.
// Without changes, it only reads the record.
func (db *DB) UpdateConsent(ctx context.Context, p privacy.PseudoID, changes []consent.Change, d consent.Defaults) (ConsentResult, error) {
	now := db.now()
	for i, c := range changes {
		if err := errors.Join(c.Validate(), c.CheckTime(now)); err != nil {
			return ConsentResult{}, wrapf(err, "consent change %d", i)
		}
	}
	if len(changes) == 0 {
		r, err := db.Consent(ctx, p)
		return ConsentResult{Record: r}, err
	}
	var res ConsentResult

	// Fast path, without withdrawal: no append can be racing to store what
	// the new record forbids, since it was forbidden before too. Data that
	// is nevertheless stale (stored under more permissive defaults) is
	// erased here when it fits in the transaction.
	var slow bool
	db.mu.RLock()
	err := db.update(ctx, func(txn *badger.Txn) error {
		rec, err := getConsent(txn, p)
		if err != nil {
			return err
		}
		c, err := applyChanges(rec, changes, d, now)
		if err != nil {
			return err
		}
		res = c.result()
		if slow = c.withdraws; slow {
			return errRetrySlow
		}
		if err := setConsent(txn, p, c.rec); err != nil {
			return err
		}
		if c.stale.empty() {
			return nil
		}
		removed := Removed{}
		done, err := db.eraseInTxn(txn, p, c.stale, removed)
		if err != nil {
			return err
		}
		if slow = !done; slow {
			return errRetrySlow // too much to erase in one transaction
		}
		res.Removed = removed
		return nil
	})
	db.consents.invalidate(p)
	db.mu.RUnlock()
	if errors.Is(err, errRetrySlow) {
		err = nil
	}
	if err != nil {
		return ConsentResult{}, wrapf(err, "update consent")
	}
	if !slow {
		return res, nil
	}

	// A withdrawal: erase under the exclusive lock (see erase).
	removed, err := db.erase(ctx, p, false, func(txn *badger.Txn, _ Removed) (scope, error) {
		rec, err := getConsent(txn, p)
		if err != nil {
			return scope{}, err
		}
		c, err := applyChanges(rec, changes, d, now)
		if err != nil {
			return scope{}, err
		}
		res = c.result()
		return c.stale, setConsent(txn, p, c.rec)
	})
	res.Removed = removed
	if err != nil {
		return res, wrapf(err, "update consent")
	}
	return res, nil
}

// setConsent writes p's consent record r, unless r has no choice: the
// record of an erased customer whose choices all predate their erasure
// (consent.Record.PredatesErasure) stays where it is, in their erasure
// record, under a hash of the pseudonym.
func setConsent(txn *badger.Txn, p privacy.PseudoID, r consent.Record) error {
	if len(r.Changes) == 0 {
		return nil
	}
	return txn.Set(consentKey(p), encodeConsent(r))
}

// errRetrySlow makes the fast path of UpdateConsent discard its transaction
// for the erasure path.
var errRetrySlow = errors.New("store: retry on the erasure path")

// consentUpdate is a consent record after some changes.
type consentUpdate struct {
	rec       consent.Record
	withdrawn []privacy.Purpose
	// withdraws reports whether some kind of event was allowed before and
	// is not after.
	withdraws bool
	// stale is what the new record does not allow to keep.
	stale scope
	// recorded counts the changes appended (not already in the history).
	recorded int
	// predating counts the changes not recorded because they are dated at
	// or before the customer's erasure.
	predating int
	// outranked lists the purposes of the grants that a withdrawal of the
	// same second outranks.
	outranked []privacy.Purpose
}

// result is the ConsentResult of u, before any erasure.
func (u consentUpdate) result() ConsentResult {
	return ConsentResult{Record: u.rec, Withdrawn: u.withdrawn, Recorded: u.recorded, PredatingErasure: u.predating, Outranked: u.outranked}
}

// applyChanges applies changes, recorded at now (consent.Record.Apply caps
// their times at now), to a copy of rec.
func applyChanges(rec consent.Record, changes []consent.Change, d consent.Defaults, now time.Time) (consentUpdate, error) {
	var u consentUpdate
	before := allowedKinds(rec, d)
	var allowedBefore []bool
	for _, pp := range privacy.Purposes {
		allowedBefore = append(allowedBefore, d.Allows(rec, pp))
	}
	rec.Changes = slices.Clip(rec.Changes) // Apply must not write into the caller's array
	n := len(rec.Changes)
	for i, c := range changes {
		if rec.PredatesErasure(c.CappedAt(now)) { // as Apply judges it
			u.predating++
		}
		if _, err := rec.Apply(c, d, now); err != nil {
			return consentUpdate{}, fmt.Errorf("consent change %d: %w", i, err)
		}
	}
	for _, c := range changes {
		if rec.Outranked(c.CappedAt(now)) { // as Apply dated it
			u.outranked = append(u.outranked, c.Purpose)
		}
	}
	for i, pp := range privacy.Purposes {
		if allowedBefore[i] && !d.Allows(rec, pp) {
			u.withdrawn = append(u.withdrawn, pp)
		}
	}
	after := allowedKinds(rec, d)
	u.rec = rec
	u.recorded = len(rec.Changes) - n
	u.withdraws = before&^after != 0
	u.stale = scope{kinds: allKinds &^ after, others: !d.Allows(rec, privacy.Personalization)}
	return u, nil
}
