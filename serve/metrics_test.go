package serve

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/discret-io/discret/features/store"
)

// fakeStore is a StoreSource.
type fakeStore struct {
	usage        store.Usage
	usageErr     error
	compacted    time.Time
	compactedErr error
}

func (s fakeStore) Usage() (store.Usage, error) { return s.usage, s.usageErr }
func (s fakeStore) LastCompaction(context.Context) (time.Time, error) {
	return s.compacted, s.compactedErr
}

// TestStoreCollector: the store's series are those it can measure.
func TestStoreCollector(t *testing.T) {
	disk := store.Usage{Disk: 1 << 20, Free: 1 << 30, Needed: 131 << 20}
	unknownFree := disk
	unknownFree.Free = -1
	at := time.Unix(1_700_000_000, 0)
	broken := errors.New("broken")
	tests := []struct {
		name  string
		store fakeStore
		want  int // series
	}{
		{"everything", fakeStore{usage: disk, compacted: at}, 4},
		{"free space unknown", fakeStore{usage: unknownFree, compacted: at}, 3},
		{"never compacted", fakeStore{usage: disk}, 3},
		{"in memory", fakeStore{usage: store.Usage{Free: -1}}, 0},
		{"usage fails", fakeStore{usageErr: broken, compacted: at}, 1},
		{"compaction time fails", fakeStore{usage: disk, compactedErr: broken}, 3},
	}
	for _, tt := range tests {
		if got := testutil.CollectAndCount(storeCollector{tt.store}); got != tt.want {
			t.Errorf("%s: %d series, want %d", tt.name, got, tt.want)
		}
	}
}
