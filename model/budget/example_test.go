package budget_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/discret-io/discret/model/budget"
	"github.com/discret-io/discret/privacy/dp"
)

// The default cap allows ε = 10 over 365 days at δ = 10⁻⁶. Releases
// compose by adding their ρ, so ε grows more slowly than the sum: nine
// releases at ε = 1 spend ε = 3.29, and one more at ε = 9.5 would take the
// total above the cap.
func ExampleCap_Check() {
	now := time.Date(2035, 6, 1, 0, 0, 0, 0, time.UTC)
	rho := func(eps float64) float64 {
		r, err := dp.RhoForEpsilon(eps, 1e-6, dp.RDP)
		if err != nil {
			panic(err)
		}
		return r
	}
	var ledger []budget.Entry
	for i := range 9 {
		ledger = append(ledger, budget.Entry{
			Time: now.AddDate(0, -i, 0), Version: fmt.Sprintf("weekly-%d", i), Private: true,
			Rho: rho(1), Epsilon: 1, Delta: 1e-6,
		})
	}
	var c budget.Cap // the defaults
	spent, _ := c.Spent(ledger, now)
	fmt.Printf("spent ε = %.2f of %g\n", spent.Epsilon, spent.Cap.Epsilon)

	next := budget.Entry{Time: now, Version: "big", Private: true, Rho: rho(9.5), Epsilon: 9.5, Delta: 1e-6}
	_, err := c.Check(ledger, next, now)
	var ex *budget.ExceededError
	if errors.As(err, &ex) {
		fmt.Printf("refused: ε would be %.2f; at most ε = %.2f is left\n", ex.After.Epsilon, ex.Left)
	}
	// Output:
	// spent ε = 3.29 of 10
	// refused: ε would be 10.35; at most ε = 9.13 is left
}
