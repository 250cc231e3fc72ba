package serve_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/store/storetest"
	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/serve"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/apierr"
	"github.com/prometheus/client_golang/prometheus"
)

// apiCall is one RPC with a valid request, over both transports.
type apiCall struct {
	name   string
	method string // full gRPC method
	scope  string // the key name (harness.tokens) whose scope it needs
	req    proto.Message
	resp   func() proto.Message
	// REST form.
	httpMethod, path, body string
	// ok is the code of a permitted call.
	ok codes.Code
}

var eventTime = storetest.Epoch.Add(-time.Hour).Format(time.RFC3339)

// apiCalls covers every RPC of the API (TestEveryRPCHasACall checks it).
var apiCalls = []apiCall{
	{"Recommend", discretv1.RecommendationService_Recommend_FullMethodName, "recommend",
		&discretv1.RecommendRequest{Customer: "c1"}, func() proto.Message { return &discretv1.RecommendResponse{} },
		"GET", "/v1/customers/c1/recommendations?limit=5", "", codes.OK},
	{"SimilarItems", discretv1.RecommendationService_SimilarItems_FullMethodName, "recommend",
		&discretv1.SimilarItemsRequest{Item: "SKU-1"}, func() proto.Message { return &discretv1.SimilarItemsResponse{} },
		"GET", "/v1/items/SKU-1/similar", "", codes.OK},
	{"PopularItems", discretv1.RecommendationService_PopularItems_FullMethodName, "recommend",
		&discretv1.PopularItemsRequest{}, func() proto.Message { return &discretv1.PopularItemsResponse{} },
		"GET", "/v1/popular?store=s1&limit=3", "", codes.OK},
	{"CreateCustomerToken", discretv1.RecommendationService_CreateCustomerToken_FullMethodName, "recommend",
		&discretv1.CreateCustomerTokenRequest{Customer: "c1", TtlSeconds: 60}, func() proto.Message { return &discretv1.CustomerToken{} },
		"POST", "/v1/customers/c1/tokens", `{"ttl_seconds":60}`, codes.OK},
	{"RevokeCustomerToken", discretv1.RecommendationService_RevokeCustomerToken_FullMethodName, "recommend",
		&discretv1.RevokeCustomerTokenRequest{Token: "dct_x"}, func() proto.Message { return &discretv1.RevokeCustomerTokenResponse{} },
		"POST", "/v1/tokens:revoke", `{"token":"dct_x"}`, codes.InvalidArgument},
	{"EnterStore", discretv1.StoreService_EnterStore_FullMethodName, "recommend",
		&discretv1.EnterStoreRequest{Store: "s1", Customer: "c1"}, func() proto.Message { return &discretv1.EnterStoreResponse{} },
		"POST", "/v1/stores/s1/entries", `{"customer":"c1"}`, codes.OK},
	{"WriteEvents", discretv1.EventService_WriteEvents_FullMethodName, "events",
		&discretv1.WriteEventsRequest{Events: []*discretv1.Event{{Customer: "c1", Item: "SKU-1", Type: "view", Time: eventTime}}},
		func() proto.Message { return &discretv1.WriteEventsResponse{} },
		"POST", "/v1/events", `{"events":[{"customer":"c1","item":"SKU-1","type":"view","time":"` + eventTime + `"}]}`, codes.OK},
	{"GetConsent", discretv1.ConsentService_GetConsent_FullMethodName, "consent",
		&discretv1.GetConsentRequest{Customer: "c1"}, func() proto.Message { return &discretv1.ConsentState{} },
		"GET", "/v1/customers/c1/consent", "", codes.OK},
	{"SetConsent", discretv1.ConsentService_SetConsent_FullMethodName, "consent",
		&discretv1.SetConsentRequest{Customer: "c1", Changes: []*discretv1.ConsentChange{{Purpose: "personalization", Granted: proto.Bool(true)}}},
		func() proto.Message { return &discretv1.SetConsentResponse{} },
		"PUT", "/v1/customers/c1/consent", `{"changes":[{"purpose":"personalization","granted":true}]}`, codes.OK},
	{"ExportCustomer", discretv1.AdminService_ExportCustomer_FullMethodName, "admin",
		&discretv1.ExportCustomerRequest{Customer: "c1"}, func() proto.Message { return &discretv1.ExportCustomerResponse{} },
		"GET", "/v1/customers/c1:export", "", codes.OK},
	{"ForgetCustomer", discretv1.AdminService_ForgetCustomer_FullMethodName, "admin",
		&discretv1.ForgetCustomerRequest{Customer: "c1"}, func() proto.Message { return &discretv1.ForgetCustomerResponse{} },
		"DELETE", "/v1/customers/c1", "", codes.OK},
	{"UpsertItem", discretv1.AdminService_UpsertItem_FullMethodName, "admin",
		&discretv1.UpsertItemRequest{Item: "SKU-1", Category: "shoes", Active: proto.Bool(true)}, func() proto.Message { return &discretv1.Item{} },
		"PUT", "/v1/items/SKU-1", `{"category":"shoes","active":true}`, codes.OK},
	{"UpsertCoupon", discretv1.AdminService_UpsertCoupon_FullMethodName, "admin",
		&discretv1.UpsertCouponRequest{Coupon: "C1", Item: "SKU-1", Stores: []string{"s1"}, Value: "-20%",
			ValidFrom: timestamppb.New(storetest.Epoch), ValidUntil: timestamppb.New(storetest.Epoch.Add(time.Hour)), Active: proto.Bool(true)},
		func() proto.Message { return &discretv1.Coupon{} },
		"PUT", "/v1/coupons/C1", `{"item":"SKU-1","stores":["s1"],"value":"-20%","valid_from":"2035-01-01T00:00:00Z","valid_until":"2035-01-01T01:00:00Z","active":true}`, codes.OK},
	{"GetCurrentModel", discretv1.AdminService_GetCurrentModel_FullMethodName, "admin",
		&discretv1.GetCurrentModelRequest{}, func() proto.Message { return &discretv1.ModelCard{} },
		"GET", "/v1/models/current", "", codes.OK},
	{"TrainModel", discretv1.AdminService_TrainModel_FullMethodName, "admin",
		&discretv1.TrainModelRequest{}, func() proto.Message { return &discretv1.ModelCard{} },
		"POST", "/v1/models:train", `{"epsilon":2,"factors":16}`, codes.OK},
	// The API-key calls leave the harness's keys as they are: the name is
	// taken, the id unknown (TestAPIKeysOverTheAPI creates and revokes).
	{"CreateApiKey", discretv1.AdminService_CreateApiKey_FullMethodName, "admin",
		&discretv1.CreateApiKeyRequest{Name: "key-all", Scopes: []string{"recommend"}}, func() proto.Message { return &discretv1.CreateApiKeyResponse{} },
		"POST", "/v1/apikeys", `{"name":"key-all","scopes":["recommend"]}`, codes.AlreadyExists},
	{"ListApiKeys", discretv1.AdminService_ListApiKeys_FullMethodName, "admin",
		&discretv1.ListApiKeysRequest{}, func() proto.Message { return &discretv1.ListApiKeysResponse{} },
		"GET", "/v1/apikeys", "", codes.OK},
	{"RevokeApiKey", discretv1.AdminService_RevokeApiKey_FullMethodName, "admin",
		&discretv1.RevokeApiKeyRequest{Id: "zzzzzzzz"}, func() proto.Message { return &discretv1.ApiKey{} },
		"POST", "/v1/apikeys/zzzzzzzz:revoke", "", codes.NotFound},
	{"ListAuditEntries", discretv1.AdminService_ListAuditEntries_FullMethodName, "admin",
		&discretv1.ListAuditEntriesRequest{Actions: []string{"forget"}, PageSize: 10}, func() proto.Message { return &discretv1.ListAuditEntriesResponse{} },
		"GET", "/v1/audit?actions=forget&page_size=10", "", codes.OK},
	{"SearchAuditEntries", discretv1.AdminService_SearchAuditEntries_FullMethodName, "admin",
		&discretv1.SearchAuditEntriesRequest{Customer: "c1"}, func() proto.Message { return &discretv1.ListAuditEntriesResponse{} },
		"POST", "/v1/audit:search", `{"customer":"c1"}`, codes.OK},
}

func TestEveryRPCHasACall(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range apiCalls {
		covered[c.method] = true
	}
	services := discretv1.File_discret_v1_discret_proto.Services()
	for i := range services.Len() {
		methods := services.Get(i).Methods()
		for j := range methods.Len() {
			full := "/" + string(services.Get(i).FullName()) + "/" + string(methods.Get(j).Name())
			if !covered[full] {
				t.Errorf("%s has no entry in apiCalls: add one so that its scopes are tested", full)
			}
		}
	}
}

// TestEveryRPCEveryScope calls every RPC with every kind of key, over gRPC
// and over REST: only a key with the RPC's scope gets through; no key, a
// bad key and a revoked key are unauthenticated. A customer token bound to
// the calls' customer (c1) gets through on the five methods open to it
// only.
func TestEveryRPCEveryScope(t *testing.T) {
	h := start(t, nil)
	var ct discretv1.CustomerToken
	if st := h.invoke(t.Context(), discretv1.RecommendationService_CreateCustomerToken_FullMethodName, h.tokens["recommend"],
		&discretv1.CreateCustomerTokenRequest{Customer: "c1"}, &ct); st.Code() != codes.OK {
		t.Fatalf("CreateCustomerToken = %v", st)
	}
	tokenMethods := map[string]bool{"Recommend": true, "SimilarItems": true, "PopularItems": true, "EnterStore": true, "RevokeCustomerToken": true}
	keys := append([]string{"none", "bad", "customer-token"}, keyNames...)
	for _, c := range apiCalls {
		for _, k := range keys {
			token := h.tokens[k]
			want := codes.PermissionDenied
			switch {
			case k == "none" || k == "bad" || k == "revoked":
				want = codes.Unauthenticated
			case k == c.scope || k == "all" || k == "customer-token" && tokenMethods[c.name]:
				want = c.ok
			}
			switch k {
			case "bad":
				token = "dsk_aaaaaaaa_" + strings.Repeat("b", 52)
			case "customer-token":
				token = ct.GetToken()
			}
			t.Run(c.name+"/grpc/"+k, func(t *testing.T) {
				st := h.invoke(t.Context(), c.method, token, c.req, c.resp())
				if st.Code() != want {
					t.Errorf("%s with key %s over gRPC = %v %q, want %v", c.name, k, st.Code(), st.Message(), want)
				}
			})
			t.Run(c.name+"/rest/"+k, func(t *testing.T) {
				r := h.rest(t.Context(), c.httpMethod, c.path, token, c.body)
				if wantHTTP := httpStatus(want); r.status != wantHTTP {
					t.Errorf("%s %s with key %s = %d %s, want %d", c.httpMethod, c.path, k, r.status, r.body, wantHTTP)
				}
				if want == codes.Unauthenticated && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("401 without a Bearer challenge: WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
				}
			})
		}
	}
}

