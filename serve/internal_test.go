package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/discret-io/discret/features/store/storetest"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/apierr"
	"github.com/discret-io/discret/serve/auth"
)

func TestLimiter(t *testing.T) {
	clock := storetest.NewClock(storetest.Epoch)
	l := newLimiter[string](10, 3, clock.Now)
	steps := []struct {
		advance time.Duration
		key     string
		ok      bool
		wait    time.Duration
	}{
		{0, "a", true, 0}, {0, "a", true, 0}, {0, "a", true, 0}, // the burst
		{0, "a", false, 100 * time.Millisecond},
		{0, "b", true, 0}, // its own bucket
		{50 * time.Millisecond, "a", false, 50 * time.Millisecond},
		{50 * time.Millisecond, "a", true, 0},
		{10 * time.Second, "a", true, 0}, {0, "a", true, 0}, {0, "a", true, 0}, // refilled to the burst, not beyond
		{0, "a", false, 100 * time.Millisecond},
		{-time.Hour, "a", false, 100 * time.Millisecond}, // a clock going back adds nothing
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		wait, ok := l.allow(s.key, time.Time{})
		if ok != s.ok || (wait-s.wait).Abs() > time.Microsecond {
			t.Errorf("step %d: allow(%s) = %v, %v; want %v, %v", i, s.key, wait, ok, s.wait, s.ok)
		}
	}
}

// TestLimiterSweep: the buckets of customer tokens stay bounded however
// many tokens are used: a sweep, once the buckets have doubled, drops
// those refilled to the burst (the same as new ones) and those of expired
// tokens, and leaves the others as they were.
func TestLimiterSweep(t *testing.T) {
	clock := storetest.NewClock(storetest.Epoch)
	l := newLimiter[auth.TokenID](1, 2, clock.Now) // full again 1 s after one use
	l.sweepBase, l.sweepAt = 4, 4
	id := func(i int) auth.TokenID { return auth.TokenID{byte(i)} }
	soon, later := storetest.Epoch.Add(10*time.Second), storetest.Epoch.Add(time.Hour)
	steps := []struct {
		advance time.Duration
		use     []int // tokens that make a request, in order
		expires time.Time
		want    []int // the tokens with a bucket after
	}{
		{0, []int{0, 1, 2, 3}, later, []int{0, 1, 2, 3}}, // up to 4: no sweep
		{0, []int{4}, later, []int{0, 1, 2, 3, 4}},       // a sweep drops none (all in use); next at 8
		{0, []int{0}, later, []int{0, 1, 2, 3, 4}},       // token 0 spends its burst
		{time.Second, []int{5, 6, 7}, soon, []int{0, 1, 2, 3, 4, 5, 6, 7}},
		// 1-4 are full by now; 0 is not (1 of 2): kept, as it is.
		{0, []int{8}, soon, []int{0, 5, 6, 7, 8}},
		// 5-8 expire with their tokens, full or not.
		{10 * time.Second, []int{0, 0, 9, 10}, later, []int{0, 5, 6, 7, 8, 9, 10}},
		{0, []int{11, 12}, later, []int{0, 9, 10, 11, 12}}, // 12 at 8 buckets: a sweep
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		for _, tok := range s.use {
			l.allow(id(tok), s.expires)
		}
		var got []int
		for k := range l.buckets {
			got = append(got, int(k[0]))
		}
		if slices.Sort(got); !slices.Equal(got, s.want) {
			t.Errorf("step %d: buckets of %v, want %v", i, got, s.want)
		}
	}
	// Token 0 used its whole burst right after the last refill: the sweep
	// kept its bucket empty.
	if _, ok := l.allow(id(0), later); ok {
		t.Error("token 0 allowed beyond its burst after a sweep")
	}
}

