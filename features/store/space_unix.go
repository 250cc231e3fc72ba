//go:build linux || darwin || freebsd || dragonfly

package store

import "golang.org/x/sys/unix"

// diskFree returns the bytes available to this process on the file system
// of dir (statfs).
func diskFree(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