func httpStatus(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.InvalidArgument:
		return http.StatusBadRequest
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists:
		return http.StatusConflict
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	}
	panic(c)
}

// TestRESTWithholdsEmail checks that a name or value of a request that
// looks like an e-mail address (a customer id in the wrong place) is never
// echoed, where other names and values are quoted.
func TestRESTWithholdsEmail(t *testing.T) {
	h := start(t, nil)
	all := h.tokens["all"]
	const (
		name  = "(a name withheld: it looks like an e-mail address)"
		value = "(a value withheld: it looks like an e-mail address)"
	)
	for _, tt := range []struct {
		name, method, path, body string
		status                   int
		msg, field               string
	}{
		{"body key", "POST", "/v1/events", `{"events":[],"alice@example.com":1}`, 400,
			name + ": unknown field (the fields are events, allow_partial)", name},
		{"nested body key", "POST", "/v1/events", `{"events":[{"customer":"c1","type":"view","item":"i","time":"1","alice@example.com":"x"}]}`, 400,
			"events[0]." + name + ": unknown field (the fields are customer, item, type, store, time, quantity)", "events[0]." + name},
		{"long body key", "POST", "/v1/events", `{"a.very.long.customer.id.of.many.bytes@example.com":1}`, 400, name + ": unknown field", name},
		{"query name", "GET", "/v1/popular?alice@example.com=1", "", 400, "unknown query parameter " + name + ": GET /v1/popular takes store, limit, category", ""},
		{"query value", "GET", "/v1/popular?limit=alice@example.com", "", 400, `query parameter "limit": ` + value + " is not a whole number", ""},
		{"bool query value", "GET", "/v1/customers/c1/recommendations?exclude_purchased=alice@example.com", "", 400, `query parameter "exclude_purchased": ` + value + " is not true or false", ""},
		{"revoke id", "POST", "/v1/apikeys/alice@example.com:revoke", "", 404, "no API key with id " + name, ""},
	} {
		r := h.rest(t.Context(), tt.method, tt.path, all, tt.body)
		if r.status != tt.status || strings.Contains(string(r.body), "alice") || strings.Contains(string(r.body), "example.com") {
			t.Errorf("%s: %s %s = %d %s, want %d without the address", tt.name, tt.method, tt.path, r.status, r.body, tt.status)
			continue
		}
		m := r.json(t)
		if !strings.Contains(fmt.Sprint(m["message"]), tt.msg) {
			t.Errorf("%s: message %q, want it to contain %q", tt.name, m["message"], tt.msg)
		}
		if tt.field == "" {
			continue
		}
		var st spb.Status
		if err := protojson.Unmarshal(r.body, &st); err != nil || len(st.GetDetails()) != 1 {
			t.Errorf("%s: body %s (%v), want one detail", tt.name, r.body, err)
			continue
		}
		var br errdetails.BadRequest
		if err := st.GetDetails()[0].UnmarshalTo(&br); err != nil || len(br.GetFieldViolations()) != 1 || br.GetFieldViolations()[0].GetField() != tt.field {
			t.Errorf("%s: detail %v (%v), want a BadRequest naming field %s", tt.name, st.GetDetails()[0], err, tt.field)
		}
	}
}

// TestRESTErrors checks that REST errors carry the HTTP status of their
// code and a JSON body whose message names the field and the range.
func TestRESTErrors(t *testing.T) {
	h := start(t, nil)
	all := h.tokens["all"]
	if r := h.rest(t.Context(), "PUT", "/v1/customers/kept/consent", all, `{"changes":[{"purpose":"personalization","granted":true}]}`); r.status != 200 {
		t.Fatalf("PUT consent: %d %s", r.status, r.body)
	}
	for _, tt := range []struct {
		name, method, path, body string
		status                   int
		code                     codes.Code
		msg                      string
	}{
		{"limit out of range", "GET", "/v1/customers/c1/recommendations?limit=500", "", 400, codes.InvalidArgument, "limit: must be 1-100 (0 means 10), got 500"},
		{"bad limit type", "GET", "/v1/popular?limit=many", "", 400, codes.InvalidArgument, `query parameter "limit": "many" is not a whole number`},
		{"limit overflow", "GET", "/v1/items/SKU-1/similar?limit=99999999999", "", 400, codes.InvalidArgument, `query parameter "limit": "99999999999" is out of range`},
		{"bad time", "GET", "/v1/audit?since=30d", "", 400, codes.InvalidArgument, `query parameter "since": "30d" is not an RFC 3339 time such as 2026-11-01T00:00:00Z`},
		{"bad bool", "GET", "/v1/customers/c1/recommendations?exclude_purchased=maybe", "", 400, codes.InvalidArgument, `query parameter "exclude_purchased": "maybe" is not true or false`},
		{"misspelt parameter", "GET", "/v1/customers/c1/recommendations?categroy=shoes", "", 400, codes.InvalidArgument,
			`unknown query parameter "categroy": GET /v1/customers/{customer}/recommendations takes limit, store, category, exclude, exclude_purchased`},
		{"JSON name", "GET", "/v1/customers/c1/recommendations?excludePurchased=false", "", 400, codes.InvalidArgument, `unknown query parameter "excludePurchased"`},
		{"path parameter in query", "GET", "/v1/customers/c1/recommendations?customer=c2", "", 400, codes.InvalidArgument,
			`query parameter "customer": customer is given in the path of GET /v1/customers/{customer}/recommendations`},
		{"erase with a parameter", "DELETE", "/v1/customers/kept?dry_run=true", "", 400, codes.InvalidArgument,
			`unknown query parameter "dry_run": DELETE /v1/customers/{customer} takes no query parameters`},
		// protobuf's messages vary their spaces on purpose: match the ends.
		{"unknown field", "POST", "/v1/events", `{"eventz":[]}`, 400, codes.InvalidArgument, "eventz: unknown field (the fields are events, allow_partial)"},
		{"malformed JSON", "PUT", "/v1/customers/c1/consent", `{"changes":[`, 400, codes.InvalidArgument, "request body: not JSON: unexpected EOF"},
		{"not JSON", "POST", "/v1/events", `garbage`, 400, codes.InvalidArgument, "request body: not JSON: invalid character 'g' looking for beginning of value, at byte 1"},
		{"wrong type", "POST", "/v1/models:train", `{"epsilon":"abc"}`, 400, codes.InvalidArgument, "epsilon: want a number"},
		{"training in progress", "POST", "/v1/models:train", fmt.Sprintf(`{"factors":%d}`, busyFactors), 409, codes.Aborted, "a training run is already in progress; retry"},
		{"bad purpose", "PUT", "/v1/customers/c1/consent", `{"changes":[{"purpose":"spam"}]}`, 400, codes.InvalidArgument, "changes[0].purpose: want personalization or in_store"},
		// Absent is not false: a forgotten field must not erase anyone.
		{"granted missing", "PUT", "/v1/customers/c1/consent", `{"changes":[{"purpose":"personalization"}]}`, 400, codes.InvalidArgument, "changes[0].granted: required"},
		{"no route", "GET", "/v1/nowhere", "", 404, codes.NotFound, ""},
		// Not UTF-8 once unescaped: the gateway cannot marshal it (was 500).
		{"path not UTF-8", "GET", "/v1/customers/%FF%FE/recommendations", "", 400, codes.InvalidArgument, "path: not valid UTF-8"},
		{"erase path not UTF-8", "DELETE", "/v1/customers/a%FF", "", 400, codes.InvalidArgument, "path: not valid UTF-8"},
		{"query not UTF-8", "GET", "/v1/popular?limit=3&store=%FF", "", 400, codes.InvalidArgument, "store: not valid UTF-8"},
		{"exclude not UTF-8", "GET", "/v1/customers/c1/recommendations?exclude=a&exclude=%C3", "", 400, codes.InvalidArgument, "exclude: not valid UTF-8"},
		{"wrong method", "PATCH", "/v1/events", "", 405, codes.Unimplemented, ""},
		// The gateway ignored these bodies, or their second half.
		{"body on a route without one", "DELETE", "/v1/customers/kept", `{"customer":"other"}`, 400, codes.InvalidArgument,
			"request body: DELETE /v1/customers/{customer} takes none (its parameters are in the path and the query)"},
		{"body on revoke", "POST", "/v1/apikeys/zzzzzzzz:revoke", `{"id":"other"}`, 400, codes.InvalidArgument, "request body: POST /v1/apikeys/{id}:revoke takes none"},
		{"second object", "POST", "/v1/events", `{"events":[]} {"events":[{"customer":"x","type":"bogus"}]}`, 400, codes.InvalidArgument,
			"request body: data after the JSON object that ends at byte 13: send one object per request"},
		{"second object after a path body", "POST", "/v1/stores/s1/entries", `{"customer":"c1"}{"x":1}`, 400, codes.InvalidArgument, "data after the JSON object"},
	} {
		r := h.rest(t.Context(), tt.method, tt.path, all, tt.body)
		if r.status != tt.status {
			t.Errorf("%s: %s %s = %d %s, want %d", tt.name, tt.method, tt.path, r.status, r.body, tt.status)
			continue
		}
		m := r.json(t)
		if code, _ := m["code"].(float64); codes.Code(code) != tt.code || !strings.Contains(fmt.Sprint(m["message"]), tt.msg) {
			t.Errorf("%s: body %s, want code %v and a message containing %q", tt.name, r.body, tt.code, tt.msg)
		}
		// Every 400 names its field in a google.rpc.BadRequest detail.
		if tt.status == 400 && restBadRequestField(t, r.body) == "" {
			t.Errorf("%s: body %s, want a BadRequest detail naming a field", tt.name, r.body)
		}
	}
	// The refused DELETE erased nothing.
	var kept discretv1.ConsentState
	if r := h.rest(t.Context(), "GET", "/v1/customers/kept/consent", all, ""); r.status != 200 || protojson.Unmarshal(r.body, &kept) != nil || len(kept.GetHistory()) != 1 {
		t.Errorf("consent of kept after DELETE ?dry_run=true: %d %s, want its history still there", r.status, r.body)
	}
	// An empty body is an empty request, not a decoding error.
	if r := h.rest(t.Context(), "POST", "/v1/events", all, ""); r.status != 200 {
		t.Errorf("POST /v1/events with no body = %d %s, want 200", r.status, r.body)
	}
	// White space after the object is not data.
	if r := h.rest(t.Context(), "POST", "/v1/events", all, "{\"events\":[]}\r\n\n"); r.status != 200 {
		t.Errorf("POST /v1/events with a new line after the object = %d %s, want 200", r.status, r.body)
	}
	// An invalid argument names its field in a BadRequest detail too.
	r := h.rest(t.Context(), "GET", "/v1/items/SKU-1/similar?limit=101", all, "")
	if !strings.Contains(string(r.body), `"field":"limit"`) && !strings.Contains(string(r.body), `"field": "limit"`) {
		t.Errorf("similar?limit=101 body %s, want a BadRequest field violation on limit", r.body)
	}
}

