//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package main

import (
	"errors"
	"os"
)

// lockFile reports that files cannot be locked here: stale copies of
// standard input are found by their age only.
func lockFile(*os.File) error { return errors.ErrUnsupported }

// diskSpace reports that the free space is unknown here.
func diskSpace(string) (free, size int64, ok bool) { return 0, 0, false }
