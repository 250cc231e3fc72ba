package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/synth"
)

// doneAfter is a context whose Err is context.Canceled after n calls.
type doneAfter struct {
	context.Context
	n int
}

func (d *doneAfter) Err() error {
	if d.n--; d.n < 0 {
		return context.Canceled
	}
	return nil
}

// TestCopyTree: copyTree copies files and directories, private to their
// owner, refuses other kinds of files and stops when its context is done.
func TestCopyTree(t *testing.T) {
	src := t.TempDir()
	files := map[string]string{"a": "alpha", "sub/b": strings.Repeat("b", 3*copyChunk/2), "sub/deeper/c": ""}
	for name, body := range files {
		path := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dst := t.TempDir()
	if err := copyTree(t.Context(), dst, src); err != nil {
		t.Fatalf("copyTree: %v", err)
	}
	n := 0
	err := filepath.WalkDir(dst, func(path string, d os.DirEntry, err error) error {
		if err != nil || path == dst {
			return err
		}
		rel, _ := filepath.Rel(dst, path)
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := os.FileMode(0o600)
		if d.IsDir() {
			want = os.ModeDir | 0o700
		}
		if info.Mode() != want {
			t.Errorf("%s: mode %v, want %v (private to its owner)", rel, info.Mode(), want)
		}
		if d.IsDir() {
			return nil
		}
		n++
		if b, err := os.ReadFile(path); err != nil || string(b) != files[filepath.ToSlash(rel)] {
			t.Errorf("%s: copied %d bytes (%v), want the %d of the source", rel, len(b), err, len(files[filepath.ToSlash(rel)]))
		}
		return nil
	})
	if err != nil || n != len(files) {
		t.Errorf("copied %d files (%v), want %d", n, err, len(files))
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := copyTree(ctx, t.TempDir(), src); !errors.Is(err, context.Canceled) {
		t.Errorf("copyTree with its context done = %v, want context.Canceled", err)
	}
	// A large file's copy stops between two chunks.
	part := filepath.Join(t.TempDir(), "b")
	if err := copyFile(&doneAfter{Context: t.Context(), n: 1}, part, filepath.Join(src, "sub", "b")); !errors.Is(err, context.Canceled) {
		t.Errorf("copyFile cancelled after its first chunk = %v, want context.Canceled", err)
	}
	if fi, err := os.Stat(part); err != nil {
		t.Error(err)
	} else if fi.Size() != copyChunk {
		t.Errorf("copyFile cancelled after its first chunk copied %d bytes, want %d", fi.Size(), copyChunk)
	}
	if err := os.Symlink("a", filepath.Join(src, "link")); err != nil {
		t.Skip(err)
	}
	if err := copyTree(t.Context(), t.TempDir(), src); !errors.Is(err, os.ErrInvalid) {
		t.Errorf("copyTree of a symbolic link = %v, want refused", err)
	}
}

// customersWithEvents returns n customers of the generated events file in
// gen whose events c's store holds.
func customersWithEvents(t *testing.T, c *cli, gen string, n int) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(gen, synth.EventsFile))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	seen := map[string]bool{}
	for line := range strings.Lines(string(raw)) {
		var ev struct{ Customer string }
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		if seen[ev.Customer] {
			continue
		}
		seen[ev.Customer] = true
		if strings.Contains(c.mustRun("export", ev.Customer), `"item"`) {
			if out = append(out, ev.Customer); len(out) == n {
				return out
			}
		}
	}
	t.Fatalf("%d customers of the generated events have events stored, want %d", len(out), n)
	return nil
}

