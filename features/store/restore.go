package store

// Restoring a backup copy must not undo what the store it replaces decided
// about customers after the copy was made. A copy holds the store as it was:
// restored as it is, it brings back the events of customers erased since,
// the consent they withdrew, API keys revoked since, releases retired with
// an erased customer's data, and it forgets the privacy budget spent since.
// Reconcile carries those forward, from the replaced store into the
// restored copy, before the copy serves:
//
//   - erasures: every erasure record (erased.go) newer in the replaced
//     store than in the copy erases the copy's customer again, with the
//     time of the erasure (so nothing dated before it can come back);
//   - consent: every consent record of the replaced store that differs
//     from the copy's replaces it, and whatever any of the changes since
//     did not allow is erased, as the withdrawal erased it then (a
//     customer who withdrew and granted again does not get back the
//     events the withdrawal erased);
//   - the tables that record decisions rather than data are merged, the
//     replaced store's entry winning where both have one: API keys,
//     revoked customer tokens, the privacy ledger, the audit trail (nothing
//     of the copy's is deleted); the erasure records keep the later time;
//   - model releases, and which one is current, are taken as they are in
//     the replaced store: a release it deleted since (retired with an
//     erased customer's data, or pruned) is deleted; so are the settings
//     in force (settings.go);
//   - coupon pushes made since are added, after the erasures and consent
//     changes above (the replaced store holds only the pushes those
//     allowed), so that a frequency cap counts a coupon pushed after the
//     copy was made.
//
// Reconcile refuses a replaced store that is not the copy's store as it
// is now (ErrNotDescendant): one that lacks the copy's newest audit entry
// or ledger charge is another store, or one restored since from an older
// copy, and merging it would bring back what the copy knows was erased.
//
// What the copy keeps is data: events, the catalogue and coupons,
// aggregate counters. Events stored after the copy are not carried
// forward (restoring is how one undoes a bad import); they can be sent
// again.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

// Table names of Reconciled.Tables (and TablePushes).
const (
	TableAPIKeys       = "api_keys"
	TableRevokedTokens = "revoked_tokens"
	TableReleases      = "release_records"
	TableLedger        = "ledger_entries"
	TableAudit         = "audit_entries"
	TableErasures      = "erasure_records"
	TableSettings      = "settings"
)

// mergedTables are the tables Reconcile takes from the replaced store, by
// name: merged, or, if mirror is set, as they are.
var mergedTables = []struct {
	name     string
	prefixes [][]byte
	mirror   bool
}{
	{TableAPIKeys, [][]byte{{tagAPIKey}}, false},
	{TableRevokedTokens, [][]byte{{tagToken}}, false},
	{TableReleases, [][]byte{{tagModel}, {tagPopular}}, true},
	{TableLedger, [][]byte{{tagLedger}}, false},
	{TableAudit, [][]byte{{tagAudit}}, false},
	{TableSettings, [][]byte{settingsKey}, true},
	// Last: the customers' consent and erasures are the replaced store's
	// by now, and it holds only the pushes they allow.
	{TablePushes, [][]byte{{tagPush}}, false},
}

// ErrNotDescendant is returned by Reconcile for a replaced store that is
// not the copy's store as it is now.
var ErrNotDescendant = errors.New("store: the store to replace is not the one the copy was made from")

// Reconciled says what Reconcile changed in the restored store.
type Reconciled struct {
	// Erased counts the customers of the copy erased again.
	Erased int
	// Consents counts the customers whose consent record was replaced.
	Consents int
	// Removed counts the records the erasures and the consent changes
	// deleted, per customer table.
	Removed Removed
	// Tables counts, per table taken from the replaced store
	// (TableAPIKeys, ..., TableErasures), the entries written or deleted.
	Tables map[string]int
}

// Counts returns r as the counts of an audit entry.
func (r Reconciled) Counts() map[string]int64 {
	c := map[string]int64{"customers_erased": int64(r.Erased), "consent_records": int64(r.Consents)}
	for t, n := range r.Removed {
		c["removed_"+t] = int64(n)
	}
	for t, n := range r.Tables {
		c[t] = int64(n)
	}
	return c
}

