package eventfile

import (
	"bytes"
	"fmt"
	"path"
	"strings"
)

// Detect returns the format of a file from its first bytes (at least its
// first non-blank line), and failing that from its name (".gz" stripped):
//
//   - a line starting with "{": discret;
//   - a CSV header with the columns customer and type: csv;
//   - a header with InvoiceNo (or Invoice) and StockCode: online-retail;
//   - a header with timestamp and visitorid: retailrocket;
//   - a header with UserID and MovieID, or a line of four integers separated
//     by tabs or "::": movielens;
//   - else a name ending in .jsonl or .ndjson: discret; u.data or
//     ratings.dat: movielens.
//
// Header names are compared ignoring case, spaces, underscores and hyphens.
// The error never quotes the content.
func Detect(head []byte, name string) (Format, error) {
	if line := firstLine(head); line != nil {
		if f, ok := detectLine(line); ok {
			return f, nil
		}
		if cols := headerNames(line); cols["purpose"] && cols["granted"] {
			return "", fmt.Errorf("%w: this is a consent file (customer, purpose, granted…), not an event file", ErrUnknownFormat)
		}
	}
	base := path.Base(strings.TrimSuffix(strings.ToLower(name), ".gz"))
	switch {
	case strings.HasSuffix(base, ".jsonl") || strings.HasSuffix(base, ".ndjson"):
		return Discret, nil
	case base == "u.data" || base == "ratings.dat":
		return MovieLens, nil
	}
	return "", fmt.Errorf("%w: the first line is neither a JSON object, nor a MovieLens rating, nor a header of a known CSV format (want one of %s)", ErrUnknownFormat, formatList())
}

// firstLine returns the first non-blank line of head, without a byte order
// mark and line terminator, or nil.
func firstLine(head []byte) []byte {
	head = bytes.TrimPrefix(head, bom)
	for len(head) > 0 {
		line := head
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			head = nil
		}
		if line = bytes.TrimSuffix(line, []byte{'\r'}); len(bytes.TrimSpace(line)) > 0 {
			return line
		}
	}
	return nil
}

func detectLine(line []byte) (Format, bool) {
	if t := bytes.TrimSpace(line); t[0] == '{' {
		return Discret, true
	}
	if sep := movieLensDialect(line); sep != "" && allIntegers(line, sep, 4) {
		return MovieLens, true
	}
	cols := headerNames(line)
	switch {
	case cols["customer"] && cols["type"]:
		return CSV, true
	case (cols["invoiceno"] || cols["invoice"]) && cols["stockcode"]:
		return OnlineRetail, true
	case cols["timestamp"] && cols["visitorid"]:
		return RetailRocket, true
	case cols["userid"] && (cols["movieid"] || cols["itemid"]):
		return MovieLens, true
	}
	return "", false
}

// headerNames returns the normalized names of a CSV header line.
func headerNames(line []byte) map[string]bool {
	var c csvReader
	if incomplete, err := c.parse(line); incomplete || err != nil {
		return nil
	}
	names := make(map[string]bool, len(c.fields))
	for _, f := range c.fields {
		names[normalize(f)] = true
	}
	return names
}

// allIntegers reports whether line is n non-empty runs of digits separated
// by sep.
func allIntegers(line []byte, sep string, n int) bool {
	f := make([][]byte, n)
	if splitN(line, sep, f) != n {
		return false
	}
	for _, v := range f {
		if _, ok := smallUint(v, 18); !ok {
			return false
		}
	}
	return true
}
