package store

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

func diskOptions(dir string) Options {
	return Options{Dir: dir, EncryptionKey: testKey, KeyCheck: testCheck}
}

func mustOpen(t *testing.T, o Options) *DB {
	t.Helper()
	db, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

func TestOpenCreates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "data")
	db := mustOpen(t, diskOptions(dir))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("Stat(%s) = %v, %v; want a directory with mode 0700", dir, st, err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, MetaFile))
	if err != nil {
		t.Fatal(err)
	}
	var m meta
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.Format != metaFormat || m.Version != formatVersion || !m.Encrypted || m.KeyCheck != strings.Repeat("09", 16) {
		t.Errorf("%s = %s, want format %s version %d, encrypted, key_check 0909…", MetaFile, raw, metaFormat, formatVersion)
	}
	db = mustOpen(t, diskOptions(dir)) // and it opens again
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefuses(t *testing.T) {
	created := func(t *testing.T, o Options) string {
		db := mustOpen(t, o)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		return o.Dir
	}
	writeMeta := func(t *testing.T, dir, content string) string {
		if err := os.WriteFile(filepath.Join(dir, MetaFile), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	otherCheck := []byte("0123456789abcdef")
	tests := []struct {
		name  string
		dir   func(t *testing.T) string
		opts  func(dir string) Options
		want  error
		wantS string
	}{
		{"wrong key check", func(t *testing.T) string { return created(t, diskOptions(t.TempDir())) },
			func(dir string) Options { o := diskOptions(dir); o.KeyCheck = otherCheck; return o }, ErrKeyMismatch, "use the key the directory was created with"},
		{"encrypted opened unencrypted", func(t *testing.T) string { return created(t, diskOptions(t.TempDir())) },
			func(dir string) Options { return Options{Dir: dir, Unencrypted: true} }, ErrKeyMismatch, "no key was given"},
		{"unencrypted opened encrypted", func(t *testing.T) string { return created(t, Options{Dir: t.TempDir(), Unencrypted: true}) },
			diskOptions, ErrKeyMismatch, "created unencrypted"},
		{"non-empty directory", func(t *testing.T) string {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hi"), 0o600); err != nil {
				t.Fatal(err)
			}
			return dir
		}, diskOptions, ErrNotStore, "no discret.json"},
		{"badger directory without discret.json", func(t *testing.T) string {
			dir := created(t, diskOptions(t.TempDir()))
			if err := os.Remove(filepath.Join(dir, MetaFile)); err != nil {
				t.Fatal(err)
			}
			return dir
		}, diskOptions, ErrNotStore, ""},
		{"newer format", func(t *testing.T) string {
			return writeMeta(t, t.TempDir(), `{"format":"discret-store","version":2,"encrypted":true,"key_check":"09090909090909090909090909090909"}`)
		}, diskOptions, ErrNewerFormat, "upgrade Discret"},
		{"foreign json", func(t *testing.T) string { return writeMeta(t, t.TempDir(), `{"name":"other"}`) }, diskOptions, ErrNotStore, ""},
		{"garbage", func(t *testing.T) string { return writeMeta(t, t.TempDir(), "\x00\x01") }, diskOptions, ErrNotStore, ""},
		{"no key check", func(t *testing.T) string {
			return writeMeta(t, t.TempDir(), `{"format":"discret-store","version":1,"encrypted":true}`)
		}, diskOptions, ErrNotStore, "key_check"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir(t)
			db, err := Open(tt.opts(dir))
			if err == nil {
				db.Close()
				t.Fatalf("Open = nil error, want %v", tt.want)
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.wantS) {
				t.Errorf("Open = %v, want %v mentioning %q", err, tt.want, tt.wantS)
			}
		})
	}
}

// TestOpenWrongKeyBadger checks that Badger's own key check backs ours up:
// with a matching check value but another key (which only a tampered
// discret.json allows), Open still fails with ErrKeyMismatch.
func TestOpenWrongKeyBadger(t *testing.T) {
	dir := t.TempDir()
	db := mustOpen(t, diskOptions(dir))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	o := diskOptions(dir)
	o.EncryptionKey = []byte(strings.Repeat("k", 32))
	if db, err := Open(o); !errors.Is(err, ErrKeyMismatch) {
		if err == nil {
			db.Close()
		}
		t.Errorf("Open(other key, same check) = %v, want ErrKeyMismatch", err)
	}
}

// TestOpenInUse: a data directory another handle (another process) holds
// is refused with ErrInUse, and opens once that handle is closed.
func TestOpenInUse(t *testing.T) {
	dir := t.TempDir()
	held := mustOpen(t, diskOptions(dir))
	if db, err := Open(diskOptions(dir)); !errors.Is(err, ErrInUse) {
		if err == nil {
			db.Close()
		}
		t.Errorf("Open(a held directory) = %v, want ErrInUse", err)
	}
	if err := held.Close(); err != nil {
		t.Fatal(err)
	}
	if err := mustOpen(t, diskOptions(dir)).Close(); err != nil {
		t.Fatal(err)
	}
}

// TestEncryptedFlushes writes enough, with small memtables, to flush and
// compact several times with encryption on, then reopens and reads it all
// back. Without an index cache this crashes the test binary.
func TestEncryptedFlushes(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC)
	o := diskOptions(dir)
	o.memTableSize = 1 << 20
	o.Now = func() time.Time { return now }
	db := mustOpen(t, o)
	ctx := t.Context()
	const customers, per = 20, 1000
	for c := range customers {
		p := privacy.PseudoID{byte(c), 1}
		if _, err := db.UpdateConsent(ctx, p, []consent.Change{{Purpose: privacy.Personalization, Granted: true, Time: now, Source: "t"}}, consent.Defaults{}); err != nil {
			t.Fatal(err)
		}
		es := make([]Entry, per)
		for i := range es {
			es[i] = Entry{
				Event:     features.Event{Customer: p, Kind: privacy.View, Item: strings.Repeat("item", 10), Time: now.Add(time.Duration(i) * time.Second), Quantity: 1},
				ExpiresAt: now.AddDate(1, 0, 0),
			}
		}
		if err := db.AppendEvents(ctx, Batch{Events: es}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(db.bdb.Tables()); n == 0 {
		t.Errorf("no table after writing %d events with 1 MiB memtables, want flushes", customers*per)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = mustOpen(t, o)
	defer db.Close()
	c, err := db.CountEvents(ctx)
	if err != nil || c.Events != customers*per || c.Customers != customers {
		t.Errorf("after reopen, CountEvents = %+v, %v; want %d events of %d customers", c, err, customers*per, customers)
	}
}
