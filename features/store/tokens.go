package store

import (
	"context"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// CustomerTokenTagSize is the size of the tag that identifies a customer
// token (serve/auth): what the store keeps of a revoked one.
const CustomerTokenTagSize = 16

// RevokedToken is a customer token revoked before its expiry.
type RevokedToken struct {
	// Tag identifies the token. It holds neither the token's customer nor
	// anything that lets the token be used.
	Tag [CustomerTokenTagSize]byte
	// Expiry is the token's own: the record is useless after it, and
	// Badger's TTL hides it then (Compact removes it).
	Expiry time.Time
}

func revokedTokenKey(tag [CustomerTokenTagSize]byte) []byte {
	return append([]byte{tagToken}, tag[:]...)
}

// RevokeCustomerToken records that the customer token with this tag is
// revoked until expiry, its own expiry, when the record expires with it.
// Revoking a token again changes nothing. It fails if expiry is not after
// the store's clock: an expired token needs no revocation.
func (db *DB) RevokeCustomerToken(ctx context.Context, tag [CustomerTokenTagSize]byte, expiry time.Time) error {
	if !expiry.After(db.now()) {
		return fmt.Errorf("store: revoke customer token: it expired at %s", expiry.UTC().Format(time.RFC3339))
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	err := db.update(ctx, func(txn *badger.Txn) error {
		// Badger's ExpiresAt is in whole seconds; rounding up keeps the
		// record until the token has expired.
		exp := expiry.Unix()
		if expiry.Nanosecond() != 0 {
			exp++
		}
		return txn.SetEntry(&badger.Entry{Key: revokedTokenKey(tag), ExpiresAt: uint64(exp)})
	})
	if err != nil {
		return wrapf(err, "revoke customer token")
	}
	return nil
}

// RevokedCustomerTokens returns the customer tokens revoked and not yet
// expired, in tag order.
func (db *DB) RevokedCustomerTokens(ctx context.Context) ([]RevokedToken, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := db.now()
	var out []RevokedToken
	err := db.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagToken}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			k := item.Key()
			if len(k) != 1+CustomerTokenTagSize {
				return fmt.Errorf("%w: revoked customer token key of %d bytes", ErrCorrupt, len(k))
			}
			if expired(item.ExpiresAt(), now) {
				continue
			}
			out = append(out, RevokedToken{Tag: [CustomerTokenTagSize]byte(k[1:]), Expiry: time.Unix(int64(item.ExpiresAt()), 0).UTC()})
		}
		return nil
	})
	if err != nil {
		return nil, wrapf(err, "revoked customer tokens")
	}
	return out, nil
}
