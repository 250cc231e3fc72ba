package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/discret-io/discret/features/store/storetest"
	"github.com/discret-io/discret/features/synth"
	"github.com/discret-io/discret/privacy/secret"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
)

// leakIDs are raw customer ids that no store, log or output may hold: an
// e-mail address (also the name of a consent file), one with '/' (escaped
// in REST paths), one with spaces and non-ASCII letters, a phone number.
var leakIDs = []string{"Eve.Leak@Example.com", "loyalty/0042/EU", "Zoë Ünïcode 山田 7", "+33 6 12 34 56 78"}

// TestRawIDsNeverStored drives every path that takes a customer id — the
// CLI's consent set, get and import (JSON Lines and CSV), event import,
// export, forget, audit --customer and train, and the server's REST and
// gRPC methods, path and body routes, customer tokens included — with
// leakIDs, then reads every key and value the store holds, decrypted, and
// every file of the data directory, the server's log and every command's
// output: none holds a raw id, in any case or URL-escaped.
func TestRawIDsNeverStored(t *testing.T) {
	if testing.Short() {
		t.Skip("imports, trains and serves a dataset")
	}
	c := newCLI(t)
	gen := c.synthStore(200, 30, 6000, 11)
	c.mustRun("items", "import", filepath.Join(gen, synth.ItemsFile))
	items := synthItems(t, gen)
	var outputs []string // of every command, stdout and stderr
	// named is a consent file named after a customer: its path, which the
	// operator chose, is printed back to them (not stored: the audit trail
	// withholds a file name that looks like an e-mail address).
	var named string
	run := func(want int, args ...string) string {
		t.Helper()
		code, out, errOut := c.run(args...)
		if code != want {
			t.Fatalf("discret %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errOut)
		}
		if named != "" {
			out = strings.ReplaceAll(out, named, "FILE")
		}
		outputs = append(outputs, out, errOut)
		return out
	}
	now := time.Now().UTC().Truncate(time.Second)
	at := func(ago time.Duration) string { return now.Add(-ago).Format(time.RFC3339) }
	dir := t.TempDir()
	write := func(name string, lines ...string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// Consent: set, a JSON Lines file named after a customer, a CSV file
	// with a bad row; then read back.
	run(exitOK, "consent", "set", leakIDs[0], "personalization=granted", "in_store=granted", "--source", "web-form")
	var jsonl []string
	for _, id := range leakIDs[1:3] {
		for _, p := range []string{"personalization", "in_store"} {
			jsonl = append(jsonl, fmt.Sprintf(`{"customer":%q,"purpose":%q,"granted":true,"time":%q,"source":"crm"}`, id, p, at(72*time.Hour)))
		}
	}
	named = write(leakIDs[0]+".jsonl", jsonl...)
	run(exitOK, "consent", "import", named)
	run(exitOK, "consent", "import", "--max-errors", "1", write("consent.csv",
		"customer,purpose,granted,time,source",
		fmt.Sprintf("%s,personalization,true,%s,pos:store-01", leakIDs[3], at(48*time.Hour)),
		fmt.Sprintf("%s,in_store,TRUE,%s,pos:store-01", leakIDs[3], at(48*time.Hour)),
		fmt.Sprintf("%s,in_store,maybe,%s,pos:store-01", leakIDs[0], at(48*time.Hour)), // bad: reported
	))
	for _, id := range leakIDs {
		run(exitOK, "consent", "get", id)
		run(exitOK, "consent", "get", "--json", id)
	}

	// Events: a JSON Lines file and a CSV file, each with a bad row.
	var events, csv []string
	csv = append(csv, "customer,item,type,store,time,quantity")
	for i, id := range leakIDs {
		for k := range 6 {
			events = append(events, fmt.Sprintf(`{"customer":%q,"item":%q,"type":"purchase","store":"store-01","time":%q}`, id, items[(i+k)%len(items)], at(time.Duration(10+k)*time.Hour)))
			csv = append(csv, fmt.Sprintf("%s,%s,view,,%s,1", id, items[(i+2*k)%len(items)], at(time.Duration(20+k)*time.Hour)))
		}
		events = append(events, fmt.Sprintf(`{"customer":%q,"type":"store_visit","store":"store-01","time":%q}`, id, at(30*time.Hour)))
	}
	events = append(events, fmt.Sprintf(`{"customer":%q,"item":"x","type":"refund","time":%q}`, leakIDs[1], at(time.Hour)))
	csv = append(csv, fmt.Sprintf("%s,x,view,,yesterday,1", leakIDs[2]))
	run(exitOK, "import", "--max-errors", "1", write("events.jsonl", events...))
	run(exitOK, "import", "--format", "csv", "--max-errors", "1", write("events.csv", csv...))

	// Releases and the ledger, private and not; the data-subject commands
	// and the audit trail.
	run(exitOK, "train", "--epsilon", "2", "--factors", "8")
	run(exitOK, "train", "--epsilon", "inf", "--factors", "8")
	for _, id := range leakIDs {
		run(exitOK, "export", id)
	}
	run(exitOK, "forget", leakIDs[0]) // deletes the non-private release
	run(exitOK, "consent", "set", leakIDs[0], "personalization=granted", "in_store=granted")
	for _, id := range leakIDs {
		run(exitOK, "audit", "--customer", id)
		run(exitOK, "audit", "--json", "--customer", id)
	}
	run(exitUsage, "apikey", "create", "--name", leakIDs[0], "--scope", "admin") // refused, not echoed
	token := tokenRE.FindString(run(exitOK, "apikey", "create", "--name", "leak-test", "--scope", "all"))

	// The server, over REST and gRPC.
	srv := (&serveEnv{t: t, data: c.data, key: c.key}).startServer("--log-level", "debug")
	stopped := false
	defer func() {
		if !stopped {
			srv.stop()
		}
	}()
	rest := func(bearer, method, path string, body any) (int, string) {
		t.Helper()
		var r io.Reader
		if body != nil {
			b, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			r = bytes.NewReader(b)
		}
		req, err := http.NewRequestWithContext(t.Context(), method, "http://"+srv.httpAddr+path, r)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	ok := func(want int, bearer, method, path string, body any) string {
		t.Helper()
		code, resp := rest(bearer, method, path, body)
		if code != want {
			t.Fatalf("%s %s = %d %s, want %d", method, path, code, resp, want)
		}
		return resp
	}
	now = time.Now().UTC().Truncate(time.Second)
	coupon := map[string]any{"item": items[0], "stores": []string{"store-01"}, "value": "-10%", "active": true,
		"valid_from": at(time.Hour), "valid_until": now.Add(24 * time.Hour).Format(time.RFC3339)}
	ok(200, token, "PUT", "/v1/coupons/LEAK-1", coupon)
	grant := []map[string]any{{"purpose": "personalization", "granted": true}, {"purpose": "in_store", "granted": true}}
	for i, id := range leakIDs {
		path := "/v1/customers/" + url.PathEscape(id)
		ok(200, token, "PUT", path+"/consent", map[string]any{"changes": grant})
		ok(200, token, "GET", path+"/consent", nil)
		ok(200, token, "POST", "/v1/customers:setConsent", map[string]any{"customer": id, "changes": []map[string]any{{"purpose": "in_store", "granted": true, "source": "app"}}})
		ok(200, token, "POST", "/v1/customers:getConsent", map[string]any{"customer": id})
		ok(200, token, "POST", "/v1/events", map[string]any{"events": []map[string]any{
			{"customer": id, "item": items[i], "type": "add_to_cart", "time": at(time.Minute)},
			{"customer": id, "item": "x", "type": "refund", "time": at(time.Minute)}, // invalid: reported
		}, "allow_partial": true})
	}
	ok(200, token, "POST", "/v1/models:train", map[string]any{"epsilon": 1})
	for i, id := range leakIDs {
		path := "/v1/customers/" + url.PathEscape(id)
		other := "/v1/customers/" + url.PathEscape(leakIDs[(i+1)%len(leakIDs)])
		ok(200, token, "GET", path+"/recommendations?limit=3", nil)
		ok(200, token, "POST", "/v1/customers:recommend", map[string]any{"customer": id, "limit": 3})
		ok(200, token, "POST", "/v1/stores/store-01/entries", map[string]any{"customer": id})
		var tok struct{ Token string }
		for _, mint := range []func() string{
			func() string { return ok(200, token, "POST", path+"/tokens", map[string]any{"ttl_seconds": 60}) },
			func() string {
				return ok(200, token, "POST", "/v1/customers:createToken", map[string]any{"customer": id, "ttl_seconds": 60})
			},
		} {
			if err := json.Unmarshal([]byte(mint()), &tok); err != nil || tok.Token == "" {
				t.Fatalf("customer token: %v", err)
			}
			ok(200, tok.Token, "GET", path+"/recommendations?limit=3", nil)
			ok(200, tok.Token, "POST", "/v1/stores/store-01/entries", map[string]any{"customer": id})
			ok(403, tok.Token, "GET", other+"/recommendations", nil) // another customer's
		}
		ok(200, token, "GET", path+":export", nil)
		ok(200, token, "POST", "/v1/customers:export", map[string]any{"customer": id})
		ok(200, token, "POST", "/v1/audit:search", map[string]any{"customer": id})
	}
	ok(200, token, "DELETE", "/v1/customers/"+url.PathEscape(leakIDs[1]), nil)
	ok(200, token, "POST", "/v1/customers:forget", map[string]any{"customer": leakIDs[2]})

	conn, err := grpc.NewClient(srv.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+token)
	consentSvc, events1 := discretv1.NewConsentServiceClient(conn), discretv1.NewEventServiceClient(conn)
	recs, stores, admin := discretv1.NewRecommendationServiceClient(conn), discretv1.NewStoreServiceClient(conn), discretv1.NewAdminServiceClient(conn)
	check := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("gRPC %s: %v", what, err)
		}
	}
	for i, id := range leakIDs {
		_, err = consentSvc.SetConsent(ctx, &discretv1.SetConsentRequest{Customer: id, Changes: []*discretv1.ConsentChange{
			{Purpose: "personalization", Granted: proto.Bool(true), Source: "grpc"}, {Purpose: "in_store", Granted: proto.Bool(true), Source: "grpc"},
		}})
		check("SetConsent", err)
		_, err = consentSvc.GetConsent(ctx, &discretv1.GetConsentRequest{Customer: id})
		check("GetConsent", err)
		_, err = events1.WriteEvents(ctx, &discretv1.WriteEventsRequest{Events: []*discretv1.Event{
			{Customer: id, Item: items[i+1], Type: "view", Time: at(2 * time.Minute)},
		}})
		check("WriteEvents", err)
		_, err = recs.Recommend(ctx, &discretv1.RecommendRequest{Customer: id, Limit: 3})
		check("Recommend", err)
		tok, err := recs.CreateCustomerToken(ctx, &discretv1.CreateCustomerTokenRequest{Customer: id})
		check("CreateCustomerToken", err)
		tctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+tok.GetToken())
		_, err = recs.Recommend(tctx, &discretv1.RecommendRequest{Customer: id, Limit: 3})
		check("Recommend with a customer token", err)
		_, err = stores.EnterStore(tctx, &discretv1.EnterStoreRequest{Store: "store-02", Customer: id})
		check("EnterStore", err)
		_, err = admin.ExportCustomer(ctx, &discretv1.ExportCustomerRequest{Customer: id})
		check("ExportCustomer", err)
		_, err = admin.SearchAuditEntries(ctx, &discretv1.SearchAuditEntriesRequest{Customer: id})
		check("SearchAuditEntries", err)
	}
	_, err = admin.ForgetCustomer(ctx, &discretv1.ForgetCustomerRequest{Customer: leakIDs[3]})
	check("ForgetCustomer", err)
	if code := srv.stop(); code != exitOK {
		t.Fatalf("serve = %d\n%s", code, srv.errOut)
	}
	stopped = true
	outputs = append(outputs, srv.out.String(), srv.errOut.String())
	run(exitOK, "forget", leakIDs[1]) // after the server's own erasures and training

	// What a leak would look like: each id as it is, lower-cased, and
	// escaped as in a URL.
	var needles []string
	for _, id := range leakIDs {
		for _, n := range []string{id, url.PathEscape(id), url.QueryEscape(id)} {
			needles = append(needles, strings.ToLower(n))
		}
	}
	leak := func(b []byte) string {
		low := bytes.ToLower(b)
		for _, n := range needles {
			if bytes.Contains(low, []byte(n)) {
				return n
			}
		}
		return ""
	}
	m, err := secret.Load(c.key)
	if err != nil {
		t.Fatal(err)
	}
	// Strings the store does hold, to show that the walk reads it all.
	canaries := map[string]bool{"leak-test": false, "LEAK-1": false, "synthetic": false}
	pairs := 0
	storetest.Walk(t, c.data, m.StorageKey(), func(k, v []byte) {
		pairs++
		for s := range canaries {
			canaries[s] = canaries[s] || bytes.Contains(k, []byte(s)) || bytes.Contains(v, []byte(s))
		}
		if n := leak(k); n != "" {
			t.Errorf("the store holds %q in the key %q", n, k)
		}
		if n := leak(v); n != "" {
			t.Errorf("the store holds %q in the value of key %q: %q", n, k, v)
		}
	})
	if pairs < 1000 {
		t.Errorf("walked %d keys; want the whole store (events, consent, releases, ledger, audit)", pairs)
	}
	for s, seen := range canaries {
		if !seen {
			t.Errorf("no key or value of the store holds %q (the API key's name, a coupon, the generated consent's source): the walk misses them", s)
		}
	}
	err = filepath.WalkDir(c.data, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if n := leak(b); n != "" {
			t.Errorf("%s holds %q", path, n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range outputs {
		if n := leak([]byte(out)); n != "" {
			t.Errorf("an output or log holds %q:\n%s", n, out)
		}
	}
}

// synthItems returns the item ids of the catalogue that discret gen wrote
// in dir.
func synthItems(t *testing.T, dir string) []string {
	t.Helper()
	ids, _, err := readCatalogue(filepath.Join(dir, synth.ItemsFile))
	if err != nil || len(ids) < len(leakIDs)+1 {
		t.Fatalf("items of %s: %d, %v", dir, len(ids), err)
	}
	return ids
}