// TestLimiterConcurrent: under the race detector, concurrent requests of
// many tokens through sweeps take exactly the burst of each bucket.
func TestLimiterConcurrent(t *testing.T) {
	clock := storetest.NewClock(storetest.Epoch)
	l := newLimiter[auth.TokenID](1, 3, clock.Now)
	l.sweepBase, l.sweepAt = 8, 8
	const tokens, workers = 200, 4
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range tokens {
				for range 2 {
					if _, ok := l.allow(auth.TokenID{byte(i), byte(w)}, storetest.Epoch.Add(time.Minute)); ok {
						allowed.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	// Each worker's tokens are its own: 2 requests each, within the burst.
	if got := allowed.Load(); got != tokens*workers*2 {
		t.Errorf("%d requests allowed, want %d", got, tokens*workers*2)
	}
}

// FuzzRESTRequestJSON decodes arbitrary bytes as REST request bodies with
// the gateway's marshaler (the decoder of every REST request with a body):
// nothing panics, what decodes re-encodes to an equal message, and what
// does not is refused as protojson refuses it, with an *apierr.Error
// (bodyError) whose message starts with the field it names, or with
// "request body: " when it names none, and never with protojson's "proto:",
// and which holds no '@' but in a syntax error's character (values are
// never echoed, and names that look like an e-mail address are withheld).
func FuzzRESTRequestJSON(f *testing.F) {
	f.Add([]byte(`{"events":[{"customer":"c","item":"i","type":"view","time":"1700000000","quantity":3}],"allow_partial":true}`))
	f.Add([]byte(`{"events":[{"time":5},{"bogus":1},null],"events":"x","allowPartial":"true"}`))
	f.Add([]byte(`{"changes":[{"granted":1,"time":{}}]} trailing`))
	f.Add([]byte(`[{"customer":"a\ud800"}]`))
	f.Add([]byte(`{"changes":[{"purpose":"in_store","granted":true,"time":"2026-01-01T00:00:00.5Z","source":"pos:1"}]}`))
	f.Add([]byte(`{"customer":"x@y"}`))
	f.Add([]byte(`{"events":[{"ann@example.com":1}],"bob@example.com":2}`))
	f.Add([]byte(`{"coupon":"c","stores":["a","b"],"valid_from":"1970-01-01T00:00:00Z","valid_until":"9999-12-31T23:59:59Z"}`))
	f.Add([]byte(`{"epsilon":1,"delta":1e-6,"non_private":false,"iterations":15,"factors":64}`))
	f.Add([]byte(`{"category":"\u00e9","active":true,"stores":[]}`))
	f.Add([]byte(`{"customer":"ann@example.com","since":"2026-01-01T00:00:00Z","actions":["forget",1],"page_size":"7","page_token":"00"}`))
	f.Add([]byte(`{"customer":"ann@example.com","limit":"5","exclude":["a",2],"exclude_purchased":null,"ttl_seconds":1e3}`))
	f.Add([]byte(`{"token":"dct_ann@example.com","token":null}`))
	m := gatewayJSON
	news := []func() proto.Message{
		func() proto.Message { return &discretv1.WriteEventsRequest{} },
		func() proto.Message { return &discretv1.SetConsentRequest{} },
		func() proto.Message { return &discretv1.EnterStoreRequest{} },
		func() proto.Message { return &discretv1.UpsertItemRequest{} },
		func() proto.Message { return &discretv1.UpsertCouponRequest{} },
		func() proto.Message { return &discretv1.TrainModelRequest{} },
		func() proto.Message { return &discretv1.SearchAuditEntriesRequest{} },
		func() proto.Message { return &discretv1.RevokeCustomerTokenRequest{} },
		// The bodies of POST /v1/customers:VERB.
		func() proto.Message { return &discretv1.RecommendRequest{} },
		func() proto.Message { return &discretv1.CreateCustomerTokenRequest{} },
		func() proto.Message { return &discretv1.GetConsentRequest{} },
		func() proto.Message { return &discretv1.ExportCustomerRequest{} },
		func() proto.Message { return &discretv1.ForgetCustomerRequest{} },
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, n := range news {
			msg := n()
			if err := m.NewDecoder(bytes.NewReader(raw)).Decode(msg); err != nil {
				if errors.Is(err, io.EOF) {
					continue // an empty body: an empty request
				}
				var e *apierr.Error
				if !errors.As(err, &e) || e.Kind != apierr.InvalidArgument || strings.Contains(e.Msg, "proto:") ||
					e.Field == "body" && !strings.HasPrefix(e.Msg, "request body: ") || e.Field != "body" && !strings.HasPrefix(e.Msg, e.Field+": ") ||
					strings.Contains(strings.ReplaceAll(e.Msg, "'@'", ""), "@") { // a syntax error names one character
					t.Fatalf("%T: %q refused with %#v, want an InvalidArgument that names its field or the body", msg, raw, err)
				}
				if m.JSONPb.NewDecoder(bytes.NewReader(raw)).Decode(n()) == nil {
					t.Fatalf("%T: %q refused with %q, but protojson takes it", msg, raw, err)
				}
				continue
			}
			out, err := m.Marshal(msg)
			if err != nil {
				t.Fatalf("Marshal(%T decoded from %q): %v", msg, raw, err)
			}
			back := n()
			if err := m.Unmarshal(out, back); err != nil || !proto.Equal(msg, back) {
				t.Fatalf("%T: %q decoded to %v, re-encoded as %s, decoded to %v (%v)", msg, raw, msg, out, back, err)
			}
		}
	})
}

// FuzzQueryParser parses arbitrary query strings into the requests of the
// routes that take one: nothing panics, an error names a query parameter,
// and a value that parses lands in its field (limit checked here); an
// error holds no '@' (what looks like an e-mail address is withheld).
func FuzzQueryParser(f *testing.F) {
	f.Add("limit=5&store=s1&category=shoes&exclude=a&exclude=b&exclude_purchased=false")
	f.Add("limit=abc")
	f.Add("limit=99999999999&exclude_purchased=maybe")
	f.Add("limit=1&limit=2")
	f.Add("store=%FF")
	f.Add("limit=ann@example.com&exclude_purchased=bob@example.com")
	f.Add("since=2026-01-01T00:00:00Z&until=yesterday&actions=forget&actions=export&page_size=x&page_token=ann@example.com")
	p := &queryParser{}
	news := []func() proto.Message{
		func() proto.Message { return &discretv1.RecommendRequest{} },
		func() proto.Message { return &discretv1.SimilarItemsRequest{} },
		func() proto.Message { return &discretv1.PopularItemsRequest{} },
		func() proto.Message { return &discretv1.ListAuditEntriesRequest{} },
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		for _, n := range news {
			msg := n()
			err := p.Parse(msg, q, &utilities.DoubleArray{})
			if err != nil {
				if !strings.HasPrefix(err.Error(), "query parameter ") || strings.Contains(err.Error(), "@") {
					t.Fatalf("Parse(%T, %q) = %q, want an error naming its query parameter, without '@'", msg, raw, err)
				}
				continue
			}
			// The parser ignores parameters the request has no field for
			// (checkQuery refuses them first): limit on the audit listing.
			if l, fd := q["limit"], msg.ProtoReflect().Descriptor().Fields().ByName("limit"); len(l) == 1 && fd != nil {
				want, _ := strconv.ParseInt(l[0], 10, 32)
				if got := msg.ProtoReflect().Get(fd).Int(); got != want {
					t.Fatalf("Parse(%T, %q): limit %d, want %d", msg, raw, got, want)
				}
			}
		}
	})
}

// BenchmarkInterceptor measures what the interceptor adds to a call: key
// check, rate limit, deadline, metrics and the log line (to a discarding
// logger).
func BenchmarkInterceptor(b *testing.B) {
	s, token := newKeyedServer(b, auth.All)
	ctx := metadata.NewIncomingContext(b.Context(), metadata.Pairs("authorization", "Bearer "+token))
	info := &grpc.UnaryServerInfo{FullMethod: discretv1.RecommendationService_PopularItems_FullMethodName}
	handler := func(context.Context, any) (any, error) { return nil, nil }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.unaryInterceptor(ctx, nil, info, handler); err != nil {
			b.Fatal(err)
		}
	}
}

