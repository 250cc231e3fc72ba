package eval_test

import (
	"context"
	"fmt"
	"io"
	"math"

	"github.com/discret-io/discret/model/eval"
)

// Run evaluates the most-popular baseline and ALS, non-private and at ε = 2,
// on a small dataset of (user, item) pairs; WriteJSON prints one JSON array.
func Example() {
	var users, items []string
	for u := range 120 {
		for k := range 12 {
			users = append(users, fmt.Sprint(u))
			items = append(items, fmt.Sprint((u%3)*10+(u+k)%10)) // three taste groups
		}
	}
	d, err := eval.NewDataset(func(yield func(string, string) bool) {
		for i := range users {
			if !yield(users[i], items[i]) {
				return
			}
		}
	})
	if err != nil {
		panic(err)
	}
	rows, err := eval.Run(context.Background(), eval.Config{
		Name: "toy", Dataset: d, Seeds: 1, Epsilons: []float64{2, math.Inf(1)}, Factors: 8,
	})
	if err != nil {
		panic(err)
	}
	for _, r := range rows {
		fmt.Printf("%-10s ε=%v users=%d\n", r.Model, r.Epsilon, r.Users)
	}
	if err := eval.WriteJSON(io.Discard, rows); err != nil { // os.Stdout for `discret eval --json`
		panic(err)
	}
	// Output:
	// popular    ε=+Inf users=120
	// als        ε=+Inf users=120
	// dp-popular ε=2 users=120
	// als        ε=2 users=120
}
