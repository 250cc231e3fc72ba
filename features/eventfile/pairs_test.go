package eventfile_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/eventfile"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/pseudonym"
)

func readPairs(t testing.TB, data []byte, opts eventfile.Options) (pairs []eventfile.Pair, rowErrs []int, fatal error) {
	t.Helper()
	for p, err := range eventfile.ReadPairs(context.Background(), bytes.NewReader(data), opts) {
		if fatal != nil {
			t.Fatalf("pair after the fatal error %v", fatal)
		}
		var re *features.RowError
		switch {
		case err != nil:
			fatal = err
		case p.Err != nil:
			if !errors.As(p.Err, &re) || re.Row != p.Line {
				t.Fatalf("bad row %d: error %v is not its *features.RowError", p.Line, p.Err)
			}
			rowErrs = append(rowErrs, p.Line)
		default:
			pairs = append(pairs, p)
		}
	}
	return pairs, rowErrs, fatal
}

func TestReadPairs(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		users  []string
		items  []string
		errors []int
	}{
		{"u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\nx\t1\n", []string{"196", "186"}, []string{"242", "302"}, []int{3}},
		{"ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n", []string{"1", "1"}, []string{"1193", "661"}, nil},
		{"pairs", "UserID,MovieID\n1,2\n3,4\n", []string{"1", "3"}, []string{"2", "4"}, nil},
		{"discret", `{"customer":"a\"b\u00e9","item":"SKU-1","type":"view","time":1772368200}` + "\n" +
			`{"customer":"c","type":"store_visit","store":"s-1","time":1772368200}` + "\n" +
			`{"customer":"","item":"x","type":"view","time":1}`,
			[]string{"a\"bé", "c"}, []string{"SKU-1", ""}, []int{3}},
		{"online-retail", "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n" +
			"536365,85123A,X,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n" +
			"C536379,D,Discount,-1,2010-12-01 09:41:00,27.5,14527,United Kingdom\n" +
			"536367,84879,X,32,12/1/2010 8:34,1.69,13047,EIRE\n",
			[]string{"17850", "13047"}, []string{"85123A", "84879"}, nil},
		{"retailrocket", "timestamp,visitorid,event,itemid,transactionid\n1433221332117,257597,view,355908,\n1433221332117,7,transaction,1,4000\n",
			[]string{"257597", "7"}, []string{"355908", "1"}, nil},
	}
	for _, tt := range tests {
		pairs, rowErrs, fatal := readPairs(t, []byte(tt.in), eventfile.Options{DefaultTime: time.Unix(1e9, 0)})
		if fatal != nil {
			t.Errorf("ReadPairs(%s) fatal error %v", tt.name, fatal)
			continue
		}
		var users, items []string
		for _, p := range pairs {
			users, items = append(users, p.User), append(items, p.Item)
		}
		if !slices.Equal(users, tt.users) || !slices.Equal(items, tt.items) || !slices.Equal(rowErrs, tt.errors) {
			t.Errorf("ReadPairs(%s) = users %q, items %q, bad rows %v; want %q, %q, %v", tt.name, users, items, rowErrs, tt.users, tt.items, tt.errors)
		}
	}
	if _, _, fatal := readPairs(t, []byte("UserID,MovieID\n1,2\n"), eventfile.Options{}); !errors.Is(fatal, eventfile.ErrNoDefaultTime) {
		t.Errorf("ReadPairs(pairs without a default time) fatal = %v, want ErrNoDefaultTime", fatal)
	}
}

// FuzzReadPairs checks that ReadPairs yields exactly Read's valid rows and
// bad rows, with a user string that is the row's customer identifier: it
// pseudonymizes to the same pseudonym as Read's opaque CustomerID.
func FuzzReadPairs(f *testing.F) {
	for _, s := range []string{
		`{"customer":"CUST#1","item":"SKU-1","type":"purchase","store":"s","time":"2026-03-01T12:30:00Z","quantity":3}` + "\n" + `{"customer":"CUST#2","item":"SKU-1","type":"view","time":1772368200}`,
		"customer,item,type,store,time,quantity\nCUST#1,SKU-1,view,,1772368200,1\n\"CUST#2\",\"a\"\"b\",purchase,s,0,2\n",
		"196\t242\t3\t881250949\n22\t377\t1\t878887116\n",
		"UserID,MovieID\n1,2\n1,3\n2,2\n",
		"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n536365,85123A,\"A, B\",6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n",
		"timestamp,visitorid,event,itemid,transactionid\n1433221332117,CUST#7,view,355908,\n",
		"Customer,tYpe", // a bad header: fatal for both
	} {
		f.Add([]byte(s))
	}
	ps, err := pseudonym.New(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := eventfile.Options{DefaultTime: time.Unix(1e9, 0)}
		recs, fatal := decode(t, data, opts)
		pairs, rowErrs, pfatal := readPairs(t, data, opts)
		if (fatal == nil) != (pfatal == nil) {
			t.Fatalf("Read fatal %v, ReadPairs fatal %v", fatal, pfatal)
		}
		var valid []eventfile.Record
		var bad []int
		for _, r := range recs {
			switch {
			case r.Err != nil:
				bad = append(bad, r.Line)
			case r.Skip == "":
				valid = append(valid, r)
			}
		}
		if !slices.Equal(bad, rowErrs) || len(valid) != len(pairs) {
			t.Fatalf("Read: %d valid rows, bad rows %v; ReadPairs: %d pairs, bad rows %v", len(valid), bad, len(pairs), rowErrs)
		}
		for i, r := range valid {
			p, e := pairs[i], r.Event
			if p.Line != r.Line || p.Item != e.Item || p.Kind != e.Kind || p.Store != e.Store || !p.Time.Equal(e.Time) {
				t.Fatalf("pair %d = %+v, want the fields of %+v", i, p, e)
			}
			c, err := privacy.ParseCustomerID(p.User)
			if err != nil || ps.Pseudonymize(c) != ps.Pseudonymize(e.Customer) {
				t.Fatalf("pair %d: user %q is not the row's customer (%v)", i, p.User, err)
			}
		}
	})
}
