package serve_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/serve/recommend"
)

// TestCustomerBodyRoutes: every method keyed by a customer has a second
// REST route, POST /v1/customers:VERB, that takes the customer's raw id in
// the body, so that it appears in no URL; it answers what the path route
// answers, a customer token is bound to its customer there too, a body
// without the customer is refused naming the field, and the logs name the
// route, never the id.
func TestCustomerBodyRoutes(t *testing.T) {
	h := start(t, nil)
	ctx := t.Context()
	all := h.tokens["all"]
	const id = "zq-body-route@example.com"
	esc := url.PathEscape(id)
	q := quote(id)

	// SetConsent by body; GetConsent by path and by body agree.
	if r := h.rest(ctx, "POST", "/v1/customers:setConsent", all, `{"customer":`+q+`,"changes":[{"purpose":"personalization","granted":true}]}`); r.status != http.StatusOK {
		t.Fatalf("POST /v1/customers:setConsent = %d %s", r.status, r.body)
	}
	if r := h.rest(ctx, "POST", "/v1/events", all, `{"events":[{"customer":`+q+`,"item":"SKU-1","type":"purchase","time":"`+eventTime+`"}]}`); r.status != http.StatusOK {
		t.Fatalf("POST /v1/events = %d %s", r.status, r.body)
	}
	byPath := h.rest(ctx, "GET", "/v1/customers/"+esc+"/consent", all, "")
	byBody := h.rest(ctx, "POST", "/v1/customers:getConsent", all, `{"customer":`+q+`}`)
	if byPath.status != http.StatusOK || byBody.status != http.StatusOK || string(byPath.body) != string(byBody.body) ||
		!strings.Contains(string(byBody.body), `"expressed":true`) {
		t.Errorf("consent by path = %d %s, by body = %d %s; want the same, with the grant", byPath.status, byPath.body, byBody.status, byBody.body)
	}

	// Recommend: the engine gets the same request from both routes.
	recs := func(method, path, body string) (restResponse, recommend.Request) {
		t.Helper()
		r := h.rest(ctx, method, path, all, body)
		h.eng.mu.Lock()
		defer h.eng.mu.Unlock()
		got := h.eng.lastRec
		h.eng.lastRec = recommend.Request{}
		return r, got
	}
	wantID, err := privacy.ParseCustomerID(id)
	if err != nil {
		t.Fatal(err)
	}
	pr, preq := recs("GET", "/v1/customers/"+esc+"/recommendations?limit=3&store=s1&exclude=SKU-1&exclude=SKU-2&exclude_purchased=false", "")
	br, breq := recs("POST", "/v1/customers:recommend", `{"customer":`+q+`,"limit":3,"store":"s1","exclude":["SKU-1","SKU-2"],"exclude_purchased":false}`)
	if pr.status != http.StatusOK || br.status != http.StatusOK || string(pr.body) != string(br.body) {
		t.Errorf("recommendations by path = %d %s, by body = %d %s; want the same", pr.status, pr.body, br.status, br.body)
	}
	if breq.Customer != wantID || breq.Limit != 3 || breq.Store != "s1" || !slices.Equal(breq.Exclude, []string{"SKU-1", "SKU-2"}) || breq.ExcludePurchased ||
		preq.Customer != breq.Customer || preq.Limit != breq.Limit || !slices.Equal(preq.Exclude, breq.Exclude) || preq.ExcludePurchased != breq.ExcludePurchased {
		t.Errorf("engine got %+v by path and %+v by body, want the same request for %s", preq, breq, id)
	}

	// Export by body holds the customer's event and consent.
	ex := h.rest(ctx, "POST", "/v1/customers:export", all, `{"customer":`+q+`}`)
	if ex.status != http.StatusOK || !strings.Contains(string(ex.body), `"SKU-1"`) || !strings.Contains(string(ex.body), `"personalization"`) {
		t.Errorf("POST /v1/customers:export = %d %s, want the event and the consent", ex.status, ex.body)
	}

	// A token minted by body works by body for its customer only.
	mint := h.rest(ctx, "POST", "/v1/customers:createToken", h.tokens["recommend"], `{"customer":`+q+`,"ttl_seconds":600}`)
	var tok struct {
		Token string `json:"token"`
	}
	if mint.status != http.StatusOK || json.Unmarshal(mint.body, &tok) != nil || !strings.HasPrefix(tok.Token, "dct_") {
		t.Fatalf("POST /v1/customers:createToken = %d %s, want a token", mint.status, mint.body)
	}
	for _, c := range []struct {
		path, body string
		want       int
	}{
		{"/v1/customers:recommend", `{"customer":` + q + `}`, http.StatusOK},
		{"/v1/customers:recommend", `{"customer":"zq-other@example.com"}`, http.StatusForbidden},
		{"/v1/customers:getConsent", `{"customer":` + q + `}`, http.StatusForbidden},
		{"/v1/customers:export", `{"customer":` + q + `}`, http.StatusForbidden},
		{"/v1/customers:forget", `{"customer":` + q + `}`, http.StatusForbidden},
		{"/v1/customers:createToken", `{"customer":` + q + `}`, http.StatusForbidden},
	} {
		if r := h.rest(ctx, "POST", c.path, tok.Token, c.body); r.status != c.want {
			t.Errorf("customer token: POST %s %s = %d %s, want %d", c.path, c.body, r.status, r.body, c.want)
		}
	}

	// Scopes are the method's, whichever route.
	if r := h.rest(ctx, "POST", "/v1/customers:forget", h.tokens["recommend"], `{"customer":`+q+`}`); r.status != http.StatusForbidden {
		t.Errorf("POST /v1/customers:forget with a recommend key = %d %s, want 403", r.status, r.body)
	}

	// A body without the customer is refused, naming the field; a query
	// parameter is not taken.
	for _, path := range []string{"/v1/customers:recommend", "/v1/customers:getConsent", "/v1/customers:setConsent", "/v1/customers:export", "/v1/customers:forget", "/v1/customers:createToken"} {
		r := h.rest(ctx, "POST", path, all, `{}`)
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `"customer`) {
			t.Errorf("POST %s {} = %d %s, want 400 naming customer", path, r.status, r.body)
		}
		r = h.rest(ctx, "POST", path+"?customer="+url.QueryEscape(id), all, `{"customer":`+q+`}`)
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "customer") {
			t.Errorf("POST %s?customer=… = %d %s, want 400 for the query parameter", path, r.status, r.body)
		}
	}

	// ForgetCustomer by body erases: the consent is gone.
	if r := h.rest(ctx, "POST", "/v1/customers:forget", all, `{"customer":`+q+`}`); r.status != http.StatusOK {
		t.Fatalf("POST /v1/customers:forget = %d %s", r.status, r.body)
	}
	if r := h.rest(ctx, "POST", "/v1/customers:getConsent", all, `{"customer":`+q+`}`); r.status != http.StatusOK || strings.Contains(string(r.body), `"expressed":true`) {
		t.Errorf("consent after forget = %d %s, want no choice expressed", r.status, r.body)
	}

	logs := h.logs.String()
	if strings.Contains(logs, "zq-body-route") || strings.Contains(logs, "zq-other") {
		t.Errorf("the logs hold a customer id:\n%s", logs)
	}
	for _, route := range []string{"POST /v1/customers:recommend", "POST /v1/customers:forget"} {
		if !strings.Contains(logs, route) {
			t.Errorf("the logs do not name route %q:\n%s", route, logs)
		}
	}
}
