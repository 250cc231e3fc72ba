package als_test

import (
	"context"
	"fmt"
	"slices"

	"github.com/discret-io/discret/model/als"
	"github.com/discret-io/discret/model/interact"
	"github.com/discret-io/discret/privacy/dp/dptest"
)

// Two groups of customers buy from two disjoint shelves; a new customer who
// bought items 0 and 1 is recommended the rest of the first shelf.
func Example() {
	var rows [][]int32
	for range 20 {
		rows = append(rows, []int32{0, 1, 2, 3}, []int32{4, 5, 6, 7})
	}
	m, err := interact.FromRows(8, rows)
	if err != nil {
		panic(err)
	}
	model, report, err := als.Train(context.Background(), m, als.Config{Factors: 4})
	if err != nil {
		panic(err)
	}
	folder := als.NewFolder(model) // once per model
	scratch := folder.NewScratch() // once per goroutine
	u, err := folder.UserVector(make([]float64, model.Factors), []int32{0, 1}, nil, scratch)
	if err != nil {
		panic(err)
	}
	scores := make([]float64, model.Items)
	for j := range scores {
		for k, x := range u {
			scores[j] += x * model.V[j*model.Factors+k]
		}
	}
	best := []int{2, 3, 4, 5, 6, 7} // items not yet bought
	slices.SortFunc(best, func(a, b int) int {
		if scores[a] > scores[b] {
			return -1
		}
		return 1
	})
	fmt.Println("iterations:", len(report.IterationTimes))
	fmt.Println("recommended:", best[:2])
	// Output:
	// iterations: 10
	// recommended: [2 3]
}

// A private run: the item vectors are (ε, δ)-differentially private at the
// customer level, and the report carries the privacy ledger. Tests and
// benchmarks use a seeded source; a production run leaves Source nil (a
// crypto-seeded generator) and is refused a test source.
func Example_private() {
	var rows [][]int32
	for i := range 400 {
		rows = append(rows, []int32{int32(i % 10), int32(10 + i%7), 20})
	}
	m, err := interact.FromRows(30, rows)
	if err != nil {
		panic(err)
	}
	cfg := als.Config{Factors: 8, Privacy: &als.Privacy{
		Epsilon:         2,
		Source:          dptest.New(1),
		AllowTestSource: true,
	}}
	_, report, err := als.Train(context.Background(), m, cfg)
	if err != nil {
		panic(err)
	}
	l := report.Privacy
	fmt.Printf("ε = %.2f at δ = %g, %d steps, source %s\n", l.Statement.Epsilon, l.Delta, l.Steps, l.Source)
	fmt.Printf("trained items: %d of %d\n", l.Universe, m.Items())
	// Output:
	// ε = 2.00 at δ = 0.0001, 2 steps, source test-seeded
	// trained items: 3 of 30
}