// TestRESTBodyErrors: a body that does not decode is refused as every
// other bad request is, with the path of the field at fault in the message
// and in a BadRequest detail, never with protojson's "proto: (line 1:20):
// invalid value for string field time: 5", and never echoing a value.
func TestRESTBodyErrors(t *testing.T) {
	h := start(t, nil)
	all := h.tokens["all"]
	const event = "customer, item, type, store, time, quantity"
	const rfc3339 = `an RFC 3339 time in a JSON string, such as "2026-11-24T10:00:00Z" (years 1 to 9999)`
	for _, tt := range []struct {
		method, path, body string
		field              string // in the BadRequest detail; "" for none
		msg                string
	}{
		{"POST", "/v1/events", `{"events":[{"time":5}]}`, "events[0].time", "events[0].time: want a JSON string, got a number"},
		{"POST", "/v1/events", `{"events":[{"customer":"demo@example.com","quantity":"x"}]}`, "events[0].quantity", "events[0].quantity: want a whole number from -2147483648 to 2147483647"},
		{"POST", "/v1/events", `{"events":[{"customer":"a"},{"bogus":1}]}`, "events[1].bogus", "events[1].bogus: unknown field (the fields are " + event + ")"},
		{"POST", "/v1/events", `{"events":[{},null]}`, "events[1]", "events[1]: want an object (fields: " + event + "), got null"},
		{"POST", "/v1/events", `{"events":"x"}`, "events", "events: want a JSON array, each element an object (fields: " + event + "); got a string"},
		{"POST", "/v1/events", `{"events":[],"events":[]}`, "events", "events: given more than once"},
		{"POST", "/v1/events", `{"allowPartial":true,"allow_partial":false}`, "allow_partial", "allow_partial: given more than once"},
		{"POST", "/v1/events", `{"allow_partial":"true"}`, "allow_partial", "allow_partial: want true or false, got a string"},
		{"POST", "/v1/events", `[{"events":[]}]`, "body", "request body: want a JSON object (fields: events, allow_partial), got an array"},
		{"POST", "/v1/events", `{"events":[{"customer":"a"`, "body", "request body: not JSON: unexpected EOF"},
		{"POST", "/v1/customers/c1/tokens", `{"limit":"abc"}`, "limit", "limit: unknown field (the fields are customer, ttl_seconds)"},
		{"POST", "/v1/stores/s1/entries", `{"customer":"a\ud800"}`, "customer", "customer: want a JSON string of Unicode text"},
		{"PUT", "/v1/customers/c1/consent", `{"changes":[{"purpose":"in_store","granted":true,"time":"yesterday"}]}`, "changes[0].time", "changes[0].time: want " + rfc3339},
		{"PUT", "/v1/customers/c1/consent", `{"changes":[{"granted":1}]}`, "changes[0].granted", "changes[0].granted: want true or false, got a number"},
		{"PUT", "/v1/coupons/C1", `{"valid_from":{}}`, "valid_from", "valid_from: want " + rfc3339 + ", got an object"},
		{"POST", "/v1/models:train", `{"factors":1.5}`, "factors", "factors: want a whole number from -2147483648 to 2147483647"},
		{"POST", "/v1/apikeys", `{"name":"x","scopes":"admin"}`, "scopes", "scopes: want a JSON array, each element a JSON string; got a string"},
	} {
		r := h.rest(t.Context(), tt.method, tt.path, all, tt.body)
		var st struct {
			Code    codes.Code `json:"code"`
			Message string     `json:"message"`
			Details []struct {
				Type       string `json:"@type"`
				Violations []struct {
					Field, Description string
				} `json:"field_violations"`
			} `json:"details"`
		}
		if r.status != http.StatusBadRequest || json.Unmarshal(r.body, &st) != nil || st.Code != codes.InvalidArgument || st.Message != tt.msg {
			t.Errorf("%s %s %s = %d %s, want 400 with message %q", tt.method, tt.path, tt.body, r.status, r.body, tt.msg)
			continue
		}
		var fields []string
		for _, d := range st.Details {
			for _, v := range d.Violations {
				fields = append(fields, v.Field)
			}
		}
		if want := []string{tt.field}; tt.field == "" && len(fields) != 0 || tt.field != "" && !slices.Equal(fields, want) {
			t.Errorf("%s %s %s: field violations %q, want %q", tt.method, tt.path, tt.body, fields, tt.field)
		}
		if strings.Contains(string(r.body), "proto:") || strings.Contains(string(r.body), "example.com") {
			t.Errorf("%s %s %s = %s: protojson's text or a value echoed", tt.method, tt.path, tt.body, r.body)
		}
	}
}

// TestContentEncoding: a gzip body (Content-Encoding: gzip) is decoded as
// the plain one would be, within MaxRequestBytes once decompressed; a body
// that does not decompress is 400 saying so, and an encoding other than
// gzip and identity is 415 naming those (it was decoded as JSON and
// refused as garbage). A request without a body is not concerned.
func TestContentEncoding(t *testing.T) {
	const limit = 2048
	h := start(t, func(c *serve.Config) { c.MaxRequestBytes = limit })
	events := h.tokens["events"]
	body := `{"events":[{"customer":"c1","item":"SKU-1","type":"view","time":"` + eventTime + `"}]}`
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(b); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	// Exactly the limit once decompressed, and one byte over it: white
	// space after the object is allowed.
	atLimit := []byte(body + strings.Repeat(" ", limit-len(body)))
	overLimit := append(slices.Clone(atLimit), ' ')
	for _, tt := range []struct {
		name     string
		encoding []string // Content-Encoding values
		body     []byte
		status   int
		msg      string // the error message contains it
	}{
		{"gzip", []string{"gzip"}, gz([]byte(body)), 200, ""},
		{"x-gzip, any case", []string{"X-GZip"}, gz([]byte(body)), 200, ""},
		{"identity", []string{"identity"}, []byte(body), 200, ""},
		{"identity and gzip", []string{"identity, gzip"}, gz([]byte(body)), 200, ""},
		{"gzip at the limit", []string{"gzip"}, gz(atLimit), 200, ""},
		{"gzip over the limit", []string{"gzip"}, gz(overLimit), 413, "request body larger than 2048 bytes once decompressed"},
		{"plain over the limit", nil, overLimit, 413, "request body larger than 2048 bytes"},
		{"not gzip", []string{"gzip"}, []byte(body), 400, "request body: Content-Encoding is gzip, but the body does not decompress: gzip: invalid header"},
		{"truncated gzip", []string{"gzip"}, gz([]byte(body))[:20], 400, "request body: Content-Encoding is gzip, but the body does not decompress: unexpected EOF"},
		{"corrupt checksum", []string{"gzip"}, func() []byte { b := gz([]byte(body)); b[len(b)-5] ^= 1; return b }(), 400, "does not decompress: gzip: invalid checksum"},
		{"brotli", []string{"br"}, []byte(body), 415, `Content-Encoding "br" is not supported: send the body as it is (identity), or compressed once with gzip (Content-Encoding: gzip)`},
		{"deflate", []string{"deflate"}, []byte(body), 415, `Content-Encoding "deflate" is not supported`},
		{"gzip twice", []string{"gzip", "gzip"}, gz(gz([]byte(body))), 415, `Content-Encoding "gzip" is not supported`},
	} {
		header := http.Header{"Content-Encoding": tt.encoding}
		r := h.restRaw(t.Context(), "POST", "/v1/events", events, tt.body, header)
		if r.status != tt.status {
			t.Errorf("%s: POST /v1/events = %d %s, want %d", tt.name, r.status, r.body, tt.status)
			continue
		}
		if tt.status == 200 {
			if m := r.json(t); m["received"] != float64(1) || m["stored"] != float64(1) && m["no_consent"] != float64(1) {
				t.Errorf("%s: POST /v1/events = %s, want the event received", tt.name, r.body)
			}
			continue
		}
		if m := r.json(t); !strings.Contains(fmt.Sprint(m["message"]), tt.msg) {
			t.Errorf("%s: POST /v1/events = %d %s, want a message containing %q", tt.name, r.status, r.body, tt.msg)
		}
		if tt.status == 400 && restBadRequestField(t, r.body) != "body" {
			t.Errorf("%s: 400 %s, want a BadRequest detail on the body", tt.name, r.body)
		}
		if tt.status == 415 && r.header.Get("Accept-Encoding") != "gzip" {
			t.Errorf("%s: 415 with Accept-Encoding %q, want gzip", tt.name, r.header.Get("Accept-Encoding"))
		}
	}
	// No body: no encoding to refuse.
	if r := h.restRaw(t.Context(), "GET", "/v1/popular", h.tokens["recommend"], nil, http.Header{"Content-Encoding": {"br"}}); r.status != 200 {
		t.Errorf("GET /v1/popular with Content-Encoding br and no body = %d %s, want 200", r.status, r.body)
	}
}

