package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestWrapfPrefixOnce(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{wrapf(ErrReleaseNotFound, "release"), "store: release: release not found"},
		{wrapf(fmt.Errorf("%w: %q", ErrReleaseNotFound, "v1"), "delete release"), `store: delete release: release not found: "v1"`},
		{wrapf(wrapf(ErrCorrupt, "release part"), "prune releases"), "store: prune releases: release part: corrupt value"},
		{wrapf(context.Canceled, "count events"), "store: count events: context canceled"},
		{wrapf(errors.New("disk full"), ""), "store: disk full"},
		{wrapf(ErrClosed, "append %d events", 3), "store: append 3 events: closed"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
	if err := wrapf(fmt.Errorf("%w: x", ErrReleaseNotFound), "release"); !errors.Is(err, ErrReleaseNotFound) {
		t.Errorf("errors.Is lost the sentinel through %v", err)
	}
}

// TestReleaseNotFoundMessage checks the message a user sees end to end.
func TestReleaseNotFoundMessage(t *testing.T) {
	db := mustOpen(t, Options{InMemory: true, EncryptionKey: testKey})
	defer db.Close()
	_, err := db.Release(context.Background(), "nope")
	if err == nil || err.Error() != `store: release: release not found: "nope"` {
		t.Fatalf("Release(nope) = %v", err)
	}
	err = db.SetCurrentRelease(context.Background(), "nope")
	if err == nil || err.Error() != `store: set current release: release not found: "nope"` {
		t.Fatalf("SetCurrentRelease(nope) = %v", err)
	}
}
