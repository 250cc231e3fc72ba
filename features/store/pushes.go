package store

// Coupon pushes: which coupons were offered to a customer, where and when.
// They are customer data (a customer table: exported, erased by Forget and
// by a withdrawal of in_store or personalization consent) and exist only to
// enforce frequency caps, so they expire after the longest cap window.
//
// Push value: v1 (everything is in the key).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

// Push is a coupon offered to a customer in a store.
type Push struct {
	Time   time.Time // stored at millisecond precision
	Store  string
	Coupon string
	// ExpiresAt is when the record goes, truncated to the second; the
	// caller sets it to Time plus the longest frequency-cap window.
	ExpiresAt time.Time
}

// PushData is one coupon push in an export.
type PushData struct {
	Coupon    string    `json:"coupon"`
	Store     string    `json:"store"`
	Time      time.Time `json:"time"`
	ExpiresAt time.Time `json:"expires_at"`
}

// MaxBatchPushes is the most pushes AddPushes stores at once.
const MaxBatchPushes = 64

// ErrInvalidPush is returned by AddPushes for a push that cannot be stored.
var ErrInvalidPush = errors.New("store: invalid coupon push")

// AddPushes records pushes to customer p, all or none, if p's consent
// allows store visits (privacy.StoreVisit needs in_store and
// personalization; d decides for purposes without a recorded choice) and no
// erasure of p's pushes is under way; otherwise it fails with ErrNoConsent.
// The check is made inside the transaction, under the lock that orders
// writes against withdrawals, so a push cannot outlive a withdrawal that
// committed before it.
func (db *DB) AddPushes(ctx context.Context, p privacy.PseudoID, pushes []Push, d consent.Defaults) error {
	if len(pushes) > MaxBatchPushes {
		return fmt.Errorf("%w: %d pushes, at most %d", ErrInvalidPush, len(pushes), MaxBatchPushes)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.IsZero() {
		return fmt.Errorf("%w: zero customer pseudonym", ErrInvalidPush)
	}
	now := db.now()
	ents := make([]badger.Entry, len(pushes))
	for i, ps := range pushes {
		key, err := appendPushKey(nil, p, ps)
		switch {
		case err != nil:
		case ps.Time.IsZero() || ps.Time.Year() < 1 || ps.Time.Year() > 9999:
			err = errors.New("time out of range")
		case ps.ExpiresAt.Unix() <= 0 || expired(uint64(ps.ExpiresAt.Unix()), now):
			err = fmt.Errorf("expires at %s, not after now", ps.ExpiresAt.UTC().Format(time.RFC3339))
		}
		if err != nil {
			return fmt.Errorf("%w %d: %v", ErrInvalidPush, i, err)
		}
		ents[i] = badger.Entry{Key: key, Value: []byte{valueV1}, ExpiresAt: uint64(ps.ExpiresAt.Unix())}
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	err := db.update(ctx, func(txn *badger.Txn) error {
		dc, err := getDecision(txn, p)
		if err != nil {
			return err
		}
		pending, err := getMarker(txn, p)
		if err != nil {
			return err
		}
		if !dc.kinds(d).has(privacy.StoreVisit) || pending.others || pending.kinds.has(privacy.StoreVisit) {
			return ErrNoConsent
		}
		for i := range ents {
			e := ents[i] // SetEntry keeps a pointer; the closure may run again
			if err := txn.SetEntry(&e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrNoConsent) || errors.Is(err, ErrClosed) || errors.Is(err, ctx.Err()) {
			return err
		}
		return wrapf(err, "add pushes")
	}
	return nil
}

// Pushes returns the unexpired coupon pushes to customer p, oldest first.
func (db *DB) Pushes(ctx context.Context, p privacy.PseudoID) ([]Push, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := db.now()
	var out []Push
	err := db.view(func(txn *badger.Txn) error {
		pending, err := getMarker(txn, p)
		if err != nil {
			return err
		}
		if pending.others || pending.kinds.has(privacy.StoreVisit) {
			return nil
		}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: customerPrefix(tagPush, p)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			if expired(item.ExpiresAt(), now) {
				continue
			}
			ps, err := decodePushKey(item.Key())
			if err != nil {
				return err
			}
			ps.ExpiresAt = time.Unix(int64(item.ExpiresAt()), 0).UTC()
			out = append(out, ps)
		}
		return nil
	})
	if err != nil {
		return nil, wrapf(err, "pushes")
	}
	return out, nil
}

// appendPushKey appends f | p | time | store | 0x00 | coupon to dst.
func appendPushKey(dst []byte, p privacy.PseudoID, ps Push) ([]byte, error) {
	switch {
	case ps.Store == "" || !validIdent(ps.Store):
		return dst, fmt.Errorf("%w: store empty, longer than %d bytes or containing 0x00", errBadKey, privacy.MaxIDLen)
	case ps.Coupon == "" || !validIdent(ps.Coupon):
		return dst, fmt.Errorf("%w: coupon empty, longer than %d bytes or containing 0x00", errBadKey, privacy.MaxIDLen)
	}
	dst = append(dst, tagPush)
	dst = append(dst, p[:]...)
	var t [8]byte
	encodeTime(t[:], ps.Time)
	dst = append(dst, t[:]...)
	dst = append(dst, ps.Store...)
	dst = append(dst, 0)
	return append(dst, ps.Coupon...), nil
}

// decodePushKey parses a push key into Time, Store and Coupon. It accepts
// exactly the keys appendPushKey produces.
func decodePushKey(key []byte) (Push, error) {
	const fixed = pseudoEnd + 8
	if len(key) < fixed+3 || key[0] != tagPush {
		return Push{}, fmt.Errorf("%w: push key", ErrCorrupt)
	}
	rest := key[fixed:]
	i := bytes.IndexByte(rest, 0)
	store, coupon := rest[:max(i, 0)], rest[i+1:]
	if i < 1 || i > privacy.MaxIDLen || len(coupon) == 0 || len(coupon) > privacy.MaxIDLen || bytes.IndexByte(coupon, 0) >= 0 {
		return Push{}, fmt.Errorf("%w: push key", ErrCorrupt)
	}
	return Push{Time: decodeTime(key[pseudoEnd:]), Store: string(store), Coupon: string(coupon)}, nil
}

func exportPush(d *CustomerData, key, _ []byte, exp uint64) error {
	ps, err := decodePushKey(key)
	if err != nil {
		return err
	}
	pd := PushData{Coupon: ps.Coupon, Store: ps.Store, Time: ps.Time}
	if exp != 0 {
		pd.ExpiresAt = time.Unix(int64(exp), 0).UTC()
	}
	d.Pushes = append(d.Pushes, pd)
	return nil
}
