package store

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
)

// ErrNoSpace is returned by Open and by every write when the file system of
// the data directory has less free space than the store needs (see
// Options.spaceNeeded). Nothing was written; free some space and retry.
var ErrNoSpace = errors.New("store: not enough free disk space")

// discardFileSize is the size of Badger's DISCARD file, mapped in memory
// when the store opens.
const discardFileSize = 1 << 20

// spaceNeeded returns the free space, in bytes, that Badger needs on the
// file system of the data directory to open the store and write to it.
// Badger maps its files in memory at their full length as sparse files,
// and a write into a mapped page that the file system cannot back, on a
// full disk, kills the process with SIGBUS instead of returning an error.
// So the store asks for the length of every such file Badger may have at
// once: the write-ahead log of each memtable (twice the memtable size),
// which are the mutable memtable, up to NumMemtables waiting for their flush
// and the one being flushed; the value-log file Badger creates at each
// open (twice ValueLogFileSize); and the DISCARD file. The memtables fill
// only a little more than half of their logs, which leaves room for the
// tables that flushes and compactions write, also through mappings.
func (o Options) spaceNeeded() int64 {
	return int64(o.NumMemtables+2)*2*o.memTable() + 2*o.ValueLogFileSize + discardFileSize
}

// checkSpace returns ErrNoSpace, with what there is and what is needed to
// do (open, write), when the file system of the data directory has less
// free space than o.spaceNeeded (o.free); a platform where free space is
// unknown is not checked. An in-memory store needs no space.
func (o Options) checkSpace(do string) error { return o.checkRoom(0, do) }

// checkRoom is checkSpace for extra bytes more than o.spaceNeeded.
func (o Options) checkRoom(extra int64, do string) error {
	if o.InMemory {
		return nil
	}
	free, err := o.free()
	if err != nil || free < 0 {
		return err
	}
	if need := extra + o.spaceNeeded(); free < need {
		return fmt.Errorf("%w: data directory %s: %s free on its file system, the store needs at least %s to %s: free some space",
			ErrNoSpace, o.Dir, mibf(free), mibf(need), do)
	}
	return nil
}

// free returns the free space on the file system of the data directory,
// or before its creation of its nearest existing parent, measured with
// o.freeSpace; -1 on a platform where it is unknown
// (errors.ErrUnsupported).
func (o Options) free() (int64, error) {
	dir := o.Dir
	free, err := o.freeSpace(dir)
	for errors.Is(err, fs.ErrNotExist) && filepath.Dir(dir) != dir {
		dir = filepath.Dir(dir)
		free, err = o.freeSpace(dir)
	}
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		return -1, nil
	case err != nil:
		return 0, wrapf(err, "free space of %s", o.Dir)
	}
	return free, nil
}

// mibf formats n bytes in MiB with one decimal.
func mibf(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// Usage is the disk footprint of a store, for monitoring.
type Usage struct {
	// Disk is the space the data directory's files occupy: their
	// allocated blocks, not their lengths (diskUsage); 0 in memory.
	Disk int64
	// Free is the space available on the data directory's file system;
	// -1 where that is unknown (in memory, or a platform that does not
	// say).
	Free int64
	// Needed is the free space below which writes are refused with
	// ErrNoSpace; 0 in memory.
	Needed int64
}

// Usage returns the store's disk footprint and the free space left for it.
// It walks the data directory, a few hundred files at most.
func (db *DB) Usage() (Usage, error) {
	u := Usage{Free: -1}
	if db.opts.InMemory {
		return u, nil
	}
	var err error
	if u.Disk, err = DirUsage(db.opts.Dir); err != nil {
		return Usage{}, err
	}
	u.Needed = db.opts.spaceNeeded()
	if u.Free, err = db.opts.free(); err != nil {
		return Usage{}, err
	}
	return u, nil
}

// DirUsage returns the disk space the files under dir occupy: their
// allocated blocks, not their lengths (diskUsage), since Badger's files
// are sparse. Files removed during the walk (a compacted table) count
// nothing.
func DirUsage(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		n += diskUsage(info)
		return nil
	})
	if err != nil {
		return 0, wrapf(err, "size of %s", dir)
	}
	return n, nil
}

// CheckRoom returns ErrNoSpace, saying what there is and what is needed,
// when the file system of dir (or, before its creation, of its nearest
// existing parent) has less free space than size bytes, for a copy of a
// store written there, plus what a store opened there with the default
// options needs (Options.spaceNeeded). A platform where free space is
// unknown is not checked.
func CheckRoom(dir string, size int64) error {
	return Options{Dir: dir}.withDefaults().checkRoom(size, fmt.Sprintf("hold a copy of %s and open it", mibf(size)))
}
