package rpc_test

import (
	"fmt"
	"log"
	"slices"

	"google.golang.org/grpc"

	"github.com/discret-io/discret/features/ingest"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/store/storetest"
	"github.com/discret-io/discret/privacy/pseudonym"
	"github.com/discret-io/discret/serve/rpc"
)

// Example registers the API with a gRPC server. The engines left out of the
// Config (recommendations, coupons, catalogue, models) answer Unimplemented.
func Example() {
	db, err := store.Open(store.Options{InMemory: true, EncryptionKey: storetest.TestKey})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ps, _ := pseudonym.New(make([]byte, 32))
	in, err := ingest.New(ingest.Config{Pseudonyms: ps}, db)
	if err != nil {
		log.Fatal(err)
	}
	api, err := rpc.New(rpc.Config{Pseudonyms: ps, Store: db, Events: in})
	if err != nil {
		log.Fatal(err)
	}
	s := grpc.NewServer()
	api.Register(s)
	var names []string
	for name, info := range s.GetServiceInfo() {
		names = append(names, fmt.Sprintf("%s (%d methods)", name, len(info.Methods)))
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Println(n)
	}
	// Output:
	// discret.v1.AdminService (11 methods)
	// discret.v1.ConsentService (2 methods)
	// discret.v1.EventService (1 methods)
	// discret.v1.RecommendationService (5 methods)
	// discret.v1.StoreService (1 methods)
}