// newKeyedServer returns a server of no API, without rate limits, and the
// one API key it knows, with scope.
func newKeyedServer(tb testing.TB, scope auth.Scope) (*Server, string) {
	tb.Helper()
	clock := storetest.NewClock(storetest.Epoch)
	keys, err := auth.Open(tb.Context(), auth.Config{Store: storetest.OpenMemory(tb, clock.Now)})
	if err != nil {
		tb.Fatal(err)
	}
	key, _, err := keys.Create(tb.Context(), "test", scope)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := New(Config{API: nopAPI{}, Keys: keys, RateLimit: -1})
	if err != nil {
		tb.Fatal(err)
	}
	return s, key
}

type nopAPI struct{}

func (nopAPI) Register(grpc.ServiceRegistrar) {}
func (nopAPI) RegisterGateway(context.Context, *runtime.ServeMux, *grpc.ClientConn) error {
	return nil
}

// TestBodyRoutes: the routes whose body is the whole request and whose
// path names fields are found in the OpenAPI document, each with its
// request type; a document that names no method, or a path parameter that
// is no field, is refused.
func TestBodyRoutes(t *testing.T) {
	var got []string
	for _, rt := range routes {
		if rt.body != nil {
			got = append(got, rt.display+" "+string(rt.body.mt.Descriptor().Name()))
		}
	}
	slices.Sort(got)
	want := []string{
		"POST /v1/customers/{customer}/tokens CreateCustomerTokenRequest",
		"POST /v1/stores/{store}/entries EnterStoreRequest",
		"PUT /v1/coupons/{coupon} UpsertCouponRequest",
		"PUT /v1/customers/{customer}/consent SetConsentRequest",
		"PUT /v1/items/{item} UpsertItemRequest",
	}
	if !slices.Equal(got, want) {
		t.Errorf("body routes = %q, want %q", got, want)
	}
	fd := discretv1.File_discret_v1_discret_proto
	for _, tt := range []struct{ doc, err string }{
		{`{"paths":{"/v1/x/{item}":{"put":{"operationId":"AdminService_Nope","parameters":[{"name":"item","in":"path"},{"name":"body","in":"body"}]}}}}`, "PUT /v1/x/{item}: operation id \"AdminService_Nope\": no method Nope"},
		{`{"paths":{"/v1/x/{item}":{"put":{"operationId":"Nope","parameters":[{"name":"item","in":"path"},{"name":"body","in":"body"}]}}}}`, "not Service_Method"},
		{`{"paths":{"/v1/x/{sku}":{"put":{"operationId":"AdminService_UpsertItem","parameters":[{"name":"sku","in":"path"},{"name":"body","in":"body"}]}}}}`, "PUT /v1/x/{sku}: path parameter sku is not a field of discret.v1.UpsertItemRequest"},
		// body: "item" (a field, not the whole request) is not checked.
		{`{"paths":{"/v1/x/{sku}":{"put":{"operationId":"AdminService_UpsertItem","parameters":[{"name":"sku","in":"path"},{"name":"item","in":"body"}]}}}}`, ""},
		{`{"paths":{}}`, "no paths"},
		{`{"paths":`, "unexpected end of JSON input"},
	} {
		_, err := parseRoutes([]byte(tt.doc), fd)
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("parseRoutes(%s) = %v, want an error containing %q", tt.doc, err, tt.err)
		}
	}
}

