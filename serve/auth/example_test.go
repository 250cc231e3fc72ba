package auth_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/store/storetest"
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
