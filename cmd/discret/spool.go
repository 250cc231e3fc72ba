package main

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/discret-io/discret/features/eventfile"
)

// spool is a temporary copy of standard input for `import -`, which reads
// its input twice (a validation pass, then the import pass). Standard input
// holds raw customer ids, which Discret never writes to disk in clear, so
// the copy is encrypted (AES-256 in CTR mode) under a random key that lives
// only in this process's memory: the file is unreadable to anyone, even
// before it is removed.
//
// A process killed before it removes its copy (SIGKILL, a crash, power
// loss) leaves it behind, so the copy is locked (flock) while its import
// runs, and each new copy first removes the stale ones of earlier runs
// (removeStaleSpools): the kernel drops the lock of a dead process, so an
// unlocked copy has no owner any more.
type spool struct {
	f       *os.File // held open, and locked, until remove
	name    string
	key, iv []byte
}

// spoolPattern names the copies of standard input in $TMPDIR.
const spoolPattern = "discret-stdin-*.enc"

// Stale copies (removeStaleSpools): a copy modified less than spoolGrace
// ago is never removed, since another import may have created it and not
// yet locked it; where files cannot be locked, a copy is stale when it was
// last modified more than spoolMaxAge ago (each pass of an import touches
// its copy).
const (
	spoolGrace  = time.Minute
	spoolMaxAge = 24 * time.Hour
)

// spoolReserve is the share of $TMPDIR's file system that the copy leaves
// free by default (see spoolLimit).
const spoolReserve = 0.10

// errSpoolFull is the error of a copy that would exceed its limit.
var errSpoolFull = errors.New("standard input is larger than its temporary copy may be")

// newSpool copies r to an encrypted temporary file in $TMPDIR, of at most
// limit bytes (errSpoolFull beyond, and the copy is removed). It first
// removes the stale copies of earlier runs.
func newSpool(r io.Reader, limit int64) (*spool, error) {
	removeStaleSpools(os.TempDir(), time.Now())
	s := &spool{key: make([]byte, 32), iv: make([]byte, aes.BlockSize)}
	rand.Read(s.key) // crypto/rand.Read never returns an error
	rand.Read(s.iv)
	f, err := os.CreateTemp("", spoolPattern)
	if err != nil {
		return nil, fmt.Errorf("copy standard input: %w", err)
	}
	s.f, s.name = f, f.Name()
	// A file system without locks leaves the copy to the age rule.
	if err := lockFile(f); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		s.remove()
		return nil, fmt.Errorf("copy standard input: lock %s: %w", s.name, err)
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	n, err := io.Copy(cipher.StreamWriter{S: s.stream(), W: bw}, io.LimitReader(r, limit+1))
	if err == nil {
		err = bw.Flush()
	}
	if err == nil && n > limit {
		err = errSpoolFull
	}
	if err != nil {
		s.remove()
		if errors.Is(err, errSpoolFull) {
			return nil, err
		}
		return nil, fmt.Errorf("copy standard input to %s: %w", s.name, err)
	}
	return s, nil
}

func (s *spool) stream() cipher.Stream {
	block, err := aes.NewCipher(s.key)
	if err != nil {
		panic(err) // unreachable: the key is 32 bytes
	}
	return cipher.NewCTR(block, s.iv)
}

// open returns the copy, decrypted and decompressed if it is gzip, from its
// beginning. It touches the copy, so that a long import keeps it younger
// than spoolMaxAge where files cannot be locked.
func (s *spool) open() (io.ReadCloser, error) {
	now := time.Now()
	os.Chtimes(s.name, now, now) // best effort: only the age rule reads it
	f, err := os.Open(s.name)
	if err != nil {
		return nil, fmt.Errorf("standard input (copied to %s): %w", s.name, err)
	}
	return eventfile.NewReader(decrypted{Reader: cipher.StreamReader{S: s.stream(), R: f}, Closer: f}, "standard input")
}

// remove releases the copy's lock and deletes it (closed first: Windows
// cannot remove an open file).
func (s *spool) remove() {
	s.f.Close()
	os.Remove(s.name)
}

type decrypted struct {
	io.Reader
	io.Closer
}

// removeStaleSpools removes from dir the copies of standard input
// (spoolPattern) that earlier runs left: regular files modified more than
// spoolGrace before now that no live process holds locked, or, where files
// cannot be locked, modified more than spoolMaxAge before now. Other files,
// symbolic links and copies in use are left alone; a copy that cannot be
// opened or removed (another user's) is skipped: it is not this run's to
// clean. It returns the paths removed.
func removeStaleSpools(dir string, now time.Time) []string {
	paths, _ := filepath.Glob(filepath.Join(dir, spoolPattern)) // the pattern is valid
	var removed []string
	for _, p := range paths {
		info, err := os.Lstat(p)
		if err != nil || !info.Mode().IsRegular() || now.Sub(info.ModTime()) < spoolGrace {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		err = lockFile(f)
		stale := err == nil || errors.Is(err, errors.ErrUnsupported) && now.Sub(info.ModTime()) > spoolMaxAge
		if stale && os.Remove(p) == nil {
			removed = append(removed, p)
		}
		f.Close()
	}
	return removed
}

// noSpoolLimit is the limit where free space is unknown: the largest one
// newSpool takes (it reads limit+1 bytes to detect a larger input).
const noSpoolLimit = math.MaxInt64 - 1

// spoolLimit returns the size limit of the copy of standard input:
// maxBytes (--max-stdin-bytes) when positive, else the free space of dir's file
// system less spoolReserve of its size, so that a large input cannot fill
// it; no limit (with ok) where the free space is unknown. ok is false when
// there is no room at all, and why says what there is.
func spoolLimit(dir string, maxBytes int64) (limit int64, why string, ok bool) {
	if maxBytes > 0 {
		return maxBytes, fmt.Sprintf("--max-stdin-bytes %d", maxBytes), true
	}
	free, size, known := diskSpace(dir)
	if !known {
		return noSpoolLimit, "", true
	}
	limit = free - int64(spoolReserve*float64(size))
	why = fmt.Sprintf("%s, the free space of %s (%s) less %.0f %% of its file system (%s); --max-stdin-bytes sets another limit",
		humanBytes(max(limit, 0)), dir, humanBytes(free), 100*spoolReserve, humanBytes(size))
	return limit, why, limit > 0
}
