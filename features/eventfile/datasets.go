package eventfile

import (
	"bytes"
	"fmt"
	"sync"
	"time"
	_ "time/tzdata" // Europe/London for Online Retail, whatever the host has

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/privacy"
)

// MovieLens.

// MovieLens dialects.
const (
	mlTab    = "\t" // u.data: user item rating timestamp
	mlColons = "::" // ratings.dat: UserID::MovieID::Rating::Timestamp
)

var movieLensColumns = []column{
	{field: features.FieldCustomer, names: []string{"userid", "user"}, required: true},
	{field: features.FieldItem, names: []string{"movieid", "itemid", "item", "movie"}, required: true},
	{field: features.FieldTime, names: []string{"timestamp"}},
	{field: "rating", names: []string{"rating"}},
}

// movieLensDialect returns the separator of a headerless MovieLens line, or
// "" for a CSV header.
func movieLensDialect(line []byte) string {
	switch {
	case bytes.Contains(line, []byte(mlColons)):
		return mlColons
	case bytes.IndexByte(line, '\t') >= 0:
		return mlTab
	}
	return ""
}

func (d *decoder) movieLens() {
	head, err := d.lr.head()
	if err != nil {
		d.fail(d.ioErr(err))
		return
	}
	if sep := movieLensDialect(firstLine(head)); sep != "" {
		d.movieLensRatings(sep)
		return
	}
	d.records(MovieLens, movieLensColumns, false, func(idx []int, fields [][]byte, n int) bool {
		var e features.RawEvent
		var err error
		if e.Customer, err = d.b.customer(fields[idx[0]]); err != nil {
			return d.rowErr(n, err)
		}
		e.Item = d.b.id(fields[idx[1]])
		if idx[2] >= 0 {
			if e.Time, err = unixTime(fields[idx[2]], time.Second); err != nil {
				return d.rowErr(n, err)
			}
		} else if e.Time = d.opts.DefaultTime; e.Time.IsZero() {
			d.fail(fmt.Errorf("%w (movielens pairs, line %d)", ErrNoDefaultTime, n))
			return false
		}
		e.Kind, e.Quantity = privacy.Purchase, 1
		return d.event(n, &e, nil)
	})
}

// movieLensRatings decodes u.data and ratings.dat lines.
func (d *decoder) movieLensRatings(sep string) {
	var f [4][]byte
	d.lines(func(line []byte, n int) bool {
		if got := splitN(line, sep, f[:]); got != len(f) {
			return d.rowErr(n, fieldCountErr(got, len(f)))
		}
		var e features.RawEvent
		var err error
		if e.Customer, err = d.b.customer(f[0]); err != nil {
			return d.rowErr(n, err)
		}
		e.Item = d.b.id(f[1])
		if e.Time, err = unixTime(f[3], time.Second); err != nil {
			return d.rowErr(n, err)
		}
		e.Kind, e.Quantity = privacy.Purchase, 1
		return d.event(n, &e, nil)
	})
}

// splitN splits line around sep into f and returns the number of fields
// found, which may be more than len(f).
func splitN(line []byte, sep string, f [][]byte) int {
	n := 0
	for {
		i := bytes.Index(line, []byte(sep))
		if n < len(f) {
			f[n] = line
			if i >= 0 {
				f[n] = line[:i]
			}
		}
		n++
		if i < 0 {
			return n
		}
		line = line[i+len(sep):]
	}
}

// UCI Online Retail.

var onlineRetailColumns = []column{
	{field: "InvoiceNo", names: []string{"invoiceno", "invoice"}, required: true},
	{field: features.FieldItem, names: []string{"stockcode"}, required: true},
	{field: features.FieldQuantity, names: []string{"quantity"}, required: true},
	{field: features.FieldTime, names: []string{"invoicedate"}, required: true},
	{field: features.FieldCustomer, names: []string{"customerid"}, required: true},
	{field: features.FieldStore, names: []string{"country"}},
	{field: "Description", names: []string{"description"}}, // ignored: free text
	{field: "UnitPrice", names: []string{"unitprice", "price"}},
}

var london = sync.OnceValues(func() (*time.Location, error) { return time.LoadLocation("Europe/London") })

