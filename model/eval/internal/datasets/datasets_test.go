package datasets

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type pair struct{ user, item string }

func collect(read func(r *bytes.Reader, add func(u, i string)) error, data string) ([]pair, error) {
	var ps []pair
	err := read(bytes.NewReader([]byte(data)), func(u, i string) { ps = append(ps, pair{u, i}) })
	return ps, err
}

func TestReaders(t *testing.T) {
	tests := []struct {
		name string
		read func(r *bytes.Reader, add func(u, i string)) error
		data string
		want []pair
		ok   bool
	}{
		{"u.data", func(r *bytes.Reader, add func(u, i string)) error { return readUData(r, add) },
			"196\t242\t3\t881250949\n186\t302\t3\t891717742\n", []pair{{"196", "242"}, {"186", "302"}}, true},
		{"u.data without a tab", func(r *bytes.Reader, add func(u, i string)) error { return readUData(r, add) },
			"196 242\n", nil, false},
		{"pairs CSV", func(r *bytes.Reader, add func(u, i string)) error { return readPairsCSV(r, add) },
			"UserID,MovieID\n1,1193\n1,661\n", []pair{{"1", "1193"}, {"1", "661"}}, true},
		{"pairs CSV short row", func(r *bytes.Reader, add func(u, i string)) error { return readPairsCSV(r, add) },
			"UserID,MovieID\n1\n", nil, false},
		{"retail", func(r *bytes.Reader, add func(u, i string)) error { return readRetail(r, add) },
			"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n" +
				"536365,85123A,\"WHITE HANGING HEART, T-LIGHT\",6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n" +
				"C536379,22556,RETURN,-1,2010-12-01 09:41:00,1.65,14527,United Kingdom\n" +
				"536370,POST,POSTAGE,3,2010-12-01 08:45:00,18,12583,France\n" +
				"536371,22086,PAPER CHAIN,80,2010-12-01 09:00:00,2.55,,United Kingdom\n" +
				"536372,22632,HAND WARMER,0,2010-12-01 09:01:00,1.85,17850,United Kingdom\n" +
				"536373,21730,LANTERN,6,2010-12-01 09:02:00,4.25,17850.0,United Kingdom\n",
			[]pair{{"17850", "85123A"}, {"17850", "21730"}}, true},
		{"retail without customer column", func(r *bytes.Reader, add func(u, i string)) error { return readRetail(r, add) },
			"InvoiceNo,StockCode,Quantity\n1,2,3\n", nil, false},
	}
	for _, tt := range tests {
		got, err := collect(tt.read, tt.data)
		if (err == nil) != tt.ok {
			t.Errorf("%s: error = %v, want ok %v", tt.name, err, tt.ok)
			continue
		}
		if tt.ok && !slices.Equal(got, tt.want) {
			t.Errorf("%s: pairs = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// FuzzReadPairsCSV checks that any input is either rejected or read into
// pairs that write back to an equivalent CSV.
func FuzzReadPairsCSV(f *testing.F) {
	f.Add("UserID,MovieID\n1,1193\n2,\"a,b\"\n")
	f.Add("h\n\"x\"\"y\",z\n")
	f.Fuzz(func(t *testing.T, data string) {
		ps, err := collect(func(r *bytes.Reader, add func(u, i string)) error { return readPairsCSV(r, add) }, data)
		if err != nil {
			return
		}
		var b strings.Builder
		b.WriteString("UserID,MovieID\n")
		for _, p := range ps {
			fmt.Fprintf(&b, "%s,%s\n", quote(p.user), quote(p.item))
		}
		again, err := collect(func(r *bytes.Reader, add func(u, i string)) error { return readPairsCSV(r, add) }, b.String())
		if err != nil || !slices.Equal(again, ps) {
			t.Errorf("round trip of %q: %v, %v; want %v", b.String(), again, err, ps)
		}
	})
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// FuzzReadUData checks that any input is rejected or read without panics,
// one pair per line.
func FuzzReadUData(f *testing.F) {
	f.Add("196\t242\t3\t881250949\n")
	f.Fuzz(func(t *testing.T, data string) {
		ps, err := collect(func(r *bytes.Reader, add func(u, i string)) error { return readUData(r, add) }, data)
		if err == nil && len(ps) > strings.Count(data, "\n")+1 {
			t.Errorf("%d pairs from %d lines", len(ps), strings.Count(data, "\n")+1)
		}
	})
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "ml-1m"), 0o755); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	z := gzip.NewWriter(&b)
	fmt.Fprint(z, "UserID,MovieID\n2,10\n1,10\n1,9\n")
	z.Close()
	if err := os.WriteFile(filepath.Join(dir, "ml-1m", "ratings_pairs.csv.gz"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := Load(dir, "ml-1m")
	if err != nil {
		t.Fatal(err)
	}
	if d.Users() != 2 || d.Items() != 2 || d.Pairs() != 3 || d.User(0) != "1" || d.Item(0) != "9" {
		t.Errorf("Load = %d users, %d items, %d pairs, first %q/%q; want 2, 2, 3, 1/9", d.Users(), d.Items(), d.Pairs(), d.User(0), d.Item(0))
	}
	if _, err := Load(dir, "ml-100k"); err == nil {
		t.Error("Load(missing file) = nil error, want an error")
	}
	if _, err := Load(dir, "netflix"); err == nil {
		t.Error("Load(unknown dataset) = nil error, want an error")
	}
}
