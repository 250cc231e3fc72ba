//go:build !linux

package main

import (
	"errors"
	"fmt"
)

// exchangeDirs is not available here: restore falls back to two renames.
func exchangeDirs(a, b string) error {
	return fmt.Errorf("exchange %s and %s: %w", a, b, errors.ErrUnsupported)
}