// TestMethodNotAllowed: a path that exists with other methods is 405 with
// an Allow header listing them (RFC 9110 requires it), for every route of
// the API and for paths that several routes match.
func TestMethodNotAllowed(t *testing.T) {
	h := start(t, nil)
	all := h.tokens["all"]
	for _, tt := range []struct{ method, path, allow string }{
		{"PATCH", "/v1/events", "POST"},
		{"GET", "/v1/events", "POST"},
		{"POST", "/v1/customers/c1/consent", "GET, PUT"},
		{"DELETE", "/v1/apikeys", "GET, POST"},
		{"GET", "/v1/apikeys/abc:revoke", "POST"},
		{"GET", "/v1/models:train", "POST"},
		{"POST", "/v1/customers/c1", "DELETE"},
		{"HEAD", "/v1/popular", "GET"},
		// A customer id may end in ":export": erasing it is DELETE.
		{"PUT", "/v1/customers/c1:export", "DELETE, GET"},
		{"POST", "/v1/customers/a%2Fb/recommendations", "GET"},
	} {
		r := h.rest(t.Context(), tt.method, tt.path, all, "")
		if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != tt.allow {
			t.Errorf("%s %s = %d with Allow %q (%s), want 405 with Allow %q", tt.method, tt.path, r.status, r.header.Get("Allow"), r.body, tt.allow)
		}
	}
	for _, c := range apiCalls {
		path, _, _ := strings.Cut(c.path, "?")
		r := h.rest(t.Context(), "OPTIONS", path, all, "")
		if r.status != http.StatusMethodNotAllowed || !slices.Contains(strings.Split(r.header.Get("Allow"), ", "), c.httpMethod) {
			t.Errorf("OPTIONS %s = %d with Allow %q, want 405 with %s allowed", path, r.status, r.header.Get("Allow"), c.httpMethod)
		}
	}
}

// TestRESTBodyAgreesWithPath: on the routes whose body is the whole
// request and whose path names a field, a body that sets that field to
// another value is refused with 400 naming the field (the gateway used to
// overwrite it with the path's silently); the same value, or none, is
// accepted and the body reaches the server intact. Neither the message nor
// the log gives the values: they may be customer ids.
func TestRESTBodyAgreesWithPath(t *testing.T) {
	h := start(t, nil)
	ctx := t.Context()
	all := h.tokens["all"]
	const consent = `"changes":[{"purpose":"personalization","granted":true}]`
	const coupon = `"item":"SKU-1","stores":["s1"],"value":"-20%","valid_from":"2035-01-01T00:00:00Z","valid_until":"2035-01-01T01:00:00Z"`
	for _, tt := range []struct {
		method, path, body string
		field              string // refused, naming it; "" if accepted
		writes             string // what reached the engine
	}{
		{"PUT", "/v1/customers/dup@example.com/consent", `{"customer":"other@example.com",` + consent + `}`, "customer", ""},
		{"PUT", "/v1/items/SKU-NEW2", `{"item":"SKU-OTHER","category":"shoes"}`, "item", ""},
		{"PUT", "/v1/coupons/C-NEW", `{"coupon":"C-OTHER",` + coupon + `}`, "coupon", ""},
		{"POST", "/v1/stores/s1/entries", `{"store":"s2","customer":"c1"}`, "store", ""},
		// The same value, unescaped as the path is.
		{"PUT", "/v1/customers/first%2Blast%40example.com/consent", `{"customer":"first+last@example.com",` + consent + `}`, "", ""},
		{"PUT", "/v1/customers/a%2Fb/consent", `{"customer":"a/b",` + consent + `}`, "", ""},
		{"PUT", "/v1/items/SKU-NEW2", `{"item":"SKU-NEW2","category":"shoes"}`, "", "item SKU-NEW2 shoes"},
		{"PUT", "/v1/coupons/C-NEW", `{"coupon":"C-NEW",` + coupon + `}`, "", "coupon C-NEW SKU-1"},
		{"POST", "/v1/stores/s1/entries", `{"store":"s1","customer":"c1"}`, "", "entry s1"},
		// Empty or absent.
		{"PUT", "/v1/items/SKU-NEW2", `{"item":"","category":"bags"}`, "", "item SKU-NEW2 bags"},
		{"POST", "/v1/stores/s1/entries", `{"customer":"c1"}`, "", "entry s1"},
	} {
		r := h.rest(ctx, tt.method, tt.path, all, tt.body)
		writes := strings.Join(h.eng.takeWrites(), ", ")
		if tt.field == "" {
			if r.status != 200 {
				t.Errorf("%s %s %s = %d %s, want 200", tt.method, tt.path, tt.body, r.status, r.body)
			}
			if writes != tt.writes {
				t.Errorf("%s %s %s: the engine got %q, want %q", tt.method, tt.path, tt.body, writes, tt.writes)
			}
			continue
		}
		m := r.json(t)
		msg := tt.field + ": the body's " + tt.field + " differs from the path's; leave it out of the body, or give the same value"
		if code, _ := m["code"].(float64); r.status != 400 || codes.Code(code) != codes.InvalidArgument || m["message"] != msg {
			t.Errorf("%s %s %s = %d %s, want 400 with code %d and message %q", tt.method, tt.path, tt.body, r.status, r.body, codes.InvalidArgument, msg)
		}
		if !strings.Contains(string(r.body), `"field":"`+tt.field+`"`) {
			t.Errorf("%s %s: body %s, want a BadRequest field violation on %s", tt.method, tt.path, r.body, tt.field)
		}
		if writes != "" {
			t.Errorf("%s %s %s: refused, yet the engine got %q", tt.method, tt.path, tt.body, writes)
		}
	}
	// Neither customer's consent changed.
	for _, c := range []string{"dup@example.com", "other@example.com"} {
		var st discretv1.ConsentState
		if s := h.invoke(ctx, discretv1.ConsentService_GetConsent_FullMethodName, all, &discretv1.GetConsentRequest{Customer: c}, &st); s.Code() != codes.OK || len(st.GetHistory()) != 0 {
			t.Errorf("consent of %s after a refused PUT: %v %v, want no history", c, s, &st)
		}
	}
	// The refused request is logged by route, without the ids.
	logs := h.logs.String()
	if !strings.Contains(logs, `"route":"PUT /v1/customers/{customer}/consent","status":400`) {
		t.Errorf("log %s: want the refused PUT by its route", logs)
	}
	for _, id := range []string{"dup@example.com", "other@example.com", "first+last", "SKU-OTHER"} {
		if strings.Contains(logs, id) {
			t.Errorf("log holds %q: %s", id, logs)
		}
	}
}

// TestEscapedCustomerIDs: customer ids with '/', '@', '+', ' ', ':' and
// '%' reach the API intact when escaped in the path.
func TestEscapedCustomerIDs(t *testing.T) {
	h := start(t, nil)
	ctx := t.Context()
	for _, id := range []string{"a/b", "x@example.com", "first+last@example.com", "with space", "colon:export", "100%", "/leading", "é/ü"} {
		path := "/v1/customers/" + url.PathEscape(id) + "/consent"
		r := h.rest(ctx, "PUT", path, h.tokens["consent"], `{"changes":[{"purpose":"in_store","granted":true,"source":"test"}]}`)
		if r.status != 200 {
			t.Errorf("PUT %s = %d %s", path, r.status, r.body)
			continue
		}
		// The same customer, over gRPC with the raw id.
		var st discretv1.ConsentState
		if s := h.invoke(ctx, discretv1.ConsentService_GetConsent_FullMethodName, h.tokens["consent"], &discretv1.GetConsentRequest{Customer: id}, &st); s.Code() != codes.OK {
			t.Fatalf("GetConsent(%q) = %v", id, s)
		}
		if !st.Purposes[1].Allowed || st.Purposes[1].Source != "test" {
			t.Errorf("customer %q: consent set over REST as %s is not what gRPC reads: %v", id, path, &st)
		}
		// Export and forget, whose paths end with the id.
		exp := h.rest(ctx, "GET", "/v1/customers/"+url.PathEscape(id)+":export", h.tokens["admin"], "")
		if exp.status != 200 || len(exp.json(t)["consent"].([]any)) != 1 {
			t.Errorf("export of %q = %d %s, want its consent change", id, exp.status, exp.body)
		}
		del := h.rest(ctx, "DELETE", "/v1/customers/"+url.PathEscape(id), h.tokens["admin"], "")
		if del.status != 200 || !strings.Contains(string(del.body), `"consent"`) {
			t.Errorf("DELETE %q = %d %s, want the consent record removed", id, del.status, del.body)
		}
	}
}

func TestRecommendQuery(t *testing.T) {
	h := start(t, nil)
	r := h.rest(t.Context(), "GET", "/v1/customers/c1/recommendations?limit=7&store=s1&category=shoes&exclude=a&exclude=b&exclude_purchased=false", h.tokens["recommend"], "")
	if r.status != 200 {
		t.Fatalf("recommendations = %d %s", r.status, r.body)
	}
	h.eng.mu.Lock()
	got := h.eng.lastRec
	h.eng.mu.Unlock()
	if got.Limit != 7 || got.Store != "s1" || got.Category != "shoes" || strings.Join(got.Exclude, ",") != "a,b" || got.ExcludePurchased {
		t.Errorf("engine got %+v from the query string", got)
	}
	m := r.json(t)
	if m["reason"] != "NON_PERSONALIZED_REASON_NO_CONSENT" || m["personalized"] != false || m["model_version"] != "v1" {
		t.Errorf("response %s: want snake_case fields with the reason", r.body)
	}
}

