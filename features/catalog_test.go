package features

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCatalogueJSONDefaults(t *testing.T) {
	tests := []struct {
		in         string
		wantActive bool
		wantErr    bool
	}{
		{`{"item":"SKU-1"}`, true, false},
		{`{"item":"SKU-1","active":false}`, false, false},
		{`{"item":"SKU-1","active":true}`, true, false},
		{`{"item":"SKU-1","comment":"free text"}`, false, true},
		{`{"item":"SKU-1","item":"SKU-2"}`, false, true},
		{`{"item":"SKU-1","active":null}`, true, false},
		{`{"item":"SKU-1","active":"yes"}`, false, true},
		{`["SKU-1"]`, false, true},
	}
	for _, tt := range tests {
		var it Item
		err := json.Unmarshal([]byte(tt.in), &it)
		if (err != nil) != tt.wantErr || (err == nil && it.Active != tt.wantActive) {
			t.Errorf("Unmarshal(%s) = %+v, %v; want active %v, error %v", tt.in, it, err, tt.wantActive, tt.wantErr)
		}
		var c Coupon
		err = json.Unmarshal([]byte(tt.in), &c)
		if (err != nil) != tt.wantErr || (err == nil && c.Active != tt.wantActive) {
			t.Errorf("Unmarshal coupon (%s) = %+v, %v; want active %v, error %v", tt.in, c, err, tt.wantActive, tt.wantErr)
		}
	}
}

func TestFieldLabelWithholdsEmail(t *testing.T) {
	tests := []struct{ in, want string }{
		{"price", "price"},
		{"a b", `"a b"`},
		{"alice@example.com", WithheldName},
		{"@", WithheldName},
		// Clipping would leave the local part: withheld whole.
		{"alice.smith.with.a.long.local.part@example.com", WithheldName},
	}
	for _, tt := range tests {
		if got := FieldLabel(tt.in); got != tt.want {
			t.Errorf("FieldLabel(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	// As a catalogue key: the message never holds the address.
	var it Item
	err := json.Unmarshal([]byte(`{"item":"SKU-1","alice@example.com":1}`), &it)
	if err == nil || strings.Contains(err.Error(), "alice") || !strings.Contains(err.Error(), WithheldName) {
		t.Errorf("Unmarshal with an e-mail address as a key: %v; want an error naming %s, without the address", err, WithheldName)
	}
}

// FuzzCatalogueJSON: decoding never panics; a decoded item or coupon
// encodes to JSON that decodes to the same value, and an error is a field
// error (every one naming a field) rather than a Go-internal message.
func FuzzCatalogueJSON(f *testing.F) {
	for _, s := range []string{
		`{"item":"SKU-1","category":"shoes","stores":["s1"],"active":true}`,
		`{"item":"SKU-1","item":"x"}`, `{"item":1,"stores":"s"}`, `[1]`, `null`, `{"active":null}`,
		`{"coupon":"C","item":"I","stores":["s"],"value":"-1","valid_from":"2035-01-01T00:00:00Z","valid_until":"2035-02-01T00:00:00Z"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(what string, v, w any) {
			err := json.Unmarshal(b, v)
			if err != nil {
				if !json.Valid(b) {
					return // json.Unmarshal's syntax error, before any method runs
				}
				var fe *FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("%s: Unmarshal(%q) = %v, want a *FieldError", what, b, err)
				}
				return
			}
			out, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("%s: Marshal(%+v): %v", what, v, err)
			}
			if err := json.Unmarshal(out, w); err != nil {
				t.Fatalf("%s: Unmarshal(Marshal(%+v)) = %v", what, v, err)
			}
			if !reflect.DeepEqual(normalize(v), normalize(w)) {
				t.Fatalf("%s: round trip of %q: %+v, then %+v", what, b, v, w)
			}
		}
		check("item", new(Item), new(Item))
		check("coupon", new(Coupon), new(Coupon))
	})
}

// normalize makes an empty store list nil, as omitempty encodes both alike.
func normalize(v any) any {
	switch x := v.(type) {
	case *Item:
		c := *x
		if len(c.Stores) == 0 {
			c.Stores = nil
		}
		return c
	case *Coupon:
		c := *x
		if len(c.Stores) == 0 {
			c.Stores = nil
		}
		return c
	}
	return v
}

// TestCatalogueRefusesEmailLikeIDs: a catalogue entry whose id, category,
// stores, coupon or coupon item looks like an e-mail address (most likely a
// customer id in the wrong field) is refused, naming the field: it would be
// stored as it is.
func TestCatalogueRefusesEmailLikeIDs(t *testing.T) {
	from := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	item := Item{ID: "SKU-1", Category: "shoes", Stores: []string{"s1", "s2"}, Active: true}
	coupon := Coupon{ID: "C1", Item: "SKU-1", Value: "-10%", Stores: []string{"s1"}, ValidFrom: from, ValidUntil: from.Add(time.Hour)}
	if err := item.Validate(); err != nil {
		t.Fatalf("Item.Validate() = %v", err)
	}
	if err := coupon.Validate(); err != nil {
		t.Fatalf("Coupon.Validate() = %v", err)
	}
	const email = "ann@example.com"
	for _, tt := range []struct {
		name, field string
		err         error
	}{
		{"item id", "item", func() error { it := item; it.ID = email; return it.Validate() }()},
		{"category", "category", func() error { it := item; it.Category = email; return it.Validate() }()},
		{"item store", "stores[1]", func() error { it := item; it.Stores = []string{"s1", email}; return it.Validate() }()},
		{"coupon id", "coupon", func() error { c := coupon; c.ID = email; return c.Validate() }()},
		{"coupon item", "item", func() error { c := coupon; c.Item = email; return c.Validate() }()},
		{"coupon store", "stores[0]", func() error { c := coupon; c.Stores = []string{email}; return c.Validate() }()},
	} {
		var fe *FieldError
		if !errors.Is(tt.err, ErrEmailLike) || !errors.As(tt.err, &fe) || fe.Field != tt.field {
			t.Errorf("%s %s: Validate() = %v, want ErrEmailLike on field %s", tt.name, email, tt.err, tt.field)
		}
		if strings.Contains(tt.err.Error(), email) {
			t.Errorf("%s: the error %q echoes the value", tt.name, tt.err)
		}
	}
}

// TestFieldErrorsAdd: Add keeps the first problem of each field, in the
// order added.
func TestFieldErrorsAdd(t *testing.T) {
	item1 := &FieldError{Field: FieldItem, Err: ErrMissing}
	item2 := &FieldError{Field: FieldItem, Value: "x", Err: ErrUnknownField}
	store := &FieldError{Field: FieldStore, Err: ErrMissing}
	tests := []struct {
		name string
		add  []*FieldError
		want FieldErrors
	}{
		{"none", nil, nil},
		{"one", []*FieldError{item1}, FieldErrors{item1}},
		{"two fields", []*FieldError{store, item1}, FieldErrors{store, item1}},
		{"same field twice", []*FieldError{item1, store, item2}, FieldErrors{item1, store}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var es FieldErrors
			for _, fe := range tt.add {
				es.Add(fe)
			}
			if !reflect.DeepEqual(es, tt.want) {
				t.Errorf("Add(%v) = %v, want %v", tt.add, es, tt.want)
			}
		})
	}
}
