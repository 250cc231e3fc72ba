package eval

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/discret-io/discret/features/eventfile"
)

// ReadFile reads the (user, item) pairs of a public research dataset file in
// any eventfile format (format "" detects it; gzip is decompressed) through
// eventfile.ReadPairs, which keeps the public identifiers in clear: the
// split orders users by them (EVAL.md). Bad rows are counted and left out,
// as are rows without an item (store visits). Files without timestamps get
// a fixed time, which evaluation ignores.
func ReadFile(ctx context.Context, path string, format eventfile.Format) (d *Dataset, bad int, err error) {
	f, err := eventfile.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	opts := eventfile.Options{Format: format, Name: path, DefaultTime: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}
	var readErr error
	rows, noItem := 0, 0
	d, err = NewDataset(func(yield func(string, string) bool) {
		for p, err := range eventfile.ReadPairs(ctx, f, opts) {
			if err != nil {
				readErr = err
				return
			}
			rows++
			switch {
			case p.Err != nil:
				bad++
			case p.Item == "":
				noItem++
			case !yield(p.User, p.Item):
				return
			}
		}
	})
	switch {
	case readErr != nil:
		return nil, bad, fmt.Errorf("%s: %w", path, readErr)
	case errors.Is(err, ErrNoPairs):
		// The file's own terms, not the package's: its name says where.
		return nil, bad, fmt.Errorf("%s: %s", path, noPairs(rows, bad, noItem))
	case err != nil:
		return nil, bad, fmt.Errorf("%s: %w", path, err)
	}
	return d, bad, nil
}

// noPairs says why a file of rows rows, bad of them bad and noItem without
// an item, has no (user, item) pair.
func noPairs(rows, bad, noItem int) string {
	if rows == 0 {
		return "no (user, item) pairs: the file has no event rows"
	}
	var why []string
	if bad > 0 {
		why = append(why, fmt.Sprintf("%d bad", bad))
	}
	if noItem > 0 {
		why = append(why, fmt.Sprintf("%d without an item (store visits)", noItem))
	}
	return fmt.Sprintf("no usable (user, item) pairs: of %d rows, %s", rows, strings.Join(why, ", "))
}
