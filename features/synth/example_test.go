package synth_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/discret-io/discret/features/eventfile"
	"github.com/discret-io/discret/features/synth"
)

func ExampleGenerate() {
	cfg := synth.Config{
		Customers: 50,
		Items:     100,
		Stores:    3,
		Events:    1000,
		Seed:      7,
		End:       time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), // the CLI passes time.Now()
	}
	var events, consent bytes.Buffer
	sum, err := synth.Generate(context.Background(), cfg, synth.Output{Events: &events, Consent: &consent}, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("events:", sum.Events, "customers:", sum.Customers)
	fmt.Println("funnel:", sum.Views > sum.Carts, sum.Carts > 0, sum.Purchases > 0, sum.Visits > 0)

	// Every line decodes with eventfile.
	var counts eventfile.Counts
	for r, err := range eventfile.Read(context.Background(), &events, eventfile.Options{}) {
		if err != nil {
			panic(err)
		}
		counts.Add(r)
	}
	fmt.Println("valid:", counts.Valid, "rejected:", len(counts.Errors))

	first, _ := bufio.NewReader(&consent).ReadString('\n')
	fmt.Print("first consent line: ", first)
	// Output:
	// events: 1000 customers: 50
	// funnel: true true true true
	// valid: 1000 rejected: 0
	// first consent line: {"customer":"LOY-10000007","purpose":"personalization","granted":false,"time":"2025-12-04T01:45:41.509Z","source":"synthetic"}
}