func TestRequestSize(t *testing.T) {
	const limit = 2000
	h := start(t, func(c *serve.Config) { c.MaxRequestBytes = limit })
	big := strings.Repeat("x", 200)
	var events []string
	var pb []*discretv1.Event
	for range 20 {
		events = append(events, `{"customer":"c1","item":"`+big+`","type":"view","time":"`+eventTime+`"}`)
		pb = append(pb, &discretv1.Event{Customer: "c1", Item: big, Type: "view", Time: eventTime})
	}
	body := `{"events":[` + strings.Join(events, ",") + `]}`
	r := h.rest(t.Context(), "POST", "/v1/events", h.tokens["events"], body)
	if r.status != http.StatusRequestEntityTooLarge || !strings.Contains(string(r.body), "larger than 2000 bytes") {
		t.Errorf("REST body of %d bytes = %d %s, want 413", len(body), r.status, r.body)
	}
	// Also where checkBody reads the body again.
	r = h.rest(t.Context(), "PUT", "/v1/items/SKU-1", h.tokens["admin"], `{"item":"SKU-2","category":"`+strings.Repeat("x", limit)+`"}`)
	if r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("REST body over the limit on PUT /v1/items/SKU-1 = %d %s, want 413", r.status, r.body)
	}
	// Without Content-Length (chunked).
	req, _ := http.NewRequestWithContext(t.Context(), "POST", baseURL+"/v1/events", struct{ *strings.Reader }{strings.NewReader(body)})
	req.Header.Set("Authorization", "Bearer "+h.tokens["events"])
	resp, err := h.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || req.ContentLength != 0 {
		t.Errorf("chunked REST body = %d, want 413", resp.StatusCode)
	}
	st := h.invoke(t.Context(), discretv1.EventService_WriteEvents_FullMethodName, h.tokens["events"], &discretv1.WriteEventsRequest{Events: pb}, &discretv1.WriteEventsResponse{})
	if st.Code() != codes.ResourceExhausted {
		t.Errorf("gRPC message of %d bytes = %v, want ResourceExhausted", proto.Size(&discretv1.WriteEventsRequest{Events: pb}), st)
	}
	// Within the limit, both pass.
	small := `{"events":[` + events[0] + `]}`
	if r := h.rest(t.Context(), "POST", "/v1/events", h.tokens["events"], small); r.status != 200 {
		t.Errorf("small REST body = %d %s", r.status, r.body)
	}
}

func TestRateLimit(t *testing.T) {
	h := start(t, func(c *serve.Config) { c.RateLimit, c.RateBurst = 1, 2 })
	call := func(key string) codes.Code {
		return h.invoke(t.Context(), discretv1.RecommendationService_PopularItems_FullMethodName, key, &discretv1.PopularItemsRequest{}, &discretv1.PopularItemsResponse{}).Code()
	}
	rec := h.tokens["recommend"]
	for i, want := range []codes.Code{codes.OK, codes.OK, codes.ResourceExhausted} {
		if got := call(rec); got != want {
			t.Errorf("call %d within the burst of 2 = %v, want %v", i+1, got, want)
		}
	}
	if r := h.rest(t.Context(), "GET", "/v1/popular", rec, ""); r.status != http.StatusTooManyRequests || !strings.Contains(string(r.body), "rate limit of 1 requests/s") ||
		!strings.Contains(string(r.body), "retry in 1 s") {
		t.Errorf("REST call over the limit = %d %s, want 429", r.status, r.body)
	} else if got := r.header.Get("Retry-After"); got != "1" {
		t.Errorf("REST 429 has Retry-After %q, want \"1\" (the wait, under 1 s, rounded up)", got)
	}
	// gRPC clients get the wait in a google.rpc.RetryInfo detail.
	st := h.invoke(t.Context(), discretv1.RecommendationService_PopularItems_FullMethodName, rec, &discretv1.PopularItemsRequest{}, &discretv1.PopularItemsResponse{})
	if d, ok := apierr.RetryDelay(st); st.Code() != codes.ResourceExhausted || !ok || d <= 0 || d > time.Second {
		t.Errorf("gRPC call over the limit = %v, RetryInfo %v, %v; want ResourceExhausted with a delay in (0, 1s]", st, d, ok)
	}
	// Other errors have none.
	if r := h.rest(t.Context(), "GET", "/v1/popular?limit=500", h.tokens["all"], ""); r.header.Get("Retry-After") != "" {
		t.Errorf("REST 400 has Retry-After %q, want none", r.header.Get("Retry-After"))
	}
	// Tokens come back at the rate.
	h.clock.Advance(time.Second)
	if got := call(rec); got != codes.OK {
		t.Errorf("call 1 s after the limit = %v, want OK", got)
	}
	if got := call(rec); got != codes.ResourceExhausted {
		t.Errorf("second call 1 s after the limit = %v, want ResourceExhausted", got)
	}
	// Another key has its own bucket.
	if got := call(h.tokens["all"]); got != codes.OK {
		t.Errorf("other key = %v, want OK", got)
	}
	// Unauthenticated calls do not drain the key's bucket, and are refused
	// as such.
	if got := call(""); got != codes.Unauthenticated {
		t.Errorf("no key = %v, want Unauthenticated", got)
	}
}

func TestDeadlines(t *testing.T) {
	h := start(t, func(c *serve.Config) { c.DefaultTimeout, c.MaxTimeout = 50*time.Millisecond, time.Second })
	similar := discretv1.RecommendationService_SimilarItems_FullMethodName
	rec := h.tokens["recommend"]
	block := &discretv1.SimilarItemsRequest{Item: blockItem}

	// No client deadline: the default applies.
	start := time.Now()
	st := h.invoke(t.Context(), similar, rec, block, &discretv1.SimilarItemsResponse{})
	if st.Code() != codes.DeadlineExceeded || time.Since(start) > 5*time.Second {
		t.Errorf("blocking call without deadline = %v after %v, want DeadlineExceeded after the 50 ms default", st, time.Since(start))
	}
	// Over REST too (504).
	if r := h.rest(t.Context(), "GET", "/v1/items/block/similar", rec, ""); r.status != http.StatusGatewayTimeout {
		t.Errorf("blocking REST call = %d %s, want 504", r.status, r.body)
	}
	// A client deadline beyond MaxTimeout is capped.
	ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
	defer cancel()
	st = h.invoke(ctx, similar, rec, block, &discretv1.SimilarItemsResponse{})
	h.eng.mu.Lock()
	deadlines := append([]time.Duration(nil), h.eng.deadlines...)
	h.eng.mu.Unlock()
	if st.Code() != codes.DeadlineExceeded || len(deadlines) != 3 {
		t.Fatalf("call with a 1 h deadline = %v (%d blocked calls seen), want DeadlineExceeded at the 1 s cap", st, len(deadlines))
	}
	if d := deadlines[0]; d <= 0 || d > 50*time.Millisecond {
		t.Errorf("default deadline seen by the handler = %v, want ≤ 50 ms", d)
	}
	if d := deadlines[2]; d <= 500*time.Millisecond || d > time.Second {
		t.Errorf("capped deadline seen by the handler = %v, want about 1 s", d)
	}
}

// TestGracefulShutdown: a request in flight when the shutdown starts is
// served; new requests are refused; Serve returns once it is done.
func TestGracefulShutdown(t *testing.T) {
	for _, transport := range []string{"grpc", "rest"} {
		t.Run(transport, func(t *testing.T) {
			h := start(t, func(c *serve.Config) { c.DefaultTimeout = time.Minute })
			result := make(chan string, 1)
			go func() {
				if transport == "grpc" {
					var resp discretv1.SimilarItemsResponse
					st := h.invoke(context.Background(), discretv1.RecommendationService_SimilarItems_FullMethodName, h.tokens["recommend"], &discretv1.SimilarItemsRequest{Item: blockItem}, &resp)
					result <- st.Code().String() + " " + fmt.Sprint(len(resp.Items))
					return
				}
				r := h.rest(context.Background(), "GET", "/v1/items/block/similar", h.tokens["recommend"], "")
				result <- fmt.Sprint(r.status) + " " + fmt.Sprint(len(r.json(t)["items"].([]any)))
			}()
			<-h.eng.entered
			h.cancel() // SIGTERM
			select {
			case err := <-h.done:
				t.Fatalf("Serve returned %v with a request in flight", err)
			case <-time.After(200 * time.Millisecond):
			}
			// Draining: not ready.
			var hr healthpb.HealthCheckResponse
			if st := h.invoke(t.Context(), "/grpc.health.v1.Health/Check", "", &healthpb.HealthCheckRequest{}, &hr); st.Code() == codes.OK && hr.Status == healthpb.HealthCheckResponse_SERVING {
				t.Errorf("health during the drain = SERVING, want NOT_SERVING or refused")
			}
			close(h.eng.release)
			want := "OK 1"
			if transport == "rest" {
				want = "200 1"
			}
			if got := <-result; got != want {
				t.Errorf("in-flight request = %q, want %q", got, want)
			}
			if err := h.stop(); err != nil {
				t.Errorf("Serve = %v, want nil", err)
			}
		})
	}
}

