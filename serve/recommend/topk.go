package recommend

import "math"

// cand is a scored item.
type cand struct {
	row   int32
	score float32
}

// better reports whether a ranks before b: a higher score, or the same
// score and a lower row (so that rankings are deterministic).
func better(a, b cand) bool {
	return a.score > b.score || a.score == b.score && a.row < b.row
}

// topK returns the k best trained items of scores that pass f, best first,
// using h's storage. It keeps a bounded min-heap whose root is the worst
// item kept, so an item is filtered only if it would enter the top k:
// O(n + m·log k) for m such items.
func topK(h []cand, scores []float32, k int, f *filter) []cand {
	h = h[:0]
	norms := f.s.norms
	// thr is the root's score once the heap is full: most items fall
	// below it and cost one comparison.
	thr := float32(math.Inf(-1))
	for j, sj := range scores {
		if sj < thr {
			continue
		}
		c := cand{row: int32(j), score: sj}
		if len(h) == k && !better(c, h[0]) {
			continue
		}
		if !(norms[j] > 0) || !f.ok(c.row) { // hasVector
			continue
		}
		if len(h) < k {
			h = append(h, c)
			up(h, len(h)-1)
		} else {
			h[0] = c
			down(h, 0)
		}
		if len(h) == k {
			thr = h[0].score
		}
	}
	// Heap sort: repeatedly move the worst to the end.
	for n := len(h) - 1; n > 0; n-- {
		h[0], h[n] = h[n], h[0]
		down(h[:n], 0)
	}
	return h
}

// up restores the heap order (worst at the root) after h[i] was added.
func up(h []cand, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !better(h[p], h[i]) {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

// down restores the heap order after h[i] was replaced.
func down(h []cand, i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		w := l // the worse child
		if r := l + 1; r < n && better(h[l], h[r]) {
			w = r
		}
		if !better(h[i], h[w]) {
			return
		}
		h[i], h[w] = h[w], h[i]
		i = w
	}
}