// TestBodyConflict: a body field conflicts with a path parameter when it
// is set and differs from the value the gateway sets from the path, found
// by proto or JSON name, through message fields, for any scalar type.
func TestBodyConflict(t *testing.T) {
	coupon := &bodyRoute{mt: (&discretv1.UpsertCouponRequest{}).ProtoReflect().Type(), fields: map[string][]protoreflect.FieldDescriptor{}}
	for _, name := range []string{"coupon", "item", "valid_from.seconds", "validFrom.seconds"} {
		fds, ok := fieldByPath(coupon.mt.Descriptor(), name)
		if !ok {
			t.Fatalf("fieldByPath(%s) found no field", name)
		}
		coupon.fields[name] = fds
	}
	for _, tt := range []struct {
		body   string
		params map[string]string
		want   string
	}{
		{`{"coupon":"C2"}`, map[string]string{"coupon": "C1"}, "coupon"},
		{`{"coupon":"C1"}`, map[string]string{"coupon": "C1"}, ""},
		{`{"coupon":""}`, map[string]string{"coupon": "C1"}, ""},
		{`{"item":"C2"}`, map[string]string{"coupon": "C1"}, ""},
		{`{"coupon":`, map[string]string{"coupon": "C1"}, ""}, // the gateway reports it
		{`{"coupon":"C2","item":"X"}`, map[string]string{"coupon": "C1", "item": "Y"}, "coupon"},
		{`{"coupon":"C1","item":"X"}`, map[string]string{"coupon": "C1", "item": "Y"}, "item"},
		// An int64 inside a message, by proto and by JSON name.
		{`{"valid_from":"1970-01-01T00:00:05Z"}`, map[string]string{"valid_from.seconds": "5"}, ""},
		{`{"valid_from":"1970-01-01T00:00:06Z"}`, map[string]string{"valid_from.seconds": "5"}, "valid_from.seconds"},
		{`{"validFrom":"1970-01-01T00:00:06Z"}`, map[string]string{"validFrom.seconds": "5"}, "validFrom.seconds"},
		{`{}`, map[string]string{"valid_from.seconds": "5"}, ""},
		// A path value the gateway cannot parse: it reports it.
		{`{"valid_from":"1970-01-01T00:00:06Z"}`, map[string]string{"valid_from.seconds": "five"}, ""},
		// The body sets the field, the path to its zero value.
		{`{"valid_from":"1970-01-01T00:00:06Z"}`, map[string]string{"valid_from.seconds": "0"}, "valid_from.seconds"},
	} {
		if got := coupon.conflict([]byte(tt.body), tt.params); got != tt.want {
			t.Errorf("conflict(%s, %v) = %q, want %q", tt.body, tt.params, got, tt.want)
		}
	}
}

