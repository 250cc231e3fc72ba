package dp_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/discret-io/discret/privacy/dp"
	"github.com/discret-io/discret/privacy/dp/dptest"
)

var benchSink int64

// BenchmarkDiscreteGaussian measures the exact sampler with the production
// generator (ChaCha8, test seed) at the σ values training uses (σ_int ∈
// [2³², 2³³), D3.3) and at small σ. goroutines=2 runs one sampler per
// goroutine on independent streams; ns/op is then wall time per sample of
// the pair, so samples/s is the combined throughput.
func BenchmarkDiscreteGaussian(b *testing.B) {
	sigmas := []struct {
		name  string
		sigma float64
	}{
		{"0.5", 0.5}, {"1", 1}, {"10", 10}, {"2^20", 1 << 20}, {"2^32", 1 << 32}, {"1.37*2^32", 1.37 * (1 << 32)},
	}
	for _, s := range sigmas {
		b.Run("sigma="+s.name+"/goroutines=1", func(b *testing.B) {
			g, err := dp.NewDiscreteGaussianFloat64(dptest.New(1), s.sigma*s.sigma)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			var sum int64
			for b.Loop() {
				sum += g.Sample()
			}
			benchSink = sum
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "samples/s")
		})
		b.Run("sigma="+s.name+"/goroutines=2", func(b *testing.B) {
			var seed atomic.Uint64
			b.ReportAllocs()
			b.SetParallelism(1) // GOMAXPROCS goroutines (2 on the reference machine)
			b.RunParallel(func(pb *testing.PB) {
				g, err := dp.NewDiscreteGaussianFloat64(dptest.New(seed.Add(1)), s.sigma*s.sigma)
				if err != nil {
					b.Error(err)
					return
				}
				var sum int64
				for pb.Next() {
					sum += g.Sample()
				}
				atomic.AddInt64(&benchSink, sum)
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

// BenchmarkNoiser measures one noisy d×d Gramian release (d(d+1)/2 samples).
func BenchmarkNoiser(b *testing.B) {
	for _, d := range []int{32, 64} {
		b.Run(fmt.Sprintf("d=%d", d), func(b *testing.B) {
			l, err := dp.NewLattice(102.7, 0.01, dp.SymmetricCoords(d, 1))
			if err != nil {
				b.Fatal(err)
			}
			nz, err := l.NewNoiser(dptest.New(1))
			if err != nil {
				b.Fatal(err)
			}
			sums := make([]int64, dp.PackedLen(d))
			dst := make([]float64, d*d)
			b.ReportAllocs()
			for b.Loop() {
				nz.Symmetric(dst, sums, d)
			}
			b.ReportMetric(float64(b.N)*float64(len(sums))/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

func BenchmarkAccountant(b *testing.B) {
	b.Run("EpsilonRDP", func(b *testing.B) {
		for b.Loop() {
			dp.EpsilonRDP(0.5, 1e-6)
		}
	})
	b.Run("RhoForEpsilon", func(b *testing.B) {
		for b.Loop() {
			_, _ = dp.RhoForEpsilon(1, 1e-6, dp.RDP)
		}
	})
}
