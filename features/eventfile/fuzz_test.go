package eventfile_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/eventfile"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

// marker starts every fuzzed customer identifier, so that a message
// containing it reveals a leak.
const marker = "CUST#"

// checkRecords checks the properties every decoder has on any input: each
// record is exactly one of a valid event, a skip and a row error naming its
// row and a field; lines increase.
func checkRecords(t *testing.T, recs []eventfile.Record) {
	t.Helper()
	prev := 0
	for _, r := range recs {
		if r.Line <= prev {
			t.Fatalf("line %d after line %d", r.Line, prev)
		}
		prev = r.Line
		switch {
		case r.Err != nil:
			var re *features.RowError
			var fe *features.FieldError
			if !errors.As(r.Err, &re) || re.Row != r.Line || !errors.As(r.Err, &fe) || fe.Field == "" {
				t.Fatalf("line %d: error %q does not name its row and a field", r.Line, r.Err)
			}
			if r.Skip != "" {
				t.Fatalf("line %d: both an error and a skip", r.Line)
			}
			if fe.Field == features.FieldCustomer && fe.Value != "" {
				t.Fatalf("line %d: customer error echoes a value: %q", r.Line, r.Err)
			}
		case r.Skip != "":
		default:
			if err := r.Event.Validate(); err != nil {
				t.Fatalf("line %d: invalid event yielded: %v", r.Line, err)
			}
		}
	}
}

func decode(t *testing.T, data []byte, opts eventfile.Options) ([]eventfile.Record, error) {
	t.Helper()
	var recs []eventfile.Record
	var fatal error
	for r, err := range eventfile.Read(context.Background(), bytes.NewReader(data), opts) {
		if fatal != nil {
			t.Fatalf("record after the fatal error %v", fatal) // a fatal error comes last
		}
		if err != nil {
			fatal = err
			continue
		}
		recs = append(recs, r)
	}
	checkRecords(t, recs)
	return recs, fatal
}

// FuzzRead checks the properties of checkRecords for every format on any
// input, and that no error message quotes a customer identifier carrying
// the marker.
func FuzzRead(f *testing.F) {
	seeds := []string{
		`{"customer":"CUST#1","item":"SKU-1","type":"purchase","store":"s","time":"2026-03-01T12:30:00Z","quantity":3}`,
		`{"customer":"CUST#1","item":"SKU-1","type":"view","time":1772368200}` + "\n" + `{"customer":"CUST#1\u0000","type":"x"}`,
		"customer,item,type,store,time,quantity\nCUST#1,SKU-1,view,,1772368200,1\n\"CUST#2\",\"a\"\"b\",purchase,s,0,2\n",
		"196\t242\t3\t881250949\n22\t377\t1\t878887116\n",
		"1::1193::5::978300760\n",
		"UserID,MovieID\n1,2\n",
		"userId,movieId,rating,timestamp\n1,2,3.5,4\n",
		"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n536365,85123A,\"A, B\",6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\nC1,D,x,-1,12/1/2010 8:26,1,CUST#9,UK\n",
		"timestamp,visitorid,event,itemid,transactionid\n1433221332117,CUST#7,view,355908,\n1433221332117,CUST#7,buy,355908,\n",
	}
	for _, s := range seeds {
		for _, format := range []string{"", "discret", "csv", "movielens", "online-retail", "retailrocket"} {
			f.Add([]byte(s), format)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, format string) {
		opts := eventfile.Options{Format: eventfile.Format(format), DefaultTime: time.Unix(1e9, 0)}
		recs, _ := decode(t, data, opts)
		for _, r := range recs {
			if r.Err == nil {
				continue
			}
			var fe *features.FieldError
			errors.As(r.Err, &fe)
			// A marker in another field's value may be echoed; in the
			// customer field it must not be.
			if fe.Field == features.FieldCustomer && strings.Contains(r.Err.Error(), marker) {
				t.Fatalf("line %d: %q quotes the customer", r.Line, r.Err)
			}
		}
	})
}

// fuzzRow builds a row from fuzzer input.
func fuzzRow(customer, item string, kind uint8, store string, ms int64, qty uint32) eventfile.Row {
	return eventfile.Row{
		Customer: marker + customer,
		Item:     item,
		Kind:     privacy.EventKind(kind % 6), // includes invalid kinds 0 and 5
		Store:    store,
		Time:     time.UnixMilli(ms % 8e12).Add(time.Duration(ms%1000) * time.Microsecond),
		Quantity: qty % (features.MaxQuantity + 10),
	}
}

