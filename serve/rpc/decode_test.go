package rpc

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/ingest"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/model/budget"
	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/model/train"
	"github.com/discret-io/discret/privacy"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/apierr"
	"github.com/discret-io/discret/serve/recommend"
)

// wantInvalid checks that err is InvalidArgument about field with a
// message containing msg.
func wantInvalid(t *testing.T, what string, err error, field, msg string) {
	t.Helper()
	var ae *apierr.Error
	if !errors.As(err, &ae) || ae.Kind != apierr.InvalidArgument || ae.Field != field || !strings.Contains(ae.Msg, msg) {
		t.Errorf("%s = %v, want InvalidArgument on %q containing %q", what, err, field, msg)
	}
}

func TestDecodeRecommend(t *testing.T) {
	f := false
	long := strings.Repeat("x", privacy.MaxIDLen+1)
	for _, tt := range []struct {
		name  string
		req   *discretv1.RecommendRequest
		want  recommend.Request
		field string // of the error; empty for success
		msg   string
	}{
		{"defaults", &discretv1.RecommendRequest{Customer: "c1"},
			recommend.Request{Customer: cust("c1"), Limit: 10, ExcludePurchased: true}, "", ""},
		{"everything", &discretv1.RecommendRequest{Customer: "a/b c@d", Limit: 100, Store: "s1", Category: "shoes", Exclude: []string{"i1", "i2"}, ExcludePurchased: &f},
			recommend.Request{Customer: cust("a/b c@d"), Limit: 100, Store: "s1", Category: "shoes", Exclude: []string{"i1", "i2"}}, "", ""},
		{"no customer", &discretv1.RecommendRequest{}, recommend.Request{}, "customer", "required"},
		{"long customer", &discretv1.RecommendRequest{Customer: long}, recommend.Request{}, "customer", "want 1-256 bytes"},
		{"limit too big", &discretv1.RecommendRequest{Customer: "c", Limit: 101}, recommend.Request{}, "limit", "must be 1-100 (0 means 10), got 101"},
		{"negative limit", &discretv1.RecommendRequest{Customer: "c", Limit: -1}, recommend.Request{}, "limit", "got -1"},
		{"bad store", &discretv1.RecommendRequest{Customer: "c", Store: "a\x00"}, recommend.Request{}, "store", "without control characters"},
		{"bad category", &discretv1.RecommendRequest{Customer: "c", Category: long}, recommend.Request{}, "category", "want 1-256"},
		{"empty exclude", &discretv1.RecommendRequest{Customer: "c", Exclude: []string{"ok", ""}}, recommend.Request{}, "exclude[1]", "required"},
		{"too many excludes", &discretv1.RecommendRequest{Customer: "c", Exclude: make([]string, MaxExclude+1)}, recommend.Request{}, "exclude", "at most 1000"},
	} {
		got, err := decodeRecommend(tt.req)
		if tt.field != "" {
			wantInvalid(t, "decodeRecommend("+tt.name+")", err, tt.field, tt.msg)
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("decodeRecommend(%s) = %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
}

func cust(s string) privacy.CustomerID {
	c, err := privacy.ParseCustomerID(s)
	if err != nil {
		panic(err)
	}
	return c
}

func TestDecodeSimilarPopularEntry(t *testing.T) {
	if got, err := decodeSimilar(&discretv1.SimilarItemsRequest{Item: "SKU-1", Limit: 5}); err != nil || got != (recommend.SimilarRequest{Item: "SKU-1", Limit: 5}) {
		t.Errorf("decodeSimilar(SKU-1, 5) = %+v, %v", got, err)
	}
	_, err := decodeSimilar(&discretv1.SimilarItemsRequest{})
	wantInvalid(t, "decodeSimilar(no item)", err, "item", "required")
	_, err = decodeSimilar(&discretv1.SimilarItemsRequest{Item: "x", Limit: 1000})
	wantInvalid(t, "decodeSimilar(limit 1000)", err, "limit", "got 1000")

	if got, err := decodePopular(&discretv1.PopularItemsRequest{}); err != nil || got != (recommend.PopularRequest{Limit: 10}) {
		t.Errorf("decodePopular(empty) = %+v, %v", got, err)
	}
	_, err = decodePopular(&discretv1.PopularItemsRequest{Store: "\x7f"})
	wantInvalid(t, "decodePopular(bad store)", err, "store", "control characters")

	if got, err := decodeEntry(&discretv1.EnterStoreRequest{Store: "store-01", Customer: "c"}); err != nil || got.Store != "store-01" || got.Customer != cust("c") {
		t.Errorf("decodeEntry = %+v, %v", got, err)
	}
	_, err = decodeEntry(&discretv1.EnterStoreRequest{Customer: "c"})
	wantInvalid(t, "decodeEntry(no store)", err, "store", "required")
	_, err = decodeEntry(&discretv1.EnterStoreRequest{Store: "s"})
	wantInvalid(t, "decodeEntry(no customer)", err, "customer", "required")
}

func TestDecodeEvent(t *testing.T) {
	at := "2026-01-02T03:04:05Z"
	at0, _ := time.Parse(time.RFC3339, at)
	now := at0.Add(time.Hour)
	for _, tt := range []struct {
		name  string
		in    *discretv1.Event
		want  features.RawEvent
		field string
		msg   string
	}{
		{"purchase", &discretv1.Event{Customer: "c", Item: "i", Type: "purchase", Time: at, Quantity: 2},
			features.RawEvent{Customer: cust("c"), Item: "i", Kind: privacy.Purchase, Time: at0, Quantity: 2}, "", ""},
		{"quantity 0 means 1, unix time", &discretv1.Event{Customer: "c", Item: "i", Type: "view", Time: "1767323045"},
			features.RawEvent{Customer: cust("c"), Item: "i", Kind: privacy.View, Time: at0, Quantity: 1}, "", ""},
		{"visit", &discretv1.Event{Customer: "c", Type: "store_visit", Store: "s", Time: at},
			features.RawEvent{Customer: cust("c"), Kind: privacy.StoreVisit, Store: "s", Time: at0, Quantity: 1}, "", ""},
		{"no customer", &discretv1.Event{Item: "i", Type: "view", Time: at}, features.RawEvent{}, "customer", ""},
		{"bad type", &discretv1.Event{Customer: "c", Item: "i", Type: "click", Time: at}, features.RawEvent{}, "type", `"click": want view, add_to_cart`},
		{"bad time", &discretv1.Event{Customer: "c", Item: "i", Type: "view", Time: "yesterday"}, features.RawEvent{}, "time", "RFC 3339"},
		{"negative quantity", &discretv1.Event{Customer: "c", Item: "i", Type: "view", Time: at, Quantity: -3}, features.RawEvent{}, "quantity", `"-3": must be an integer from 1 to 1000000`},
		{"item on visit", &discretv1.Event{Customer: "c", Item: "i", Type: "store_visit", Store: "s", Time: at}, features.RawEvent{}, "item", "must be empty"},
		{"no item", &discretv1.Event{Customer: "c", Type: "view", Time: at}, features.RawEvent{}, "item", "required (want 1-256 bytes of UTF-8 without control characters)"},
		{"control character in item", &discretv1.Event{Customer: "c", Item: "a\x01", Type: "view", Time: at}, features.RawEvent{}, "item", `"a\x01": want 1-256 bytes of UTF-8 without control characters (identifier contains a control character)`},
		// Every bad field is reported, the first one in field.
		{"no item, bad store", &discretv1.Event{Customer: "c", Type: "view", Store: "a\x01", Time: at}, features.RawEvent{}, "item",
			`required (want 1-256 bytes of UTF-8 without control characters); field store: "a\x01": want 1-256 bytes`},
		// Problems found while parsing (type, time, quantity) are listed with
		// those of the validation (customer), in field order.
		{"every field bad", &discretv1.Event{Type: "vew", Time: "x", Quantity: -1}, features.RawEvent{}, "customer",
			`required (want 1-256 bytes of UTF-8 without control characters); field type: "vew": want view, add_to_cart, purchase or store_visit; field time: "x": want RFC 3339 (2026-01-02T15:04:05Z) or Unix seconds or milliseconds; field quantity: "-1": must be an integer from 1 to 1000000`},
		{"bad type and future time", &discretv1.Event{Customer: "c", Item: "i", Type: "vew", Time: "2199-01-01T00:00:00Z"}, features.RawEvent{}, "type",
			`"vew": want view, add_to_cart, purchase or store_visit; field time: "2199-01-01T00:00:00Z": in the future`},
		{"within the skew", &discretv1.Event{Customer: "c", Item: "i", Type: "view", Time: "2026-01-02T04:09:05Z"},
			features.RawEvent{Customer: cust("c"), Item: "i", Kind: privacy.View, Time: now.Add(privacy.MaxClockSkew), Quantity: 1}, "", ""},
		// A future date would keep the event past its retention period.
		{"future", &discretv1.Event{Customer: "c", Item: "i", Type: "purchase", Time: "2199-01-01T00:00:00Z"}, features.RawEvent{}, "time", `"2199-01-01T00:00:00Z": in the future (at most 5m0s ahead`},
		{"future unix", &discretv1.Event{Customer: "c", Item: "i", Type: "view", Time: "1767327046"}, features.RawEvent{}, "time", "in the future"},
	} {
		got, err := decodeEvent(tt.in, now)
		if tt.field != "" {
			re := rowError(7, err)
			if err == nil || re.Field != tt.field || re.Index != 7 || !strings.Contains(re.Message, tt.msg) {
				t.Errorf("decodeEvent(%s) row error = %+v (err %v), want field %q containing %q", tt.name, re, err, tt.field, tt.msg)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("decodeEvent(%s) = %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
}

func TestDecodeConsentChanges(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	past := timestamppb.New(now.Add(-time.Hour))
	got, err := decodeConsentChanges([]*discretv1.ConsentChange{
		{Purpose: "personalization", Granted: proto.Bool(true)},
		{Purpose: "in_store", Granted: proto.Bool(false), Time: past, Source: "pos:store-12"},
	}, now)
	if err != nil || len(got) != 2 ||
		got[0].Purpose != privacy.Personalization || !got[0].Granted || !got[0].Time.Equal(now) || got[0].Source != DefaultConsentSource ||
		got[1].Purpose != privacy.InStore || got[1].Granted || !got[1].Time.Equal(past.AsTime()) || got[1].Source != "pos:store-12" {
		t.Errorf("decodeConsentChanges = %+v, %v", got, err)
	}
	for _, tt := range []struct {
		name    string
		changes []*discretv1.ConsentChange
		field   string
		msg     string
	}{
		{"none", nil, "changes", "at least one"},
		{"too many", make([]*discretv1.ConsentChange, MaxConsentChanges+1), "changes", "at most 64"},
		{"bad purpose", []*discretv1.ConsentChange{{Purpose: "marketing"}}, "changes[0].purpose", "want personalization or in_store"},
		// Absent is not false: a forgotten field must not erase anyone.
		{"granted missing", []*discretv1.ConsentChange{{Purpose: "in_store"}}, "changes[0].granted", "required: true to grant, false to withdraw"},
		{"future", []*discretv1.ConsentChange{{Purpose: "in_store", Granted: proto.Bool(false), Time: timestamppb.New(now.Add(time.Hour))}}, "changes[0].time", "in the future"},
		{"bad timestamp", []*discretv1.ConsentChange{{Purpose: "in_store", Granted: proto.Bool(false), Time: &timestamppb.Timestamp{Seconds: 1 << 62}}}, "changes[0].time", "invalid timestamp"},
		{"bad source", []*discretv1.ConsentChange{{Purpose: "in_store", Granted: proto.Bool(true)}, {Purpose: "in_store", Granted: proto.Bool(false), Source: "a b"}}, "changes[1].source", "[A-Za-z0-9._:/-]"},
	} {
		_, err := decodeConsentChanges(tt.changes, now)
		wantInvalid(t, "decodeConsentChanges("+tt.name+")", err, tt.field, tt.msg)
	}
}

func TestDecodeCatalogue(t *testing.T) {
	it, err := decodeItem(&discretv1.UpsertItemRequest{Item: "SKU-1", Category: "shoes", Stores: []string{"s1"}, Active: proto.Bool(true)})
	if err != nil || !reflect.DeepEqual(it, features.Item{ID: "SKU-1", Category: "shoes", Stores: []string{"s1"}, Active: true}) {
		t.Errorf("decodeItem = %+v, %v", it, err)
	}
	_, err = decodeItem(&discretv1.UpsertItemRequest{Item: "SKU-1", Stores: []string{"ok", ""}})
	wantInvalid(t, "decodeItem(empty store)", err, "stores[1]", "stores[1]: required (want 1-256 bytes of UTF-8 without control characters)")
	_, err = decodeItem(&discretv1.UpsertItemRequest{Item: "SKU-1", Stores: []string{strings.Repeat("s", 257)}})
	wantInvalid(t, "decodeItem(long store)", err, "stores[0]", "want 1-256 bytes of UTF-8 without control characters (identifier longer than 256 bytes)")

	from, until := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	req := &discretv1.UpsertCouponRequest{Coupon: "C1", Item: "SKU-1", Stores: []string{"s1"}, Value: "-20%",
		ValidFrom: timestamppb.New(from), ValidUntil: timestamppb.New(until), Active: proto.Bool(true)}
	c, err := decodeCoupon(req)
	want := features.Coupon{ID: "C1", Item: "SKU-1", Stores: []string{"s1"}, Value: "-20%", ValidFrom: from, ValidUntil: until, Active: true}
	if err != nil || !reflect.DeepEqual(c, want) {
		t.Errorf("decodeCoupon = %+v, %v; want %+v", c, err, want)
	}
	for _, tt := range []struct {
		name  string
		edit  func(*discretv1.UpsertCouponRequest)
		field string
		msg   string
	}{
		{"no valid_from", func(r *discretv1.UpsertCouponRequest) { r.ValidFrom = nil }, "valid_from", "required"},
		{"no valid_until", func(r *discretv1.UpsertCouponRequest) { r.ValidUntil = nil }, "valid_until", "required"},
		{"until before from", func(r *discretv1.UpsertCouponRequest) { r.ValidUntil = timestamppb.New(from.Add(-time.Hour)) }, "valid_until", "must be after valid_from"},
		{"no stores", func(r *discretv1.UpsertCouponRequest) { r.Stores = nil }, "stores", "required"},
		{"long value", func(r *discretv1.UpsertCouponRequest) { r.Value = strings.Repeat("v", 65) }, "value", "1-64 bytes"},
		{"no item", func(r *discretv1.UpsertCouponRequest) { r.Item = "" }, "item", "item: required (want 1-256 bytes"},
	} {
		r := proto.Clone(req).(*discretv1.UpsertCouponRequest)
		tt.edit(r)
		_, err := decodeCoupon(r)
		wantInvalid(t, "decodeCoupon("+tt.name+")", err, tt.field, tt.msg)
	}
}

func TestAPIError(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want apierr.Kind
	}{
		{recommend.ErrUnknownItem, apierr.NotFound},
		{recommend.ErrNoModel, apierr.FailedPrecondition},
		{fmt.Errorf("recommend: %w", train.ErrNonPrivateRefused), apierr.FailedPrecondition},
		{fmt.Errorf("train: %w", &recommend.NotCurrentError{Version: "v", Reason: "r"}), apierr.FailedPrecondition},
		{store.ErrClosed, apierr.Unavailable},
		{recommend.ErrClosed, apierr.Unavailable},
		{fmt.Errorf("ingest: %w", store.ErrBusy), apierr.Unavailable},
		{fmt.Errorf("ingest: %w: data directory /srv/d: 3.0 MiB free", store.ErrNoSpace), apierr.Unavailable},
		{ingest.ErrTooMany, apierr.InvalidArgument},
		{&features.FieldError{Field: "item", Value: "x", Err: features.ErrMissing}, apierr.InvalidArgument},
		{errors.New("disk on fire"), apierr.Internal},
		{apierr.New(apierr.NotFound, "x"), apierr.NotFound},
	} {
		if got := apierr.KindOf(apiError(tt.err)); got != tt.want {
			t.Errorf("KindOf(apiError(%v)) = %v, want %v", tt.err, got, tt.want)
		}
	}
	if apiError(nil) != nil {
		t.Error("apiError(nil) != nil")
	}
}

// FuzzDecodeRequests decodes arbitrary JSON as the gateway does (protojson,
// unknown fields refused) into every request type, then validates it. It
// checks that nothing panics, that what validates satisfies the domain's own
// validation, and that no error message echoes a customer id.
func FuzzDecodeRequests(f *testing.F) {
	f.Add([]byte(`{"events":[{"customer":"c@x","item":"i","type":"purchase","time":"2026-01-01T00:00:00Z","quantity":2}],"allow_partial":true}`))
	f.Add([]byte(`{"customer":"zz-secret-zz","changes":[{"purpose":"in_store","granted":true,"time":"2026-01-01T00:00:00Z","source":"web"}]}`))
	f.Add([]byte(`{"customer":"a/b","limit":5,"exclude":["x"],"exclude_purchased":false,"store":"s"}`))
	f.Add([]byte(`{"coupon":"c","item":"i","stores":["s"],"value":"-5%","valid_from":"2026-01-01T00:00:00Z","valid_until":"2027-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"item":"i","category":"c","stores":["s"],"active":true}`))
	f.Add([]byte(`{"customer":"zz-secret-zz\u0000","limit":-1}`))
	f.Add([]byte(`{"epsilon":"NaN","delta":1e-7,"iterations":3,"factors":2048}`))
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw []byte) {
		noEcho := func(what string, err error, customer string) {
			if err != nil && len(customer) >= 4 && strings.Contains(err.Error(), customer) {
				t.Fatalf("%s error %q echoes the customer id %q", what, err, customer)
			}
		}
		var ev discretv1.WriteEventsRequest
		if protojson.Unmarshal(raw, &ev) == nil {
			valid, bad := decodeEvents(ev.GetEvents(), now)
			if len(valid)+len(bad) != len(ev.GetEvents()) {
				t.Fatalf("decodeEvents: %d valid + %d bad != %d events", len(valid), len(bad), len(ev.GetEvents()))
			}
			for i := range valid {
				if err := valid[i].Validate(); err != nil {
					t.Fatalf("decodeEvents returned an invalid event: %v", err)
				}
			}
			for _, re := range bad {
				e := ev.GetEvents()[re.Index]
				if c := e.GetCustomer(); len(c) >= 4 && strings.Contains(re.Message, c) {
					t.Fatalf("row error %q echoes the customer id %q", re.Message, c)
				}
			}
		}
		var rr discretv1.RecommendRequest
		if protojson.Unmarshal(raw, &rr) == nil {
			r, err := decodeRecommend(&rr)
			noEcho("decodeRecommend", err, rr.GetCustomer())
			if err == nil && (r.Limit < 1 || r.Limit > recommend.MaxLimit || r.Customer.IsZero()) {
				t.Fatalf("decodeRecommend(%s) = %+v out of range", raw, r)
			}
		}
		var sc discretv1.SetConsentRequest
		if protojson.Unmarshal(raw, &sc) == nil {
			_, err := parseCustomer("customer", sc.GetCustomer())
			noEcho("parseCustomer", err, sc.GetCustomer())
			changes, err := decodeConsentChanges(sc.GetChanges(), now)
			for _, c := range changes {
				if err == nil && c.Validate() != nil {
					t.Fatalf("decodeConsentChanges returned an invalid change %+v", c)
				}
			}
		}
		var es discretv1.EnterStoreRequest
		if protojson.Unmarshal(raw, &es) == nil {
			_, err := decodeEntry(&es)
			noEcho("decodeEntry", err, es.GetCustomer())
		}
		var ui discretv1.UpsertItemRequest
		if protojson.Unmarshal(raw, &ui) == nil {
			if it, err := decodeItem(&ui); err == nil && it.Validate() != nil {
				t.Fatalf("decodeItem returned an invalid item %+v", it)
			}
		}
		var uc discretv1.UpsertCouponRequest
		if protojson.Unmarshal(raw, &uc) == nil {
			if c, err := decodeCoupon(&uc); err == nil && c.Validate() != nil {
				t.Fatalf("decodeCoupon returned an invalid coupon %+v", c)
			}
		}
		var sim discretv1.SimilarItemsRequest
		if protojson.Unmarshal(raw, &sim) == nil {
			if r, err := decodeSimilar(&sim); err == nil && (r.Limit < 1 || r.Limit > recommend.MaxLimit || r.Item == "") {
				t.Fatalf("decodeSimilar(%s) = %+v out of range", raw, r)
			}
		}
		var tr discretv1.TrainModelRequest
		if protojson.Unmarshal(raw, &tr) == nil {
			if cfg, err := decodeTrain(&tr); err == nil && (!(cfg.Epsilon >= 0) || cfg.ALS.Factors < 0 || cfg.ALS.Factors > MaxFactors || cfg.ALS.Iterations < 0 || cfg.ALS.Iterations > MaxIterations || cfg.Delta < 0 || cfg.Delta > MaxDelta) {
				t.Fatalf("decodeTrain(%s) = %+v out of range", raw, cfg)
			}
		}
		var pop discretv1.PopularItemsRequest
		if protojson.Unmarshal(raw, &pop) == nil {
			if r, err := decodePopular(&pop); err == nil && (r.Limit < 1 || r.Limit > recommend.MaxLimit) {
				t.Fatalf("decodePopular(%s) = %+v out of range", raw, r)
			}
		}
	})
}

func TestDecodeTrain(t *testing.T) {
	for _, tt := range []struct {
		name            string
		req             *discretv1.TrainModelRequest
		eps, delta      float64
		iters, factors  int
		field, wantText string
	}{
		{"defaults", &discretv1.TrainModelRequest{}, 0, 0, 0, 0, "", ""},
		{"everything", &discretv1.TrainModelRequest{Epsilon: 2, Delta: 1e-7, Iterations: 5, Factors: 32}, 2, 1e-7, 5, 32, "", ""},
		{"non-private ignores epsilon and delta", &discretv1.TrainModelRequest{Epsilon: -5, Delta: 7, NonPrivate: true}, math.Inf(1), 0, 0, 0, "", ""},
		{"negative epsilon", &discretv1.TrainModelRequest{Epsilon: -1}, 0, 0, 0, 0, "epsilon", "must be in [0.001, 100]"},
		{"epsilon below the floor", &discretv1.TrainModelRequest{Epsilon: 0.0001}, 0, 0, 0, 0, "epsilon", "must be in [0.001, 100]"},
		{"epsilon rounding to 0", &discretv1.TrainModelRequest{Epsilon: 1e-300}, 0, 0, 0, 0, "epsilon", "must be in [0.001, 100]"},
		{"huge epsilon", &discretv1.TrainModelRequest{Epsilon: 1e9}, 0, 0, 0, 0, "epsilon", "got 1e+09"},
		{"NaN epsilon", &discretv1.TrainModelRequest{Epsilon: math.NaN()}, 0, 0, 0, 0, "epsilon", "got NaN"},
		{"infinite epsilon", &discretv1.TrainModelRequest{Epsilon: math.Inf(1)}, 0, 0, 0, 0, "epsilon", "set non_private to true"},
		{"delta too big", &discretv1.TrainModelRequest{Delta: 0.5}, 0, 0, 0, 0, "delta", "must be in [1e-12, 0.001]"},
		{"delta too small", &discretv1.TrainModelRequest{Delta: 1e-300}, 0, 0, 0, 0, "delta", "must be in [1e-12, 0.001]"},
		{"negative iterations", &discretv1.TrainModelRequest{Iterations: -1}, 0, 0, 0, 0, "iterations", "must be 1-1000"},
		{"too many factors", &discretv1.TrainModelRequest{Factors: 4096}, 0, 0, 0, 0, "factors", "must be 1-1024"},
	} {
		cfg, err := decodeTrain(tt.req)
		if tt.field != "" {
			wantInvalid(t, "decodeTrain("+tt.name+")", err, tt.field, tt.wantText)
			continue
		}
		if err != nil || cfg.Epsilon != tt.eps || cfg.Delta != tt.delta || cfg.ALS.Iterations != tt.iters || cfg.ALS.Factors != tt.factors {
			t.Errorf("decodeTrain(%s) = ε %v δ %v iterations %d factors %d, %v", tt.name, cfg.Epsilon, cfg.Delta, cfg.ALS.Iterations, cfg.ALS.Factors, err)
		}
	}
}

func TestModelCard(t *testing.T) {
	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := release.Card{
		Version: "20260301-120000", Created: created, Private: true, RNG: release.RNGCrypto,
		Window:    budget.Window{From: created.AddDate(-1, 0, 0), To: created},
		Customers: release.Customers{Value: 12000, Method: "noisy", Sigma: 31.62},
		Items:     3706,
		Hyper:     release.Hyper{Factors: 64, Iterations: 8, Lambda: 0.1, Weights: map[string]float64{"purchase": 1}, Policy: "clip"},
		Privacy: &release.Privacy{Epsilon: 0.99, Delta: 1e-6, Rho: 0.02, Components: []budget.Component{
			{Name: "G", Multiplier: 12.5, Rho: 0.01}, {Name: "popularity", Multiplier: 40, Rho: 0.001},
		}},
		Evaluation: &release.Evaluation{Metrics: map[string]float64{"ndcg@10": 0.12}},
	}
	mc := modelCard(c)
	if mc.Version != c.Version || !mc.Created.AsTime().Equal(created) || !mc.Private || mc.Epsilon != 0.99 || mc.Delta != 1e-6 || mc.Rho != 0.02 ||
		mc.Items != 3706 || mc.Factors != 64 || mc.Rng != "crypto" || !mc.DataFrom.AsTime().Equal(c.Window.From) || !mc.DataTo.AsTime().Equal(created) {
		t.Errorf("modelCard = %v", mc)
	}
	if mc.TrainingCustomers != "12000 (noisy, σ = 31.6)" {
		t.Errorf("training customers = %q", mc.TrainingCustomers)
	}
	if len(mc.Charges) != 2 || mc.Charges[0].Component != "G" || mc.Charges[0].NoiseMultiplier != 12.5 || mc.Charges[1].Rho != 0.001 {
		t.Errorf("charges = %v", mc.Charges)
	}
	for k, want := range map[string]string{"factors": "64", "iterations": "8", "lambda": "0.1", "weights": `{"purchase":1}`, "policy": "clip"} {
		if got := mc.Parameters[k]; got != want {
			t.Errorf("parameters[%s] = %q, want %q", k, got, want)
		}
	}
	if mc.Evaluation["ndcg@10"] != 0.12 {
		t.Errorf("evaluation = %v", mc.Evaluation)
	}
	// A non-private card: ε = +Inf, no charges.
	np := modelCard(release.Card{Version: "v", Customers: release.Customers{Value: 1200, Method: "rounded"}})
	if !math.IsInf(np.Epsilon, 1) || np.Private || len(np.Charges) != 0 || np.TrainingCustomers != "1200 (rounded)" || np.Created != nil {
		t.Errorf("modelCard(non-private) = %v", np)
	}
}

func TestDecodeAuditQuery(t *testing.T) {
	t0 := time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC)
	ts := timestamppb.New
	token := strings.Repeat("0a", 12)
	for _, tt := range []struct {
		name  string
		req   *discretv1.ListAuditEntriesRequest
		want  store.AuditQuery
		field string // of the error; empty for success
		msg   string
	}{
		{"empty", &discretv1.ListAuditEntriesRequest{}, store.AuditQuery{Limit: DefaultAuditPageSize}, "", ""},
		{"everything", &discretv1.ListAuditEntriesRequest{Since: ts(t0), Until: ts(t0.Add(time.Hour)), Actions: []string{"forget", "model.use"}, PageSize: 7, PageToken: token},
			store.AuditQuery{Since: t0, Until: t0.Add(time.Hour), Actions: []store.AuditAction{store.AuditForget, store.AuditModelUse}, Limit: 7, Before: token}, "", ""},
		{"max page", &discretv1.ListAuditEntriesRequest{PageSize: MaxAuditPageSize}, store.AuditQuery{Limit: MaxAuditPageSize}, "", ""},
		{"page too large", &discretv1.ListAuditEntriesRequest{PageSize: MaxAuditPageSize + 1}, store.AuditQuery{}, "page_size", "must be 1-1000"},
		{"negative page", &discretv1.ListAuditEntriesRequest{PageSize: -1}, store.AuditQuery{}, "page_size", "must be 1-1000"},
		{"unknown action", &discretv1.ListAuditEntriesRequest{Actions: []string{"export", "erase"}}, store.AuditQuery{}, "actions[1]", `unknown action "erase"`},
		{"action looks like an e-mail", &discretv1.ListAuditEntriesRequest{Actions: []string{"ann@example.com"}}, store.AuditQuery{}, "actions[0]", "withheld"},
		{"bad token", &discretv1.ListAuditEntriesRequest{PageToken: "zz"}, store.AuditQuery{}, "page_token", "not a token"},
		{"until before since", &discretv1.ListAuditEntriesRequest{Since: ts(t0), Until: ts(t0)}, store.AuditQuery{}, "until", "must be after since"},
		{"bad time", &discretv1.ListAuditEntriesRequest{Since: &timestamppb.Timestamp{Seconds: math.MaxInt64}}, store.AuditQuery{}, "since", "invalid timestamp"},
	} {
		r := tt.req
		got, err := decodeAuditQuery(r.GetSince(), r.GetUntil(), r.GetActions(), r.GetPageSize(), r.GetPageToken())
		if tt.field != "" {
			wantInvalid(t, tt.name, err, tt.field, tt.msg)
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: decodeAuditQuery = %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
}
