package eventfile_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/discret-io/discret/features/eventfile"
	"github.com/discret-io/discret/privacy"
)

// benchRows is the number of rows of each benchmark input.
const benchRows = 20_000

// benchInput returns a fixed-seed input of n rows in the given format.
func benchInput(b *testing.B, format string, n int) []byte {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	kinds := []privacy.EventKind{privacy.View, privacy.View, privacy.View, privacy.AddToCart, privacy.Purchase}
	switch format {
	case "discret", "csv":
		f := eventfile.Discret
		if format == "csv" {
			f = eventfile.CSV
		}
		enc, err := eventfile.NewEncoder(&buf, f)
		if err != nil {
			b.Fatal(err)
		}
		cust := 0
		for i := range n {
			if rng.IntN(8) == 0 {
				cust = rng.IntN(100_000)
			}
			r := eventfile.Row{
				Customer: fmt.Sprintf("LOY-%08d", cust), Item: fmt.Sprintf("SKU-%06d", rng.IntN(5000)),
				Kind: kinds[rng.IntN(len(kinds))], Time: base.Add(time.Duration(i) * time.Second), Quantity: 1,
			}
			if rng.IntN(3) == 0 {
				r.Store = fmt.Sprintf("store-%02d", rng.IntN(20))
			}
			if err := enc.Encode(r); err != nil {
				b.Fatal(err)
			}
		}
		if err := enc.Flush(); err != nil {
			b.Fatal(err)
		}
	case "movielens":
		for i := range n {
			fmt.Fprintf(&buf, "%d\t%d\t%d\t%d\n", 1+i/100, 1+rng.IntN(1682), 1+rng.IntN(5), 874724710+i)
		}
	case "online-retail":
		buf.WriteString("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n")
		for i := range n {
			inv := 536365 + i/20
			fmt.Fprintf(&buf, "%d,%d,\"PRODUCT %d, BOXED\",%d,2011-%02d-%02d 10:%02d:00,2.55,%d,United Kingdom\n",
				inv, 20000+rng.IntN(4000), i, 1+rng.IntN(24), 1+inv%12, 1+inv%28, inv%60, 12000+inv%4000)
		}
	case "retailrocket":
		buf.WriteString("timestamp,visitorid,event,itemid,transactionid\n")
		events := []string{"view", "view", "view", "addtocart", "transaction"}
		for i := range n {
			fmt.Fprintf(&buf, "%d,%d,%s,%d,\n", 1433221332117+int64(i)*1000, rng.IntN(1_400_000), events[rng.IntN(5)], rng.IntN(235_000))
		}
	default:
		b.Fatalf("unknown format %s", format)
	}
	return buf.Bytes()
}

// BenchmarkRead measures decoding throughput per format, in MB/s and rows/s.
func BenchmarkRead(b *testing.B) {
	for _, format := range []string{"discret", "csv", "movielens", "online-retail", "retailrocket"} {
		b.Run("format="+format, func(b *testing.B) {
			data := benchInput(b, format, benchRows)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			rows := 0
			for b.Loop() {
				for r, err := range eventfile.Read(context.Background(), bytes.NewReader(data), eventfile.Options{}) {
					if err != nil || r.Err != nil {
						b.Fatal(err, r.Err)
					}
					rows++
				}
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkReadConsent measures consent decoding.
func BenchmarkReadConsent(b *testing.B) {
	var buf bytes.Buffer
	enc, _ := eventfile.NewConsentEncoder(&buf, eventfile.Discret)
	for i := range benchRows {
		enc.Encode(eventfile.ConsentRow{Customer: fmt.Sprintf("LOY-%08d", i), Purpose: privacy.Personalization, Granted: true, Time: time.Unix(1772368200, 0), Source: "synthetic"})
	}
	enc.Flush()
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	rows := 0
	for b.Loop() {
		for r, err := range eventfile.ReadConsent(context.Background(), bytes.NewReader(data)) {
			if err != nil || r.Err != nil {
				b.Fatal(err, r.Err)
			}
			rows++
		}
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkEncode measures the JSON Lines encoder.
func BenchmarkEncode(b *testing.B) {
	r := eventfile.Row{Customer: "LOY-00012345", Item: "SKU-000042", Kind: privacy.Purchase, Store: "store-07", Time: time.Unix(1772368200, 0), Quantity: 2}
	enc, _ := eventfile.NewEncoder(io.Discard, eventfile.Discret)
	b.ReportAllocs()
	for b.Loop() {
		if err := enc.Encode(r); err != nil {
			b.Fatal(err)
		}
	}
}
