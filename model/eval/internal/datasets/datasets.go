// Package datasets reads the public benchmark files of EVAL.md into an
// eval.Dataset: MovieLens 100K (u.data), MovieLens 1M (ratings_pairs.csv.gz)
// and UCI Online Retail (online_retail.csv.gz). It is the thin loading seam of
// the offline evaluation's own tests and tuning runs; product code decodes
// event files with features/eventfile.
package datasets

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/discret-io/discret/model/eval"
)

// Names lists the datasets Load knows, by their folder under the data
// directory.
var Names = []string{"ml-100k", "ml-1m", "online-retail"}

// Load reads the named dataset from dir (the DISCRET_DATA_DIR layout).
func Load(dir, name string) (*eval.Dataset, error) {
	switch name {
	case "ml-100k":
		return loadFile(filepath.Join(dir, "ml-100k", "u.data"), false, readUData)
	case "ml-1m":
		return loadFile(filepath.Join(dir, "ml-1m", "ratings_pairs.csv.gz"), true, readPairsCSV)
	case "online-retail":
		return loadFile(filepath.Join(dir, "online-retail", "online_retail.csv.gz"), true, readRetail)
	}
	return nil, fmt.Errorf("datasets: unknown dataset %q (want one of %s)", name, strings.Join(Names, ", "))
}

func loadFile(path string, gz bool, read func(io.Reader, func(user, item string)) error) (*eval.Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	defer f.Close()
	var r io.Reader = bufio.NewReaderSize(f, 1<<20)
	if gz {
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("datasets: %s: %w", path, err)
		}
		defer z.Close()
		r = z
	}
	var users, items []string
	if err := read(r, func(u, i string) {
		users = append(users, u)
		items = append(items, i)
	}); err != nil {
		return nil, fmt.Errorf("datasets: %s: %w", path, err)
	}
	d, err := eval.NewDataset(func(yield func(string, string) bool) {
		for k := range users {
			if !yield(users[k], items[k]) {
				return
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("datasets: %s: %w", path, err)
	}
	return d, nil
}

// readUData reads MovieLens 100K u.data: user TAB item TAB rating TAB time.
func readUData(r io.Reader, add func(user, item string)) error {
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		f := strings.Split(sc.Text(), "\t")
		if len(f) < 2 {
			return fmt.Errorf("line %d: want user and item separated by a tab", line)
		}
		add(f[0], f[1])
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", line+1, err)
	}
	return nil
}

// readPairsCSV reads a CSV of user,item with a header line.
func readPairsCSV(r io.Reader, add func(user, item string)) error {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if line == 1 {
			continue // header
		}
		if len(rec) < 2 {
			return fmt.Errorf("line %d: want user,item", line)
		}
		add(rec[0], rec[1])
	}
}

// readRetail reads UCI Online Retail: users are CustomerID, items StockCode;
// rows without a customer, cancellations (invoice "C…"), non-positive
// quantities and non-product codes (no digit in the code: POST, M, DOT,
// BANK CHARGES, …) are dropped.
func readRetail(r io.Reader, add func(user, item string)) error {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	col := map[string]int{}
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if line == 1 {
			for i, h := range rec {
				col[h] = i
			}
			for _, h := range []string{"InvoiceNo", "StockCode", "Quantity", "CustomerID"} {
				if _, ok := col[h]; !ok {
					return fmt.Errorf("header lacks column %s", h)
				}
			}
			continue
		}
		cust := strings.TrimSpace(rec[col["CustomerID"]])
		code := strings.TrimSpace(rec[col["StockCode"]])
		if cust == "" || strings.HasPrefix(rec[col["InvoiceNo"]], "C") || !strings.ContainsAny(code, "0123456789") {
			continue
		}
		q, err := strconv.Atoi(strings.TrimSpace(rec[col["Quantity"]]))
		if err != nil || q <= 0 {
			continue
		}
		add(strings.TrimSuffix(cust, ".0"), code)
	}
}
