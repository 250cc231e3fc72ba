package features_test

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/eventfile"
	"github.com/discret-io/discret/privacy"
)

var t0 = time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)

func customer(t testing.TB, s string) privacy.CustomerID {
	t.Helper()
	c, err := features.ParseCustomer(s)
	if err != nil {
		t.Fatalf("ParseCustomer(%q) = %v", s, err)
	}
	return c
}

// fieldOf returns the field named by err's *features.FieldError, or "" if
// there is none.
func fieldOf(err error) string {
	var fe *features.FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return ""
}

func TestValidate(t *testing.T) {
	c := customer(t, "LOY-00012345")
	ok := features.RawEvent{Customer: c, Item: "SKU-1", Kind: privacy.Purchase, Store: "store-01", Time: t0, Quantity: 2}
	with := func(f func(e *features.RawEvent)) features.RawEvent {
		e := ok
		f(&e)
		return e
	}
	tests := []struct {
		name      string
		e         features.RawEvent
		wantField string // "" means valid
		wantErr   error
	}{
		{"purchase in store", ok, "", nil},
		{"online view", with(func(e *features.RawEvent) { e.Kind, e.Store, e.Quantity = privacy.View, "", 1 }), "", nil},
		{"store visit", with(func(e *features.RawEvent) { e.Kind, e.Item, e.Quantity = privacy.StoreVisit, "", 1 }), "", nil},
		{"max quantity", with(func(e *features.RawEvent) { e.Quantity = features.MaxQuantity }), "", nil},
		{"epoch", with(func(e *features.RawEvent) { e.Time = time.Unix(0, 0) }), "", nil},
		{"item of max length", with(func(e *features.RawEvent) { e.Item = strings.Repeat("i", privacy.MaxIDLen) }), "", nil},
		{"no customer", with(func(e *features.RawEvent) { e.Customer = privacy.CustomerID{} }), features.FieldCustomer, features.ErrMissing},
		{"no kind", with(func(e *features.RawEvent) { e.Kind = 0 }), features.FieldType, features.ErrMissing},
		{"unknown kind", with(func(e *features.RawEvent) { e.Kind = 9 }), features.FieldType, features.ErrKind},
		{"item on store visit", with(func(e *features.RawEvent) { e.Kind = privacy.StoreVisit }), features.FieldItem, features.ErrItemOnVisit},
		{"store visit online", with(func(e *features.RawEvent) { e.Kind, e.Item, e.Store = privacy.StoreVisit, "", "" }), features.FieldStore, features.ErrStoreOnVisit},
		{"no item", with(func(e *features.RawEvent) { e.Item = "" }), features.FieldItem, privacy.ErrEmptyID},
		{"long item", with(func(e *features.RawEvent) { e.Item = strings.Repeat("i", privacy.MaxIDLen+1) }), features.FieldItem, privacy.ErrLongID},
		{"item not UTF-8", with(func(e *features.RawEvent) { e.Item = "SKU-\xff" }), features.FieldItem, privacy.ErrNotUTF8},
		{"item with newline", with(func(e *features.RawEvent) { e.Item = "SKU\n1" }), features.FieldItem, nil},
		{"long store", with(func(e *features.RawEvent) { e.Store = strings.Repeat("s", privacy.MaxIDLen+1) }), features.FieldStore, privacy.ErrLongID},
		// A customer id in the item or store column would reach the disk
		// as it is.
		{"e-mail as item", with(func(e *features.RawEvent) { e.Item = "ann@example.com" }), features.FieldItem, features.ErrEmailLike},
		{"e-mail as store", with(func(e *features.RawEvent) { e.Store = "ann@example.com" }), features.FieldStore, features.ErrEmailLike},
		{"no time", with(func(e *features.RawEvent) { e.Time = time.Time{} }), features.FieldTime, features.ErrMissing},
		{"before 1970", with(func(e *features.RawEvent) { e.Time = time.Unix(-1, 0) }), features.FieldTime, features.ErrTimeRange},
		{"after 2200", with(func(e *features.RawEvent) { e.Time = time.Date(2200, 1, 1, 0, 0, 1, 0, time.UTC) }), features.FieldTime, features.ErrTimeRange},
		{"zero quantity", with(func(e *features.RawEvent) { e.Quantity = 0 }), features.FieldQuantity, features.ErrQuantity},
		{"quantity too large", with(func(e *features.RawEvent) { e.Quantity = features.MaxQuantity + 1 }), features.FieldQuantity, features.ErrQuantity},
	}
	for _, tt := range tests {
		err := tt.e.Validate()
		if tt.wantField == "" {
			if err != nil {
				t.Errorf("%s: Validate() = %v, want nil", tt.name, err)
			}
			continue
		}
		if got := fieldOf(err); got != tt.wantField {
			t.Errorf("%s: Validate() = %v, want an error about field %s", tt.name, err, tt.wantField)
		}
		if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: Validate() = %v, want %v", tt.name, err, tt.wantErr)
		}
	}
}

