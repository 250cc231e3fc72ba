package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/store"
)

// replacedMark is in the name of the data directory a restore replaced.
const replacedMark = ".replaced-"

// exchange is exchangeDirs, and checkRoom store.CheckRoom; tests replace
// them.
var (
	exchange  = exchangeDirs
	checkRoom = store.CheckRoom
)

func restoreCommand() *command {
	var noReconcile bool
	return &command{
		name:    "restore",
		args:    "COPY",
		summary: "replace the data directory by a backup copy, keeping the erasures, consent and records made since",
		help: `Restore replaces the data directory (--data) by COPY, a copy that 'discret
backup' or 'serve --backup-dir' made, without undoing what the store
decided about customers since the copy was made. The server must be
stopped. COPY is left as it is: the command works on a copy of it, beside
the data directory, after checking that its file system has room for it
(Ctrl-C stops the copy; nothing is replaced then).

Before the copy replaces it, the data directory's store is opened and
carried forward into the copy:
  - erasures: customers erased since are erased from the copy again, with
    the time of their erasure (nothing dated before it can come back);
  - consent: every consent record that changed since replaces the copy's,
    and what a withdrawal since erased is erased again (also when the
    customer granted consent again after it);
  - as they are in the data directory: API keys (revocations included),
    revoked customer tokens, model releases and which one is current (a
    release retired with an erased customer's data stays deleted), the
    privacy ledger (the budget spent since stays spent), the audit
    trail and the privacy settings recorded (--accept-config-change); and
    the demo's API key file (DATA/` + demoKeyFile + `);
  - added: the coupon pushes made since (frequency caps count them).
What the copy restores is data: the events, the catalogue and coupons,
and counters as they were. Events stored since the copy are
not in it: send them again (an event file imports again without copies).

Consent is judged with the consent defaults of --config, as the server
does. If anything was erased, the restored store is compacted, so that
the copy's bytes of it leave the disk. The data directory is then kept as
DATA` + replacedMark + `TIME, beside it: check the restore and delete it (it holds
customer data, and no erasure reaches it any more; until then, serve warns
about it at startup and forget names it). The restore is in the
audit trail ('discret audit --action restore'), with what it carried. The
data directory is locked for the whole restore, except while the store to
replace is read: a server or command that uses it, or opens it then,
makes restore stop, with nothing restored. A restore interrupted leaves a hidden
.DATA` + restoringMark + `* directory beside it, which the next restore removes.

The restore stops when the store to replace does not open (damaged, or
another key), when there is none (a mistyped --data), and when it is not
the store the copy was made from (it lacks the copy's newest audit entry
or ledger charge: another store, or one restored since from an older
copy): --no-reconcile then restores the copy as it is, after which the
erasures, withdrawals and revocations made since the copy must be
applied again by hand (README "Backups").`,
		flags: func(fs *flag.FlagSet, _ *env) {
			fs.BoolVar(&noReconcile, "no-reconcile", false, "restore COPY as it is, without carrying the data directory's erasures, consent and records forward (when the data directory's store does not open)")
		},
		run: func(ctx context.Context, e *env, args []string) error {
			if len(args) != 1 {
				return usagef("restore: want one backup copy COPY, got %d arguments", len(args))
			}
			return restore(ctx, e, args[0], !noReconcile)
		},
	}
}

