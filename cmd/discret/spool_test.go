package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSpool: the copy of standard input on disk does not hold the input in
// clear, reads back whole as often as needed (gzip decompressed), and is
// removed.
func TestSpool(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	id := "jeanne.dupont@example.fr"
	in := strings.Repeat(`{"customer":"`+id+`","item":"sku-1","type":"view","time":"2026-01-02T15:04:05Z"}`+"\n", 500)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(in))
	zw.Close()
	for _, tt := range []struct{ name, input string }{{"plain", in}, {"gzip", gz.String()}} {
		s, err := newSpool(strings.NewReader(tt.input), int64(len(tt.input)))
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(s.name) != os.Getenv("TMPDIR") {
			t.Errorf("%s: spool %s is not in $TMPDIR", tt.name, s.name)
		}
		raw, err := os.ReadFile(s.name)
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) != len(tt.input) || bytes.Contains(raw, []byte(id)) || bytes.Contains(raw, []byte(`"customer"`)) {
			t.Errorf("%s: the spool file (%d bytes for %d) holds the input in clear", tt.name, len(raw), len(tt.input))
		}
		for pass := range 2 {
			r, err := s.open()
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || string(got) != in {
				t.Errorf("%s: pass %d read %d bytes, %v; want the %d bytes of the input", tt.name, pass, len(got), err, len(in))
			}
		}
		s.remove()
		if _, err := os.Stat(s.name); !os.IsNotExist(err) {
			t.Errorf("%s: spool file left after remove: %v", tt.name, err)
		}
	}
}

// TestSpoolLimit: standard input larger than the limit is refused with
// errSpoolFull and leaves no file; up to the limit it is copied whole.
func TestSpoolLimit(t *testing.T) {
	for _, tt := range []struct {
		size, limit int64
		full        bool
	}{
		{0, 1, false},
		{1000, 1000, false},
		{1001, 1000, true},
		{300 << 10, 100 << 10, true}, // beyond the write buffer
		{1000, noSpoolLimit, false},  // free space unknown
	} {
		dir := t.TempDir()
		t.Setenv("TMPDIR", dir)
		s, err := newSpool(bytes.NewReader(make([]byte, tt.size)), tt.limit)
		if got := errors.Is(err, errSpoolFull); got != tt.full || !tt.full && err != nil {
			t.Errorf("newSpool(%d bytes, limit %d) error = %v, want full %v", tt.size, tt.limit, err, tt.full)
		}
		if err == nil {
			if fi, err := os.Stat(s.name); err != nil || fi.Size() != tt.size {
				t.Errorf("newSpool(%d bytes, limit %d): copy %v, %v; want %d bytes", tt.size, tt.limit, fi, err, tt.size)
			}
			s.remove()
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Errorf("newSpool(%d bytes, limit %d) left %v in $TMPDIR", tt.size, tt.limit, left)
		}
	}
}

// TestSpoolLimitDefault: the default limit is the free space less the
// reserve, and --max-stdin-bytes replaces it.
func TestSpoolLimitDefault(t *testing.T) {
	dir := t.TempDir()
	if limit, why, ok := spoolLimit(dir, 5000); !ok || limit != 5000 || why != "--max-stdin-bytes 5000" {
		t.Errorf("spoolLimit(5000) = %d, %q, %v; want 5000, --max-stdin-bytes 5000", limit, why, ok)
	}
	free, size, known := diskSpace(dir)
	if !known {
		t.Skip("free space unknown on this system")
	}
	limit, why, ok := spoolLimit(dir, 0)
	want := free - int64(spoolReserve*float64(size))
	if d := limit - want; d < -(1<<20) || d > 1<<20 || ok != (limit > 0) || !strings.Contains(why, "the free space of "+dir) {
		t.Errorf("spoolLimit(0) = %d, %q, %v; want about %d (free %d, size %d)", limit, why, ok, want, free, size)
	}
}

// TestRemoveStaleSpools: of the files in $TMPDIR, only the copies of
// standard input (discret-stdin-*.enc) that are regular files, not locked
// by a live process and not modified within spoolGrace are removed.
func TestRemoveStaleSpools(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	old := now.Add(-2 * spoolGrace)
	file := func(name string, mtime time.Time) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, mtime, mtime)
		return p
	}
	stale := file("discret-stdin-111.enc", old)
	recent := file("discret-stdin-222.enc", now.Add(-spoolGrace/2)) // just created: maybe not locked yet
	locked := file("discret-stdin-333.enc", old)
	file("discret-other-444.enc", old)
	file("discret-stdin-555.txt", old)
	os.Mkdir(filepath.Join(dir, "discret-stdin-666.enc"), 0o700)
	os.Symlink(stale, filepath.Join(dir, "discret-stdin-777.enc"))
	f, err := os.Open(locked)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lockErr := lockFile(f)
	if lockErr != nil && !errors.Is(lockErr, errors.ErrUnsupported) {
		t.Fatal(lockErr)
	}
	// Without locks, only the age rule applies: nothing is a day old yet,
	// and a day later all three copies are.
	want, later := []string{stale}, []string{recent}
	if lockErr != nil {
		want, later = nil, []string{stale, recent, locked}
	}
	if got := removeStaleSpools(dir, now); !slices.Equal(got, want) {
		t.Errorf("removeStaleSpools = %v, want %v", got, want)
	}
	if got := removeStaleSpools(dir, now.Add(spoolMaxAge+time.Hour)); !slices.Equal(got, later) {
		t.Errorf("a day later, removeStaleSpools = %v, want %v", got, later)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 7-len(want)-len(later) {
		t.Errorf("left %v", left)
	}
}

// TestSpoolKilled: the copy of an import killed with SIGKILL stays locked
// no more, and the next copy removes it; the copy of a live import stays,
// however old. The imports are this test binary run again (spoolHelper).
func TestSpoolKilled(t *testing.T) {
	if os.Getenv("DISCRET_SPOOL_HELPER") != "" {
		spoolHelper()
		return
	}
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	start := func() (*exec.Cmd, string) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSpoolKilled$")
		cmd.Env = append(os.Environ(), "DISCRET_SPOOL_HELPER=1")
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		before, _ := filepath.Glob(filepath.Join(dir, spoolPattern))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { in.Close(); cmd.Process.Kill(); cmd.Wait() })
		in.Write([]byte("customer,item,type,time\n")) // stdin stays open: the copy goes on
		for range 500 {
			now, _ := filepath.Glob(filepath.Join(dir, spoolPattern))
			for _, p := range now {
				if !slices.Contains(before, p) {
					return cmd, p
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatal("the helper made no copy of its standard input")
		return nil, ""
	}
	killed, killedCopy := start()
	_, liveCopy := start()
	killed.Process.Signal(os.Kill)
	killed.Wait()
	old := time.Now().Add(-2 * spoolMaxAge)
	for _, p := range []string{killedCopy, liveCopy} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatalf("after SIGKILL: %v", err)
		}
	}
	s, err := newSpool(strings.NewReader("x"), 10)
	if err != nil {
		t.Fatal(err)
	}
	defer s.remove()
	if _, err := os.Stat(killedCopy); !os.IsNotExist(err) {
		t.Errorf("the copy of the killed import is still there (%v)", err)
	}
	if _, err := os.Stat(liveCopy); err != nil {
		t.Errorf("the copy of the live import was removed: %v", err)
	}
}

// spoolHelper copies its standard input as 'import -' does, until killed.
func spoolHelper() {
	s, err := newSpool(os.Stdin, 1<<20)
	if err != nil {
		os.Exit(3)
	}
	s.remove()
	os.Exit(0)
}
