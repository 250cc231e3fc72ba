package storetest

import (
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// Walk calls fn with every key and value of the closed store in dir, as
// Badger holds them decrypted with encryptionKey (nil for a store opened
// Unencrypted): every version it still keeps, deleted and expired ones
// included, until a compaction drops them. It bypasses the store's API, so
// that a leak test sees what the store wrote, whatever its reads hide.
func Walk(t testing.TB, dir string, encryptionKey []byte, fn func(key, value []byte)) {
	t.Helper()
	opts := badger.DefaultOptions(dir).
		WithReadOnly(true).
		WithLogger(nil).
		WithMetricsEnabled(false).
		WithEncryptionKey(encryptionKey).
		WithIndexCacheSize(16 << 20) // Badger requires one to read encrypted tables
	db, err := badger.Open(opts)
	if err != nil {
		t.Fatalf("storetest.Walk: open %s: %v", dir, err)
	}
	defer db.Close()
	err = db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{AllVersions: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			fn(item.KeyCopy(nil), v)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("storetest.Walk: %s: %v", dir, err)
	}
}
