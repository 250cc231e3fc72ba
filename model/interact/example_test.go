package interact_test

import (
	"fmt"

	"github.com/discret-io/discret/model/interact"
	"github.com/discret-io/discret/privacy"
)

func Example() {
	b, err := interact.NewBuilder(interact.Config{}, 1, 3) // 1 customer, 3 catalogue items
	if err != nil {
		panic(err)
	}
	_ = b.Add(0, 2, privacy.View, 1)
	_ = b.Add(0, 2, privacy.Purchase, 2) // two units
	_ = b.Add(0, 0, privacy.AddToCart, 1)
	m := b.Matrix()
	items, conf := m.Row(0)
	for q, j := range items {
		fmt.Printf("item %d: strength %.1f, confidence %.1f\n", j, m.Strength(0)[q], conf[q])
	}
	// Output:
	// item 0: strength 0.5, confidence 1.5
	// item 2: strength 2.1, confidence 3.1
}
