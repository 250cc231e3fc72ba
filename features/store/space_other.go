//go:build !(linux || darwin || freebsd || dragonfly)

package store

import "errors"

// diskFree reports that free space is unknown here: Open and writes skip
// the check.
func diskFree(string) (int64, error) { return 0, errors.ErrUnsupported }
