package eval

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/discret-io/discret/model/als"
	"github.com/discret-io/discret/privacy/dp"
)

// DefaultPopularItems is k_p of the DP most-popular baseline: each user
// contributes this many of their items (uniformly chosen), each with weight
// 1/√k_p (DP-ALS.md F2, C = 1). Chosen on the validation splits
// (TUNING.md).
const DefaultPopularItems = 50

// seeded is a reproducible randomness source for offline evaluation: a
// ChaCha8 stream from a public seed, i.e. the production generator and
// samplers with a test seed (DP-ALS.md E4.7). dp.KindOf reports it as
// dp.KindTestSeeded, so nothing trained with it can pass for a production
// release.
type seeded struct {
	c rand.ChaCha8
}

var _ dp.Forker = (*seeded)(nil)

func newSeeded(seed uint64, purpose string) *seeded {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	copy(s[8:], "discret eval "+purpose)
	r := &seeded{}
	r.c.Seed(s)
	return r
}

func (s *seeded) Uint64() uint64 { return s.c.Uint64() }

// Fork returns a child stream seeded from the next 32 bytes of s.
func (s *seeded) Fork() dp.Source {
	var b [32]byte
	for i := 0; i < 32; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], s.c.Uint64())
	}
	c := &seeded{}
	c.c.Seed(b)
	return c
}

// delta returns the δ of every private run on this split: Privacy.Delta
// if set, else the default of DP-ALS.md C6.
func (b *bench) delta() (float64, error) {
	if p := b.cfg.Privacy; p != nil && p.Delta > 0 {
		if p.Delta >= 1/float64(max(1, len(b.train))) {
			return 0, fmt.Errorf("eval: δ = %g is not below 1/n for n = %d users", p.Delta, len(b.train))
		}
		return p.Delta, nil
	}
	return dp.DefaultDelta(len(b.train))
}

// privacy returns the ALS privacy settings for ε with a test-seeded source.
func (b *bench) privacy(eps float64, seed uint64) (*als.Privacy, error) {
	p := als.Privacy{}
	if b.cfg.Privacy != nil {
		p = *b.cfg.Privacy
	}
	p.Epsilon = eps
	p.Source = newSeeded(seed, "als")
	p.AllowTestSource = true
	return &p, nil
}

// dpPopular evaluates the DP most-popular baseline at ε (DP-ALS.md F): every
// user contributes k_p uniformly chosen items with weight 1/√k_p, and a
// discrete Gaussian count is released for every catalogue item.
func (b *bench) dpPopular(ctx context.Context, eps float64) (Row, error) {
	delta, err := b.delta()
	if err != nil {
		return Row{}, err
	}
	rho, err := dp.RhoForEpsilon(eps, delta, dp.RDP)
	if err != nil {
		return Row{}, fmt.Errorf("eval: dp-popular: %w", err)
	}
	kp := cmp.Or(b.cfg.PopularItems, DefaultPopularItems)
	z := dp.MultiplierForRho(rho)
	var ms []Metrics
	var secs []float64
	for seed := 1; seed <= b.cfg.Seeds; seed++ {
		start := time.Now()
		src := newSeeded(uint64(seed), "dp-popular")
		counts, err := dp.NewCounts(b.items, kp, 1, z)
		if err != nil {
			return Row{}, fmt.Errorf("eval: dp-popular: %w", err)
		}
		weights := map[int]float64{}
		for u, row := range b.train {
			clear(weights)
			for _, j := range row {
				weights[int(j)] = 1
			}
			if len(weights) == 0 {
				continue
			}
			x, err := dp.BoundContributions(weights, kp, 1, src)
			if err != nil {
				return Row{}, fmt.Errorf("eval: dp-popular: user %d: %w", u, err)
			}
			if err := counts.Add(x); err != nil {
				return Row{}, fmt.Errorf("eval: dp-popular: user %d: %w", u, err)
			}
		}
		noisy, err := counts.Release(src)
		if err != nil {
			return Row{}, fmt.Errorf("eval: dp-popular: %w", err)
		}
		secs = append(secs, time.Since(start).Seconds())
		m, err := Evaluate(ctx, b.train, b.test, b.items, b.cfg.Workers, func() Scorer {
			return func(_ int, scores []float64) { copy(scores, noisy) }
		})
		if err != nil {
			return Row{}, err
		}
		b.log("%s dp-popular ε=%s seed %d: ndcg@10 %.4f", b.cfg.Name, epsilonText(eps), seed, m.NDCG10)
		ms = append(ms, m)
	}
	if math.IsNaN(z) {
		return Row{}, fmt.Errorf("eval: dp-popular: no noise multiplier for ε = %v", eps)
	}
	return b.row(ModelDPPopular, eps, delta, 0, ms, secs), nil
}
