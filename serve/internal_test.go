package serve

import (
	"bytes"
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/discret-io/discret/features/store/storetest"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/auth"
)

func TestLimiter(t *testing.T) {
	clock := storetest.NewClock(storetest.Epoch)
	l := newLimiter(10, 3, clock.Now)
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
		wait, ok := l.allow(s.key)
		if ok != s.ok || (wait-s.wait).Abs() > time.Microsecond {
			t.Errorf("step %d: allow(%s) = %v, %v; want %v, %v", i, s.key, wait, ok, s.wait, s.ok)
		}
	}
}

// FuzzRESTRequestJSON decodes arbitrary bytes as REST request bodies with
// the gateway's marshaler (the decoder of every REST request with a body):
// nothing panics, and what decodes re-encodes to an equal message.
func FuzzRESTRequestJSON(f *testing.F) {
	f.Add([]byte(`{"events":[{"customer":"c","item":"i","type":"view","time":"1700000000","quantity":3}],"allow_partial":true}`))
	f.Add([]byte(`{"changes":[{"purpose":"in_store","granted":true,"time":"2026-01-01T00:00:00.5Z","source":"pos:1"}]}`))
	f.Add([]byte(`{"customer":"x@y"}`))
	f.Add([]byte(`{"coupon":"c","stores":["a","b"],"valid_from":"1970-01-01T00:00:00Z","valid_until":"9999-12-31T23:59:59Z"}`))
	f.Add([]byte(`{"epsilon":1,"delta":1e-6,"non_private":false,"iterations":15,"factors":64}`))
	f.Add([]byte(`{"category":"\u00e9","active":true,"stores":[]}`))
	m := jsonMarshaler()
	news := []func() proto.Message{
		func() proto.Message { return &discretv1.WriteEventsRequest{} },
		func() proto.Message { return &discretv1.SetConsentRequest{} },
		func() proto.Message { return &discretv1.EnterStoreRequest{} },
		func() proto.Message { return &discretv1.UpsertItemRequest{} },
		func() proto.Message { return &discretv1.UpsertCouponRequest{} },
		func() proto.Message { return &discretv1.TrainModelRequest{} },
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, n := range news {
			msg := n()
			if err := m.NewDecoder(bytes.NewReader(raw)).Decode(msg); err != nil {
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
// and a value that parses lands in its field (limit checked here).
func FuzzQueryParser(f *testing.F) {
	f.Add("limit=5&store=s1&category=shoes&exclude=a&exclude=b&exclude_purchased=false")
	f.Add("limit=abc")
	f.Add("limit=99999999999&exclude_purchased=maybe")
	f.Add("limit=1&limit=2")
	f.Add("store=%FF")
	p := &queryParser{}
	news := []func() proto.Message{
		func() proto.Message { return &discretv1.RecommendRequest{} },
		func() proto.Message { return &discretv1.SimilarItemsRequest{} },
		func() proto.Message { return &discretv1.PopularItemsRequest{} },
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
				if !strings.HasPrefix(err.Error(), "query parameter ") {
					t.Fatalf("Parse(%T, %q) = %q, want an error naming its query parameter", msg, raw, err)
				}
				continue
			}
			if l := q["limit"]; len(l) == 1 {
				want, _ := strconv.ParseInt(l[0], 10, 32)
				if got := msg.ProtoReflect().Get(msg.ProtoReflect().Descriptor().Fields().ByName("limit")).Int(); got != want {
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
	clock := storetest.NewClock(storetest.Epoch)
	db := storetest.OpenMemory(b, clock.Now)
	keys, err := auth.Open(b.Context(), auth.Config{Store: db})
	if err != nil {
		b.Fatal(err)
	}
	token, _, err := keys.Create(b.Context(), "bench", auth.All)
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(Config{API: nopAPI{}, Keys: keys, RateLimit: -1})
	if err != nil {
		b.Fatal(err)
	}
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

type nopAPI struct{}

func (nopAPI) Register(grpc.ServiceRegistrar) {}
func (nopAPI) RegisterGateway(context.Context, *runtime.ServeMux, *grpc.ClientConn) error {
	return nil
}
