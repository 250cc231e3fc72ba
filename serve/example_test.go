package serve_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"

	"github.com/discret-io/discret/features/ingest"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/store/storetest"
	"github.com/discret-io/discret/privacy/pseudonym"
	"github.com/discret-io/discret/serve"
	"github.com/discret-io/discret/serve/auth"
	"github.com/discret-io/discret/serve/rpc"
)

// Example wires a server over an in-memory store, creates a key with the
// consent scope and reads a customer's consent over REST.
func Example() {
	db, err := store.Open(store.Options{InMemory: true, EncryptionKey: storetest.TestKey})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ps, _ := pseudonym.New(make([]byte, 32)) // derive it from the master secret in production
	in, err := ingest.New(ingest.Config{Pseudonyms: ps}, db)
	if err != nil {
		log.Fatal(err)
	}
	api, err := rpc.New(rpc.Config{Pseudonyms: ps, Store: db, Events: in})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	keys, err := auth.Open(ctx, auth.Config{Store: db})
	if err != nil {
		log.Fatal(err)
	}
	key, _, err := keys.Create(ctx, "crm", auth.Consent)
	if err != nil {
		log.Fatal(err)
	}
	srv, err := serve.New(serve.Config{API: api, Keys: keys})
	if err != nil {
		log.Fatal(err)
	}
	grpcLis, httpLis, err := serve.Listen("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- srv.Serve(ctx, grpcLis, httpLis) }()

	req, _ := http.NewRequest("GET", "http://"+httpLis.Addr().String()+"/v1/customers/alice@example.com/consent", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	var state struct {
		Purposes []struct {
			Purpose string `json:"purpose"`
			Allowed bool   `json:"allowed"`
		} `json:"purposes"`
	}
	json.NewDecoder(resp.Body).Decode(&state)
	resp.Body.Close()
	fmt.Println(resp.Status)
	for _, p := range state.Purposes {
		fmt.Println(p.Purpose, p.Allowed)
	}

	stop() // as SIGTERM does: drain, then return
	fmt.Println("Serve returned", <-done)
	// Output:
	// 200 OK
	// personalization false
	// in_store false
	// Serve returned <nil>
}