// TestValidateEveryField: an event with several bad fields gets an error
// for each, in field order, so that the input is fixed in one go.
func TestValidateEveryField(t *testing.T) {
	e := features.RawEvent{Kind: privacy.StoreVisit, Item: "SKU-1", Time: time.Unix(-1, 0), Quantity: 0}
	err := e.Validate()
	var fes features.FieldErrors
	if !errors.As(err, &fes) {
		t.Fatalf("Validate() = %v, want FieldErrors", err)
	}
	var fields []string
	for _, fe := range fes {
		fields = append(fields, fe.Field)
	}
	want := []string{features.FieldCustomer, features.FieldItem, features.FieldStore, features.FieldTime, features.FieldQuantity}
	if !slices.Equal(fields, want) {
		t.Errorf("Validate() reports fields %v, want %v", fields, want)
	}
	if fieldOf(err) != features.FieldCustomer || !errors.Is(err, features.ErrQuantity) || features.Reason(err) != "invalid customer" {
		t.Errorf("Validate() = %v: want the first field for errors.As and Reason, and every cause for errors.Is", err)
	}
	if got := err.Error(); !strings.HasPrefix(got, "field customer: required; field item: ") || !strings.HasSuffix(got, `field quantity: "0": must be an integer from 1 to 1000000`) {
		t.Errorf("Validate() = %q", got)
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time
		wantErr error
	}{
		{"2026-03-01T12:30:00Z", t0, nil},
		{"2026-03-01T13:30:00+01:00", t0, nil},
		{"2026-03-01T07:30:00-05:00", t0, nil},
		{"2026-03-01T12:30:00.123456789Z", t0.Add(123 * time.Millisecond), nil},
		{"2026-03-01T12:30:00.5Z", t0.Add(500 * time.Millisecond), nil},
		{"  2026-03-01T12:30:00Z\t", t0, nil},
		{"1772368200", t0, nil},
		{"1772368200123", t0.Add(123 * time.Millisecond), nil},
		{"+1772368200", t0, nil},
		{"0", time.Unix(0, 0).UTC(), nil},
		{"-86400", time.Unix(-86400, 0).UTC(), nil},               // parsed; Validate rejects it
		{"99999999999", time.Unix(99999999999, 0).UTC(), nil},     // largest seconds value
		{"100000000000", time.UnixMilli(100000000000).UTC(), nil}, // smallest milliseconds value
		{"-100000000000", time.UnixMilli(-100000000000).UTC(), nil},
		{"", time.Time{}, features.ErrMissing},
		{"   ", time.Time{}, features.ErrMissing},
		{"yesterday", time.Time{}, features.ErrTime},
		{"1772368200.5", time.Time{}, features.ErrTime},
		{"2026-03-01 12:30:00", time.Time{}, features.ErrTime},
		{"2026-02-30T12:30:00Z", time.Time{}, features.ErrTime},
		{"2026-03-01T12:30:00", time.Time{}, features.ErrTime},
		{"99999999999999999999", time.Time{}, features.ErrTime}, // overflows int64
		{"9223372036854775807", time.Time{}, features.ErrTimeRange},
		{"-9223372036854775808", time.Time{}, features.ErrTimeRange},
	}
	for _, tt := range tests {
		got, err := features.ParseTime(tt.in)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) || fieldOf(err) != features.FieldTime {
				t.Errorf("ParseTime(%q) = %v, %v; want error %v on field time", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %v, %v; want %v (UTC), nil", tt.in, got, err, tt.want)
		}
	}
}

