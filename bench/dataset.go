package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/eventfile"
	"github.com/discret-io/discret/model/eval"
	"github.com/discret-io/discret/model/interact"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/pseudonym"
)

// Events is an event file turned into the matrix ALS trains on, exactly as
// training does from a data directory: customers are pseudonymized (with a
// key drawn for this run and forgotten), their events about an item become
// one confidence per (customer, item) pair (package interact), and
// customers and items are numbered densely.
type Events struct {
	Path   string
	Matrix *interact.Matrix
	// Rows counts the file's rows: valid, skipped by design and rejected.
	Rows eventfile.Counts
	// Bad holds the first rejected rows, which training leaves out.
	Bad eval.BadRows
	// Read is the time spent reading and building the matrix.
	Read time.Duration
}

// ReadEvents reads an event file in any eventfile format (format "" detects
// it; gzip is decompressed). Files without timestamps (MovieLens pair files)
// get the current time. ic sets the event weights, the strength cap and α
// of the confidences (its zero value means the interact defaults).
// progress, if not nil, is called every million rows.
func ReadEvents(ctx context.Context, path string, format eventfile.Format, ic interact.Config, progress func(rows int)) (*Events, error) {
	start := time.Now()
	f, err := eventfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	key := make([]byte, 32)
	if _, err := io.ReadFull(rand.Reader, key); err != nil {
		return nil, fmt.Errorf("bench: pseudonym key: %w", err)
	}
	ps, err := pseudonym.New(key)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	type ev struct {
		user, item int32
		kind       privacy.EventKind
		q          uint32
	}
	var evs []ev
	users := map[privacy.PseudoID]int32{}
	items := map[string]int32{}
	out := &Events{Path: path}
	for rec, err := range eventfile.Read(ctx, f, eventfile.Options{Format: format, Name: path, DefaultTime: time.Now().UTC()}) {
		if err != nil {
			return nil, fmt.Errorf("bench: %s: %w", path, err)
		}
		out.Rows.Add(rec)
		if rec.Err != nil {
			out.Bad.Add(rec.Err)
		}
		if progress != nil && out.Rows.Rows%1_000_000 == 0 {
			progress(out.Rows.Rows)
		}
		if rec.Err != nil || rec.Skip != "" || rec.Event.Item == "" {
			continue
		}
		p := ps.Pseudonymize(rec.Event.Customer)
		u, ok := users[p]
		if !ok {
			u = int32(len(users))
			users[p] = u
		}
		j, ok := items[rec.Event.Item]
		if !ok {
			j = int32(len(items))
			items[rec.Event.Item] = j
		}
		evs = append(evs, ev{u, j, rec.Event.Kind, rec.Event.Quantity})
	}
	if len(evs) == 0 {
		why := ""
		if len(out.Bad.First) > 0 {
			why = fmt.Sprintf(", %d bad; the first: %v", out.Bad.Count, out.Bad.First[0])
		}
		return nil, fmt.Errorf("bench: %s: no usable events (%s%s)", path, features.Plural(out.Rows.Rows, "row"), why)
	}
	b, err := interact.NewBuilder(ic, len(users), len(items))
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	for _, e := range evs {
		if err := b.Add(int(e.user), int(e.item), e.kind, e.q); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
	}
	out.Matrix = b.Matrix()
	out.Read = time.Since(start)
	return out, nil
}
