package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/discret-io/discret/privacy"
)

func TestClosed(t *testing.T) {
	db := mustOpen(t, Options{InMemory: true, EncryptionKey: testKey})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	ctx := t.Context()
	a := privacy.PseudoID{1}
	if err := appendOne(t, db, a); !errors.Is(err, ErrClosed) {
		t.Errorf("AppendEvents after Close = %v, want ErrClosed", err)
	}
	if _, err := db.CustomerEvents(ctx, a); !errors.Is(err, ErrClosed) {
		t.Errorf("CustomerEvents after Close = %v, want ErrClosed", err)
	}
	if _, err := db.Consent(ctx, a); !errors.Is(err, ErrClosed) {
		t.Errorf("Consent after Close = %v, want ErrClosed", err)
	}
	for _, err := range db.Events(ctx) {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Events after Close yields %v, want ErrClosed", err)
		}
	}
}

func TestEventsCancelled(t *testing.T) {
	db := smallStore(t, "", nil)
	defer db.Close()
	a := privacy.PseudoID{1}
	grant(t, db, a)
	fill(t, db, a, 3000)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	n := 0
	var last error
	for _, err := range db.Events(ctx) {
		if err != nil {
			last = err
			break
		}
		if n++; n == 10 {
			cancel()
		}
	}
	if !errors.Is(last, context.Canceled) || n > 1024 {
		t.Errorf("Events cancelled after 10 events: %d events, then %v; want at most 1024, then context.Canceled", n, last)
	}
}

// TestRunGC checks that the maintenance loop completes pending erasures and
// returns nil when its context ends, on disk and in memory.
func TestRunGC(t *testing.T) {
	for _, dir := range []string{"", t.TempDir()} {
		db := smallStore(t, dir, nil)
		a := privacy.PseudoID{1}
		grant(t, db, a)
		fill(t, db, a, 10)
		if err := db.bdb.Update(func(txn *badger.Txn) error { return txn.Set(erasureKey(a), encodeMarker(scopeAll)) }); err != nil {
			t.Fatal(err)
		}
		if err := db.RunGC(t.Context(), 0); err == nil {
			t.Errorf("RunGC(interval 0) = nil, want an error")
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- db.RunGC(ctx, time.Millisecond) }()
		deadline := time.Now().Add(10 * time.Second)
		for rawKeys(t, db, customerPrefix(tagErasure, a)) > 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunGC after cancel = %v, want nil", err)
		}
		if n := rawKeys(t, db, customerPrefix(tagEvent, a)) + rawKeys(t, db, customerPrefix(tagErasure, a)); n != 0 {
			t.Errorf("RunGC (dir %q) left %d keys of the pending erasure, want 0", dir, n)
		}
		db.Close()
	}
}
