package eventfile_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/eventfile"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

func readConsent(t *testing.T, in string) ([]eventfile.ConsentRecord, error) {
	t.Helper()
	var recs []eventfile.ConsentRecord
	for r, err := range eventfile.ReadConsent(context.Background(), strings.NewReader(in)) {
		if err != nil {
			return recs, err
		}
		recs = append(recs, r)
	}
	return recs, nil
}

func TestReadConsent(t *testing.T) {
	c := cust(t, "LOY-10012345")
	grant := consent.Change{Purpose: privacy.Personalization, Granted: true, Time: t0, Source: "web-form"}
	type row = struct {
		line   int
		change *consent.Change
		field  string
		err    error
	}
	withdraw := consent.Change{Purpose: privacy.InStore, Granted: false, Time: t0, Source: "pos:store-12"}
	cases := []struct {
		name string
		in   string
		want []row
	}{
		{"jsonl", strings.Join([]string{
			`{"customer":"LOY-10012345","purpose":"personalization","granted":true,"time":"2026-03-01T12:30:00Z","source":"web-form"}`,
			`{"source":"pos:store-12","time":1772368200,"granted":false,"purpose":"in_store","customer":"LOY-10012345"}`,
			`{"customer":"LOY-10012345","purpose":"marketing","granted":true,"time":0,"source":"x"}`,
			`{"customer":"LOY-10012345","purpose":"in_store","granted":"true","time":0,"source":"x"}`,
			`{"customer":"LOY-10012345","purpose":"in_store","granted":true,"time":0,"source":"free text"}`,
			`{"customer":"LOY-10012345","purpose":"in_store","granted":true,"time":0}`,
			`{"customer":"LOY-10012345","purpose":"in_store","granted":true,"time":0,"source":"x","note":"hi"}`,
			`{"customer":"","purpose":"in_store","granted":true,"time":0,"source":"x"}`,
			`{"customer":"LOY-10012345","purpose":"in_store","time":0,"source":"x"}`,
			`{"customer":"LOY-10012345","purpose":"in_store","granted":true,"time":"1969-01-01T00:00:00Z","source":"x"}`,
			`{"customer":"LOY-10012345","purpose":"in_store","granted":true,"source":"x"}`,
			`not json`,
		}, "\n"), []row{
			{1, &grant, "", nil},
			{2, &withdraw, "", nil},
			{3, nil, "purpose", nil},
			{4, nil, "granted", eventfile.ErrJSONType},
			{5, nil, "source", consent.ErrBadSource},
			{6, nil, "source", consent.ErrBadSource},
			{7, nil, "note", eventfile.ErrUnknownField},
			{8, nil, "customer", privacy.ErrEmptyID},
			{9, nil, "granted", features.ErrMissing},
			{10, nil, "time", features.ErrTimeRange},
			{11, nil, "time", features.ErrMissing},
			{12, nil, eventfile.FieldRecord, eventfile.ErrSyntax},
		}},
		{"csv", "Customer,Purpose,Granted,Time,Source\n" +
			"LOY-10012345,personalization,TRUE,2026-03-01T12:30:00Z,web-form\n" +
			"LOY-10012345,in_store, False ,1772368200,pos:store-12\n" +
			"LOY-10012345,in_store,,1772368200,pos:store-12\n" +
			"LOY-10012345,in_store,yes,1772368200,pos:store-12\n" +
			"LOY-10012345,in_store,1,1772368200\n" +
			// Only true and false, in any case: not strconv.ParseBool's
			// 1, 0, t, f.
			"LOY-10012345,in_store,0,1772368200,pos:store-12\n" +
			"LOY-10012345,in_store,1,1772368200,pos:store-12\n" +
			"LOY-10012345,in_store,t,1772368200,pos:store-12\n" +
			"LOY-10012345,in_store,F,1772368200,pos:store-12\n", []row{
			{2, &grant, "", nil},
			{3, &withdraw, "", nil},
			{4, nil, "granted", features.ErrMissing},
			{5, nil, "granted", eventfile.ErrGranted},
			{6, nil, eventfile.FieldRecord, eventfile.ErrFieldCount},
			{7, nil, "granted", eventfile.ErrGranted},
			{8, nil, "granted", eventfile.ErrGranted},
			{9, nil, "granted", eventfile.ErrGranted},
			{10, nil, "granted", eventfile.ErrGranted},
		}},
	}
	for _, tt := range cases {
		got, err := readConsent(t, tt.in)
		if err != nil {
			t.Errorf("%s: ReadConsent: %v", tt.name, err)
			continue
		}
		if len(got) != len(tt.want) {
			t.Errorf("%s: %d records, want %d: %+v", tt.name, len(got), len(tt.want), got)
			continue
		}
		for i, w := range tt.want {
			r := got[i]
			if r.Line != w.line {
				t.Errorf("%s: record %d: Line = %d, want %d", tt.name, i, r.Line, w.line)
			}
			if w.change != nil {
				if r.Err != nil || r.Customer != c || r.Change != *w.change {
					t.Errorf("%s: line %d = %+v, %v; want %+v", tt.name, r.Line, r.Change, r.Err, *w.change)
				}
				continue
			}
			var fe *features.FieldError
			var re *features.RowError
			if !errors.As(r.Err, &re) || re.Row != w.line || !errors.As(r.Err, &fe) || fe.Field != w.field || (w.err != nil && !errors.Is(r.Err, w.err)) {
				t.Errorf("%s: line %d: Err = %v, want an error on field %s (%v)", tt.name, r.Line, r.Err, w.field, w.err)
			}
			if r.Err != nil && strings.Contains(r.Err.Error(), "LOY-") {
				t.Errorf("%s: line %d: %q quotes the customer", tt.name, r.Line, r.Err)
			}
		}
	}
}

