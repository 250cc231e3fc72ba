package release

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/model/budget"
)

// Names of the stored parts of a release.
const (
	PartItems        = "items"         // identifiers, table m
	PartVectors      = "vectors"       // matrix items × factors, table m
	PartTrained      = "trained"       // flags per item, table m
	PartPopular      = "popular"       // matrix items × 1, table p
	PartStores       = "stores"        // identifiers, table p
	PartStorePopular = "store-popular" // sparse stores × items, table p
)

// Encode returns what features/store keeps of r: the card as the manifest's
// metadata, and the binary parts. It validates r first.
func Encode(r *Release) (meta []byte, parts []store.ReleasePart, err error) {
	if err := r.Validate(); err != nil {
		return nil, nil, err
	}
	meta, err = json.Marshal(&r.Card)
	if err != nil {
		return nil, nil, fmt.Errorf("release: encode card: %w", err)
	}
	if len(meta) > store.MaxReleaseMeta {
		return nil, nil, fmt.Errorf("release: card of %d bytes exceeds %d", len(meta), store.MaxReleaseMeta)
	}
	n := len(r.Items)
	parts = []store.ReleasePart{
		{Name: PartItems, Kind: store.PartModel, Data: encodeIDs(r.Items)},
		{Name: PartVectors, Kind: store.PartModel, Data: encodeMatrix(n, r.Factors(), r.Vectors)},
		{Name: PartTrained, Kind: store.PartModel, Data: encodeFlags(r.Trained)},
		{Name: PartPopular, Kind: store.PartPopular, Data: encodeMatrix(n, 1, r.Popular)},
		{Name: PartStores, Kind: store.PartPopular, Data: encodeIDs(r.Stores)},
		{Name: PartStorePopular, Kind: store.PartPopular, Data: encodeSparse(n, r.StorePopular)},
	}
	return meta, parts, nil
}

// ParseCard decodes a card (the metadata of a stored release). Unknown
// fields are errors: a card from a newer Discret must not be half-read.
func ParseCard(meta []byte) (Card, error) {
	var c Card
	dec := json.NewDecoder(bytes.NewReader(meta))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Card{}, fmt.Errorf("%w: card: %v", ErrFormat, err)
	}
	if c.Format != CardFormat {
		return Card{}, fmt.Errorf("%w: card format %d (this release reads %d)", ErrFormat, c.Format, CardFormat)
	}
	return c, nil
}

// Decode rebuilds a release from its card and parts (by name), validating
// every part and their agreement.
func Decode(meta []byte, parts map[string][]byte) (*Release, error) {
	card, err := ParseCard(meta)
	if err != nil {
		return nil, err
	}
	r := &Release{Card: card}
	part := func(name string) ([]byte, error) {
		b, ok := parts[name]
		if !ok {
			return nil, fmt.Errorf("%w: no %s part", ErrFormat, name)
		}
		return b, nil
	}
	b, err := part(PartItems)
	if err == nil {
		r.Items, err = decodeIDs(b)
	}
	if err != nil {
		return nil, fmt.Errorf("release %s: items: %w", card.Version, err)
	}
	n := len(r.Items)
	var rows, cols int
	if b, err = part(PartVectors); err == nil {
		rows, cols, r.Vectors, err = decodeMatrix(b)
	}
	if err == nil && (rows != n || cols != card.Hyper.Factors) {
		err = fmt.Errorf("%w: %d × %d vectors for %d items × %d factors", ErrFormat, rows, cols, n, card.Hyper.Factors)
	}
	if err != nil {
		return nil, fmt.Errorf("release %s: vectors: %w", card.Version, err)
	}
	if b, err = part(PartTrained); err == nil {
		r.Trained, err = decodeFlags(b)
	}
	if err == nil && len(r.Trained) != n {
		err = fmt.Errorf("%w: %d trained flags for %d items", ErrFormat, len(r.Trained), n)
	}
	if err != nil {
		return nil, fmt.Errorf("release %s: trained: %w", card.Version, err)
	}
	if b, err = part(PartPopular); err == nil {
		rows, cols, r.Popular, err = decodeMatrix(b)
	}
	if err == nil && (rows != n || cols != 1) {
		err = fmt.Errorf("%w: %d × %d popularity for %d items", ErrFormat, rows, cols, n)
	}
	if err != nil {
		return nil, fmt.Errorf("release %s: popularity: %w", card.Version, err)
	}
	if b, err = part(PartStores); err == nil {
		r.Stores, err = decodeIDs(b)
	}
	if err != nil {
		return nil, fmt.Errorf("release %s: stores: %w", card.Version, err)
	}
	if b, err = part(PartStorePopular); err == nil {
		cols, r.StorePopular, err = decodeSparse(b)
	}
	if err == nil && (cols != n || len(r.StorePopular) != len(r.Stores)) {
		err = fmt.Errorf("%w: %d store lists over %d items for %d stores and %d items", ErrFormat, len(r.StorePopular), cols, len(r.Stores), n)
	}
	if err != nil {
		return nil, fmt.Errorf("release %s: store popularity: %w", card.Version, err)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("release %s: %w", card.Version, err)
	}
	return r, nil
}

// Source reads stored releases; *store.DB implements it.
type Source interface {
	Releases(ctx context.Context) ([]store.ReleaseManifest, error)
	Release(ctx context.Context, version string) (store.ReleaseManifest, error)
	ReleasePart(ctx context.Context, version, name string) ([]byte, error)
	CurrentRelease(ctx context.Context) (string, error)
}