// restore replaces the data directory by a reconciled copy of src.
func restore(ctx context.Context, e *env, src string, reconcile bool) error {
	shown := e.global.data
	data := absReal(shown) // a symbolic link: the directory it leads to
	if err := checkRestorePaths(src, data); err != nil {
		return err
	}
	replacing, err := hasStore(data)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if !replacing {
		if entries, err := os.ReadDir(data); err == nil && len(entries) > 0 {
			return fmt.Errorf("restore: the data directory %s holds something other than a Discret store; give an empty or absent --data, or the store to replace", shown)
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("restore: %w", err)
		}
		if reconcile {
			return usagef("restore: there is no store in %s to carry the erasures, consent and records made since the copy forward from (a mistyped --data or DISCRET_DATA?); restored as it is, the copy brings back every erasure and withdrawal made since it was taken. If the store is lost, restore with --no-reconcile, then apply them again by hand (README \"Backups\")", shown)
		}
	}
	var lock *os.File
	if replacing {
		if lock, err = lockDir(data); err != nil {
			return err
		}
		defer func() { lock.Close() }()
	}
	if err := removeStaleRestores(e, data, replacing); err != nil {
		return err
	}
	size, err := store.DirUsage(src)
	if err != nil {
		return err
	}
	if err := checkRoom(data, size); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(data), "."+filepath.Base(data)+restoringMark)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	fmt.Fprintf(e.stdout, "copying %s (%s) beside %s\n", src, humanBytes(size), shown)
	if err := copyTree(ctx, tmp, src); err != nil {
		return fmt.Errorf("restore: copy %s: %w", src, err)
	}
	if err := syncTree(tmp); err != nil {
		return err
	}
	restored, err := openDataAt(e, tmp, false)
	if err != nil {
		return fmt.Errorf("restore: open the copy: %w", err)
	}
	defer restored.Close()
	counts := map[string]int64{"reconciled": 0}
	if reconcile {
		lock.Close() // the store takes the directory's lock itself
		res, state, err := reconcileWith(ctx, e, restored.db, data, shown)
		if err != nil {
			return err
		}
		restoreUnlocked()
		if lock, err = lockDir(data); err != nil {
			return err
		}
		// Between the store's lock and this one, another command could
		// have opened the store and, say, erased a customer, which the
		// copy would then bring back.
		if now, err := dirState(data); err != nil {
			return fmt.Errorf("restore: %w", err)
		} else if now != state {
			return fmt.Errorf("restore: the data directory %s was opened by another command during the restore, after what it holds was carried forward: nothing was restored; run restore again", shown)
		}
		if res.Removed.Total() > 0 {
			// What the copy held of the customers erased since leaves
			// the disk now.
			if err := restored.db.Compact(ctx); err != nil {
				return fmt.Errorf("restore: compact: %w", err)
			}
		}
		counts = res.Counts()
		counts["reconciled"] = 1
		// The demo's API key goes with the API keys carried forward.
		if err := copyIfExists(filepath.Join(data, demoKeyFile), filepath.Join(tmp, demoKeyFile)); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	} else {
		if err := checkSettings(ctx, e, restored); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		fmt.Fprintf(e.stdout, "not reconciled (--no-reconcile): apply again by hand the erasures, withdrawals and key revocations made since the copy, and lower the privacy cap by the budget spent since (README \"Backups\")\n")
	}
	err = restored.db.RecordAudit(ctx, store.AuditEntry{Action: store.AuditRestore, Object: store.AuditObject(filepath.Base(filepath.Clean(src))), Counts: counts})
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := restored.Close(); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	replaced, err := putInPlace(tmp, data, replacing)
	done = err == nil || replaced != "" // else tmp holds the copy, to remove
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "restored %s as %s\n", src, shown)
	if replaced != "" {
		fmt.Fprintf(e.stdout, "the replaced data directory is %s: check the restore, then delete it (it holds customer data, which later erasures do not reach)\n", replaced)
	}
	if t, ok := store.BackupTime(src); ok {
		fmt.Fprintf(e.stdout, "events stored after the copy (%s) are not restored: send them again\n", t.Format(time.RFC3339))
	}
	return nil
}

// replacedDirs returns the directories that restores replaced beside the
// data directory data (DATA.replaced-TIME) and that are still there: they
// hold customer data that no erasure or withdrawal reaches.
func replacedDirs(data string) []string {
	dirs, _ := besideData(absReal(data), "", replacedMark)
	return dirs
}

// besideData returns the directories beside the data directory data (a
// resolved path) named before + its name + after + anything.
func besideData(data, before, after string) ([]string, error) {
	parent, base := filepath.Split(data)
	entries, err := os.ReadDir(parent)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), before+base+after) {
			out = append(out, filepath.Join(parent, e.Name()))
		}
	}
	return out, nil
}

// restoringMark is in the name of the directory a restore writes the copy
// into, beside the data directory.
const restoringMark = ".restoring-"

// lockDir takes the lock a store takes on its directory (an exclusive
// flock, as Badger does), so that no server or command opens it while a
// restore replaces it. The lock lasts until the returned file is closed;
// where locks are not supported, it is a no-op.
func lockDir(dir string) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	switch err := lockFile(f); {
	case err == nil, errors.Is(err, errors.ErrUnsupported):
		return f, nil
	default:
		f.Close()
		return nil, fmt.Errorf("restore: the data directory %s is in use by another process (a running 'discret serve', or another discret command): stop it, then restore (%v)", dir, err)
	}
}

