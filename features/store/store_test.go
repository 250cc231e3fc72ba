package store_test

import (
	"testing"
	"time"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/store/storetest"
)

func TestBehaviour(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		open storetest.Opener
	}{
		{"memory", func(t *testing.T, now func() time.Time) *store.DB { return storetest.OpenMemory(t, now) }},
		{"disk", func(t *testing.T, now func() time.Time) *store.DB { return storetest.OpenDisk(t, now) }},
		{"memory-nocache", func(t *testing.T, now func() time.Time) *store.DB {
			db, err := store.Open(store.Options{InMemory: true, EncryptionKey: storetest.TestKey, Now: now, ConsentCacheEntries: -1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, tt.open)
		})
	}
}