// TestReadConsentGrantedMessage: a bad granted value is reported with its
// row, its column and the values allowed.
func TestReadConsentGrantedMessage(t *testing.T) {
	got, err := readConsent(t, "customer,purpose,granted,time,source\nLOY-1,in_store,1,1772368200,web-form\n")
	want := `row 2: field granted: "1": want true or false (in any case)`
	if err != nil || len(got) != 1 || got[0].Err == nil || got[0].Err.Error() != want {
		t.Errorf("ReadConsent(granted 1) = %+v, %v; want the error %q", got, err, want)
	}
}

func TestReadConsentHeader(t *testing.T) {
	for _, in := range []string{
		"customer,purpose,granted,time\n",
		"customer,purpose,granted,time,source,comment\n",
		"customer,purpose,granted,time,source,source\n",
	} {
		if _, err := readConsent(t, in); !errors.Is(err, eventfile.ErrHeader) {
			t.Errorf("ReadConsent(%q) error = %v, want ErrHeader", in, err)
		}
	}
	if got, err := readConsent(t, "\n \n"); len(got) != 0 || err != nil {
		t.Errorf("ReadConsent(blank) = %v, %v; want nothing", got, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, err := range eventfile.ReadConsent(ctx, strings.NewReader("")) {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("ReadConsent(cancelled) error = %v, want context.Canceled", err)
		}
	}
}

func TestEncoders(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 30, 0, 123456789, time.FixedZone("CET", 3600))
	tests := []struct {
		format eventfile.Format
		row    eventfile.Row
		want   string // the line, or the start of the error
	}{
		{eventfile.Discret, eventfile.Row{Customer: `a"b\c`, Item: "SKU-1", Kind: privacy.Purchase, Store: "s", Time: at, Quantity: 3},
			`{"customer":"a\"b\\c","item":"SKU-1","type":"purchase","store":"s","time":"2026-03-01T11:30:00.123Z","quantity":3}`},
		{eventfile.Discret, eventfile.Row{Customer: "c", Item: "é", Kind: privacy.View, Time: at, Quantity: 1},
			`{"customer":"c","item":"é","type":"view","time":"2026-03-01T11:30:00.123Z"}`},
		{eventfile.CSV, eventfile.Row{Customer: `a,"b"`, Item: " x", Kind: privacy.View, Time: at, Quantity: 1},
			`"a,""b"""," x",view,,2026-03-01T11:30:00.123Z,1`},
		{eventfile.Discret, eventfile.Row{Customer: "", Item: "x", Kind: privacy.View, Time: at, Quantity: 1}, "eventfile: encode: field customer"},
		{eventfile.Discret, eventfile.Row{Customer: "LOY-1\n", Item: "x", Kind: privacy.View, Time: at, Quantity: 1}, "eventfile: encode: field customer"},
		{eventfile.CSV, eventfile.Row{Customer: "c", Item: "x", Kind: privacy.StoreVisit, Store: "s", Time: at, Quantity: 1}, "eventfile: encode: field item"},
		{eventfile.CSV, eventfile.Row{Customer: "c", Item: "x", Kind: 0, Time: at, Quantity: 1}, "eventfile: encode: field type"},
		{eventfile.CSV, eventfile.Row{Customer: "c", Item: "x", Kind: privacy.View, Quantity: 1}, "eventfile: encode: field time"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		enc, err := eventfile.NewEncoder(&buf, tt.format)
		if err != nil {
			t.Fatal(err)
		}
		err = enc.Encode(tt.row)
		enc.Flush()
		got := strings.TrimSuffix(buf.String(), "\n")
		if tt.format == eventfile.CSV {
			got = strings.TrimPrefix(strings.TrimPrefix(got, "customer,item,type,store,time,quantity"), "\n")
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "LOY") || got != "" {
				t.Errorf("Encode(%+v) = %v, wrote %q; want error %q…", tt.row, err, got, tt.want)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("Encode(%+v) wrote\n%s\nwant\n%s", tt.row, got, tt.want)
		}
	}
	if _, err := eventfile.NewEncoder(&bytes.Buffer{}, eventfile.MovieLens); err == nil {
		t.Errorf("NewEncoder(movielens) = nil error")
	}
	if _, err := eventfile.NewConsentEncoder(&bytes.Buffer{}, eventfile.OnlineRetail); err == nil {
		t.Errorf("NewConsentEncoder(online-retail) = nil error")
	}
	var buf bytes.Buffer
	enc, _ := eventfile.NewConsentEncoder(&buf, eventfile.CSV)
	for _, r := range []eventfile.ConsentRow{
		{Customer: "a,b", Purpose: privacy.InStore, Granted: false, Time: at, Source: "pos:store-12"},
		{Customer: "c", Purpose: privacy.InStore, Time: at, Source: "free text"},
		{Customer: "c", Purpose: 9, Time: at, Source: "x"},
		{Customer: "c", Purpose: privacy.InStore, Source: "x"},
	} {
		enc.Encode(r)
	}
	enc.Flush()
	if want := "customer,purpose,granted,time,source\n\"a,b\",in_store,false,2026-03-01T11:30:00.123Z,pos:store-12\n"; buf.String() != want {
		t.Errorf("ConsentEncoder wrote %q, want %q", buf.String(), want)
	}
}

func TestReadLines(t *testing.T) {
	// Line endings, a trailing "\r" at the end of the input, a line of
	// exactly MaxLineLen bytes, and a quoted CSV field spanning lines past
	// MaxLineLen.
	okLine := `{"customer":"a","item":"` + strings.Repeat("x", 200) + `","type":"view","time":0}`
	pad := strings.Repeat(" ", eventfile.MaxLineLen-len(okLine))
	in := okLine + pad + "\n" + okLine + pad + " \n" + okLine + "\r\n" + okLine + "\r"
	got, err := readAll(t, in, eventfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0].Err != nil || got[1].Err == nil || got[2].Err != nil || got[3].Err != nil {
		t.Fatalf("Read = %+v; want valid, too long, valid, valid", got)
	}
	if !errors.Is(got[1].Err, eventfile.ErrLineTooLong) || got[1].Line != 2 {
		t.Errorf("line 2: %v, want ErrLineTooLong", got[1].Err)
	}
	var sb strings.Builder
	sb.WriteString("customer,item,type,time\na,\"")
	for sb.Len() < eventfile.MaxLineLen+100 {
		sb.WriteString(strings.Repeat("y", 99) + "\n")
	}
	sb.WriteString("\",view,0\nb,SKU-1,view,0\n")
	got, err = readAll(t, sb.String(), eventfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || !errors.Is(got[0].Err, eventfile.ErrLineTooLong) || got[0].Line != 2 {
		t.Fatalf("Read(long quoted field) = %+v, want ErrLineTooLong at line 2 first", got)
	}
	if last := got[len(got)-1]; last.Err != nil || last.Event.Item != "SKU-1" {
		t.Errorf("Read(long quoted field): last record %+v, want the valid row after it", last)
	}
}

// TestReadConsentEveryProblem checks that a bad consent row is reported
// with every problem of its fields, in ConsentFields order.
func TestReadConsentEveryProblem(t *testing.T) {
	tests := []struct {
		in     string
		fields []string
	}{
		{`{"customer":"","purpose":"ads","granted":"yes","time":"soon","source":"web form","note":"x"}`,
			[]string{"customer", "purpose", "granted", "time", "source", "note"}},
		{"customer,purpose,granted,time,source\nLOY-1,ads,maybe,1772368200,web-form\n",
			[]string{"purpose", "granted"}},
	}
	for _, tt := range tests {
		got, err := readConsent(t, tt.in)
		if err != nil || len(got) != 1 || got[0].Err == nil || !got[0].Customer.IsZero() {
			t.Fatalf("ReadConsent(%q) = %+v, %v; want one bad row without its customer", tt.in, got, err)
		}
		var fes features.FieldErrors
		if !errors.As(got[0].Err, &fes) {
			t.Fatalf("ReadConsent(%q) Err = %v, want every field's problem", tt.in, got[0].Err)
		}
		var fields []string
		for _, fe := range fes {
			fields = append(fields, fe.Field)
		}
		if !slices.Equal(fields, tt.fields) {
			t.Errorf("ReadConsent(%q) Err = %v, want problems on %v", tt.in, got[0].Err, tt.fields)
		}
	}
}
