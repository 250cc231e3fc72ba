package main

import (
	"flag"
	"fmt"
	"math"
	"time"
)

// numRange is the valid range of a numeric flag or configuration value:
// ok accepts a value, want says which values it accepts.
type numRange struct {
	ok   func(float64) bool
	want string
}

// Ranges shared by flags and configuration values.
var (
	positiveNumber = numRange{func(x float64) bool { return x > 0 && !math.IsInf(x, 1) }, "a finite number > 0"}
	positiveTime   = numRange{func(x float64) bool { return x > 0 }, "a duration > 0"}
	// rateRange is a rate limit in requests per second.
	rateRange = numRange{func(x float64) bool { return x > 0 && !math.IsInf(x, 1) || x == -1 }, "a finite number > 0, or -1 for no limit"}
	// intervalRange is the period of a background job that can be off.
	intervalRange = numRange{func(x float64) bool { return x == 0 || x >= 60 }, "0 (off) or at least 1m"}
	// backupIntervalRange: backups are off without --backup-dir, not with 0.
	backupIntervalRange = numRange{func(x float64) bool { return x >= 60 }, "at least 1m"}
)

// intRange accepts the integers from lo to hi.
func intRange(lo, hi int) numRange {
	return numRange{func(x float64) bool { return x >= float64(lo) && x <= float64(hi) }, fmt.Sprintf("an integer from %d to %d", lo, hi)}
}

// atLeast accepts the integers ≥ lo.
func atLeast(lo int) numRange {
	return numRange{func(x float64) bool { return x >= float64(lo) }, fmt.Sprintf("an integer ≥ %d", lo)}
}

// flagRange is the range of the flag --name.
type flagRange struct {
	name string
	numRange
}

// isSet reports whether the command line sets the flag --name (a flag not
// set keeps its default).
func (e *env) isSet(name string) bool {
	_, ok := e.set[name]
	return ok
}

// checkRanges returns a usage error naming the first flag of rs that the
// command line sets to a value out of its range. Flags left unset are not
// checked: they keep their defaults.
func (e *env) checkRanges(rs ...flagRange) error {
	for _, r := range rs {
		f, ok := e.set[r.name]
		if !ok {
			continue
		}
		var x float64
		switch v := f.Value.(flag.Getter).Get().(type) {
		case int:
			x = float64(v)
		case uint64:
			x = float64(v)
		case float64:
			x = v
		case time.Duration:
			x = v.Seconds()
		default:
			panic(fmt.Sprintf("checkRanges: --%s is a %T, not a number", r.name, v))
		}
		if !r.ok(x) {
			return usagef("--%s %s: want %s", r.name, f.Value, r.want)
		}
	}
	return nil
}
