package serve

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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

// TestBackupCollector: the number of copies and the newest copy's time.
func TestBackupCollector(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{store.BackupPrefix + "20261124T030000Z", store.BackupPrefix + "20261125T030000Z", "other"} {
		if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	want := `
# HELP discret_backup_copies The copies of the store in --backup-dir.
# TYPE discret_backup_copies gauge
discret_backup_copies 2
# HELP discret_backup_last_timestamp_seconds When the newest copy in --backup-dir was made (Unix seconds); absent if there is none. Alert when it is older than --backup-interval by a margin, or absent.
# TYPE discret_backup_last_timestamp_seconds gauge
discret_backup_last_timestamp_seconds 1.7955756e+09
`
	if err := testutil.CollectAndCompare(BackupMetrics(dir), strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if n, err := gather(t, BackupMetrics(filepath.Join(dir, "none"))); n != 1 || err != nil {
		t.Errorf("no backup directory yet: %d series, %v; want 1 (no copies)", n, err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if n, err := gather(t, BackupMetrics(file)); n != 0 || err == nil {
		t.Errorf("unreadable backup directory: %d series, %v; want an error", n, err)
	}
}