func TestParseQuantity(t *testing.T) {
	tests := []struct {
		in   string
		want uint32
		ok   bool
	}{
		{"", 1, true},
		{"1", 1, true},
		{" 7 ", 7, true},
		{"007", 7, true},
		{"1000000", features.MaxQuantity, true},
		{"1000001", 0, false},
		{"0", 0, false},
		{"-1", 0, false},
		{"1.0", 0, false},
		{"two", 0, false},
		{"99999999999999999999", 0, false},
	}
	for _, tt := range tests {
		got, err := features.ParseQuantity(tt.in)
		if tt.ok {
			if err != nil || got != tt.want {
				t.Errorf("ParseQuantity(%q) = %d, %v; want %d, nil", tt.in, got, err, tt.want)
			}
			continue
		}
		if !errors.Is(err, features.ErrQuantity) || fieldOf(err) != features.FieldQuantity {
			t.Errorf("ParseQuantity(%q) = %d, %v; want ErrQuantity on field quantity", tt.in, got, err)
		}
	}
}

func TestParseCustomer(t *testing.T) {
	tests := []struct {
		in      string
		wantErr error // nil means valid
	}{
		{"LOY-00012345", nil},
		{"jane.doe@example.com", nil},
		{strings.Repeat("x", privacy.MaxIDLen), nil},
		{"", privacy.ErrEmptyID},
		{strings.Repeat("LOY-00012345", 30), privacy.ErrLongID},
		{"LOY-\xff\xfe", privacy.ErrNotUTF8},
		{"LOY-\x0000012345", nil}, // control character: some error, checked below
	}
	for _, tt := range tests {
		c, err := features.ParseCustomer(tt.in)
		valid := tt.wantErr == nil && !strings.ContainsRune(tt.in, 0)
		if valid {
			if err != nil || c.IsZero() {
				t.Errorf("ParseCustomer(%q) = %v, %v; want a customer, nil", tt.in, c, err)
			}
			continue
		}
		if err == nil || fieldOf(err) != features.FieldCustomer {
			t.Errorf("ParseCustomer(%q) = %v; want an error on field customer", tt.in, err)
			continue
		}
		if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
			t.Errorf("ParseCustomer(%q) = %v; want %v", tt.in, err, tt.wantErr)
		}
		var fe *features.FieldError
		if errors.As(err, &fe) && fe.Value != "" {
			t.Errorf("ParseCustomer(%q): FieldError.Value = %q, want empty", tt.in, fe.Value)
		}
		if msg := err.Error(); strings.Contains(msg, "LOY-") || strings.Contains(msg, "xxx") {
			t.Errorf("ParseCustomer(%q) = %q: the message echoes the identifier", tt.in, msg)
		}
	}
}

func TestParseKind(t *testing.T) {
	for _, k := range privacy.EventKinds {
		if got, err := features.ParseKind(k.String()); got != k || err != nil {
			t.Errorf("ParseKind(%q) = %v, %v; want %v, nil", k.String(), got, err, k)
		}
	}
	tests := []struct {
		in      string
		wantErr error
	}{
		{"", features.ErrMissing},
		{"click", features.ErrKind},
		{"VIEW", features.ErrKind},
		{"view ", features.ErrKind},
		{strings.Repeat("é", 10_000), features.ErrKind},
	}
	for _, tt := range tests {
		got, err := features.ParseKind(tt.in)
		if !errors.Is(err, tt.wantErr) || fieldOf(err) != features.FieldType {
			t.Errorf("ParseKind(%.20q) = %v, %v; want %v on field type", tt.in, got, err, tt.wantErr)
			continue
		}
		// The message stays short and valid UTF-8 however long the input.
		if msg := err.Error(); len(msg) > 200 || !utf8.ValidString(msg) {
			t.Errorf("ParseKind(%.20q) error = %q (%d bytes), want at most 200 bytes of UTF-8", tt.in, msg, len(msg))
		}
	}
}

