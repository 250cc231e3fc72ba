package eval

import "slices"

// Split is a per-user holdout of a Dataset: Train[u] and Test[u] partition
// user u's items (item indices of the Dataset, increasing).
type Split struct {
	Train, Test [][]int32
}

// Seeds and fraction of EVAL.md.
const (
	TestSeed        = 42  // the test split
	ValidationSeed  = 43  // the validation split, carved from the training part
	HoldoutFraction = 0.2 // share of each user's items held out
)

// splitmix64 is the generator of EVAL.md step 3 (Steele, Lea and Flood,
// "Fast Splittable Pseudorandom Number Generators", OOPSLA 2014).
type splitmix64 struct{ state uint64 }

func (s *splitmix64) next() uint64 {
	s.state += 0x9E3779B97F4A7C15
	z := s.state
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// SplitRows holds out part of every row exactly as EVAL.md prescribes: rows
// are visited in order; each row's items (already in EVAL.md item order) are
// shuffled by Fisher–Yates with one splitmix64 stream seeded with seed and
// continued across rows; the first k = ⌊fraction·n⌋ shuffled items (k = 1
// when n ≥ 2 and the floor is 0) go to Test, the rest to Train. Both keep
// increasing item order.
func SplitRows(rows [][]int32, seed uint64, fraction float64) Split {
	rng := splitmix64{state: seed}
	s := Split{Train: make([][]int32, len(rows)), Test: make([][]int32, len(rows))}
	var buf []int32
	var mark []bool
	for u, row := range rows {
		n := len(row)
		buf = append(buf[:0], row...)
		for i := n - 1; i >= 1; i-- {
			j := int(rng.next() % uint64(i+1))
			buf[i], buf[j] = buf[j], buf[i]
		}
		k := int(fraction * float64(n))
		if k == 0 && n >= 2 {
			k = 1
		}
		// Restore increasing order within each part.
		if cap(mark) < n {
			mark = make([]bool, n)
		}
		mark = mark[:n]
		clear(mark)
		for _, j := range buf[:k] {
			q, _ := slices.BinarySearch(row, j)
			mark[q] = true
		}
		train := make([]int32, 0, n-k)
		test := make([]int32, 0, k)
		for q, j := range row {
			if mark[q] {
				test = append(test, j)
			} else {
				train = append(train, j)
			}
		}
		s.Train[u], s.Test[u] = train, test
	}
	return s
}

// Split returns the EVAL.md split of d with the given seed (TestSeed for the
// reported figures).
func (d *Dataset) Split(seed uint64) Split {
	return SplitRows(d.rows, seed, HoldoutFraction)
}
