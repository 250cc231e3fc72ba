package eventfile

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/discret-io/discret/features"
)

// FuzzFastPaths checks that the byte-slice conversions return exactly what
// the features functions return.
func FuzzFastPaths(f *testing.F) {
	for _, s := range []string{
		"", "0", "1", "1000000", "1000001", "0001", "99999999999", "100000000000", "9223372036854", "9223372036855",
		"999999999999999999", "2026-03-01T12:30:00Z", "2026-03-01T12:30:00.123456789123Z", "2024-02-29T23:59:59+14:00",
		"2023-02-29T00:00:00Z", "0000-01-01T00:00:00-23:59", "2026-03-01T12:30:00.Z", "2026-03-01t12:30:00z",
		" 2026-03-01T12:30:00Z", "2026-03-01T24:00:00Z", "view", "purchase", "store_visit", "Purchase",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := string(b)
		gt, gerr := parseTime(b)
		wt, werr := features.ParseTime(s)
		if !gt.Equal(wt) || gt.Location() != wt.Location() || !sameErr(gerr, werr) {
			t.Errorf("parseTime(%q) = %v, %v; features.ParseTime = %v, %v", s, gt, gerr, wt, werr)
		}
		gq, gerr := quantity(b)
		wq, werr := features.ParseQuantity(s)
		if gq != wq || !sameErr(gerr, werr) {
			t.Errorf("quantity(%q) = %v, %v; features.ParseQuantity = %v, %v", s, gq, gerr, wq, werr)
		}
		gk, gerr := kind(b)
		wk, werr := features.ParseKind(s)
		if gk != wk || !sameErr(gerr, werr) {
			t.Errorf("kind(%q) = %v, %v; features.ParseKind = %v, %v", s, gk, gerr, wk, werr)
		}
		var bld builder
		for range 2 { // the second call hits the cache
			gc, gerr := bld.customer(b)
			wc, werr := features.ParseCustomer(s)
			if gc != wc || !sameErr(gerr, werr) {
				t.Errorf("customer(%q) = %v, %v; features.ParseCustomer = %v, %v", s, gc, gerr, wc, werr)
			}
		}
		if got := bld.id(b); got != s {
			t.Errorf("id(%q) = %q", s, got)
		}
	})
}

func sameErr(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}

// FuzzCSVSplit checks the record splitter against encoding/csv: the same
// records until the first error, an error at the same record.
func FuzzCSVSplit(f *testing.F) {
	for _, s := range []string{
		"a,b,c\n", "a,\"b,c\",d\r\n\n\"x\"\"y\",\n", "\"multi\nline\",x\n", "a\"b\n", "\"a\"b\n", "\"unterminated\n",
		",,\n", "\"\"\n", "a\r\nb\rc\n", "\"a\r\nb\"\n", "x\r",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.HasPrefix(data, bom) || len(data) > MaxLineLen/2 {
			return // the splitter drops a BOM; encoding/csv keeps it
		}
		std := csv.NewReader(bytes.NewReader(data))
		std.FieldsPerRecord = -1
		ours := &csvReader{lr: newLineReader(bytes.NewReader(data))}
		for i := 0; ; i++ {
			want, werr := std.Read()
			got, line, rowErr, err := ours.next()
			if werr == io.EOF {
				if err != io.EOF {
					t.Fatalf("record %d: encoding/csv ends, we return %q, %v, %v", i, got, rowErr, err)
				}
				return
			}
			if werr != nil {
				if rowErr == nil && err == nil {
					t.Fatalf("record %d: encoding/csv: %v; we return %q", i, werr, got)
				}
				return // recovery after an error differs by design
			}
			if err != nil || rowErr != nil {
				t.Fatalf("record %d: encoding/csv reads %q; we return %v, %v", i, want, rowErr, err)
			}
			if wl, _ := std.FieldPos(0); wl != line {
				t.Fatalf("record %d starts at line %d, encoding/csv says %d", i, line, wl)
			}
			if len(got) != len(want) {
				t.Fatalf("record %d = %q, encoding/csv reads %q", i, got, want)
			}
			for j := range got {
				if string(got[j]) != want[j] {
					t.Fatalf("record %d = %q, encoding/csv reads %q", i, got, want)
				}
			}
		}
	})
}