var _ Source = (*store.DB)(nil)

// Load reads and validates the stored release version.
func Load(ctx context.Context, src Source, version string) (*Release, error) {
	m, err := src.Release(ctx, version)
	if err != nil {
		return nil, err
	}
	parts := make(map[string][]byte, len(m.Parts))
	for _, p := range m.Parts {
		if parts[p.Name], err = src.ReleasePart(ctx, version, p.Name); err != nil {
			return nil, err
		}
	}
	r, err := Decode(m.Meta, parts)
	if err != nil {
		return nil, err
	}
	if r.Card.Version != m.Version {
		return nil, fmt.Errorf("%w: release stored as %s has card version %s", ErrFormat, m.Version, r.Card.Version)
	}
	return r, nil
}

// LoadCurrent reads the current release (store.ErrNoCurrentRelease if
// there is none).
func LoadCurrent(ctx context.Context, src Source) (*Release, error) {
	v, err := src.CurrentRelease(ctx)
	if err != nil {
		return nil, err
	}
	return Load(ctx, src, v)
}

// Summary describes a stored release without loading its parts.
type Summary struct {
	Card    Card
	Size    int64 // bytes of the parts
	Current bool
}

// List returns a summary of every stored release, oldest first.
func List(ctx context.Context, src Source) ([]Summary, error) {
	ms, err := src.Releases(ctx)
	if err != nil {
		return nil, err
	}
	cur, err := src.CurrentRelease(ctx)
	if err != nil && !errors.Is(err, store.ErrNoCurrentRelease) {
		return nil, err
	}
	out := make([]Summary, 0, len(ms))
	for _, m := range ms {
		c, err := ParseCard(m.Meta)
		if err != nil {
			return nil, fmt.Errorf("release %s: %w", m.Version, err)
		}
		out = append(out, Summary{Card: c, Size: m.Size(), Current: m.Version == cur})
	}
	return out, nil
}

// Derived is what Discret derives from one customer's data, for a
// data-subject access request. Nothing derived is stored per customer:
// training keeps no user vector and no per-customer record, and a user's
// vector is recomputed from their own history at each request. What is
// derived from their data is its contribution to the released models,
// which are differentially private aggregates: this lists the releases
// whose training window covered the customer's events.
type Derived struct {
	Releases []DerivedRelease `json:"releases"`
	Note     string           `json:"note"`
}

// DerivedRelease is a release that may have used some of a customer's
// events.
type DerivedRelease struct {
	Version string        `json:"version"`
	Created time.Time     `json:"created"`
	Current bool          `json:"current"`
	Private bool          `json:"private"`
	Epsilon *float64      `json:"epsilon,omitempty"` // nil for a non-private release
	Delta   *float64      `json:"delta,omitempty"`
	Window  budget.Window `json:"data_window"`
	// Events counts the customer's events in the window that training
	// uses (those about an item).
	Events int `json:"events"`
}

// DerivedNote explains Derived to the customer.
const DerivedNote = "Besides what this export lists (your consent choices, your events and the coupons offered to you in stores), Discret stores no data about you: your recommendations are computed from your own history at each request. " +
	"The releases listed may have been trained on some of your events: their data window covers the dates of your events (the count is in \"events\"), " +
	"though an event recorded after a release was made, or while your consent did not allow it, was not used by it; each private one is a differentially private aggregate of many customers " +
	"(the privacy guarantee (ε, δ) bounds what it can reveal about you). " +
	"Erasing your data removes your events; private releases are not retrained, since their guarantee already covers you, and older releases are deleted as new ones are made. " +
	"Events that have already expired are not shown, so releases trained only on them are not listed."

// NonPrivateNote is added to DerivedNote when a listed release is not
// differentially private.
const NonPrivateNote = " Releases marked \"private\": false carry no privacy guarantee: erasing your data, or withdrawing personalization, deletes them, on the safe side, whether or not they used your events."

// DerivedFrom lists the stored releases whose training window covers at
// least one of the customer's events about an item (d is their export from
// the store). `discret export` and serving's export endpoint show it, and
// ForgetCustomer deletes the non-private ones.
func DerivedFrom(ctx context.Context, src Source, d store.CustomerData) (Derived, error) {
	sums, err := List(ctx, src)
	if err != nil {
		return Derived{Releases: []DerivedRelease{}, Note: DerivedNote}, err
	}
	return derivedFrom(sums, d), nil
}

// derivedFrom is DerivedFrom over the summaries of the stored releases.
func derivedFrom(sums []Summary, d store.CustomerData) Derived {
	out := Derived{Releases: []DerivedRelease{}, Note: DerivedNote}
	for _, s := range sums {
		c := s.Card
		n := 0
		for _, e := range d.Events {
			if e.Item != "" && c.Window.Contains(e.Time) {
				n++
			}
		}
		if n == 0 {
			continue
		}
		dr := DerivedRelease{Version: c.Version, Created: c.Created, Current: s.Current, Private: c.Private, Window: c.Window, Events: n}
		if !c.Private {
			out.Note = DerivedNote + NonPrivateNote
		}
		if c.Privacy != nil {
			eps, delta := c.Privacy.Epsilon, c.Privacy.Delta
			dr.Epsilon, dr.Delta = &eps, &delta
		}
		out.Releases = append(out.Releases, dr)
	}
	return out
}