// Reconcile carries into db, a store restored from a backup copy, the
// decisions that replaced, the store it replaces, made since the copy (see
// the top of this file): erasures, consent, API keys, revoked tokens,
// releases, the ledger and the audit trail. d is the consent policy for
// purposes without a recorded choice. Nothing else may use either store
// meanwhile (the restore command holds both directories). replaced is only
// read. A failure leaves db half-reconciled: the caller discards it.
func (db *DB) Reconcile(ctx context.Context, replaced *DB, d consent.Defaults) (Reconciled, error) {
	res := Reconciled{Removed: Removed{}, Tables: map[string]int{}}
	if err := db.checkDescendant(replaced); err != nil {
		return res, err
	}
	if err := db.reconcileErasures(ctx, replaced, &res); err != nil {
		return res, wrapf(err, "reconcile erasures")
	}
	if err := db.reconcileConsent(ctx, replaced, d, &res); err != nil {
		return res, wrapf(err, "reconcile consent")
	}
	for _, t := range mergedTables {
		n, err := db.merge(ctx, replaced, t.prefixes, t.mirror)
		if err != nil {
			return res, wrapf(err, "reconcile %s", t.name)
		}
		if n > 0 {
			res.Tables[t.name] = n
		}
	}
	// The audit table took entries: the next entry's key is read again.
	db.auditKeys.mu.Lock()
	db.auditKeys.started = false
	db.auditKeys.mu.Unlock()
	res.Removed = nonEmpty(res.Removed)
	return res, nil
}

