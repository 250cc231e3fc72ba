package store

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/discret-io/discret/privacy/retention"
)

var (
	testKey   = bytes.Repeat([]byte{7}, 32)
	testCheck = bytes.Repeat([]byte{9}, 16)
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want []string // substrings of the error, one per problem; none for valid
	}{
		{"disk", Options{Dir: "d", EncryptionKey: testKey, KeyCheck: testCheck}, nil},
		{"memory", Options{InMemory: true, EncryptionKey: testKey}, nil},
		{"memory unencrypted", Options{InMemory: true, Unencrypted: true}, nil},
		{"disk unencrypted", Options{Dir: "d", Unencrypted: true}, nil},
		{"tuned", Options{
			Dir: "d", EncryptionKey: testKey, KeyCheck: testCheck, MemTableSize: 64 << 20, NumMemtables: 3,
			BlockCacheSize: 1 << 20, IndexCacheSize: 1 << 20, NumCompactors: 4, ValueThreshold: 1, ValueLogFileSize: 1 << 20,
		}, nil},
		{"audit retention", Options{InMemory: true, Unencrypted: true, AuditRetention: retention.Period{Months: 18}}, nil},
		{"negative audit retention", Options{InMemory: true, Unencrypted: true, AuditRetention: retention.Period{Years: 1, Days: -1}}, []string{"AuditRetention must not be negative"}},
		{"unencrypted without index cache", Options{Dir: "d", Unencrypted: true, IndexCacheSize: -1}, nil},
		{"nothing", Options{}, []string{"Dir is required", "EncryptionKey must be 32 bytes", "KeyCheck is required"}},
		{"memory with dir", Options{InMemory: true, Dir: "d", Unencrypted: true}, []string{"Dir must be empty"}},
		{"short key", Options{InMemory: true, EncryptionKey: testKey[:16]}, []string{"got 16"}},
		{"key and unencrypted", Options{InMemory: true, Unencrypted: true, EncryptionKey: testKey}, []string{"both set"}},
		{"short check", Options{Dir: "d", EncryptionKey: testKey, KeyCheck: testCheck[:8]}, []string{"KeyCheck must be 16 to 64 bytes"}},
		// Badger v4.9 with encryption and no index cache opens, then crashes
		// the process at the first memtable flush: refuse it up front.
		{"encrypted without index cache", Options{Dir: "d", EncryptionKey: testKey, KeyCheck: testCheck, IndexCacheSize: -1}, []string{"IndexCacheSize must be positive for an encrypted store"}},
		{"bad tuning", Options{
			InMemory: true, EncryptionKey: testKey, MemTableSize: 1 << 20, NumMemtables: -1, BlockCacheSize: -1,
			NumCompactors: 1, ValueThreshold: 2 << 20, ValueLogFileSize: 1 << 10,
		}, []string{"MemTableSize", "NumMemtables", "BlockCacheSize", "NumCompactors", "ValueThreshold", "ValueLogFileSize"}},
	}
	for _, tt := range tests {
		err := tt.o.Validate()
		if len(tt.want) == 0 {
			if err != nil {
				t.Errorf("Validate(%s) = %v, want nil", tt.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("Validate(%s) = nil, want errors %q", tt.name, tt.want)
			continue
		}
		msg := err.Error()
		for _, w := range tt.want {
			if !strings.Contains(msg, w) {
				t.Errorf("Validate(%s) = %q, want it to mention %q", tt.name, msg, w)
			}
		}
		if n := strings.Count(msg, "store: "); n != len(tt.want) {
			t.Errorf("Validate(%s) reports %d problems, want %d: %q", tt.name, n, len(tt.want), msg)
		}
		if _, err := Open(tt.o); err == nil {
			t.Errorf("Open(%s) = nil error, want the Validate error", tt.name)
		}
	}
}

func TestBadgerOptions(t *testing.T) {
	o := Options{Dir: "d", EncryptionKey: testKey, KeyCheck: testCheck}.withDefaults()
	bo := o.badgerOptions()
	if bo.IndexCacheSize <= 0 || !bytes.Equal(bo.EncryptionKey, testKey) {
		t.Errorf("badgerOptions(encrypted) has IndexCacheSize %d and key %x, want a positive index cache and the key", bo.IndexCacheSize, bo.EncryptionKey)
	}
	if !bo.SyncWrites || bo.NumVersionsToKeep != 1 || bo.MemTableSize != DefaultMemTableSize || bo.NumMemtables != 2 || bo.NumCompactors != 2 {
		t.Errorf("badgerOptions() = SyncWrites %v, versions %d, memtable %d × %d, compactors %d; want true, 1, %d × 2, 2",
			bo.SyncWrites, bo.NumVersionsToKeep, bo.MemTableSize, bo.NumMemtables, bo.NumCompactors, DefaultMemTableSize)
	}
	u := Options{Dir: "d", Unencrypted: true, IndexCacheSize: -1}.withDefaults().badgerOptions()
	if len(u.EncryptionKey) != 0 || u.IndexCacheSize != 0 {
		t.Errorf("badgerOptions(unencrypted, no index cache) has key %x and IndexCacheSize %d, want none and 0", u.EncryptionKey, u.IndexCacheSize)
	}
}

// TestBadgerLogging checks that Badger's warnings reach the logger and its
// chatter does not.
func TestBadgerLogging(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, nil))
	db, err := Open(Options{Dir: t.TempDir(), EncryptionKey: testKey, KeyCheck: testCheck, Logger: l})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Errorf("open and close logged %q, want nothing below warning", buf.String())
	}
	// Flatten's worker race (isFlattenRace), in Badger v4.9's words.
	badgerLogger{l}.Warningf("While running doCompact with %+v. Error: %v\n", struct{ level int }{5}, errors.New("Unable to fill tables"))
	if buf.Len() != 0 {
		t.Errorf("Flatten's worker race logged %q, want nothing", buf.String())
	}
	badgerLogger{l}.Warningf("disk %s\n", "slow")
	if got := buf.String(); !strings.Contains(got, "level=WARN") || !strings.Contains(got, `msg="disk slow"`) || !strings.Contains(got, "component=badger") {
		t.Errorf("Warningf logged %q, want a WARN record from component badger", got)
	}
}
