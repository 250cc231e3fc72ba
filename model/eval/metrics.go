package eval

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
)

// Cut-offs of the reported metrics.
const (
	K10 = 10
	K20 = 20
)

// Metrics are the full-ranking figures of EVAL.md, averaged over the
// evaluated users (those with at least one training and one test item).
type Metrics struct {
	Users       int     // evaluated users
	Precision10 float64 // hits@10 / 10
	Recall10    float64 // hits@10 / |T_u|                 (EVAL.md, the peer's definition)
	Recall20    float64 // hits@20 / min(20, |T_u|)        (DP-ALS.md E1, the DP papers' definition)
	NDCG10      float64 // binary gain, 1/log2(rank+1), ideal DCG over min(|T_u|, 10)
	Coverage    float64 // share of the catalogue in at least one user's top 10
	// NDCG10SE is the standard error of NDCG10 over users, s/√Users with s
	// the sample standard deviation of the per-user NDCG@10: the sampling
	// error of the figure on this split (0 for fewer than two users).
	NDCG10SE float64
}

// Scorer writes a score for every catalogue item for user u into scores.
// Higher is better. One Scorer is used by one goroutine at a time.
type Scorer func(u int, scores []float64)

// Evaluate ranks the whole catalogue (items 0 … items−1) for every user with
// at least one training and one test item, removes the user's training
// items, and averages the metrics of the top 10 and 20 (ties go to the lower
// item index). Test items outside the catalogue (index < 0) count in |T_u|
// but can never be hit. newScorer is called once per worker.
//
// The result does not depend on workers or on the scheduling: per-user
// figures are summed in user order, so the same scores give the same
// metrics to the last bit.
func Evaluate(ctx context.Context, train, test [][]int32, items, workers int, newScorer func() Scorer) (Metrics, error) {
	// perUser holds user u's figures; users not evaluated keep ok false.
	type perUser struct {
		ok                  bool
		p10, r10, r20, ndcg float64
	}
	per := make([]perUser, len(train))
	var idcg [K10 + 1]float64 // idcg[n] = Σ_{r<n} 1/log2(r+2)
	for n := 1; n <= K10; n++ {
		idcg[n] = idcg[n-1] + 1/math.Log2(float64(n+1))
	}
	workers = max(1, workers)
	covers := make([][]bool, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			covered := make([]bool, items)
			covers[w] = covered
			score := newScorer()
			scores := make([]float64, items)
			excluded := make([]bool, items)
			inTest := make([]bool, items)
			top := make([]int32, 0, K20)
			for ctx.Err() == nil {
				u := int(next.Add(1)) - 1
				if u >= len(train) {
					return
				}
				if len(train[u]) == 0 || len(test[u]) == 0 {
					continue
				}
				score(u, scores)
				for _, j := range train[u] {
					excluded[j] = true
				}
				top = topK(scores, excluded, top[:0], K20)
				for _, j := range train[u] {
					excluded[j] = false
				}
				for _, j := range test[u] {
					if j >= 0 {
						inTest[j] = true
					}
				}
				var h10, h20 int
				var dcg float64
				for r, j := range top {
					if inTest[j] {
						if r < K10 {
							h10++
							dcg += 1 / math.Log2(float64(r+2))
						}
						h20++
					}
					if r < K10 {
						covered[j] = true
					}
				}
				for _, j := range test[u] {
					if j >= 0 {
						inTest[j] = false
					}
				}
				t := len(test[u])
				per[u] = perUser{
					ok:   true,
					p10:  float64(h10) / K10,
					r10:  float64(h10) / float64(t),
					r20:  float64(h20) / float64(min(t, K20)),
					ndcg: dcg / idcg[min(t, K10)],
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Metrics{}, err
	}
	var m Metrics
	var ndcg2 float64
	covered := make([]bool, items)
	for _, p := range per {
		if !p.ok {
			continue
		}
		ndcg2 += p.ndcg * p.ndcg
		m.Users++
		m.Precision10 += p.p10
		m.Recall10 += p.r10
		m.Recall20 += p.r20
		m.NDCG10 += p.ndcg
	}
	for _, c := range covers {
		for j, b := range c {
			covered[j] = covered[j] || b
		}
	}
	if m.Users > 0 {
		n := float64(m.Users)
		m.Precision10 /= n
		m.Recall10 /= n
		m.Recall20 /= n
		m.NDCG10 /= n
		if m.Users > 1 {
			// Sample variance Σ(x − x̄)²/(n − 1) = (Σx² − n·x̄²)/(n − 1).
			v := max(0, ndcg2-n*m.NDCG10*m.NDCG10) / (n - 1)
			m.NDCG10SE = math.Sqrt(v / n)
		}
	}
	if items > 0 {
		c := 0
		for _, b := range covered {
			if b {
				c++
			}
		}
		m.Coverage = float64(c) / float64(items)
	}
	return m, nil
}

// topK appends to top (empty, capacity ≥ k) the k best items by score,
// best first, skipping excluded items; ties go to the lower index. NaN
// scores rank last.
func topK(scores []float64, excluded []bool, top []int32, k int) []int32 {
	for j, s := range scores {
		if excluded[j] || s != s {
			continue
		}
		n := len(top)
		if n == k && !(s > scores[top[n-1]]) {
			continue
		}
		// Insert after every kept item with a score ≥ s (they have lower
		// indices, so they win ties).
		p := n
		for p > 0 && scores[top[p-1]] < s {
			p--
		}
		if n < k {
			top = append(top, 0)
		}
		copy(top[p+1:], top[p:len(top)-1])
		top[p] = int32(j)
	}
	return top
}
