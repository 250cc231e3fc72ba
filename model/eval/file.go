package eval

import (
	"context"
	"fmt"
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
	d, err = NewDataset(func(yield func(string, string) bool) {
		for p, err := range eventfile.ReadPairs(ctx, f, opts) {
			switch {
			case err != nil:
				readErr = err
				return
			case p.Err != nil:
				bad++
			case p.Item != "":
				if !yield(p.User, p.Item) {
					return
				}
			}
		}
	})
	if readErr != nil {
		return nil, bad, fmt.Errorf("%s: %w", path, readErr)
	}
	if err != nil {
		return nil, bad, fmt.Errorf("%s: %w", path, err)
	}
	return d, bad, nil
}
