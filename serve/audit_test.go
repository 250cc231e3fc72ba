package serve_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/privacy"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
)

// TestAuditTrailOverTheAPI: each audited RPC leaves exactly one entry
// naming the API key that called it (its id and name, never its secret);
// a refused call (wrong scope, bad argument, unknown id, taken name)
// leaves none; ListAuditEntries and SearchAuditEntries list the trail,
// the latter with the customer in the body only; neither the trail nor
// the server log holds the customer's raw id or pseudonym.
func TestAuditTrailOverTheAPI(t *testing.T) {
	h := start(t, nil)
	ctx := t.Context()
	admin := h.tokens["admin"]
	adminID := h.keyID("key-admin")
	const customer = "audit.subject@example.fr"
	path := "/v1/customers/" + url.PathEscape(customer)
	setup, _, err := h.db.Audit(ctx, store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	step := func() { h.clock.Advance(time.Second) } // one second per call, so that entries sort as made

	// Refused calls first: none leaves an entry.
	refused := []struct {
		name, method, path, key, body string
		status                        int
	}{
		{"export, wrong scope", "GET", path + ":export", h.tokens["consent"], "", http.StatusForbidden},
		{"forget, wrong scope", "DELETE", path, h.tokens["recommend"], "", http.StatusForbidden},
		{"export, bad id", "GET", "/v1/customers/" + strings.Repeat("x", 300) + ":export", admin, "", http.StatusBadRequest},
		{"revoke, unknown id", "POST", "/v1/apikeys/zzzzzzzz:revoke", admin, "", http.StatusNotFound},
		{"create, taken name", "POST", "/v1/apikeys", admin, `{"name":"key-all","scopes":["events"]}`, http.StatusConflict},
		{"train, busy", "POST", "/v1/models:train", admin, `{"factors":13}`, http.StatusConflict},
		{"create, wrong scope", "POST", "/v1/apikeys", h.tokens["events"], `{"name":"n","scopes":["events"]}`, http.StatusForbidden},
	}
	for _, r := range refused {
		step()
		if got := h.rest(ctx, r.method, r.path, r.key, r.body); got.status != r.status {
			t.Errorf("%s: %s %s = %d %s, want %d", r.name, r.method, r.path, got.status, got.body, r.status)
		}
	}
	if got, _, _ := h.db.Audit(ctx, store.AuditQuery{}); len(got) != len(setup) {
		t.Fatalf("after refused calls, %d audit entries, want the %d of the set-up", len(got), len(setup))
	}

	// Audited calls.
	step()
	if r := h.rest(ctx, "PUT", path+"/consent", h.tokens["consent"], `{"changes":[{"purpose":"personalization","granted":true,"source":"app"}]}`); r.status != http.StatusOK {
		t.Fatalf("PUT consent = %d %s", r.status, r.body)
	}
	step()
	if r := h.rest(ctx, "GET", path+":export", admin, ""); r.status != http.StatusOK {
		t.Fatalf("export = %d %s", r.status, r.body)
	}
	step()
	var created struct {
		Key struct {
			ID string `json:"id"`
		} `json:"key"`
	}
	if r := h.rest(ctx, "POST", "/v1/apikeys", h.tokens["all"], `{"name":"pos-9","scopes":["recommend"]}`); r.status != http.StatusOK || json.Unmarshal(r.body, &created) != nil {
		t.Fatalf("create key = %d %s", r.status, r.body)
	}
	step()
	if r := h.rest(ctx, "POST", "/v1/apikeys/"+created.Key.ID+":revoke", admin, ""); r.status != http.StatusOK {
		t.Fatalf("revoke key = %d %s", r.status, r.body)
	}
	step()
	var forgot discretv1.ForgetCustomerResponse
	if st := h.invoke(ctx, discretv1.AdminService_ForgetCustomer_FullMethodName, admin, &discretv1.ForgetCustomerRequest{Customer: customer}, &forgot); st.Code() != codes.OK {
		t.Fatalf("ForgetCustomer = %v", st)
	}
	step()
	if r := h.rest(ctx, "POST", "/v1/models:train", admin, `{"epsilon":2}`); r.status != http.StatusOK {
		t.Fatalf("train = %d %s", r.status, r.body)
	}
	// The fake engine does not store releases: the store audits the
	// release made current under the actor the training run's context
	// carries, which must be the caller's key.
	h.eng.mu.Lock()
	actors := slices.Clone(h.eng.trainActors)
	h.eng.mu.Unlock()
	wantActor := store.AuditActor{Via: store.ViaAPI, KeyID: adminID, Name: "key-admin"}
	if len(actors) != 2 || actors[1] != wantActor {
		t.Errorf("training contexts' actors = %+v, want the busy run's and then %+v", actors, wantActor)
	}

	type entry struct {
		ID     string `json:"id"`
		Action string `json:"action"`
		Actor  struct {
			Via   string `json:"via"`
			KeyID string `json:"key_id"`
			Name  string `json:"name"`
		} `json:"actor"`
		Subject string            `json:"subject"`
		Object  string            `json:"object"`
		Counts  map[string]string `json:"counts"`
	}
	type page struct {
		Entries []entry `json:"entries"`
		Next    string  `json:"next_page_token"`
	}
	get := func(method, path, body string) page {
		t.Helper()
		r := h.rest(ctx, method, path, admin, body)
		var p page
		if r.status != http.StatusOK || json.Unmarshal(r.body, &p) != nil {
			t.Fatalf("%s %s %s = %d %s", method, path, body, r.status, r.body)
		}
		return p
	}
	all := get("GET", "/v1/audit?page_size=4", "")
	if len(all.Entries) != 4 || all.Next == "" {
		t.Fatalf("GET /v1/audit?page_size=4 = %+v, want 4 entries and a next page", all)
	}
	rest := get("GET", "/v1/audit?page_size=1000&page_token="+all.Next, "")
	if len(rest.Entries) != len(setup) || rest.Next != "" {
		t.Errorf("second page = %d entries, token %q; want the %d of the set-up, no token", len(rest.Entries), rest.Next, len(setup))
	}
	var actions []string
	for _, e := range all.Entries {
		actions = append(actions, e.Action)
		if e.Actor.Via != "api" || e.Actor.Name == "" || e.Actor.KeyID == "" {
			t.Errorf("entry %+v: want the API key's id and name as the actor", e)
		}
	}
	if want := []string{"forget", "apikey.revoke", "apikey.create", "export"}; !slices.Equal(actions, want) {
		t.Errorf("audit actions = %v, want %v", actions, want)
	}
	fg, rv, cr, ex := all.Entries[0], all.Entries[1], all.Entries[2], all.Entries[3]
	if fg.Actor.KeyID != adminID || cr.Actor.Name != "key-all" || rv.Object != created.Key.ID || cr.Object != created.Key.ID {
		t.Errorf("forget by %+v, create by %+v of %s, revoke of %s; want key-admin, key-all, %s twice", fg.Actor, cr.Actor, cr.Object, rv.Object, created.Key.ID)
	}
	if fg.Subject == "" || fg.Subject != ex.Subject || fg.Counts["consent"] != "1" || ex.Counts["consent"] != "1" {
		t.Errorf("forget %+v, export %+v: want one subject, one consent record each", fg, ex)
	}

	// Filters: the customer only in a body.
	byCustomer := get("POST", "/v1/audit:search", `{"customer":"`+customer+`","actions":["export","forget"]}`)
	if len(byCustomer.Entries) != 2 || byCustomer.Entries[0].ID != fg.ID || byCustomer.Entries[1].ID != ex.ID {
		t.Errorf("POST /v1/audit:search = %+v, want the forget and the export", byCustomer)
	}
	if other := get("POST", "/v1/audit:search", `{"customer":"someone.else@example.fr"}`); len(other.Entries) != 0 {
		t.Errorf("search for another customer = %+v, want none", other)
	}
	if got := get("GET", "/v1/audit?actions=apikey.revoke", ""); len(got.Entries) != 2 { // the set-up revoked one key too
		t.Errorf("GET /v1/audit?actions=apikey.revoke = %+v, want 2 entries", got)
	}
	for _, tt := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"GET", "/v1/audit?customer=" + url.QueryEscape(customer), "", http.StatusBadRequest, "unknown query parameter"},
		{"GET", "/v1/audit?actions=erase", "", http.StatusBadRequest, `actions[0]: unknown action \"erase\"`},
		{"GET", "/v1/audit?page_size=1001", "", http.StatusBadRequest, "page_size: must be 1-1000"},
		{"GET", "/v1/audit?page_token=abc", "", http.StatusBadRequest, "page_token: not a token of this listing"},
		{"GET", "/v1/audit?since=2035-01-02T00:00:00Z&until=2035-01-01T00:00:00Z", "", http.StatusBadRequest, "until: must be after since"},
		{"POST", "/v1/audit:search", `{"actions":["forget"]}`, http.StatusBadRequest, "customer: required"},
	} {
		r := h.rest(ctx, tt.method, tt.path, admin, tt.body)
		if r.status != tt.status || !strings.Contains(string(r.body), tt.want) || strings.Contains(string(r.body), customer) {
			t.Errorf("%s %s %s = %d %s, want %d containing %q, without the customer id", tt.method, tt.path, tt.body, r.status, r.body, tt.status, tt.want)
		}
	}

	// No raw id and no pseudonym in the trail or the log.
	c, err := privacy.ParseCustomerID(customer)
	if err != nil {
		t.Fatal(err)
	}
	p := h.ps.Pseudonymize(c)
	raw, _ := json.Marshal(all)
	logs := h.logs.String()
	for _, needle := range []string{customer, p.String()} {
		if strings.Contains(string(raw), needle) || strings.Contains(logs, needle) {
			t.Errorf("%q found in the audit listing or the server log", needle)
		}
	}
}