// wantEvent is what Read must return for a row the encoder accepted.
func wantEvent(t *testing.T, r eventfile.Row) features.RawEvent {
	c, err := privacy.ParseCustomerID(r.Customer)
	if err != nil {
		t.Fatalf("encoder accepted an invalid customer: %v", err)
	}
	return features.RawEvent{Customer: c, Item: r.Item, Kind: r.Kind, Store: r.Store, Time: r.Time.UTC().Truncate(time.Millisecond), Quantity: r.Quantity}
}

func validUTF8(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

// roundTrip checks that what enc accepts decodes to the same event and that
// what it rejects, written by an independent encoder (other), is rejected by
// the decoder with an error on a field and without the customer.
func roundTrip(t *testing.T, format eventfile.Format, r eventfile.Row, other []byte) {
	var buf bytes.Buffer
	enc, err := eventfile.NewEncoder(&buf, format)
	if err != nil {
		t.Fatal(err)
	}
	encErr := enc.Encode(r)
	if err := enc.Flush(); err != nil {
		t.Fatal(err)
	}
	if encErr != nil && strings.Contains(encErr.Error(), marker) {
		t.Fatalf("Encode error %q quotes the customer", encErr)
	}
	if encErr == nil {
		recs, fatal := decode(t, buf.Bytes(), eventfile.Options{})
		if fatal != nil || len(recs) != 1 || recs[0].Err != nil || recs[0].Event != wantEvent(t, r) {
			t.Fatalf("Read(Encode(%+v)) = %+v, %v; want one record with the event\n%s", r, recs, fatal, buf.Bytes())
		}
	}
	// The independent encoding decodes the same way, unless it had to
	// replace invalid UTF-8.
	if !validUTF8(r.Customer, r.Item, r.Store) {
		return
	}
	recs, fatal := decode(t, other, eventfile.Options{Format: format})
	if fatal != nil || len(recs) != 1 {
		t.Fatalf("Read(%q) = %d records, %v; want 1 record", other, len(recs), fatal)
	}
	got := recs[0]
	if encErr == nil {
		if got.Err != nil || got.Event != wantEvent(t, r) {
			t.Fatalf("Read(%q) = %+v, %v; want %+v", other, got.Event, got.Err, wantEvent(t, r))
		}
		return
	}
	if got.Err == nil {
		t.Fatalf("Encode(%+v) = %v but Read(%q) accepts it", r, encErr, other)
	}
	if strings.Contains(got.Err.Error(), marker) && !strings.Contains(r.Item+r.Store, marker) {
		t.Fatalf("Read(%q) error %q quotes the customer", other, got.Err)
	}
}

// FuzzJSONL round-trips events through Encoder and Read in JSON Lines, and
// checks the decoder against encoding/json's encoding of the same event.
func FuzzJSONL(f *testing.F) {
	f.Add("LOY-00012345", "SKU-1", uint8(3), "store-01", int64(1772368200123), uint32(2))
	f.Add("jane@example.com", "", uint8(4), "store \"2\"", int64(0), uint32(1))
	f.Add("a\\b", "é", uint8(1), "", int64(-1), uint32(0))
	f.Add("x", "\u2028<>&", uint8(2), "\x7f", int64(1e11), uint32(1000000))
	f.Fuzz(func(t *testing.T, customer, item string, kind uint8, store string, ms int64, qty uint32) {
		r := fuzzRow(customer, item, kind, store, ms, qty)
		obj := map[string]any{"customer": r.Customer, "type": r.Kind.String(), "time": r.Time.Format(time.RFC3339Nano), "quantity": r.Quantity}
		if r.Item != "" {
			obj["item"] = r.Item
		}
		if r.Store != "" {
			obj["store"] = r.Store
		}
		if ms%2 == 0 {
			obj["time"] = r.Time.UnixMilli()
			if ms := r.Time.UnixMilli(); ms < 1e11 && ms > -1e11 {
				obj["time"] = ms / 1000 // small values are seconds
				r.Time = time.Unix(ms/1000, 0)
			}
		}
		other, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, eventfile.Discret, r, other)
	})
}

