package als

import (
	"fmt"
	"math"

	"github.com/discret-io/discret/model/internal/spd"
)

// Folder computes a user's vector from the released item vectors and the
// user's own history (DP-ALS.md B11), exactly as a training user step does:
//
//	u = (Σ_{j∈H} c_j v_j v_jᵀ + w0·VᵀV + λ_u I)⁻¹ Σ_{j∈H} c_j v_j,
//	λ_u = λ·(Σ_{j∈H} c_j + w0·|𝓘|)^ν,
//
// over the history H restricted to the trained universe. VᵀV is computed
// once by NewFolder. A Folder is safe for concurrent use; each goroutine
// needs its own Scratch.
type Folder struct {
	m    *Model
	base []float64 // w0·VᵀV, upper triangle
}

// NewFolder precomputes w0·VᵀV for m. It costs Items·d² operations.
func NewFolder(m *Model) *Folder {
	return &Folder{m: m, base: gram(m.V, m.Factors, m.Unobserved)}
}

// Scratch is the working memory of one fold-in at a time.
type Scratch struct {
	sc *scratch
}

// NewScratch returns working memory for UserVector.
func (f *Folder) NewScratch() *Scratch { return &Scratch{sc: newScratch(f.m.Factors)} }

// UserVector writes the vector of a user with the given history into dst
// (which must have room for Factors values) and returns dst[:Factors]. conf
// holds the confidence of each item (c = 1 + α·w̄, see package interact); nil
// means 1 for every item. Items outside the trained universe are ignored; an
// empty history gives the zero vector. It does not allocate.
func (f *Folder) UserVector(dst []float64, items []int32, conf []float64, s *Scratch) ([]float64, error) {
	m := f.m
	d := m.Factors
	if len(dst) < d {
		return nil, fmt.Errorf("als: fold-in destination has %d values, want %d", len(dst), d)
	}
	if conf != nil && len(conf) != len(items) {
		return nil, fmt.Errorf("als: fold-in with %d items and %d confidences", len(items), len(conf))
	}
	dst = dst[:d]
	clear(dst)
	sc := s.sc
	a := sc.a
	copy(a, f.base)
	var freq float64
	n := 0 // rows gathered in the current chunk
	x, y := sc.x, sc.y
	flush := func() {
		if n > 0 {
			spd.AddOuter(a, d, d, x, d, y, d, n)
			n = 0
		}
	}
	for q, j := range items {
		if j < 0 || int(j) >= m.Items {
			return nil, fmt.Errorf("als: fold-in item %d out of range [0, %d)", j, m.Items)
		}
		if !m.InUniverse[j] {
			continue
		}
		c := 1.0
		if conf != nil {
			c = conf[q]
			if !(c > 0) || math.IsInf(c, 1) {
				return nil, fmt.Errorf("als: fold-in confidence %v of item %d, want a finite number > 0", c, j)
			}
		}
		freq += c
		vj := m.V[int(j)*d : int(j)*d+d]
		xr, yr := x[n*d:n*d+d], y[n*d:n*d+d]
		for k, v := range vj {
			xr[k] = v
			yr[k] = c * v
			dst[k] += c * v
		}
		n++
		if n == chunkRows {
			flush()
		}
	}
	flush()
	if freq == 0 {
		clear(dst)
		return dst, nil
	}
	reg := m.Lambda * math.Pow(freq+m.Unobserved*float64(m.Universe), m.RegExponent)
	for i := range d {
		a[i*d+i] += reg
	}
	solveSPD(a, d, dst, sc)
	return dst, nil
}
