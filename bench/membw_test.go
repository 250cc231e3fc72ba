package bench

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// bandwidthBytes is the size of each buffer of BenchmarkMemoryBandwidth:
// eight times this machine's 32 MiB L3, so that every pass streams from
// memory.
const bandwidthBytes = 256 << 20

// readSum reads every word of x, with eight independent accumulators so
// that the loop is bound by loads, not by the addition chain.
func readSum(x []uint64) uint64 {
	var s0, s1, s2, s3, s4, s5, s6, s7 uint64
	for len(x) >= 8 {
		s0 += x[0]
		s1 += x[1]
		s2 += x[2]
		s3 += x[3]
		s4 += x[4]
		s5 += x[5]
		s6 += x[6]
		s7 += x[7]
		x = x[8:]
	}
	for _, v := range x {
		s0 += v
	}
	return s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7
}

func TestReadSum(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 100} {
		x := make([]uint64, n)
		want := uint64(0)
		for i := range x {
			x[i] = uint64(i*i + 1)
			want += x[i]
		}
		if got := readSum(x); got != want {
			t.Errorf("readSum(%d values) = %d, want %d", n, got, want)
		}
	}
}

var bandwidthSink uint64

// BenchmarkMemoryBandwidth measures this machine's streaming memory
// bandwidth, the physical limit of scoring (BenchmarkScore) once the item
// matrix exceeds the caches: op=read sums 256 MiB of words (bytes read),
// op=copy copies 256 MiB with the runtime's memmove (bytes read + bytes
// written, as STREAM counts them), with one goroutine per thread on
// disjoint parts of the buffers.
func BenchmarkMemoryBandwidth(b *testing.B) {
	src := make([]uint64, bandwidthBytes/8)
	dst := make([]uint64, bandwidthBytes/8)
	for i := range src { // touch every page before timing
		src[i] = uint64(i)
		dst[i] = 0
	}
	threads := []int{1}
	if n := runtime.GOMAXPROCS(0); n > 1 {
		threads = append(threads, n)
	}
	for _, op := range []string{"read", "copy"} {
		for _, t := range threads {
			b.Run(fmt.Sprintf("op=%s/threads=%d", op, t), func(b *testing.B) {
				part := len(src) / t
				pass := func(w int) {
					lo, hi := w*part, (w+1)*part
					if op == "read" {
						s := readSum(src[lo:hi])
						if s == 42 {
							bandwidthSink++
						}
					} else {
						copy(dst[lo:hi], src[lo:hi])
					}
				}
				moved := float64(bandwidthBytes)
				if op == "copy" {
					moved *= 2
				}
				for b.Loop() {
					if t == 1 {
						pass(0)
						continue
					}
					var wg sync.WaitGroup
					for w := range t {
						wg.Go(func() { pass(w) })
					}
					wg.Wait()
				}
				b.ReportMetric(moved*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			})
		}
	}
}
