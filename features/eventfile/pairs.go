package eventfile

import (
	"context"
	"io"
	"iter"
	"time"

	"github.com/discret-io/discret/privacy"
)

// Pair is one row of an event file with its identifiers in clear: for the
// offline evaluation of public research datasets (MovieLens, Online Retail,
// Retailrocket), whose user identifiers are public research numbers, not
// customer identities. Exactly one of a valid event (the other fields) and
// Err is set.
type Pair struct {
	Line  int
	User  string // the customer field, as in the file
	Item  string // empty for a store visit
	Kind  privacy.EventKind
	Store string
	Time  time.Time
	// Err is a bad row's *features.RowError, as in Record.Err.
	Err error
}

// ReadPairs decodes r like Read — the same formats, detection, validation
// and skips — and yields a Pair per valid or bad row (rows skipped by design
// are left out) and, on a fatal problem, one final non-nil error.
//
// It exists for offline evaluation of public research datasets only
// (discret eval, package model/eval): production ingest uses Read, whose
// events carry the customer only as a privacy.CustomerID, which nothing
// outside package privacy can read back.
func ReadPairs(ctx context.Context, r io.Reader, opts Options) iter.Seq2[Pair, error] {
	return func(yield func(Pair, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(Pair{}, err)
			return
		}
		d := decoder{ctx: ctx, lr: newLineReader(r), opts: opts}
		// Every decoder parses a row's customer with d.b.customer before it
		// yields the row's event, which leaves the raw bytes of that
		// customer in d.b.lastCust.
		d.yield = func(rec Record, err error) bool {
			switch {
			case err != nil:
				return yield(Pair{}, err)
			case rec.Err != nil:
				return yield(Pair{Line: rec.Line, Err: rec.Err}, nil)
			case rec.Skip != "":
				return true
			}
			e := rec.Event
			return yield(Pair{Line: rec.Line, User: string(d.b.lastCust), Item: e.Item, Kind: e.Kind, Store: e.Store, Time: e.Time}, nil)
		}
		d.run()
	}
}