// TestShutdownTimeout: a request that outlives ShutdownTimeout is cancelled
// and Serve returns.
func TestShutdownTimeout(t *testing.T) {
	h := start(t, func(c *serve.Config) { c.DefaultTimeout, c.ShutdownTimeout = time.Minute, 100*time.Millisecond })
	result := make(chan codes.Code, 1)
	go func() {
		result <- h.invoke(context.Background(), discretv1.RecommendationService_SimilarItems_FullMethodName, h.tokens["recommend"], &discretv1.SimilarItemsRequest{Item: blockItem}, &discretv1.SimilarItemsResponse{}).Code()
	}()
	<-h.eng.entered
	begin := time.Now()
	if err := h.stop(); err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("shutdown took %v with a 100 ms timeout", d)
	}
	if c := <-result; c == codes.OK {
		t.Errorf("request cut by the shutdown = OK, want an error")
	}
	if !strings.Contains(h.logs.String(), "shutdown timeout") {
		t.Errorf("logs do not report the shutdown timeout:\n%s", h.logs)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	h := start(t, nil)
	ctx := t.Context()
	check := func(service string) healthpb.HealthCheckResponse_ServingStatus {
		var r healthpb.HealthCheckResponse
		if st := h.invoke(ctx, "/grpc.health.v1.Health/Check", "", &healthpb.HealthCheckRequest{Service: service}, &r); st.Code() != codes.OK {
			t.Fatalf("Health.Check(%q) = %v", service, st)
		}
		return r.Status
	}
	waitFor := func(service string, want healthpb.HealthCheckResponse_ServingStatus) {
		deadline := time.Now().Add(5 * time.Second)
		for check(service) != want {
			if time.Now().After(deadline) {
				t.Fatalf("Health.Check(%q) never became %v", service, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("", healthpb.HealthCheckResponse_SERVING)
	if r := h.rest(ctx, "GET", "/readyz", "", ""); r.status != 200 {
		t.Errorf("/readyz with a model = %d, want 200", r.status)
	}
	h.ready.set(false)
	if r := h.rest(ctx, "GET", "/readyz", "", ""); r.status != 503 || !strings.Contains(string(r.body), "no model") {
		t.Errorf("/readyz without a model = %d %s, want 503", r.status, r.body)
	}
	if r := h.rest(ctx, "GET", "/healthz", "", ""); r.status != 200 {
		t.Errorf("/healthz = %d, want 200 (alive even when not ready)", r.status)
	}
	waitFor(discretv1.RecommendationService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)
	if s := check(discretv1.EventService_ServiceDesc.ServiceName); s != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("EventService health without a model = %v, want SERVING (it needs none)", s)
	}
	if r := h.rest(ctx, "POST", "/healthz", "", ""); r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz = %d, want 405", r.status)
	}
	// An unknown route says so and where the routes are, without echoing
	// the path (it may hold a raw customer id).
	if r := h.rest(ctx, "GET", "/v1/customerz/alice@example.com", "", ""); r.status != http.StatusNotFound ||
		!strings.Contains(string(r.body), "openapi.json") || strings.Contains(string(r.body), "alice") {
		t.Errorf("GET on an unknown route = %d %s, want 404 pointing to /openapi.json", r.status, r.body)
	}
}

// TestMetricsRoutesBounded: the routes of the HTTP metric are a fixed set:
// a method that the endpoints outside the API refuse (405), whatever it
// is, counts as "unmatched", as on the API, and never makes a series of
// its own.
func TestMetricsRoutesBounded(t *testing.T) {
	h := start(t, nil)
	ctx := t.Context()
	methods := []string{"POST", "BREW", "X-" + strings.Repeat("M", 4000)}
	paths := []string{"/healthz", "/readyz", "/metrics", "/openapi.json"}
	for _, m := range methods {
		for _, p := range paths {
			if r := h.rest(ctx, m, p, "", ""); r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET, HEAD" {
				t.Errorf("%.10s %s = %d (Allow %q), want 405 (GET, HEAD)", m, p, r.status, r.header.Get("Allow"))
			}
		}
	}
	h.rest(ctx, "HEAD", "/healthz", "", "")
	r := h.rest(ctx, "GET", "/metrics", "", "")
	var routes []string
	for _, l := range strings.Split(string(r.body), "\n") {
		if rest, ok := strings.CutPrefix(l, `discret_http_request_duration_seconds_count{route="`); ok {
			routes = append(routes, rest)
		}
	}
	want := []string{
		`HEAD /healthz",status="200"} 1`,
		`unmatched",status="405"} ` + fmt.Sprint(len(methods)*len(paths)),
	}
	if !slices.Equal(routes, want) {
		t.Errorf("discret_http_request_duration_seconds_count series:\n%s\nwant\n%s", strings.Join(routes, "\n"), strings.Join(want, "\n"))
	}
}

func TestMetricsAndOpenAPI(t *testing.T) {
	h := start(t, nil)
	ctx := t.Context()
	h.rest(ctx, "GET", "/v1/popular", h.tokens["recommend"], "")
	h.invoke(ctx, discretv1.RecommendationService_PopularItems_FullMethodName, "", &discretv1.PopularItemsRequest{}, &discretv1.PopularItemsResponse{})
	r := h.rest(ctx, "GET", "/metrics", "", "")
	for _, want := range []string{
		`discret_rpc_duration_seconds_count{code="OK",method="/discret.v1.RecommendationService/PopularItems"} 1`,
		`discret_rpc_duration_seconds_count{code="Unauthenticated",method="/discret.v1.RecommendationService/PopularItems"} 1`,
		`discret_http_request_duration_seconds_count{route="GET /v1/popular",status="200"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	r = h.rest(ctx, "GET", "/openapi.json", "", "")
	var doc struct {
		Swagger string                    `json:"swagger"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil || r.status != 200 || doc.Swagger != "2.0" {
		t.Fatalf("/openapi.json = %d, %v", r.status, err)
	}
	for _, c := range apiCalls {
		p := c.path
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		found := false
		for pattern, ops := range doc.Paths {
			if _, ok := ops[strings.ToLower(c.httpMethod)]; ok && matchPattern(pattern, p) {
				found = true
			}
		}
		if !found {
			t.Errorf("/openapi.json has no operation for %s %s", c.httpMethod, p)
		}
	}
}

// TestOpenAPIErrorResponses: the OpenAPI document declares, for every
// operation, the errors it can answer, each with the google.rpc.Status
// body the server sends: those of every operation (400, 401, 403, 413,
// 415, 429 and 503 with Retry-After), and 404 and 409 where a named thing
// may be missing or already exist. 413 and 415 are every route's since the
// server reads a body before it looks at the route's parameters, whatever
// the method: each route, one that takes no body included, answers them.
func TestOpenAPIErrorResponses(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Responses   map[string]struct {
				Description string `json:"description"`
				Schema      struct {
					Ref string `json:"$ref"`
				} `json:"schema"`
				Headers map[string]struct {
					Type string `json:"type"`
				} `json:"headers"`
			} `json:"responses"`
		} `json:"paths"`
		Definitions map[string]struct {
			Properties map[string]any `json:"properties"`
		} `json:"definitions"`
	}
	if err := json.Unmarshal(discretv1.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	if st := doc.Definitions["Status"].Properties; st["code"] == nil || st["message"] == nil || st["details"] == nil {
		t.Fatalf("definition Status = %v, want google.rpc.Status (code, message, details)", st)
	}
	extra := map[string][]string{
		"RecommendationService_SimilarItems": {"404"},
		"AdminService_RevokeApiKey":          {"404"},
		"AdminService_TrainModel":            {"409"},
		"AdminService_CreateApiKey":          {"409"},
	}
	// A method's routes share its responses (they are options of the
	// method); protoc-gen-openapiv2 numbers the operation ids of its
	// additional routes from 2 on.
	methodOf := func(id string) string { return strings.TrimRight(id, "0123456789") }
	methods := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			methods[methodOf(op.OperationID)] = true
			want := append([]string{"400", "401", "403", "413", "415", "429", "503"}, extra[methodOf(op.OperationID)]...)
			var got []string
			for code, resp := range op.Responses {
				if code == "200" || code == "default" {
					continue
				}
				got = append(got, code)
				if resp.Schema.Ref != "#/definitions/Status" || resp.Description == "" {
					t.Errorf("%s %s: response %s = %+v, want a description and the Status schema", method, path, code, resp)
				}
			}
			if slices.Sort(got); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
				t.Errorf("%s %s (%s): error responses %v, want %v", method, path, op.OperationID, got, slices.Sorted(slices.Values(want)))
			}
			for _, code := range []string{"429", "503"} {
				if op.Responses[code].Headers["Retry-After"].Type != "integer" {
					t.Errorf("%s %s: %s without a Retry-After header", method, path, code)
				}
			}
		}
	}
	if len(methods) != len(apiCalls) {
		t.Errorf("the document has operations for %d methods, want %d (every RPC)", len(methods), len(apiCalls))
	}

	const limit = 64
	h := start(t, func(c *serve.Config) { c.MaxRequestBytes = limit })
	vars := regexp.MustCompile(`\{[^}]+\}`)
	for tmpl, ops := range doc.Paths {
		for method := range ops {
			method, path := strings.ToUpper(method), vars.ReplaceAllString(tmpl, "x")
			for _, tt := range []struct {
				body   []byte
				header http.Header
				status int
			}{
				{bytes.Repeat([]byte(" "), limit+1), nil, http.StatusRequestEntityTooLarge},
				{[]byte("{}"), http.Header{"Content-Encoding": {"br"}}, http.StatusUnsupportedMediaType},
			} {
				if r := h.restRaw(t.Context(), method, path, h.tokens["all"], tt.body, tt.header); r.status != tt.status {
					t.Errorf("%s %s with %d bytes, Content-Encoding %q = %d %s, want %d", method, path, len(tt.body), tt.header.Get("Content-Encoding"), r.status, r.body, tt.status)
				}
			}
		}
	}
}

// matchPattern matches a path against an OpenAPI path template.
func matchPattern(pattern, path string) bool {
	pp, ps := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(pp) != len(ps) {
		return false
	}
	for i := range pp {
		if strings.Contains(pp[i], "{") {
			prefix, suffix := pp[i][:strings.IndexByte(pp[i], '{')], pp[i][strings.IndexByte(pp[i], '}')+1:]
			if !strings.HasPrefix(ps[i], prefix) || !strings.HasSuffix(ps[i], suffix) {
				return false
			}
			continue
		}
		if pp[i] != ps[i] {
			return false
		}
	}
	return true
}

func TestConfigValidate(t *testing.T) {
	c := serve.Config{TLSCertFile: "x.pem", MaxRequestBytes: -1, DefaultTimeout: -time.Second, RateBurst: -1,
		MethodTimeouts: map[string]time.Duration{"/x/Y": 0}, RateLimit: math.NaN(), TokenRateLimit: math.Inf(1), TokenRateBurst: -2}
	err := c.Validate()
	for _, want := range []string{"API is required", "Keys is required", "TLS needs both", "MaxRequestBytes", "DefaultTimeout must not be negative", "MethodTimeouts[/x/Y]",
		"RateBurst must not be negative, got -1", "RateLimit must be a finite number, got NaN", "TokenRateLimit must be a finite number, got +Inf", "TokenRateBurst must not be negative, got -2"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to report %q", err, want)
		}
	}
	if _, err := serve.New(c); err == nil {
		t.Error("New(invalid config) = nil error")
	}
}

// TestQueryEveryRoute sends every route of the OpenAPI document an
// undocumented query parameter: each must refuse it, naming its own route
// and the parameters it does take, before its body is looked at (but after
// the key: TestRESTAuthorizesFirst).
func TestQueryEveryRoute(t *testing.T) {
	h := start(t, nil)
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct{ Name, In string } `json:"parameters"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(discretv1.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	vars := regexp.MustCompile(`\{[^}]+\}`)
	n := 0
	for tmpl, ops := range doc.Paths {
		for method, op := range ops {
			method = strings.ToUpper(method)
			var takes []string
			for _, p := range op.Parameters {
				if p.In == "query" {
					takes = append(takes, p.Name)
				}
			}
			want := method + " " + tmpl + " takes no query parameters"
			if len(takes) > 0 {
				want = method + " " + tmpl + " takes " + strings.Join(takes, ", ")
			}
			path := vars.ReplaceAllString(tmpl, "x") + "?zz=1"
			r := h.rest(t.Context(), method, path, h.tokens["all"], "")
			if r.status != 400 || !strings.Contains(string(r.body), `unknown query parameter \"zz\": `+want) {
				t.Errorf("%s %s = %d %s, want 400 naming %q", method, path, r.status, r.body, want)
			}
			n++
		}
	}
	if n < 13 {
		t.Errorf("the OpenAPI document lists %d routes, want the 13 of the API or more", n)
	}
}