// FuzzJSONScan checks the flat-object scanner against encoding/json: what we
// accept, encoding/json accepts with the same values; an object of known
// fields and scalar values that encoding/json accepts, we accept.
func FuzzJSONScan(f *testing.F) {
	for _, s := range []string{
		`{"customer":"a","item":"b","type":"view","time":1,"quantity":2}`, `{}`, ` { "store" : null } `,
		`{"item":"\u00e9\ud83d\ude00\ud800x\/\\\"\b\f\n\r\t"}`, `{"customer":"a","customer":"b"}`, `{"x":1}`,
		`{"time":-0.5e+3}`, `{"time":01}`, `{"time":1.}`, `{"store":true}`, `{"item":"a"}x`, `{"item":["a"]}`,
		`{"\u0063ustomer":"a"}`, `{"item":"a",}`, `{"item":"a"`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.IndexByte(data, '\n') >= 0 || !utf8.Valid(data) {
			return // one line per object; encoding/json replaces invalid UTF-8
		}
		o := newJSONObject(features.Fields)
		bad, err := o.scan(data)
		var std map[string]any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		stdErr := dec.Decode(&std)
		if stdErr == nil {
			if _, err := dec.Token(); err != io.EOF {
				stdErr = errors.New("trailing data")
			}
		}
		if err != nil {
			var fe *features.FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("scan(%q) = %v, want a *FieldError naming a field", data, err)
			}
			if stdErr != nil || std == nil {
				return
			}
			// Our stricter rules are member problems (bad), never err.
			t.Fatalf("scan(%q) = %v; encoding/json accepts it: %v", data, err, std)
		}
		if stdErr != nil {
			t.Fatalf("scan(%q) = nil; encoding/json: %v", data, stdErr)
		}
		if std == nil {
			t.Fatalf("scan(%q) = nil; encoding/json reads null", data)
		}
		// Member problems: only our stricter rules, each naming a field;
		// every unknown member is reported.
		reported, unknown := map[string]bool{}, map[string]bool{}
		for _, fe := range bad {
			switch {
			case fe.Field == "":
				t.Fatalf("scan(%q) member problem %v names no field", data, fe)
			case errors.Is(fe, ErrDuplicateField):
				return // encoding/json keeps the last value, we the first
			case errors.Is(fe, ErrUnknownField):
				reported[fe.Field] = true
			case errors.Is(fe, ErrJSONType):
				delete(std, fe.Field) // a composite value of a known member
			default:
				t.Fatalf("scan(%q) member problem %v, want an unknown, repeated or composite field", data, fe)
			}
		}
		for k := range std {
			if !slices.Contains(features.Fields, k) {
				unknown[features.FieldLabel(k)] = true
				delete(std, k)
			}
		}
		if !maps.Equal(reported, unknown) {
			t.Fatalf("scan(%q) reports unknown members %v; encoding/json reads %v", data, reported, unknown)
		}
		got := map[string]any{}
		for k, v := range o.vals {
			switch v.kind {
			case jsonString:
				got[o.keys[k]] = string(v.b)
			case jsonNumber:
				got[o.keys[k]] = json.Number(v.b)
			case jsonBool:
				got[o.keys[k]] = string(v.b) == "true"
			}
		}
		for k, v := range std {
			if v == nil {
				delete(std, k) // null means absent
			}
		}
		// encoding/json matches keys case-insensitively only for structs;
		// for a map the keys must match exactly, as ours do.
		if !reflect.DeepEqual(got, std) {
			t.Fatalf("scan(%q) = %v; encoding/json reads %v", data, got, std)
		}
	})
}

func TestFieldName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"price", "price"},
		{"Unit_Price-2.0", "Unit_Price-2.0"},
		{"", `""`},
		{"a b", `"a b"`},
		{"é\n", `"\u00e9\n"`},
		{strings.Repeat("x", 40), `"` + strings.Repeat("x", 32) + `"…`},
	}
	for _, tt := range tests {
		if got := features.FieldLabel(tt.in); got != tt.want {
			t.Errorf("FieldLabel(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
