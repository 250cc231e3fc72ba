package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

// ConsentUpdate is the consent changes of one customer, for UpdateConsents.
type ConsentUpdate struct {
	Customer privacy.PseudoID
	Changes  []consent.Change
}

// consentBatchSize is how many customers UpdateConsents writes per
// transaction: far below Badger's transaction limits even for long
// histories, and enough to amortize the sync of each commit.
const consentBatchSize = 512

// UpdateConsents applies the updates of many customers, each listed at most
// once, as a bulk import does, with the semantics of UpdateConsent for each: an update that
// withdraws consent, or leaves data that the new record does not allow, goes
// through UpdateConsent so that its erasure stays atomic (as does a chunk
// whose stale data is too large for one transaction); the others are
// written consentBatchSize customers per transaction, each transaction synced
// before the next starts. Results are in the order of ups. On error, the
// int result says how many updates were applied: those before the failing
// transaction, or, when an update of the one-by-one pass fails (they run
// after every batch), all but that update and the ones of the pass after it.
func (db *DB) UpdateConsents(ctx context.Context, ups []ConsentUpdate, d consent.Defaults) ([]ConsentResult, int, error) {
	now := db.now()
	seen := make(map[privacy.PseudoID]struct{}, len(ups))
	for i, u := range ups {
		if _, dup := seen[u.Customer]; dup {
			return nil, 0, fmt.Errorf("store: update %d: customer listed twice (group each customer's changes in one update)", i)
		}
		seen[u.Customer] = struct{}{}
		for j, c := range u.Changes {
			if err := errors.Join(c.Validate(), c.CheckTime(now)); err != nil {
				return nil, 0, wrapf(err, "update %d, consent change %d", i, j)
			}
		}
	}
	res := make([]ConsentResult, len(ups))
	var slow []int // indices that need the erasure path
	for start := 0; start < len(ups); start += consentBatchSize {
		chunk := ups[start:min(start+consentBatchSize, len(ups))]
		var chunkSlow []int
		db.mu.RLock()
		err := db.update(ctx, func(txn *badger.Txn) error {
			chunkSlow = chunkSlow[:0]
			for i, u := range chunk {
				rec, err := getConsent(txn, u.Customer)
				if err != nil {
					return err
				}
				c, err := applyChanges(rec, u.Changes, d, now)
				if err != nil {
					return err
				}
				if c.withdraws {
					chunkSlow = append(chunkSlow, start+i)
					continue
				}
				res[start+i] = c.result()
				if err := setConsent(txn, u.Customer, c.rec); err != nil {
					return err
				}
				if c.stale.empty() {
					continue
				}
				// Data stored under more permissive defaults: erase it here
				// as UpdateConsent's fast path does, when it fits.
				removed := Removed{}
				done, err := db.eraseInTxn(txn, u.Customer, c.stale, removed)
				if err != nil {
					return err
				}
				if !done {
					return errRetrySlow
				}
				res[start+i].Removed = removed
			}
			return nil
		})
		if errors.Is(err, errRetrySlow) {
			// Too much stale data for one transaction: apply this chunk one
			// customer at a time.
			chunkSlow = chunkSlow[:0]
			for i := range chunk {
				chunkSlow = append(chunkSlow, start+i)
			}
			err = nil
		}
		for _, u := range chunk {
			db.consents.invalidate(u.Customer)
		}
		db.mu.RUnlock()
		if errors.Is(err, badger.ErrTxnTooBig) {
			err = fmt.Errorf("%w: consent histories too long for a batch of %d customers", ErrBatchTooLarge, len(chunk))
		}
		if err != nil {
			return nil, start, wrapf(err, "update consents")
		}
		slow = append(slow, chunkSlow...)
	}
	for k, i := range slow {
		r, err := db.UpdateConsent(ctx, ups[i].Customer, ups[i].Changes, d)
		if err != nil {
			return nil, len(ups) - (len(slow) - k), err
		}
		res[i] = r
	}
	return res, len(ups), nil
}