// TestExportAuditFieldOverREST: GET /v1/customers/{customer}:export has an
// "audit" field (an empty list before anything was recorded) listing the
// entries about the customer, oldest first, each with exactly its time,
// action and channel: neither the OS user of a command-line entry nor the
// name or id of an API key that acted; another customer's entries are
// not listed. TestExportAuditField checks the gRPC form.
func TestExportAuditFieldOverREST(t *testing.T) {
	h := start(t, nil)
	ctx := t.Context()
	admin := h.tokens["admin"]
	adminID := h.keyID("key-admin")
	const customer = "rest.export@example.fr"
	path := "/v1/customers/" + url.PathEscape(customer)
	c, err := privacy.ParseCustomerID(customer)
	if err != nil {
		t.Fatal(err)
	}
	type auditEntry struct {
		Time   time.Time `json:"time"`
		Action string    `json:"action"`
		Actor  string    `json:"actor"`
	}
	export := func() []auditEntry {
		t.Helper()
		r := h.rest(ctx, "GET", path+":export", admin, "")
		var body struct {
			Audit []map[string]json.RawMessage `json:"audit"`
		}
		if r.status != http.StatusOK || json.Unmarshal(r.body, &body) != nil {
			t.Fatalf("GET %s:export = %d %s", path, r.status, r.body)
		}
		if body.Audit == nil {
			t.Fatalf("GET %s:export = %s; want an audit field holding a list", path, r.body)
		}
		for _, needle := range []string{"dpo-alice", "key-admin", adminID} {
			if strings.Contains(string(r.body), needle) {
				t.Errorf("GET %s:export names %q, who acted:\n%s", path, needle, r.body)
			}
		}
		got := make([]auditEntry, len(body.Audit))
		for i, m := range body.Audit {
			raw, _ := json.Marshal(m)
			if keys := slices.Sorted(maps.Keys(m)); !slices.Equal(keys, []string{"action", "actor", "time"}) || json.Unmarshal(raw, &got[i]) != nil {
				t.Errorf("audit[%d] = %s, want exactly time, action and actor", i, raw)
			}
		}
		return got
	}

	if r := h.rest(ctx, "PUT", path+"/consent", h.tokens["consent"], `{"changes":[{"purpose":"personalization","granted":true,"source":"app"}]}`); r.status != http.StatusOK {
		t.Fatalf("PUT consent = %d %s", r.status, r.body)
	}
	tAPI := h.clock.Now().UTC().Truncate(time.Second)
	if got := export(); len(got) != 0 {
		t.Fatalf("first export: audit = %+v, want none", got)
	}
	// An export on the command line, and one of another customer.
	h.clock.Advance(time.Second)
	tCLI := h.clock.Now().UTC().Truncate(time.Second)
	cliCtx := store.WithAuditActor(ctx, store.AuditActor{Via: store.ViaCLI, Name: "dpo-alice"})
	for _, s := range []privacy.PseudoID{h.ps.Pseudonymize(c), {1: 1}} {
		if err := h.db.RecordAudit(cliCtx, store.AuditEntry{Action: store.AuditExport, Subject: store.SubjectOf(s)}); err != nil {
			t.Fatal(err)
		}
	}
	h.clock.Advance(time.Second)
	tForget := h.clock.Now().UTC().Truncate(time.Second)
	if r := h.rest(ctx, "DELETE", path, admin, ""); r.status != http.StatusOK {
		t.Fatalf("DELETE %s = %d %s", path, r.status, r.body)
	}
	h.clock.Advance(time.Second)
	want := []auditEntry{
		{tAPI, "export", "api"},
		{tCLI, "export", "cli"},
		{tForget, "forget", "api"},
	}
	if got := export(); !slices.EqualFunc(got, want, func(a, b auditEntry) bool { return a.Time.Equal(b.Time) && a.Action == b.Action && a.Actor == b.Actor }) {
		t.Errorf("export after an API export, a CLI export and an erasure: audit = %+v, want %+v", got, want)
	}
}