// TestRESTAuthorizesFirst: a REST request without a valid key gets 401,
// and one with a key that lacks the scope 403, whatever is wrong with its
// query, path or body. A 400 would tell a client without a key the
// route's parameters and the fields of its request.
func TestRESTAuthorizesFirst(t *testing.T) {
	h := start(t, nil)
	bad := "dsk_aaaaaaaa_" + strings.Repeat("b", 52)
	for _, tt := range []struct{ name, method, path, body, scope string }{
		{"body contradicts path", "PUT", "/v1/items/SKU-A", `{"item":"SKU-B"}`, "admin"},
		{"misspelt parameter", "GET", "/v1/popular?limt=3", "", "recommend"},
		{"not JSON", "POST", "/v1/events", "garbage", "events"},
		{"malformed JSON", "PUT", "/v1/customers/c1/consent", `{"changes":[`, "consent"},
		{"unknown field", "POST", "/v1/events", `{"eventz":[]}`, "events"},
		{"bad limit", "GET", "/v1/items/SKU-1/similar?limit=many", "", "recommend"},
		{"path not UTF-8", "GET", "/v1/customers/%FF%FE/recommendations", "", "recommend"},
		{"query not UTF-8", "GET", "/v1/popular?store=%FF", "", "recommend"},
		{"parameter on erase", "DELETE", "/v1/customers/c1?dry_run=true", "", "admin"},
	} {
		for _, k := range []struct {
			name, token string
			status      int
		}{{"none", "", 401}, {"bad", bad, 401}, {"revoked", h.tokens["revoked"], 401}, {"scope", h.tokens[otherScope(tt.scope)], 403}, {"right", h.tokens[tt.scope], 400}} {
			r := h.rest(t.Context(), tt.method, tt.path, k.token, tt.body)
			if r.status != k.status {
				t.Errorf("%s: %s %s with key %s = %d %s, want %d", tt.name, tt.method, tt.path, k.name, r.status, r.body, k.status)
			}
			if k.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s: 401 without a Bearer challenge", tt.name)
			}
		}
	}
	// Every route of the OpenAPI document: a query parameter it does not
	// take, and a body that is not JSON, without a key.
	for _, c := range apiCalls {
		path := c.path + "&zz=1"
		if !strings.Contains(c.path, "?") {
			path = c.path + "?zz=1"
		}
		body := ""
		if c.httpMethod == "POST" || c.httpMethod == "PUT" {
			body = "garbage"
		}
		if r := h.rest(t.Context(), c.httpMethod, path, "", body); r.status != 401 {
			t.Errorf("%s %s without a key = %d %s, want 401", c.httpMethod, path, r.status, r.body)
		}
	}
	// The refusals are logged as the gRPC server's are: route, method,
	// code, and the key when there is one.
	var got401, got403 bool
	for _, l := range strings.Split(h.logs.String(), "\n") {
		if !strings.Contains(l, `"route":"PUT /v1/items/{item}"`) || !strings.Contains(l, `"method":"/discret.v1.AdminService/UpsertItem"`) {
			continue
		}
		got401 = got401 || strings.Contains(l, `"status":401`) && strings.Contains(l, `"code":"Unauthenticated"`)
		got403 = got403 || strings.Contains(l, `"status":403`) && strings.Contains(l, `"code":"PermissionDenied"`) && strings.Contains(l, `"name":"key-recommend"`)
	}
	if !got401 || !got403 {
		t.Errorf("log lines of the 401 and 403 on PUT /v1/items/{item} (found %v, %v):\n%s", got401, got403, h.logs.String())
	}
}

// badCredentials returns the credentials that are no valid credential at
// all: none, a malformed one, an unknown key, a revoked key and a tampered
// customer token, by name.
func (h *harness) badCredentials(t *testing.T) []struct{ name, token string } {
	t.Helper()
	token, _ := h.mintREST(t, h.tokens["recommend"], "c1", "")
	tampered := []byte(token)
	tampered[len(tampered)-10] ^= 'a' ^ 'b' // a letter of its MAC, changed
	return []struct{ name, token string }{
		{"none", ""},
		{"malformed", "not-a-key"},
		{"unknown key", "dsk_aaaaaaaa_" + strings.Repeat("b", 52)},
		{"revoked key", h.tokens["revoked"]},
		{"tampered token", string(tampered)},
	}
}

// TestRESTRefusesBeforeTheBody: a REST request without a valid credential
// (401), or with one that may not call its route (403), is answered
// without its body being read, with the answer the same request gets with
// its body: the body that was to follow never comes here, and the answer
// arrives all the same. A client without a key makes the server hold
// nothing.
func TestRESTRefusesBeforeTheBody(t *testing.T) {
	h := start(t, nil)
	token, _ := h.mintREST(t, h.tokens["recommend"], "c1", "")
	creds := append(h.badCredentials(t), []struct{ name, token string }{
		{"key without the scope", h.tokens["recommend"]},
		{"customer token", token},
	}...)
	for _, c := range creds {
		want := h.rest(t.Context(), "POST", "/v1/events", c.token, `{"events":[]}`)
		if want.status != http.StatusUnauthorized && want.status != http.StatusForbidden {
			t.Fatalf("%s: POST /v1/events = %d %s, want 401 or 403", c.name, want.status, want.body)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		req, err := http.NewRequestWithContext(ctx, "POST", baseURL+"/v1/events", blockingReader{ctx})
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = serve.DefaultMaxRequestBytes - 1
		req.Header.Set("Content-Type", "application/json")
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := h.http.Do(req)
		if err != nil {
			t.Errorf("%s: POST /v1/events with a body that never comes: %v, want %d at once", c.name, err, want.status)
			cancel()
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		if err != nil || resp.StatusCode != want.status || !bytes.Equal(body, want.body) ||
			resp.Header.Get("WWW-Authenticate") != want.header.Get("WWW-Authenticate") {
			t.Errorf("%s: POST /v1/events with a body that never comes = %d %s (WWW-Authenticate %q, %v), want %d %s (%q)",
				c.name, resp.StatusCode, body, resp.Header.Get("WWW-Authenticate"), err, want.status, want.body, want.header.Get("WWW-Authenticate"))
		}
	}
}

// TestGRPCRefusesBeforeTheMessage: a gRPC call without a valid credential
// is refused as soon as its header arrives, with the status the same call
// gets with its message: the message that was to follow never comes here,
// and the answer arrives all the same.
func TestGRPCRefusesBeforeTheMessage(t *testing.T) {
	h := start(t, nil)
	method := discretv1.EventService_WriteEvents_FullMethodName
	for _, c := range h.badCredentials(t) {
		want := h.invoke(t.Context(), method, c.token, &discretv1.WriteEventsRequest{}, &discretv1.WriteEventsResponse{})
		if want.Code() != codes.Unauthenticated {
			t.Fatalf("%s: WriteEvents = %v, want Unauthenticated", c.name, want)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		if c.token != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.token)
		}
		// A stream sends the header at once, and here no message.
		stream, err := h.conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, method)
		if err == nil {
			err = stream.RecvMsg(&discretv1.WriteEventsResponse{})
		}
		cancel()
		if got := status.Convert(err); !proto.Equal(got.Proto(), want.Proto()) {
			t.Errorf("%s: WriteEvents whose message never comes = %v, want %v at once", c.name, got, want)
		}
	}
}

// TestGRPCConnectionLimits: the gRPC listener tells each connection, in
// its HTTP/2 SETTINGS, that it may have 100 calls in flight, with 64 KiB of
// metadata each; the gateway's own connection is not so bounded, since it
// carries every REST request: more than 100 are in the engine at once.
func TestGRPCConnectionLimits(t *testing.T) {
	h := start(t, func(c *serve.Config) { c.DefaultTimeout = 5 * time.Minute })
	c, err := h.dialGRPC(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	// The client preface, then empty SETTINGS.
	if _, err := io.WriteString(c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"); err != nil {
		t.Fatal(err)
	}
	settings := map[uint16]uint32{}
	for {
		var hdr [9]byte // length (3 bytes), type, flags, stream
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			t.Fatal(err)
		}
		payload := make([]byte, int(hdr[0])<<16|int(hdr[1])<<8|int(hdr[2]))
		if _, err := io.ReadFull(c, payload); err != nil {
			t.Fatal(err)
		}
		if hdr[3] == 4 && hdr[4]&1 == 0 { // SETTINGS, not an acknowledgement
			for p := payload; len(p) >= 6; p = p[6:] {
				settings[binary.BigEndian.Uint16(p)] = binary.BigEndian.Uint32(p[2:])
			}
			break
		}
	}
	const maxConcurrentStreams, maxHeaderListSize = 3, 6
	if settings[maxConcurrentStreams] != 100 || settings[maxHeaderListSize] != 64<<10 {
		t.Errorf("the gRPC listener's SETTINGS %v: want MAX_CONCURRENT_STREAMS (3) 100 and MAX_HEADER_LIST_SIZE (6) 65536", settings)
	}

	const n = 120
	statuses := make(chan string, n)
	for range n {
		go func() {
			req, _ := http.NewRequest("GET", baseURL+"/v1/items/"+blockItem+"/similar", nil)
			req.Header.Set("Authorization", "Bearer "+h.tokens["recommend"])
			resp, err := h.http.Do(req)
			if err != nil {
				statuses <- err.Error()
				return
			}
			resp.Body.Close()
			statuses <- resp.Status
		}()
	}
	timeout := time.After(30 * time.Second)
	for i := range n {
		select {
		case <-h.eng.entered:
		case <-timeout:
			close(h.eng.release)
			t.Fatalf("%d REST requests in the engine at once, want %d", i, n)
		}
	}
	close(h.eng.release)
	for range n {
		if got := <-statuses; got != "200 OK" {
			t.Errorf("GET /v1/items/block/similar = %s, want 200 OK", got)
		}
	}
}

// blockingReader is a request body that sends nothing until its context
// is done.
type blockingReader struct{ ctx context.Context }

func (b blockingReader) Read([]byte) (int, error) {
	<-b.ctx.Done()
	return 0, b.ctx.Err()
}