// TestRestoreCommand: discret restore replaces the data directory by a
// copy and keeps the erasures and withdrawals made since; --no-reconcile
// restores the copy as it is; bad arguments are refused.
func TestRestoreCommand(t *testing.T) {
	c := newCLI(t)
	gen := c.synthStore(50, 20, 1000, 4)
	cs := customersWithEvents(t, c, gen, 4)
	erased, withdrawn, kept, late := cs[0], cs[1], cs[2], cs[3]
	out := c.mustRun("backup", filepath.Join(t.TempDir(), "backups"))
	m := regexp.MustCompile(`to (\S+) in `).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("backup printed %q", out)
	}
	cp := m[1]
	keptBefore := trimAudit(c.mustRun("export", kept))
	if err := os.WriteFile(filepath.Join(c.data, demoKeyFile), []byte("demo key\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	c.mustRun("forget", erased)
	c.mustRun("consent", "set", withdrawn, "personalization=withdrawn")
	// A command that opens the store once it is carried forward, before
	// the restore locks it again (here, erasing a customer that the copy
	// would bring back), makes the restore stop, with nothing restored.
	func() {
		defer func(f func()) { restoreUnlocked = f }(restoreUnlocked)
		restoreUnlocked = func() { c.mustRun("forget", late) }
		code, out, errOut := c.run("restore", cp)
		if code != exitFailure || !strings.Contains(errOut, "was opened by another command during the restore") || strings.Contains(out, "restored "+cp) {
			t.Errorf("restore with an erasure made meanwhile = exit %d\nstdout:\n%s\nstderr:\n%s\nwant it to stop, restoring nothing", code, out, errOut)
		}
	}()
	if got := c.mustRun("export", late); strings.Contains(got, `"item"`) {
		t.Errorf("a customer erased during a stopped restore has events again:\n%s", got)
	}

	out = c.mustRun("restore", cp)
	for _, want := range []string{"restored " + cp + " as " + c.data, "2 customers erased again", "1 consent record replaced", "the replaced data directory is " + c.data + replacedMark, "events stored after the copy"} {
		if !strings.Contains(out, want) {
			t.Errorf("restore printed:\n%s\nwant %q", out, want)
		}
	}
	for _, p := range []string{erased, withdrawn, late} {
		if got := c.mustRun("export", p); strings.Contains(got, `"item"`) {
			t.Errorf("after the restore, export %s holds events:\n%s\nwant none (erased or withdrawn after the copy)", p, got)
		}
	}
	if got := trimAudit(c.mustRun("export", kept)); got != keptBefore {
		t.Errorf("after the restore, export %s:\n%s\nwant the store's before:\n%s", kept, got, keptBefore)
	}
	if trail := c.mustRun("audit", "--action", "restore,forget"); !strings.Contains(trail, "restore ") || !strings.Contains(trail, "forget ") || !strings.Contains(trail, "customers_erased=2") {
		t.Errorf("audit trail after the restore:\n%s\nwant the restore, with its counts, and the erasure made after the copy", trail)
	}
	// An erasure cannot reach the replaced directory: forget names it.
	if out := c.mustRun("forget", kept); !strings.Contains(out, "not erased from "+c.data+replacedMark) {
		t.Errorf("forget after the restore printed %q, want the replaced directory named", out)
	}
	if b, err := os.ReadFile(filepath.Join(c.data, demoKeyFile)); err != nil || string(b) != "demo key\n" {
		t.Errorf("after the restore, the demo API key file = %q, %v; want the replaced directory's", b, err)
	}
	// The copy itself is untouched.
	copyCLI := *c
	copyCLI.data = cp
	if got := copyCLI.mustRun("export", erased); !strings.Contains(got, `"item"`) {
		t.Error("the restore changed the copy: the erased customer's events are gone from it")
	}

	// Without reconciliation, the copy comes back as it is.
	out = c.mustRun("restore", "--no-reconcile", cp)
	if !strings.Contains(out, "not reconciled") {
		t.Errorf("restore --no-reconcile printed %q, want a warning", out)
	}
	if got := c.mustRun("export", erased); !strings.Contains(got, `"item"`) {
		t.Error("restore --no-reconcile: the customer erased after the copy has no events; want the copy as it is")
	}

	// No room for the copy: refused before copying.
	func() {
		defer func(f func(string, int64) error) { checkRoom = f }(checkRoom)
		checkRoom = func(dir string, size int64) error {
			if size <= 0 || dir != c.data {
				t.Errorf("checkRoom(%s, %d), want the data directory and the copy's size", dir, size)
			}
			return fmt.Errorf("%w: test", store.ErrNoSpace)
		}
		if code, _, errOut := c.run("restore", cp); code == 0 || !strings.Contains(errOut, "free disk space") {
			t.Errorf("restore without room for the copy = %d, %q; want refused", code, errOut)
		}
	}()

	// A store that does not open is not replaced without --no-reconcile.
	if err := os.WriteFile(filepath.Join(c.data, "discret.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := c.run("restore", cp); code == 0 || !strings.Contains(errOut, "--no-reconcile") {
		t.Errorf("restore over a damaged store = %d, %q; want refused, pointing to --no-reconcile", code, errOut)
	}
	for _, args := range [][]string{{"restore"}, {"restore", cp, cp}, {"restore", t.TempDir()}, {"restore", c.data}} {
		if code, _, errOut := c.run(args...); code != exitUsage {
			t.Errorf("discret %v = exit %d (%s), want %d", args, code, errOut, exitUsage)
		}
	}
	partial := filepath.Join(filepath.Dir(cp), ".discret-backup-x.partial-1")
	if err := os.CopyFS(partial, os.DirFS(cp)); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := c.run("restore", partial); code != exitUsage || !strings.Contains(errOut, "not a backup copy") {
		t.Errorf("restore of a partial copy = %d, %q; want refused", code, errOut)
	}

	// No store to reconcile with: refused without --no-reconcile.
	fresh := *c
	fresh.data = filepath.Join(t.TempDir(), "new-data")
	if code, _, errOut := fresh.run("restore", cp); code != exitUsage || !strings.Contains(errOut, "--no-reconcile") {
		t.Errorf("restore into an absent data directory = %d, %q; want refused, pointing to --no-reconcile", code, errOut)
	}
	if code, _, errOut := fresh.run("restore", "--no-reconcile", cp+"-typo"); code != exitUsage || !strings.Contains(errOut, cp+"-typo does not exist") {
		t.Errorf("restore of a copy that does not exist = %d, %q; want refused, saying so", code, errOut)
	}
	if out := fresh.mustRun("restore", "--no-reconcile", cp); strings.Contains(out, "replaced data directory") || !strings.Contains(out, "not reconciled (--no-reconcile): apply again by hand") {
		t.Errorf("restore --no-reconcile into an absent data directory printed %q, want no replaced directory, and what to apply again", out)
	}
	// A data directory in use is not replaced, even without reconciling.
	lock, err := lockDir(fresh.data)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := fresh.run("restore", "--no-reconcile", cp); code == 0 || !strings.Contains(errOut, "in use") {
		t.Errorf("restore over a locked data directory = %d, %q; want refused", code, errOut)
	}
	lock.Close()
	// What an interrupted restore left is removed by the next.
	stale := filepath.Join(filepath.Dir(fresh.data), ".new-data"+restoringMark+"1")
	if err := os.Mkdir(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	if out := fresh.mustRun("restore", cp); !strings.Contains(out, "removed "+stale) {
		t.Errorf("restore printed %q, want the removal of %s", out, stale)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("%s is left (%v)", stale, err)
	}
	// A symbolic link as --data: the directory it leads to is replaced,
	// the link stays.
	link := *c
	link.data = filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(fresh.data, link.data); err != nil {
		t.Fatal(err)
	}
	out = link.mustRun("restore", cp)
	if fi, err := os.Lstat(link.data); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("after a restore through a link, %s is not the link (%v)", link.data, err)
	}
	if !strings.Contains(out, "the replaced data directory is "+fresh.data+replacedMark) {
		t.Errorf("restore through a link printed %q, want the replaced directory beside %s", out, fresh.data)
	}

	entries, _ := os.ReadDir(filepath.Dir(c.data))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".restoring-") {
			t.Errorf("a failed restore left %s", e.Name())
		}
	}
}

