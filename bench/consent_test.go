package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
	"github.com/discret-io/discret/privacy/pseudonym"
	"github.com/discret-io/discret/privacy/secret"
)

// openStore opens an encrypted on-disk store under a new master key,
// closed when the benchmark ends, and returns it with the key's
// pseudonymizer.
func openStore(b *testing.B) (*store.DB, *pseudonym.Keyed) {
	b.Helper()
	m, err := secret.Generate()
	if err != nil {
		b.Fatal(err)
	}
	db, err := store.Open(store.Options{Dir: b.TempDir(), EncryptionKey: m.StorageKey(), KeyCheck: m.CheckValue()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	ps, err := pseudonym.New(m.PseudonymKey())
	if err != nil {
		b.Fatal(err)
	}
	return db, ps
}

// consentStore opens a store (openStore) in which each of n customers
// (pseudonyms of "customer-0" …) granted personalization, and returns it
// with its pseudonymizer and their pseudonyms.
func consentStore(b *testing.B, n int) (*store.DB, *pseudonym.Keyed, []privacy.PseudoID) {
	b.Helper()
	db, ps := openStore(b)
	ids := make([]privacy.PseudoID, n)
	for i := range ids {
		c, err := privacy.ParseCustomerID(fmt.Sprintf("customer-%d", i))
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = ps.Pseudonymize(c)
	}
	ctx := context.Background()
	at := time.Now().Add(-time.Hour)
	change := []consent.Change{{Purpose: privacy.Personalization, Granted: true, Time: at, Source: "web-form"}}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for w := range 32 {
		wg.Go(func() {
			for i := w; i < n; i += 32 {
				if _, err := db.UpdateConsent(ctx, ids[i], change, consent.Defaults{}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	if err := db.Compact(ctx); err != nil {
		b.Fatal(err)
	}
	return db, ps, ids
}

// BenchmarkConsentLookup measures the serving-time consent check of one
// customer: read the record from the encrypted store and decide
// personalization (store.DB.Consent, consent.Defaults.Allows), among 10,000
// and 100,000 customers, for known customers (hit) and for customers who
// never expressed a choice (miss: no record, the defaults decide). With
// -short only the 10,000-customer store is built.
func BenchmarkConsentLookup(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		if testing.Short() && n > 10_000 {
			b.Logf("-short: skipping customers=%d (its setup writes %d consent records)", n, n)
			continue
		}
		db, _, ids := consentStore(b, n)
		ctx := context.Background()
		for _, known := range []bool{true, false} {
			name := "hit"
			if !known {
				name = "miss"
			}
			b.Run(fmt.Sprintf("customers=%d/%s", n, name), func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 2))
				var d consent.Defaults
				b.ReportAllocs()
				for b.Loop() {
					p := ids[r.IntN(n)]
					if !known {
						p[0] ^= 0x5a // an unknown pseudonym
					}
					rec, err := db.Consent(ctx, p)
					if err != nil {
						b.Fatal(err)
					}
					if d.Allows(rec, privacy.Personalization) != known {
						b.Fatalf("consent of a %s customer = %v", name, !known)
					}
				}
			})
		}
	}
}
