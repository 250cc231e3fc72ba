package store

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/discret-io/discret/features"
)

func TestItems(t *testing.T) {
	db := smallStore(t, "", nil)
	ctx := t.Context()
	if got, err := db.Items(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Items of an empty store = %v, %v; want none", got, err)
	}
	in := []features.Item{
		{ID: "sku-2", Category: "shoes", Stores: []string{"s1", "s2"}, Active: true},
		{ID: "sku-1", Active: false},
		{ID: "sku-3", Category: "hats", Active: true},
	}
	if err := db.PutItems(ctx, in); err != nil {
		t.Fatal(err)
	}
	// Replace one.
	if err := db.PutItems(ctx, []features.Item{{ID: "sku-1", Category: "socks", Stores: []string{"s9"}, Active: true}}); err != nil {
		t.Fatal(err)
	}
	got, err := db.Items(ctx)
	want := []features.Item{
		{ID: "sku-1", Category: "socks", Stores: []string{"s9"}, Active: true},
		in[0], in[2],
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Items() = %+v, %v; want %+v", got, err, want)
	}

	bad := []features.Item{{ID: "ok"}, {ID: "", Category: "x"}}
	err = db.PutItems(ctx, bad)
	var fe *features.FieldError
	if !errors.Is(err, ErrInvalidCatalogue) || !errors.As(err, &fe) || fe.Field != "item" || !strings.Contains(err.Error(), "item 1") {
		t.Errorf("PutItems(invalid item 1) = %v; want ErrInvalidCatalogue naming item 1, field item", err)
	}
	if got, _ := db.Items(ctx); len(got) != 3 {
		t.Errorf("after a refused batch, %d items; want 3 (nothing written)", len(got))
	}
}

// TestItemsChunked writes more items than one transaction holds.
func TestItemsChunked(t *testing.T) {
	db := smallStore(t, "", nil)
	ctx := t.Context()
	stores := make([]string, 40)
	for i := range stores {
		stores[i] = fmt.Sprintf("store-%03d", i)
	}
	in := make([]features.Item, 3000)
	for i := range in {
		in[i] = features.Item{ID: fmt.Sprintf("sku-%05d", i), Category: "c", Stores: stores, Active: i%2 == 0}
	}
	if n := len(in) * (len(encodeItem(&in[0])) + 10 + catalogueEntryCost); n < 3*db.catalogueTxnBudget() {
		t.Fatalf("test batch of %d bytes fits in too few transactions (budget %d)", n, db.catalogueTxnBudget())
	}
	if err := db.PutItems(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, err := db.Items(ctx)
	if err != nil || !reflect.DeepEqual(got, in) {
		t.Errorf("Items() after a chunked put: %d items, %v; want the %d written", len(got), err, len(in))
	}
}

func TestCoupons(t *testing.T) {
	db := smallStore(t, "", nil)
	ctx := t.Context()
	from := time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC)
	in := []features.Coupon{
		{ID: "c-2", Item: "sku-1", Stores: []string{"s1"}, Value: "-20%", ValidFrom: from, ValidUntil: from.Add(48 * time.Hour), Active: true},
		{ID: "c-1", Item: "sku-2", Stores: []string{"s1", "s2"}, Value: "5 EUR off", ValidFrom: from.Add(-time.Hour), ValidUntil: from.Add(time.Hour + 123*time.Millisecond)},
	}
	if err := db.PutCoupons(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, err := db.Coupons(ctx)
	want := []features.Coupon{in[1], in[0]}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Coupons() = %+v, %v; want %+v", got, err, want)
	}
	err = db.PutCoupons(ctx, []features.Coupon{{ID: "c-3", Item: "sku-1", Stores: []string{"s1"}, Value: "-1%", ValidFrom: from, ValidUntil: from}})
	if !errors.Is(err, ErrInvalidCatalogue) {
		t.Errorf("PutCoupons(valid_until = valid_from) = %v; want ErrInvalidCatalogue", err)
	}
}

func TestCatalogueValueCorrupt(t *testing.T) {
	valid := encodeItem(&features.Item{ID: "x", Category: "c", Stores: []string{"s"}, Active: true})
	for _, v := range [][]byte{
		nil,
		{valueV1},
		{2, 1, 0, 0},                      // unknown version
		{valueV1, 2, 0, 0},                // unknown flags
		append(slices.Clone(valid), 0),    // trailing byte
		valid[:len(valid)-1],              // truncated
		{valueV1, 1, 0, 0xff, 0xff, 0x7f}, // huge store count
	} {
		if _, err := decodeItem(v); !errors.Is(err, ErrCorrupt) {
			t.Errorf("decodeItem(%x) = %v; want ErrCorrupt", v, err)
		}
	}
}

// FuzzItemValue checks that decodeItem accepts exactly what encodeItem
// writes: any value it accepts re-encodes to the same bytes.
func FuzzItemValue(f *testing.F) {
	f.Add(encodeItem(&features.Item{ID: "a", Category: "shoes", Stores: []string{"s1", "s2"}, Active: true}))
	f.Add(encodeItem(&features.Item{ID: "b"}))
	f.Add([]byte{valueV1, 1, 0, 1, 0})
	f.Fuzz(func(t *testing.T, v []byte) {
		it, err := decodeItem(v)
		if err != nil {
			return
		}
		if again := encodeItem(&it); string(again) != string(v) {
			t.Errorf("decodeItem(%x) = %+v, which encodes to %x", v, it, again)
		}
	})
}

// FuzzCouponValue is FuzzItemValue for coupons.
func FuzzCouponValue(f *testing.F) {
	at := time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Add(encodeCoupon(&features.Coupon{ID: "c", Item: "i", Stores: []string{"s"}, Value: "-20%", ValidFrom: at, ValidUntil: at.Add(time.Hour), Active: true}))
	f.Add(encodeCoupon(&features.Coupon{ID: "c", Item: "i", ValidFrom: time.UnixMilli(-5), ValidUntil: time.UnixMilli(7)}))
	f.Fuzz(func(t *testing.T, v []byte) {
		c, err := decodeCoupon(v)
		if err != nil {
			return
		}
		if again := encodeCoupon(&c); string(again) != string(v) {
			t.Errorf("decodeCoupon(%x) = %+v, which encodes to %x", v, c, again)
		}
	})
}