// TestPutInPlace: the restored directory takes the data directory's place
// and the replaced one is kept beside it, by an atomic exchange or by two
// renames where the file system has none.
func TestPutInPlace(t *testing.T) {
	unsupported := func(a, b string) error { return fmt.Errorf("%w", errors.ErrUnsupported) }
	for _, tc := range []struct {
		name     string
		exchange func(a, b string) error
		old      string // the data directory's file; "" for none, "-" for an empty directory
	}{
		{"exchange", exchangeDirs, "old"},
		{"renames", unsupported, "old"},
		{"absent", exchangeDirs, ""},
		{"empty", exchangeDirs, "-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func(e func(a, b string) error) { exchange = e }(exchange)
			exchange = func(a, b string) error {
				err := tc.exchange(a, b)
				if tc.name == "exchange" && runtime.GOOS == "linux" && err != nil {
					t.Errorf("exchange on Linux: %v, want the atomic exchange", err)
				}
				return err
			}
			dir := t.TempDir()
			data, tmp := filepath.Join(dir, "data"), filepath.Join(dir, ".data.restoring-1")
			write := func(d, name string) {
				t.Helper()
				if err := os.MkdirAll(d, 0o700); err != nil {
					t.Fatal(err)
				}
				if name != "-" {
					if err := os.WriteFile(filepath.Join(d, name), nil, 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			write(tmp, "new")
			if tc.old != "" {
				write(data, tc.old)
			}
			replaced, err := putInPlace(tmp, data, tc.old == "old")
			if err != nil {
				t.Fatalf("putInPlace: %v", err)
			}
			if _, err := os.Stat(filepath.Join(data, "new")); err != nil {
				t.Errorf("the data directory does not hold the restored one: %v", err)
			}
			if _, err := os.Stat(tmp); !os.IsNotExist(err) {
				t.Errorf("%s is left (%v)", tmp, err)
			}
			if tc.old != "old" {
				if replaced != "" {
					t.Errorf("replaced = %q, want none", replaced)
				}
				return
			}
			if !strings.HasPrefix(replaced, data+replacedMark) {
				t.Errorf("replaced = %q, want %s%sTIME", replaced, data, replacedMark)
			}
			if _, err := os.Stat(filepath.Join(replaced, "old")); err != nil {
				t.Errorf("the replaced directory does not hold the old one: %v", err)
			}
		})
	}
}