// otherScope returns a key name (harness.tokens) whose scope is not scope.
func otherScope(scope string) string {
	if scope == "recommend" {
		return "events"
	}
	return "recommend"
}

// TestAPIKeysOverTheAPI manages keys through the running server, as an
// operator must while it holds the data directory: a key created over REST
// works at once with its scope only, is listed without its secret, and a
// revocation over gRPC refuses it from the next request; its name can then
// be given again. Bad requests name their field.
func TestAPIKeysOverTheAPI(t *testing.T) {
	h := start(t, nil)
	ctx := t.Context()
	admin := h.tokens["admin"]
	r := h.rest(ctx, "POST", "/v1/apikeys", admin, `{"name":"pos-12","scopes":["recommend","consent"]}`)
	var created struct {
		Key struct {
			ID     string   `json:"id"`
			Name   string   `json:"name"`
			Scopes []string `json:"scopes"`
		} `json:"key"`
		Token string `json:"token"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &created) != nil || created.Token == "" {
		t.Fatalf("POST /v1/apikeys = %d %s", r.status, r.body)
	}
	if created.Key.Name != "pos-12" || !slices.Equal(created.Key.Scopes, []string{"recommend", "consent"}) || !strings.Contains(created.Token, created.Key.ID) {
		t.Errorf("created %+v with token %q", created.Key, created.Token)
	}
	if got := h.rest(ctx, "GET", "/v1/popular", created.Token, ""); got.status != http.StatusOK {
		t.Errorf("new key on its scope: %d %s, want 200", got.status, got.body)
	}
	if got := h.rest(ctx, "GET", "/v1/customers/c1:export", created.Token, ""); got.status != http.StatusForbidden {
		t.Errorf("new key outside its scope: %d %s, want 403", got.status, got.body)
	}

	list := &discretv1.ListApiKeysResponse{}
	if st := h.invoke(ctx, discretv1.AdminService_ListApiKeys_FullMethodName, admin, &discretv1.ListApiKeysRequest{}, list); st.Err() != nil {
		t.Fatal(st.Err())
	}
	found := false
	for _, k := range list.GetKeys() {
		found = found || k.GetId() == created.Key.ID && k.GetRevoked() == nil
	}
	if !found || len(list.GetKeys()) != len(keyNames)+1 || strings.Contains(list.String(), created.Token[len(created.Token)-52:]) {
		t.Errorf("ListApiKeys = %v: want the %d keys with %s valid, and no secret", list, len(keyNames)+1, created.Key.ID)
	}

	revoked := &discretv1.ApiKey{}
	if st := h.invoke(ctx, discretv1.AdminService_RevokeApiKey_FullMethodName, admin, &discretv1.RevokeApiKeyRequest{Id: created.Key.ID}, revoked); st.Err() != nil || revoked.GetRevoked() == nil {
		t.Fatalf("RevokeApiKey = %v, %v", revoked, st.Err())
	}
	if got := h.rest(ctx, "GET", "/v1/popular", created.Token, ""); got.status != http.StatusUnauthorized {
		t.Errorf("revoked key: %d %s, want 401 at once", got.status, got.body)
	}
	r = h.rest(ctx, "POST", "/v1/apikeys", admin, `{"name":"pos-12","scopes":["events"]}`)
	if r.status != http.StatusOK || json.Unmarshal(r.body, &created) != nil {
		t.Errorf("name of a revoked key given again: %d %s, want 200", r.status, r.body)
	}
	taken := created.Key.ID

	for _, tt := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		// A name taken is a conflict with what exists, not a malformed
		// request.
		{"POST", "/v1/apikeys", `{"name":"pos-12","scopes":["events"]}`, http.StatusConflict,
			"name: API key " + taken + " already has this name; choose another, or revoke that key first"},
		{"POST", "/v1/apikeys", `{"name":"has space","scopes":["events"]}`, http.StatusBadRequest, "name: key name must be 1-64 characters"},
		{"POST", "/v1/apikeys", `{"name":"x"}`, http.StatusBadRequest, "scopes: required"},
		{"POST", "/v1/apikeys", `{"name":"x","scopes":["root"]}`, http.StatusBadRequest, `scopes: unknown scope \"root\"`},
		{"POST", "/v1/apikeys/nope:revoke", ``, http.StatusNotFound, "no API key with id nope"},
	} {
		r := h.rest(ctx, tt.method, tt.path, admin, tt.body)
		if r.status != tt.status || !strings.Contains(string(r.body), tt.want) {
			t.Errorf("%s %s %s = %d %s, want %d containing %q", tt.method, tt.path, tt.body, r.status, r.body, tt.status, tt.want)
		}
	}
	if st := h.invoke(ctx, discretv1.AdminService_CreateApiKey_FullMethodName, admin,
		&discretv1.CreateApiKeyRequest{Name: "pos-12", Scopes: []string{"events"}}, &discretv1.CreateApiKeyResponse{}); st.Code() != codes.AlreadyExists {
		t.Errorf("CreateApiKey(name taken) over gRPC = %v %q, want AlreadyExists", st.Code(), st.Message())
	}
}

// restBadRequestField returns the field of the google.rpc.BadRequest
// detail of a REST error body, or "".
func restBadRequestField(t *testing.T, body []byte) string {
	t.Helper()
	var st spb.Status
	if err := protojson.Unmarshal(body, &st); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	return badRequestField(status.FromProto(&st))
}

// servedCard is a serve.ModelSource that serves one card.
type servedCard release.Card

func (c servedCard) Current(context.Context) (release.Card, error) { return release.Card(c), nil }

// storeUsage is a serve.StoreSource.
type storeUsage struct {
	usage     store.Usage
	compacted time.Time
}

func (s storeUsage) Usage() (store.Usage, error)                       { return s.usage, nil }
func (s storeUsage) LastCompaction(context.Context) (time.Time, error) { return s.compacted, nil }

// TestDomainMetrics: /metrics counts events by outcome, recommendations
// and store entries by result, describes the release served, the store's
// disk and the build, and has the series of Config.Collectors; no label
// holds a customer.
func TestDomainMetrics(t *testing.T) {
	extra := prometheus.NewGauge(prometheus.GaugeOpts{Name: "discret_test_extra", Help: "A collector of Config.Collectors."})
	extra.Set(7)
	h := start(t, func(c *serve.Config) {
		c.Collectors = []prometheus.Collector{
			serve.ModelMetrics(servedCard{Version: "v9", Created: storetest.Epoch, Private: true, Privacy: &release.Privacy{Epsilon: 0.5, Delta: 1e-6}}),
			serve.StoreMetrics(storeUsage{store.Usage{Disk: 5 << 20, Free: 3 << 30, Needed: 131 << 20}, storetest.Epoch.Add(-time.Hour)}),
			extra,
		}
	})
	ctx := t.Context()
	at := storetest.Epoch.Add(-time.Hour).Format(time.RFC3339)
	body := `{"allow_partial":true,"events":[` +
		`{"customer":"metrics-cust@example.com","item":"SKU-1","type":"view","time":"` + at + `"},` +
		`{"customer":"metrics-cust@example.com","item":"SKU-2","type":"view","time":"` + at + `"},` +
		`{"customer":"metrics-cust@example.com","item":"SKU-3","type":"bogus","time":"` + at + `"}]}`
	if r := h.rest(ctx, "POST", "/v1/events", h.tokens["events"], body); r.status != 200 {
		t.Fatalf("POST /v1/events = %d %s", r.status, r.body)
	}
	h.rest(ctx, "GET", "/v1/customers/metrics-cust%40example.com/recommendations", h.tokens["recommend"], "")
	h.rest(ctx, "POST", "/v1/stores/s1/entries", h.tokens["recommend"], `{"customer":"metrics-cust@example.com"}`)
	r := h.rest(ctx, "GET", "/metrics", "", "")
	for _, want := range []string{
		`discret_events_total{outcome="no_consent"} 2`,
		`discret_events_total{outcome="invalid"} 1`,
		`discret_events_total{outcome="stored"} 0`,
		`discret_recommendations_total{result="no_consent"} 1`,
		`discret_recommendations_total{result="personalized"} 0`,
		`discret_store_entries_total{result="capped"} 1`,
		`discret_model_info{private="true",version="v9"} 1`,
		`discret_model_epsilon 0.5`,
		`discret_model_delta 1e-06`,
		fmt.Sprintf("discret_model_created_timestamp_seconds %g", float64(storetest.Epoch.Unix())),
		"discret_store_disk_bytes 5.24288e+06",
		"discret_store_free_bytes 3.221225472e+09",
		"discret_store_min_free_bytes 1.37363456e+08",
		fmt.Sprintf("discret_store_last_compaction_timestamp_seconds %g", float64(storetest.Epoch.Add(-time.Hour).Unix())),
		"discret_test_extra 7",
		"go_build_info{",
	} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(string(r.body), "metrics-cust") {
		t.Error("/metrics names a customer")
	}
}

// TestMetricsPartial: a series that cannot be measured is left out of
// /metrics, logged and counted; the other series are still served.
func TestMetricsPartial(t *testing.T) {
	extra := prometheus.NewGauge(prometheus.GaugeOpts{Name: "discret_test_extra", Help: "A collector of Config.Collectors."})
	extra.Set(7)
	failing := prometheus.NewDesc("discret_test_failing", "A series that cannot be read.", nil, nil)
	h := start(t, func(c *serve.Config) {
		c.Collectors = []prometheus.Collector{extra, prometheus.CollectorFunc(func(ch chan<- prometheus.Metric) {
			ch <- prometheus.NewInvalidMetric(failing, errors.New("the ledger is unreadable"))
		})}
	})
	r := h.rest(t.Context(), "GET", "/metrics", "", "")
	body := string(r.body)
	if r.status != 200 || !strings.Contains(body, "discret_test_extra 7") {
		t.Errorf("/metrics = %d, want 200 with the series that could be measured:\n%s", r.status, body)
	}
	// The count of a scrape's error appears in the next scrape.
	if again := h.rest(t.Context(), "GET", "/metrics", "", ""); !strings.Contains(string(again.body), `promhttp_metric_handler_errors_total{cause="gathering"} 1`) {
		t.Error("/metrics does not count the series it could not measure")
	}
	if !strings.Contains(h.logs.String(), "the ledger is unreadable") {
		t.Errorf("the error is not logged:\n%s", h.logs)
	}
}
