package eventfile_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/discret-io/discret/features/eventfile"
	"github.com/discret-io/discret/privacy"
)

func ExampleRead() {
	in := `{"customer":"LOY-10012345","item":"SKU-000042","type":"purchase","store":"store-01","time":"2026-03-01T12:30:00Z","quantity":2}
{"customer":"LOY-10012345","item":"SKU-000042","type":"click","time":"2026-03-01T12:31:00Z"}
{"customer":"LOY-10012345","item":"SKU-000042","type":"view","time":1772368260,"price":3}
`
	var counts eventfile.Counts
	for r, err := range eventfile.Read(context.Background(), strings.NewReader(in), eventfile.Options{}) {
		if err != nil {
			fmt.Println("fatal:", err)
			return
		}
		counts.Add(r)
		if r.Err != nil {
			fmt.Println(r.Err)
			continue
		}
		e := r.Event
		fmt.Println(e.Customer, e.Kind, e.Item, e.Store, e.Time.Format(time.RFC3339), e.Quantity)
	}
	fmt.Println(counts.Valid, "valid,", counts.Errors)
	// Output:
	// [redacted customer id] purchase SKU-000042 store-01 2026-03-01T12:30:00Z 2
	// row 2: field type: "click": want view, add_to_cart, purchase or store_visit
	// row 3: field price: unknown field (the fields are customer, item, type, store, time, quantity)
	// 1 valid, map[invalid price:1 invalid type:1]
}

func ExampleRead_onlineRetail() {
	in := `InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2011-06-01 08:26:00,2.55,17850.0,United Kingdom
C536379,D,Discount,-1,2011-06-01 09:41:00,27.5,14527,United Kingdom
536370,POST,POSTAGE,3,2011-06-01 08:45:00,18,12583,France
`
	for r, err := range eventfile.Read(context.Background(), strings.NewReader(in), eventfile.Options{}) {
		if err != nil {
			fmt.Println("fatal:", err)
			return
		}
		if r.Skip != "" {
			fmt.Printf("line %d skipped: %s\n", r.Line, r.Skip)
			continue
		}
		fmt.Printf("line %d: %v of %d × %s in %s at %v\n", r.Line, r.Event.Kind, r.Event.Quantity, r.Event.Item, r.Event.Store, r.Event.Time)
	}
	// Output:
	// line 2: purchase of 6 × 85123A in United Kingdom at 2011-06-01 07:26:00 +0000 UTC
	// line 3 skipped: cancellation
	// line 4 skipped: non-product code
}

func ExampleEncoder() {
	enc, err := eventfile.NewEncoder(os.Stdout, eventfile.CSV)
	if err != nil {
		panic(err)
	}
	at := time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)
	rows := []eventfile.Row{
		{Customer: "jane.doe@example.com", Item: "SKU-000042", Kind: privacy.View, Time: at, Quantity: 1},
		{Customer: "LOY-10012345", Kind: privacy.StoreVisit, Store: "store-01", Time: at, Quantity: 1},
		{Customer: "LOY-10012345", Item: "SKU-000042", Kind: privacy.Purchase, Time: at, Quantity: 0},
	}
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			fmt.Println(err)
		}
	}
	if err := enc.Flush(); err != nil {
		panic(err)
	}
	// Output:
	// eventfile: encode: field quantity: "0": must be an integer from 1 to 1000000
	// customer,item,type,store,time,quantity
	// jane.doe@example.com,SKU-000042,view,,2026-03-01T12:30:00.000Z,1
	// LOY-10012345,,store_visit,store-01,2026-03-01T12:30:00.000Z,1
}

func ExampleReadConsent() {
	in := `customer,purpose,granted,time,source
LOY-10012345,personalization,true,2026-03-01T12:30:00Z,web-form
LOY-10012345,in_store,maybe,2026-03-01T12:30:00Z,web-form
`
	for r, err := range eventfile.ReadConsent(context.Background(), strings.NewReader(in)) {
		if err != nil {
			fmt.Println("fatal:", err)
			return
		}
		if r.Err != nil {
			fmt.Println(r.Err)
			continue
		}
		fmt.Println(r.Customer, r.Change.Purpose, r.Change.Granted, r.Change.Time.Format(time.RFC3339), r.Change.Source)
	}
	// Output:
	// [redacted customer id] personalization true 2026-03-01T12:30:00Z web-form
	// row 3: field granted: "maybe": want true or false (in any case)
}
