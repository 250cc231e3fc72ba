package serve

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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

// gather collects c through a registry, as /metrics does: the series it
// exports and the error of those it could not measure.
func gather(t *testing.T, c prometheus.Collector) (int, error) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	n := 0
	for _, mf := range mfs {
		n += len(mf.GetMetric())
	}
	return n, err
}

// TestStoreCollector: the store's series are those it can measure; one it
// cannot is an error of the scrape, not silently absent.
func TestStoreCollector(t *testing.T) {
	disk := store.Usage{Disk: 1 << 20, Free: 1 << 30, Needed: 131 << 20}
	unknownFree := disk
	unknownFree.Free = -1
	at := time.Unix(1_700_000_000, 0)
	broken := errors.New("broken")
	tests := []struct {
		name    string
		store   fakeStore
		want    int // series
		wantErr bool
	}{
		{"everything", fakeStore{usage: disk, compacted: at}, 4, false},
		{"free space unknown", fakeStore{usage: unknownFree, compacted: at}, 3, false},
		{"never compacted", fakeStore{usage: disk}, 3, false},
		{"in memory", fakeStore{usage: store.Usage{Free: -1}}, 0, false},
		{"usage fails", fakeStore{usageErr: broken, compacted: at}, 1, true},
		{"compaction time fails", fakeStore{usage: disk, compactedErr: broken}, 3, true},
	}
	for _, tt := range tests {
		got, err := gather(t, storeCollector{tt.store})
		if got != tt.want || (err != nil) != tt.wantErr || err != nil && !strings.Contains(err.Error(), "broken") {
			t.Errorf("%s: %d series, error %v; want %d series, error %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}