// FuzzCSV round-trips events through Encoder and Read in CSV, and checks the
// decoder against encoding/csv's encoding of the same event.
func FuzzCSV(f *testing.F) {
	f.Add("LOY-00012345", "SKU-1", uint8(3), "store-01", int64(1772368200123), uint32(2))
	f.Add("jane,doe@example.com", "", uint8(4), " store \"2\"", int64(0), uint32(1))
	f.Add("a\nb", "é", uint8(1), "", int64(-1), uint32(0))
	f.Fuzz(func(t *testing.T, customer, item string, kind uint8, store string, ms int64, qty uint32) {
		r := fuzzRow(customer, item, kind, store, ms, qty)
		var other bytes.Buffer
		w := csv.NewWriter(&other)
		w.Write([]string{"quantity", "time", "store", "type", "item", "customer"})
		w.Write([]string{strconv.FormatUint(uint64(r.Quantity), 10), r.Time.Format(time.RFC3339Nano), r.Store, r.Kind.String(), r.Item, r.Customer})
		w.Flush()
		if strings.ContainsAny(r.Customer+r.Item+r.Store, "\r") {
			return // encoding/csv turns "\r\n" into "\n" when reading: not an identity
		}
		roundTrip(t, eventfile.CSV, r, other.Bytes())
	})
}

// FuzzReadConsent round-trips consent changes through ConsentEncoder and
// ReadConsent in both formats, and checks the decoder on arbitrary input.
func FuzzReadConsent(f *testing.F) {
	f.Add("LOY-00012345", uint8(1), true, int64(1772368200123), "synthetic", []byte(`{"customer":"a","purpose":"in_store","granted":false,"time":0,"source":"web-form"}`))
	f.Add("x@example.com", uint8(2), false, int64(0), "pos:store-12", []byte("customer,purpose,granted,time,source\na,personalization,TRUE,2026-03-01T12:30:00Z,x\n"))
	f.Add("", uint8(0), false, int64(-5), "free text", []byte("customer,purpose\n"))
	f.Fuzz(func(t *testing.T, customer string, purpose uint8, granted bool, ms int64, source string, data []byte) {
		row := eventfile.ConsentRow{Customer: marker + customer, Purpose: privacy.Purpose(purpose % 4), Granted: granted, Time: time.UnixMilli(ms % 8e12), Source: source}
		for _, format := range []eventfile.Format{eventfile.Discret, eventfile.CSV} {
			var buf bytes.Buffer
			enc, err := eventfile.NewConsentEncoder(&buf, format)
			if err != nil {
				t.Fatal(err)
			}
			encErr := enc.Encode(row)
			if err := enc.Flush(); err != nil {
				t.Fatal(err)
			}
			if encErr != nil {
				if strings.Contains(encErr.Error(), marker) {
					t.Fatalf("Encode error %q quotes the customer", encErr)
				}
				continue
			}
			recs, fatal := decodeConsent(t, buf.Bytes())
			c, _ := privacy.ParseCustomerID(row.Customer)
			want := consent.Change{Purpose: row.Purpose, Granted: row.Granted, Time: row.Time.UTC().Truncate(time.Millisecond), Source: row.Source}
			if fatal != nil || len(recs) != 1 || recs[0].Err != nil || recs[0].Customer != c || recs[0].Change != want {
				t.Fatalf("%s: ReadConsent(Encode(%+v)) = %+v, %v; want %+v\n%s", format, row, recs, fatal, want, buf.Bytes())
			}
		}
		decodeConsent(t, data)
	})
}

func decodeConsent(t *testing.T, data []byte) ([]eventfile.ConsentRecord, error) {
	t.Helper()
	var recs []eventfile.ConsentRecord
	var fatal error
	prev := 0
	for r, err := range eventfile.ReadConsent(context.Background(), bytes.NewReader(data)) {
		if fatal != nil {
			t.Fatalf("record after the fatal error %v", fatal)
		}
		if err != nil {
			fatal = err
			continue
		}
		if r.Line <= prev {
			t.Fatalf("line %d after line %d", r.Line, prev)
		}
		prev = r.Line
		if r.Err != nil {
			var re *features.RowError
			var fe *features.FieldError
			if !errors.As(r.Err, &re) || re.Row != r.Line || !errors.As(r.Err, &fe) || fe.Field == "" {
				t.Fatalf("line %d: error %q does not name its row and a field", r.Line, r.Err)
			}
			if fe.Field == features.FieldCustomer && (fe.Value != "" || strings.Contains(r.Err.Error(), marker)) {
				t.Fatalf("line %d: %q quotes the customer", r.Line, r.Err)
			}
			if !r.Customer.IsZero() {
				t.Fatalf("line %d: a row error carries a customer", r.Line)
			}
		} else if err := r.Change.Validate(); err != nil || r.Customer.IsZero() {
			t.Fatalf("line %d: invalid change yielded: %v", r.Line, err)
		}
		recs = append(recs, r)
	}
	return recs, fatal
}