// checkDescendant returns ErrNotDescendant if the newest audit entry or
// ledger charge of db, the copy, is not in replaced.
func (db *DB) checkDescendant(replaced *DB) error {
	for _, t := range []struct {
		tag  byte
		what string
	}{{tagAudit, "audit entry"}, {tagLedger, "ledger charge"}} {
		key, value, err := db.newest(t.tag)
		if err != nil || key == nil {
			return err
		}
		err = replaced.view(func(txn *badger.Txn) error {
			found, same, err := hasValue(txn, key, value)
			switch {
			case err != nil:
				return err
			case !found:
				return fmt.Errorf("%w: it lacks the copy's newest %s (%x), so it was restored since from an older copy, or is another store", ErrNotDescendant, t.what, key[1:])
			case !same:
				return fmt.Errorf("%w: its %s %x differs from the copy's", ErrNotDescendant, t.what, key[1:])
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// newest returns the last key of the table tag and its value, nil if the
// table is empty.
func (db *DB) newest(tag byte) (key, value []byte, err error) {
	err = db.view(func(txn *badger.Txn) error {
		return lastInTable(txn, tag, func(item *badger.Item) error {
			key = item.KeyCopy(nil)
			value, err = item.ValueCopy(nil)
			return err
		})
	})
	return key, value, err
}

// reconcileErasures erases again the customers of db whose erasure record
// differs in replaced (a later erasure; or an earlier time, when the clock
// was set back), recording the later of the two times, and takes the
// erasure records db lacks.
func (db *DB) reconcileErasures(ctx context.Context, replaced *DB, res *Reconciled) error {
	newer, err := replaced.erasureTimes(ctx)
	if err != nil {
		return err
	}
	own, err := db.erasureTimes(ctx)
	if err != nil {
		return err
	}
	maps.DeleteFunc(newer, func(k string, t time.Time) bool { return t.Equal(own[k]) })
	if len(newer) == 0 {
		return nil
	}
	for k, t := range newer {
		if t.Before(own[k]) {
			newer[k] = own[k]
		}
	}
	customers, err := db.customers(ctx)
	if err != nil {
		return err
	}
	for _, p := range customers {
		k := string(erasedKey(p))
		t, ok := newer[k]
		if !ok {
			continue
		}
		removed, err := db.forgetAt(ctx, p, t, false)
		if err != nil {
			return err
		}
		delete(newer, k)
		res.Erased++
		res.Tables[TableErasures]++
		addRemoved(res.Removed, removed)
	}
	// Customers erased who have nothing in db: their records.
	wb := db.bdb.NewWriteBatch()
	defer wb.Cancel()
	for k, t := range newer {
		if t.Equal(own[k]) {
			continue
		}
		if err := wb.Set([]byte(k), encodeSeconds(t)); err != nil {
			return err
		}
		res.Tables[TableErasures]++
	}
	return wb.Flush()
}

// erasureTimes returns every erasure record of db, by key.
func (db *DB) erasureTimes(ctx context.Context) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	err := db.scan(ctx, tagErased, func(key, value []byte) error {
		t, err := decodeSeconds(value, errBadErased)
		if err != nil {
			return err
		}
		out[string(key)] = t
		return nil
	})
	return out, err
}

// customers returns every customer with a key in a customer table or an
// erasure pending, each once.
func (db *DB) customers(ctx context.Context) ([]privacy.PseudoID, error) {
	var out []privacy.PseudoID
	seen := map[privacy.PseudoID]bool{}
	err := db.view(func(txn *badger.Txn) error {
		tags := []byte{tagErasure}
		for _, t := range customerTables {
			tags = append(tags, t.tag)
		}
		for _, tag := range tags {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tag}})
			for it.Rewind(); it.Valid(); {
				if err := ctx.Err(); err != nil {
					it.Close()
					return err
				}
				p, ok := keyPseudo(it.Item().Key())
				if !ok {
					it.Close()
					return fmt.Errorf("%w: key of table %q", ErrCorrupt, tag)
				}
				if !seen[p] {
					seen[p] = true
					out = append(out, p)
				}
				// The next customer's keys begin at the successor of
				// p's prefix (a pseudonym of all 0xff bytes has none).
				next, ok := prefixSuccessor(customerPrefix(tag, p))
				if !ok {
					break
				}
				it.Seek(next)
			}
			it.Close()
		}
		return nil
	})
	return out, err
}

// reconcileConsent replaces every consent record of db that differs from
// replaced's, erasing what the changes since did not allow.
func (db *DB) reconcileConsent(ctx context.Context, replaced *DB, d consent.Defaults, res *Reconciled) error {
	type record struct {
		p   privacy.PseudoID
		raw []byte
	}
	var newer []record
	err := replaced.scan(ctx, tagConsent, func(key, value []byte) error {
		p, ok := keyPseudo(key)
		if !ok || len(key) != pseudoEnd {
			return fmt.Errorf("%w: consent key", ErrCorrupt)
		}
		newer = append(newer, record{p, bytes.Clone(value)})
		return nil
	})
	if err != nil {
		return err
	}
	// Most records are the same in both stores: they are found in one
	// read, and only those that differ take an erasure's transaction.
	err = db.view(func(txn *badger.Txn) error {
		differ := newer[:0]
		for _, r := range newer {
			if err := ctx.Err(); err != nil {
				return err
			}
			_, same, err := hasValue(txn, consentKey(r.p), r.raw)
			if err != nil {
				return err
			}
			if !same {
				differ = append(differ, r)
			}
		}
		newer = differ
		return nil
	})
	if err != nil {
		return err
	}
	now := db.now()
	for _, r := range newer {
		to, err := decodeConsent(r.raw)
		if err != nil {
			return err
		}
		removed, changed, err := db.replaceConsent(ctx, r.p, r.raw, to, d, now)
		if err != nil {
			return err
		}
		if changed {
			res.Consents++
			addRemoved(res.Removed, removed)
		}
	}
	return nil
}

// hasValue reports whether txn holds key, and whether with the value want.
func hasValue(txn *badger.Txn, key, want []byte) (found, same bool, err error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	err = item.Value(func(v []byte) error {
		same = bytes.Equal(v, want)
		return nil
	})
	return true, same, err
}

// replaceConsent sets p's consent record to to (encoded raw) unless it is
// already that, and erases what to does not allow and what any change of
// to that p's record lacks did not allow when it was made.
func (db *DB) replaceConsent(ctx context.Context, p privacy.PseudoID, raw []byte, to consent.Record, d consent.Defaults, now time.Time) (Removed, bool, error) {
	changed := false
	removed, err := db.erase(ctx, p, false, func(txn *badger.Txn, _ Removed) (scope, error) {
		changed = false
		item, err := txn.Get(consentKey(p))
		var from consent.Record
		switch {
		case errors.Is(err, badger.ErrKeyNotFound):
		case err != nil:
			return scope{}, err
		default:
			old, err := item.ValueCopy(nil)
			if err != nil {
				return scope{}, err
			}
			if bytes.Equal(old, raw) {
				return scope{}, nil
			}
			if from, err = decodeConsent(old); err != nil {
				return scope{}, err
			}
		}
		changed = true
		stale, err := staleSince(from, to, d, now)
		if err != nil {
			return scope{}, err
		}
		return stale, txn.Set(consentKey(p), raw)
	})
	return removed, changed, err
}

// staleSince replays on from, one by one, the changes of to that from
// lacks, and returns what the record did not allow after any of them or
// does not allow in to: what the store that recorded them erased.
func staleSince(from, to consent.Record, d consent.Defaults, now time.Time) (scope, error) {
	stale := scope{kinds: allKinds &^ allowedKinds(to, d), others: !d.Allows(to, privacy.Personalization)}
	rec := from
	for _, c := range to.Changes {
		if hasChange(from, c) {
			continue
		}
		u, err := applyChanges(rec, []consent.Change{c}, d, now)
		if err != nil {
			return scope{}, err
		}
		rec = u.rec
		stale = stale.union(u.stale)
	}
	return stale, nil
}

// hasChange reports whether r's history holds c.
func hasChange(r consent.Record, c consent.Change) bool {
	for _, o := range r.Changes {
		if o.Same(c) {
			return true
		}
	}
	return false
}

// merge writes into db every entry of replaced's under the given key
// prefixes (tables' tags) that db lacks or holds with another value or
// expiry, and, if mirror is set, deletes the entries replaced lacks; it
// returns how many entries it wrote or deleted.
func (db *DB) merge(ctx context.Context, replaced *DB, prefixes [][]byte, mirror bool) (int, error) {
	type entry struct {
		value     []byte
		expiresAt uint64
	}
	want := map[string]entry{}
	for _, prefix := range prefixes {
		err := replaced.scanItems(ctx, prefix, func(item *badger.Item) error {
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			want[string(item.KeyCopy(nil))] = entry{v, item.ExpiresAt()}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	wb := db.bdb.NewWriteBatch()
	defer wb.Cancel()
	n := 0
	for _, prefix := range prefixes {
		err := db.scanItems(ctx, prefix, func(item *badger.Item) error {
			key := item.KeyCopy(nil)
			w, ok := want[string(key)]
			if !ok {
				if !mirror {
					return nil
				}
				n++
				return wb.Delete(key)
			}
			differs := w.expiresAt != item.ExpiresAt()
			if !differs {
				err := item.Value(func(v []byte) error {
					differs = !bytes.Equal(v, w.value)
					return nil
				})
				if err != nil {
					return err
				}
			}
			if !differs {
				delete(want, string(key))
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	for k, w := range want {
		e := badger.NewEntry([]byte(k), w.value)
		e.ExpiresAt = w.expiresAt
		if err := wb.SetEntry(e); err != nil {
			return 0, err
		}
		n++
	}
	return n, wb.Flush()
}

// prefixSuccessor returns the smallest key after every key that starts
// with prefix; false if there is none (prefix is all 0xff).
func prefixSuccessor(prefix []byte) ([]byte, bool) {
	next := bytes.Clone(prefix)
	for i := len(next) - 1; i >= 0; i-- {
		if next[i] != 0xff {
			next[i]++
			return next[:i+1], true
		}
	}
	return nil, false
}

func addRemoved(to, from Removed) {
	for t, n := range from {
		to[t] += n
	}
}
