//go:build unix

package main

import "syscall"

// restrictUmask makes every file the process creates readable by its owner
// only. Badger creates its files with mode 0666 less the umask, so under the
// usual 022 the store's files would be world-readable (encrypted, inside a
// 0700 directory; this is defence in depth, for copies and backups that keep
// modes).
func restrictUmask() { syscall.Umask(0o077) }
