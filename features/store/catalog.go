package store

// The catalogue: items (what may be recommended, where, and whether it is on
// sale) and coupons. Both are global tables keyed by identifier (keys.go);
// neither holds customer data.
//
// Item value:   v1 | flags(1, bit 0: active) | uvarint len | category |
//               uvarint n | n × (uvarint len | store)
// Coupon value: v1 | flags(1, bit 0: active) | uvarint len | item |
//               uvarint n | n × (uvarint len | store) | uvarint len | value |
//               varint valid_from | varint valid_until   (Unix milliseconds)

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/privacy"
)

// ErrInvalidCatalogue is returned for an item or coupon that does not
// validate (features.Item.Validate, features.Coupon.Validate); the error
// also wraps the *features.FieldError.
var ErrInvalidCatalogue = errors.New("store: invalid catalogue entry")

// catalogueEntryCost is what an entry costs in putChunked's budget beyond
// its key and value: more than Badger's per-entry overhead, so that the
// budget also bounds the number of entries of a transaction.
const catalogueEntryCost = 128

// catalogueTxnBudget returns the budget of one putChunked transaction: half
// of what Badger lets a transaction hold (15% of a memtable).
func (db *DB) catalogueTxnBudget() int {
	return int(db.opts.memTable() * 15 / 100 / 2)
}

// PutItems creates or replaces catalogue items, in order. A batch larger
// than one transaction is written in several, so a failure may leave a
// prefix of it stored; writing the batch again is harmless.
func (db *DB) PutItems(ctx context.Context, items []features.Item) error {
	kvs := make([]keyValue, len(items))
	for i := range items {
		it := &items[i]
		if err := it.Validate(); err != nil {
			return fmt.Errorf("%w: item %d: %w", ErrInvalidCatalogue, i, err)
		}
		kvs[i] = keyValue{key: catalogueKey(tagItem, it.ID), value: encodeItem(it)}
	}
	if err := db.putChunked(ctx, kvs); err != nil {
		return wrapf(err, "put items")
	}
	return nil
}

// Items returns every catalogue item, by identifier.
func (db *DB) Items(ctx context.Context) ([]features.Item, error) {
	var out []features.Item
	err := db.scan(ctx, tagItem, func(key, v []byte) error {
		it, err := decodeItem(v)
		if err != nil {
			return err
		}
		if it.ID = string(key[1:]); privacy.ValidateID(it.ID) != nil {
			return fmt.Errorf("%w: item key", ErrCorrupt)
		}
		out = append(out, it)
		return nil
	})
	if err != nil {
		return nil, wrapf(err, "items")
	}
	return out, nil
}

// PutCoupons creates or replaces coupons, in order, like PutItems.
func (db *DB) PutCoupons(ctx context.Context, coupons []features.Coupon) error {
	kvs := make([]keyValue, len(coupons))
	for i := range coupons {
		c := &coupons[i]
		if err := c.Validate(); err != nil {
			return fmt.Errorf("%w: coupon %d: %w", ErrInvalidCatalogue, i, err)
		}
		kvs[i] = keyValue{key: catalogueKey(tagCoupon, c.ID), value: encodeCoupon(c)}
	}
	if err := db.putChunked(ctx, kvs); err != nil {
		return wrapf(err, "put coupons")
	}
	return nil
}

