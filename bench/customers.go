package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/discret-io/discret/features/synth"
	"github.com/discret-io/discret/privacy"
)

// ReadCustomers reads raw customer ids, one per line. Surrounding blanks
// are trimmed; empty lines and lines starting with # are skipped; a
// duplicate is kept (it is drawn twice as often). An invalid id is an error
// naming its line, never its value.
func ReadCustomers(r io.Reader) ([]string, error) {
	var ids []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if err := privacy.ValidateID(s); err != nil {
			return nil, fmt.Errorf("bench: customers line %d: %w", line, err)
		}
		ids = append(ids, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("bench: customers line %d: %w", line+1, err)
	}
	if len(ids) == 0 {
		return nil, errors.New("bench: no customer ids (want one raw id per line)")
	}
	return ids, nil
}

// SynthCustomers returns the raw ids of the customers of the synthetic
// dataset that features/synth generates for cfg, as `discret gen` and
// `discret serve --demo` write it with the same settings: every customer
// with at least one event or consent record, in order. A data directory
// holds only pseudonyms, so this is how a load test addresses the
// customers of a demo. A customer's id depends only on the seed and the
// customer's number, so a dataset generated with other sizes has the same
// ids; only which customers appear may change.
func SynthCustomers(ctx context.Context, cfg synth.Config) ([]string, error) {
	ids := &idSet{seen: map[string]bool{}}
	events, consent := &idCollector{set: ids}, &idCollector{set: ids}
	if _, err := synth.Generate(ctx, cfg, synth.Output{Events: events, Consent: consent}, nil); err != nil {
		return nil, fmt.Errorf("bench: synthetic customers: %w", err)
	}
	return ids.ids, nil
}

// idSet collects distinct ids in order of appearance.
type idSet struct {
	seen map[string]bool
	ids  []string
}

// idCollector reads the customer field of the JSON Lines that synth writes
// to one of its outputs.
type idCollector struct {
	buf []byte
	set *idSet
	err error
}

func (c *idCollector) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	c.buf = append(c.buf, p...)
	for {
		i := bytes.IndexByte(c.buf, '\n')
		if i < 0 {
			break
		}
		var row struct {
			Customer string `json:"customer"`
		}
		if err := json.Unmarshal(c.buf[:i], &row); err != nil {
			c.err = fmt.Errorf("bench: synthetic row: %w", err)
			return 0, c.err
		}
		if row.Customer != "" && !c.set.seen[row.Customer] {
			c.set.seen[row.Customer] = true
			c.set.ids = append(c.set.ids, row.Customer)
		}
		c.buf = c.buf[i+1:]
	}
	return len(p), nil
}
