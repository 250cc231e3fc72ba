package auth_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/store/storetest"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/pseudonym"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/auth"
)

func Example() {
	db, err := store.Open(store.Options{InMemory: true, EncryptionKey: storetest.TestKey})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	keys, err := auth.Open(ctx, auth.Config{Store: db})
	if err != nil {
		log.Fatal(err)
	}
	scope, _ := auth.ParseScope("recommend,events")
	token, key, err := keys.Create(ctx, "web-frontend", scope)
	if err != nil {
		log.Fatal(err)
	}
	// The token is shown once; the store keeps a hash of its secret.
	got, err := keys.Authenticate(token)
	fmt.Println(got.Name, got.Scope, err)

	forget, _ := auth.MethodScope("/discret.v1.AdminService/ForgetCustomer")
	fmt.Println("may forget customers:", got.Scope.Has(forget))

	keys.Revoke(ctx, key.ID)
	_, err = keys.Authenticate(token)
	fmt.Println(errors.Is(err, auth.ErrRevoked))
	// Output:
	// web-frontend recommend,events <nil>
	// may forget customers: false
	// true
}

// The back end mints a customer token for the customer it authenticated;
// the customer's device then gets that customer's recommendations, and no
// one else's.
func ExampleKeys_MintCustomerToken() {
	db, err := store.Open(store.Options{InMemory: true, EncryptionKey: storetest.TestKey})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	ps, err := pseudonym.New(bytes.Repeat([]byte{1}, 32)) // from secret.Master.PseudonymKey
	if err != nil {
		log.Fatal(err)
	}
	tokenKey := bytes.Repeat([]byte{2}, 32) // from secret.Master.TokenKey
	keys, err := auth.Open(ctx, auth.Config{Store: db, TokenKey: tokenKey, Pseudonyms: ps})
	if err != nil {
		log.Fatal(err)
	}
	_, backend, err := keys.Create(ctx, "web-backend", auth.Recommend)
	if err != nil {
		log.Fatal(err)
	}
	alice, _ := privacy.ParseCustomerID("alice@example.com")
	token, _, err := keys.MintCustomerToken(auth.Caller{Key: backend}, alice, 15*time.Minute)
	if err != nil {
		log.Fatal(err)
	}

	device := metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", "Bearer "+token))
	recommend := "/discret.v1.RecommendationService/Recommend"
	for _, customer := range []string{"alice@example.com", "bob@example.com"} {
		caller, err := keys.Authorize(device, recommend, &discretv1.RecommendRequest{Customer: customer})
		fmt.Println(caller.Key.Name, caller.CustomerToken, err)
	}
	// Output:
	// web-backend true <nil>
	// web-backend true this customer token is bound to another customer
}