// FuzzBodyAgreesWithPath sends arbitrary bodies and path values to the
// routes checkBody guards, through a gateway mux: a body with data after
// its JSON value is refused saying where the value ends (and that prefix
// is valid JSON, the whole body not); a body whose path field is set to
// another value is refused with the message naming the field (and nothing
// else); and any other request reaches the handler with its body byte for
// byte and the path value unchanged.
func FuzzBodyAgreesWithPath(f *testing.F) {
	f.Add([]byte(`{"customer":"other@example.com","changes":[]}`), "dup@example.com")
	f.Add([]byte(`{"item":"SKU-1","category":"shoes"}`), "SKU-1")
	f.Add([]byte(`{"item":"","coupon":"a/b","store":"s"}`), "a/b")
	f.Add([]byte(`{"store":"s1","store":"s2"}`), "s1")
	f.Add([]byte(`{"coupon":"C1"} trailing`), "C2")
	f.Add([]byte(`{"item":3}`), "3")
	f.Add([]byte(``), "x")
	type target struct {
		method, path, param string
		mt                  protoreflect.MessageType
	}
	var targets []target
	s := &Server{}
	s.mux = runtime.NewServeMux(runtime.WithUnescapingMode(runtime.UnescapingModeAllExceptReserved), runtime.WithMiddlewares(s.checkBody))
	mux := s.mux
	var (
		called    bool
		gotBody   []byte
		gotParams map[string]string
	)
	for _, key := range slices.Sorted(maps.Keys(routes)) {
		rt := routes[key]
		if rt.body == nil {
			continue
		}
		method, path, _ := strings.Cut(rt.display, " ")
		if len(rt.body.fields) != 1 {
			f.Fatalf("route %s: %d path parameters; the fuzz handles one", rt.display, len(rt.body.fields))
		}
		param := slices.Collect(maps.Keys(rt.body.fields))[0]
		mt := rt.body.mt
		if fd := mt.Descriptor().Fields().ByName(protoreflect.Name(param)); fd == nil || fd.Kind() != protoreflect.StringKind {
			f.Fatalf("route %s: path parameter %s is not a string field", rt.display, param)
		}
		targets = append(targets, target{method, path, param, mt})
		err := mux.HandlePath(method, path, func(w http.ResponseWriter, r *http.Request, p map[string]string) {
			called, gotParams = true, p
			gotBody, _ = io.ReadAll(r.Body)
		})
		if err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, value string) {
		if value == "" || !utf8.ValidString(value) {
			return // refused before the gateway (checkQuery), or no route
		}
		for _, rt := range targets {
			target := strings.Replace(rt.path, "{"+rt.param+"}", url.PathEscape(value), 1)
			r, err := http.NewRequest(rt.method, "http://discret.test"+target, bytes.NewReader(body))
			if err != nil {
				continue
			}
			called, gotBody, gotParams = false, nil, nil
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, r)
			if w.Code == http.StatusNotFound && !called {
				continue // a value the route does not match, such as ".."
			}
			var resp struct {
				Code    codes.Code `json:"code"`
				Message string     `json:"message"`
			}
			var end int
			if !called && w.Code == http.StatusBadRequest && json.Unmarshal(w.Body.Bytes(), &resp) == nil {
				if _, err := fmt.Sscanf(resp.Message, "request body: data after the JSON object that ends at byte %d", &end); err == nil {
					if json.Valid(body) || end > len(body) || !json.Valid(body[:end]) || len(bytes.TrimSpace(body[end:])) == 0 {
						t.Fatalf("%s %s %q: refused for data after byte %d", rt.method, target, body, end)
					}
					continue
				}
			}
			// What the gateway would decode.
			msg := rt.mt.New()
			decodes := gatewayJSON.NewDecoder(bytes.NewReader(body)).Decode(msg.Interface()) == nil
			inBody := msg.Get(msg.Descriptor().Fields().ByName(protoreflect.Name(rt.param))).String()
			if decodes && inBody != "" && inBody != value {
				if called || w.Code != http.StatusBadRequest || json.Unmarshal(w.Body.Bytes(), &resp) != nil ||
					resp.Code != codes.InvalidArgument || resp.Message != conflictError(rt.param).Msg {
					t.Fatalf("%s %s %q: called %v, %d %s; want 400: the body's %s %q differs", rt.method, target, body, called, w.Code, w.Body, rt.param, inBody)
				}
				continue
			}
			if !called || !bytes.Equal(gotBody, body) || gotParams[rt.param] != value {
				t.Fatalf("%s %s %q: called %v with body %q and %s %q, %d %s; want the body and %q passed on", rt.method, target, body, called, gotBody, rt.param, gotParams[rt.param], w.Code, w.Body, value)
			}
		}
	})
}

func TestRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{264 * time.Millisecond, "1"},
		{time.Nanosecond, "1"},
		{0, "1"},
		{time.Second, "1"},
		{time.Second + time.Nanosecond, "2"},
		{10 * time.Second, "10"},
	} {
		if got := retryAfter(tt.d); got != tt.want {
			t.Errorf("retryAfter(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// TestBodyTimeout: a REST body that stops arriving is refused with 400
// once bodyTimeout has passed, before the handler, where without the
// deadline the request would wait for it forever; a body that arrives in
// time reaches the handler, which may then take longer than bodyTimeout.
func TestBodyTimeout(t *testing.T) {
	s, key := newKeyedServer(t, auth.Events)
	s.bodyTimeout = 200 * time.Millisecond
	mux := s.gatewayMux()
	var handled atomic.Int32
	err := mux.HandlePath("POST", "/v1/events", func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
		handled.Add(1)
		time.Sleep(2 * s.bodyTimeout)
		if err := r.Context().Err(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "handled")
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.httpHandler(mux))
	defer srv.Close()
	post := func(body io.Reader, n int64) (int, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/events", body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = n
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := srv.Client().Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const events = `{"events":[]}`
	// Released when post gives up: net/http waits for a body's reader
	// before it reports a failure.
	stalled, stop := context.WithTimeout(t.Context(), 10*time.Second)
	defer stop()
	code, msg := post(io.MultiReader(strings.NewReader(events[:5]), stalledReader{stalled}), int64(len(events)))
	if want := "request body: not received in full within 200ms"; code != http.StatusBadRequest || !strings.Contains(msg, want) || handled.Load() != 0 {
		t.Errorf("POST /v1/events whose body stops = %d %s, %d handled; want 400 %q before the handler", code, msg, handled.Load(), want)
	}
	if code, msg := post(strings.NewReader(events), int64(len(events))); code != http.StatusOK || msg != "handled" {
		t.Errorf("POST /v1/events, handled in twice the body's timeout = %d %s, want 200 handled", code, msg)
	}
}

// stalledReader sends nothing until its context is done.
type stalledReader struct{ ctx context.Context }

func (r stalledReader) Read([]byte) (int, error) {
	<-r.ctx.Done()
	return 0, r.ctx.Err()
}
