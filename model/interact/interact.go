// Package interact turns customer–item interactions into the sparse
// confidence matrix that ALS trains on (DP-ALS.md B2).
//
// Every event of a customer about an item adds weight(kind)·quantity to the
// pair's strength; the strength is capped and turned into a confidence:
//
//	w_ij = Σ_events weight(kind)·quantity     (purchase 1.0, add_to_cart 0.5, view 0.1 by default)
//	w̄_ij = min(w_ij, w_max)                   (w_max = Cap, 10 by default)
//	c_ij = 1 + α·w̄_ij                          (α = Alpha)
//
// Pairs with zero strength are not stored. Customers and items are dense
// indices chosen by the caller (0 ≤ user < Users, 0 ≤ item < Items); the
// item indices must come from a public catalogue, never from the data alone
// (DP-ALS.md B5).
package interact

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/discret-io/discret/privacy"
)

// Defaults of Config.
const (
	DefaultCap   = 10.0
	DefaultAlpha = 1.0
)

// DefaultWeights returns the default weight of each event kind: purchase
// 1.0, add_to_cart 0.5, view 0.1. Store visits carry no item and weigh 0.
func DefaultWeights() map[privacy.EventKind]float64 {
	return map[privacy.EventKind]float64{
		privacy.Purchase:  1.0,
		privacy.AddToCart: 0.5,
		privacy.View:      0.1,
	}
}

// Config sets how interactions become confidences. The zero value means the
// documented defaults.
type Config struct {
	// Weights is the strength added per unit of quantity of each event kind.
	// Kinds absent from the map weigh 0. Nil means DefaultWeights.
	Weights map[privacy.EventKind]float64
	// Cap is w_max, the largest strength of one (customer, item) pair.
	// 0 means DefaultCap.
	Cap float64
	// Alpha is α in c = 1 + α·w̄. 0 means DefaultAlpha; set Binary for c ≡ 1.
	Alpha float64
	// Binary makes every stored pair's confidence 1, whatever its strength
	// (the protocol of the MovieLens benchmarks, EVAL.md).
	Binary bool
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Weights == nil {
		c.Weights = DefaultWeights()
	}
	c.Cap = cmp.Or(c.Cap, DefaultCap)
	c.Alpha = cmp.Or(c.Alpha, DefaultAlpha)
	return c
}

// Validate reports every problem of c.
func (c Config) Validate() error {
	var errs []error
	for k, w := range c.Weights {
		if !k.Valid() {
			errs = append(errs, fmt.Errorf("interact: weight for unknown event kind %d", uint8(k)))
		}
		if !(w >= 0) || math.IsInf(w, 1) {
			errs = append(errs, fmt.Errorf("interact: weight of %s = %v, want a finite number ≥ 0", k, w))
		}
	}
	if !(c.Cap >= 0) || math.IsInf(c.Cap, 1) {
		errs = append(errs, fmt.Errorf("interact: cap = %v, want a finite number > 0", c.Cap))
	}
	if !(c.Alpha >= 0) || math.IsInf(c.Alpha, 1) {
		errs = append(errs, fmt.Errorf("interact: alpha = %v, want a finite number ≥ 0", c.Alpha))
	}
	return errors.Join(errs...)
}

// Matrix is a users × items sparse matrix in compressed sparse row form: the
// stored pairs of user u are Cols[RowPtr[u]:RowPtr[u+1]] (item indices,
// strictly increasing) with capped strengths Strength[…] and confidences
// Conf[…]. It is immutable once built.
type Matrix struct {
	users, items int
	rowPtr       []int
	cols         []int32
	strength     []float64
	conf         []float64
}

// Users returns the number of rows.
func (m *Matrix) Users() int { return m.users }

// Items returns the number of columns (the catalogue size).
func (m *Matrix) Items() int { return m.items }

// Len returns the number of stored pairs.
func (m *Matrix) Len() int { return len(m.cols) }

