//go:build !unix

package store

import "io/fs"

// diskUsage returns the length of a file: without st_blocks, the
// preallocated part of Badger's files counts too.
func diskUsage(info fs.FileInfo) int64 { return info.Size() }