func (d *decoder) onlineRetail() {
	loc, err := london()
	if err != nil {
		d.fail(fmt.Errorf("eventfile: online-retail: %w", err))
		return
	}
	var lastDate []byte // InvoiceDate of the previous row, usually that of this one
	var lastTime time.Time
	// One invoice's records are held (decoder.holding) so that its lines
	// for the same product add up (SkipMerged). Invoices are contiguous.
	var invoiceNo []byte
	d.holding = true
	d.records(OnlineRetail, onlineRetailColumns, false, func(idx []int, fields [][]byte, n int) bool {
		invoice := bytes.TrimSpace(fields[idx[0]])
		if !bytes.Equal(invoice, invoiceNo) {
			if !d.release() {
				return false
			}
			invoiceNo = append(invoiceNo[:0], invoice...)
		}
		if len(invoice) > 0 && (invoice[0] == 'C' || invoice[0] == 'c') {
			return d.emit(Record{Line: n, Skip: SkipCancellation})
		}
		cust := bytes.TrimSpace(fields[idx[4]])
		// Copies that went through a float column write 17850 as "17850.0".
		if i := bytes.LastIndexByte(cust, '.'); i > 0 && len(bytes.Trim(cust[i+1:], "0")) == 0 {
			cust = cust[:i]
		}
		if len(cust) == 0 {
			return d.emit(Record{Line: n, Skip: SkipNoCustomer})
		}
		qv := bytes.TrimSpace(fields[idx[2]])
		q, ok := signedInt(qv)
		if !ok {
			err := features.ErrQuantity
			if len(qv) == 0 {
				err = features.ErrMissing
			}
			return d.rowErr(n, &features.FieldError{Field: features.FieldQuantity, Value: clip(qv), Err: err})
		}
		if q <= 0 {
			return d.emit(Record{Line: n, Skip: SkipNonPositive})
		}
		if q > features.MaxQuantity {
			return d.rowErr(n, &features.FieldError{Field: features.FieldQuantity, Value: clip(qv), Err: features.ErrQuantity})
		}
		code := bytes.TrimSpace(fields[idx[1]])
		if !productCode(code) {
			return d.emit(Record{Line: n, Skip: SkipNonProduct})
		}
		date := bytes.TrimSpace(fields[idx[3]])
		if !bytes.Equal(date, lastDate) || lastTime.IsZero() {
			t, ok := retailDate(date, loc)
			if !ok {
				return d.rowErr(n, &features.FieldError{Field: features.FieldTime, Value: clip(date), Err: errRetailDate})
			}
			lastDate, lastTime = append(lastDate[:0], date...), t
		}
		e := features.RawEvent{Kind: privacy.Purchase, Item: d.b.id(code), Time: lastTime, Quantity: uint32(q)}
		var err error
		if e.Customer, err = d.b.customer(cust); err != nil {
			return d.rowErr(n, err)
		}
		e.Store = d.b.id(bytes.TrimSpace(get(fields, idx[5])))
		for i := len(d.held) - 1; i >= 0; i-- {
			p := &d.held[i]
			if p.Err == nil && p.Skip == "" && p.Event.Customer == e.Customer && p.Event.Item == e.Item &&
				p.Event.Store == e.Store && p.Event.Time.Equal(e.Time) &&
				uint64(p.Event.Quantity)+uint64(e.Quantity) <= features.MaxQuantity {
				p.Event.Quantity += e.Quantity
				return d.emit(Record{Line: n, Skip: SkipMerged})
			}
		}
		return d.event(n, &e, nil)
	})
	d.release()
	d.holding = false
}

var errRetailDate = fmt.Errorf("want YYYY-MM-DD HH:MM[:SS] or M/D/YYYY H:MM[:SS]")

// productCode reports whether a StockCode names a product: five digits and
// an optional suffix ("85123A"). Postage, fees, discounts, samples and gift
// vouchers have other codes.
func productCode(code []byte) bool {
	if len(code) < 5 {
		return false
	}
	for _, c := range code[:5] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// retailDate parses an InvoiceDate, local time in loc: "2010-12-01 08:26:00"
// (the UCI spreadsheet), "2010-12-01 08:26", or "12/1/2010 8:26" (the
// widespread CSV export).
func retailDate(v []byte, loc *time.Location) (time.Time, bool) {
	var num [6]int
	var sep [5]byte
	k := 0
	for i := 0; i < len(v); {
		if k == len(num) {
			return time.Time{}, false
		}
		j := i
		for j < len(v) && v[j] >= '0' && v[j] <= '9' {
			j++
		}
		if j == i || j-i > 4 {
			return time.Time{}, false
		}
		n, _ := smallUint(v[i:j], 4)
		num[k] = int(n)
		if j < len(v) {
			if k == len(sep) {
				return time.Time{}, false
			}
			sep[k] = v[j]
			j++
			if j == len(v) {
				return time.Time{}, false
			}
		}
		k++
		i = j
	}
	if k < 5 || sep[2] != ' ' || sep[3] != ':' || k == 6 && sep[4] != ':' {
		return time.Time{}, false
	}
	var year, month, day int
	switch {
	case sep[0] == '-' && sep[1] == '-':
		year, month, day = num[0], num[1], num[2]
	case sep[0] == '/' && sep[1] == '/':
		month, day, year = num[0], num[1], num[2]
	default:
		return time.Time{}, false
	}
	hour, minute, sec := num[3], num[4], num[5]
	if year < 1970 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, 0, loc).UTC(), true
}

// Retailrocket.

var retailRocketColumns = []column{
	{field: features.FieldTime, names: []string{"timestamp"}, required: true},
	{field: features.FieldCustomer, names: []string{"visitorid"}, required: true},
	{field: features.FieldType, names: []string{"event"}, required: true},
	{field: features.FieldItem, names: []string{"itemid"}, required: true},
	{field: "transactionid", names: []string{"transactionid"}},
}

var errRetailRocketEvent = fmt.Errorf("want view, addtocart or transaction")

func (d *decoder) retailRocket() {
	d.records(RetailRocket, retailRocketColumns, false, func(idx []int, fields [][]byte, n int) bool {
		var e features.RawEvent
		var err error
		if e.Customer, err = d.b.customer(fields[idx[1]]); err != nil {
			return d.rowErr(n, err)
		}
		e.Item = d.b.id(fields[idx[3]])
		switch ev := fields[idx[2]]; string(ev) {
		case "view":
			e.Kind = privacy.View
		case "addtocart":
			e.Kind = privacy.AddToCart
		case "transaction":
			e.Kind = privacy.Purchase
		case "":
			return d.rowErr(n, &features.FieldError{Field: features.FieldType, Err: features.ErrMissing})
		default:
			return d.rowErr(n, &features.FieldError{Field: features.FieldType, Value: clip(ev), Err: errRetailRocketEvent})
		}
		if e.Time, err = unixTime(fields[idx[0]], time.Millisecond); err != nil {
			return d.rowErr(n, err)
		}
		e.Quantity = 1
		return d.event(n, &e, nil)
	})
}