// Row returns user u's items (increasing) and their confidences. The slices
// alias the matrix and must not be modified.
func (m *Matrix) Row(u int) (items []int32, conf []float64) {
	lo, hi := m.rowPtr[u], m.rowPtr[u+1]
	return m.cols[lo:hi:hi], m.conf[lo:hi:hi]
}

// Strength returns the capped strengths w̄ of user u's items, in the order of
// Row.
func (m *Matrix) Strength(u int) []float64 {
	lo, hi := m.rowPtr[u], m.rowPtr[u+1]
	return m.strength[lo:hi:hi]
}

// FromRows builds a binary matrix (strength 1, confidence 1 for every pair)
// from each user's items. Duplicate items in a row collapse.
func FromRows(items int, rows [][]int32) (*Matrix, error) {
	m := &Matrix{users: len(rows), items: items, rowPtr: make([]int, 1, len(rows)+1)}
	for u, row := range rows {
		sorted := slices.Clone(row)
		slices.Sort(sorted)
		sorted = slices.Compact(sorted)
		for _, j := range sorted {
			if j < 0 || int(j) >= items {
				return nil, fmt.Errorf("interact: user %d: item %d out of range [0, %d)", u, j, items)
			}
		}
		m.cols = append(m.cols, sorted...)
		m.rowPtr = append(m.rowPtr, len(m.cols))
	}
	m.strength = make([]float64, len(m.cols))
	m.conf = make([]float64, len(m.cols))
	for i := range m.cols {
		m.strength[i], m.conf[i] = 1, 1
	}
	return m, nil
}

// Builder accumulates interactions into a Matrix. It is not safe for
// concurrent use.
type Builder struct {
	cfg          Config
	users, items int
	ev           []event
}

type event struct {
	user, item int32
	w          float64
}

// NewBuilder returns a Builder for a users × items matrix.
func NewBuilder(cfg Config, users, items int) (*Builder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if users < 0 || items < 0 || users > math.MaxInt32 || items > math.MaxInt32 {
		return nil, fmt.Errorf("interact: shape %d × %d out of range", users, items)
	}
	return &Builder{cfg: cfg.WithDefaults(), users: users, items: items}, nil
}

// Add records that user did an event of the given kind about item, with a
// quantity (≥ 1; 0 counts as 1).
func (b *Builder) Add(user, item int, kind privacy.EventKind, quantity uint32) error {
	if user < 0 || user >= b.users {
		return fmt.Errorf("interact: user %d out of range [0, %d)", user, b.users)
	}
	if item < 0 || item >= b.items {
		return fmt.Errorf("interact: item %d out of range [0, %d)", item, b.items)
	}
	if !kind.Valid() {
		return fmt.Errorf("interact: unknown event kind %d", uint8(kind))
	}
	w := b.cfg.Weights[kind] * float64(max(quantity, 1))
	if w > 0 {
		b.ev = append(b.ev, event{int32(user), int32(item), w})
	}
	return nil
}

// Matrix returns the matrix of the interactions added so far. The Builder
// may keep being used.
func (b *Builder) Matrix() *Matrix {
	ev := slices.Clone(b.ev)
	slices.SortFunc(ev, func(x, y event) int {
		if c := cmp.Compare(x.user, y.user); c != 0 {
			return c
		}
		return cmp.Compare(x.item, y.item)
	})
	m := &Matrix{users: b.users, items: b.items, rowPtr: make([]int, b.users+1)}
	for i := 0; i < len(ev); {
		e := ev[i]
		w := 0.0
		for ; i < len(ev) && ev[i].user == e.user && ev[i].item == e.item; i++ {
			w += ev[i].w
		}
		w = min(w, b.cfg.Cap)
		c := 1.0
		if !b.cfg.Binary {
			c = 1 + b.cfg.Alpha*w
		}
		m.cols = append(m.cols, e.item)
		m.strength = append(m.strength, w)
		m.conf = append(m.conf, c)
		m.rowPtr[e.user+1]++
	}
	for u := range b.users {
		m.rowPtr[u+1] += m.rowPtr[u]
	}
	return m
}
