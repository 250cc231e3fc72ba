package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/discret-io/discret/features"
)

// Day is a calendar day in UTC, counted from 1970-01-01 (day 0).
type Day int32

// DayOf returns the UTC day of t.
func DayOf(t time.Time) Day {
	s := t.Unix()
	d := s / 86400
	if s%86400 < 0 {
		d--
	}
	return Day(d)
}

// Time returns midnight UTC at the start of d.
func (d Day) Time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// String formats d as 2006-01-02.
func (d Day) String() string { return d.Time().Format(time.DateOnly) }

// CounterKey names an aggregate counter: a metric and a day. Counters hold no
// customer data: Name is a token such as "ingest.dropped.no_consent".
type CounterKey struct {
	Name string // 1 to 64 bytes from [a-z0-9._:-]
	Day  Day
}

// ErrCounterName is returned for a counter name outside [a-z0-9._:-]{1,64}.
var ErrCounterName = errors.New("store: counter name must be 1-64 characters from [a-z0-9._:-]")

func (c CounterKey) validate() error {
	if !validCounterName(c.Name) {
		return fmt.Errorf("%w: %q", ErrCounterName, clipName(c.Name))
	}
	return nil
}

// clipName clips a name echoed in an error to maxCounterNameLen bytes, at a
// rune boundary, marking a cut with "…".
func clipName(s string) string { return features.Clip(s, maxCounterNameLen) }

// Counter is a counter and its value.
type Counter struct {
	CounterKey
	Value uint64
}

// AddCounters adds to counters atomically and durably. Batch.Counters does
// the same as part of an append.
func (db *DB) AddCounters(ctx context.Context, adds map[CounterKey]uint64) error {
	keys := make([][]byte, 0, len(adds))
	deltas := make([]uint64, 0, len(adds))
	for c, n := range adds {
		if err := c.validate(); err != nil {
			return err
		}
		keys = append(keys, counterKey(c))
		deltas = append(deltas, n)
	}
	db.counterMu.Lock()
	defer db.counterMu.Unlock()
	db.mu.RLock()
	defer db.mu.RUnlock()
	err := db.update(ctx, func(txn *badger.Txn) error { return addCounters(txn, keys, deltas) })
	if err != nil {
		return wrapf(err, "add counters")
	}
	return nil
}

// addCounters adds deltas[i] to the counter at keys[i] in txn, saturating at
// the largest uint64.
func addCounters(txn *badger.Txn, keys [][]byte, deltas []uint64) error {
	for i, k := range keys {
		v, err := getCounter(txn, k)
		if err != nil {
			return err
		}
		if deltas[i] > math.MaxUint64-v {
			v = math.MaxUint64
		} else {
			v += deltas[i]
		}
		if err := txn.Set(k, binary.BigEndian.AppendUint64(nil, v)); err != nil {
			return err
		}
	}
	return nil
}

func getCounter(txn *badger.Txn, key []byte) (uint64, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var v uint64
	err = item.Value(func(b []byte) error {
		v, err = decodeCounter(b)
		return err
	})
	return v, err
}

// Counter returns the value of one counter, 0 if it was never added to.
func (db *DB) Counter(ctx context.Context, c CounterKey) (uint64, error) {
	if err := c.validate(); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var v uint64
	err := db.view(func(txn *badger.Txn) error {
		var err error
		v, err = getCounter(txn, counterKey(c))
		return err
	})
	if err != nil {
		return 0, wrapf(err, "counter %s", c.Name)
	}
	return v, nil
}

// Counters returns every counter whose name starts with namePrefix (all of
// them for ""), ordered by name then day.
func (db *DB) Counters(ctx context.Context, namePrefix string) ([]Counter, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []Counter
	err := db.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: append([]byte{tagCounter}, namePrefix...)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			c, err := decodeCounterKey(item.Key())
			if err != nil {
				return fmt.Errorf("%w: counter key", ErrCorrupt)
			}
			var v uint64
			if err := item.Value(func(b []byte) error {
				v, err = decodeCounter(b)
				return err
			}); err != nil {
				return err
			}
			out = append(out, Counter{CounterKey: c, Value: v})
		}
		return nil
	})
	if err != nil {
		return nil, wrapf(err, "counters")
	}
	return out, nil
}
