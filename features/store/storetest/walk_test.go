package storetest_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/store/storetest"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

// TestWalk: Walk reads, decrypted, every key and value of a closed store,
// the versions that an erasure deleted included.
func TestWalk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	now := storetest.Epoch
	db, err := store.Open(store.Options{Dir: dir, EncryptionKey: storetest.TestKey, KeyCheck: storetest.TestKeyCheck, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p := storetest.Pseudo(1)
	change := consent.Change{Purpose: privacy.Personalization, Granted: true, Time: now, Source: "walk-canary"}
	if _, err := db.UpdateConsent(ctx, p, []consent.Change{change}, consent.Defaults{}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Forget(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	var keyWithPseudonym, erasedValue bool
	storetest.Walk(t, dir, storetest.TestKey, func(k, v []byte) {
		keyWithPseudonym = keyWithPseudonym || bytes.Contains(k, p[:])
		erasedValue = erasedValue || bytes.Contains(v, []byte(change.Source))
	})
	if !keyWithPseudonym || !erasedValue {
		t.Errorf("Walk: a key holding the pseudonym %v, a value holding the erased source %v; want both", keyWithPseudonym, erasedValue)
	}
}
