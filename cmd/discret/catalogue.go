package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/eventfile"
)

func itemsCommand() *command {
	return &command{
		name:    "items",
		summary: "import and list catalogue items",
		help: `Items manages the catalogue: the items that may be recommended, in which
stores, and whether they are on sale. Unknown and inactive items are never
recommended. The catalogue is the public item universe of training: a private
model gets DP popularity for every catalogue item and item vectors for the
most popular ones by noisy count. An item without "active" is active. A
running server takes items through its API (PUT /v1/items/{item}).`,
		sub: []*command{
			catalogueImportCommand("items", `{"item":"SKU-1","category":"shoes","stores":["store-01"],"active":true}`, (*features.Item).Validate, func(it *features.Item) string { return it.ID },
				func(ctx context.Context, d *dataEnv, items []features.Item) error { return d.db.PutItems(ctx, items) }),
			catalogueListCommand("items", func(ctx context.Context, d *dataEnv) ([]features.Item, error) { return d.db.Items(ctx) }),
		},
	}
}

func couponsCommand() *command {
	return &command{
		name:    "coupons",
		summary: "import and list in-store coupons",
		help: `Coupons manages the in-store coupons offered to customers entering a store
(POST /v1/stores/{store}/entries). A running server takes coupons through
its API (PUT /v1/coupons/{coupon}).`,
		sub: []*command{
			catalogueImportCommand("coupons", `{"coupon":"C-1","item":"SKU-1","stores":["store-01"],"value":"-20%","valid_from":"2035-01-01T00:00:00Z","valid_until":"2035-02-01T00:00:00Z","active":true}`, (*features.Coupon).Validate, func(c *features.Coupon) string { return c.ID },
				func(ctx context.Context, d *dataEnv, cs []features.Coupon) error { return d.db.PutCoupons(ctx, cs) }),
			catalogueListCommand("coupons", func(ctx context.Context, d *dataEnv) ([]features.Coupon, error) { return d.db.Coupons(ctx) }),
		},
	}
}

// catalogueImportCommand is `discret items|coupons import FILE`: JSON Lines,
// every line validated before anything is stored.
func catalogueImportCommand[T any](what, example string, validate func(*T) error, id func(*T) string, put func(context.Context, *dataEnv, []T) error) *command {
	return &command{
		name:    "import",
		args:    "FILE",
		summary: "create or replace " + what + " from a JSON Lines file",
		help: `Import reads FILE (JSON Lines, "-" for standard input, .gz read directly),
one object per line:

  ` + example + `

and creates or replaces each by its identifier. Every line is checked first:
a file with an invalid line, or with two lines for the same identifier, is
refused whole, and every bad line is listed with its row number and fields.`,
		run: func(ctx context.Context, e *env, args []string) error {
			if len(args) != 1 {
				return usagef("want one FILE")
			}
			rows, err := readJSONLines(args[0], validate, id)
			if err != nil {
				return err
			}
			d, err := openData(ctx, e, true)
			if err != nil {
				return err
			}
			defer d.Close()
			if err := put(ctx, d, rows); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "stored %s\n", features.Plural(len(rows), what[:len(what)-1]))
			return nil
		},
	}
}

// catalogueListCommand is `discret items|coupons list`.
func catalogueListCommand[T any](what string, list func(context.Context, *dataEnv) ([]T, error)) *command {
	return &command{
		name:    "list",
		args:    "",
		summary: "print the " + what + " as JSON Lines",
		help:    "List prints every stored " + what[:len(what)-1] + " as one JSON object per line, by\nidentifier: the format import reads.",
		noArgs:  true,
		run: func(ctx context.Context, e *env, _ []string) error {
			d, err := openData(ctx, e, false)
			if err != nil {
				return err
			}
			defer d.Close()
			rows, err := list(ctx, d)
			if err != nil {
				return err
			}
			w := bufio.NewWriter(e.stdout)
			enc := json.NewEncoder(w)
			for i := range rows {
				if err := enc.Encode(&rows[i]); err != nil {
					return err
				}
			}
			return w.Flush()
		},
	}
}

// readJSONLines decodes and validates every line of path ("-" is standard
// input; a gzip file is decompressed; a leading byte order mark and "\r\n"
// line ends are accepted). A line must be one JSON object: unknown, repeated
// and mistyped fields are errors, every one reported, and so are two lines
// with the same identifier id: which one should win is not ours to guess.
// With any bad line, it returns an error listing them (up to
// ingestMaxListed) and no rows.
func readJSONLines[T any](path string, validate func(*T) error, id func(*T) string) ([]T, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := eventfile.Open(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, withoutPath(err, path))
		}
		defer f.Close()
		r = f
	}
	const maxLine = 1 << 20
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var out []T
	var bad []error
	seen := map[string]int{} // identifier -> line
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if line == 1 {
			b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
		}
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			continue
		}
		var v T
		err := json.Unmarshal(b, &v)
		if se := (*json.SyntaxError)(nil); errors.As(err, &se) {
			err = &features.FieldError{Field: features.FieldRecord, Err: fmt.Errorf("malformed JSON at byte %d: %v", se.Offset, err)}
		}
		if err == nil {
			err = validate(&v)
		}
		if err == nil {
			if prev, ok := seen[id(&v)]; ok {
				err = fmt.Errorf("%q is also on row %d; give each identifier once", id(&v), prev)
			} else {
				seen[id(&v)] = line
			}
		}
		if err != nil {
			bad = append(bad, &features.RowError{Row: line, Err: err})
			continue
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		if !errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		bad = append(bad, &features.RowError{Row: line + 1, Err: fmt.Errorf("longer than %d bytes; reading stopped there", maxLine)})
	}
	if len(bad) > 0 {
		var msg strings.Builder
		fmt.Fprintf(&msg, "%s: %s; nothing was stored:\n", path, features.Plural(len(bad), "bad row"))
		writeBadRows(&msg, bad)
		return nil, errors.New(strings.TrimSuffix(msg.String(), "\n"))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: nothing to import", path)
	}
	return out, nil
}