// removeStaleRestores removes the directories that interrupted restores
// left beside data (they hold an unreconciled copy), or, without the data
// directory's lock (no store to lock), only names them.
func removeStaleRestores(e *env, data string, locked bool) error {
	stale, err := besideData(data, ".", restoringMark)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("restore: %w", err)
	}
	for _, d := range stale {
		if !locked {
			fmt.Fprintf(e.stdout, "%s is left by an interrupted restore, or one running: delete it if none runs (it holds an unreconciled copy)\n", d)
			continue
		}
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("restore: remove the directory of an interrupted restore: %w", err)
		}
		fmt.Fprintf(e.stdout, "removed %s, left by an interrupted restore\n", d)
	}
	return nil
}

// copyChunk is how many bytes copyTree copies between two checks of its
// context.
const copyChunk = 16 << 20

// copyTree copies the regular files and directories under src into the
// existing directory dst, as os.CopyFS does, but stops when ctx is done
// (a store's files may take minutes to copy) and keeps them private to
// their owner (files 0600, directories 0700). Other kinds of files (a
// symbolic link) are refused.
func copyTree(ctx context.Context, dst, src string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		switch {
		case rel == ".":
			return nil
		case d.IsDir():
			return os.Mkdir(to, 0o700)
		case d.Type().IsRegular():
			return copyFile(ctx, to, path)
		default:
			return &fs.PathError{Op: "copy", Path: path, Err: fmt.Errorf("%w: not a regular file or directory", fs.ErrInvalid)}
		}
	})
}

// copyFile copies the regular file src to the new file dst (mode 0600),
// copyChunk bytes at a time, and stops when ctx is done.
func copyFile(ctx context.Context, dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	for err == nil {
		if err = ctx.Err(); err == nil {
			_, err = io.CopyN(out, in, copyChunk)
		}
	}
	if errors.Is(err, io.EOF) {
		err = nil
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncTree syncs every file and directory under dir to disk.
func syncTree(dir string) error {
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return syncPath(path)
	})
	if err != nil {
		return fmt.Errorf("restore: sync the copy: %w", err)
	}
	return nil
}

// syncPath syncs the file or directory path to disk.
func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// putInPlace makes the directory tmp the data directory data. The store
// that data held (if replacing) is moved beside it to the name it
// returns: in one atomic exchange where the file system allows, else by
// two renames (the second undoes the first if it fails). After an error
// with a name, neither directory may be removed: the error says where
// each is.
func putInPlace(tmp, data string, replacing bool) (replaced string, err error) {
	if !replacing {
		// An empty directory, or none: nothing to keep.
		if err := os.Remove(data); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("restore: %w", err)
		}
		if err := os.Rename(tmp, data); err != nil {
			return "", fmt.Errorf("restore: %w", err)
		}
		return "", syncParent(data)
	}
	replaced = freeName(filepath.Clean(data) + replacedMark + time.Now().UTC().Format(store.BackupTimeLayout))
	switch err := exchange(tmp, data); {
	case err == nil:
		if err := os.Rename(tmp, replaced); err != nil {
			return tmp, fmt.Errorf("restore: the copy is in place, and the replaced data directory is %s (not renamed: %w)", tmp, err)
		}
	case errors.Is(err, errors.ErrUnsupported):
		if err := os.Rename(data, replaced); err != nil {
			return "", fmt.Errorf("restore: keep the replaced data directory: %w", err)
		}
		if err := os.Rename(tmp, data); err != nil {
			if rerr := os.Rename(replaced, data); rerr != nil {
				return replaced, fmt.Errorf("restore: %w; and moving the replaced data directory back from %s failed: %v", err, replaced, rerr)
			}
			return "", fmt.Errorf("restore: %w", err)
		}
	default:
		return "", fmt.Errorf("restore: %w", err)
	}
	return replaced, syncParent(data)
}