// TestValueClipping checks that values echoed in errors are clipped at a rune
// boundary: 63 ASCII bytes followed by 2-byte runes put the 64-byte cut in
// the middle of a rune.
func TestValueClipping(t *testing.T) {
	long := strings.Repeat("a", 63) + strings.Repeat("é", 10)
	tests := []struct {
		name string
		err  error
	}{
		{"ParseKind", func() error { _, err := features.ParseKind(long); return err }()},
		{"ParseQuantity", func() error { _, err := features.ParseQuantity(long); return err }()},
		{"ParseTime", func() error { _, err := features.ParseTime(long); return err }()},
		{"Validate", func() error {
			e := features.RawEvent{Customer: customer(t, "c"), Kind: privacy.StoreVisit, Item: long, Store: "s", Time: t0, Quantity: 1}
			return e.Validate()
		}()},
	}
	for _, tt := range tests {
		var fe *features.FieldError
		if !errors.As(tt.err, &fe) {
			t.Errorf("%s(long) = %v, want a *FieldError", tt.name, tt.err)
			continue
		}
		if want := strings.Repeat("a", 63) + "…"; fe.Value != want {
			t.Errorf("%s(long): Value = %q, want %q", tt.name, fe.Value, want)
		}
	}
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&features.FieldError{Field: "quantity", Value: "0", Err: features.ErrQuantity}, `field quantity: "0": must be an integer from 1 to 1000000`},
		{&features.FieldError{Field: "customer", Err: privacy.ErrEmptyID}, "field customer: required (want 1-256 bytes of UTF-8 without control characters)"},
		{&features.FieldError{Field: "item", Value: "a\nb", Err: privacy.ErrEmptyID}, `field item: "a\nb": required (want 1-256 bytes of UTF-8 without control characters)`},
		{&features.FieldError{Field: "store", Err: privacy.ErrNotUTF8}, "field store: want 1-256 bytes of UTF-8 without control characters (identifier is not valid UTF-8)"},
		{&features.FieldError{Field: "price", Err: eventfile.ErrUnknownField}, "field price: unknown field"},
		// Shifted columns put a customer id where a value is quoted.
		{&features.FieldError{Field: "time", Value: "alice@example.com", Err: features.ErrTime}, "field time: value withheld (an e-mail address: a customer id in the wrong column?): " + features.ErrTime.Error()},
		{&features.RowError{Row: 7, Err: &features.FieldError{Field: features.FieldRecord, Err: fmt.Errorf("%w JSON: text after the object at byte 9", eventfile.ErrSyntax)}}, "row 7: malformed JSON: text after the object at byte 9"},
		{&features.RowError{Row: 12, Err: &features.FieldError{Field: "type", Err: features.ErrMissing}}, "row 12: field type: required"},
		{&features.RowError{Row: 3, Err: errors.New("too many columns")}, "row 3: too many columns"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	wrapped := fmt.Errorf("import: %w", &features.RowError{Row: 1, Err: &features.FieldError{Field: "time", Err: features.ErrTime}})
	if !errors.Is(wrapped, features.ErrTime) {
		t.Errorf("errors.Is(%v, ErrTime) = false, want true", wrapped)
	}
	var re *features.RowError
	if !errors.As(wrapped, &re) || re.Row != 1 {
		t.Errorf("errors.As(%v, *RowError) = %v, want row 1", wrapped, re)
	}
}

func TestReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&features.FieldError{Field: "customer", Err: privacy.ErrEmptyID}, "invalid customer"},
		{&features.RowError{Row: 2, Err: &features.FieldError{Field: "time", Err: features.ErrTime}}, "invalid time"},
		{fmt.Errorf("batch: %w", &features.RowError{Row: 2, Err: &features.FieldError{Field: "item"}}), "invalid item"},
		{&features.RowError{Row: 2, Err: errors.New("3 columns, want 4")}, "malformed row"},
		{errors.New("anything"), "malformed row"},
	}
	for _, tt := range tests {
		if got := features.Reason(tt.err); got != tt.want {
			t.Errorf("Reason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestFieldsOrder(t *testing.T) {
	want := []string{"customer", "item", "type", "store", "time", "quantity"}
	if fmt.Sprint(features.Fields) != fmt.Sprint(want) {
		t.Errorf("Fields = %v, want %v", features.Fields, want)
	}
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2026-03-01T12:30:00Z", "2026-03-01T12:30:00.123+02:00", "1772368200", "1772368200123", "-5", "", "x", "99999999999", "100000000000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := features.ParseTime(s)
		if err != nil {
			if fieldOf(err) != features.FieldTime {
				t.Fatalf("ParseTime(%q) = %v, want an error on field time", s, err)
			}
			return
		}
		if got.Location() != time.UTC || got.Nanosecond()%int(time.Millisecond) != 0 {
			t.Fatalf("ParseTime(%q) = %v, want UTC with millisecond precision", s, got)
		}
		if got.Year() < 1970 || got.Year() >= 2200 {
			return // parsed, but Validate rejects it
		}
		// Round trip through both textual forms.
		for _, text := range []string{got.Format(time.RFC3339Nano), strconv.FormatInt(got.UnixMilli(), 10)} {
			if text == strconv.FormatInt(got.UnixMilli(), 10) && got.UnixMilli() < 1e11 {
				continue // small millisecond values read as seconds, by design
			}
			back, err := features.ParseTime(text)
			if err != nil || !back.Equal(got) {
				t.Fatalf("ParseTime(%q) = %v, %v; want %v (from ParseTime(%q))", text, back, err, got, s)
			}
		}
	})
}

func FuzzParseQuantity(f *testing.F) {
	for _, s := range []string{"", "1", "1000000", "1000001", "-3", " 4 ", "1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := features.ParseQuantity(s)
		if err != nil {
			if !errors.Is(err, features.ErrQuantity) || fieldOf(err) != features.FieldQuantity {
				t.Fatalf("ParseQuantity(%q) = %v, want ErrQuantity on field quantity", s, err)
			}
			return
		}
		if got < 1 || got > features.MaxQuantity {
			t.Fatalf("ParseQuantity(%q) = %d, want 1..%d", s, got, features.MaxQuantity)
		}
		if back, err := features.ParseQuantity(strconv.FormatUint(uint64(got), 10)); back != got || err != nil {
			t.Fatalf("ParseQuantity(%d) = %d, %v; want %d", got, back, err, got)
		}
	})
}

func ExampleRawEvent_Validate() {
	c, err := features.ParseCustomer("LOY-00012345")
	if err != nil {
		panic(err)
	}
	e := features.RawEvent{Customer: c, Item: "SKU-000042", Kind: privacy.Purchase, Store: "store-01", Quantity: 0}
	e.Time, _ = features.ParseTime("2026-03-01T12:30:00Z")
	fmt.Println(e.Validate())
	e.Quantity = 2
	fmt.Println(e.Validate())
	fmt.Printf("%v bought %s\n", e.Customer, e.Item)
	// Output:
	// field quantity: "0": must be an integer from 1 to 1000000
	// <nil>
	// [redacted customer id] bought SKU-000042
}

func TestClipAt(t *testing.T) {
	for _, tt := range []struct {
		s    string
		n    int
		head string
		cut  bool
	}{
		{"abc", 3, "abc", false},
		{"abcd", 3, "abc", true},
		{"aé", 2, "a", true}, // é is 2 bytes: not cut in its middle
		{"", 0, "", false},
	} {
		if head, cut := features.ClipAt(tt.s, tt.n); head != tt.head || cut != tt.cut {
			t.Errorf("ClipAt(%q, %d) = %q, %v; want %q, %v", tt.s, tt.n, head, cut, tt.head, tt.cut)
		}
	}
}
