//go:build unix

package store

import (
	"io/fs"
	"syscall"
)

// diskUsage returns the disk space a file occupies: its allocated blocks,
// not its length, since Badger preallocates its value-log and memtable
// files as sparse files far longer than what they hold.
func diskUsage(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return int64(st.Blocks) * 512 // st_blocks counts 512-byte units (POSIX)
	}
	return info.Size()
}
