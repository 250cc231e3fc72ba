//go:build !purego

package spd

import "golang.org/x/sys/cpu"

// hasFMA reports whether the AVX2/FMA micro-kernel may be used.
var hasFMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func kernAdd4x8(k int, x *float64, ldx int, y *float64, ldy int, c *float64, ldc int)

//go:noescape
func kernSub4x8(k int, x *float64, ldx int, y *float64, ldy int, c *float64, ldc int)