// Coupons returns every coupon, by identifier, including inactive and
// expired ones (features.Coupon.ValidAt tells them apart).
func (db *DB) Coupons(ctx context.Context) ([]features.Coupon, error) {
	var out []features.Coupon
	err := db.scan(ctx, tagCoupon, func(key, v []byte) error {
		c, err := decodeCoupon(v)
		if err != nil {
			return err
		}
		if c.ID = string(key[1:]); privacy.ValidateID(c.ID) != nil {
			return fmt.Errorf("%w: coupon key", ErrCorrupt)
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, wrapf(err, "coupons")
	}
	return out, nil
}

type keyValue struct{ key, value []byte }

// putChunked writes kvs in as few transactions as catalogueTxnBudget
// allows.
func (db *DB) putChunked(ctx context.Context, kvs []keyValue) error {
	budget := db.catalogueTxnBudget()
	db.mu.RLock()
	defer db.mu.RUnlock()
	for len(kvs) > 0 {
		n, size := 0, 0
		for n < len(kvs) {
			cost := len(kvs[n].key) + len(kvs[n].value) + catalogueEntryCost
			if n > 0 && size+cost > budget {
				break
			}
			size += cost
			n++
		}
		chunk := kvs[:n]
		err := db.update(ctx, func(txn *badger.Txn) error {
			for _, kv := range chunk {
				if err := txn.Set(kv.key, kv.value); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		kvs = kvs[n:]
	}
	return nil
}

// scan calls fn with the key and value of every entry of a global table.
func (db *DB) scan(ctx context.Context, tag byte, fn func(key, value []byte) error) error {
	return db.scanItems(ctx, []byte{tag}, func(item *badger.Item) error {
		key := item.Key()
		return item.Value(func(v []byte) error { return fn(key, v) })
	})
}

// scanItems calls fn on the item of every unexpired entry whose key starts
// with prefix (a table's tag), in key order.
func (db *DB) scanItems(ctx context.Context, prefix []byte, fn func(*badger.Item) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		n := 0
		for it.Rewind(); it.Valid(); it.Next() {
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if err := fn(it.Item()); err != nil {
				return err
			}
		}
		return nil
	})
}

// catalogueKey returns tag | id.
func catalogueKey(tag byte, id string) []byte {
	k := make([]byte, 0, 1+len(id))
	return append(append(k, tag), id...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

func activeFlag(active bool) byte {
	if active {
		return 1
	}
	return 0
}

func encodeItem(it *features.Item) []byte {
	b := make([]byte, 0, 16+len(it.ID)+len(it.Category)+8*len(it.Stores))
	b = append(b, valueV1, activeFlag(it.Active))
	b = appendString(b, it.Category)
	return appendStrings(b, it.Stores)
}

// decodeItem decodes an item value; the identifier is not part of it and
// is left empty.
func decodeItem(v []byte) (features.Item, error) {
	d := decoder{b: v}
	ver, flags := d.byte(), d.byte()
	it := features.Item{Active: flags == 1, Category: d.string()}
	it.Stores = d.strings()
	if d.err || ver != valueV1 || flags > 1 || len(d.b) != 0 {
		return features.Item{}, fmt.Errorf("%w: item", ErrCorrupt)
	}
	return it, nil
}

func encodeCoupon(c *features.Coupon) []byte {
	b := make([]byte, 0, 32+len(c.Item)+len(c.Value)+8*len(c.Stores))
	b = append(b, valueV1, activeFlag(c.Active))
	b = appendString(b, c.Item)
	b = appendStrings(b, c.Stores)
	b = appendString(b, c.Value)
	b = binary.AppendVarint(b, c.ValidFrom.UnixMilli())
	return binary.AppendVarint(b, c.ValidUntil.UnixMilli())
}

// decodeCoupon decodes a coupon value; the identifier is not part of it
// and is left empty. Times decode in UTC.
func decodeCoupon(v []byte) (features.Coupon, error) {
	d := decoder{b: v}
	ver, flags := d.byte(), d.byte()
	c := features.Coupon{Active: flags == 1, Item: d.string()}
	c.Stores = d.strings()
	c.Value = d.string()
	from, until := d.varint(), d.varint()
	if d.err || ver != valueV1 || flags > 1 || len(d.b) != 0 {
		return features.Coupon{}, fmt.Errorf("%w: coupon", ErrCorrupt)
	}
	c.ValidFrom, c.ValidUntil = time.UnixMilli(from).UTC(), time.UnixMilli(until).UTC()
	return c, nil
}

// decoder reads a value; any short or malformed read sets err and makes
// every later read return zero values.
type decoder struct {
	b   []byte
	err bool
}

func (d *decoder) byte() byte {
	if d.err || len(d.b) == 0 {
		d.err = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err {
		return 0
	}
	x, n := binary.Uvarint(d.b)
	if n <= 0 || n != uvarintLen(x) { // only the shortest encoding
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *decoder) varint() int64 {
	if d.err {
		return 0
	}
	x, n := binary.Varint(d.b)
	if n <= 0 || n != uvarintLen(zigzag(x)) {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err || n > uint64(len(d.b)) {
		d.err = true
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// strings decodes a list; nil when empty.
func (d *decoder) strings() []string {
	n := d.uvarint()
	// Each string takes at least one byte, which bounds n before allocating.
	if d.err || n > uint64(len(d.b)) {
		d.err = true
		return nil
	}
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.string()
	}
	return out
}

// uvarintLen returns the length of the shortest encoding of x.
func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// zigzag maps x to the unsigned integer binary.PutVarint encodes.
func zigzag(x int64) uint64 { return uint64(x<<1) ^ uint64(x>>63) }
