package store

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestSpaceNeeded(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want int64
	}{
		// 4 memtable logs of 2 × 16 MiB, a value-log file of 2 × 1 MiB and DISCARD.
		{"defaults", Options{}, 131 << 20},
		{"tuned", Options{MemTableSize: 32 << 20, NumMemtables: 4, ValueLogFileSize: 64 << 20}, (6*64 + 128 + 1) << 20},
		{"test memtables", Options{memTableSize: 1 << 20}, (4*2 + 2 + 1) << 20},
	}
	for _, tt := range tests {
		if got := tt.o.withDefaults().spaceNeeded(); got != tt.want {
			t.Errorf("spaceNeeded(%s) = %d, want %d", tt.name, got, tt.want)
		}
	}
}

// freeOf returns a free-space function that reports free bytes for
// directories that exist, and records which it was asked about.
func freeOf(free int64, err error, asked *[]string) func(string) (int64, error) {
	return func(dir string) (int64, error) {
		*asked = append(*asked, dir)
		if _, serr := os.Stat(dir); serr != nil {
			return 0, serr
		}
		return free, err
	}
}

func TestOpenChecksSpace(t *testing.T) {
	need := diskOptions("d").withDefaults().spaceNeeded()
	broken := errors.New("statfs broke")
	tests := []struct {
		name    string
		free    int64
		err     error
		want    error  // nil: Open succeeds
		wantMsg string // in the error
	}{
		{"exactly enough", need, nil, nil, ""},
		{"one byte short", need - 1, nil, ErrNoSpace, "the store needs at least 131.0 MiB to open: free some space"},
		{"nearly full", 31 << 20 / 10, nil, ErrNoSpace, ": 3.1 MiB free on its file system, the store needs at least 131.0 MiB to open"},
		{"full", 0, nil, ErrNoSpace, "0.0 MiB free"},
		{"unknown here", 0, errors.ErrUnsupported, nil, ""},
		{"statfs fails", need, broken, broken, "free space of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "new", "data")
			var asked []string
			o := diskOptions(dir)
			o.freeSpace = freeOf(tt.free, tt.err, &asked)
			db, err := Open(o)
			if len(asked) == 0 || asked[len(asked)-1] != parent {
				t.Errorf("free space asked of %q, want it to end with %s, the nearest existing parent", asked, parent)
			}
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Open(free %d of %d needed) = %v, want a store", tt.free, need, err)
				}
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				db.Close()
				t.Fatalf("Open(free %d of %d needed) = a store, want %v", tt.free, need, tt.want)
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.wantMsg) || !strings.Contains(err.Error(), dir) {
				t.Errorf("Open(free %d of %d needed) = %v, want %v with %q and the directory", tt.free, need, err, tt.want, tt.wantMsg)
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Stat(%s) after a refused Open = %v, want it not created", dir, err)
			}
		})
	}
}

func TestWriteChecksSpace(t *testing.T) {
	ctx := context.Background()
	c := CounterKey{Name: "test.space", Day: 20000}
	tests := []struct {
		name     string
		short    int64 // bytes missing at the write
		inMemory bool
		want     error
		value    uint64 // of the counter after the write
	}{
		{"enough", 0, false, nil, 1},
		{"one byte short", 1, false, ErrNoSpace, 0},
		{"in memory", 1 << 40, true, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := diskOptions(t.TempDir())
			if tt.inMemory {
				o = Options{InMemory: true, EncryptionKey: testKey}
			}
			need := o.withDefaults().spaceNeeded()
			var free atomic.Int64
			free.Store(need)
			o.freeSpace = func(string) (int64, error) { return free.Load(), nil }
			var log syncBuffer
			o.Logger = slog.New(slog.NewTextHandler(&log, nil))
			db := mustOpen(t, o)
			defer db.Close()
			free.Store(need - tt.short)
			err := db.AddCounters(ctx, map[CounterKey]uint64{c: 1})
			if !errors.Is(err, tt.want) || (tt.want != nil && !strings.Contains(err.Error(), "to write: free some space")) {
				t.Errorf("AddCounters with %d bytes short = %v, want %v", tt.short, err, tt.want)
			}
			// The operator hears of it once, not at every refused write.
			want := 0
			if tt.want != nil {
				_ = db.AddCounters(ctx, map[CounterKey]uint64{c: 1})
				want = 1
			}
			if got := strings.Count(log.String(), "store: writes refused"); got != want {
				t.Errorf("log after the writes %d bytes short: %d lines about it, want %d:\n%s", tt.short, got, want, log.String())
			}
			if got, err := db.Counter(ctx, c); err != nil || got != tt.value {
				t.Errorf("Counter = %d, %v; want %d", got, err, tt.value)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestUsage(t *testing.T) {
	broken := errors.New("statfs broke")
	tests := []struct {
		name     string
		inMemory bool
		free     int64
		err      error
		wantFree int64
		wantErr  error
	}{
		{"on disk", false, 5 << 30, nil, 5 << 30, nil},
		{"unknown here", false, 0, errors.ErrUnsupported, -1, nil},
		{"statfs fails", false, 0, broken, 0, broken},
		{"in memory", true, 5 << 30, nil, -1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			o := diskOptions(dir)
			if tt.inMemory {
				o = Options{InMemory: true, EncryptionKey: testKey}
			}
			db := mustOpen(t, o)
			defer db.Close()
			db.opts.freeSpace = func(string) (int64, error) { return tt.free, tt.err }
			u, err := db.Usage()
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), dir) {
					t.Errorf("Usage = %+v, %v; want %v naming %s", u, err, tt.wantErr, dir)
				}
				return
			}
			wantNeeded := int64(131 << 20)
			if tt.inMemory {
				wantNeeded = 0
			}
			if err != nil || u.Free != tt.wantFree || u.Needed != wantNeeded {
				t.Errorf("Usage = %+v, %v; want Free %d, Needed %d", u, err, tt.wantFree, wantNeeded)
			}
			// The files' allocated blocks: the sparse memtable logs and
			// value-log file count for what they hold, not their lengths.
			var want, length int64
			if !tt.inMemory {
				ents, err := os.ReadDir(dir)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range ents {
					info, err := e.Info()
					if err != nil {
						t.Fatal(err)
					}
					want += diskUsage(info)
					length += info.Size()
				}
			}
			if u.Disk != want || (!tt.inMemory && !(want > 0 && want < length)) {
				t.Errorf("Usage.Disk = %d, want %d: the blocks of the files (and fewer than their %d bytes)", u.Disk, want, length)
			}
		})
	}
}

// TestCheckRoom: a copy is refused room on a file system that cannot hold
// it and the store that opens it, and given room otherwise.
func TestCheckRoom(t *testing.T) {
	dir := t.TempDir()
	if _, err := diskFree(dir); errors.Is(err, errors.ErrUnsupported) {
		t.Skip("free space is unknown on this platform")
	}
	for _, tc := range []struct {
		name string
		dir  string
		size int64
		want error
	}{
		{"small copy", dir, 1 << 10, nil},
		{"larger than any disk", dir, 1 << 60, ErrNoSpace},
		{"directory to create", filepath.Join(dir, "new", "data"), 1 << 60, ErrNoSpace},
	} {
		err := CheckRoom(tc.dir, tc.size)
		if !errors.Is(err, tc.want) || (err != nil && !strings.Contains(err.Error(), tc.dir)) {
			t.Errorf("%s: CheckRoom(%s, %d) = %v, want %v naming the directory", tc.name, tc.dir, tc.size, err, tc.want)
		}
	}
}
