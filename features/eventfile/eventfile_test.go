package eventfile_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/eventfile"
	"github.com/discret-io/discret/privacy"
)

var t0 = time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)

func cust(t testing.TB, s string) privacy.CustomerID {
	t.Helper()
	c, err := privacy.ParseCustomerID(s)
	if err != nil {
		t.Fatalf("ParseCustomerID(%q) = %v", s, err)
	}
	return c
}

// readAll decodes in and returns the records, or the fatal error.
func readAll(t testing.TB, in string, opts eventfile.Options) ([]eventfile.Record, error) {
	t.Helper()
	var recs []eventfile.Record
	for r, err := range eventfile.Read(context.Background(), strings.NewReader(in), opts) {
		if err != nil {
			return recs, err
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// want describes an expected record: an event, a row error on a field, or a
// skip.
type want struct {
	line  int
	event *features.RawEvent
	field string // error on this field
	err   error  // and, optionally, this error
	skip  string
}

func ev(c privacy.CustomerID, item string, k privacy.EventKind, store string, tm time.Time, q uint32) *features.RawEvent {
	return &features.RawEvent{Customer: c, Item: item, Kind: k, Store: store, Time: tm, Quantity: q}
}

func check(t *testing.T, name string, got []eventfile.Record, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		for _, r := range got {
			t.Logf("%s: got line %d: err=%v skip=%q", name, r.Line, r.Err, r.Skip)
		}
		t.Fatalf("%s: %d records, want %d", name, len(got), len(wants))
	}
	for i, w := range wants {
		r := got[i]
		if r.Line != w.line {
			t.Errorf("%s: record %d: Line = %d, want %d", name, i, r.Line, w.line)
		}
		switch {
		case w.event != nil:
			if r.Err != nil || r.Skip != "" || r.Event != *w.event {
				t.Errorf("%s: line %d = %+v, %v, %q; want %+v", name, r.Line, r.Event, r.Err, r.Skip, *w.event)
			}
		case w.skip != "":
			if r.Skip != w.skip || r.Err != nil {
				t.Errorf("%s: line %d: Skip, Err = %q, %v; want skip %q", name, r.Line, r.Skip, r.Err, w.skip)
			}
		default:
			var re *features.RowError
			var fe *features.FieldError
			if !errors.As(r.Err, &re) || re.Row != w.line || !errors.As(r.Err, &fe) || fe.Field != w.field {
				t.Errorf("%s: line %d: Err = %v, want a row %d error on field %s", name, r.Line, r.Err, w.line, w.field)
			} else if w.err != nil && !errors.Is(r.Err, w.err) {
				t.Errorf("%s: line %d: Err = %v, want %v", name, r.Line, r.Err, w.err)
			}
		}
	}
}

func TestReadDiscretJSONL(t *testing.T) {
	c := cust(t, "LOY-00012345")
	long := `{"customer":"a","item":"` + strings.Repeat("x", eventfile.MaxLineLen) + `","type":"view","time":0}`
	in := strings.Join([]string{
		`{"customer":"LOY-00012345","item":"SKU-1","type":"purchase","store":"store-01","time":"2026-03-01T12:30:00Z","quantity":3}`,
		``,
		`  {"time":1772368200,"type":"view","item":"SKU-1","customer":"LOY-00012345"}  `,
		`{"customer":"LOY-00012345","type":"store_visit","store":"store-01","time":1772368200000,"store":"store-02"}`,
		`{"customer":"LOY-00012345","item":"SKU-1","type":"view","time":"2026-03-01T12:30:00Z","price":3}`,
		`{"customer":"LOY-00012345","item":"SKU-1","type":"click","time":"2026-03-01T12:30:00Z"}`,
		`{"customer":"LOY-00012345","item":"SKU-1","type":"view","time":"2026-03-01T12:30:00Z",}`,
		long,
		`{"customer":17850,"item":"SKU-1","type":"view","time":0}`,
		`{"customer":"LOY-00012345","item":"SKU-1","type":"view","time":1.5}`,
		`{"customer":"LOY-00012345","item":"SKU-1","type":"view","time":"2026-03-01T12:30:00Z","quantity":"2"}`,
		`{"customer":"LOY-00012345","item":"SKU-1","type":"view","time":"2026-03-01T12:30:00Z","quantity":0}`,
		`{"customer":"LOY-00012345","item":"SKU-1","type":"view","time":"2026-03-01T12:30:00Z","store":null,"quantity":null}`,
		`{"customer":"LOY-\u0030","item":"SKU-\ud83d\ude00","type":"view","time":"2026-03-01T12:30:00.1239Z"}`,
		`["LOY-00012345"]`,
		`{"customer":"LOY-00012345","item":"SKU-1","type":"add_to_cart","time":"1969-12-31T23:59:59Z"}`,
		`{"item":"SKU-1","type":"view","time":0}`,
		`{"customer":"LOY-00012345","item":{"id":1},"type":"view","time":0}`,
		`{"customer":"LOY-00012345","item":"SKU-1","type":"view"}`,
		`{"customer":"LOY-00012345","item":"SKU-1","type":"view","time":"2026-03-01T12:30:00Z"} x`,
		`{"customer":"LOY-00012345","item":"SKU-1","type":"view","time":"2026-03-01T12:30:00Z","Customer":"x"}`,
	}, "\n")
	got, err := readAll(t, in, eventfile.Options{})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	check(t, "jsonl", got, []want{
		{line: 1, event: ev(c, "SKU-1", privacy.Purchase, "store-01", t0, 3)},
		{line: 3, event: ev(c, "SKU-1", privacy.View, "", t0, 1)},
		{line: 4, field: "store", err: eventfile.ErrDuplicateField},
		{line: 5, field: "price", err: eventfile.ErrUnknownField},
		{line: 6, field: "type", err: features.ErrKind},
		{line: 7, field: eventfile.FieldRecord, err: eventfile.ErrSyntax},
		{line: 8, field: eventfile.FieldRecord, err: eventfile.ErrLineTooLong},
		{line: 9, field: "customer", err: eventfile.ErrJSONType},
		{line: 10, field: "time", err: features.ErrTime},
		{line: 11, field: "quantity", err: eventfile.ErrJSONType},
		{line: 12, field: "quantity", err: features.ErrQuantity},
		{line: 13, event: ev(c, "SKU-1", privacy.View, "", t0, 1)},
		{line: 14, event: ev(cust(t, "LOY-0"), "SKU-😀", privacy.View, "", t0.Add(123*time.Millisecond), 1)},
		{line: 15, field: eventfile.FieldRecord, err: eventfile.ErrSyntax},
		{line: 16, field: "time", err: features.ErrTimeRange},
		{line: 17, field: "customer", err: privacy.ErrEmptyID},
		{line: 18, field: "item", err: eventfile.ErrJSONType},
		{line: 19, field: "time", err: features.ErrMissing},
		{line: 20, field: eventfile.FieldRecord, err: eventfile.ErrSyntax},
		{line: 21, field: "Customer", err: eventfile.ErrUnknownField},
	})
}

func TestReadDiscretCSV(t *testing.T) {
	c := cust(t, "LOY-00012345")
	e := cust(t, "jane,doe@example.com")
	in := "\xef\xbb\xbfTime,Customer,Item,Type,Quantity,Store\r\n" +
		"2026-03-01T12:30:00Z,LOY-00012345,SKU-1,purchase,2,store-01\r\n" +
		"\r\n" +
		"1772368200,\"jane,doe@example.com\",\"SKU \"\"2\"\"\",view,,\n" +
		"1772368200,LOY-00012345,SKU-1,view\n" +
		"1772368200,LOY-00012345,SKU-1,view,1,store-01,extra\n" +
		"1772368200,LOY-00012345,SKU\"1,view,1,\n" +
		"1772368200,\"LOY-00012345\"x,SKU-1,view,1,\n" +
		"1772368200,\"LOY-000\n12345\",SKU-1,view,1,\n" +
		"1772368200,LOY-00012345,,store_visit,1,store-02\n" +
		"1772368200,LOY-00012345,\"SKU\n-1\",view,1,\n" +
		"soon,LOY-00012345,SKU-1,view,1,\n" +
		"1772368200,LOY-00012345,SKU-1,view,1,\"unterminated\n"
	got, err := readAll(t, in, eventfile.Options{})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	check(t, "csv", got, []want{
		{line: 2, event: ev(c, "SKU-1", privacy.Purchase, "store-01", t0, 2)},
		{line: 4, event: ev(e, `SKU "2"`, privacy.View, "", t0, 1)},
		{line: 5, field: eventfile.FieldRecord, err: eventfile.ErrFieldCount},
		{line: 6, field: eventfile.FieldRecord, err: eventfile.ErrFieldCount},
		{line: 7, field: eventfile.FieldRecord, err: eventfile.ErrSyntax},
		{line: 8, field: eventfile.FieldRecord, err: eventfile.ErrSyntax},
		{line: 9, field: "customer"}, // a line break is a control character
		{line: 11, event: ev(c, "", privacy.StoreVisit, "store-02", t0, 1)},
		{line: 12, field: "item"},
		{line: 14, field: "time", err: features.ErrTime},
		{line: 15, field: eventfile.FieldRecord, err: eventfile.ErrSyntax},
	})
}

func TestReadCSVHeaderErrors(t *testing.T) {
	const cols = "(want customer, item, type, store, time, quantity)"
	tests := []struct {
		in    string
		field string
		text  string // the whole message: each context once
	}{
		{"customer,item,type,time,price\n", "price", "eventfile: bad header (csv): row 1: field price: unknown column " + cols},
		{"customer,item,type,time,time\n", "time", "eventfile: bad header (csv): row 1: field time: duplicate column"},
		{"customer,item,type,store\n", "time", "eventfile: bad header (csv): row 1: field time: missing column " + cols},
		{"customer,item,\"type\nx\",time\n", "x", ""},
	}
	for _, tt := range tests {
		_, err := readAll(t, tt.in, eventfile.Options{Format: eventfile.CSV})
		var fe *features.FieldError
		var re *features.RowError
		if !errors.Is(err, eventfile.ErrHeader) || !errors.As(err, &fe) || !errors.As(err, &re) || re.Row != 1 {
			t.Errorf("Read(%q) error = %v, want ErrHeader at row 1", tt.in, err)
			continue
		}
		if tt.field != "x" && fe.Field != tt.field {
			t.Errorf("Read(%q) error = %v, want it about field %s", tt.in, err, tt.field)
		}
		if tt.text != "" && err.Error() != tt.text {
			t.Errorf("Read(%q) error = %q, want %q", tt.in, err, tt.text)
		}
		if n := strings.Count(err.Error(), "eventfile:"); n != 1 {
			t.Errorf("Read(%q) error = %q: the package prefix %d times, want once", tt.in, err, n)
		}
	}
}

// TestOpenErrorText: Open names the file once in its errors.
func TestOpenErrorText(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ path, want string }{
		{dir, "read " + dir + ": is a directory"},
		{filepath.Join(dir, "none"), "open " + filepath.Join(dir, "none") + ": no such file or directory"},
	} {
		f, err := eventfile.Open(tt.path)
		if err == nil {
			f.Close()
		}
		if err == nil || err.Error() != tt.want {
			t.Errorf("Open(%s) error = %v, want %q", tt.path, err, tt.want)
		}
	}
}

func TestReadMovieLens(t *testing.T) {
	def := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	u1, u2 := cust(t, "196"), cust(t, "22")
	tests := []struct {
		name  string
		in    string
		opts  eventfile.Options
		wants []want
	}{
		{"u.data", "196\t242\t3\t881250949\n22\t377\t1\t878887116\n22\t377\t1\n22\t377\t1\tx\n", eventfile.Options{}, []want{
			{line: 1, event: ev(u1, "242", privacy.Purchase, "", time.Unix(881250949, 0).UTC(), 1)},
			{line: 2, event: ev(u2, "377", privacy.Purchase, "", time.Unix(878887116, 0).UTC(), 1)},
			{line: 3, field: eventfile.FieldRecord, err: eventfile.ErrFieldCount},
			{line: 4, field: "time"},
		}},
		{"ratings.dat", "196::242::3::881250949\n22::377::1::878887116::9\n", eventfile.Options{}, []want{
			{line: 1, event: ev(u1, "242", privacy.Purchase, "", time.Unix(881250949, 0).UTC(), 1)},
			{line: 2, field: eventfile.FieldRecord, err: eventfile.ErrFieldCount},
		}},
		{"ratings.csv", "userId,movieId,rating,timestamp\n196,242,3.5,881250949\n", eventfile.Options{}, []want{
			{line: 2, event: ev(u1, "242", privacy.Purchase, "", time.Unix(881250949, 0).UTC(), 1)},
		}},
		{"pairs", "UserID,MovieID\n196,242\n22,377\n,1\n", eventfile.Options{DefaultTime: def}, []want{
			{line: 2, event: ev(u1, "242", privacy.Purchase, "", def, 1)},
			{line: 3, event: ev(u2, "377", privacy.Purchase, "", def, 1)},
			{line: 4, field: "customer", err: privacy.ErrEmptyID},
		}},
		{"forced", "196\t242\t3\t881250949\n", eventfile.Options{Format: eventfile.MovieLens}, []want{
			{line: 1, event: ev(u1, "242", privacy.Purchase, "", time.Unix(881250949, 0).UTC(), 1)},
		}},
	}
	for _, tt := range tests {
		got, err := readAll(t, tt.in, tt.opts)
		if err != nil {
			t.Errorf("%s: Read: %v", tt.name, err)
			continue
		}
		check(t, tt.name, got, tt.wants)
	}
	if _, err := readAll(t, "UserID,MovieID\n196,242\n", eventfile.Options{}); !errors.Is(err, eventfile.ErrNoDefaultTime) {
		t.Errorf("Read(pairs without DefaultTime) error = %v, want ErrNoDefaultTime", err)
	}
}

func TestReadOnlineRetail(t *testing.T) {
	london := func(y int, m time.Month, d, h, min int) time.Time {
		loc, err := time.LoadLocation("Europe/London")
		if err != nil {
			t.Fatal(err)
		}
		return time.Date(y, m, d, h, min, 0, 0, loc).UTC()
	}
	c, c2 := cust(t, "17850"), cust(t, "15311")
	in := "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n" +
		"536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n" +
		"536366,22633,\"HAND WARMER, UNION JACK\",6,2011-06-01 08:28:00,1.85,17850.0,United Kingdom\n" +
		"C536379,D,Discount,-1,2010-12-01 09:41:00,27.5,14527,United Kingdom\n" +
		"536414,22139,,56,2010-12-01 11:52:00,0,,United Kingdom\n" +
		"536589,21777,,-10,2010-12-01 16:50:00,0,17850,United Kingdom\n" +
		"536370,POST,POSTAGE,3,2010-12-01 08:45:00,18,12583,France\n" +
		"536370,gift_0001_20,voucher,1,2010-12-01 08:45:00,18,12583,France\n" +
		"536367,84879,ASSORTED COLOUR BIRD ORNAMENT,32,12/1/2010 8:34,1.69,13047,EIRE\n" +
		"536367,84879,X,three,12/1/2010 8:34,1.69,13047,EIRE\n" +
		"536367,84879,X,3,2010-13-01 08:34,1.69,13047,EIRE\n" +
		"536367,84879,X,3,2010-12-01 08:34,1.69,13047\n" +
		"536367,84879,X,2000000,2010-12-01 08:34,1.69,13047,EIRE\n" +
		// Lines of one invoice for one product add up (1 + 3 + 2), around
		// another product; the same product in the next invoice is its own
		// event, and a sum beyond the quantity cap is not merged.
		"536380,71270,PHOTO CLIP LINE,1,2010-12-01 09:41,1.25,15311,United Kingdom\n" +
		"536380,22111,SCOTTIE DOG HOT WATER BOTTLE,5,2010-12-01 09:41,4.95,15311,United Kingdom\n" +
		"536380,71270,PHOTO CLIP LINE,3,2010-12-01 09:41,1.25,15311,United Kingdom\n" +
		"536380,71270,PHOTO CLIP LINE,2,2010-12-01 09:41,1.25,15311,United Kingdom\n" +
		"536381,71270,PHOTO CLIP LINE,4,2010-12-01 09:45,1.25,15311,United Kingdom\n" +
		"536381,71270,PHOTO CLIP LINE,1000000,2010-12-01 09:45,1.25,15311,United Kingdom\n"
	got, err := readAll(t, in, eventfile.Options{})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	check(t, "online-retail", got, []want{
		{line: 2, event: ev(c, "85123A", privacy.Purchase, "United Kingdom", london(2010, 12, 1, 8, 26), 6)},
		{line: 3, event: ev(c, "22633", privacy.Purchase, "United Kingdom", london(2011, 6, 1, 8, 28), 6)},
		{line: 4, skip: eventfile.SkipCancellation},
		{line: 5, skip: eventfile.SkipNoCustomer},
		{line: 6, skip: eventfile.SkipNonPositive},
		{line: 7, skip: eventfile.SkipNonProduct},
		{line: 8, skip: eventfile.SkipNonProduct},
		{line: 9, event: ev(cust(t, "13047"), "84879", privacy.Purchase, "EIRE", london(2010, 12, 1, 8, 34), 32)},
		{line: 10, field: "quantity", err: features.ErrQuantity},
		{line: 11, field: "time"},
		{line: 12, field: eventfile.FieldRecord, err: eventfile.ErrFieldCount},
		{line: 13, field: "quantity", err: features.ErrQuantity},
		{line: 14, event: ev(c2, "71270", privacy.Purchase, "United Kingdom", london(2010, 12, 1, 9, 41), 6)},
		{line: 15, event: ev(c2, "22111", privacy.Purchase, "United Kingdom", london(2010, 12, 1, 9, 41), 5)},
		{line: 16, skip: eventfile.SkipMerged},
		{line: 17, skip: eventfile.SkipMerged},
		{line: 18, event: ev(c2, "71270", privacy.Purchase, "United Kingdom", london(2010, 12, 1, 9, 45), 4)},
		{line: 19, event: ev(c2, "71270", privacy.Purchase, "United Kingdom", london(2010, 12, 1, 9, 45), 1000000)},
	})
	// British Summer Time: 08:28 in London on 1 June is 07:28 UTC.
	if h := got[1].Event.Time.Hour(); h != 7 {
		t.Errorf("InvoiceDate 2011-06-01 08:28 read as %v, want 07:28 UTC", got[1].Event.Time)
	}
}

func TestReadRetailRocket(t *testing.T) {
	c := cust(t, "257597")
	tm := time.UnixMilli(1433221332117).UTC()
	in := "timestamp,visitorid,event,itemid,transactionid\n" +
		"1433221332117,257597,view,355908,\n" +
		"1433221332117,257597,addtocart,355908,\n" +
		"1433221332117,257597,transaction,355908,4000\n" +
		"1433221332117,257597,wishlist,355908,\n" +
		"2015-06-02,257597,view,355908,\n" +
		"1433221332117,257597,,355908,\n"
	got, err := readAll(t, in, eventfile.Options{})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	check(t, "retailrocket", got, []want{
		{line: 2, event: ev(c, "355908", privacy.View, "", tm, 1)},
		{line: 3, event: ev(c, "355908", privacy.AddToCart, "", tm, 1)},
		{line: 4, event: ev(c, "355908", privacy.Purchase, "", tm, 1)},
		{line: 5, field: "type"},
		{line: 6, field: "time"},
		{line: 7, field: "type", err: features.ErrMissing},
	})
}

func TestDetect(t *testing.T) {
	tests := []struct {
		head, name string
		want       eventfile.Format // "" means an error
	}{
		{`{"customer":"a"}`, "", eventfile.Discret},
		{"\n\n  {\"customer\":\"a\"}\n", "", eventfile.Discret},
		{"\xef\xbb\xbf{}", "", eventfile.Discret},
		{"customer,item,type,time\n", "", eventfile.CSV},
		{"Time,Customer,Type\r\n", "", eventfile.CSV},
		{"customer,item,type,time,price\n", "", eventfile.CSV}, // and the header is rejected
		{"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n", "", eventfile.OnlineRetail},
		{"Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n", "", eventfile.OnlineRetail},
		{"timestamp,visitorid,event,itemid,transactionid\n", "", eventfile.RetailRocket},
		{"UserID,MovieID\n", "", eventfile.MovieLens},
		{"userId,movieId,rating,timestamp\n", "", eventfile.MovieLens},
		{"196\t242\t3\t881250949\n", "", eventfile.MovieLens},
		{"1::1193::5::978300760\r\n", "", eventfile.MovieLens},
		{"196\t242\t3\n", "", ""},
		{"not json\n", "events.jsonl.gz", eventfile.Discret},
		{"", "/data/ml-100k/u.data", eventfile.MovieLens},
		{"", "ratings.dat", eventfile.MovieLens},
		{"a,b,c\n", "events.csv", ""},
		{"customer,purpose,granted,time,source\n", "", ""},
		{"LOY-00012345 bought SKU-1\n", "", ""},
	}
	for _, tt := range tests {
		got, err := eventfile.Detect([]byte(tt.head), tt.name)
		if tt.want == "" {
			if !errors.Is(err, eventfile.ErrUnknownFormat) {
				t.Errorf("Detect(%q, %q) = %q, %v; want ErrUnknownFormat", tt.head, tt.name, got, err)
			} else if strings.Contains(err.Error(), "LOY") {
				t.Errorf("Detect(%q, %q) error %q quotes the content", tt.head, tt.name, err)
			}
			continue
		}
		if got != tt.want || err != nil {
			t.Errorf("Detect(%q, %q) = %q, %v; want %q, nil", tt.head, tt.name, got, err, tt.want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range eventfile.Formats() {
		if got, err := eventfile.ParseFormat(string(f)); got != f || err != nil {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q, nil", f, got, err, f)
		}
	}
	if _, err := eventfile.ParseFormat("xml"); !errors.Is(err, eventfile.ErrUnknownFormat) {
		t.Errorf("ParseFormat(xml) error = %v, want ErrUnknownFormat", err)
	}
	if _, err := readAll(t, "x", eventfile.Options{Format: "xml"}); !errors.Is(err, eventfile.ErrUnknownFormat) {
		t.Errorf("Read(Format: xml) error = %v, want ErrUnknownFormat", err)
	}
}

func TestReadEmptyAndUnknown(t *testing.T) {
	for _, in := range []string{"", "\n\n", "\xef\xbb\xbf", "customer,item,type,time\n"} {
		got, err := readAll(t, in, eventfile.Options{})
		if len(got) != 0 || err != nil {
			t.Errorf("Read(%q) = %d records, %v; want none, nil", in, len(got), err)
		}
	}
	if _, err := readAll(t, "hello world\n", eventfile.Options{}); !errors.Is(err, eventfile.ErrUnknownFormat) {
		t.Errorf("Read(prose) error = %v, want ErrUnknownFormat", err)
	}
}

func TestReadIOError(t *testing.T) {
	boom := errors.New("disk on fire")
	r := io.MultiReader(strings.NewReader(`{"customer":"a","item":"b","type":"view","time":0}`+"\n"), iotest.ErrReader(boom))
	var n int
	var last error
	for rec, err := range eventfile.Read(context.Background(), r, eventfile.Options{Format: eventfile.Discret}) {
		if err != nil {
			last = err
			break
		}
		if rec.Err != nil {
			t.Errorf("line %d: %v", rec.Line, rec.Err)
		}
		n++
	}
	if n != 1 || !errors.Is(last, boom) {
		t.Errorf("Read = %d records, %v; want 1, %v", n, last, boom)
	}
	// An error while detecting the format is reported too.
	for _, err := range eventfile.Read(context.Background(), iotest.ErrReader(boom), eventfile.Options{}) {
		if !errors.Is(err, boom) {
			t.Errorf("Read(failing reader) error = %v, want %v", err, boom)
		}
	}
}

func TestReadContext(t *testing.T) {
	var sb strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&sb, "%d\t%d\t5\t881250949\n", i, i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	var last error
	for _, err := range eventfile.Read(ctx, strings.NewReader(sb.String()), eventfile.Options{}) {
		if err != nil {
			last = err
			break
		}
		if n++; n == 10 {
			cancel()
		}
	}
	if !errors.Is(last, context.Canceled) || n > 10+1024 {
		t.Errorf("Read after cancel: %d records, %v; want at most %d, context.Canceled", n, last, 10+1024)
	}
	// Breaking out of the loop stops reading.
	n = 0
	for range eventfile.Read(context.Background(), strings.NewReader(sb.String()), eventfile.Options{}) {
		if n++; n == 3 {
			break
		}
	}
	if n != 3 {
		t.Errorf("break after 3: got %d", n)
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	content := "196\t242\t3\t881250949\n22\t377\t1\t878887116\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(content))
	zw.Close()
	files := map[string][]byte{
		"u.data":        []byte(content),
		"u.data.gz":     gz.Bytes(),
		"misnamed.data": gz.Bytes(), // gzip detected by content
		"empty":         nil,
	}
	for name, data := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := eventfile.Open(path)
		if err != nil {
			t.Errorf("Open(%s): %v", name, err)
			continue
		}
		got, err := io.ReadAll(f)
		if err != nil || (string(got) != content && data != nil) {
			t.Errorf("Open(%s): read %q, %v; want %q", name, got, err, content)
		}
		if err := f.Close(); err != nil {
			t.Errorf("Close(%s): %v", name, err)
		}
	}
	if _, err := eventfile.Open(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing) error = %v, want os.ErrNotExist", err)
	}
	bad := filepath.Join(dir, "bad.gz")
	os.WriteFile(bad, []byte{0x1f, 0x8b, 0}, 0o600)
	if _, err := eventfile.Open(bad); err == nil {
		t.Errorf("Open(truncated gzip) error = nil, want an error")
	}
}

func TestCounts(t *testing.T) {
	in := "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n" +
		"536365,85123A,X,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n" +
		"C536379,D,Discount,-1,2010-12-01 09:41:00,27.5,14527,United Kingdom\n" +
		"C536380,D,Discount,-1,2010-12-01 09:41:00,27.5,14527,United Kingdom\n" +
		"536414,22139,,56,2010-12-01 11:52:00,0,,United Kingdom\n" +
		"536414,22139,,56,yesterday,0,1,United Kingdom\n"
	recs, err := readAll(t, in, eventfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var c eventfile.Counts
	for _, r := range recs {
		c.Add(r)
	}
	got := fmt.Sprint(c.Rows, c.Valid, c.Skipped, c.Errors)
	want := "5 1 map[cancellation:2 no customer id:1] map[invalid time:1]"
	if got != want {
		t.Errorf("Counts = %s, want %s", got, want)
	}
}

// TestNoRawCustomerInErrors feeds rows whose customer identifier is
// malformed in every way a decoder checks, and rows where another field is
// bad, and checks no message contains the identifier.
func TestNoRawCustomerInErrors(t *testing.T) {
	const id = "LOY-SECRET-77"
	inputs := []string{
		`{"customer":"` + id + `\u0001","item":"x","type":"view","time":0}`,
		`{"customer":"` + id + `","item":"x","type":"view","time":0,"quantity":-1}`,
		`{"customer":"` + id + strings.Repeat("9", 300) + `","item":"x","type":"view","time":0}`,
		`{"customer":"` + id + `","item":"","type":"view","time":0}`,
		`{"customer":"` + id + `","item":"x","type":"view","time":0,"customer":"` + id + `"}`,
		`{"customer":"` + id + `\x","item":"x","type":"view","time":0}`,
		"customer,item,type,time\n" + id + "\x01,x,view,0\n",
		"customer,item,type,time\n" + id + ",x,view\n",
		"customer,item,type,time\n\"" + id + "\"x,x,view,0\n",
		"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n1,12345,X,1,bad,1," + id + ",UK\n",
		"timestamp,visitorid,event,itemid\nx," + id + ",view,1\n",
		"1\t" + id + "\t1\tx\n",
	}
	for _, in := range inputs {
		var opts eventfile.Options
		if in[0] == '1' {
			opts.Format = eventfile.MovieLens
		}
		recs, err := readAll(t, in, opts)
		if err != nil {
			t.Errorf("Read(%q): %v", in, err)
			continue
		}
		if len(recs) == 0 || recs[len(recs)-1].Err == nil {
			t.Errorf("Read(%q): want a row error, got %+v", in, recs)
			continue
		}
		for _, r := range recs {
			if r.Err != nil && strings.Contains(r.Err.Error(), "SECRET") {
				t.Errorf("Read(%q): error %q contains the customer identifier", in, r.Err)
			}
		}
	}
}

// TestEveryProblemOfARow checks that a bad row is reported with every
// problem of its fields, in field order, whether found while reading a
// field or by validation, and that a field that could not be read is not
// reported again as missing.
func TestEveryProblemOfARow(t *testing.T) {
	type problem struct {
		field string
		err   error
	}
	tests := []struct {
		name, in string
		opts     eventfile.Options
		want     []problem
	}{{
		name: "jsonl read and validation problems",
		in:   `{"customer":"","item":"SKU-1","type":"vew","time":"soon","quantity":0}`,
		want: []problem{{"customer", privacy.ErrEmptyID}, {"type", features.ErrKind}, {"time", features.ErrTime}, {"quantity", features.ErrQuantity}},
	}, {
		name: "jsonl unknown, repeated and composite members go on scanning",
		in:   `{"price":{"eur":[1,2]},"customer":"a","item":["x"],"type":"view","time":0,"customer":"b","quantity":"2"}`,
		want: []problem{{"customer", eventfile.ErrDuplicateField}, {"item", eventfile.ErrJSONType}, {"quantity", eventfile.ErrJSONType}, {"price", eventfile.ErrUnknownField}},
	}, {
		name: "jsonl visit with an item and no store, time out of range",
		in:   `{"customer":"a","item":"SKU-1","type":"store_visit","time":"1900-01-01T00:00:00Z"}`,
		want: []problem{{"item", features.ErrItemOnVisit}, {"store", features.ErrStoreOnVisit}, {"time", features.ErrTimeRange}},
	}, {
		name: "jsonl wrong types",
		in:   `{"customer":1,"item":2,"type":true,"store":3,"time":1.5,"quantity":"x"}`,
		want: []problem{{"customer", eventfile.ErrJSONType}, {"item", eventfile.ErrJSONType}, {"type", eventfile.ErrJSONType}, {"store", eventfile.ErrJSONType}, {"time", features.ErrTime}, {"quantity", eventfile.ErrJSONType}},
	}, {
		name: "csv",
		in:   "customer,item,type,store,time,quantity\n,,click,,x,-1\n",
		want: []problem{{"customer", privacy.ErrEmptyID}, {"type", features.ErrKind}, {"time", features.ErrTime}, {"quantity", features.ErrQuantity}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(t, tt.in, tt.opts)
			if err != nil || len(got) != 1 || got[0].Err == nil {
				t.Fatalf("Read = %+v, %v; want one bad row", got, err)
			}
			var fes features.FieldErrors
			if !errors.As(got[0].Err, &fes) {
				t.Fatalf("Err = %v, want every field's problem", got[0].Err)
			}
			if len(fes) != len(tt.want) {
				t.Fatalf("Err = %v, want %d problems", got[0].Err, len(tt.want))
			}
			for i, w := range tt.want {
				if fes[i].Field != w.field || !errors.Is(fes[i], w.err) {
					t.Errorf("problem %d = %v, want field %s: %v", i, fes[i], w.field, w.err)
				}
			}
		})
	}
}

// TestJSONWrongTypeOnce: a member of the wrong JSON type is one problem of
// its field, not also "required" once its value is set aside.
func TestJSONWrongTypeOnce(t *testing.T) {
	for _, line := range []string{
		`{"customer":{"a":1},"item":"SKU-1","type":"view","time":0}`,
		`{"customer":"LOY-1","item":"SKU-1","type":["view"],"time":0}`,
		`{"customer":"LOY-1","item":"SKU-1","type":"view","time":{}}`,
	} {
		got, err := readAll(t, line, eventfile.Options{})
		if err != nil || len(got) != 1 || got[0].Err == nil {
			t.Fatalf("Read(%s) = %v, %v; want one row error", line, got, err)
		}
		if msg := got[0].Err.Error(); strings.Count(msg, "field ") != 1 || !errors.Is(got[0].Err, eventfile.ErrJSONType) {
			t.Errorf("Read(%s) error = %q; want one problem, the wrong JSON type", line, msg)
		}
	}
}
