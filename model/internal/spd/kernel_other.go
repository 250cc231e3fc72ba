//go:build !amd64 || purego

package spd

// hasFMA is false: the portable Go micro-kernel is always used.
var hasFMA = false

func kernAdd4x8(k int, x *float64, ldx int, y *float64, ldy int, c *float64, ldc int) {
	panic("spd: no assembly kernel on this platform")
}

func kernSub4x8(k int, x *float64, ldx int, y *float64, ldy int, c *float64, ldc int) {
	panic("spd: no assembly kernel on this platform")
}