// reconcileWith carries into restored what the store in data decided
// since the copy (store.Reconcile), and returns what it carried and the
// state of data once closed (dirState).
func reconcileWith(ctx context.Context, e *env, restored *store.DB, data, shown string) (store.Reconciled, string, error) {
	old, err := openDataAt(e, data, false)
	if err != nil {
		if errors.Is(err, store.ErrInUse) {
			return store.Reconciled{}, "", fmt.Errorf("restore: the data directory %s is in use by another process (a running 'discret serve', or another discret command): stop it, then restore", shown)
		}
		return store.Reconciled{}, "", fmt.Errorf("restore: the store to replace does not open, so what it decided since the copy cannot be carried forward: %w; --no-reconcile restores the copy as it is, after which the erasures, withdrawals and revocations made since must be applied again by hand (README \"Backups\")", err)
	}
	defer old.Close()
	// The settings in force are the replaced store's: the configuration is
	// checked against them, and Reconcile carries them.
	if err := checkSettings(ctx, e, old); err != nil {
		return store.Reconciled{}, "", fmt.Errorf("restore: %w", err)
	}
	res, err := restored.Reconcile(ctx, old.db, e.conf.consent)
	if errors.Is(err, store.ErrNotDescendant) {
		return store.Reconciled{}, "", fmt.Errorf("restore: %w; restore a copy of this store, or, if it is the wrong one, give the store to replace as --data (--no-reconcile restores the copy as it is)", err)
	}
	if err != nil {
		return store.Reconciled{}, "", fmt.Errorf("restore: %w", err)
	}
	if err := old.Close(); err != nil {
		return store.Reconciled{}, "", fmt.Errorf("restore: %w", err)
	}
	state, err := dirState(data)
	if err != nil {
		return store.Reconciled{}, "", fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(e.stdout, "carried forward from %s: %s erased again, %s replaced%s%s\n", shown,
		features.Plural(res.Erased, "customer"), features.Plural(res.Consents, "consent record"),
		removedNote(res.Removed), tablesNote(res.Tables))
	return res, state, nil
}

// restoreUnlocked is called while no lock holds the data directory
// during a restore; tests open it there.
var restoreUnlocked = func() {}

// dirState describes the files under dir (names, sizes, modification
// times): a store opened and closed changes it.
func dirState(dir string) (string, error) {
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d %d %v\n", path, info.Size(), info.ModTime().UnixNano(), info.Mode())
		return nil
	})
	return b.String(), err
}

// removedNote describes what a reconciliation erased.
func removedNote(r store.Removed) string {
	if r.Total() == 0 {
		return ""
	}
	return ", " + features.Plural(r.Total(), "stored record") + " erased" + byReason(r)
}

// tablesNote describes the tables a reconciliation rewrote.
func tablesNote(tables map[string]int) string {
	if len(tables) == 0 {
		return "; API keys, revoked tokens, releases, ledger, audit trail and coupon pushes unchanged since the copy"
	}
	n := 0
	for _, c := range tables {
		n += c
	}
	return "; " + features.Plural(n, "record") + " taken from it" + byReason(tables)
}

// checkRestorePaths refuses a source that holds no store, and a source
// and a data directory that are the same or inside one another.
func checkRestorePaths(src, data string) error {
	ok, err := hasStore(src)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
		return usagef("restore: %s does not exist; 'discret backup --list DIR' lists the copies in a backup directory", src)
	}
	if !ok || store.IsPartialBackup(src) {
		return usagef("restore: %s is not a backup copy (no %s in it, or a partial copy); 'discret backup --list DIR' lists the copies in a backup directory", src, store.MetaFile)
	}
	a, b := absReal(src), absReal(data)
	for _, p := range [][2]string{{a, b}, {b, a}} {
		if rel, err := filepath.Rel(p[0], p[1]); err == nil && filepath.IsLocal(rel) || p[0] == p[1] {
			return usagef("restore: the copy %s and the data directory %s are the same directory or inside one another", src, data)
		}
	}
	return nil
}

// absReal is p absolute, with symbolic links resolved as far as p exists.
func absReal(p string) string {
	r := realPath(p)
	if a, err := filepath.Abs(r); err == nil {
		return a
	}
	return r
}

// copyIfExists copies the file src to dst, mode 0600, if src exists.
func copyIfExists(src, dst string) error {
	b, err := os.ReadFile(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o600)
}

// freeName returns path, or path-2, path-3, ... if it exists (the first
// name that Lstat cannot read: a rename to it reports why).
func freeName(path string) string {
	name := path
	for i := 2; ; i++ {
		if _, err := os.Lstat(name); err != nil {
			return name
		}
		name = fmt.Sprintf("%s-%d", path, i)
	}
}

// syncParent syncs the directory that holds path, so that a rename in it
// is durable.
func syncParent(path string) error {
	if err := syncPath(filepath.Dir(filepath.Clean(path))); err != nil {
		return fmt.Errorf("restore: sync %s: %w", filepath.Dir(path), err)
	}
	return nil
}
